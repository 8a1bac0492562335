-- tessera.mosaic.sources: a render's view of its recipe's sources. Each source's audio, its
-- decomposition and the fits of its templates on other sources are computed at most once
-- per render and otherwise taken from the cache (tessera.cache), keyed by the content of
-- the files and every option that shapes the result.
local core = require "tessera.core"
local cache = require "tessera.cache"
local recipe = require "tessera.recipe"

local ipairs, pairs, pcall, require, setmetatable, tostring =
  ipairs, pairs, pcall, require, setmetatable, tostring
local format = string.format

local audio = core.audio

local sources = {}

local fail = recipe.fail

local function nmf_module()
  return require "tessera.nmf"
end

-- What identifies a source's audio: the file's content and how it is read.
local function audio_parts(src, digest)
  local parts = { "tessera.mosaic/audio", core.version, digest, src.sr, src.offset,
                  src.duration or false }
  if src.stereo then parts[#parts + 1] = "stereo" end -- a mono source's key as it always was
  return parts
end

local function stft_parts(src, window)
  return { n_fft = src.n_fft, hop = src.hop, window = window, center = true }
end

-- What identifies a source's magnitude: its STFT and the part of it (hpss) it keeps. A
-- source without `hpss` has the key it always had, so caches made before it stay valid.
local function magnitude_parts(src, window)
  local parts = stft_parts(src, window)
  parts.hpss = src.hpss
  parts.stereo = src.stereo or nil
  return parts
end

local Sources = {}
Sources.__index = Sources

-- sources.new(rec, stats) -> the sources of a checked recipe; stats.nmf counts the
-- decompositions computed.
function sources.new(rec, stats)
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
                                                      duration = src.duration, mono = not src.stereo })
      if not ok then fail(self.ctx, format("source '%s'", name), "%s", tostring(value)) end
      if src.stereo and value.channels ~= 2 then
        fail(self.ctx, format("source '%s'", name), "key 'stereo': the file has %d channel%s, " ..
          "not 2", value.channels, value.channels == 1 and "" or "s")
      end
      return value, { length = #value }
    end)
    self.audios[name] = a
    self.lengths[name] = meta and meta.length or #a
  end
  return a
end

-- A file's rate and channels by its content's digest: read once per process, as every
-- render of live mode asks again.
local formats = {}

-- A source's file as it is: its sample rate and channels (a few samples read).
function Sources:file_format(name)
  local digest = self:digest(name)
  if formats[digest] == nil then
    local src = self.rec.sources[name]
    local ok, a = pcall(audio.load, src.file, { duration = 0.01, mono = false })
    if not ok then fail(self.ctx, format("source '%s'", name), "%s", tostring(a)) end
    formats[digest] = { sr = a.sr, channels = a.channels }
  end
  return formats[digest]
end

-- The magnitude spectrogram of a source (of its hpss part, when it names one); a stereo
-- source's two channels side by side (bins x 2 frames).
function Sources:magnitude(name)
  local src = self.rec.sources[name]
  local a = self:audio(name)
  local parts = {}
  for c = 1, src.stereo and 2 or 1 do
    local ok, S = pcall(core.stft, src.stereo and a:channel(c) or a, stft_parts(src, self.rec.window))
    if ok and src.hpss then
      ok, S = pcall(function() return require("tessera.hpss")(S)[src.hpss] end)
    end
    if not ok then fail(self.ctx, format("source '%s'", name), "%s", tostring(S)) end
    parts[c] = S:magnitude()
  end
  return #parts == 1 and parts[1] or core.matrix.hcat(parts[1], parts[2])
end

-- A stereo decomposition or fit says so (tessera.stereo's fields): m.channels, m.frames.
local function mark_channels(m, stereo)
  if stereo then
    m.channels, m.frames = 2, m.p // 2
  end
  return m
end

-- The bytes a fit of V (n x p) with k components of T frames holds, roughly: W and H,
-- their update's numerators and denominators, and two n x p products.
local function fit_bytes(n, p, k, T)
  return 4 * (3 * k * ((n + 1) * T + p) + 2 * n * p)
end

local function fit_nmf(ctx, where, V, opts, stats)
  local n, p = V:shape()
  local fits, why = core.util.memory_check(fit_bytes(n, p, opts.k, opts.T or 1),
    format("a fit with k = %d of %d x %d", opts.k, n, p))
  if not fits then fail(ctx, where, "%s", why) end
  local ok, model = pcall(nmf_module(), V, opts)
  if not ok then fail(ctx, where, "%s", tostring(model)) end
  stats.nmf = stats.nmf + 1
  return model
end

-- What identifies the components another source lends (templates_from, activations_from):
-- that source's model's identity and the indices.
local function lent_parts(self, list)
  if list == nil then return false end
  local parts = {}
  for i, c in ipairs(list) do parts[i] = { self:model_parts(c.source), c.index } end
  return parts
end

-- What identifies a source's score-informed start: its keys and the templates' content. A
-- source without templates_from / activations_from has the key it always had.
local function score_parts(self, name, src)
  local sc = src.score
  if sc == nil then return false end
  local digests = {}
  for i, file in ipairs(sc.templates) do
    local ok, value = pcall(core.util.sha256_file, file)
    if not ok then fail(self.ctx, format("source '%s'", name), "%s", tostring(value)) end
    digests[i] = value
  end
  local parts = { digests, sc.method, sc.onsets or false, sc.before or false, sc.after or false,
                  sc.freeze or false }
  if sc.templates_from or sc.activations_from then
    parts[#parts + 1] = { lent_parts(self, sc.templates_from), lent_parts(self, sc.activations_from),
                          sc.freeze_activations or false }
  end
  if sc.allowed_file then
    local ok, value = pcall(core.util.sha256_file, sc.allowed_file)
    if not ok then fail(self.ctx, format("source '%s'", name), "%s", tostring(value)) end
    parts[#parts + 1] = { allowed = value }
  end
  return parts
end

function Sources:model_parts(name)
  local src = self.rec.sources[name]
  return { "tessera.mosaic/model", core.version, self:digest(name), src.sr, src.offset,
           src.duration or false, magnitude_parts(src, self.rec.window), src.nmf,
           score_parts(self, name, src) }
end

-- The templates (an n x mT Matrix, template after template) or activations (m x p) that
-- other sources' models lend.
local function lent(self, list, what)
  local rows = {}
  for _, c in ipairs(list) do
    local m = self:model(c.source)
    if what == "templates" then
      local t = m:template(c.index):totable()
      for i, row in ipairs(t) do
        local r = rows[i] or {}
        for _, x in ipairs(row) do r[#r + 1] = x end
        rows[i] = r
      end
    else
      rows[#rows + 1] = m.H:row(c.index):totable()[1]
    end
  end
  return core.matrix.from(rows)
end

-- {1, 2, ..., m}: the components a start fills, for fixed_W or fixed_H.
local function first_components(m)
  local t = {}
  for i = 1, m do t[i] = i end
  return t
end

-- The fit options allowed_H, W_start, H_start, fixed_W and fixed_H that a source's score keys
-- ask for (V: n x p).
local function score_options(self, name, src, V, opts)
  local sc = src.score
  if sc == nil then return end
  local nmf = nmf_module()
  local where = format("source '%s'", name)
  if sc.activations_from then
    local _, p = V:shape()
    for _, c in ipairs(sc.activations_from) do
      local other = self:model(c.source)
      if other.p ~= p then
        fail(self.ctx, where, "key 'activations_from': source '%s' has %d frames, this one %d " ..
          "(activations need the same length and hop)", c.source, other.p, p)
      end
    end
  end
  if sc.allowed_file then
    local ok, A = pcall(core.matrix.load, sc.allowed_file)
    if not ok then fail(self.ctx, where, "key 'allowed_H': %s", (tostring(A):gsub("^[^:]*: ", "", 1))) end
    local rows, cols = A:shape()
    local _, p = V:shape()
    if cols ~= p or rows < 1 or rows > src.nmf.k then
      fail(self.ctx, where, "key 'allowed_H': the file holds %d x %d, expected m x %d with m in " ..
        "1..%d (k rows at most, one column per frame)", rows, cols, p, src.nmf.k)
    end
    if rows < src.nmf.k then -- the components after the file's rows may sound anywhere
      local t = A:totable()
      for a = rows + 1, src.nmf.k do
        local row = {}
        for j = 1, p do row[j] = 1 end
        t[a] = row
      end
      A = core.matrix.from(t)
    end
    opts.allowed_H = A
  end
  local ok, err = pcall(function()
    if #sc.templates > 0 then
      opts.W_start = nmf.templates(sc.templates, { sr = src.sr, n_fft = src.n_fft, hop = src.hop,
                                                   method = sc.method, T = src.nmf.T })
    elseif sc.templates_from then
      opts.W_start = lent(self, sc.templates_from, "templates")
    end
    if sc.freeze then opts.fixed_W = first_components(#sc.templates > 0 and #sc.templates or #sc.templates_from) end
    if sc.activations_from then
      opts.H_start = lent(self, sc.activations_from, "activations")
      if sc.freeze_activations then opts.fixed_H = first_components(#sc.activations_from) end
    end
    if sc.onsets then
      local _, p = V:shape()
      opts.allowed_H = nmf.allowed_from_onsets(sc.onsets, { p = p, k = src.nmf.k, sr = src.sr,
        n_fft = src.n_fft, hop = src.hop, before = sc.before, after = sc.after })
    end
  end)
  if not ok then fail(self.ctx, where, "%s", tostring(err)) end
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
      score_options(self, name, src, V, opts)
      return fit_nmf(self.ctx, format("source '%s'", name), V, opts, self.stats),
             { length = self.lengths[name] }
    end)
    self.models[name] = mark_channels(m, src.stereo)
    if meta and meta.length then self.lengths[name] = meta.length end
    local n, k = m.W:shape(), m.k
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
                    tgt.offset, tgt.duration or false, magnitude_parts(tgt, self.rec.window) }
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
    self.fits[id] = mark_channels(f, tgt.stereo)
    if meta and meta.length then self.lengths[target] = meta.length end
  end
  return f
end

return sources
