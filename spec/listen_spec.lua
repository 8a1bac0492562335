-- Specs of m:audio (hearing NMF components) and tessera.griffinlim, on a real loop. The
-- references are built here from other public pieces (m:component, from_polar, istft,
-- stft) and formulas written plainly in Lua (spectral convergence, a random phase).
local tessera = require "tessera"
local helpers = require "helpers"

local AMEN = helpers.samples .. "/loop_amen.flac"
local sqrt, pi = math.sqrt, math.pi

local function load_amen(seconds)
  return tessera.audio.load(AMEN, { sr = 22050, duration = seconds or 1.5 })
end

local max_diff = helpers.max_diff

local function all_finite(a)
  for i = 1, #a do
    local v = a:get(i)
    if v ~= v or v == math.huge or v == -math.huge then return false end
  end
  return true
end

-- || |STFT(y)| - mag ||_F / ||mag||_F, from matrices.
local function spectral_convergence(y, mag, like)
  local R = tessera.stft(y, { n_fft = like.n_fft, hop = like.hop }):magnitude()
  local D = R - mag
  return sqrt(D:hadamard(D):sum() / mag:hadamard(mag):sum())
end

local a, S, V, m
setup(function()
  a = load_amen()
  S = tessera.stft(a)
  V = S:magnitude()
  m = tessera.nmf(V, { k = 4, loss = "kl", max_iter = 40, seed = 0 })
end)

describe("tessera.listen", function()
  describe("m:audio()", function()
    it("renders component i as W_i H_i with the spectrogram's phase", function()
      local y = m:audio(2, S)
      assert.equal(#a, #y)
      assert.equal(22050, y.sr)
      assert.equal(1, y.channels)
      assert.is_true(all_finite(y))
      assert.is_true(y:rms() > 1e-4)
      local ref = tessera.spectrogram.from_polar(m:component(2), S:phase(), S):istft()
      assert.is_true(max_diff(y, ref) < 1e-5)
    end)

    it("is the method of every model, installed by tessera.nmf", function()
      assert.equal(require("tessera.listen").audio, tessera.nmf.Model.audio)
      assert.equal(tessera.nmf.Model.audio, m.audio)
    end)

    it("renders a list as the sum of its components (phase mode is linear)", function()
      local y13 = m:audio({ 3, 1 }, S)
      local sum = m:audio(1, S):mix(m:audio(3, S))
      assert.is_true(max_diff(y13, sum) < 1e-5)
      -- nil means every component: W H with S's phase
      local all = m:audio(nil, S)
      local ref = tessera.spectrogram.from_polar(m:reconstruct(), S:phase(), S):istft()
      assert.is_true(max_diff(all, ref) < 1e-5)
    end)

    it("splits the signal with Wiener masks: the components add up to the original", function()
      local sum
      for i = 1, m.k do
        local y = m:audio(i, S, { method = "wiener" })
        assert.is_true(all_finite(y))
        sum = sum and sum:mix(y) or y
      end
      -- the STFT round trip itself is accurate to ~1e-6 on this loop
      assert.is_true(max_diff(S:istft(), a) < 1e-5)
      assert.is_true(max_diff(sum, a) < 1e-5)
      assert.is_true(max_diff(m:audio(nil, S, { method = "wiener" }), a) < 1e-5)
    end)

    it("keeps the sum exact where the model is zero (coordinate descent leaves zeros)", function()
      local cd = tessera.nmf(V, { k = 3, solver = "cd", max_iter = 30 })
      local zeros = 0
      local WH = cd:reconstruct()
      local n, p = WH:shape()
      for j = 1, p, 7 do
        for i = 1, n, 3 do
          if WH:get(i, j) == 0 then zeros = zeros + 1 end
        end
      end
      assert.is_true(zeros > 0, "the cd model should have exact zeros in W H")
      local sum = cd:audio(1, S, { method = "wiener" })
      sum = sum:mix(cd:audio({ 2, 3 }, S, { method = "wiener" }))
      assert.is_true(max_diff(sum, a) < 1e-5)
    end)

    it("gives the wiener and phase renderings of one component different audio", function()
      local d = max_diff(m:audio(1, S), m:audio(1, S, { method = "wiener" }))
      assert.is_true(d > 1e-3)
    end)

    it("refuses bad components, options and spectrograms", function()
      assert.has_error(function() m:audio(5, S) end,
        "bad argument #1 to 'audio' (component must be an integer in 1..4, got 5)")
      assert.has_error(function() m:audio(1.5, S) end,
        "bad argument #1 to 'audio' (component must be an integer in 1..4, got 1.5)")
      assert.has_error(function() m:audio({ 1, 0 }, S) end,
        "bad argument #1 to 'audio' (component 2 of the list must be an integer in 1..4, got 0)")
      assert.has_error(function() m:audio({ 2, 2 }, S) end,
        "bad argument #1 to 'audio' (component 2 is listed twice)")
      assert.has_error(function() m:audio({}, S) end,
        "bad argument #1 to 'audio' (the list of components is empty)")
      assert.has_error(function() m:audio(1, V) end,
        "bad argument #2 to 'audio' (Spectrogram expected, got userdata)")
      assert.has_error(function() m:audio(1, S, { method = "mask" }) end,
        "bad argument #3 to 'audio' (method must be 'phase' or 'wiener', got 'mask')")
      assert.has_error(function() m:audio(1, S, { mehtod = "wiener" }) end,
        "bad argument #3 to 'audio' (unknown option 'mehtod' (valid: method); did you mean 'method'?)")
      local short = tessera.stft(load_amen(1.0))
      local bins, frames = short:shape()
      assert.has_error(function() m:audio(1, short) end,
        string.format("bad argument #2 to 'audio' (spectrogram is %d x %d but the model is %d x %d)",
          bins, frames, V:shape()))
    end)
  end)

  describe("tessera.griffinlim()", function()
    it("returns audio of the spectrogram's length and its spectral convergence", function()
      local y, sc = tessera.griffinlim(V, S, { iter = 16 })
      assert.equal(#a, #y)
      assert.equal(22050, y.sr)
      assert.is_true(all_finite(y))
      assert.equal(17, #sc)
      -- the last entry is the convergence of the returned signal, recomputed here
      assert.near(spectral_convergence(y, V, S), sc[17], 1e-4)
    end)

    it("improves with iterations and beats a random-phase inverse", function()
      -- random phase, drawn here: the plain inverse Griffin-Lim starts from
      local rnd = tessera.matrix.new(V:shape())
      local n, p = V:shape()
      local state = 7
      for j = 1, p do
        for i = 1, n do
          state = (1103515245 * state + 12345) % 2147483648
          rnd:set(i, j, (state / 2147483648) * 2 * pi)
        end
      end
      local random_inverse = tessera.spectrogram.from_polar(V, rnd, S):istft()
      local sc_random = spectral_convergence(random_inverse, V, S)
      local previous = math.huge
      for _, iter in ipairs { 1, 4, 16, 64 } do
        local y = tessera.griffinlim(V, S, { iter = iter, seed = 3 })
        local sc = spectral_convergence(y, V, S)
        assert.is_true(sc < previous, string.format("iter %d: %g not below %g", iter, sc, previous))
        previous = sc
      end
      assert.is_true(previous < 0.5 * sc_random,
        string.format("64 iterations: %g, random phase: %g", previous, sc_random))
    end)

    it("converges faster with momentum than the classic algorithm", function()
      local _, fast = tessera.griffinlim(V, S, { iter = 32, seed = 1 })
      local _, classic = tessera.griffinlim(V, S, { iter = 32, momentum = 0, seed = 1 })
      assert.equal(classic[1], fast[1]) -- same starting phase
      assert.is_true(fast[33] < classic[33])
    end)

    it("starts from a given phase: the true phase is already consistent", function()
      local y, sc = tessera.griffinlim(V, S, { iter = 2, init = S:phase() })
      assert.is_true(sc[1] < 1e-5)
      assert.is_true(max_diff(y, a) < 1e-4)
    end)

    it("is deterministic for a seed and differs between seeds", function()
      local y1 = tessera.griffinlim(V, S, { iter = 4, seed = 5 })
      local y2 = tessera.griffinlim(V, S, { iter = 4, seed = 5 })
      local y3 = tessera.griffinlim(V, S, { iter = 4, seed = 6 })
      assert.equal(0, max_diff(y1, y2))
      assert.is_true(max_diff(y1, y3) > 1e-3)
    end)

    it("renders a component that has no phase of its own", function()
      local y = tessera.griffinlim(m:component(1), S, { iter = 8 })
      assert.equal(#a, #y)
      assert.is_true(all_finite(y) and y:rms() > 1e-4)
    end)

    it("refuses bad magnitudes and options", function()
      local F = "griffinlim"
      local n, p = V:shape()
      assert.has_error(function() tessera.griffinlim(V, S, { iter = -1 }) end,
        "bad argument #3 to '" .. F .. "' (iter must be in 0..100000, got -1)")
      assert.has_error(function() tessera.griffinlim(V, S, { momentum = 1.5 }) end,
        "bad argument #3 to '" .. F .. "' (momentum must be in [0, 1], got 1.5)")
      assert.has_error(function() tessera.griffinlim(V, S, { iters = 3 }) end,
        "bad argument #3 to '" .. F .. "' (unknown option 'iters' (valid: iter, momentum, init, seed); "
          .. "did you mean 'iter'?)")
      assert.has_error(function() tessera.griffinlim(V, S, { init = "zero" }) end,
        "bad argument #3 to '" .. F .. "' (init must be 'random', 'pghi' or a phase Matrix, got 'zero')")
      assert.has_error(function() tessera.griffinlim(V, S, { init = 3 }) end,
        "bad argument #3 to '" .. F .. "' (init must be 'random', 'pghi' or a phase Matrix, got number)")
      assert.has_error(function() tessera.griffinlim(V:T(), S) end,
        string.format("bad argument #1 to '%s' (magnitude is %d x %d but the spectrogram is %d x %d)",
          F, p, n, n, p))
      assert.has_error(function() tessera.griffinlim(V, S, { init = V:T() }) end,
        string.format("bad argument #3 to '%s' (init is %d x %d but the spectrogram is %d x %d)",
          F, p, n, n, p))
      local neg = V:copy()
      neg:set(3, 5, -0.5)
      assert.has_error(function() tessera.griffinlim(neg, S) end,
        "bad argument #1 to '" .. F .. "' (magnitude entry (3, 5) is negative (-0.5))")
      local nan = V:copy()
      nan:set(2, 1, 0 / 0)
      assert.has_error(function() tessera.griffinlim(V, S, { init = nan }) end,
        "bad argument #3 to '" .. F .. "' (init entry (2, 1) is nan)")
    end)
  end)

  describe("tessera.core.listen.ratio()", function()
    it("divides element by element and puts `zero` where the denominator is 0", function()
      local r = tessera.core.listen.ratio(tessera.matrix.from { { 1, 2 }, { 3, 0 } },
        tessera.matrix.from { { 2, 0 }, { 4, 0 } }, 0.25)
      assert.same({ { 0.5, 0.25 }, { 0.75, 0.25 } }, r:totable())
      assert.has_error(function()
        tessera.core.listen.ratio(tessera.matrix.new(2, 2), tessera.matrix.new(2, 3))
      end, "bad argument #2 to 'ratio' (den is 2 x 3 but num is 2 x 2)")
    end)
  end)

  describe("m:audio() on another kind of spectrogram", function()
    it("refuses a spectrogram whose sample rate or geometry differs from the model's", function()
      local silence = tessera.stft(tessera.audio.new(4096, 22050))
      local model = tessera.nmf(silence, { k = 1, max_iter = 1 })
      assert.equal(4096, #model:audio(1, silence))
      local other_rate = tessera.stft(tessera.audio.new(4096, 44100))
      assert.has_error(function() model:audio(1, other_rate) end,
        "bad argument #2 to 'audio' (spectrogram has sr 44100 but the model was fit on sr 22050)")
      local other_window = tessera.stft(tessera.audio.new(4096, 22050), { window = "hamming" })
      assert.has_error(function() model:audio(1, other_window) end,
        "bad argument #2 to 'audio' (spectrogram has window hamming but the model was fit on window hann)")
    end)
  end)
end)
