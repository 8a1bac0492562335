-- Specs for tessera.analysis: the period of an activation row (synthetic impulse trains
-- with noise, against their known period) and the tempo of a decomposition (a known
-- mixture at a set tempo, and real loops whose tempo follows from their length).
local tessera = require "tessera"
local helpers = require "helpers"
local analysis = require "tessera.analysis"

local matrix = tessera.matrix
local SR, HOP = 22050, 512

-- A deterministic pseudo-random sequence in [0, 1) (a small LCG: the spec's own numbers).
local function noise(seed)
  local state = seed
  return function()
    state = (state * 1103515245 + 12345) % 2147483648
    return state / 2147483648
  end
end

-- An impulse train: 1 every `period` frames from `phase`, plus uniform noise up to `level`.
local function train(frames, period, phase, level, seed)
  local rand = noise(seed)
  local x = {}
  for j = 1, frames do
    x[j] = ((j - 1 - phase) % period == 0 and 1 or 0) + level * rand()
  end
  return x
end

-- The tempo of a real loop, tiled to 12 s, from a k-component KL NMF of its spectrogram.
local function loop_tempo(name, k)
  local a = tessera.audio.load(helpers.samples .. "/" .. name .. ".flac", { sr = SR })
  local V = tessera.stft(a:tile(SR * 12), { magnitude = true })
  local m = tessera.nmf(V, { k = k, loss = "kl", seed = 0, max_iter = 200 })
  return analysis.tempo(m.H, SR, HOP), a:duration()
end

-- Whether bpm is within `tol` (relative) of truth or of one octave of it.
local function within_an_octave(bpm, truth, tol)
  for _, f in ipairs({ 0.5, 1, 2 }) do
    if math.abs(bpm / (truth * f) - 1) <= tol then return f end
  end
  return nil
end

-- Messages asserted below: docs/bad-input.md's T rows must be among them.
local asserted = {}
local function refuses(fn, msg)
  assert.has_error(fn, msg)
  asserted[msg] = true
end

describe("tessera.analysis", function()
  describe("period()", function()
    it("finds the period of noisy impulse trains", function()
      for _, case in ipairs({ { 21, 0, 0.3 }, { 30, 7, 0.5 }, { 8, 3, 0.2 }, { 43, 12, 0.4 } }) do
        local P, phase, level = case[1], case[2], case[3]
        local x = matrix.from({ train(400, P, phase, level, P) }):totable()[1] -- float32, as H is
        local frames, seconds, strength = analysis.period(x, SR, HOP)
        assert.equal(P, frames)
        assert.equal(P * HOP / SR, seconds)
        assert.is_true(strength > 0.5 and strength <= 1, tostring(strength))
        -- The same as a 1 x p Matrix row and as a p x 1 column.
        local M = matrix.from({ x })
        assert.same({ frames, seconds, strength }, { analysis.period(M, SR, HOP) })
        assert.same({ frames, seconds, strength }, { analysis.period(M:T(), SR, HOP) })
      end
    end)

    it("finds the period of a row of H", function()
      local H = matrix.from({ train(300, 17, 2, 0.3, 1), train(300, 25, 0, 0.3, 2) })
      assert.equal(17, (analysis.period(H:row(1), SR, HOP)))
      assert.equal(25, (analysis.period(H:row(2), SR, HOP)))
    end)

    it("returns nil for a row without a periodic peak", function()
      assert.is_nil(analysis.period({ 2, 2, 2, 2, 2, 2 }, SR, HOP))
      assert.is_nil(analysis.period({ 1, 2, 3, 4, 5, 6, 7, 8 }, SR, HOP))
    end)

    it("refuses an empty row, a zero row and a bad sr or hop", function()
      refuses(function() analysis.period({}, SR, HOP) end,
        "bad argument #1 to 'period' (the row is empty)")
      refuses(function() analysis.period(matrix.new(1, 0), SR, HOP) end,
        "bad argument #1 to 'period' (the row is empty)")
      refuses(function() analysis.period({ 0, 0, 0, 0 }, SR, HOP) end,
        "bad argument #1 to 'period' (the row is all zeros (4 frames))")
      refuses(function() analysis.period(matrix.new(2, 5), SR, HOP) end,
        "bad argument #1 to 'period' (a row must be 1 x p (use H:row(i)), got 2 x 5)")
      refuses(function() analysis.period({ 1, 0, "x" }, SR, HOP) end,
        "bad argument #1 to 'period' (value 3 of the row is a string, not a number)")
      refuses(function() analysis.period({ 1, 0, 0 / 0 }, SR, HOP) end,
        "bad argument #1 to 'period' (value 3 of the row is " .. tostring(0 / 0) .. ")")
      refuses(function() analysis.period({ 1, 0, 1 }, 0, HOP) end,
        "bad argument #2 to 'period' (sr must be a positive integer, got 0)")
      refuses(function() analysis.period({ 1, 0, 1 }, SR, -512) end,
        "bad argument #3 to 'period' (hop must be a positive integer, got -512)")
      refuses(function() analysis.period({ 1, 0, 1 }, SR, 1.5) end,
        "bad argument #3 to 'period' (hop must be a positive integer, got 1.5)")
      refuses(function() analysis.period("row", SR, HOP) end,
        "bad argument #1 to 'period' (a row (1 x p Matrix or list of numbers) expected, got row)")
    end)
  end)

  describe("tempo()", function()
    it("combines rows by energy and refines the beat between frames", function()
      -- Beat period 25.2 frames (about 102.5 BPM at 22050/512): impulses on the rounded frames.
      local rows = {}
      for r = 1, 2 do
        local x = {}
        for j = 1, 600 do x[j] = 0 end
        for b = 0, 22 do x[math.floor(b * 25.2 + 0.5) + 1] = r == 1 and 1 or 0.01 end
        rows[r] = x
      end
      local t = analysis.tempo(matrix.from(rows), SR, HOP)
      local truth = 60 * SR / HOP / 25.2
      assert.is_true(math.abs(t.bpm / truth - 1) < 0.01, t.bpm)
      assert.is_true(math.abs(t.frames - 25.2) < 0.25, t.frames)
      assert.near(t.frames * HOP / SR, t.seconds, 1e-12)
      assert.near(1, t.weights[1] + t.weights[2], 1e-12)
      assert.is_true(t.weights[1] > 0.99)
      assert.equal(t.bpm, t.candidates[1].bpm)
    end)

    it("finds the tempo of a known mixture from its NMF activations", function()
      local S = helpers.samples .. "/"
      local m = tessera.mixture {
        sr = SR, duration = 12, bpm = 100,
        stems = {
          { name = "kick", file = S .. "drum_bass_hard.flac", pattern = "x..." },
          { name = "hat", file = S .. "drum_cymbal_closed.flac", pattern = "..x.", db = -6 },
        },
      }
      local V = tessera.stft(m.mix, { magnitude = true })
      local model = tessera.nmf(V, { k = 2, loss = "kl", seed = 0, max_iter = 200 })
      local t = analysis.tempo(model.H, SR, HOP)
      assert.is_true(math.abs(t.bpm / 100 - 1) < 0.02, t.bpm)
    end)

    it("gets real loops' tempo to within 2% (or an octave of it)", function()
      -- One bar of four beats each: the tempo follows from the loop's length.
      for _, name in ipairs({ "loop_amen", "loop_breakbeat" }) do
        local t, seconds = loop_tempo(name, 4)
        local truth = 4 * 60 / seconds
        local octave = within_an_octave(t.bpm, truth, 0.02)
        assert.truthy(octave, string.format("%s: %.2f BPM for %.2f", name, t.bpm, truth))
        -- A breakbeat's kick-snare cycle is two beats: the estimate is that half-bar.
        assert.equal(0.5, octave)
        assert.is_true(t.strength > 0.3, tostring(t.strength))
      end
    end)

    it("refuses bad input", function()
      local H = matrix.from({ train(200, 20, 0, 0.1, 3) })
      refuses(function() analysis.tempo({ 1, 2 }, SR, HOP) end,
        "bad argument #1 to 'tempo' (Matrix expected, got table)")
      refuses(function() analysis.tempo(H, 0, HOP) end,
        "bad argument #2 to 'tempo' (sr must be a positive integer, got 0)")
      refuses(function() analysis.tempo(H, SR, 0) end,
        "bad argument #3 to 'tempo' (hop must be a positive integer, got 0)")
      refuses(function() analysis.tempo(matrix.new(2, 0), SR, HOP) end,
        "bad argument #1 to 'tempo' (H is empty (2 x 0))")
      refuses(function() analysis.tempo(matrix.new(2, 200), SR, HOP) end,
        "bad argument #1 to 'tempo' (H has no varying activation (every row is constant))")
      refuses(function() analysis.tempo(matrix.from({ { 1, 0, 1, 0, 1 } }), SR, HOP) end,
        "bad argument #1 to 'tempo' (5 frames cannot hold a beat between 40 and 240 BPM "
        .. "(lags 10.8..64.6 frames))")
      refuses(function() analysis.tempo(H, SR, HOP, { min_bpm = 200, max_bpm = 100 }) end,
        "bad argument #4 to 'tempo' (min_bpm (200) must be below max_bpm (100))")
      refuses(function() analysis.tempo(H, SR, HOP, { bpm = 100 }) end,
        "bad argument #4 to 'tempo' (unknown option 'bpm' (valid: max_bpm, min_bpm, onsets, "
        .. "prior_bpm, prior_octaves))")
    end)
  end)

  it("lists its errors in docs/bad-input.md (the T rows), each as asserted", function()
    local doc = assert(helpers.read_file(helpers.root .. "/docs/bad-input.md"))
    local n = 0
    for line in doc:gmatch("\n(| T%d+ |[^\n]*)") do
      local msg = line:match("| `([^`]*)` |$")
      assert.truthy(msg and asserted[msg], line)
      n = n + 1
    end
    assert.is_true(n >= 5, tostring(n))
  end)
end)
