-- Specs of tessera.stft, the Spectrogram type and tessera.spectrogram. Expected values
-- come from formulas written plainly here (a direct DFT, the window sums, the frame-count
-- formula), never from tessera itself.
local tessera = require "tessera"
local helpers = require "helpers"

local abs, cos, sin, sqrt, pi, floor = math.abs, math.cos, math.sin, math.sqrt, math.pi, math.floor

local AMEN = "/usr/share/sonic-pi/samples/loop_amen.flac"

local noise = helpers.noise

local function audio_of(samples, sr) return tessera.audio.from(samples, sr or 22050) end

-- The samples as stored (float32), so references use exactly what the STFT saw.
local function samples_of(a)
  local x = {}
  for i = 1, #a do x[i] = a:get(i) end
  return x
end

local function window(name, n)
  local w = {}
  for i = 0, n - 1 do
    if name == "hann" then w[i] = 0.5 - 0.5 * cos(2 * pi * i / n)
    elseif name == "hamming" then w[i] = 0.54 - 0.46 * cos(2 * pi * i / n)
    else w[i] = 1 end
  end
  return w
end

-- Bin k (0-based) of frame f (0-based), straight from the definition:
-- sum over t of x[start + t] w[t] e^(-2 pi i k t / N), zeros outside the signal.
local function direct_dft(x, w, n, hop, center, f, k)
  local start = f * hop - (center and n // 2 or 0)
  local re, im = 0.0, 0.0
  for t = 0, n - 1 do
    local s = x[start + t + 1]
    if s then
      local v, angle = s * w[t], -2 * pi * k * t / n
      re, im = re + v * cos(angle), im + v * sin(angle)
    end
  end
  return re, im
end

local function expected_frames(len, n, hop, center)
  if center then return 1 + floor((len + 2 * (n // 2) - n) / hop) end
  return 1 + floor((len - n) / hop)
end

local function rel_rms_error(y, x, first, last)
  local num, den = 0.0, 0.0
  for i = first or 1, last or #x do
    num = num + (y:get(i) - x[i]) ^ 2
    den = den + x[i] ^ 2
  end
  return sqrt(num / den)
end

local function ones(rows, cols, value)
  local M = tessera.core.matrix.new(rows, cols)
  for i = 1, rows do
    for j = 1, cols do M:set(i, j, value) end
  end
  return M
end

describe("tessera.stft", function()
  describe("stft()", function()
    it("equals a direct DFT of the windowed, padded frames (n_fft 64, hop 16)", function()
      for _, case in ipairs({ { "hann", true }, { "hamming", false }, { "rect", true } }) do
        local name, center = case[1], case[2]
        local a = audio_of(noise(301, 7))
        local x = samples_of(a)
        local S = tessera.stft(a, { n_fft = 64, hop = 16, window = name, center = center })
        local bins, frames = S:shape()
        assert.equal(33, bins)
        assert.equal(expected_frames(301, 64, 16, center), frames)
        local w = window(name, 64)
        for f = 0, frames - 1 do
          local refs, biggest = {}, 0
          for k = 0, 32 do
            local re, im = direct_dft(x, w, 64, 16, center, f, k)
            refs[k] = { re, im }
            biggest = math.max(biggest, sqrt(re * re + im * im))
          end
          for k = 0, 32 do
            local re, im = S:get(k + 1, f + 1)
            assert.near(refs[k][1], re, 1e-4 * biggest)
            assert.near(refs[k][2], im, 1e-4 * biggest)
          end
        end
      end
    end)

    it("matches a direct DFT at a few bins and frames for n_fft 2048, hop 512", function()
      local a = audio_of(noise(20000, 99))
      local x = samples_of(a)
      local S = tessera.stft(a)
      assert.equal(2048, S.n_fft)
      assert.equal(512, S.hop)
      local w = window("hann", 2048)
      for _, f in ipairs({ 0, 1, 17, 39 }) do -- the first, inner and last frames
        for _, k in ipairs({ 0, 1, 100, 511, 1024 }) do
          local re, im = direct_dft(x, w, 2048, 512, true, f, k)
          local sre, sim = S:get(k + 1, f + 1)
          local scale = math.max(1, sqrt(re * re + im * im))
          assert.near(re, sre, 1e-4 * scale)
          assert.near(im, sim, 1e-4 * scale)
        end
      end
    end)

    it("gives the number of frames of the formula for several lengths", function()
      for _, len in ipairs({ 2048, 2049, 2559, 2560, 4097, 9999, 22050 }) do
        for _, geometry in ipairs({ { 2048, 512 }, { 2048, 2048 }, { 1024, 256 }, { 2048, 1 } }) do
          local n, hop = geometry[1], geometry[2]
          if hop > 1 or len <= 2560 then
            for _, center in ipairs({ true, false }) do
              local S = tessera.stft(audio_of(noise(len)), { n_fft = n, hop = hop, center = center })
              local bins, frames = S:shape()
              assert.equal(n // 2 + 1, bins)
              assert.equal(expected_frames(len, n, hop, center), frames)
              assert.equal(frames, S.frames)
              assert.equal(bins, S.bins)
            end
          end
        end
      end
    end)

    it("puts a sine at an exact bin frequency in that bin, with magnitude A*sum(w)/2", function()
      local sr, n, k, A = 22050, 2048, 100, 0.5
      local x = {}
      for t = 0, sr - 1 do x[t + 1] = A * sin(2 * pi * k * sr / n * t / sr) end
      local S = tessera.stft(audio_of(x, sr))
      local w, wsum = window("hann", n), 0
      for i = 0, n - 1 do wsum = wsum + w[i] end
      local M = S:magnitude()
      local expected = A * wsum / 2
      for _, f in ipairs({ 5, 20, 38 }) do -- frames well inside the signal
        local best, best_bin = -1, nil
        for b = 1, n // 2 + 1 do
          if M:get(b, f) > best then best, best_bin = M:get(b, f), b end
        end
        assert.equal(k + 1, best_bin)
        assert.near(expected, best, 1e-3 * expected)
        -- Hann leaks half the peak into each neighbour and almost nothing further out.
        assert.near(expected / 2, M:get(k, f), 1e-3 * expected)
        assert.near(expected / 2, M:get(k + 2, f), 1e-3 * expected)
        assert.is_true(M:get(k - 5, f) < 1e-3 * expected)
        assert.is_true(M:get(k + 7, f) < 1e-3 * expected)
      end
    end)

    it("gives exact zeros for silence", function()
      local x = {}
      for i = 1, 5000 do x[i] = 0 end
      local S = tessera.stft(audio_of(x))
      local bins, frames = S:shape()
      for f = 1, frames do
        for b = 1, bins do
          local re, im = S:get(b, f)
          assert.equal(0, re)
          assert.equal(0, im)
        end
      end
    end)

    it("gives a flat magnitude across bins for a click", function()
      local x = {}
      for i = 1, 22050 do x[i] = 0 end
      x[10001] = 0.8 -- sample 10000 (0-based): frame 20 spans 9216..11263
      local M = tessera.stft(audio_of(x)):magnitude()
      local expected = 0.8 * (0.5 - 0.5 * cos(2 * pi * (10000 - 9216) / 2048))
      local f = 21
      for b = 1, 1025 do assert.near(expected, M:get(b, f), 1e-6) end
      -- A frame that does not reach the click is silent.
      for b = 1, 1025, 64 do assert.equal(0, M:get(b, 5)) end
    end)

    it("is deterministic: the same input gives bit-identical output", function()
      local a = audio_of(noise(9999, 3))
      local S1, S2 = tessera.stft(a), tessera.stft(a, { n_fft = 2048, hop = 512 })
      local bins, frames = S1:shape()
      for f = 1, frames do
        for b = 1, bins do
          local r1, i1 = S1:get(b, f)
          local r2, i2 = S2:get(b, f)
          assert.is_true(r1 == r2 and i1 == i2)
        end
      end
    end)

    it("uses a quarter of n_fft as the default hop", function()
      local S = tessera.stft(audio_of(noise(5000)), { n_fft = 1024 })
      assert.equal(256, S.hop)
      assert.equal(1 + (5000 + 1024 - 1024) // 256, S.frames)
    end)

    it("refuses arguments of the wrong type", function()
      local a = audio_of(noise(4096))
      assert.has_error(function() tessera.stft("x") end,
        "bad argument #1 to 'stft' (tessera.Audio expected, got string)")
      assert.has_error(function() tessera.stft(a, 5) end,
        "bad argument #2 to 'stft' (table expected, got number)")
      assert.has_error(function() tessera.stft(a, { n_fft = "big" }) end,
        "bad argument #2 to 'stft' (n_fft must be an integer, got string)")
      assert.has_error(function() tessera.stft(a, { n_fft = 1024.5 }) end,
        "bad argument #2 to 'stft' (n_fft must be an integer, got 1024.5)")
      assert.has_error(function() tessera.stft(a, { hop = true }) end,
        "bad argument #2 to 'stft' (hop must be an integer, got boolean)")
      assert.has_error(function() tessera.stft(a, { window = 1 }) end,
        "bad argument #2 to 'stft' (window must be a string, got number)")
      assert.has_error(function() tessera.stft(a, { center = "yes" }) end,
        "bad argument #2 to 'stft' (center must be a boolean, got string)")
      assert.has_error(function() tessera.stft(a, { hopp = 256 }) end,
        "bad argument #2 to 'stft' (unknown option 'hopp' (valid: n_fft, hop, window, center, "
          .. "magnitude, threads, max_memory); did you mean 'hop'?)")
    end)

    it("refuses an n_fft that is not a positive even integer (odd included)", function()
      local a = audio_of(noise(4096))
      for _, n in ipairs({ 2047, 0, -2, 1, 33554432 }) do
        assert.has_error(function() tessera.stft(a, { n_fft = n }) end,
          ("bad argument #2 to 'stft' (n_fft must be an even integer in 2..16777216, got %d)"):format(n))
      end
    end)

    it("refuses a hop outside 1..n_fft", function()
      local a = audio_of(noise(4096))
      assert.has_error(function() tessera.stft(a, { hop = 0 }) end,
        "bad argument #2 to 'stft' (hop must be in 1..2048, got 0)")
      assert.has_error(function() tessera.stft(a, { hop = -5 }) end,
        "bad argument #2 to 'stft' (hop must be in 1..2048, got -5)")
      assert.has_error(function() tessera.stft(a, { n_fft = 1024, hop = 1025 }) end,
        "bad argument #2 to 'stft' (hop must be in 1..1024, got 1025)")
    end)

    it("refuses an unknown window, listing the valid names", function()
      assert.has_error(function() tessera.stft(audio_of(noise(4096)), { window = "hanning" }) end,
        "bad argument #2 to 'stft' (window must be 'hann', 'hamming' or 'rect', got 'hanning')")
    end)

    it("refuses multichannel audio", function()
      local stereo = tessera.core.audio.new(4096, 22050, 2)
      assert.has_error(function() tessera.stft(stereo) end,
        "bad argument #1 to 'stft' (audio has 2 channels: load it with mono=true or call a:mono())")
    end)

    it("refuses a signal shorter than one frame", function()
      assert.has_error(function() tessera.stft(audio_of(noise(1000))) end,
        "bad argument #1 to 'stft' (audio has 1000 samples, fewer than n_fft (2048))")
      assert.has_error(function() tessera.stft(audio_of(noise(100)), { n_fft = 128, center = false }) end,
        "bad argument #1 to 'stft' (audio has 100 samples, fewer than n_fft (128))")
      assert.has_error(function() tessera.stft(tessera.core.audio.new(0, 22050)) end,
        "bad argument #1 to 'stft' (audio has 0 samples, fewer than n_fft (2048))")
    end)

    it("refuses a signal holding NaN or Inf, naming the sample", function()
      local x = noise(4096)
      x[18] = 0 / 0
      assert.has_error(function() tessera.stft(audio_of(x)) end, "tessera.stft: sample 18 is nan")
      x[18], x[4000] = 0, -math.huge
      assert.has_error(function() tessera.stft(audio_of(x)) end, "tessera.stft: sample 4000 is -inf")
    end)

    it("refuses finite samples whose frames overflow float32, naming the first frame", function()
      local x = noise(8192)
      for i = 5000, 5100 do x[i] = 3e38 end
      local msg = "tessera.stft: frame %d overflows float32 (its samples are too large to sum; " ..
        "scale the signal down)"
      -- centred frames of 2048 with hop 512: frame 9 (samples 3073..5120) is the first to reach 5000
      assert.has_error(function() tessera.stft(audio_of(x)) end, msg:format(9))
      assert.has_error(function() tessera.stft(audio_of(x), { magnitude = true }) end, msg:format(9))
      for i = 5000, 5100 do x[i] = 1e30 end -- large but summable: a finite spectrum
      local S = tessera.stft(audio_of(x), { magnitude = true })
      assert.is_true(S:isfinite())
    end)
  end)

  describe("stft() with magnitude = true", function()
    -- Every entry of two matrices of the same shape is the same float.
    local function same_bits(A, B)
      local rows, cols = A:shape()
      assert.same({ rows, cols }, { B:shape() })
      for j = 1, cols do
        for i = 1, rows do
          local x, y = A:get(i, j), B:get(i, j)
          if x ~= y then return false, ("(%d, %d): %.9g vs %.9g"):format(i, j, x, y) end
        end
      end
      return true
    end

    -- |X| of each entry of S from its float parts in double, rounded to float: what the
    -- magnitude is where the float sum of squares under- or overflows.
    local function exact_magnitude(S, b, f)
      local re, im = S:get(b, f)
      return string.unpack("f", string.pack("f", sqrt(re * re + im * im)))
    end

    it("gives the bits of stft():magnitude() on a real loop and on odd lengths", function()
      local amen = tessera.audio.load(AMEN, { mono = true, sr = 22050 })
      local cases = { { amen, {} }, { amen, { n_fft = 1024, window = "hamming", center = false } } }
      -- n_fft/2 = 1 .. 1024: below, at and above the 8- and 16-bin SIMD groups, with
      -- partial last groups; signal lengths that leave partial last frames and blocks.
      local geometries = { { 2, 1 }, { 4, 3 }, { 6, 2 }, { 16, 5 }, { 18, 7 }, { 32, 8 },
                           { 34, 9 }, { 48, 48 }, { 64, 16 }, { 130, 33 }, { 2048, 512 } }
      for i, g in ipairs(geometries) do
        local len = ({ 4097, 5001, 3333 })[i % 3 + 1]
        cases[#cases + 1] = { audio_of(noise(len, i)), { n_fft = g[1], hop = g[2],
          window = ({ "hann", "hamming", "rect" })[i % 3 + 1], center = i % 2 == 0 } }
      end
      for _, case in ipairs(cases) do
        local a, opts = case[1], case[2]
        local fused_opts = { magnitude = true }
        for k, v in pairs(opts) do fused_opts[k] = v end
        local V = tessera.stft(a, fused_opts)
        assert.equal("tessera.Matrix", getmetatable(V).__name)
        local ok, where = same_bits(tessera.stft(a, opts):magnitude(), V)
        assert.is_true(ok, ("n_fft %d: %s"):format(opts.n_fft or 2048, where))
      end
    end)

    it("matches |scipy.signal.stft| of a real loop (scaled back by the window sum)", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      local amen = tessera.audio.load(AMEN, { mono = true, sr = 22050 })
      amen:save(dir .. "/amen.wav", { subtype = "float" })
      local out, ok = helpers.python(([[
import numpy as np, scipy.signal, soundfile
y, sr = soundfile.read(%q, dtype="float64")
w = scipy.signal.get_window("hann", 2048)
_, _, Z = scipy.signal.stft(y, fs=sr, window=w, nperseg=2048, noverlap=1536,
                            boundary="zeros", padded=True)
np.save(%q, (np.abs(Z) * w.sum()).astype(np.float32))
]]):format(dir .. "/amen.wav", dir .. "/ref.npy"))
      assert.is_true(ok, out)
      local ref = tessera.matrix.load(dir .. "/ref.npy")
      local V = tessera.stft(amen, { magnitude = true })
      local bins, frames = V:shape()
      local ref_bins, ref_frames = ref:shape()
      assert.equal(bins, ref_bins)
      assert.is_true(ref_frames >= frames and ref_frames <= frames + 1) -- scipy pads a last frame
      local peak, worst = 0, 0
      for f = 1, frames do
        for b = 1, bins do
          local r = ref:get(b, f)
          peak = math.max(peak, r)
          worst = math.max(worst, abs(V:get(b, f) - r))
        end
      end
      assert.is_true(peak > 100, peak)
      assert.is_true(worst < 1e-5 * peak, ("%.3g against a peak of %.3g"):format(worst, peak))
    end)

    it("takes |X| in double where the float squares overflow or underflow", function()
      -- At 1e30 every square overflows float, at 1e-25 every one underflows; the mixed
      -- signal puts both kinds in one 4096-entry run of stft():magnitude(), whose entries
      -- must still each be what they are alone (the fused path goes frame by frame).
      local x = noise(3001, 8)
      local loud, quiet, mixed = {}, {}, {}
      for i, v in ipairs(x) do
        loud[i], quiet[i] = v * 1e30, v * 1e-25
        mixed[i] = i <= 1500 and v or v * 1e-25
      end
      for _, samples in ipairs({ loud, quiet, mixed }) do
        local a = audio_of(samples)
        local opts = { n_fft = 256, hop = 64 }
        local S = tessera.stft(a, opts)
        opts.magnitude = true
        local V = tessera.stft(a, opts)
        assert.is_true(same_bits(S:magnitude(), V))
        local bins, frames = V:shape()
        for f = 1, frames do
          for b = 1, bins do
            local re, im = S:get(b, f)
            local p = re * re + im * im
            if p > 2 ^ 100 or p < 2 ^ -100 then
              assert.equal(exact_magnitude(S, b, f), V:get(b, f))
            else
              assert.near(sqrt(p), V:get(b, f), 1e-6 * sqrt(p))
            end
          end
        end
      end
      assert.equal(exact_magnitude(tessera.stft(audio_of(loud), { n_fft = 256 }), 3, 4),
        tessera.stft(audio_of(loud), { n_fft = 256, magnitude = true }):get(3, 4))
    end)

    it("gives the same bits on every SIMD path (TESSERA_SIMD=generic, avx2)", function()
      -- A child process caps the choice; the CPU's own best runs here. Each case's complex
      -- spectrogram, its magnitude() and the fused magnitude are hashed (signs of zeros
      -- included: the noise has a silent stretch).
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      local code = ([[
        local t = require "tessera"
        local amen = t.audio.load(%q, { mono = true, sr = 22050 })
        local state, x = 5, {}
        for i = 1, 5001 do
          state = (1103515245 * state + 12345) %% 2147483648
          x[i] = (i > 2000 and i <= 3500) and 0 or state / 1073741824 - 1
        end
        local cases = { { amen, 2048, 512, "hann", true }, { amen, 1024, 300, "hamming", false } }
        for _, g in ipairs({ { 4, 1 }, { 18, 5 }, { 34, 7 }, { 50, 50 }, { 256, 64 } }) do
          cases[#cases + 1] = { t.audio.from(x, 22050), g[1], g[2], "hann", true }
        end
        local digests = {}
        for _, c in ipairs(cases) do
          local opts = { n_fft = c[2], hop = c[3], window = c[4], center = c[5] }
          local S = t.stft(c[1], opts)
          local M = S:magnitude()
          opts.magnitude = true
          local V = t.stft(c[1], opts)
          local parts = {}
          for f = 1, S.frames do
            for b = 1, S.bins do
              local re, im = S:get(b, f)
              parts[#parts + 1] = string.pack("<ffff", re, im, M:get(b, f), V:get(b, f))
            end
          end
          digests[#digests + 1] = t.core.util.sha256(table.concat(parts))
        end
        return table.concat(digests, " ")
      ]]):format(AMEN)
      local script = dir .. "/paths.lua"
      local f = assert(io.open(script, "w"))
      f:write("io.write((function() " .. code .. " end)())")
      f:close()
      local here = assert(load(code))()
      assert.equal(7, select(2, here:gsub("%x+", "")))
      for _, simd in ipairs({ "generic", "avx2" }) do
        local out, ok = helpers.run(("cd %s && TESSERA_SIMD=%s "
          .. "LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='lua/?.so;;' lua5.4 %s 2>&1"):format(
          helpers.shell_quote(helpers.root), simd, helpers.shell_quote(script)))
        assert.is_true(ok, out)
        assert.equal(here, out, simd)
      end
    end)

    it("refuses what stft() refuses, with the same messages", function()
      local x = noise(40000)
      x[3] = 0 / 0
      assert.has_error(function() tessera.stft(audio_of(x), { magnitude = true }) end,
        "tessera.stft: sample 3 is nan")
      -- Past the first block of frames, and the first of two when both are bad.
      x[3], x[30001], x[35000] = 0, math.huge, 0 / 0
      for _, threads in ipairs({ 1, 2 }) do
        for _, magnitude in ipairs({ true, false }) do
          assert.has_error(function()
            tessera.stft(audio_of(x), { magnitude = magnitude, threads = threads })
          end, "tessera.stft: sample 30001 is inf")
        end
      end
      -- In the tail that no frame covers when frames are not centred.
      local y = noise(2048 + 100)
      y[2140] = -math.huge
      assert.has_error(function()
        tessera.stft(audio_of(y), { hop = 2048, center = false, magnitude = true })
      end, "tessera.stft: sample 2140 is -inf")
      assert.has_error(function() tessera.stft(audio_of(noise(100)), { magnitude = true }) end,
        "bad argument #1 to 'stft' (audio has 100 samples, fewer than n_fft (2048))")
      assert.has_error(function() tessera.stft(audio_of(noise(5000)), { magnitude = 1 }) end,
        "bad argument #2 to 'stft' (magnitude must be a boolean, got number)")
    end)

    it("is capped by max_memory like the spectrogram", function()
      local long = tessera.audio.new(22050 * 60, 22050)
      local ok, err = pcall(tessera.stft, long, { magnitude = true, max_memory = 1000000 })
      assert.is_false(ok)
      assert.truthy(err:find("tessera.stft: a 1025 x 2584 matrix needs 10.6 MB, more than its memory "
        .. "budget (1.0 MB)", 1, true), err)
      assert.equal(0, tessera.core.util.memory_cap())
      local V = tessera.stft(long, { magnitude = true, max_memory = 16 * 1024 * 1024 })
      assert.same({ 1025, 2584 }, { V:shape() })
      assert.equal(0, V:max())
    end)
  end)

  describe("stft() threads", function()
    it("gives the same bits on 1, 2 and 3 threads", function()
      -- 605 frames of 256 samples: 19 blocks of 32 frames, enough for 3 threads (4 blocks each).
      local a = tessera.audio.load(AMEN, { mono = true, sr = 22050 })
      local opts = { n_fft = 256, hop = 64, threads = 1 }
      local S1 = tessera.stft(a, opts)
      opts.magnitude = true
      local V1 = tessera.stft(a, opts)
      assert.is_true(S1.frames >= 3 * 4 * 32)
      for _, threads in ipairs({ 2, 3 }) do
        local S = tessera.stft(a, { n_fft = 256, hop = 64, threads = threads })
        local V = tessera.stft(a, { n_fft = 256, hop = 64, threads = threads, magnitude = true })
        for f = 1, S.frames do
          for b = 1, S.bins do
            local r1, i1 = S1:get(b, f)
            local r, i = S:get(b, f)
            assert(r == r1 and i == i1 and V:get(b, f) == V1:get(b, f),
              ("%d threads, bin %d, frame %d"):format(threads, b, f))
          end
        end
      end
    end)

    it("refuses a count outside 1..64 or not an integer", function()
      local a = audio_of(noise(5000))
      assert.has_error(function() tessera.stft(a, { threads = 0 }) end,
        "bad argument #2 to 'stft' (threads must be in 1..64, got 0)")
      assert.has_error(function() tessera.stft(a, { threads = 65, magnitude = true }) end,
        "bad argument #2 to 'stft' (threads must be in 1..64, got 65)")
      assert.has_error(function() tessera.stft(a, { threads = 1.5 }) end,
        "bad argument #2 to 'stft' (threads must be an integer, got 1.5)")
      assert.has_error(function() tessera.stft(a, { threads = true }) end,
        "bad argument #2 to 'stft' (threads must be an integer, got boolean)")
    end)
  end)
end)

describe("tessera.Spectrogram", function()
  local a = audio_of(noise(5000, 11), 16000)
  local S = tessera.stft(a, { n_fft = 64, hop = 16, window = "hamming" })

  describe("fields and tostring", function()
    it("describes its geometry", function()
      assert.equal(16000, S.sr)
      assert.equal(64, S.n_fft)
      assert.equal(16, S.hop)
      assert.equal("hamming", S.window)
      assert.equal(true, S.center)
      assert.equal(5000, S.length)
      assert.equal(false, tessera.stft(a, { n_fft = 64, center = false }).center)
      assert.is_nil(S.nonsense)
      assert.equal("Spectrogram(33 bins x 313 frames, n_fft 64, hop 16, 16000 Hz)", tostring(S))
      local amen = tessera.audio.load(AMEN, { mono = true, sr = 22050 })
      local expected = expected_frames(#amen, 2048, 512, true)
      assert.equal(("Spectrogram(1025 bins x %d frames, n_fft 2048, hop 512, 22050 Hz)"):format(expected),
        tostring(tessera.stft(amen)))
    end)
  end)

  describe("magnitude(), power(), phase()", function()
    it("are consistent with get()", function()
      local M, P, Ph = S:magnitude(), S:power(), S:phase()
      local bins, frames = S:shape()
      assert.same({ bins, frames }, { M:shape() })
      assert.same({ bins, frames }, { P:shape() })
      assert.same({ bins, frames }, { Ph:shape() })
      for f = 1, frames, 7 do
        for b = 1, bins do
          local re, im = S:get(b, f)
          local mag = sqrt(re * re + im * im)
          assert.near(mag, M:get(b, f), 1e-6 * math.max(1, mag))
          assert.near(mag * mag, P:get(b, f), 1e-5 * math.max(1, mag * mag))
          local phase = math.atan(im, re)
          -- Compare angles on the circle (a value near pi may come back near -pi).
          local d = abs(phase - Ph:get(b, f))
          assert.is_true(math.min(d, 2 * pi - d) < 1e-5)
        end
      end
    end)
  end)

  describe("get()", function()
    it("refuses indices out of range and bad self", function()
      assert.has_error(function() S:get(0, 1) end, "bad argument #1 to 'get' (bin must be in 1..33, got 0)")
      assert.has_error(function() S:get(34, 1) end, "bad argument #1 to 'get' (bin must be in 1..33, got 34)")
      assert.has_error(function() S:get(1, 314) end, "bad argument #2 to 'get' (frame must be in 1..313, got 314)")
      assert.has_error(function() S:get(1) end, "bad argument #2 to 'get' (number expected, got no value)")
      assert.has_error(function() S.get(a, 1, 1) end,
        "bad argument #1 to 'get' (tessera.Spectrogram expected, got tessera.Audio)")
    end)
  end)

  describe("frequencies() and times()", function()
    it("give bin centre frequencies and frame centre times", function()
      local freqs = S:frequencies()
      assert.equal(33, #freqs)
      for b = 1, 33 do assert.near((b - 1) * 16000 / 64, freqs[b], 1e-9) end
      assert.equal(8000, freqs[33])
      local times = S:times()
      assert.equal(313, #times)
      for f = 1, 313 do assert.near((f - 1) * 16 / 16000, times[f], 1e-12) end
      local T = tessera.stft(a, { n_fft = 64, hop = 16, center = false }):times()
      assert.near(32 / 16000, T[1], 1e-12)
      assert.near((16 * 9 + 32) / 16000, T[10], 1e-12)
    end)
  end)

  describe("copy()", function()
    it("gives an equal, independent spectrogram", function()
      local C = S:copy()
      assert.equal(tostring(S), tostring(C))
      assert.equal(S.window, C.window)
      assert.equal(S.length, C.length)
      for f = 1, 313, 31 do
        for b = 1, 33, 4 do assert.same({ S:get(b, f) }, { C:get(b, f) }) end
      end
      local Z = C:mask(tessera.core.matrix.new(33, 313))
      assert.same({ 0, 0 }, { Z:get(3, 3) })
      assert.is_true(select(1, C:get(3, 3)) ~= 0)
    end)
  end)

  describe("closing", function()
    it("frees the data once and refuses later use", function()
      local C = S:copy()
      getmetatable(C).__close(C)
      getmetatable(C).__close(C) -- twice is harmless
      assert.equal("Spectrogram(closed)", tostring(C))
      assert.equal(64, C.n_fft)
      assert.has_error(function() C:shape() end, "calling 'shape' on bad self (spectrogram has been freed)")
      assert.has_error(function() C:istft() end, "calling 'istft' on bad self (spectrogram has been freed)")
    end)
  end)
end)

describe("tessera.Spectrogram:istft()", function()
  it("reproduces real music (loop_amen, mono) to 1e-5 relative RMS error", function()
    local amen = tessera.audio.load(AMEN, { mono = true })
    local x = samples_of(amen)
    local S = tessera.stft(amen)
    local y = S:istft()
    assert.equal(#amen, #y)
    assert.equal(amen.sr, y.sr)
    assert.is_true(rel_rms_error(y, x) < 1e-5)
  end)

  it("reproduces random signals of odd lengths in several geometries", function()
    for _, len in ipairs({ 4097, 9999 }) do
      for _, opts in ipairs({
        { n_fft = 2048, hop = 512 },
        { n_fft = 1024, hop = 256 },
        { n_fft = 1024, hop = 256, window = "hamming" },
        { n_fft = 512, hop = 128, window = "rect" },
      }) do
        local a = audio_of(noise(len, len))
        local x = samples_of(a)
        local y = tessera.stft(a, opts):istft()
        assert.equal(len, #y)
        assert.equal(22050, y.sr)
        local err = rel_rms_error(y, x)
        assert.is_true(err < 1e-5, ("n_fft %d hop %d %s len %d: error %g"):format(
          opts.n_fft, opts.hop, opts.window or "hann", len, err))
      end
    end
  end)

  it("equals a plain overlap-add of inverse DFTs on a masked (inconsistent) spectrogram", function()
    -- The round trips above only see consistent spectrograms; a mask makes one that is not,
    -- so this checks the inverse formula itself: the irfft of each frame (1/N, imaginary
    -- parts of DC and Nyquist ignored) times the window, overlap-added, divided by the
    -- window sum-square where it exceeds tiny(float32), the centre padding removed.
    for _, case in ipairs({ { "hann", true, 64, 16 }, { "hamming", false, 64, 24 }, { "rect", true, 32, 32 } }) do
      local name, center, n, hop = case[1], case[2], case[3], case[4]
      local len = 403
      local S0 = tessera.stft(audio_of(noise(len, 77)), { n_fft = n, hop = hop, window = name, center = center })
      local bins, frames = S0:shape()
      local M = tessera.core.matrix.new(bins, frames)
      for b = 1, bins do
        for f = 1, frames do M:set(b, f, ((3 * b + 5 * f) % 7) / 6) end
      end
      local S = S0:mask(M)
      local w = window(name, n)
      local total = n + hop * (frames - 1)
      local acc, wss = {}, {}
      for p = 0, total - 1 do acc[p], wss[p] = 0, 0 end
      for f = 0, frames - 1 do
        local X = {}
        for k = 0, n // 2 do X[k] = { S:get(k + 1, f + 1) } end
        for t = 0, n - 1 do
          local v = X[0][1] + X[n // 2][1] * (t % 2 == 0 and 1 or -1)
          for k = 1, n // 2 - 1 do
            local angle = 2 * pi * k * t / n
            v = v + 2 * (X[k][1] * cos(angle) - X[k][2] * sin(angle))
          end
          acc[f * hop + t] = acc[f * hop + t] + v / n * w[t]
          wss[f * hop + t] = wss[f * hop + t] + w[t] ^ 2
        end
      end
      local pad = center and n // 2 or 0
      local y = S:istft()
      assert.equal(len, #y)
      for i = 1, len do
        local p = i - 1 + pad
        local expected = 0
        if p < total then expected = wss[p] > 1.1754943508222875e-38 and acc[p] / wss[p] or acc[p] end
        assert.near(expected, y:get(i), 1e-5)
      end
    end
  end)

  it("round-trips for many FFT sizes (more than the plan cache holds)", function()
    local a = audio_of(noise(300, 2))
    local x = samples_of(a)
    for n = 2, 100, 2 do
      local S = tessera.stft(a, { n_fft = n, hop = math.max(1, n // 4) })
      local re = S:get(2, 3)
      local ref = direct_dft(x, window("hann", n), n, math.max(1, n // 4), true, 2, 1)
      assert.near(ref, re, 1e-4 * math.max(1, abs(ref)))
      assert.is_true(rel_rms_error(S:istft(), x) < 1e-5, "n_fft " .. n)
    end
  end)

  it("without centring, reproduces what the frames cover and leaves the rest at zero", function()
    local a = audio_of(noise(9999, 5))
    local x = samples_of(a)
    local S = tessera.stft(a, { n_fft = 1024, hop = 256, window = "hamming", center = false })
    local covered = 1024 + 256 * (S.frames - 1) -- 9984: the last 15 samples are in no frame
    assert.equal(9984, covered)
    local y = S:istft()
    assert.equal(9999, #y)
    assert.is_true(rel_rms_error(y, x, 1, covered) < 1e-5)
    for i = covered + 1, 9999 do assert.equal(0, y:get(i)) end
  end)

  it("trims or zero-pads to the requested length", function()
    local a = audio_of(noise(6000, 8))
    local S = tessera.stft(a)
    local full = S:istft()
    local short = S:istft({ length = 100 })
    assert.equal(100, #short)
    for i = 1, 100 do assert.equal(full:get(i), short:get(i)) end
    local long = S:istft({ length = 9000 })
    assert.equal(9000, #long)
    for i = 1, 6000, 97 do assert.equal(full:get(i), long:get(i)) end
    -- The last frame reaches sample 512*(frames-1) + 1024. Up to there the zero padding is
    -- reconstructed up to rounding (which the tiny window sum-square at the very edge
    -- amplifies, as in librosa); beyond it no frame contributes and it is exactly 0.
    local reach = 512 * (S.frames - 1) + 1024
    assert.equal(6656, reach)
    for i = 6001, 6500 do assert.is_true(abs(long:get(i)) < 1e-5) end
    for i = reach + 1, 9000 do assert.equal(0, long:get(i)) end
    assert.equal(0, #S:istft({ length = 0 }))
  end)

  it("gives silence for a silent spectrogram", function()
    local x = {}
    for i = 1, 3000 do x[i] = 0 end
    local y = tessera.stft(audio_of(x)):istft()
    for i = 1, 3000 do assert.equal(0, y:get(i)) end
  end)

  it("refuses bad options", function()
    local S = tessera.stft(audio_of(noise(3000)))
    assert.has_error(function() S:istft({ length = -1 }) end,
      "bad argument #1 to 'istft' (length must be >= 0, got -1)")
    assert.has_error(function() S:istft({ length = 1.5 }) end,
      "bad argument #1 to 'istft' (length must be an integer, got 1.5)")
    assert.has_error(function() S:istft({ len = 10 }) end,
      "bad argument #1 to 'istft' (unknown option 'len' (valid: length))")
    assert.has_error(function() S:istft(10) end,
      "bad argument #1 to 'istft' (table expected, got number)")
  end)
end)

describe("tessera.Spectrogram:mask()", function()
  local a = audio_of(noise(3000, 21))
  local S = tessera.stft(a, { n_fft = 256, hop = 64 })
  local bins, frames = S:shape()

  it("with all ones reproduces the spectrogram, with all zeros gives silence", function()
    local same = S:mask(ones(bins, frames, 1))
    local zero = S:mask(tessera.core.matrix.new(bins, frames))
    assert.equal(tostring(S), tostring(same))
    for f = 1, frames, 5 do
      for b = 1, bins, 3 do
        assert.same({ S:get(b, f) }, { same:get(b, f) })
        assert.same({ 0, 0 }, { zero:get(b, f) })
      end
    end
    local y = zero:istft()
    for i = 1, #y do assert.equal(0, y:get(i)) end
  end)

  it("multiplies each entry by its mask value", function()
    local M = tessera.core.matrix.new(bins, frames)
    for b = 1, bins do
      for f = 1, frames do M:set(b, f, (b + 2 * f) % 5 / 4) end
    end
    local R = S:mask(M)
    for f = 1, frames, 3 do
      for b = 1, bins, 2 do
        local re, im = S:get(b, f)
        local m = (b + 2 * f) % 5 / 4
        local rre, rim = R:get(b, f)
        assert.near(re * m, rre, 1e-6 * math.max(1, abs(re)))
        assert.near(im * m, rim, 1e-6 * math.max(1, abs(im)))
      end
    end
  end)

  it("refuses a matrix of another shape, a non-finite entry, a non-matrix", function()
    assert.has_error(function() S:mask(tessera.core.matrix.new(2, 3)) end,
      ("bad argument #1 to 'mask' (mask is 2 x 3 but the spectrogram is %d x %d)"):format(bins, frames))
    local M = ones(bins, frames, 1)
    M:set(2, 3, 0 / 0)
    assert.has_error(function() S:mask(M) end, "bad argument #1 to 'mask' (mask entry (2, 3) is nan)")
    M:set(2, 3, 1)
    M:set(bins, frames, math.huge)
    assert.has_error(function() S:mask(M) end,
      ("bad argument #1 to 'mask' (mask entry (%d, %d) is inf)"):format(bins, frames))
    assert.has_error(function() S:mask("x") end,
      "bad argument #1 to 'mask' (tessera.Matrix expected, got string)")
  end)
end)

describe("tessera.spectrogram", function()
  local a = audio_of(noise(4000, 33))
  local S = tessera.stft(a, { n_fft = 128, hop = 32, window = "hamming", center = false })
  local bins, frames = S:shape()

  describe("with_magnitude()", function()
    it("equals from_polar with S's own phase, phase 0 where S is 0", function()
      local mag = S:magnitude():copy()
      mag:scale(2)
      local A = S:with_magnitude(mag)
      local B = tessera.spectrogram.from_polar(mag, S:phase(), S)
      for f = 1, frames, 3 do
        for b = 1, bins do
          local re, im = A:get(b, f)
          local rre, rim = B:get(b, f)
          local scale = math.max(1, mag:get(b, f))
          assert.near(rre, re, 1e-5 * scale)
          assert.near(rim, im, 1e-5 * scale)
        end
      end
      local silent = tessera.stft(tessera.core.audio.new(512, 8000), { n_fft = 128, hop = 32 })
      local m = tessera.core.matrix.new(silent:shape())
      m:fill(0.5)
      local re, im = silent:with_magnitude(m):get(3, 2)
      assert.same({ 0.5, 0 }, { re, im })
      assert.has_error(function() S:with_magnitude(m) end,
        ("bad argument #1 to 'with_magnitude' (magnitude is 65 x 17 but the spectrogram is %d x %d)")
          :format(bins, frames))
    end)
  end)

  describe("from_polar()", function()
    it("rebuilds S from its magnitude and phase, with S's geometry", function()
      local R = tessera.spectrogram.from_polar(S:magnitude(), S:phase(), S)
      assert.equal(tostring(S), tostring(R))
      for _, field in ipairs({ "sr", "n_fft", "hop", "window", "center", "length" }) do
        assert.equal(S[field], R[field])
      end
      for f = 1, frames, 3 do
        for b = 1, bins do
          local re, im = S:get(b, f)
          local rre, rim = R:get(b, f)
          local scale = math.max(1, sqrt(re * re + im * im))
          assert.near(re, rre, 1e-5 * scale)
          assert.near(im, rim, 1e-5 * scale)
        end
      end
    end)

    it("gives zero phase when the phase is nil", function()
      local mag = S:magnitude()
      local R = tessera.spectrogram.from_polar(mag, nil, S)
      for f = 1, frames, 4 do
        for b = 1, bins, 5 do
          local re, im = R:get(b, f)
          assert.equal(mag:get(b, f), re)
          assert.equal(0, im)
        end
      end
    end)

    it("refuses shapes that differ, naming both", function()
      local small = tessera.core.matrix.new(3, 4)
      assert.has_error(function() tessera.spectrogram.from_polar(small, nil, S) end,
        ("bad argument #1 to 'from_polar' (magnitude is 3 x 4 but the spectrogram is %d x %d)"):format(bins, frames))
      assert.has_error(function() tessera.spectrogram.from_polar(S:magnitude(), small, S) end,
        ("bad argument #2 to 'from_polar' (phase is 3 x 4 but the spectrogram is %d x %d)"):format(bins, frames))
    end)

    it("refuses negative or non-finite magnitudes, non-finite phases, wrong types", function()
      local mag = S:magnitude()
      mag:set(1, 1, -0.25)
      assert.has_error(function() tessera.spectrogram.from_polar(mag, nil, S) end,
        "bad argument #1 to 'from_polar' (magnitude entry (1, 1) is negative (-0.25))")
      mag:set(1, 1, 0 / 0)
      assert.has_error(function() tessera.spectrogram.from_polar(mag, nil, S) end,
        "bad argument #1 to 'from_polar' (magnitude entry (1, 1) is nan)")
      local phase = S:phase()
      phase:set(4, 2, -math.huge)
      assert.has_error(function() tessera.spectrogram.from_polar(S:magnitude(), phase, S) end,
        "bad argument #2 to 'from_polar' (phase entry (4, 2) is -inf)")
      assert.has_error(function() tessera.spectrogram.from_polar(S:magnitude(), nil, a) end,
        "bad argument #3 to 'from_polar' (tessera.Spectrogram expected, got tessera.Audio)")
      assert.has_error(function() tessera.spectrogram.from_polar({}, nil, S) end,
        "bad argument #1 to 'from_polar' (tessera.Matrix expected, got table)")
    end)
  end)

  describe("fft_frequencies()", function()
    it("gives the bin centre frequencies, as S:frequencies()", function()
      local freqs = tessera.spectrogram.fft_frequencies(22050, 2048)
      assert.equal(1025, #freqs)
      assert.equal(0, freqs[1])
      assert.near(22050 / 2048, freqs[2], 1e-12)
      assert.equal(11025, freqs[1025])
      assert.same(S:frequencies(), tessera.spectrogram.fft_frequencies(22050, 128))
    end)

    it("refuses bad arguments", function()
      assert.has_error(function() tessera.spectrogram.fft_frequencies(0, 2048) end,
        "bad argument #1 to 'fft_frequencies' (sr must be positive, got 0)")
      assert.has_error(function() tessera.spectrogram.fft_frequencies(22050, 2047) end,
        "bad argument #2 to 'fft_frequencies' (n_fft must be an even integer in 2..16777216, got 2047)")
      assert.has_error(function() tessera.spectrogram.fft_frequencies(22050.5, 2048) end,
        "bad argument #1 to 'fft_frequencies' (sr must be an integer, got 22050.5)")
    end)
  end)

  describe("frame_count()", function()
    it("agrees with the formula and with the frames stft gives", function()
      for _, len in ipairs({ 2048, 2049, 2559, 2560, 4097 }) do
        for _, center in ipairs({ true, false }) do
          local opts = { n_fft = 2048, hop = 512, center = center, window = "rect" }
          local n = tessera.spectrogram.frame_count(len, opts)
          assert.equal(expected_frames(len, 2048, 512, center), n)
          assert.equal(tessera.stft(audio_of(noise(len)), opts).frames, n)
          -- stft's other options are accepted too, so one table serves both
          opts.magnitude, opts.threads = true, 1
          assert.equal(n, tessera.spectrogram.frame_count(len, opts))
          assert.same({ 1025, n }, { tessera.stft(audio_of(noise(len)), opts):shape() })
        end
      end
      assert.equal(expected_frames(5000, 1024, 256, true), tessera.spectrogram.frame_count(5000, { n_fft = 1024 }))
    end)

    it("refuses bad arguments like stft", function()
      local fc = tessera.spectrogram.frame_count
      assert.has_error(function() fc(1000) end,
        "bad argument #1 to 'frame_count' (length must be >= n_fft (2048), got 1000)")
      assert.has_error(function() fc(5000, { hop = 0 }) end,
        "bad argument #2 to 'frame_count' (hop must be in 1..2048, got 0)")
      assert.has_error(function() fc(5000, { n_fft = 7 }) end,
        "bad argument #2 to 'frame_count' (n_fft must be an even integer in 2..16777216, got 7)")
      assert.has_error(function() fc(5000, { hopp = 1 }) end,
        "bad argument #2 to 'frame_count' (unknown option 'hopp' (valid: n_fft, hop, window, "
          .. "center, magnitude, threads, max_memory); did you mean 'hop'?)")
      assert.has_error(function() fc(5000, { center = 1 }) end,
        "bad argument #2 to 'frame_count' (center must be a boolean, got number)")
      assert.has_error(function() fc(5000, 3) end,
        "bad argument #2 to 'frame_count' (table expected, got number)")
      assert.has_error(function() fc("5000") end,
        "bad argument #1 to 'frame_count' (length must be an integer, got string)")
    end)
  end)

  describe("max_memory", function()
    it("caps what one call may allocate, then puts the previous cap back", function()
      local long = tessera.audio.new(22050 * 60, 22050)
      local ok, err = pcall(tessera.stft, long, { max_memory = 1000000 })
      assert.is_false(ok)
      assert.truthy(err:find("tessera.stft: a 1025 x 2584 spectrogram needs 21.2 MB, more than its "
        .. "memory budget (1.0 MB)", 1, true), err)
      assert.equal(0, tessera.core.util.memory_cap())
      local capped = tessera.stft(long, { max_memory = 64 * 1024 * 1024 })
      assert.same({ 1025, 2584 }, { capped:shape() })
      assert.has_error(function() tessera.stft(long, { max_memory = 0.5 }) end,
        "bad argument #2 to 'stft' (max_memory must be a positive integer, got 0.5)")
    end)
  end)
end)

