-- tessera.pitch and a recipe layer's `pitch`: known signals (a sine's template, a tone with
-- five harmonics whose fundamental the autocorrelation finds) and a real bass note, shifted
-- by every semitone of two octaves; the phase vocoder's identity at 0 semitones; glides.
local helpers = require "helpers"
local tessera = require "tessera"

local core = tessera.core

local SR, N_FFT, HOP = 22050, 2048, 512

-- A tone of `seconds` at f0 with harmonics 1..h (amplitudes 1/i), peak about 0.5.
local function tone(f0, seconds, h)
  local n = math.floor(SR * seconds)
  local a = core.audio.new(n, SR)
  for i = 1, n do
    local x = 0
    for j = 1, h do x = x + math.sin(2 * math.pi * f0 * j * (i - 1) / SR) / j end
    a:set(i, 0.5 * x / (h > 1 and 1.5 or 1))
  end
  return a
end

-- The fundamental of samples first..first+count-1 of y: the first autocorrelation peak
-- (lags for 30..1000 Hz) within 10% of the highest, refined by a parabola.
local function fundamental(y, first, count)
  local x = {}
  for i = 1, count do x[i] = y:get(first + i - 1) end
  local lo, hi = math.floor(SR / 1000), math.ceil(SR / 30)
  local r, top = {}, -math.huge
  for lag = lo - 1, hi + 1 do
    local s = 0
    for i = 1, count - lag do s = s + x[i] * x[i + lag] end
    r[lag] = s
    if lag >= lo and lag <= hi and s > top then top = s end
  end
  for lag = lo, hi do
    if r[lag] >= 0.9 * top and r[lag] >= r[lag - 1] and r[lag] >= r[lag + 1] then
      local a, b, c = r[lag - 1], r[lag], r[lag + 1]
      local denom = a - 2 * b + c
      return SR / (lag + (denom ~= 0 and 0.5 * (a - c) / denom or 0))
    end
  end
end

-- The bin of a column's largest entry (0-based).
local function peak_bin(M, col)
  local best, at = -1, 0
  local n = M:shape()
  for i = 1, n do
    local v = M:get(i, col)
    if v > best then best, at = v, i - 1 end
  end
  return at
end

describe("tessera.pitch", function()
  it("moves a sine's template to f 2^(s/12) within one bin, for s in -12..12", function()
    for _, f in ipairs { 220, 330, 1000 } do
      local V = tessera.stft(tone(f, 1, 1), { n_fft = N_FFT, hop = HOP }):magnitude()
      local n, p = V:shape()
      local W = core.matrix.new(n, 1)
      for i = 1, n do
        local s = 0
        for j = 1, p do s = s + V:get(i, j) end
        W:set(i, 1, s / p)
      end
      for s = -12, 12 do
        local want = f * 2 ^ (s / 12) / (SR / N_FFT)
        local got = peak_bin(tessera.pitch.shift(W, s), 1)
        assert.is_true(math.abs(got - want) <= 1, ("%g Hz, %d semitones: bin %d, want %.2f"):format(
          f, s, got, want))
      end
    end
  end)

  it("moves a rendered tone's fundamental likewise, through the phase shifted in step", function()
    local f0 = 220
    local S = tessera.stft(tone(f0, 2, 5), { n_fft = N_FFT, hop = HOP })
    local V, P = S:magnitude(), S:phase()
    for s = -12, 12 do
      local y = tessera.spectrogram.from_polar(tessera.pitch.shift(V, s),
        tessera.pitch.phase(P, s, { n_fft = N_FFT, hop = HOP }), S):istft()
      local got, want = fundamental(y, SR // 2, SR // 2), f0 * 2 ^ (s / 12)
      assert.is_true(math.abs(got / want - 1) < 0.005, ("%d semitones: %.2f Hz, want %.2f"):format(
        s, got, want))
    end
  end)

  it("leaves magnitude and phase as they are at 0 semitones", function()
    local S = tessera.stft(tessera.audio.load(helpers.samples .. "/loop_amen.flac", { sr = SR }),
                           { n_fft = N_FFT, hop = HOP })
    local V, P = S:magnitude(), S:phase()
    local D = tessera.pitch.shift(V, 0) - V
    assert.equal(0, math.max(D:max(), -D:min()))
    local Q = tessera.pitch.phase(P, 0, { n_fft = N_FFT, hop = HOP })
    local n, p = P:shape()
    local worst = 0
    for j = 1, p, 7 do
      for i = 1, n, 5 do
        local d = math.abs(Q:get(i, j) - P:get(i, j))
        worst = math.max(worst, math.min(d, math.abs(d - 2 * math.pi)))
      end
    end
    assert.is_true(worst < 1e-3, worst)
  end)

  it("glides: one shift per frame, the fundamental following it", function()
    local f0 = 220
    local S = tessera.stft(tone(f0, 4, 5), { n_fft = N_FFT, hop = HOP })
    local _, frames = S:shape()
    local glide = tessera.automation.values({ from = 0, to = 12 }, frames, SR, HOP)
    local y = tessera.spectrogram.from_polar(tessera.pitch.shift(S:magnitude(), glide),
      tessera.pitch.phase(S:phase(), glide, { n_fft = N_FFT, hop = HOP }), S):istft()
    -- Quarter-second windows at the start, middle and end against the glide there.
    for _, at in ipairs { 0.25, 2.0, 3.5 } do
      local first = math.floor(at * SR)
      local semis = 12 * (at + 0.125) / (#y / SR)
      local got = fundamental(y, first, SR // 4)
      assert.is_true(math.abs(got / (f0 * 2 ^ (semis / 12)) - 1) < 0.03, ("at %gs: %.1f Hz"):format(at, got))
    end
  end)

  it("refuses shifts and options it cannot take, naming them", function()
    local W = core.matrix.new(1025, 2)
    assert.has_error(function() tessera.pitch.shift(W, 100) end,
      "bad argument #2 to 'shift' (semitones must be in -96..96, got 100.0)")
    assert.has_error(function() tessera.pitch.shift(W, { 1, 2, 3 }) end,
      "bad argument #2 to 'shift' (semitones has 3 values for 2 frames)")
    assert.has_error(function() tessera.pitch.shift(W, "up") end,
      "bad argument #2 to 'shift' (semitones must be a number or a table of one per frame, got string)")
    assert.has_error(function() tessera.pitch.phase(W, 1, { n_fft = 1024, hop = 256 }) end,
      "bad argument #3 to 'phase' (n_fft must give 1025 bins, got 1024)")
    assert.has_error(function() tessera.pitch.phase(W, 1, { nfft = 2048 }) end,
      "bad argument #3 to 'phase' (unknown option 'nfft' (valid: n_fft, hop); did you mean 'n_fft'?)")
  end)
end)

describe("a recipe layer's pitch", function()
  local tmp = helpers.cache_per_test()
  before_each(tmp.setup)
  after_each(tmp.teardown)

  local function render(t)
    return tessera.mosaic.render(t, { write = false, base = tmp.dir, cache_dir = tmp.dir .. "/cache" })
  end

  it("shifts a tone's fundamental by the layer's semitones, in the rendered audio", function()
    tone(220, 3, 5):save(tmp.dir .. "/tone.wav")
    for _, s in ipairs { -12, -7, -5, 0, 3, 7, 12 } do
      local y = render { duration = 2, sources = { tone = { file = tmp.dir .. "/tone.wav", k = 1 } },
                         layers = { { W = "tone", pitch = s } } }
      local got, want = fundamental(y, SR // 2, SR // 2), 220 * 2 ^ (s / 12)
      assert.is_true(math.abs(got / want - 1) < 0.01, ("%d: %.2f Hz, want %.2f"):format(s, got, want))
    end
  end)

  it("shifts a real bass note as it shifts the tone", function()
    local src = { bass = { file = helpers.samples .. "/bass_thick_c.flac", duration = 1.5, k = 2 } }
    local base = render { duration = 1.5, sources = src, layers = { { W = "bass" } } }
    local f = fundamental(base, SR // 4, SR // 2)
    for _, s in ipairs { -5, 7 } do
      local y = render { duration = 1.5, sources = src, layers = { { W = "bass", pitch = s } } }
      local got = fundamental(y, SR // 4, SR // 2)
      assert.is_true(math.abs(got / (f * 2 ^ (s / 12)) - 1) < 0.02, ("%d: %.2f from %.2f"):format(s, got, f))
    end
  end)

  it("refuses a pitch it cannot play, naming the layer", function()
    local src = { tone = { file = helpers.samples .. "/ambi_drone.flac", duration = 1, k = 1 } }
    local function message(pitch)
      return helpers.error_message(function()
        render { duration = 1, sources = src, layers = { { W = "tone", pitch = pitch } } }
      end)
    end
    assert.equal("tessera.mosaic: recipe: layer 1: key 'pitch' must be a number in -48..48, got 60",
      message(60))
    assert.equal("tessera.mosaic: recipe: layer 1: key 'pitch' breakpoint 2 comes before breakpoint 1",
      message { { 1, 0 }, { 0.5, 3 } })
    assert.equal("tessera.mosaic: recipe: layer 1: key 'pitch' 'to' must be a number in -48..48",
      message { from = 0, to = "up" })
    assert.equal("tessera.mosaic: recipe: layer 1: key 'pitch' must be a number, a ramp {from =, to =} " ..
      "or a list of {seconds, value}, got string", message "high")
  end)
end)

describe("refining a pitched render with Griffin-Lim, and the source's rate", function()
  local tmp = helpers.cache_per_test()
  before_each(tmp.setup)
  after_each(tmp.teardown)

  it("starts Griffin-Lim from the shifted phase and brings the audio closer to its magnitude", function()
    local src = { pads = { file = helpers.samples .. "/loop_garzul.flac", duration = 3, k = 4 } }
    local function render(extra)
      local t = { duration = 3, sources = src, normalize = false,
                  layers = { { W = "pads", pitch = 5 }, { W = "pads", gain = 0.5 } } }
      for k, v in pairs(extra or {}) do t[k] = v end
      return tessera.mosaic.render(t, { write = false, base = tmp.dir, cache_dir = tmp.dir .. "/cache" })
    end
    local function convergence(y, V)
      local D = tessera.stft(y):magnitude() - V
      return math.sqrt(D:hadamard(D):sum() / V:hadamard(V):sum())
    end
    local plain, s = render()
    local refined = render { griffinlim = { iter = 16 } }
    local random = render { phase = "griffinlim", griffinlim = { iter = 16 } }
    local before, after = convergence(plain, s.magnitude), convergence(refined, s.magnitude)
    local from_random = convergence(random, s.magnitude)
    assert.is_true(after < 0.9 * before, ("%.3f -> %.3f"):format(before, after))
    assert.is_true(after < from_random, ("%.3f, from a random start %.3f"):format(after, from_random))
    assert.equal("tessera.mosaic: recipe: key 'griffinlim': key 'init': with phase = 'pads' Griffin-Lim " ..
      "starts from that source's phase (init 'source'), got string 'pghi'",
      helpers.error_message(function() render { griffinlim = { init = "pghi" } } end))
    local y = render { rate = "source" }
    assert.equal(44100, y.sr) -- loop_garzul.flac's own rate
  end)
end)
