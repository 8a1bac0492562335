-- Specs for tessera.audio: loading (libsndfile), resampling (libsamplerate, and the
-- polyphase filter of quality "poly"), saving, and the Audio operations, checked against
-- real sonic-pi loops, independent references (the FLAC header read in Lua,
-- python3-soundfile, scipy.signal.resample_poly), known signals and plain Lua.
local tessera = require "tessera"
local fs = require "tessera.fs"
local audio = tessera.audio

local SAMPLES = "/usr/share/sonic-pi/samples/"
local PYTHON = "/usr/bin/python3"

-- A fresh temporary folder, removed (with everything in it) by `finally`.
local function tempdir()
  local p = assert(io.popen("mktemp -d /tmp/tessera-audio-spec.XXXXXX"))
  local dir = p:read("l")
  p:close()
  finally(function() os.execute("rm -rf '" .. dir .. "'") end)
  return dir
end

local function listdir(dir)
  local p = assert(io.popen("ls -A '" .. dir .. "'"))
  local names = {}
  for line in p:lines() do names[#names + 1] = line end
  p:close()
  table.sort(names)
  return names
end

local function write_file(path, bytes)
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
end

local function read_file(path) return assert(fs.read_file(path)) end

-- A WAV file built by hand: format 1 (PCM) or 3 (IEEE float), `data` the raw sample
-- bytes, `declared` the data chunk size the header claims (default: the real one).
local function wav_bytes(o)
  local block = o.channels * o.bits // 8
  local fmt = string.pack("<I2I2I4I4I2I2", o.format, o.channels, o.sr, o.sr * block, block,
                          o.bits)
  local declared = o.declared or #o.data
  return "RIFF" .. string.pack("<I4", 4 + 8 + #fmt + 8 + #o.data) .. "WAVE"
    .. "fmt " .. string.pack("<I4", #fmt) .. fmt
    .. "data" .. string.pack("<I4", declared) .. o.data
end

-- FLAC's STREAMINFO block, read plainly: sample rate, channels, total frames.
local function flac_streaminfo(path)
  local bytes = read_file(path)
  assert(bytes:sub(1, 4) == "fLaC" and bytes:byte(5) & 0x7f == 0, "no STREAMINFO")
  local v = string.unpack(">I8", bytes, 19)
  return { sr = v >> 44, channels = ((v >> 41) & 7) + 1, frames = v & 0xFFFFFFFFF }
end

local function sine(freq, seconds, sr, amp)
  local n = math.floor(seconds * sr + 0.5)
  local t = {}
  for i = 1, n do t[i] = amp * math.sin(2 * math.pi * freq * (i - 1) / sr) end
  return t
end

-- |DFT| of x at frequency f, written out.
local function dft_mag(x, f, sr)
  local re, im = 0, 0
  for i = 1, #x do
    local w = 2 * math.pi * f * (i - 1) / sr
    re = re + x[i] * math.cos(w)
    im = im - x[i] * math.sin(w)
  end
  return math.sqrt(re * re + im * im)
end

-- Deterministic noise in [-amp, amp] (a small LCG, so specs do not depend on math.random).
local function noise(n, seed, amp)
  local t, s = {}, seed
  for i = 1, n do
    s = (s * 1103515245 + 12345) % 2147483648
    t[i] = amp * (2 * s / 2147483648 - 1)
  end
  return t
end

local function max_abs_diff(a, b)
  assert.equal(#a, #b)
  local m = 0
  for i = 1, #a do m = math.max(m, math.abs(a[i] - b[i])) end
  return m
end

-- Samples as float32 values (what an Audio holds), via a string round trip.
local function f32(x) return (string.unpack("<f", string.pack("<f", x))) end

describe("tessera.audio", function()
  it("is the table of tessera.core", function()
    assert.equal(require("tessera.core").audio, audio)
    assert.equal(require("tessera.audio"), audio)
  end)

  describe("load()", function()
    local loops = { "loop_amen", "loop_compus", "loop_garzul", "loop_tabla", "loop_safari",
                    "loop_mika", "loop_breakbeat" }

    it("reads the sonic-pi loops with the rate, channels and length their FLAC headers give", function()
      for _, name in ipairs(loops) do
        local path = SAMPLES .. name .. ".flac"
        local info = flac_streaminfo(path)
        local a = audio.load(path, { mono = false })
        assert.equal(info.sr, a.sr)
        assert.equal(info.channels, a.channels)
        assert.equal(info.frames, #a)
        assert.near(info.frames / info.sr, a:duration(), 1e-12)
        local m = audio.load(path)
        assert.equal(1, m.channels)
        assert.equal(info.frames, #m)
      end
    end)

    it("decodes the same samples as python3-soundfile, and mono is the channel mean", function()
      local names = { "loop_amen", "loop_breakbeat" }
      local script = [[
import sys, numpy as np, soundfile as sf
for name in sys.argv[1:]:
    x, sr = sf.read(name, dtype='float32', always_2d=True)
    m = x.astype(np.float64).mean(axis=1)
    print(sr, x.shape[1], x.shape[0], repr(float(x[:, 0].astype(np.float64).sum())),
          repr(float(x[:, 1].astype(np.float64).sum())), repr(float((m * m).sum())),
          repr(float(x[1000, 0])), repr(float(x[1000, 1])), repr(float(x[-1, 1])))
]]
      local args = {}
      for i, n in ipairs(names) do args[i] = "'" .. SAMPLES .. n .. ".flac'" end
      local p = assert(io.popen(PYTHON .. " -c \"" .. script .. "\" " .. table.concat(args, " ")))
      local lines = {}
      for line in p:lines() do lines[#lines + 1] = line end
      assert.is_true(p:close())
      assert.equal(#names, #lines)
      for i, name in ipairs(names) do
        local ref = {}
        for w in lines[i]:gmatch("%S+") do ref[#ref + 1] = tonumber(w) end
        local s = audio.load(SAMPLES .. name .. ".flac", { mono = false })
        local m = audio.load(SAMPLES .. name .. ".flac")
        assert.same({ ref[1], ref[2], ref[3] }, { s.sr, s.channels, #s })
        local l, r, sq = 0, 0, 0
        local L, R, M = s:totable(1), s:totable(2), m:totable()
        for f = 1, #s do
          l, r = l + L[f], r + R[f]
          sq = sq + M[f] * M[f]
          -- the mean, rounded to float32 once, as the loader does it
          assert(M[f] == f32((L[f] + R[f]) / 2), "mono differs from the channel mean")
        end
        assert.near(ref[4], l, 1e-9 * math.max(1, math.abs(ref[4])) + 1e-6)
        assert.near(ref[5], r, 1e-9 * math.max(1, math.abs(ref[5])) + 1e-6)
        assert.near(ref[6], sq, 1e-6 * ref[6])
        assert.equal(ref[7], s:get(1001, 1))
        assert.equal(ref[8], s:get(1001, 2))
        assert.equal(ref[9], s:get(#s, 2))
      end
    end)

    it("resamples the amen loop to round(frames * sr_out / sr_in) frames", function()
      local a = audio.load(SAMPLES .. "loop_amen.flac", { sr = 22050 })
      assert.equal(22050, a.sr)
      assert.equal(math.floor(77321 * 22050 / 44100 + 0.5), #a) -- 38660.5 rounds to 38661
      local full = audio.load(SAMPLES .. "loop_amen.flac")
      -- a band-limited copy keeps most of the loop's energy (the amen break is mostly
      -- below 11 kHz), and never gains any
      assert.is_true(a:rms() <= full:rms() * 1.01)
      assert.is_true(a:rms() >= full:rms() * 0.9)
    end)

    it("keeps a 1 kHz sine at 1 kHz and its level when resampling 44100 -> 22050", function()
      local dir = tempdir()
      local path = dir .. "/sine.wav"
      local x = sine(1000, 1.0, 44100, 0.5)
      audio.from(x, 44100):save(path)
      local a = audio.load(path, { sr = 22050 })
      assert.equal(22050, a.sr)
      assert.equal(22050, #a)
      local y = a:totable()
      local best, best_mag = nil, -1
      for _, f in ipairs({ 250, 500, 900, 950, 1000, 1050, 1100, 2000, 3000, 5000 }) do
        local m = dft_mag(y, f, 22050)
        if m > best_mag then best, best_mag = f, m end
      end
      assert.equal(1000, best)
      local rms = 0.5 / math.sqrt(2)
      assert.is_true(math.abs(a:rms() - rms) <= 0.01 * rms, "rms " .. a:rms())
    end)

    it("keeps a 1 kHz sine at 1 kHz and its level at each resampling quality", function()
      local dir = tempdir()
      local path = dir .. "/sine.wav"
      audio.from(sine(1000, 1.0, 44100, 0.5), 44100):save(path)
      local rms = 0.5 / math.sqrt(2)
      local best_quality = audio.load(path, { sr = 22050, quality = "best" })
      assert.same(audio.load(path, { sr = 22050 }):totable(), best_quality:totable())
      for _, quality in ipairs({ "best", "medium", "fast", "poly" }) do
        local a = audio.load(path, { sr = 22050, quality = quality })
        assert.same({ 22050, 22050 }, { a.sr, #a })
        local y = a:totable()
        local peak, peak_mag = nil, -1
        for _, f in ipairs({ 500, 900, 950, 1000, 1050, 1100, 2000 }) do
          local m = dft_mag(y, f, 22050)
          if m > peak_mag then peak, peak_mag = f, m end
        end
        assert.equal(1000, peak, quality)
        assert.is_true(math.abs(a:rms() - rms) <= 0.01 * rms, quality .. " rms " .. a:rms())
      end
    end)

    it("keeps 97%, 90% and 80% of the band at quality best, medium and fast", function()
      -- libsamplerate's three sinc converters: a 9 kHz sine (82% of the new Nyquist) passes
      -- best and medium but not fast, a 10 kHz one (91%) passes best only.
      local dir = tempdir()
      local rms = 0.5 / math.sqrt(2)
      local kept = {}
      for _, f in ipairs({ 9000, 10000 }) do
        local path = dir .. "/" .. f .. ".wav"
        audio.from(sine(f, 1.0, 44100, 0.5), 44100):save(path)
        for _, quality in ipairs({ "best", "medium", "fast" }) do
          -- away from the edges, where the filters ring
          local a = audio.load(path, { sr = 22050, quality = quality }):slice(2000, 20000)
          kept[quality .. f] = a:rms() / rms
        end
      end
      for _, key in ipairs({ "best9000", "medium9000", "best10000" }) do
        assert.is_true(math.abs(kept[key] - 1) < 0.01, key .. " " .. kept[key])
      end
      assert.is_true(kept.fast9000 < 0.8, "fast9000 " .. kept.fast9000)
      assert.is_true(kept.medium10000 < 0.8, "medium10000 " .. kept.medium10000)
      assert.is_true(kept.fast10000 < 0.2, "fast10000 " .. kept.fast10000)
    end)

    it("mixes a stereo file down to the mean of its channels", function()
      local dir = tempdir()
      local path = dir .. "/stereo.wav"
      local left, right = sine(440, 0.1, 8000, 0.8), noise(800, 7, 0.5)
      audio.from({ left, right }, 8000):save(path)
      local s = audio.load(path, { mono = false })
      assert.equal(2, s.channels)
      assert.equal(0, max_abs_diff(s:totable(1), (audio.from(left, 8000):totable())))
      local m = audio.load(path)
      assert.equal(1, m.channels)
      local mean = {}
      for i = 1, 800 do mean[i] = f32((f32(left[i]) + f32(right[i])) / 2) end
      assert.equal(0, max_abs_diff(m:totable(), mean))
      assert.equal(0, max_abs_diff(m:totable(), s:mono():totable()))
    end)

    it("selects offset and duration in seconds", function()
      local dir = tempdir()
      local path = dir .. "/ramp.wav"
      local ramp = {}
      for i = 1, 1000 do ramp[i] = (i - 1) / 1000 end
      audio.from(ramp, 1000):save(path)
      local a = audio.load(path, { offset = 0.25, duration = 0.5 })
      assert.equal(500, #a)
      assert.equal(f32(0.25), a:get(1))
      assert.equal(f32(0.749), a:get(500))
      local tail = audio.load(path, { offset = 0.9 })
      assert.equal(100, #tail)
      assert.equal(f32(0.9), tail:get(1))
      local long = audio.load(path, { offset = 0.5, duration = 10 }) -- clamped to the end
      assert.equal(500, #long)
      local head = audio.load(path, { duration = 0.0105 }) -- 10.5 frames round to 11
      assert.equal(11, #head)
      assert.equal(0, head:get(1))
      -- offset and duration are seconds of the file, before resampling
      local r = audio.load(path, { offset = 0.5, duration = 0.25, sr = 2000 })
      assert.equal(2000, r.sr)
      assert.equal(500, #r)
    end)

    it("reads 8/24/32-bit PCM, float and many channels", function()
      local dir = tempdir()
      local cases = {
        { bits = 8, format = 1, pack = "B", value = 192, expect = 0.5 },  -- unsigned, 128 = 0
        { bits = 24, format = 1, pack = "<i3", value = -4194304, expect = -0.5 },
        { bits = 32, format = 1, pack = "<i4", value = 536870912, expect = 0.25 },
        { bits = 32, format = 3, pack = "<f", value = -0.125, expect = -0.125 },
      }
      for _, c in ipairs(cases) do
        local path = dir .. "/b" .. c.bits .. "f" .. c.format .. ".wav"
        local data = string.rep(string.pack(c.pack, c.value), 6 * 10)
        write_file(path, wav_bytes { format = c.format, channels = 6, sr = 16000, bits = c.bits,
                                     data = data })
        local a = audio.load(path, { mono = false })
        assert.same({ 6, 16000, 10 }, { a.channels, a.sr, #a })
        for ch = 1, 6 do assert.equal(c.expect, a:get(10, ch)) end
      end
    end)

    describe("errors", function()
      it("names a missing file", function()
        assert.has_error(function() audio.load("x.wav") end,
          "tessera.audio.load: cannot open 'x.wav': No such file or directory")
      end)

      it("rejects a folder", function()
        local dir = tempdir()
        assert.has_error(function() audio.load(dir) end,
          "tessera.audio.load: cannot read '" .. dir .. "': Is a directory")
      end)

      it("rejects a file that is not audio", function()
        local dir = tempdir()
        local path = dir .. "/notes.wav"
        write_file(path, "these are notes, not sound\n")
        assert.has_error(function() audio.load(path) end,
          "tessera.audio.load: cannot decode '" .. path .. "': format not recognised")
        local empty = dir .. "/empty.wav"
        write_file(empty, "")
        assert.has_error(function() audio.load(empty) end,
          "tessera.audio.load: '" .. empty .. "' is empty (0 bytes)")
      end)

      it("rejects a file with no frames", function()
        local dir = tempdir()
        local path = dir .. "/zero.wav"
        write_file(path, wav_bytes { format = 1, channels = 1, sr = 44100, bits = 16, data = "" })
        assert.has_error(function() audio.load(path) end,
          "tessera.audio.load: '" .. path .. "' holds no audio frames")
      end)

      it("rejects a WAV truncated mid-data, naming both counts", function()
        local dir = tempdir()
        local path = dir .. "/cut.wav"
        local data = string.rep(string.pack("<i2", 1000), 500)
        write_file(path, wav_bytes { format = 1, channels = 1, sr = 8000, bits = 16, data = data,
                                     declared = 2000 })
        assert.has_error(function() audio.load(path) end, "tessera.audio.load: '" .. path
          .. "' is truncated: the header says 1000 frames, only 500 could be decoded")
        -- cut inside a frame: the partial frame is not counted
        write_file(path, wav_bytes { format = 1, channels = 2, sr = 8000, bits = 16,
                                     data = data .. "\1", declared = 2000 })
        assert.has_error(function() audio.load(path) end, "tessera.audio.load: '" .. path
          .. "' is truncated: the header says 500 frames, only 250 could be decoded")
        -- the size placeholder of a writer that never finished its header: read to the end
        write_file(path, wav_bytes { format = 1, channels = 1, sr = 8000, bits = 16, data = data,
                                     declared = 0xFFFFFFFF })
        assert.equal(500, #audio.load(path))
      end)

      it("rejects a truncated FLAC, naming both counts", function()
        local dir = tempdir()
        local path = dir .. "/cut.flac"
        local bytes = read_file(SAMPLES .. "loop_amen.flac")
        write_file(path, bytes:sub(1, #bytes // 2))
        local ok, err = pcall(audio.load, path)
        assert.is_false(ok)
        local decoded = err:match("^tessera%.audio%.load: '" .. path:gsub("%p", "%%%0")
          .. "' is truncated: the header says 77321 frames, only (%d+) could be decoded$")
        assert.is_not_nil(decoded, err)
        assert.is_true(tonumber(decoded) > 0 and tonumber(decoded) < 77321)
      end)

      it("rejects NaN and Inf in a float file, naming frame and channel", function()
        local dir = tempdir()
        local path = dir .. "/nan.wav"
        local frames = { { 0.1, 0.2 }, { 0.3, -0.4 }, { 0.5, 0 / 0 }, { 0.7, 0.8 } }
        local data = {}
        for _, fr in ipairs(frames) do data[#data + 1] = string.pack("<ff", fr[1], fr[2]) end
        write_file(path, wav_bytes { format = 3, channels = 2, sr = 8000, bits = 32,
                                     data = table.concat(data) })
        assert.has_error(function() audio.load(path) end,
          "tessera.audio.load: '" .. path .. "' holds NaN at frame 3, channel 2")
        frames[2][1] = math.huge
        data = {}
        for _, fr in ipairs(frames) do data[#data + 1] = string.pack("<ff", fr[1], fr[2]) end
        write_file(path, wav_bytes { format = 3, channels = 2, sr = 8000, bits = 32,
                                     data = table.concat(data) })
        assert.has_error(function() audio.load(path, { mono = false }) end,
          "tessera.audio.load: '" .. path .. "' holds Inf at frame 2, channel 1")
        -- the check applies to the frames read: skipping past them loads the rest
        local tail = audio.load(path, { offset = 3 / 8000, mono = false })
        assert.same({ f32(0.7), f32(0.8) }, { tail:get(1, 1), tail:get(1, 2) })
      end)

      it("rejects an offset past the end", function()
        local path = SAMPLES .. "loop_amen.flac"
        assert.has_error(function() audio.load(path, { offset = 5 }) end,
          "tessera.audio.load: offset 5 s is past the end of '" .. path .. "' (1.75331 s long)")
        assert.has_error(function() audio.load(path, { offset = 77321 / 44100 }) end,
          "tessera.audio.load: offset 1.75331 s is past the end of '" .. path
          .. "' (1.75331 s long)")
      end)

      it("rejects bad options and arguments", function()
        local path = SAMPLES .. "loop_amen.flac"
        local cases = {
          { { offset = -1 }, "bad argument #2 to 'load' (offset must be a finite number >= 0, got -1)" },
          { { offset = "1" }, "bad argument #2 to 'load' (offset must be a finite number >= 0, got 1)" },
          { { offset = math.huge }, "bad argument #2 to 'load' (offset must be a finite number >= 0, got inf)" },
          { { duration = 0 }, "bad argument #2 to 'load' (duration must be a finite number > 0, got 0)" },
          { { duration = -0.5 }, "bad argument #2 to 'load' (duration must be a finite number > 0, got -0.5)" },
          { { sr = 0 }, "bad argument #2 to 'load' (sr must be a positive integer, got 0)" },
          { { sr = -8000 }, "bad argument #2 to 'load' (sr must be a positive integer, got -8000)" },
          { { sr = 22050.5 }, "bad argument #2 to 'load' (sr must be a positive integer, got 22050.5)" },
          { { sr = "22050" }, "bad argument #2 to 'load' (sr must be a positive integer, got 22050)" },
          { { mono = "yes" }, "bad argument #2 to 'load' (mono must be a boolean, got string)" },
          { { rate = 8000 }, "bad argument #2 to 'load' (unknown option 'rate' "
                             .. "(valid: sr, mono, offset, duration, quality))" },
          { { sr = 22050, quality = "high" }, "bad argument #2 to 'load' (quality must be one of "
                             .. "'best', 'medium', 'fast', 'poly', got 'high')" },
          { { quality = 2 }, "bad argument #2 to 'load' (quality must be one of 'best', 'medium', "
                             .. "'fast', 'poly', got 2)" },
        }
        for _, c in ipairs(cases) do
          assert.has_error(function() audio.load(path, c[1]) end, c[2])
        end
        assert.has_error(function() audio.load(path, 5) end,
          "bad argument #2 to 'load' (table expected, got number)")
        assert.has_error(function() audio.load() end,
          "bad argument #1 to 'load' (string expected, got no value)")
        assert.has_error(function() audio.load({}) end,
          "bad argument #1 to 'load' (string expected, got table)")
        assert.has_error(function() audio.load(path, { sr = 1 }) end,
          "tessera.audio.load: cannot resample from 44100 Hz to 1 Hz: the ratio must be within 1/256..256")
      end)
    end)
  end)

  describe("quality 'poly' (scipy.signal.resample_poly)", function()
    -- scipy's polyphase FIR with its defaults, checked against scipy itself in float64.
    local function scipy(script)
      local p = assert(io.popen(PYTHON .. " - 2>&1 <<'PYEOF'\n" .. script .. "\nPYEOF"))
      local out = p:read("a")
      assert(p:close(), out)
      return out
    end

    -- A list of numbers (or of lists of numbers) as a Python literal.
    local function pylist(t)
      local parts = {}
      for i, v in ipairs(t) do parts[i] = type(v) == "table" and pylist(v) or tostring(v) end
      return "[" .. table.concat(parts, ", ") .. "]"
    end

    -- sqrt(sum (y - r)^2 / sum r^2) and max |y - r| of two equally long lists.
    local function errors(y, r)
      assert.equal(#r, #y)
      local num, den, worst = 0, 0, 0
      for i = 1, #r do
        local d = y[i] - r[i]
        num, den, worst = num + d * d, den + r[i] * r[i], math.max(worst, math.abs(d))
      end
      return math.sqrt(num / den), worst
    end

    it("equals scipy on a loop at 44100 -> 22050, 44100 -> 48000 and 48000 -> 22050", function()
      local dir = tempdir()
      -- The amen loop as tessera decodes it (mono, 77321 frames: an odd length), and the
      -- same loop at 48 kHz, made by scipy and stored as float32 so both sides read the
      -- same samples.
      audio.load(SAMPLES .. "loop_amen.flac"):save(dir .. "/a44100.wav", { subtype = "float" })
      local printed = scipy(string.format([[
import numpy as np, soundfile as sf, scipy.signal as ss
d = %q
x, sr = sf.read(d + "/a44100.wav", dtype="float64")
sf.write(d + "/a48000.wav", ss.resample_poly(x, 48000, 44100).astype(np.float32), 48000,
         subtype="FLOAT")
x48, _ = sf.read(d + "/a48000.wav", dtype="float64")
for src, y, fr, to in ((x, "a44100", 44100, 22050), (x, "a44100", 44100, 48000),
                       (x48, "a48000", 48000, 22050)):
    r = ss.resample_poly(src, to, fr)
    sf.write("%%s/%%s-%%d.wav" %% (d, y, to), r, to, subtype="DOUBLE")
    print(y, to, len(r))
]], dir))
      local cases = {}
      for name, to, n in printed:gmatch("(%S+) (%d+) (%d+)\n") do
        cases[#cases + 1] = { name = name, to = tonumber(to), n = tonumber(n) }
      end
      assert.equal(3, #cases, printed)
      for _, c in ipairs(cases) do
        local src = dir .. "/" .. c.name .. ".wav"
        local y = audio.load(src, { sr = c.to, quality = "poly" })
        local what = c.name .. " -> " .. c.to
        assert.same({ c.n, c.to }, { #y, y.sr }, what)
        -- loading at a rate is loading, then resampling
        assert.same(audio.load(src):resample(c.to, { quality = "poly" }):totable(), y:totable())
        local ref = audio.load(dir .. "/" .. c.name .. "-" .. c.to .. ".wav")
        local rel, worst = errors(y:totable(), ref:totable())
        assert.is_true(rel < 1e-5, what .. ": relative rms error " .. rel)
        assert.is_true(worst < 2e-6, what .. ": max error " .. worst)
      end
    end)

    it("gives scipy's output length, ceil(frames * up / down), for odd lengths", function()
      local rates = { { 44100, 22050 }, { 44100, 48000 }, { 48000, 22050 }, { 8000, 44100 },
                      { 22050, 44100 }, { 44100, 8000 }, { 44100, 11025 } }
      local lengths = { 1, 3, 7, 999, 1001, 44101 }
      local printed = scipy(string.format([[
import numpy as np, scipy.signal as ss
for fr, to in %s:
    print(" ".join(str(len(ss.resample_poly(np.ones(n), to, fr))) for n in %s))
]], pylist(rates), pylist(lengths)))
      local i = 0
      for line in printed:gmatch("[^\n]+") do
        i = i + 1
        local fr, to = rates[i][1], rates[i][2]
        local j = 0
        for n in line:gmatch("%d+") do
          j = j + 1
          local r = audio.new(lengths[j], fr):resample(to, { quality = "poly" })
          assert.equal(tonumber(n), #r, string.format("%d frames %d -> %d", lengths[j], fr, to))
          assert.equal(math.ceil(lengths[j] * to / fr), #r)
        end
        assert.equal(#lengths, j)
      end
      assert.equal(#rates, i, printed)
      -- libsamplerate's qualities round instead: 1088.4 frames
      assert.equal(1088, #audio.new(1000, 44100):resample(48000))
      assert.equal(1089, #audio.new(1000, 44100):resample(48000, { quality = "poly" }))
    end)

    it("rejects a 15 kHz sine by more than 60 dB at 44100 -> 22050 (no alias at 7050 Hz)", function()
      local dir = tempdir()
      local path = dir .. "/sine15k.wav"
      audio.from(sine(15000, 1.0, 44100, 0.5), 44100):save(path)
      local rms = 0.5 / math.sqrt(2)
      local y = audio.load(path, { sr = 22050, quality = "poly" })
      -- away from the edges, where the sine's abrupt start and end splatter into the band
      local level = 20 * math.log(y:slice(2000, 20000):rms() / rms, 10)
      assert.is_true(level < -60, "15 kHz at " .. level .. " dB")
      -- a 1 kHz sine in the same conversion keeps its level
      audio.from(sine(1000, 1.0, 44100, 0.5), 44100):save(path)
      local kept = 20 * math.log(audio.load(path, { sr = 22050, quality = "poly" })
        :slice(2000, 20000):rms() / rms, 10)
      assert.is_true(math.abs(kept) < 0.05, "1 kHz at " .. kept .. " dB")
    end)

    it("resamples each channel on its own, and the same rate is a copy", function()
      local s = audio.load(SAMPLES .. "loop_industrial.flac", { mono = false })
      local r = s:resample(22050, { quality = "poly" })
      assert.same({ 2, 22050, 19487 }, { r.channels, r.sr, #r })
      for c = 1, 2 do
        local alone = audio.from(s:totable(c), 44100):resample(22050, { quality = "poly" })
        assert.same(alone:totable(), r:totable(c))
      end
      assert.same(s:totable(), s:resample(44100, { quality = "poly" }):totable())
      -- 88200 -> 44100 reduces to 1/2, the same filter as 44100 -> 22050
      local m = audio.from(s:totable(1), 88200):resample(44100, { quality = "poly" })
      assert.same(r:totable(1), m:totable())
    end)

    it("takes any rates whose reduced factors are at most 50000, with clear errors", function()
      -- past libsamplerate's 1/256..256: 8000 -> 2056000 Hz is up 257, down 1
      local a = audio.from(sine(440, 0.01, 8000, 0.5), 8000)
      assert.equal(80 * 257, #a:resample(8000 * 257, { quality = "poly" }))
      assert.has_error(function() a:resample(99991, { quality = "poly" }) end,
        "tessera.audio.resample: cannot resample from 8000 Hz to 99991 Hz: the reduced ratio "
        .. "99991/8000 needs a filter of 1999821 taps (at most 1000001: up and down over their "
        .. "gcd must be at most 50000)")
      assert.has_error(function()
        audio.load(SAMPLES .. "loop_amen.flac", { sr = 50021, quality = "poly" })
      end, "tessera.audio.load: cannot resample from 44100 Hz to 50021 Hz: the reduced ratio "
        .. "50021/44100 needs a filter of 1000421 taps (at most 1000001: up and down over "
        .. "their gcd must be at most 50000)")
      assert.has_error(function() a:resample(0, { quality = "poly" }) end,
        "bad argument #1 to 'resample' (sr must be positive, got 0)")
      assert.has_error(function() a:resample(22050, { quality = "polyphase" }) end,
        "bad argument #2 to 'resample' (quality must be one of 'best', 'medium', 'fast', "
        .. "'poly', got 'polyphase')")
    end)
  end)

  describe("save()", function()
    local n = 4000
    local left, right = noise(n, 1, 0.95), noise(n, 2, 0.95)
    left[1], left[2], right[1] = 1.0, -1.0, 0.0

    it("writes byte-identical files for equal samples (no timestamped PEAK chunk)", function()
      local dir = tempdir()
      local a = audio.from({ left, right }, 44100)
      for _, subtype in ipairs({ "float", "pcm16" }) do
        a:save(dir .. "/one.wav", { subtype = subtype })
        os.execute("sleep 1.1") -- a timestamp would now differ by a second
        a:save(dir .. "/two.wav", { subtype = subtype })
        assert.equal(read_file(dir .. "/one.wav"), read_file(dir .. "/two.wav"))
      end
    end)

    it("round-trips WAV and FLAC within each subtype's error bound", function()
      local dir = tempdir()
      local a = audio.from({ left, right }, 44100)
      local ref = { a:totable(1), a:totable(2) }
      local cases = {
        { "x.wav", { subtype = "pcm16" }, 1 / 32768 },
        { "x.wav", { subtype = "pcm24" }, 1 / 8388608 },
        { "x.wav", { subtype = "float" }, 0 },
        { "x.wav", nil, 0 },                       -- wav defaults to float
        { "x.flac", { subtype = "pcm16" }, 1 / 32768 },
        { "x.flac", nil, 1 / 8388608 },            -- flac defaults to pcm24
        { "x.WAV", { subtype = "pcm16" }, 1 / 32768 },
        { "x.snd", { format = "flac", subtype = "pcm16" }, 1 / 32768 },
      }
      for _, c in ipairs(cases) do
        local path = dir .. "/" .. c[1]
        a:save(path, c[2])
        local b = audio.load(path, { mono = false })
        assert.same({ 2, 44100, n }, { b.channels, b.sr, #b })
        local err = math.max(max_abs_diff(b:totable(1), ref[1]), max_abs_diff(b:totable(2), ref[2]))
        assert.is_true(err <= c[3], c[1] .. " error " .. err)
        -- quantisation is really there (a round trip that returned the input would pass
        -- any bound): the error is at least a quarter of the bound for PCM
        if c[3] > 0 then assert.is_true(err >= c[3] / 4) end
        os.remove(path)
      end
      assert.same({}, listdir(dir))
    end)

    it("writes the format and subtype asked for", function()
      local dir = tempdir()
      local a = audio.from(left, 8000)
      a:save(dir .. "/a.wav", { subtype = "pcm16" })
      a:save(dir .. "/b.wav")
      a:save(dir .. "/c.flac")
      local wav16, wavf = read_file(dir .. "/a.wav"), read_file(dir .. "/b.wav")
      assert.equal("RIFF", wav16:sub(1, 4))
      assert.equal(1, string.unpack("<I2", wav16, 21)) -- PCM
      assert.equal(16, string.unpack("<I2", wav16, 35))
      assert.equal(3, string.unpack("<I2", wavf, 21))  -- IEEE float
      local info = flac_streaminfo(dir .. "/c.flac")
      assert.same({ sr = 8000, channels = 1, frames = n }, info)
      assert.equal(24, ((string.unpack(">I8", read_file(dir .. "/c.flac"), 19) >> 36) & 31) + 1)
    end)

    it("clips PCM output instead of wrapping around", function()
      local dir = tempdir()
      local a = audio.from({ 1.5, -1.5, 0.5, 3 }, 8000)
      a:save(dir .. "/c.wav", { subtype = "pcm16" })
      local b = audio.load(dir .. "/c.wav")
      assert.same({ 32767 / 32768, -1, 0.5, 32767 / 32768 }, b:totable())
      a:save(dir .. "/f.wav") -- float keeps values beyond full scale
      assert.same({ 1.5, -1.5, 0.5, 3 }, audio.load(dir .. "/f.wav"):totable())
    end)

    it("leaves only the finished file behind", function()
      local dir = tempdir()
      audio.from(left, 8000):save(dir .. "/out.wav")
      assert.same({ "out.wav" }, listdir(dir))
    end)

    describe("errors", function()
      it("refuses NaN and Inf samples, naming the frame, and writes nothing", function()
        local dir = tempdir()
        local path = dir .. "/bad.wav"
        local a = audio.from({ { 0, 0, 0 }, { 0, 0, 0 } }, 8000)
        a:set(3, 0 / 0, 2)
        assert.has_error(function() a:save(path) end,
          "tessera.audio.save: cannot save '" .. path .. "': frame 3, channel 2 holds NaN")
        a:set(2, -math.huge, 1)
        assert.has_error(function() a:save(path, { subtype = "pcm16" }) end,
          "tessera.audio.save: cannot save '" .. path .. "': frame 2, channel 1 holds Inf")
        assert.same({}, listdir(dir))
        -- an existing file is left as it was
        write_file(path, "old")
        assert.has_error(function() a:save(path) end)
        assert.equal("old", read_file(path))
        assert.same({ "bad.wav" }, listdir(dir))
      end)

      it("fails cleanly on a missing or unusable folder", function()
        local dir = tempdir()
        local a = audio.from(left, 8000)
        local path = dir .. "/missing/out.wav"
        assert.has_error(function() a:save(path) end,
          "tessera.audio.save: cannot write '" .. path .. "': No such file or directory")
        write_file(dir .. "/file", "")
        assert.has_error(function() a:save(dir .. "/file/out.wav") end,
          "tessera.audio.save: cannot write '" .. dir .. "/file/out.wav': Not a directory")
        assert.same({ "file" }, listdir(dir))
      end)

      it("rejects unknown formats, subtypes and extensions", function()
        local a = audio.from(left, 8000)
        assert.has_error(function() a:save("x.mp3") end,
          "bad argument #1 to 'save' (cannot tell the format of 'x.mp3': "
          .. "use the extension .wav or .flac, or give format = 'wav' or 'flac')")
        assert.has_error(function() a:save("noext") end,
          "bad argument #1 to 'save' (cannot tell the format of 'noext': "
          .. "use the extension .wav or .flac, or give format = 'wav' or 'flac')")
        assert.has_error(function() a:save("x.wav", { format = "mp3" }) end,
          "bad argument #2 to 'save' (format must be one of 'wav', 'flac', got 'mp3')")
        assert.has_error(function() a:save("x.wav", { subtype = "pcm8" }) end,
          "bad argument #2 to 'save' (subtype must be one of 'pcm16', 'pcm24', 'float', got 'pcm8')")
        assert.has_error(function() a:save("x.wav", { subtype = 16 }) end,
          "bad argument #2 to 'save' (subtype must be one of 'pcm16', 'pcm24', 'float', got 16)")
        assert.has_error(function() a:save("x.flac", { subtype = "float" }) end,
          "bad argument #2 to 'save' (flac cannot hold float samples, use subtype 'pcm16' or 'pcm24')")
        assert.has_error(function() a:save("x.wav", { bits = 16 }) end,
          "bad argument #2 to 'save' (unknown option 'bits' (valid: format, subtype))")
        assert.has_error(function() a:save() end,
          "bad argument #1 to 'save' (string expected, got no value)")
        assert.has_error(function() audio.from({ 0 }, 700000):save("x.flac") end,
          "tessera.audio.save: cannot save 'x.flac': flac/pcm24 cannot hold 1 channels at 700000 Hz")
      end)
    end)
  end)

  describe("from() and totable()", function()
    it("makes mono from a list and channels from a list of lists", function()
      local m = audio.from({ 0.5, -0.25, 1 }, 8000)
      assert.same({ 1, 8000, 3 }, { m.channels, m.sr, #m })
      assert.same({ 0.5, -0.25, 1 }, m:totable())
      local s = audio.from({ { 1, 2 }, { 3, 4 }, { 5, 6 } }, 44100)
      assert.same({ 3, 2 }, { s.channels, #s })
      assert.same({ { 1, 2 }, { 3, 4 }, { 5, 6 } }, s:totable())
      assert.same({ 3, 4 }, s:totable(2))
      assert.equal(0, #audio.from({}, 8000))
      assert.equal("Audio(2 frames, 3 channels, 44100 Hz)", tostring(s))
    end)

    it("rejects ragged channels and non-numbers", function()
      assert.has_error(function() audio.from({ { 1, 2, 3 }, { 1, 2 } }, 8000) end,
        "bad argument #1 to 'from' (channel 2 has 2 samples, channel 1 has 3)")
      assert.has_error(function() audio.from({ { 1 }, 2 }, 8000) end,
        "bad argument #1 to 'from' (channel 2 must be a table, got number)")
      assert.has_error(function() audio.from({ 1, "x" }, 8000) end,
        "bad argument #1 to 'from' (sample 2 must be a number, got string)")
      assert.has_error(function() audio.from({ { 1 }, { true } }, 8000) end,
        "bad argument #1 to 'from' (sample 1 of channel 2 must be a number, got boolean)")
      assert.has_error(function() audio.from({ 1 }, 0) end,
        "bad argument #2 to 'from' (sr must be positive, got 0)")
      assert.has_error(function() audio.from({ 1 }, 8000.5) end,
        "bad argument #2 to 'from' (number has no integer representation)")
      assert.has_error(function() audio.from(1, 8000) end,
        "bad argument #1 to 'from' (table expected, got number)")
      assert.has_error(function() audio.from({ { 1 }, { 2 } }, 8000):totable(3) end,
        "bad argument #1 to 'totable' (channel 3 out of range 1..2)")
    end)
  end)

  describe("Audio", function()
    local function ramp(n, channels, sr)
      local chans = {}
      for c = 1, channels do
        chans[c] = {}
        for i = 1, n do chans[c][i] = c * 100 + i end
      end
      return audio.from(channels == 1 and chans[1] or chans, sr or 8000)
    end

    it("has sr, channels, length and duration", function()
      local a = audio.new(22050, 44100, 2)
      assert.same({ 44100, 2, 22050 }, { a.sr, a.channels, #a })
      assert.equal(0.5, a:duration())
    end)

    it("gets and sets samples, 1-based, per channel", function()
      local a = ramp(5, 2)
      assert.equal(103, a:get(3))
      assert.equal(203, a:get(3, 2))
      a:set(3, -0.5, 2)
      assert.equal(-0.5, a:get(3, 2))
      assert.equal(103, a:get(3, 1))
      a:set(5, 0.25)
      assert.equal(0.25, a:get(5))
    end)

    it("rejects indices and channels out of range", function()
      local a = ramp(5, 2)
      assert.has_error(function() a:get(0) end, "bad argument #1 to 'get' (index 0 out of range 1..5)")
      assert.has_error(function() a:get(6) end, "bad argument #1 to 'get' (index 6 out of range 1..5)")
      assert.has_error(function() a:get(1, 3) end, "bad argument #2 to 'get' (channel 3 out of range 1..2)")
      assert.has_error(function() a:set(-1, 0) end, "bad argument #1 to 'set' (index -1 out of range 1..5)")
      assert.has_error(function() a:set(1, 0, 0) end, "bad argument #3 to 'set' (channel 0 out of range 1..2)")
      assert.has_error(function() a:set(1, "x") end, "bad argument #2 to 'set' (number expected, got string)")
      assert.has_error(function() a:get(1.5) end, "bad argument #1 to 'get' (number has no integer representation)")
      assert.has_error(function() audio.new(0, 8000):get(1) end, "bad argument #1 to 'get' (index 1 out of range 1..0)")
      assert.has_error(function() a.get(5, 1) end, "bad argument #1 to 'get' (tessera.Audio expected, got number)")
    end)

    it("gain() scales every sample", function()
      local a = ramp(6, 2)
      local g = a:gain(-0.5)
      assert.same({ 2, 6, 8000 }, { g.channels, #g, g.sr })
      for c = 1, 2 do
        for i = 1, 6 do assert.equal(f32(a:get(i, c) * -0.5), g:get(i, c)) end
      end
      assert.equal(101, a:get(1)) -- the original is untouched
      assert.has_error(function() a:gain(math.huge) end,
        "bad argument #1 to 'gain' (factor must be finite, got inf)")
      assert.has_error(function() a:gain("loud") end,
        "bad argument #1 to 'gain' (number expected, got string)")
    end)

    it("mix() adds b (times gain_b) and is as long as the longer", function()
      local a, b = ramp(4, 2), ramp(6, 2):gain(0.5)
      local m = a:mix(b, 2)
      assert.equal(6, #m)
      for c = 1, 2 do
        for i = 1, 6 do
          local x = i <= 4 and a:get(i, c) or 0
          assert.equal(f32(x + 2 * b:get(i, c)), m:get(i, c))
        end
      end
      local m1 = b:mix(a)
      for i = 1, 6 do assert.equal(b:get(i) + (i <= 4 and a:get(i) or 0), m1:get(i)) end
      assert.has_error(function() a:mix(ramp(4, 2, 16000)) end,
        "bad argument #1 to 'mix' (sample rate 16000 differs from 8000)")
      assert.has_error(function() a:mix(ramp(4, 1)) end,
        "bad argument #1 to 'mix' (1 channels differ from 2)")
      assert.has_error(function() a:mix(b, -math.huge) end,
        "bad argument #2 to 'mix' (gain_b must be finite, got -inf)")
      assert.has_error(function() a:mix({}) end,
        "bad argument #1 to 'mix' (tessera.Audio expected, got table)")
    end)

    it("slice() takes frames as string.sub takes characters", function()
      local s = "abcdefghij"
      local a = audio.from({ { s:byte(1, -1) }, { s:upper():byte(1, -1) } }, 8000)
      local positions = { -12, -10, -3, -1, 0, 1, 2, 5, 10, 11, 15 }
      for _, i in ipairs(positions) do
        for _, j in ipairs(positions) do
          local sl = a:slice(i, j)
          local want = s:sub(i, j)
          assert.equal(#want, #sl)
          if #want > 0 then
            assert.same({ want:byte(1, -1) }, sl:totable(1))
            assert.same({ want:upper():byte(1, -1) }, sl:totable(2))
          end
        end
        assert.same({ s:sub(i):byte(1, -1) }, a:slice(i):totable(1))
      end
      assert.has_error(function() a:slice() end,
        "bad argument #1 to 'slice' (number expected, got no value)")
    end)

    it("concat() and .. join audio end to end", function()
      local a, b = ramp(3, 2), ramp(2, 2):gain(-1)
      local c = a:concat(b)
      assert.same({ { 101, 102, 103, -101, -102 }, { 201, 202, 203, -201, -202 } }, c:totable())
      assert.same(c:totable(), (a .. b):totable())
      assert.same(a:totable(), (a .. audio.new(0, 8000, 2)):totable())
      assert.has_error(function() return a .. ramp(3, 1) end,
        "bad argument #2 to 'concat' (1 channels differ from 2)")
      assert.has_error(function() a:concat(ramp(3, 2, 44100)) end,
        "bad argument #1 to 'concat' (sample rate 44100 differs from 8000)")
      assert.has_error(function() return a .. 5 end,
        "bad argument #2 to 'concat' (tessera.Audio expected, got number)")
    end)

    it("tile() loops to exactly the frames asked for", function()
      local a = ramp(3, 2)
      local t = a:tile(8)
      assert.same({ { 101, 102, 103, 101, 102, 103, 101, 102 },
                    { 201, 202, 203, 201, 202, 203, 201, 202 } }, t:totable())
      assert.same({ 101, 102 }, a:tile(2):totable(1))
      assert.equal(0, #a:tile(0))
      assert.has_error(function() a:tile(-1) end,
        "bad argument #1 to 'tile' (frames must be >= 0, got -1)")
      assert.has_error(function() audio.new(0, 8000):tile(4) end,
        "calling 'tile' on bad self (cannot tile empty audio)")
    end)

    it("mono() is the mean of the channels", function()
      local a = audio.from({ { 1, 0.5, -1 }, { 0, 0.25, -1 }, { 0.5, 0, 1 } }, 8000)
      local m = a:mono()
      assert.same({ 1, 3, 8000 }, { m.channels, #m, m.sr })
      assert.same({ f32(1.5 / 3), f32(0.75 / 3), f32(-1 / 3) }, m:totable())
      assert.same({ 1, 2 }, audio.from({ 1, 2 }, 8000):mono():totable())
    end)

    it("resample() gives round(frames * sr_out / sr_in) frames and keeps a sine", function()
      for _, c in ipairs({ { 1001, 44100, 22050 }, { 1000, 44100, 48000 }, { 333, 8000, 44100 },
                           { 7, 48000, 44100 }, { 0, 8000, 16000 } }) do
        local r = audio.new(c[1], c[2], 2):resample(c[3])
        assert.equal(math.floor(c[1] * c[3] / c[2] + 0.5), #r)
        assert.same({ 2, c[3] }, { r.channels, r.sr })
      end
      local a = audio.from(sine(440, 0.5, 8000, 0.5), 8000)
      local up = a:resample(16000)
      assert.equal(8000, #up)
      -- the upsampled sine matches the formula away from the edges
      local err = 0
      for i = 1000, 7000 do
        err = math.max(err, math.abs(up:get(i) - 0.5 * math.sin(2 * math.pi * 440 * (i - 1) / 16000)))
      end
      assert.is_true(err < 1e-3, "error " .. err)
      assert.same(a:totable(), a:resample(8000):totable())
      assert.has_error(function() a:resample(0) end,
        "bad argument #1 to 'resample' (sr must be positive, got 0)")
      assert.has_error(function() a:resample(8000 * 257) end,
        "tessera.audio.resample: cannot resample from 8000 Hz to 2056000 Hz: the ratio must be within 1/256..256")
    end)

    it("resample() takes a quality, best by default", function()
      local a = audio.from(sine(1000, 0.5, 44100, 0.5), 44100)
      assert.same(a:resample(22050):totable(), a:resample(22050, { quality = "best" }):totable())
      local rms = 0.5 / math.sqrt(2)
      local results = {}
      for _, quality in ipairs({ "best", "medium", "fast", "poly" }) do
        local r = a:resample(22050, { quality = quality })
        assert.same({ 11025, 22050 }, { #r, r.sr })
        local mid = r:slice(1000, 10000)
        assert.is_true(math.abs(mid:rms() - rms) <= 0.01 * rms, quality .. " rms " .. mid:rms())
        results[quality] = r:totable()
      end
      -- four different converters
      assert.is_true(max_abs_diff(results.best, results.medium) > 0)
      assert.is_true(max_abs_diff(results.medium, results.fast) > 0)
      assert.is_true(max_abs_diff(results.medium, results.poly) > 0)
      assert.has_error(function() a:resample(22050, { quality = "good" }) end,
        "bad argument #2 to 'resample' (quality must be one of 'best', 'medium', 'fast', 'poly', "
        .. "got 'good')")
      assert.has_error(function() a:resample(22050, { quality = true }) end,
        "bad argument #2 to 'resample' (quality must be one of 'best', 'medium', 'fast', 'poly', "
        .. "got true)")
      assert.has_error(function() a:resample(22050, { qualty = "fast" }) end,
        "bad argument #2 to 'resample' (unknown option 'qualty' (valid: quality); did you mean 'quality'?)")
    end)

    it("peak() and rms() match plain sums", function()
      local x, y = noise(1000, 3, 0.7), sine(100, 1000 / 8000, 8000, 0.9)
      local a = audio.from({ x, y }, 8000)
      local peak, sq = 0, 0
      for c = 1, 2 do
        for _, v in ipairs(a:totable(c)) do
          peak = math.max(peak, math.abs(v))
          sq = sq + v * v
        end
      end
      assert.equal(peak, a:peak())
      assert.near(math.sqrt(sq / 2000), a:rms(), 1e-12)
      assert.equal(0, audio.new(0, 8000):rms())
      assert.equal(0, audio.new(0, 8000):peak())
      assert.near(0.9 / math.sqrt(2), audio.from(y, 8000):rms(), 1e-6)
    end)

    it("normalize() scales to the given peak and leaves silence silent", function()
      local a = audio.from({ noise(500, 4, 0.3), noise(500, 5, 0.6) }, 8000)
      local n = a:normalize()
      assert.near(0.99, n:peak(), 1e-7)
      local scale = 0.99 / a:peak()
      for i = 1, 500, 37 do assert.near(a:get(i, 1) * scale, n:get(i, 1), 1e-7) end
      assert.near(0.5, a:normalize(0.5):peak(), 1e-7)
      local quiet = audio.new(100, 8000)
      assert.same(quiet:totable(), quiet:normalize():totable())
      assert.has_error(function() a:normalize(0) end,
        "bad argument #1 to 'normalize' (peak must be a finite number > 0, got 0)")
      assert.has_error(function() a:normalize(-1) end,
        "bad argument #1 to 'normalize' (peak must be a finite number > 0, got -1)")
    end)

    it("copy() is independent of the original", function()
      local a = ramp(4, 2)
      local b = a:copy()
      b:set(1, 0, 2)
      assert.equal(201, a:get(1, 2))
      assert.same({ 0, 202, 203, 204 }, b:totable(2))
      assert.same(a:totable(1), b:totable(1))
    end)

    it("matrix() gives channels x frames and audio.from(M, sr) takes it back", function()
      local a = ramp(4, 2)
      local M = a:matrix()
      assert.same({ 2, 4 }, { M:shape() })
      assert.same({ { 101, 102, 103, 104 }, { 201, 202, 203, 204 } }, M:totable())
      local b = audio.from(M, 8000)
      assert.equal(8000, b.sr)
      assert.same(a:totable(), b:totable())
      assert.has_error(function() audio.from(require("tessera").matrix.new(1, 3), 0) end,
        "bad argument #2 to 'from' (sr must be positive, got 0)")
      assert.has_error(function() audio.from(require("tessera").matrix.new(0, 3), 8000) end,
        "bad argument #1 to 'from' (a matrix of 0 rows cannot be audio (rows are channels: 1..1024))")
    end)
  end)
end)
