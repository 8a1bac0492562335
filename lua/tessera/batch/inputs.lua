-- tessera.batch.inputs: what a batch works on. The audio files of a folder (recursively)
-- or the paths a manifest lists, sorted, each with the folder its outputs go to; and the
-- slice of them one machine of a sharded batch takes.
local uv = require "luv"
local fs = require "tessera.fs"

local error, ipairs, tonumber, tostring, type = error, ipairs, tonumber, tostring, type
local io, math, table = io, math, table
local fmt = string.format

local inputs = {}

-- File name extensions (lowercase) taken from a folder: what libsndfile decodes.
inputs.EXTENSIONS = {
  "aif", "aifc", "aiff", "au", "caf", "flac", "mp3", "oga", "ogg", "opus", "rf64", "snd",
  "w64", "wav", "wave",
}
local is_audio = {}
for _, e in ipairs(inputs.EXTENSIONS) do is_audio[e] = true end

local function fail(msg, ...)
  error(fmt(msg, ...), 0)
end

-- Normalises a relative path for an output folder: no "." or empty segments, ".." segments
-- become "_up" so that no output lands outside the output folder.
local function clean_relative(path)
  local parts = {}
  for seg in path:gmatch("[^/]+") do
    if seg == ".." then parts[#parts + 1] = "_up"
    elseif seg ~= "." then parts[#parts + 1] = seg end
  end
  return table.concat(parts, "/")
end

local function walk(root, rel, exclude, visited, list)
  local dir = rel == "" and root or root .. "/" .. rel
  local real = uv.fs_realpath(dir)
  if real == nil or visited[real] or real == exclude then return end
  visited[real] = true
  local req, err = uv.fs_scandir(dir)
  if not req then fail("tessera.batch: cannot open '%s': %s", dir, fs.reason(err)) end
  local names = {}
  while true do
    local name = uv.fs_scandir_next(req)
    if not name then break end
    if name:sub(1, 1) ~= "." then names[#names + 1] = name end
  end
  table.sort(names)
  for _, name in ipairs(names) do
    local relname = rel == "" and name or rel .. "/" .. name
    local path = root .. "/" .. relname
    local st = uv.fs_stat(path) -- follows links
    if st and st.type == "directory" then
      walk(root, relname, exclude, visited, list)
    elseif st and st.type == "file" then
      local ext = name:match("%.([^.]+)$")
      if ext and is_audio[ext:lower()] then
        list[#list + 1] = { file = relname, path = path, out = relname }
      end
    end
  end
end

local function read_manifest(path)
  local f, err = io.open(path, "r")
  if not f then
    fail("tessera.batch: cannot open '%s': %s", path, (tostring(err):gsub("^.-: ", "")))
  end
  local base = fs.dirname(path)
  local list = {}
  for line in f:lines() do
    local entry = line:match("^%s*(.-)%s*$")
    if entry ~= "" and entry:sub(1, 1) ~= "#" then
      local full = entry
      if entry:sub(1, 1) ~= "/" and base ~= "." then full = base .. "/" .. entry end
      list[#list + 1] = { file = entry, path = full, out = clean_relative(entry) }
    end
  end
  f:close()
  return list
end

-- inputs.list(source [, opts]) (batch.inputs) -> list of {file, path, out}, sorted by file (byte order),
-- without duplicates. source is a folder (searched recursively, following links, for files
-- with one of inputs.EXTENSIONS; names starting with "." are skipped) or a manifest (a text
-- file: one path per line, relative to the manifest's folder unless absolute; blank lines
-- and lines starting with # are ignored). file is the path relative to the folder, or as the
-- manifest writes it; path is where to read it; out is the input's output folder relative
-- to the output folder (file, with ".." segments as "_up"). opts.exclude: a folder (real
-- path) not to search, the output folder when it lies inside the input folder.
function inputs.list(source, opts)
  if type(source) ~= "string" or source == "" then
    error(fmt("bad argument #1 to 'inputs' (path expected, got %s)",
      source == "" and "an empty string" or type(source)), 2)
  end
  opts = opts or {}
  local st, err = uv.fs_stat(source)
  if not st then fail("tessera.batch: cannot open '%s': %s", source, fs.reason(err)) end
  local list = {}
  if st.type == "directory" then
    walk(source:gsub("(.)/+$", "%1"), "", opts.exclude, {}, list)
  else
    list = read_manifest(source)
  end
  table.sort(list, function(a, b) return a.file < b.file end)
  local unique, outs = {}, {}
  for _, item in ipairs(list) do
    local last = unique[#unique]
    if not (last and last.file == item.file) then
      if outs[item.out] then
        fail("tessera.batch: '%s' and '%s' would share the output folder '%s'", outs[item.out],
          item.file, item.out)
      end
      outs[item.out] = item.file
      unique[#unique + 1] = item
    end
  end
  return unique
end

-- inputs.parse_shard("I/N") -> I, N (1 <= I <= N).
function inputs.parse_shard(text)
  local i, n = tostring(text):match("^%s*(%d+)%s*/%s*(%d+)%s*$")
  i, n = math.tointeger(tonumber(i)), math.tointeger(tonumber(n))
  if not i or not n or n < 1 or i < 1 or i > n then
    fail("tessera.batch: bad shard '%s' (expected I/N with 1 <= I <= N, e.g. 1/4)", tostring(text))
  end
  return i, n
end

-- inputs.shard(list, i, n) -> the i-th of n slices (1-based): the items at positions
-- i, i + n, i + 2n, ... Every item is in exactly one slice, and the slices of a sorted list
-- are the same on every machine.
function inputs.shard(list, i, n)
  if math.type(n) ~= "integer" or n < 1 then
    error(fmt("bad argument #3 to 'shard' (count must be an integer >= 1, got %s)", tostring(n)), 2)
  end
  if math.type(i) ~= "integer" or i < 1 or i > n then
    error(fmt("bad argument #2 to 'shard' (index must be an integer in 1..%d, got %s)", n,
      tostring(i)), 2)
  end
  local out = {}
  for pos = i, #list, n do out[#out + 1] = list[pos] end
  return out
end

return inputs
