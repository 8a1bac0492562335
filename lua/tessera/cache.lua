-- tessera.cache: decompositions kept on disk so a re-render after an edit does no NMF.
-- An entry is a folder named by a key (SHA-256 of the source's content and the options)
-- holding the files and a manifest with each file's size and SHA-256. Entries are built in
-- a temporary folder and renamed into place, so a reader never sees half an entry and two
-- processes computing the same entry do not corrupt it; an entry whose files do not match
-- their manifest is reported once, removed and recomputed.
local util = require("tessera.core").util
local cjson = require "cjson"
local fs = require "tessera.fs"

local io, os, string, table, math = io, os, string, table, math
local error, ipairs, pairs, tostring, type, require = error, ipairs, pairs, tostring, type, require

local cache = {}

-- What happened since the process started (or since cache.reset_stats()).
cache.stats = { hits = 0, misses = 0, corrupt = 0, writes = 0 }

function cache.reset_stats()
  for k in pairs(cache.stats) do cache.stats[k] = 0 end
end

local MANIFEST = "manifest.json"
local FORMAT = 1 -- bump when the layout of an entry changes

-- A folder that overrides the environment when set (specs and render options set it:
-- Lua cannot change its own environment variables).
cache.root = nil

-- The cache folder: cache.root, else TESSERA_CACHE_DIR, else $XDG_CACHE_HOME/tessera, else
-- ~/.cache/tessera.
function cache.dir()
  if cache.root ~= nil then
    if type(cache.root) ~= "string" or cache.root == "" then
      error("tessera.cache: cache.root must be a non-empty string, got " .. type(cache.root), 2)
    end
    return cache.root
  end
  local dir = os.getenv("TESSERA_CACHE_DIR")
  if dir and dir ~= "" then return dir end
  local xdg = os.getenv("XDG_CACHE_HOME")
  if xdg and xdg ~= "" then return xdg .. "/tessera" end
  local home = os.getenv("HOME")
  if not home or home == "" then
    error("tessera.cache: neither TESSERA_CACHE_DIR, XDG_CACHE_HOME nor HOME is set", 2)
  end
  return home .. "/.cache/tessera"
end

-- A deterministic text for a Lua value: sorted keys, numbers with 17 significant digits,
-- so equal options always give equal keys. Functions and userdata are refused.
function cache.canonical(value)
  local t = type(value)
  if t == "nil" then return "nil"
  elseif t == "boolean" then return tostring(value)
  elseif t == "number" then
    if math.type(value) == "integer" then return string.format("%d", value) end
    return string.format("%.17g", value)
  elseif t == "string" then return string.format("%q", value)
  elseif t == "table" then
    local keys = {}
    for k in pairs(value) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b)
      if type(a) == type(b) then return a < b end
      return type(a) < type(b)
    end)
    local parts = {}
    for _, k in ipairs(keys) do parts[#parts + 1] = "[" .. cache.canonical(k) .. "]=" .. cache.canonical(value[k]) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  error("tessera.cache: cannot make a key from a " .. t .. " value", 2)
end

-- The key of a list of parts (strings, numbers, option tables).
function cache.key(parts)
  return util.sha256("tessera-cache/" .. FORMAT .. "/" .. cache.canonical(parts))
end

local remove_tree = fs.remove_tree

-- Checks every file against the manifest; returns true, or false and what is wrong.
local function verify(dir, key)
  local text = fs.read_file(dir .. "/" .. MANIFEST)
  if not text then return false, "no manifest" end
  local ok, manifest = pcall(cjson.decode, text)
  if not ok or type(manifest) ~= "table" or type(manifest.files) ~= "table" then return false, "unreadable manifest" end
  if manifest.key ~= key or manifest.format ~= FORMAT then return false, "manifest of another entry" end
  for name, info in pairs(manifest.files) do
    local path = dir .. "/" .. name
    local f = io.open(path, "rb")
    if not f then return false, "missing " .. name end
    local size = f:seek("end")
    f:close()
    if size ~= info.size then return false, string.format("%s has %d bytes, expected %d", name, size, info.size) end
    local hok, digest = pcall(util.sha256_file, path)
    if not hok or digest ~= info.sha256 then return false, name .. " does not match its checksum" end
  end
  return true, manifest
end

-- The folder of a valid entry, or nil. A corrupt entry is reported on stderr, removed and
-- counted in stats.corrupt; the caller then recomputes it.
function cache.lookup(key)
  local dir = cache.dir() .. "/" .. key
  local f = io.open(dir .. "/" .. MANIFEST, "rb")
  if not f then
    -- A folder without a manifest is an entry cut short (or not one of ours).
    local d = io.open(dir, "rb")
    if not d then return nil end
    d:close()
  else
    f:close()
  end
  local ok, why = verify(dir, key)
  if ok then return dir, why end
  cache.stats.corrupt = cache.stats.corrupt + 1
  io.stderr:write(string.format("tessera: cache entry %s is corrupt (%s); recomputing\n", key:sub(1, 12), why))
  remove_tree(dir)
  return nil
end

-- Builds an entry: write(tmpdir) puts the files in a fresh folder; the manifest is added
-- and the folder renamed into place. If another process got there first, its entry stays.
-- Returns the entry's folder.
function cache.store(key, write, info)
  local root = cache.dir()
  local final = root .. "/" .. key
  local tmp = util.tmp_path(final) -- removed (with its files) if the run is interrupted
  if not fs.mkdir_p(tmp) then
    error("tessera.cache: cannot create a folder in '" .. root .. "'", 2)
  end
  local ok, err = pcall(write, tmp)
  if not ok then
    remove_tree(tmp)
    error(err, 0)
  end
  local files = {}
  for _, name in ipairs(assert(fs.list(tmp))) do
    local path = tmp .. "/" .. name
    local fh = assert(io.open(path, "rb"))
    local size = fh:seek("end")
    fh:close()
    files[name] = { size = size, sha256 = util.sha256_file(path) }
  end
  local manifest = cjson.encode({ key = key, format = FORMAT, files = files, info = info or {},
                                  created = os.date("!%Y-%m-%dT%H:%M:%SZ") })
  local mf = assert(io.open(tmp .. "/" .. MANIFEST, "wb"))
  mf:write(manifest)
  mf:close()
  local renamed = os.rename(tmp, final)
  if not renamed then
    -- Someone else stored it meanwhile (rename onto a non-empty folder fails): keep theirs
    -- when it is valid, else replace it.
    remove_tree(tmp)
    local dir = cache.lookup(key)
    if dir then return dir end
    error("tessera.cache: cannot store entry in '" .. final .. "'", 2)
  end
  util.sync_folder_of(final)
  cache.stats.writes = cache.stats.writes + 1
  return final
end

-- The value of an entry, from the cache or computed and stored; the generic form of
-- cache.model and cache.audio. parts: what identifies it; compute() -> value [, meta];
-- save(value, dir) writes the value's files; load(dir) -> value. meta is a table of plain
-- values kept beside the files (meta.json) and returned with the value.
-- Returns value, hit (true when it came from the cache), meta (or nil).
function cache.get(parts, compute, save, load)
  local key = cache.key(parts)
  local dir = cache.lookup(key)
  if dir then
    local ok, value, meta = pcall(function()
      local text = fs.read_file(dir .. "/meta.json")
      return load(dir), text and cjson.decode(text) or nil
    end)
    if ok then
      cache.stats.hits = cache.stats.hits + 1
      return value, true, meta
    end
    -- Valid checksums but unloadable: written by an incompatible version.
    cache.stats.corrupt = cache.stats.corrupt + 1
    io.stderr:write(string.format("tessera: cache entry %s cannot be loaded (%s); recomputing\n",
      key:sub(1, 12), tostring(value)))
    remove_tree(dir)
  end
  cache.stats.misses = cache.stats.misses + 1
  local value, meta = compute()
  -- A cache that cannot be written (read-only, full, not a folder) costs the next run its
  -- time, not this run its result: a warning, once per folder, and the value as computed.
  local stored, why = pcall(cache.store, key, function(tmp)
    save(value, tmp)
    if meta ~= nil then
      local f = assert(io.open(tmp .. "/meta.json", "wb"))
      f:write(cjson.encode(meta))
      f:close()
    end
  end, { parts = cache.canonical(parts) })
  if not stored then cache.warn(why) end
  return value, false, meta
end

local warned = {}

-- Says once per cache folder that it cannot be used, and why.
function cache.warn(why)
  local root = cache.dir()
  if warned[root] then return end
  warned[root] = true
  io.stderr:write(string.format("tessera: warning: the cache '%s' cannot be written (%s); " ..
    "going on without it\n", root, (tostring(why):gsub("\n.*", ""))))
end

-- The NMF model of a magnitude spectrogram, from the cache or computed and stored.
-- parts: what identifies it (source content hash, STFT and NMF options);
-- compute() -> Model [, meta]. Returns model, hit, meta.
function cache.model(parts, compute)
  local nmf = require("tessera.nmf")
  return cache.get(parts, compute,
    function(model, dir) model:save(dir) end,
    function(dir) return nmf.load(dir) end)
end

-- Decoded (and resampled) audio, from the cache or computed and stored as a float WAV,
-- so a render does not pay for decoding and resampling twice. compute() -> Audio [, meta].
-- Returns audio, hit, meta.
function cache.audio(parts, compute)
  local audio = require("tessera.audio")
  return cache.get(parts, compute,
    function(a, dir) a:save(dir .. "/audio.wav", { subtype = "float" }) end,
    function(dir) return audio.load(dir .. "/audio.wav", { mono = false }) end)
end

return cache
