-- tessera.mosaic: rendering recipes (see tessera.recipe for the schema). Each source is
-- decomposed once and kept in the cache (tessera.cache); a render then builds, for every
-- source whose templates a layer uses, a matrix of gain-scaled, stretched, looped and
-- shifted activation rows in Lua (H is small), multiplies it by the source's W (one sgemm
-- per template source), adds the products into one magnitude spectrogram, gives it a
-- phase (a source's, tiled, or Griffin-Lim's), and writes the audio atomically.
--
--   local audio, summary = tessera.mosaic.render("examples/timbre_swap.lua")
--   print(tessera.mosaic.describe(summary))
local core = require "tessera.core"
local cache = require "tessera.cache"
local recipe = require "tessera.recipe"
local fs = require "tessera.fs"

local error, ipairs, pairs, pcall, setmetatable, tostring, type =
  error, ipairs, pairs, pcall, setmetatable, tostring, type
local floor = math.floor
local format = string.format
local sort = table.sort

local audio, matrix, spectrogram = core.audio, core.matrix, core.spectrogram

local mosaic = {}

-- Recipes that recipe.check has normalised (render accepts them as they are).
local checked = setmetatable({}, { __mode = "k" })

local fail = recipe.fail

-- mosaic.load(path [, {out = path}]) -> recipe: the checked, normalised recipe, which
-- mosaic.render takes without checking it again.
function mosaic.load(path, opts)
  local rec = recipe.load(path, opts)
  checked[rec] = true
  return rec
end

-- ---- sources: audio, decompositions and fits, all through the cache ------------------

local function nmf_module()
  return require "tessera.nmf"
end

-- What identifies a source's audio: the file's content and how it is read.
local function audio_parts(src, digest)
  return { "tessera.mosaic/audio", core.version, digest, src.sr, src.offset, src.duration or false }
end

local function stft_parts(src, window)
  return { n_fft = src.n_fft, hop = src.hop, window = window, center = true }
end

-- A render's view of its sources: each source's audio, model and fits, computed at most
-- once per render and otherwise taken from the cache.
local Sources = {}
Sources.__index = Sources

local function new_sources(rec, stats)
  return setmetatable({ rec = rec, ctx = { name = rec.name }, digests = {}, audios = {},
                        models = {}, fits = {}, lengths = {}, stats = stats }, Sources)
end

function Sources:digest(name)
  local d = self.digests[name]
  if d == nil then
    local src = self.rec.sources[name]
    local ok, value = pcall(core.util.sha256_file, src.file)
    if not ok then fail(self.ctx, format("source '%s'", name), "%s", tostring(value)) end
    d = value
    self.digests[name] = d
  end
  return d
end

function Sources:audio(name)
  local a = self.audios[name]
  if a == nil then
    local src = self.rec.sources[name]
    local meta, _
    a, _, meta = cache.audio(audio_parts(src, self:digest(name)), function()
      local ok, value = pcall(audio.load, src.file, { sr = src.sr, offset = src.offset,
                                                      duration = src.duration, mono = true })
      if not ok then fail(self.ctx, format("source '%s'", name), "%s", tostring(value)) end
      return value, { length = #value }
    end)
    self.audios[name] = a
    self.lengths[name] = meta and meta.length or #a
  end
  return a
end

-- The magnitude spectrogram of a source.
function Sources:magnitude(name)
  local src = self.rec.sources[name]
  local ok, S = pcall(core.stft, self:audio(name), stft_parts(src, self.rec.window))
  if not ok then fail(self.ctx, format("source '%s'", name), "%s", tostring(S)) end
  return S:magnitude()
end

local function fit_nmf(ctx, where, V, opts, stats)
  local ok, model = pcall(nmf_module(), V, opts)
  if not ok then fail(ctx, where, "%s", tostring(model)) end
  stats.nmf = stats.nmf + 1
  return model
end

function Sources:model_parts(name)
  local src = self.rec.sources[name]
  return { "tessera.mosaic/model", core.version, self:digest(name), src.sr, src.offset,
           src.duration or false, stft_parts(src, self.rec.window), src.nmf }
end

-- The decomposition of a source (model, meta {length = samples}).
function Sources:model(name)
  local m = self.models[name]
  if m == nil then
    local src = self.rec.sources[name]
    local meta, _
    m, _, meta = cache.model(self:model_parts(name), function()
      local V = self:magnitude(name)
      local opts = {}
      for k, v in pairs(src.nmf) do opts[k] = v end
      opts.progress = false
      return fit_nmf(self.ctx, format("source '%s'", name), V, opts, self.stats),
             { length = self.lengths[name] }
    end)
    self.models[name] = m
    if meta and meta.length then self.lengths[name] = meta.length end
    local n, k = m.W:shape()
    if k ~= src.nmf.k or n ~= src.n_fft // 2 + 1 then
      fail(self.ctx, format("source '%s'", name), "its decomposition has W %d x %d, expected %d x %d",
        n, k, src.n_fft // 2 + 1, src.nmf.k)
    end
  end
  return m
end

-- Activations of `name`'s templates fitted on `target`'s magnitude, W fixed: all of W's
-- components at once, with the source's NMF options.
function Sources:fit(name, target)
  local id = name .. "\0" .. target
  local f = self.fits[id]
  if f == nil then
    local src, tgt = self.rec.sources[name], self.rec.sources[target]
    local parts = { "tessera.mosaic/fit", self:model_parts(name), self:digest(target), tgt.sr,
                    tgt.offset, tgt.duration or false, stft_parts(tgt, self.rec.window) }
    local meta, _
    f, _, meta = cache.model(parts, function()
      local m = self:model(name)
      local V = self:magnitude(target)
      local opts = { W = m.W, update_W = false, progress = false }
      for k, v in pairs(src.nmf) do
        if k ~= "init" then opts[k] = v end
      end
      return fit_nmf(self.ctx, format("source '%s' fitted on '%s'", name, target), V, opts,
                     self.stats), { length = self.lengths[target] }
    end)
    self.fits[id] = f
    if meta and meta.length then self.lengths[target] = meta.length end
  end
  return f
end

-- ---- rendering -----------------------------------------------------------------------

-- Checks that a source shares the output's sample rate and STFT (its templates or frames
-- could not be combined otherwise).
local function check_geometry(rec, ctx, where, key, name)
  local src = rec.sources[name]
  for _, field in ipairs { "sr", "n_fft", "hop" } do
    if src[field] ~= rec[field] then
      fail(ctx, where, "key '%s': source '%s' has %s %d but the output has %d", key, name, field,
        src[field], rec[field])
    end
  end
end

local function pairs_of(ctx, layer, W, H)
  if H == nil then return W end
  if #W == #H then return W, H end
  if #H == 1 or #W == 1 then return W, H end
  fail(ctx, layer.where, "W selects %d components but H selects %d (give as many, or one)", #W, #H)
end

local function copy_stats()
  local s = {}
  for k, v in pairs(cache.stats) do s[k] = v end
  return s
end

local function render(rec, opts)
  local t0 = core.util.now()
  local before = copy_stats()
  local stats = { nmf = 0 }
  local ctx = { name = rec.name }
  local sources = new_sources(rec, stats)
  local k_of = function(name) return rec.sources[name].nmf.k end

  -- Everything that can be checked without computing, first.
  local plan = {}
  for _, layer in ipairs(rec.layers) do
    local W = recipe.expand(ctx, layer.where, "W", layer.W, k_of)
    for _, sel in ipairs(layer.W) do check_geometry(rec, ctx, layer.where, "W", sel.source) end
    local H
    if layer.fit then
      check_geometry(rec, ctx, layer.where, "target", layer.target)
    elseif layer.H then
      H = recipe.expand(ctx, layer.where, "H", layer.H, k_of)
      for _, sel in ipairs(layer.H) do check_geometry(rec, ctx, layer.where, "H", sel.source) end
    end
    local Wl, Hl = pairs_of(ctx, layer, W, H)
    plan[#plan + 1] = { layer = layer, W = Wl, H = Hl }
  end
  if rec.phase.source then check_geometry(rec, ctx, nil, "phase", rec.phase.source) end
  local all_used = { [rec.phase.source or rec.length_source] = true }
  for _, step in ipairs(plan) do
    for _, c in ipairs(step.W) do all_used[c.source] = true end
    for _, c in ipairs(step.H or {}) do all_used[c.source] = true end
    if step.layer.fit then all_used[step.layer.target] = true end
  end
  local n_used = 0
  for _ in pairs(all_used) do n_used = n_used + 1 end

  -- Decompositions (and fits), in a fixed order.
  local w_sources, used = {}, {}
  for _, step in ipairs(plan) do
    for _, c in ipairs(step.W) do
      if not used[c.source] then
        used[c.source] = true
        w_sources[#w_sources + 1] = c.source
      end
    end
  end
  sort(w_sources)

  -- The output's length and frames.
  local length
  if rec.duration then
    length = floor(rec.duration * rec.sr + 0.5)
  else
    local name = rec.length_source
    if rec.phase.source then
      length = #sources:audio(name)
    else
      local found = false
      for _, step in ipairs(plan) do
        if step.layer.fit and step.layer.target == name then
          sources:fit(step.W[1].source, name)
          found = true
          break
        end
      end
      if not found then sources:model(name) end
      length = sources.lengths[name]
    end
  end
  if length < rec.n_fft then
    fail(ctx, nil, "key 'duration': the output must last at least n_fft (%d) samples, got %d",
      rec.n_fft, length)
  end
  local p_out = spectrogram.frame_count(length, { n_fft = rec.n_fft, hop = rec.hop })
  local frames_per_second = rec.sr / rec.hop

  -- Where each activation row goes: a list of placements per template source, into the
  -- rows of that source's templates.
  local placements = {}
  for _, name in ipairs(w_sources) do placements[name] = {} end
  local components = 0
  for _, step in ipairs(plan) do
    local layer = step.layer
    for i, w in ipairs(step.W) do
      local hs
      if layer.fit then
        hs = { { model = sources:fit(w.source, layer.target), index = w.index, length = layer.target } }
      elseif step.H == nil then
        hs = { { model = sources:model(w.source), index = w.index, length = w.source } }
      elseif #step.H == #step.W then
        local h = step.H[i]
        hs = { { model = sources:model(h.source), index = h.index, length = h.source } }
      elseif #step.H == 1 then
        local h = step.H[1]
        hs = { { model = sources:model(h.source), index = h.index, length = h.source } }
      else -- one template, several activations: their sum drives it
        hs = {}
        for _, h in ipairs(step.H) do
          hs[#hs + 1] = { model = sources:model(h.source), index = h.index, length = h.source }
        end
      end
      local list = placements[w.source]
      for _, h in ipairs(hs) do
        local H = h.model.H
        local _, frames = H:shape()
        local length = sources.lengths[h.length]
        list[#list + 1] = { H = H, row = h.index, to = w.index, gain = layer.gain,
                            stretch = layer.stretch, shift = layer.shift * frames_per_second,
                            loop = layer.loop, period = length and length / rec.hop or frames }
        components = components + 1
      end
    end
  end

  -- One product per template source, summed.
  local V
  for _, name in ipairs(w_sources) do
    local H = matrix.place(rec.sources[name].nmf.k, p_out, placements[name])
    local part = sources:model(name).W * H
    V = V and V + part or part
  end

  -- The phase.
  local stft_opts = { n_fft = rec.n_fft, hop = rec.hop, window = rec.window }
  local y
  if rec.phase.source then
    local a = sources:audio(rec.phase.source)
    a = #a >= length and a:slice(1, length) or a:tile(length)
    local S = core.stft(a, stft_opts)
    y = spectrogram.from_polar(V, S:phase(), S):istft()
  else
    local g = rec.phase.griffinlim
    local like = core.stft(audio.new(length, rec.sr), stft_opts)
    y = core.griffinlim(V, like, { iter = g.iter, momentum = g.momentum, seed = g.seed })
  end

  -- Level: normalised to a peak, or left alone unless it would clip.
  local peak = y:peak()
  local scale = 1
  if rec.normalize and peak > 0 then
    scale = rec.normalize / peak
  elseif not rec.normalize and peak > 1 then
    scale = 0.99 / peak
  end
  if scale ~= 1 then y = y:gain(scale) end

  local out = opts.out and fs.resolve(opts.out) or rec.out
  if opts.write ~= false and out then
    local ok, err = pcall(y.save, y, out)
    if not ok then fail(ctx, nil, "cannot write the output: %s", tostring(err)) end
  end

  local after = cache.stats
  local summary = {
    recipe = rec.name,
    out = opts.write ~= false and out or nil,
    sr = rec.sr,
    samples = #y,
    duration = #y / rec.sr,
    layers = #rec.layers,
    components = components,
    sources = n_used,
    phase = rec.phase.source or "griffinlim",
    nmf = stats.nmf,
    cache = { hits = after.hits - before.hits, misses = after.misses - before.misses,
              corrupt = after.corrupt - before.corrupt, writes = after.writes - before.writes },
    peak = peak,
    scale = scale,
    seconds = core.util.now() - t0,
    magnitude = V,
  }
  return y, summary
end

-- mosaic.render(recipe [, opts]) -> Audio, summary. recipe: a path (loaded with
-- mosaic.load), a recipe from mosaic.load, or a recipe table (checked here; relative paths
-- against opts.base, default the current directory). opts: out (overrides the recipe's),
-- cache_dir (a cache folder for this render), write (false: only return the audio),
-- name (what messages call a table recipe, default "recipe").
-- The summary: recipe, out, sr, samples, duration, layers, components (template and
-- activation pairs), sources (how many the layers and the phase use), phase,
-- nmf (decompositions computed), cache {hits, misses, corrupt, writes} (this render),
-- peak (before levelling), scale (applied), seconds (wall-clock time), magnitude (the
-- rendered magnitude spectrogram, a Matrix: for plots and checks).
function mosaic.render(r, opts)
  if opts ~= nil and type(opts) ~= "table" then
    error(format("bad argument #2 to 'render' (table expected, got %s)", type(opts)), 2)
  end
  opts = opts or {}
  local rec
  if type(r) == "string" then
    rec = recipe.load(r, { out = opts.out })
  elseif type(r) == "table" and checked[r] then
    rec = r
  elseif type(r) == "table" then
    local base = fs.resolve(opts.base or ".")
    rec = recipe.check(r, { name = opts.name or "recipe", dir = base, out = opts.out })
  else
    error(format("bad argument #1 to 'render' (recipe path or table expected, got %s)", type(r)), 2)
  end
  local saved_root = cache.root
  if opts.cache_dir ~= nil then cache.root = fs.resolve(opts.cache_dir) end
  local ok, y, summary = pcall(render, rec, opts)
  cache.root = saved_root
  if not ok then error(y, 0) end
  return y, summary
end

-- mosaic.describe(summary) -> one line for a terminal.
function mosaic.describe(s)
  local what = s.out and format("wrote %s", s.out) or format("rendered %s", s.recipe)
  return format("%s: %.2f s at %d Hz, %d layer%s, %d source%s, phase %s; cache %d hit%s, " ..
    "%d miss%s, %d NMF; %.2f s", what, s.duration, s.sr, s.layers, s.layers == 1 and "" or "s",
    s.sources, s.sources == 1 and "" or "s", s.phase, s.cache.hits, s.cache.hits == 1 and "" or "s",
    s.cache.misses, s.cache.misses == 1 and "" or "es", s.nmf, s.seconds)
end

mosaic.crosssynth = require("tessera.crosssynth").crosssynth -- "Let it Bee" (crosssynth.lua)
return mosaic
