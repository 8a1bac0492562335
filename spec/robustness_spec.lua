-- Bad input everywhere: every row of docs/bad-input.md, in the same order and with the
-- same id, asserted here with the exact message it gets (positions stripped). Nothing may
-- crash, hang or come back silently wrong.
local helpers = require "helpers"
local tessera = require "tessera"
local core = require "tessera.core"

local NAN, INF = 0 / 0, math.huge

-- The message of the error fn raises, without the "file:line: " a Lua caller adds.
local function message(fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected an error")
  return (tostring(err):gsub("^[^:\n]+%.lua:%d+: ", ""))
end

local tmp = helpers.tmpdir()
local function path(name) return tmp .. "/" .. name end

local a = tessera.audio.new(4096, 22050)
local m = tessera.matrix.new(3, 3, 1)
local S = tessera.stft(a)
local c_mix = tessera.audio.from({ 0.5, -0.25, 0.125, 0.2 }, 22050)
local c_ref = tessera.audio.from({ 0.1, 0.2, -0.3, 0.4 }, 22050)

-- { id, function, bad input, expected message } -- the table of docs/bad-input.md.
local rows = {
  { "M1", "Matrix method", "an Audio as self", function() return m.sum(a) end,
    "bad argument #1 to 'sum' (tessera.Matrix expected, got tessera.Audio)" },
  { "M2", "matrix.new", "negative size", function() return tessera.matrix.new(-1, 2) end,
    "bad argument #1 to 'new' (rows must be >= 0, got -1)" },
  { "M3", "matrix.new", "a size whose bytes overflow", function() return tessera.matrix.new(1e9, 1e9) end,
    "tessera.matrix.new: a 1000000000 x 1000000000 matrix needs 4000000.0 TB, more than this machine has "
      .. "(memory and swap)" },
  { "M4", "matrix.from", "ragged rows", function() return tessera.matrix.from { { 1, 2 }, { 3 } } end,
    "bad argument #1 to 'from' (row 2 has 1 value, expected 2 like row 1)" },
  { "M5", "Matrix:get", "an index out of range", function() return m:get(4, 1) end,
    "bad argument #1 to 'get' (row must be in 1..3, got 4)" },
  { "M6", "Matrix:save", "NaN in the matrix", function() return tessera.matrix.new(2, 2, NAN):save(path("n.npy")) end,
    "tessera.matrix.save: cannot save '" .. path("n.npy") ..
    "': the matrix holds nan at row 1, column 1 (NaN and Inf are never written)" },
  { "M7", "Matrix:save", "Inf in a CSV", function() return tessera.matrix.new(1, 1, INF):save(path("i.csv")) end,
    "tessera.matrix.save: cannot save '" .. path("i.csv") ..
    "': the matrix holds inf at row 1, column 1 (NaN and Inf are never written)" },
  { "M8", "matrix.load", "a missing file", function() return tessera.matrix.load(path("none.npy")) end,
    "tessera.matrix.load: cannot open '" .. path("none.npy") .. "': No such file or directory" },
  { "M9", "matrix.load", "a file that is not .npy", function()
      local f = assert(io.open(path("g.npy"), "wb")) f:write("garbage") f:close()
      return tessera.matrix.load(path("g.npy"))
    end, "tessera.matrix.load: '" .. path("g.npy") .. "': not a .npy file (bad magic)" },
  { "M10", "matrix.load", "an unknown extension", function() return tessera.matrix.load(path("x.txt")) end,
    "tessera.matrix.load: '" .. path("x.txt") .. "': unknown file extension (valid: .npy, .csv)" },
  { "A1", "Audio method", "a Matrix as self", function() return a.peak(m) end,
    "bad argument #1 to 'peak' (tessera.Audio expected, got tessera.Matrix)" },
  { "A2", "audio.new", "a sample rate of 0", function() return tessera.audio.new(10, 0) end,
    "bad argument #2 to 'new' (sr must be positive, got 0)" },
  { "A3", "audio.new", "an hour at 96 kHz over the memory cap", function()
      core.util.memory_cap(100 * 1024 * 1024)
      local ok, err = pcall(tessera.audio.new, 96000 * 3600, 96000)
      core.util.memory_cap(0)
      assert(not ok)
      error(err, 0)
    end, "audio.new: 345600000 frames of 1 channel needs 1.38 GB, more than the memory cap (104.9 MB)" },
  { "A4", "audio.load", "a missing file", function() return tessera.audio.load(path("none.wav")) end,
    "tessera.audio.load: cannot open '" .. path("none.wav") .. "': No such file or directory" },
  { "A5", "audio.load", "a file that is not audio", function()
      local f = assert(io.open(path("t.wav"), "wb")) f:write("root:x:0:0:root:/root:/bin/bash\n") f:close()
      return tessera.audio.load(path("t.wav"))
    end, "tessera.audio.load: cannot decode '" .. path("t.wav") .. "': format not recognised" },
  { "A6", "audio.load", "NaN offset", function()
      return tessera.audio.load(helpers.samples .. "/loop_amen.flac", { offset = NAN })
    end, "bad argument #2 to 'load' (offset must be a finite number >= 0, got -nan)" },
  { "A7", "Audio:save", "NaN samples", function()
      return tessera.audio.from({ NAN, 1 }, 8000):save(path("n.wav"))
    end, "tessera.audio.save: cannot save '" .. path("n.wav") .. "': frame 1, channel 1 holds NaN" },
  { "A8", "Audio:resample", "a ratio beyond 256", function() return a:resample(22050 * 1000) end,
    "tessera.audio.resample: cannot resample from 22050 Hz to 22050000 Hz: the ratio must be within 1/256..256" },
  { "S1", "stft", "a Matrix instead of Audio", function() return tessera.stft(m) end,
    "bad argument #1 to 'stft' (tessera.Audio expected, got tessera.Matrix)" },
  { "S2", "stft", "a zero-length signal", function() return tessera.stft(tessera.audio.new(0, 22050)) end,
    "bad argument #1 to 'stft' (audio has 0 samples, fewer than n_fft (2048))" },
  { "S3", "stft", "hop 0", function() return tessera.stft(a, { hop = 0 }) end,
    "bad argument #2 to 'stft' (hop must be in 1..2048, got 0)" },
  { "S4", "stft", "n_fft 2^30", function() return tessera.stft(a, { n_fft = 1 << 30 }) end,
    "bad argument #2 to 'stft' (n_fft must be an even integer in 2..16777216, got 1073741824)" },
  { "S5", "stft", "an unknown window", function() return tessera.stft(a, { window = "kaiser" }) end,
    "bad argument #2 to 'stft' (window must be 'hann', 'hamming' or 'rect', got 'kaiser')" },
  { "S6", "stft", "a NaN sample", function()
      return tessera.stft(tessera.audio.from({ NAN, 1, 2, 3 }, 8000), { n_fft = 2, hop = 1 })
    end, "tessera.stft: sample 1 is nan" },
  { "S7", "Spectrogram:istft", "an Audio as self", function() return S.istft(a) end,
    "bad argument #1 to 'istft' (tessera.Spectrogram expected, got tessera.Audio)" },
  { "S8", "Spectrogram:istft", "a negative length", function() return S:istft { length = -1 } end,
    "bad argument #1 to 'istft' (length must be >= 0, got -1)" },
  { "N1", "nmf", "an Audio as V", function() return tessera.nmf(a, { k = 2 }) end,
    "bad argument #1 to 'nmf' (tessera.Matrix expected, got tessera.Audio)" },
  { "N2", "nmf", "NaN in V", function() return tessera.nmf(tessera.matrix.from { { 1, NAN }, { 1, 1 } }, { k = 1 }) end,
    "tessera.nmf: V has a NaN entry (at row 1, column 2)" },
  { "N3", "nmf", "NaN in an initial W", function()
      return tessera.nmf(tessera.matrix.new(4, 4, 1), { k = 1, W = tessera.matrix.new(4, 1, NAN) })
    end, "tessera.nmf: W has a NaN entry (at row 1, column 1)" },
  { "N4", "nmf", "a negative entry", function() return tessera.nmf(tessera.matrix.from { { 1, -1 } }, { k = 1 }) end,
    "tessera.nmf: V has a negative entry (-1 at row 1, column 2)" },
  { "N5", "nmf", "an empty V", function() return tessera.nmf(tessera.matrix.new(0, 4), { k = 1 }) end,
    "bad argument #1 to 'nmf' (V must not be empty, got 0 x 4)" },
  { "N6", "nmf", "k = 0", function() return tessera.nmf(tessera.matrix.new(4, 4, 1), { k = 0 }) end,
    "bad argument #2 to 'nmf' (k must be >= 1, got 0)" },
  { "N7", "nmf", "k = 10^9 (scratch cannot be had)", function()
      return tessera.nmf(tessera.matrix.new(10, 10, 1), { k = 1e9 })
    end, "tessera.nmf: a 10 x 1000000000 matrix needs 40.00 GB, more than this machine has (memory and swap)" },
  { "N8", "nmf", "a negative tol", function() return tessera.nmf(tessera.matrix.new(4, 4, 1), { k = 1, tol = -1 }) end,
    "bad argument #2 to 'nmf' (tol must be a finite number >= 0, got -1.0)" },
  { "N9", "nmf", "max_iter 10^12", function()
      return tessera.nmf(tessera.matrix.new(4, 4, 1), { k = 1, max_iter = 1e12 })
    end, "bad argument #2 to 'nmf' (max_iter must be >= 0, got 1000000000000)" },
  { "N10", "nmf", "an unknown loss",
    function() return tessera.nmf(tessera.matrix.new(4, 4, 1), { k = 1, loss = "l3" }) end,
    "bad argument #2 to 'nmf' (invalid loss 'l3'; expected one of: euclidean, kl, is, or a number)" },
  { "N11", "nmf", "max_memory below what the fit needs", function()
      return tessera.nmf(tessera.matrix.new(1000, 1000, 1), { k = 100, max_iter = 1, max_memory = 100000 })
    end, "tessera.nmf: a 1000 x 100 matrix needs 400.1 kB, more than its memory budget (100.0 kB)" },
  { "L1", "Model:audio", "a Spectrogram from another sample rate", function()
      local model = tessera.nmf(S, { k = 1, max_iter = 1 })
      return model:audio(1, tessera.stft(tessera.audio.new(4096, 44100)))
    end, "bad argument #2 to 'audio' (spectrogram has sr 44100 but the model was fit on sr 22050)" },
  { "G1", "griffinlim", "a magnitude of the wrong shape", function()
      return tessera.griffinlim(tessera.matrix.from { { NAN } }, S)
    end, "bad argument #1 to 'griffinlim' (magnitude is 1 x 1 but the spectrogram is 1025 x 9)" },
  { "G2", "pghi", "a spectrogram with a rectangular window", function()
      local R = tessera.stft(a, { window = "rect" })
      return tessera.pghi(R:magnitude(), R)
    end, "bad argument #2 to 'pghi' (pghi needs a hann or hamming window, the spectrogram's is rect)" },
  { "MU1", "pitch.shift", "a shift of 100 semitones", function()
      return tessera.pitch.shift(m, 100)
    end, "bad argument #2 to 'shift' (semitones must be in -96..96, got 100.0)" },
  { "MU2", "pitch.phase", "an unknown option", function()
      return tessera.pitch.phase(m, 1, { nfft = 2048 })
    end, "bad argument #3 to 'phase' (unknown option 'nfft' (valid: n_fft, hop); did you mean 'n_fft'?)" },
  { "MU3", "morph.templates", "a position past the end", function()
      return tessera.morph.templates(m, m, 1.5)
    end, "bad argument #3 to 'templates' (t must be in [0, 1], got 1.5)" },
  { "MU4", "morph.templates", "a negative template", function()
      return tessera.morph.templates(tessera.matrix.from { { 1 }, { -1 } }, tessera.matrix.new(2, 1), 0.5)
    end, "tessera.morph: A has a negative entry (-1 at row 2, column 1)" },
  { "MU5", "stereo.decompose", "mono audio", function()
      return tessera.stereo.decompose(a, { k = 2 })
    end, "bad argument #1 to 'decompose' (stereo audio expected, got 1 channel)" },
  { "MU6", "audio.join", "channels of different lengths", function()
      return tessera.audio.join(a, a:slice(1, 10))
    end, "bad argument #2 to 'join' (10 frames at 22050 Hz, the first 4096 frames at 22050 Hz)" },
  { "MU7", "Matrix:cols", "the last column before the first", function() return m:cols(3, 2) end,
    "bad argument #2 to 'cols' (last column 2 comes before the first, 3)" },
  { "R1", "mosaic.load", "a missing recipe", function() return tessera.mosaic.load(path("none.lua")) end,
    "tessera.mosaic: cannot open '" .. path("none.lua") .. "': No such file or directory" },
  { "R2", "mosaic.render", "a number as the recipe", function() return tessera.mosaic.render(42) end,
    "bad argument #1 to 'render' (recipe path or table expected, got number)" },
  { "R3", "mosaic.load", "a recipe that does not return a table", function()
      local f = assert(io.open(path("r.lua"), "wb")) f:write("return 42") f:close()
      return tessera.mosaic.load(path("r.lua"))
    end, "tessera.mosaic: " .. path("r.lua") .. ": the recipe must return a plain table, got number 42" },
  { "E1", "eval.bss", "an empty list of estimates", function() return tessera.eval.bss({}, { a }) end,
    "tessera.eval.bss: the list of estimates is empty" },
  { "E2", "eval.bss", "more estimates than references", function()
      return tessera.eval.bss({ a, a }, { a })
    end, "tessera.eval.bss: 2 estimates but 1 reference (each estimate needs a reference of its own)" },
  { "E3", "eval.bss", "signals of different lengths", function()
      return tessera.eval.bss({ tessera.audio.new(100, 22050) }, { a })
    end, "tessera.eval.bss: estimate 1 has 100 samples but reference 1 has 4096 "
      .. "(the signals must have the same length)" },
  { "E4", "eval.bss", "a silent reference", function() return tessera.eval.bss({ a }, { a }) end,
    "tessera.eval.bss: reference 1 is silent (every sample is zero)" },
  { "E5", "eval.bss", "different sample rates", function()
      return tessera.eval.bss({ tessera.audio.new(4096, 44100) }, { a })
    end, "tessera.eval.bss: estimate 1 is at 44100 Hz but reference 1 at 22050 Hz (resample one of them)" },
  { "E6", "eval.bss", "a NaN sample", function()
      local x = tessera.audio.from({ 1, 2, NAN, 4 }, 22050)
      return tessera.eval.bss({ x }, { x })
    end, "tessera.eval.bss: reference 1 holds NaN at sample 3" },
  { "E7", "eval.si_sdr", "a stereo Audio", function()
      return tessera.eval.si_sdr(tessera.audio.new(4096, 22050, 2), a)
    end, "tessera.eval.si_sdr: estimate 1 has 2 channels "
      .. "(tessera.eval compares mono signals: mix it down with a:mono())" },
  { "E8", "eval.onsets", "onsets out of order", function() return tessera.eval.onsets({ 0.5, 0.2 }, {}) end,
    "bad argument #1 to 'onsets' (estimated onsets must be in increasing order: onset 2 (0.2 s) comes after 0.5 s)" },
  { "SC1", "nmf", "allowed_H of the wrong shape",
    function() return tessera.nmf(m, { k = 3, allowed_H = tessera.matrix.new(2, 3, 1) }) end,
    "bad argument #2 to 'nmf' (allowed_H must be 3 x 3, got 2 x 3)" },
  { "SC2", "nmf", "a negative allowed_H entry",
    function() return tessera.nmf(m, { k = 2, allowed_H = tessera.matrix.from { { 1, -1, 1 }, { 1, 1, 1 } } }) end,
    "bad argument #2 to 'nmf' (allowed_H has a negative entry (-1 at row 1, column 2))" },
  { "SC3", "nmf", "allowed_H with solver cd",
    function() return tessera.nmf(m, { k = 2, solver = "cd", allowed_H = tessera.matrix.new(2, 3, 1) }) end,
    "bad argument #2 to 'nmf' (allowed_H needs solver 'mu': multiplicative updates keep its "
      .. "zeros at zero, coordinate descent can make them positive)" },
  { "SC4", "nmf", "W_start with more columns than k",
    function() return tessera.nmf(m, { k = 2, W_start = tessera.matrix.new(3, 3, 1) }) end,
    "bad argument #2 to 'nmf' (W_start must be 3 x m with m in 1..2 (k), got 3 x 3)" },
  { "SC5", "nmf.allowed_from_onsets", "an onset beyond the frames",
    function() return tessera.nmf.allowed_from_onsets({ { 0.5, 9 } }, { p = 10 }) end,
    "bad argument #1 to 'allowed_from_onsets' (onset 1 of component 1 (0.5 s) is beyond the "
      .. "end (10 frames of hop 512 at 22050 Hz: 0.2322 s))" },
  { "SC6", "nmf.templates", "an unknown method",
    function() return tessera.nmf.templates({ "x.wav" }, { method = "median" }) end,
    "bad argument #2 to 'templates' (method must be 'mean' or 'rank1', got 'median')" },
  { "SC7", "nmf.templates", "a missing file", function() return tessera.nmf.templates({ path("none.wav") }) end,
    "tessera.nmf.templates: cannot open '" .. path("none.wav") .. "': No such file or directory" },
  { "C1", "compare", "a reference shorter than the mix",
    function() return tessera.compare(c_mix, { tessera.audio.from({ 1, 2 }, 22050) }) end,
    "tessera.compare: reference 1 has 2 samples but the mix has 4 (the signals must have the same length)" },
  { "C2", "compare", "a reference at another rate",
    function() return tessera.compare(c_mix, { c_ref, tessera.audio.from({ 1, 2, 3, 4 }, 44100) }) end,
    "tessera.compare: reference 2 is at 44100 Hz but the mix is at 22050 Hz (resample one of them)" },
  { "C3", "compare", "a silent reference",
    function() return tessera.compare(c_mix, { c_ref, tessera.audio.new(4, 22050) }) end,
    "tessera.compare: reference 2 is silent (every sample is zero)" },
  { "C4", "compare", "an unknown method",
    function() return tessera.compare(c_mix, { c_ref }, { methods = { "nmf" } }) end,
    "tessera.compare: unknown method 'nmf' (valid: cd, mu-euclidean, mu-kl, is, beta-0.5, study)" },
  { "C5", "compare", "k = 0 in ks", function() return tessera.compare(c_mix, { c_ref }, { ks = { 2, 0 } }) end,
    "tessera.compare: ks[2] must be an integer >= 1, got 0" },
}

describe("bad input", function()
  teardown(function() helpers.rmtree(tmp) end)

  for _, row in ipairs(rows) do
    it(row[1] .. ": " .. row[2] .. " given " .. row[3], function()
      assert.equal(row[5], message(row[4]))
    end)
  end

  it("docs/bad-input.md lists every row above, with its id and message", function()
    local doc = assert(helpers.read_file(helpers.root .. "/docs/bad-input.md"))
    for _, row in ipairs(rows) do
      local line = doc:match("\n| " .. row[1] .. " |[^\n]*")
      assert.is_truthy(line, row[1])
      assert.is_truthy(line:find(row[2], 1, true), row[1])
      -- the message with the spec's temporary folder shown as <tmp>
      local shown = row[5]:gsub(tmp:gsub("%p", "%%%0"), "<tmp>"):gsub("|", "\\|")
      assert.is_truthy(line:find(shown, 1, true), row[1] .. ": " .. shown)
    end
  end)

  it("a NaN that arithmetic makes is kept (IEEE), and is refused when written", function()
    local p = tessera.matrix.from { { 1, NAN } } * tessera.matrix.from { { 1 }, { 1 } }
    assert.is_true(p:get(1, 1) ~= p:get(1, 1))
    assert.equal("tessera.matrix.save: cannot save '" .. path("p.npy") ..
      "': the matrix holds nan at row 1, column 1 (NaN and Inf are never written)",
      message(function() return p:save(path("p.npy")) end))
  end)
end)

return rows
