-- Specs of tessera.mosaic (rendering recipes), tessera.recipe (checking them) and the
-- sandbox recipes run in, on short clips of real loops. Expected values come from other
-- public pieces (decompositions, STFTs, from_polar) and the recipe's own arithmetic.
local tessera = require "tessera"
local helpers = require "helpers"
local mosaic = require "tessera.mosaic"

local format = string.format
local SAMPLES = helpers.samples

-- Short clips, small k and few iterations keep the suite fast (it also runs under ASan).
local function sources()
  return {
    amen = { file = SAMPLES .. "/loop_amen.flac", duration = 1.5, k = 3, loss = "kl", max_iter = 30 },
    garzul = { file = SAMPLES .. "/loop_garzul.flac", offset = 2, duration = 2, k = 3, loss = "kl",
               max_iter = 30 },
    compus = { file = SAMPLES .. "/loop_compus.flac", offset = 1, duration = 2, k = 2, max_iter = 30 },
  }
end

-- A recipe file's text from a table of Lua source lines per key (values as Lua text).
local function serialize(v, indent)
  indent = indent or ""
  local t = type(v)
  if t == "string" then return format("%q", v) end
  if t ~= "table" then return tostring(v) end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    if type(a) == type(b) then return a < b end
    return type(a) == "number"
  end)
  local out = {}
  for _, k in ipairs(keys) do
    local key = type(k) == "number" and "" or (k:match("^[%a_][%w_]*$") and k .. " = " or format("[%q] = ", k))
    out[#out + 1] = indent .. "  " .. key .. serialize(v[k], indent .. "  ") .. ","
  end
  return "{\n" .. table.concat(out, "\n") .. "\n" .. indent .. "}"
end

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

local function write_recipe(dir, name, t)
  local path = dir .. "/" .. name
  write(path, "return " .. serialize(t) .. "\n")
  return path
end

local max_diff = helpers.max_diff

local function identical(a, b)
  if #a ~= #b or a.sr ~= b.sr then return false end
  for i = 1, #a do
    if a:get(i) ~= b:get(i) then return false end
  end
  return true
end

local function all_finite(a)
  for i = 1, #a do
    local v = a:get(i)
    if v ~= v or v == math.huge or v == -math.huge then return false end
  end
  return true
end

-- Column j of a Matrix as a list.
local function column(M, j)
  local n = M:shape()
  local c = {}
  for i = 1, n do c[i] = M:get(i, j) end
  return c
end

local function column_sum(M, j)
  local s = 0
  for _, v in ipairs(column(M, j)) do s = s + v end
  return s
end

local function frob(M)
  return math.sqrt(M:hadamard(M):sum())
end

local dir, cache_dir
before_each(function()
  dir = helpers.tmpdir()
  cache_dir = dir .. "/cache"
end)
after_each(function()
  helpers.rmtree(dir)
end)

local function render(path, opts)
  opts = opts or {}
  opts.cache_dir = opts.cache_dir or cache_dir
  return mosaic.render(path, opts)
end

describe("tessera.mosaic", function()
  describe("render()", function()
    it("renders a timbre swap to a file of the requested length and rate", function()
      local path = write_recipe(dir, "swap.lua", {
        duration = 2.5, out = "swap.wav", sources = sources(),
        layers = { { W = "garzul:1-3", H = "amen:1-3" } }, phase = "amen",
      })
      local y, s = render(path)
      assert.equal(22050, y.sr)
      assert.equal(55125, #y)
      assert.is_true(all_finite(y))
      assert.is_true(y:rms() > 1e-3)
      assert.near(0.99, y:peak(), 1e-6) -- normalised by default
      assert.equal(dir .. "/swap.wav", s.out)
      local back = tessera.audio.load(dir .. "/swap.wav", { mono = false })
      assert.is_true(identical(y, back))
      assert.same({ 1, 3, 2, "amen", 55125, 22050 },
        { s.layers, s.components, s.sources, s.phase, s.samples, s.sr })
      assert.equal(2, s.nmf)
      assert.is_true(s.seconds >= 0)
      assert.matches("^wrote .*/swap%.wav: 2%.50 s at 22050 Hz, 1 layer, 2 sources, phase amen; " ..
        "cache 0 hits, %d+ misses, 2 NMF; %d+%.%d%d s; mixed to mono: amen, garzul %(stereo = true " ..
        "keeps both channels%)$", mosaic.describe(s))
      assert.same({ "amen", "garzul" }, s.downmixed) -- the two loops are stereo files
    end)

    it("is bit-identical across renders, and the second hits the cache and runs no NMF", function()
      local path = write_recipe(dir, "r.lua", {
        duration = 2, sources = sources(), phase = "amen",
        layers = { { W = "garzul:1-2", H = "amen:1,3" }, { W = "compus", gain = 0.5 } },
      })
      local y1, s1 = render(path)
      assert.equal(3, s1.nmf)
      assert.is_true(s1.cache.misses > 0 and s1.cache.writes > 0)
      local y2, s2 = render(path)
      assert.equal(0, s2.nmf)
      assert.equal(0, s2.cache.misses)
      assert.is_true(s2.cache.hits >= 3)
      assert.is_true(identical(y1, y2))
      -- a fresh cache computes everything again, to the same bits
      local y3, s3 = render(path, { cache_dir = dir .. "/other" })
      assert.equal(3, s3.nmf)
      assert.is_true(identical(y1, y3))
    end)

    it("does no NMF after an edit to gains and layers", function()
      local t = { duration = 2, sources = sources(), phase = "amen",
                  layers = { { W = "garzul:1", H = "amen:1" } } }
      local path = write_recipe(dir, "r.lua", t)
      render(path)
      t.layers = { { W = "garzul:2-3", H = "amen:2", gain = 0.3 }, { W = "amen:1", shift = 0.1 },
                   { W = "garzul:1", fit = true, target = "amen" } }
      write_recipe(dir, "r.lua", t)
      local _, s = render(path)
      assert.equal(1, s.nmf) -- only the new fit
      t.layers[1].gain = 2
      t.layers[3].W = "garzul:2-3" -- the fit covers every component of W
      write_recipe(dir, "r.lua", t)
      local y, s2 = render(path)
      assert.equal(0, s2.nmf)
      assert.equal(0, s2.cache.misses)
      assert.is_true(y:rms() > 1e-3)
    end)

    it("scales a layer's magnitude by its gain", function()
      local t = { duration = 2, normalize = false, sources = sources(), phase = "amen",
                  layers = { { W = "garzul:1", H = "amen:2", gain = 0.05 } } }
      local y1, s1 = render(write_recipe(dir, "a.lua", t))
      t.layers[1].gain = 0.1
      local y2, s2 = render(write_recipe(dir, "b.lua", t))
      assert.equal(1, s1.scale)
      assert.near(2 * frob(s1.magnitude), frob(s2.magnitude), 1e-6 * frob(s2.magnitude))
      assert.is_true(max_diff(y1:gain(2), y2) < 1e-5)
    end)

    it("shifts activations by seconds (frames of the output's hop)", function()
      local hop_seconds = 512 / 22050
      local t = { duration = 1.5, sources = sources(), phase = "amen",
                  layers = { { W = "amen:1", loop = false } } }
      local _, s0 = render(write_recipe(dir, "a.lua", t))
      t.layers[1].shift = 4 * hop_seconds
      local _, s4 = render(write_recipe(dir, "b.lua", t))
      local _, p = s0.magnitude:shape()
      for j = 1, 4 do assert.equal(0, column_sum(s4.magnitude, j)) end
      for _, j in ipairs { 1, 10, 40, p - 4 } do
        local a, b = column(s0.magnitude, j), column(s4.magnitude, j + 4)
        for i = 1, #a, 50 do assert.near(a[i], b[i], 1e-6 * (1 + a[i])) end
      end
    end)

    it("loops activations over a longer output, or plays them once", function()
      local t = { duration = 4, sources = sources(), phase = "garzul",
                  layers = { { W = "amen:2" } } }
      local _, looped = render(write_recipe(dir, "a.lua", t))
      t.layers[1].loop = false
      local y, once = render(write_recipe(dir, "b.lua", t))
      assert.equal(4 * 22050, #y)
      local _, p = once.magnitude:shape()
      local p_amen = tessera.spectrogram.frame_count(33075, { n_fft = 2048, hop = 512 })
      -- the first pass is the same; after it, the once-only layer is silent
      for _, j in ipairs { 1, 20, p_amen } do
        assert.same(column(looped.magnitude, j), column(once.magnitude, j))
      end
      for j = p_amen + 1, p do assert.equal(0, column_sum(once.magnitude, j)) end
      for j = p_amen + 1, p, 7 do assert.is_true(column_sum(looped.magnitude, j) > 0) end
    end)

    it("stretches activations in time", function()
      local t = { duration = 3, sources = sources(), phase = "garzul",
                  layers = { { W = "amen:1", loop = false } } }
      local _, s1 = render(write_recipe(dir, "a.lua", t))
      t.layers[1].stretch = 2
      local _, s2 = render(write_recipe(dir, "b.lua", t))
      for _, j in ipairs { 0, 5, 31, 60 } do
        local a, b = column(s1.magnitude, j + 1), column(s2.magnitude, 2 * j + 1)
        for i = 1, #a, 40 do assert.near(a[i], b[i], 1e-6 * (1 + a[i])) end
      end
      -- the stretched layer lasts twice as long
      local p_amen = tessera.spectrogram.frame_count(33075, { n_fft = 2048, hop = 512 })
      assert.is_true(column_sum(s2.magnitude, 2 * p_amen - 4) > 0)
      assert.equal(0, column_sum(s1.magnitude, p_amen + 2))
    end)

    it("fits activations for a target with the source's templates fixed", function()
      local t = { duration = 1.5, normalize = false, sources = sources(), phase = "amen",
                  layers = { { W = "garzul", fit = true, target = "amen" } } }
      local _, fitted = render(write_recipe(dir, "a.lua", t))
      t.layers = { { W = "garzul", H = "amen" } }
      local _, borrowed = render(write_recipe(dir, "b.lua", t))
      local a = tessera.audio.load(SAMPLES .. "/loop_amen.flac", { sr = 22050, duration = 1.5 })
      local V = tessera.stft(a):magnitude()
      local fit_error = frob(V - fitted.magnitude) / frob(V)
      local borrow_error = frob(V - borrowed.magnitude) / frob(V)
      assert.is_true(fit_error < 0.9 * borrow_error,
        format("fitted %.3f, borrowed %.3f", fit_error, borrow_error))
      -- the recipe's target serves layers that name none
      t.layers = { { W = "garzul:2", fit = true } }
      t.target = "amen"
      local y = render(write_recipe(dir, "c.lua", t))
      assert.is_true(y:rms() > 1e-4)
    end)

    it("takes the phase of a source tiled to the output's length", function()
      local t = { duration = 3.5, normalize = false, sources = sources(), phase = "amen",
                  layers = { { W = "garzul:1-3", H = "amen:1-3" } } }
      local y, s = render(write_recipe(dir, "a.lua", t))
      local a = tessera.audio.load(SAMPLES .. "/loop_amen.flac", { sr = 22050, duration = 1.5 })
      local S = tessera.stft(a:tile(#y))
      local ref = tessera.spectrogram.from_polar(s.magnitude, S:phase(), S):istft():gain(s.scale)
      assert.is_true(max_diff(y, ref) < 1e-6)
    end)

    it("reconstructs the phase with Griffin-Lim, reproducibly", function()
      local t = { duration = 1.5, sources = sources(), phase = "griffinlim",
                  griffinlim = { iter = 8, seed = 2 },
                  layers = { { W = "compus:1-2", H = "amen:1" } } }
      local path = write_recipe(dir, "a.lua", t)
      local y1, s = render(path)
      local y2 = render(path)
      assert.equal("griffinlim", s.phase)
      assert.equal(33075, #y1)
      assert.is_true(all_finite(y1) and y1:rms() > 1e-3)
      assert.is_true(identical(y1, y2))
    end)

    it("starts Griffin-Lim from PGHI with griffinlim.init = 'pghi', from random by default", function()
      local t = { duration = 1.5, normalize = false, sources = sources(), phase = "griffinlim",
                  griffinlim = { iter = 0, init = "pghi" },
                  layers = { { W = "compus:1-2", H = "amen:1" } } }
      local y, s = render(write_recipe(dir, "a.lua", t))
      local like = tessera.stft(tessera.audio.new(#y, 22050))
      local ref = tessera.griffinlim(s.magnitude, like, { iter = 0, init = "pghi" })
      assert.is_true(max_diff(y, ref:gain(s.scale)) < 1e-6)
      t.griffinlim = { iter = 0 }
      y, s = render(write_recipe(dir, "b.lua", t))
      ref = tessera.griffinlim(s.magnitude, like, { iter = 0, seed = 0 })
      assert.is_true(max_diff(y, ref:gain(s.scale)) < 1e-6)
    end)

    it("defaults the length to the phase source's and the phase to the rhythm's source", function()
      local y, s = render(write_recipe(dir, "a.lua", {
        sources = sources(), layers = { { W = "garzul:1", H = "amen:1" } } }))
      assert.equal("amen", s.phase)
      assert.equal(33075, #y)
    end)

    it("levels the output: a peak, none, or a guard against clipping", function()
      local t = { duration = 1.5, normalize = 0.5, sources = sources(),
                  layers = { { W = "amen:1-3" } } }
      local y = render(write_recipe(dir, "a.lua", t))
      assert.near(0.5, y:peak(), 1e-6)
      t.normalize = false
      t.layers[1].gain = 1e-3
      local quiet, s = render(write_recipe(dir, "b.lua", t))
      assert.equal(1, s.scale)
      assert.is_true(quiet:peak() < 0.5)
      t.layers[1].gain = 1000
      local loud, s2 = render(write_recipe(dir, "c.lua", t))
      assert.near(0.99, loud:peak(), 1e-6)
      assert.is_true(s2.peak > 1 and s2.scale < 1)
    end)

    it("renders at the recipe's sample rate", function()
      local y = render(write_recipe(dir, "a.lua", {
        sr = 16000, n_fft = 1024, hop = 256, duration = 1.25, sources = sources(),
        layers = { { W = "garzul:1-3", H = "amen:1-3" } } }))
      assert.equal(16000, y.sr)
      assert.equal(20000, #y)
    end)

    it("resolves relative paths against the recipe's folder; -o overrides out", function()
      os.execute(format("mkdir -p %s/sub && ln -s %s/loop_amen.flac %s/sub/amen.flac",
        helpers.shell_quote(dir), SAMPLES, helpers.shell_quote(dir)))
      local path = write_recipe(dir .. "/sub", "r.lua", {
        duration = 1.5, out = "renders/../out.flac",
        sources = { a = { file = "amen.flac", duration = 1.5, k = 2, max_iter = 20 } },
        layers = { { W = "a" } } })
      local _, s = render(path)
      assert.equal(dir .. "/sub/out.flac", s.out)
      assert.is_true(helpers.exists(dir .. "/sub/out.flac"))
      local _, s2 = render(path, { out = dir .. "/elsewhere.wav" })
      assert.equal(dir .. "/elsewhere.wav", s2.out)
      assert.is_true(helpers.exists(dir .. "/elsewhere.wav"))
    end)

    it("accepts selector lists, whole sources, and one H shared by several W", function()
      local t = { duration = 1.5, sources = sources(),
                  layers = { { W = { "garzul:1", "compus:2" }, H = "amen:3" },
                             { W = "garzul:1,3", H = { "amen:1", "compus:1" } },
                             { W = "compus", H = "amen:1-2" } } }
      local y, s = render(write_recipe(dir, "a.lua", t))
      assert.equal(6, s.components)
      assert.equal(33075, #y)
    end)

    it("renders a recipe table and a loaded recipe without writing", function()
      local y, s = mosaic.render({ duration = 1.5, sources = sources(),
                                   layers = { { W = "amen:1" } } }, { cache_dir = cache_dir })
      assert.is_nil(s.out)
      assert.equal(33075, #y)
      local path = write_recipe(dir, "a.lua", { duration = 1.5, out = "x.wav", sources = sources(),
                                                layers = { { W = "amen:2" } } })
      local rec = mosaic.load(path)
      local _, s2 = mosaic.render(rec, { cache_dir = cache_dir, write = false })
      assert.is_nil(s2.out)
      assert.is_false(helpers.exists(dir .. "/x.wav"))
    end)
  end)

  describe("bad recipes", function()
    local function check(t, expected, name)
      local path = write_recipe(dir, name or "bad.lua", t)
      local ok, err = pcall(render, path)
      assert.is_false(ok)
      -- render's caller here is this spec's function: the error names its line (tessera.entry).
      assert.equal(format(expected, path), (err:gsub("^[^\n:]+_spec%.lua:%d+: ", "", 1)))
    end

    local function base(layers, extra)
      local t = { duration = 1.5, sources = sources(), layers = layers }
      for k, v in pairs(extra or {}) do t[k] = v end
      return t
    end

    it("names the file, the layer and the key of an unknown option", function()
      check(base { { W = "amen:1" }, { W = "amen:2", gian = 2 } },
        "tessera.mosaic: %s: layer 2: key 'gian' is not a layer option (expected one of: W, H, " ..
        "gain, shift, stretch, loop, fit, target, name, pitch, morph, pan, width, pattern, notes); "
        .. "did you mean 'gain'?")
      check(base({ { W = "amen:1" } }, { outt = "x.wav" }),
        "tessera.mosaic: %s: key 'outt' is not a recipe option (expected one of: sources, layers, " ..
        "sr, n_fft, hop, window, duration, out, normalize, phase, griffinlim, target, channels, rate, format); "
        .. "did you mean 'out'?")
      local t = base { { W = "amen:1" } }
      t.sources.amen.kk = 3
      check(t, "tessera.mosaic: %s: source 'amen': key 'kk' is not a source option (expected one " ..
        "of: file, offset, duration, sr, n_fft, hop, hpss, stereo, templates, template_method, " ..
        "templates_from, freeze_templates, activations_from, freeze_activations, onsets, " ..
        "onset_before, onset_after, allowed_H, k, loss, solver, init, seed, max_iter, tol, " ..
        "tol_rule, order, alpha_W, alpha_H, l1_ratio, every, threads, smooth_H, T)")
    end)

    it("refuses missing sources and components out of range", function()
      check(base { { W = "amen:1" }, { W = "drums:1" } },
        "tessera.mosaic: %s: layer 2: key 'W': no source named 'drums' (sources: amen, compus, garzul)")
      check(base { { W = "amen:1", H = "garzul:4" } },
        "tessera.mosaic: %s: layer 1: key 'H': component 4 of source 'garzul' is out of range (k = 3)")
      check(base { { W = "amen:0" } },
        "tessera.mosaic: %s: layer 1: key 'W': 'amen:0' has an empty or zero-based range '0' " ..
        "(components count from 1)")
      check(base { { W = "amen:one" } },
        "tessera.mosaic: %s: layer 1: key 'W': 'amen:one' is not a component selector (expected " ..
        "'source:i', 'source:i-j', 'source:i,j' or 'source')")
      check(base({ { W = "amen:1" } }, { phase = "pads" }),
        "tessera.mosaic: %s: key 'phase': no source named 'pads' (sources: amen, compus, garzul; or 'griffinlim')")
      local t = base { { W = "amen:1" } }
      t.sources.amen.file = "nope.flac"
      check(t, "tessera.mosaic: %s: source 'amen': key 'file': cannot open 'nope.flac': No such " ..
        "file or directory")
      t = base { { W = "amen:1" } }
      t.sources.amen.k = nil
      check(t, "tessera.mosaic: %s: source 'amen': key 'k' is missing (the number of components)")
    end)

    it("refuses shape mismatches: a different sr or n_fft", function()
      local t = base { { W = "garzul:1", H = "amen:1" } }
      t.sources.amen.sr = 16000
      check(t, "tessera.mosaic: %s: layer 1: key 'H': source 'amen' has sr 16000 but the output has 22050")
      t = base { { W = "amen:1" }, { W = "garzul:1", H = "amen:1" } }
      t.sources.garzul.n_fft = 1024
      check(t, "tessera.mosaic: %s: layer 2: key 'W': source 'garzul' has n_fft 1024 but the " ..
        "output has 2048")
      t = base({ { W = "amen:1" } }, { phase = "compus" })
      t.sources.compus.hop = 256
      check(t, "tessera.mosaic: %s: key 'phase': source 'compus' has hop 256 but the output has 512")
      check(base { { W = "amen:1-3", H = "garzul:1-2" } },
        "tessera.mosaic: %s: layer 1: W selects 3 components but H selects 2 (give as many, or one)")
    end)

    it("refuses bad values with the key and the value", function()
      check(base { { W = "amen:1", gain = "loud" } },
        "tessera.mosaic: %s: layer 1: key 'gain' must be a number >= 0, got string 'loud'")
      check(base { { W = "amen:1", stretch = 0 } },
        "tessera.mosaic: %s: layer 1: key 'stretch' must be a number > 0, got number 0")
      check(base { { W = "amen:1", loop = 1 } },
        "tessera.mosaic: %s: layer 1: key 'loop' must be a boolean, got number 1")
      check(base { { H = "amen:1" } },
        "tessera.mosaic: %s: layer 1: key 'W' is missing (the spectral templates, e.g. W = 'a:1')")
      check(base { { W = "amen:1", H = "amen:2", fit = true, target = "amen" } },
        "tessera.mosaic: %s: layer 1: key 'H' cannot be used with fit = true (the activations are " ..
        "fitted for the target)")
      check(base { { W = "amen:1", fit = true } },
        "tessera.mosaic: %s: layer 1: key 'target' is missing: fit = true needs a target source " ..
        "(in the layer or the recipe)")
      check(base({ { W = "amen:1" } }, { duration = -1 }),
        "tessera.mosaic: %s: key 'duration' must be a number > 0, got number -1")
      check(base({ { W = "amen:1" } }, { duration = 0.05 }),
        "tessera.mosaic: %s: key 'duration': the output must last at least n_fft (2048) samples, got 1103")
      check(base({ { W = "amen:1" } }, { out = "../x.wav" }),
        "tessera.mosaic: %s: key 'out': '../x.wav' is outside the recipe's folder (write there, or " ..
        "give -o to choose another place)")
      check(base({ { W = "amen:1" } }, { out = "x.mp3" }),
        "tessera.mosaic: %s: key 'out': 'x.mp3' must end in .wav or .flac")
      check(base {}, "tessera.mosaic: %s: key 'layers' is empty")
      local gl = { phase = "griffinlim", griffinlim = { init = "zero" } }
      check(base({ { W = "amen:1" } }, gl),
        "tessera.mosaic: %s: key 'griffinlim': key 'init' must be 'random' or 'pghi', got string 'zero'")
      gl.griffinlim.init = 1
      check(base({ { W = "amen:1" } }, gl),
        "tessera.mosaic: %s: key 'griffinlim': key 'init' must be a string, got number 1")
      gl.griffinlim.init, gl.window = "pghi", "rect"
      check(base({ { W = "amen:1" } }, gl),
        "tessera.mosaic: %s: key 'griffinlim': init 'pghi' needs a hann or hamming window, the " ..
        "recipe's is 'rect'")
      check(base({ { W = "amen:1" } }, { phase = "griffinlim", griffinlim = { inti = "pghi" } }),
        "tessera.mosaic: %s: key 'griffinlim': key 'inti' is not a griffinlim option (expected " ..
        "one of: iter, momentum, seed, init); did you mean 'init'?")
    end)

    it("names the file when the recipe does not load, fails or returns no table", function()
      local path = dir .. "/syntax.lua"
      write(path, "return { layers = \n")
      local ok, err = pcall(render, path)
      assert.is_false(ok)
      assert.matches("^tessera%.mosaic: " .. path:gsub("%p", "%%%0") .. ":2: unexpected symbol", err)
      write(path, "local x = nil\nreturn x.y\n")
      ok, err = pcall(render, path)
      assert.is_false(ok)
      assert.equal("tessera.mosaic: " .. path .. ":2: attempt to index a nil value (local 'x')", err)
      write(path, "return 42\n")
      ok, err = pcall(render, path)
      assert.is_false(ok)
      assert.equal("tessera.mosaic: " .. path .. ": the recipe must return a plain table, got number 42", err)
      ok, err = pcall(render, dir .. "/missing.lua")
      assert.is_false(ok)
      assert.equal("tessera.mosaic: cannot open '" .. dir .. "/missing.lua': No such file or directory", err)
    end)
  end)

  describe("bin/tessera mosaic", function()
    local tessera_bin = helpers.root .. "/bin/tessera"

    it("renders a recipe, prints one line, and hits the cache the second time", function()
      local path = write_recipe(dir, "r.lua", { duration = 1.5, out = "r.wav", sources = sources(),
                                                layers = { { W = "garzul:1-2", H = "amen:1-2" } } })
      local cmd = format("%s mosaic %s --cache-dir %s 2>&1", tessera_bin, helpers.shell_quote(path),
        helpers.shell_quote(cache_dir))
      local out, ok = helpers.run(cmd)
      assert.is_true(ok, out)
      assert.matches("^wrote " .. (dir .. "/r.wav"):gsub("%p", "%%%0") ..
        ": 1%.50 s at 22050 Hz, 1 layer, 2 sources, phase amen; cache 0 hits, %d+ misses, 2 NMF; [%d.]+ s" ..
        "; mixed to mono: amen, garzul %(stereo = true keeps both channels%)\n$", out)
      local first = tessera.audio.load(dir .. "/r.wav")
      out, ok = helpers.run(cmd)
      assert.is_true(ok, out)
      assert.matches("cache %d+ hits, 0 misses, 0 NMF", out)
      assert.is_true(identical(first, tessera.audio.load(dir .. "/r.wav")))
      out, ok = helpers.run(format("%s mosaic %s -o %s --cache-dir %s 2>&1", tessera_bin,
        helpers.shell_quote(path), helpers.shell_quote(dir .. "/o.flac"), helpers.shell_quote(cache_dir)))
      assert.is_true(ok, out)
      assert.is_true(helpers.exists(dir .. "/o.flac"))
    end)

    it("fails with one line and status 1", function()
      local path = write_recipe(dir, "r.lua", { duration = 1.5, sources = sources(),
                                                layers = { { W = "amen:1" } } })
      local out, ok, code = helpers.run(format("%s mosaic %s 2>&1", tessera_bin, helpers.shell_quote(path)))
      assert.is_falsy(ok)
      assert.equal(1, code)
      assert.equal("tessera: mosaic: " .. path .. " has no 'out': give -o OUT.wav\n", out)
      path = write_recipe(dir, "bad.lua", { duration = 1.5, sources = sources(), out = "x.wav",
                                            layers = { { W = "amen:1", gian = 1 } } })
      out, ok = helpers.run(format("%s mosaic %s 2>&1", tessera_bin, helpers.shell_quote(path)))
      assert.is_falsy(ok)
      assert.equal("tessera: tessera.mosaic: " .. path .. ": layer 1: key 'gian' is not a layer option " ..
        "(expected one of: W, H, gain, shift, stretch, loop, fit, target, name, pitch, morph, pan, " ..
        "width, pattern, notes); did you mean 'gain'?\n", out)
    end)
  end)

  describe("bin/tessera decompose", function()
    it("writes W.npy, H.npy, model.json, one WAV per component and their sum", function()
      local out_dir = dir .. "/amen"
      local out, ok = helpers.run(format("%s/bin/tessera decompose %s/loop_amen.flac --duration 1 " ..
        "-k 3 --iter 20 --seed 1 -o %s 2>&1", helpers.root, SAMPLES, helpers.shell_quote(out_dir)))
      assert.is_true(ok, out)
      assert.matches("^decomposed .*loop_amen%.flac %(1%.00 s at 22050 Hz%) into 3 components", out)
      local files = helpers.listdir(out_dir)
      table.sort(files)
      assert.same({ "H.npy", "W.npy", "component_1.wav", "component_2.wav", "component_3.wav",
                    "model.json", "sum.wav" }, files)
      local m = tessera.nmf.load(out_dir)
      assert.same({ 1025, 3 }, { m.W:shape() })
      -- decompose resamples as scipy's resample_poly (--resample poly)
      local a = tessera.audio.load(SAMPLES .. "/loop_amen.flac", { sr = 22050, duration = 1,
                                                                   quality = "poly" })
      local S = tessera.stft(a)
      assert.same({ S:shape() }, { m.n, m.p })
      -- Wiener components add up to the clip, and the sum file is that sum
      local sum
      for i = 1, 3 do
        local c = tessera.audio.load(format("%s/component_%d.wav", out_dir, i))
        assert.is_true(identical(c, m:audio(i, S, { method = "wiener" })))
        sum = sum and sum:mix(c) or c
      end
      assert.is_true(max_diff(sum, a) < 1e-5)
      assert.is_true(max_diff(tessera.audio.load(out_dir .. "/sum.wav"), a) < 1e-5)
    end)
  end)

  describe("recipes in the sandbox", function()
    local function run_code(code)
      local path = dir .. "/r.lua"
      write(path, code)
      return pcall(render, path)
    end

    it("has pure Lua and the tessera API, but no os.execute, io, require or debug", function()
      local ok, err = run_code([[
        assert(os.execute == nil and os.getenv == nil and io == nil)
        assert(require == nil and debug == nil and string.dump == nil and package == nil)
        assert(getmetatable("") == nil)
        assert(type(tessera.stft) == "function" and type(tessera.audio.load) == "function")
        error("all checked", 0)
      ]])
      assert.is_false(ok)
      assert.equal("tessera.mosaic: all checked", err)
      ok, err = run_code("os.execute('touch " .. dir .. "/pwned')")
      assert.is_false(ok)
      assert.equal("tessera.mosaic: " .. dir .. "/r.lua:1: attempt to call a nil value (field 'execute')", err)
      ok, err = run_code("io.popen('ls')")
      assert.is_false(ok)
      assert.equal("tessera.mosaic: " .. dir .. "/r.lua:1: attempt to index a nil value (global 'io')", err)
      assert.is_false(helpers.exists(dir .. "/pwned"))
    end)

    it("refuses bytecode", function()
      local ok, err = run_code("local f = load(" .. format("%q", string.dump(function() end)) .. ")\nreturn f")
      assert.is_false(ok)
      assert.equal("tessera.mosaic: " .. dir .. "/r.lua:1: load: binary chunks are not allowed in a recipe", err)
      write(dir .. "/bin.lua", string.dump(function() return {} end))
      ok, err = pcall(render, dir .. "/bin.lua")
      assert.is_false(ok)
      assert.equal("tessera.mosaic: binary chunks are not allowed in a recipe", err)
    end)

    it("reads files in its own folder only", function()
      write(dir .. "/common.lua", "return { k = 2, max_iter = 20 }")
      local ok, err = run_code([[
        local c = dofile("common.lua")
        local a = tessera.audio.load("/usr/share/sonic-pi/samples/loop_amen.flac")
      ]])
      assert.is_false(ok)
      assert.equal("tessera.mosaic: " .. dir .. "/r.lua:2: tessera.audio.load: " ..
        "'/usr/share/sonic-pi/samples/loop_amen.flac' is outside the recipe's folder '" .. dir ..
        "' (recipes may only read there)", err)
      ok, err = run_code("dofile('../etc/passwd')")
      assert.is_false(ok)
      assert.equal("tessera.mosaic: " .. dir .. "/r.lua:1: dofile: '../etc/passwd' is outside the " ..
        "recipe's folder '" .. dir .. "' (recipes may only read there)", err)
      -- a shared settings file in the folder is fine
      ok = run_code([[
        local c = dofile("common.lua")
        return { duration = 1.5, sources = { a = { file = "]] .. SAMPLES ..
        [[/loop_amen.flac", duration = 1.5, k = c.k, max_iter = c.max_iter } },
                 layers = { { W = "a" } } }
      ]])
      assert.is_true(ok)
    end)

    it("writes no files, not even through tessera's save methods", function()
      for _, code in ipairs {
        "tessera.audio.new(100, 8000):save('x.wav')",
        "tessera.matrix.new(2, 2):save('m.npy')",
        "tessera.nmf(tessera.matrix.new(4, 4, 1), {k = 1, max_iter = 1}):save('model')",
      } do
        local ok, err = run_code(code)
        assert.is_false(ok)
        assert.matches("^tessera%.mosaic: .*/r%.lua:1: tessera%.%a+%.save: a recipe may not write '%a+[%.%a]*'$", err)
      end
      assert.same({ "r.lua" }, helpers.listdir(dir))
      -- and outside the recipe the methods are the ordinary ones again
      local a = tessera.audio.new(100, 8000)
      a:save(dir .. "/after.wav")
      assert.is_true(helpers.exists(dir .. "/after.wav"))
    end)
  end)
end)
