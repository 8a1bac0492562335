-- Specs of tessera.hpss: the median filters and masks against a reference written plainly
-- with scipy.ndimage.median_filter and numpy (Debian's python3-scipy, through
-- helpers.python), the parts adding back to the input, a sine and clicks going to the
-- harmonic and percussive sides, the percussiveness of NMF components, thread-count
-- independence, and every bad input's message.
local tessera = require "tessera"
local helpers = require "helpers"

local abs, max, pi, sin = math.abs, math.max, math.pi, math.sin
local fmt = string.format

local AMEN = helpers.samples .. "/loop_amen.flac"
local SR = 22050

-- A sustained 440 Hz tone, clicks (8-sample bursts) every quarter second, and their sum.
local function sine_and_clicks(seconds)
  local n = math.floor(seconds * SR)
  local sine, clicks, mix = {}, {}, {}
  for t = 1, n do
    sine[t] = 0.3 * sin(2 * pi * 440 * (t - 1) / SR)
    local within = (t - 1) % (SR // 4)
    clicks[t] = within < 8 and (within % 2 == 0 and 0.8 or -0.8) or 0
    mix[t] = sine[t] + clicks[t]
  end
  local from = tessera.audio.from
  return from(sine, SR), from(clicks, SR), from(mix, SR)
end

local noise = helpers.noise

local function amen_spectrogram()
  return tessera.stft(tessera.audio.load(AMEN, { sr = SR, duration = 2, mono = true }))
end

-- The largest |H + P + R - S| over every entry, relative to the largest |S|.
local function add_back_error(S, parts)
  local bins, frames = S:shape()
  local worst, scale = 0, 0
  for f = 1, frames do
    for b = 1, bins do
      local sr, si = S:get(b, f)
      local hr, hi = parts.harmonic:get(b, f)
      local pr, pi_ = parts.percussive:get(b, f)
      local rr, ri = parts.residual:get(b, f)
      worst = max(worst, abs(hr + pr + rr - sr), abs(hi + pi_ + ri - si))
      scale = max(scale, abs(sr), abs(si))
    end
  end
  return worst / scale
end

-- Whether two matrices hold the same bits (as numbers: float32 entries read exactly).
local function identical(A, B)
  local rows, cols = A:shape()
  for j = 1, cols do
    for i = 1, rows do
      if A:get(i, j) ~= B:get(i, j) then return false end
    end
  end
  return true
end

-- The reference: scipy.ndimage.median_filter (mode 'reflect', size (1, h) along time and
-- (p, 1) along frequency) and librosa.util.softmask's formula, or Driedger's hard rule.
local REFERENCE = [[
import json, sys
import numpy as np
from scipy.ndimage import median_filter

def soft(x, ref, power, split_zeros):
    z = np.maximum(x, ref)
    bad = z < np.finfo(np.float32).tiny
    z[bad] = 1
    a, b = (x / z) ** power, (ref / z) ** power
    m = a / (a + b)
    m[bad] = 0.5 if split_zeros else 0.0
    return m

cases = json.load(open(sys.argv[1]))
mag = np.load(cases["magnitude"])
out = []
for case in cases["cases"]:
    kh, kp = case["kernel"]
    mh, mp = case["margin"]
    H = median_filter(mag, size=(1, kh), mode="reflect").astype(np.float64)
    P = median_filter(mag, size=(kp, 1), mode="reflect").astype(np.float64)
    if case["hard"]:
        ref_h = (H > mh * P).astype(np.float64)
        ref_p = (P >= mp * H).astype(np.float64)
    else:
        split = mh == 1 and mp == 1
        ref_h = soft(H, mh * P, case["power"], split)
        ref_p = soft(P, mp * H, case["power"], split)
    got_h, got_p = np.load(case["harmonic"]), np.load(case["percussive"])
    out.append({"harmonic": float(np.abs(got_h - ref_h).max()),
                "percussive": float(np.abs(got_p - ref_p).max()),
                "mean_h": float(ref_h.mean())})
print(json.dumps(out))
]]

-- Messages asserted below: docs/bad-input.md's HP rows must be among them.
local asserted = {}
local function refuses(fn, msg)
  assert.has_error(fn, msg)
  asserted[msg] = true
end

describe("tessera.hpss", function()
  describe("masks", function()
    it("equal a scipy.ndimage.median_filter reference to 1e-6", function()
      local S = amen_spectrogram()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      local cases = {
        { kernel = { 31, 31 }, margin = { 1, 1 }, power = 2, hard = false },
        { kernel = { 17, 30 }, margin = { 1, 1 }, power = 1, hard = false },
        { kernel = { 8, 5 }, margin = { 2, 3 }, power = 2, hard = false },
        { kernel = { 31, 31 }, margin = { 2, 2 }, hard = true },
        { kernel = { 200, 1 }, margin = { 1, 1 }, hard = true },
      }
      S:magnitude():save(dir .. "/magnitude.npy")
      for i, case in ipairs(cases) do
        local parts = tessera.hpss(S, { kernel = case.kernel, margin = case.margin,
                                        power = case.power, hard = case.hard })
        case.harmonic = fmt("%s/h%d.npy", dir, i)
        case.percussive = fmt("%s/p%d.npy", dir, i)
        case.power = case.power or 2
        parts.masks.harmonic:save(case.harmonic)
        parts.masks.percussive:save(case.percussive)
      end
      local json = require "tessera.json"
      helpers.write_file(dir .. "/cases.json",
        json.encode({ magnitude = dir .. "/magnitude.npy", cases = cases }))
      helpers.write_file(dir .. "/reference.py", REFERENCE)
      local out, ok = helpers.run("/usr/bin/python3 " .. dir .. "/reference.py " .. dir
        .. "/cases.json 2>&1")
      assert.is_true(ok, out)
      local diffs = json.decode(out)
      assert.equal(#cases, #diffs)
      for i, d in ipairs(diffs) do
        assert.is_true(d.harmonic <= 1e-6, fmt("case %d harmonic differs by %g", i, d.harmonic))
        assert.is_true(d.percussive <= 1e-6, fmt("case %d percussive differs by %g", i, d.percussive))
        assert.is_true(d.mean_h > 0.01 and d.mean_h < 0.99, "a mask that is not all one side")
      end
    end)

    it("add up to 1 where margin is 1 (soft), and never overlap when hard", function()
      local S = amen_spectrogram()
      local soft = tessera.hpss(S).masks
      local sum = soft.harmonic + soft.percussive
      assert.near(1, sum:min(), 1e-6)
      assert.near(1, sum:max(), 1e-6)
      local hard = tessera.hpss(S, { margin = 2 }).masks
      assert.equal(0, hard.harmonic:hadamard(hard.percussive):max())
      assert.is_true((hard.harmonic + hard.percussive):min() == 0, "margin 2 leaves a residual")
    end)
  end)

  describe("parts", function()
    it("add back to the input within 1e-6", function()
      local S = amen_spectrogram()
      for _, opts in ipairs { {}, { margin = 3 }, { margin = { 1.5, 4 }, hard = false },
                              { kernel = { 9, 4 }, power = 1 } } do
        local parts = tessera.hpss(S, opts)
        assert.is_true(add_back_error(S, parts) <= 1e-6)
      end
    end)

    it("keep the input's geometry and phase", function()
      local S = amen_spectrogram()
      local parts = tessera.hpss(S, { margin = 2 })
      for _, part in ipairs { parts.harmonic, parts.percussive, parts.residual } do
        assert.same({ S:shape() }, { part:shape() })
        assert.equal(S.hop, part.hop)
        assert.equal(S.length, part.length)
      end
      -- Hard masks: each entry is wholly in one part, so that part's entry is S's.
      local hr, hi = parts.harmonic:get(10, 20)
      local pr, pi_ = parts.percussive:get(10, 20)
      local rr, ri = parts.residual:get(10, 20)
      local sr, si = S:get(10, 20)
      assert.equal(sr, hr + pr + rr)
      assert.equal(si, hi + pi_ + ri)
    end)

    it("send a sustained tone to the harmonic part and clicks to the percussive", function()
      local sine, clicks, mix = sine_and_clicks(2)
      local masks = tessera.hpss(tessera.stft(mix)).masks
      -- The share of a signal's energy a mask keeps (the STFT is linear).
      local function kept(mask, x)
        local power = tessera.stft(x):power()
        return mask:hadamard(mask):hadamard(power):sum() / power:sum()
      end
      assert.is_true(kept(masks.harmonic, sine) > 0.95)
      assert.is_true(kept(masks.percussive, sine) < 0.05)
      assert.is_true(kept(masks.percussive, clicks) > 0.95)
      assert.is_true(kept(masks.harmonic, clicks) < 0.05)
    end)

    it("of an Audio are Audio of its length that add back to it", function()
      local _, _, mix = sine_and_clicks(1)
      local parts = tessera.hpss(mix, { n_fft = 1024, hop = 256 })
      assert.equal(1024, parts.spectrogram.n_fft)
      local h, p, r = parts.harmonic, parts.percussive, parts.residual
      assert.equal(#mix, #h)
      assert.equal(#mix, #r)
      local worst = 0
      for t = 1, #mix do worst = max(worst, abs(h:get(t) + p:get(t) + r:get(t) - mix:get(t))) end
      assert.is_true(worst < 1e-5, fmt("audio parts differ from the input by %g", worst))
    end)
  end)

  describe("threads", function()
    it("give bit-identical masks for 1 and 2 threads", function()
      -- Ten seconds of noise: enough lines that the filters are shared out.
      local S = tessera.stft(tessera.audio.from(noise(10 * SR, 7), SR))
      for _, opts in ipairs { { kernel = 31 }, { kernel = { 16, 45 }, margin = 2 } } do
        opts.threads = 1
        local one = tessera.hpss(S, opts).masks
        opts.threads = 2
        local two = tessera.hpss(S, opts).masks
        assert.is_true(identical(one.harmonic, two.harmonic))
        assert.is_true(identical(one.percussive, two.percussive))
      end
    end)
  end)

  describe("median_filter()", function()
    it("reflects at the edges and takes the upper median of an even window", function()
      local M = tessera.matrix.from { { 5, 1, 4, 2 } }
      -- Along time with size 3, reflect: (5) 5 1 4 2 (2).
      assert.same({ { 5, 4, 2, 2 } }, tessera.hpss.median_filter(M, 3, "time"):totable())
      -- Size 2 covers offsets -1..0; the upper of two: max.
      assert.same({ { 5, 5, 4, 4 } }, tessera.hpss.median_filter(M, 2, "time"):totable())
      -- A window longer than the line keeps reflecting (scipy gives 2 4 2 4 too).
      local long = tessera.hpss.median_filter(M, 9, "time"):totable()[1]
      assert.same({ 2, 4, 2, 4 }, long)
      assert.same({ { 5, 1, 4, 2 } }, tessera.hpss.median_filter(M, 1, "frequency"):totable())
    end)
  end)

  describe("percussiveness()", function()
    it("is above 0.8 for the click component and below 0.2 for the tone", function()
      local _, _, mix = sine_and_clicks(2)
      local S = tessera.stft(mix)
      local m = tessera.nmf(S:magnitude(), { k = 2, max_iter = 200, progress = false })
      local p = tessera.hpss.percussiveness(m, S)
      assert.equal(2, #p)
      local lo, hi = math.min(p[1], p[2]), max(p[1], p[2])
      assert.is_true(hi > 0.8, fmt("click component %g", hi))
      assert.is_true(lo < 0.2, fmt("tone component %g", lo))
      -- The click component is the one whose template is broadband: the tone's peaks at 440 Hz.
      local tone = p[1] < p[2] and 1 or 2
      local peak, at = -1, 0
      for b = 1, m.n do
        if m.W:get(b, tone) > peak then peak, at = m.W:get(b, tone), b end
      end
      assert.is_true(abs((at - 1) * SR / 2048 - 440) < 2 * SR / 2048)
      -- A mask given is used as it is.
      local ones = tessera.matrix.new(S.bins, S.frames):fill(1)
      local all = tessera.hpss.percussiveness(m, S, { mask = ones })
      assert.near(1, all[1], 1e-12)
      assert.near(1, all[2], 1e-12)
    end)
  end)

  describe("from recipes and decompose", function()
    it("decomposes only a source's part with the recipe key hpss", function()
      local mosaic = require "tessera.mosaic"
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      local function render(part)
        local src = { file = AMEN, duration = 1.5, k = 3, loss = "kl", max_iter = 30, hpss = part }
        local _, summary = mosaic.render({ duration = 1.5, sources = { amen = src },
                                           layers = { { W = "amen" } } }, { cache_dir = dir })
        return summary.magnitude
      end
      local S = tessera.stft(tessera.audio.load(AMEN, { sr = SR, duration = 1.5, mono = true }))
      local perc = tessera.hpss(S).percussive:magnitude()
      local whole, of_perc, of_harm = render(nil), render("percussive"), render("harmonic")
      local function dist(A, B) local D = A - B; return D:hadamard(D):sum() end
      assert.is_true(dist(of_perc, perc) < 0.5 * dist(whole, perc))
      assert.is_true(dist(of_harm, of_perc) > 0.1 * of_perc:hadamard(of_perc):sum(),
        "the cache told the parts apart")
      local ok, err = pcall(mosaic.render, { sources = { amen = { file = AMEN, k = 2, hpss = "drums" } },
                                             layers = { { W = "amen" } } }, { cache_dir = dir })
      assert.is_false(ok)
      assert.matches("source 'amen': key 'hpss' must be 'harmonic', 'percussive' or 'residual', got "
        .. "string 'drums'", err, 1, true)
    end)

    it("decomposes only a part with decompose --hpss and prints percussiveness", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      local out, ok = helpers.run(fmt("bin/tessera decompose %s -o %s -k 2 --iter 20 --hpss "
        .. "percussive --hpss-kernel 17,31 --hpss-margin 2 --percussiveness 2>&1", AMEN, dir))
      assert.is_true(ok, out)
      assert.matches("'s percussive part", out, 1, true)
      assert.matches("percussiveness: 1: %d%.%d+, 2: %d%.%d+", out)
      assert.is_true(helpers.exists(dir .. "/percussive.wav"))
      local part = tessera.audio.load(dir .. "/percussive.wav")
      local sum = tessera.audio.load(dir .. "/sum.wav")
      local worst = 0
      for t = 1, #part, 7 do worst = max(worst, abs(part:get(t) - sum:get(t))) end
      assert.is_true(worst < 1e-3, "the components add up to the part")
      out, ok = helpers.run(fmt("bin/tessera decompose %s -o %s --hpss-kernel 3,x 2>&1", AMEN, dir))
      assert.is_falsy(ok)
      assert.equal("tessera: decompose: --hpss-kernel must be one number or two separated by a "
        .. "comma, got '3,x'\n", out)
    end)
  end)

  describe("bad input", function()
    local S = tessera.stft(tessera.audio.from(noise(4096, 3), SR))
    local function rejects(opts, msg)
      refuses(function() tessera.hpss(S, opts) end, "bad argument #2 to 'hpss' (" .. msg .. ")")
    end

    it("names the option and the value", function()
      rejects({ kernel = 0 }, "kernel sizes must be in 1..1048576, got 0 and 0")
      rejects({ kernel = { 31, -1 } }, "kernel sizes must be in 1..1048576, got 31 and -1")
      rejects({ kernel = "x" }, "kernel must be an integer or a pair {h, p} of integers, got string")
      rejects({ kernel = 2.5 }, "kernel must be an integer or a pair {h, p} of integers, got 2.5")
      rejects({ kernel = { 3 } }, "kernel must be an integer or a pair {h, p} of integers, got table")
      rejects({ kernel = { 3, 2.5 } },
        "kernel must be an integer or a pair {h, p} of integers, got a pair holding 2.5")
      rejects({ margin = 0.5 }, "margins must be finite and >= 1, got 0.5 and 0.5")
      rejects({ margin = { 1, 1 / 0 } }, "margins must be finite and >= 1, got 1 and inf")
      rejects({ margin = { 1, "a" } },
        "margin must be a number or a pair {h, p} of numbers, got a pair holding string")
      rejects({ power = 0 }, "power must be finite and > 0, got 0")
      rejects({ power = "2" }, "power must be a number, got string")
      rejects({ hard = 1 }, "hard must be a boolean, got number")
      rejects({ threads = 0 }, "threads must be in 1..64, got 0")
      rejects({ kernl = 3 }, "unknown option 'kernl' (valid: kernel, margin, power, hard, threads); "
        .. "did you mean 'kernel'?")
    end)

    it("refuses what is not a Spectrogram or Audio", function()
      refuses(function() tessera.hpss(3) end,
        "bad argument #1 to 'hpss' (Spectrogram or Audio expected, got number)")
      assert.has_error(function() tessera.hpss(S:magnitude()) end,
        "bad argument #1 to 'hpss' (Spectrogram or Audio expected, got Matrix)")
      refuses(function() tessera.hpss(S, 3) end,
        "bad argument #2 to 'hpss' (table expected, got number)")
      assert.has_error(function() tessera.hpss.median_filter(S:magnitude(), 0, "time") end,
        "bad argument #2 to 'median_filter' (size must be in 1..1048576, got 0)")
    end)

    it("checks percussiveness's model, spectrogram and mask", function()
      local m = tessera.nmf(S:magnitude(), { k = 2, max_iter = 5, progress = false })
      local other = tessera.stft(tessera.audio.from(noise(8192, 4), SR))
      refuses(function() tessera.hpss.percussiveness({}, S) end,
        "bad argument #1 to 'percussiveness' (NMF model expected, got table)")
      assert.has_error(function() tessera.hpss.percussiveness(m, "S") end,
        "bad argument #2 to 'percussiveness' (Spectrogram expected, got string)")
      refuses(function() tessera.hpss.percussiveness(m, other) end,
        fmt("bad argument #2 to 'percussiveness' (spectrogram is 1025 x %d but the model is "
          .. "1025 x %d)", other.frames, S.frames))
      assert.has_error(function()
        tessera.hpss.percussiveness(m, S, { mask = tessera.matrix.new(2, 2) })
      end, fmt("bad argument #3 to 'percussiveness' (mask is 2 x 2 but the spectrogram is "
          .. "1025 x %d)", S.frames))
    end)
  end)

  it("lists its errors in docs/bad-input.md (the HP rows), each as asserted", function()
    local doc = assert(helpers.read_file(helpers.root .. "/docs/bad-input.md"))
    local n = 0
    for line in doc:gmatch("\n(| HP%d+ |[^\n]*)") do
      local msg = line:match("| `([^`]*)` |$")
      assert.truthy(msg and asserted[msg], line)
      n = n + 1
    end
    assert.is_true(n >= 8, tostring(n))
  end)
end)
