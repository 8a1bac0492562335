-- tessera.batch: one decomposition (or one user script) per file of a folder or a manifest,
-- run by worker processes, resumable, sharded across machines, with a results table.
--
--   local batch = require "tessera.batch"
--   local inputs = batch.inputs("loops/")                  -- sorted {file, path, out}
--   local mine = batch.shard(inputs, 2, 4)                  -- every 4th input from the 2nd
--   local summary = batch.run { source = "loops/", out = "out", jobs = 2,
--                               options = { k = 8, loss = "kl", iter = 200 } }
--   batch.write_table(batch.merge { "a.csv", "b.csv" }, "all.csv", "all.json")
--
-- The coordinator (batch.run) lists and shards the inputs, then hands them one at a time to
-- worker processes (the bin/tessera host running batch.worker(), spawned through luv) over a
-- pipe, and reads one JSON result line per input from another. Processes, not threads: a
-- file that crashes the decoder takes its own worker down, which is recorded as that file's
-- failure and replaced, and memory goes back to the system between runs. Each worker gets
-- OPENBLAS_NUM_THREADS / OMP_NUM_THREADS and the NMF `threads` option so that
-- workers x threads <= cores.
--
-- Each input's outputs are built in a hidden folder beside their place and renamed into
-- place, with a stamp (SHA-256 of the input's bytes, the options, the script and the tessera
-- version) written last; an input whose folder holds a matching stamp is skipped, so an
-- interrupted batch continues where it stopped.
local core = require "tessera.core"
local cjson = require "cjson"
local uv = require "luv"
local file_io = require "tessera.files"

local util = core.util
local error, ipairs, next, pairs, pcall, tonumber = error, ipairs, next, pairs, pcall, tonumber
local tostring, type, loadfile, collectgarbage = tostring, type, loadfile, collectgarbage
local io, math, os, package, string, table = io, math, os, package, string, table
local fmt = string.format

local batch = {}

-- The columns of the results table, in order (CSV and JSON). JSON rows add `output` (the
-- input's folder, relative to the output folder), `peak_memory` (the worker's VmHWM in bytes
-- when it finished the input) and `stages` (seconds spent loading, in the STFT, the NMF and
-- saving).
batch.COLUMNS = { "file", "duration", "k", "loss", "iterations", "seconds", "status", "error" }
local JSON_EXTRA = { "output", "peak_memory", "stages" }

-- File name extensions (lowercase) taken from a folder: what libsndfile decodes.
batch.EXTENSIONS = {
  "aif", "aifc", "aiff", "au", "caf", "flac", "mp3", "oga", "ogg", "opus", "rf64", "snd",
  "w64", "wav", "wave",
}
local is_audio = {}
for _, e in ipairs(batch.EXTENSIONS) do is_audio[e] = true end

-- The work done on each input when no script is given, and the options it takes (the names
-- of `tessera decompose`'s options, plus tol and every (tessera.nmf's), audio, figures and
-- resample: the quality of the resampling to sr, tessera.audio.load's `quality`; "poly" by
-- default, the samples scipy.signal.resample_poly gives a Python pipeline, and the fastest
-- quality; decompose uses "best").
batch.DEFAULTS = {
  k = 4, loss = "kl", solver = "mu", seed = 0, iter = 200, tol = 1e-4, every = 10,
  sr = 22050, n_fft = 2048, hop = 512, offset = 0, duration = false,
  audio = false, method = "wiener", figures = false, resample = "poly",
}

local STAMP = "stamp.json"
local STAMP_FORMAT = "tessera.batch/1"

local function fail(msg, ...)
  error(fmt(msg, ...), 0)
end

---------------------------------------------------------------------------------------------
-- Small file-system helpers (luv's synchronous calls; errors as strerror text).

-- "ENOENT: no such file or directory: /x" -> "No such file or directory"
local function uv_reason(err)
  local text = tostring(err):match("^%u+: ([^:]+)") or tostring(err)
  return text:sub(1, 1):upper() .. text:sub(2)
end

local function dirname(path)
  local d = path:match("^(.*)/[^/]*$")
  if d == nil then return "." end
  if d == "" then return "/" end
  return d
end

local function basename(path)
  return path:match("([^/]*)$")
end

local function is_dir(path)
  local st = uv.fs_stat(path)
  return st ~= nil and st.type == "directory"
end

-- mkdir -p; raises "cannot create folder 'x': reason".
local function mkdir_p(path)
  if path == "" or is_dir(path) then return end
  local parent = dirname(path)
  if parent ~= path then mkdir_p(parent) end
  local ok, err, name = uv.fs_mkdir(path, 493) -- 0755
  if not ok and name ~= "EEXIST" then
    fail("tessera.batch: cannot create folder '%s': %s", path, uv_reason(err))
  end
end

-- rm -rf of a folder we made (never follows a link out of it).
local function rmtree(path)
  local st = uv.fs_lstat(path)
  if not st then return end
  if st.type ~= "directory" then
    uv.fs_unlink(path)
    return
  end
  local req = uv.fs_scandir(path)
  if req then
    while true do
      local name = uv.fs_scandir_next(req)
      if not name then break end
      rmtree(path .. "/" .. name)
    end
  end
  uv.fs_rmdir(path)
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local data = f:read("a")
  f:close()
  return data
end

-- Writes text to path through a temporary name in the same folder and a rename, so a
-- reader (or a crash) never sees half a file.
local function write_atomic(path, text)
  file_io.write_atomic(path, text, "tessera.batch", 0)
end

---------------------------------------------------------------------------------------------
-- JSON with full double precision and keys in a given order (lua-cjson writes 14 digits,
-- which would not read back the loss that was computed).

local function json_value(v)
  local t = type(v)
  if v == nil then return "null"
  elseif t == "boolean" then return tostring(v)
  elseif t == "number" then
    if math.type(v) == "integer" then return fmt("%d", v) end
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    return fmt("%.17g", v)
  elseif t == "string" then
    return '"' .. v:gsub('[%c"\\]', function(c)
      if c == '"' then return '\\"' elseif c == "\\" then return "\\\\" end
      return fmt("\\u%04x", c:byte())
    end) .. '"'
  elseif t == "table" then
    if v[1] ~= nil then
      local parts = {}
      for i, x in ipairs(v) do parts[i] = json_value(x) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    local parts = {}
    for i, k in ipairs(keys) do parts[i] = json_value(k) .. ":" .. json_value(v[k]) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return "null"
end
batch.json = json_value

-- A row as a JSON object, its fields in table order.
local function json_row(row)
  local parts = {}
  for _, c in ipairs(batch.COLUMNS) do
    parts[#parts + 1] = json_value(c) .. ":" .. json_value(row[c])
  end
  for _, c in ipairs(JSON_EXTRA) do
    if row[c] ~= nil then parts[#parts + 1] = json_value(c) .. ":" .. json_value(row[c]) end
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

-- cjson.decode with JSON null as nil, and whole numbers as integers (cjson reads every
-- number as a float).
local function denull(v)
  if v == cjson.null then return nil end
  if type(v) == "table" then
    for k, x in pairs(v) do v[k] = denull(x) end
  elseif math.type(v) == "float" and math.tointeger(v) then
    return math.tointeger(v)
  end
  return v
end

---------------------------------------------------------------------------------------------
-- Inputs

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
  if not req then fail("tessera.batch: cannot open '%s': %s", dir, uv_reason(err)) end
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
  local base = dirname(path)
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

-- batch.inputs(source [, opts]) -> list of {file, path, out}, sorted by file (byte order),
-- without duplicates. source is a folder (searched recursively, following links, for files
-- with one of batch.EXTENSIONS; names starting with "." are skipped) or a manifest (a text
-- file: one path per line, relative to the manifest's folder unless absolute; blank lines
-- and lines starting with # are ignored). file is the path relative to the folder, or as the
-- manifest writes it; path is where to read it; out is the input's output folder relative
-- to the output folder (file, with ".." segments as "_up"). opts.exclude: a folder (real
-- path) not to search, the output folder when it lies inside the input folder.
function batch.inputs(source, opts)
  if type(source) ~= "string" or source == "" then
    error(fmt("bad argument #1 to 'inputs' (path expected, got %s)",
      source == "" and "an empty string" or type(source)), 2)
  end
  opts = opts or {}
  local st, err = uv.fs_stat(source)
  if not st then fail("tessera.batch: cannot open '%s': %s", source, uv_reason(err)) end
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

-- batch.parse_shard("I/N") -> I, N (1 <= I <= N).
function batch.parse_shard(text)
  local i, n = tostring(text):match("^%s*(%d+)%s*/%s*(%d+)%s*$")
  i, n = math.tointeger(tonumber(i)), math.tointeger(tonumber(n))
  if not i or not n or n < 1 or i < 1 or i > n then
    fail("tessera.batch: bad shard '%s' (expected I/N with 1 <= I <= N, e.g. 1/4)", tostring(text))
  end
  return i, n
end

-- batch.shard(list, i, n) -> the i-th of n slices (1-based): the items at positions
-- i, i + n, i + 2n, ... Every item is in exactly one slice, and the slices of a sorted list
-- are the same on every machine.
function batch.shard(list, i, n)
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

---------------------------------------------------------------------------------------------
-- Options

local CHOICES = {
  loss = { euclidean = true, kl = true, is = true },
  solver = { mu = true, cd = true },
  method = { wiener = true, phase = true },
  resample = { best = true, medium = true, fast = true, poly = true },
}

-- batch.options(t) -> a complete options table (batch.DEFAULTS filled in), checked.
function batch.options(t)
  t = t or {}
  local o = {}
  for key, value in pairs(batch.DEFAULTS) do o[key] = value end
  for key, value in pairs(t) do
    if batch.DEFAULTS[key] == nil then
      local names = {}
      for name in pairs(batch.DEFAULTS) do names[#names + 1] = name end
      table.sort(names)
      fail("tessera.batch: unknown option '%s' (expected one of: %s)", tostring(key),
        table.concat(names, ", "))
    end
    o[key] = value
  end
  local function int_at_least(key, low)
    if math.type(o[key]) ~= "integer" or o[key] < low then
      fail("tessera.batch: %s must be an integer >= %d, got %s", key, low, tostring(o[key]))
    end
  end
  int_at_least("k", 1)
  int_at_least("iter", 1)
  int_at_least("every", 1)
  int_at_least("sr", 1)
  int_at_least("n_fft", 2)
  int_at_least("hop", 1)
  int_at_least("seed", 0)
  if o.hop > o.n_fft then
    fail("tessera.batch: hop must be <= n_fft (%d), got %d", o.n_fft, o.hop)
  end
  for key, choices in pairs(CHOICES) do
    if not choices[o[key]] then
      local names = {}
      for name in pairs(choices) do names[#names + 1] = name end
      table.sort(names)
      fail("tessera.batch: %s must be one of %s, got '%s'", key, table.concat(names, ", "),
        tostring(o[key]))
    end
  end
  if o.solver == "cd" and o.loss ~= "euclidean" then
    fail("tessera.batch: solver cd needs loss euclidean, got '%s'", o.loss)
  end
  if type(o.tol) ~= "number" or o.tol < 0 then
    fail("tessera.batch: tol must be >= 0, got %s", tostring(o.tol))
  end
  if type(o.offset) ~= "number" or o.offset < 0 then
    fail("tessera.batch: offset must be >= 0, got %s", tostring(o.offset))
  end
  if o.duration ~= false and (type(o.duration) ~= "number" or o.duration <= 0) then
    fail("tessera.batch: duration must be > 0, got %s", tostring(o.duration))
  end
  return o
end

---------------------------------------------------------------------------------------------
-- The work on one input (inside a worker)

local scripts = {} -- path -> function, per worker

local function load_script(path)
  if scripts[path] then return scripts[path] end
  local chunk, err = loadfile(path)
  if not chunk then fail("tessera.batch: cannot load script %s", tostring(err)) end
  local fn = chunk()
  if type(fn) ~= "function" then
    fail("tessera.batch: script '%s' must return a function(file, out, options), got %s", path,
      type(fn))
  end
  scripts[path] = fn
  return fn
end

-- The worker's peak resident memory so far, in bytes (Linux), or nil.
local function peak_memory()
  local status = read_file("/proc/self/status")
  local kb = status and status:match("VmHWM:%s*(%d+) kB")
  return kb and math.tointeger(tonumber(kb)) * 1024 or nil
end

-- The stamp of an input: what its outputs are a function of.
local function stamp_of(input_sha, job)
  local script_sha = job.script and util.sha256_file(job.script) or ""
  return util.sha256(table.concat({ STAMP_FORMAT, core.version, json_value(job.options),
    input_sha, script_sha }, "\0"))
end

-- The stamp file of a complete output folder whose files are all there, or nil.
local function valid_stamp(dir, stamp)
  local text = read_file(dir .. "/" .. STAMP)
  if not text then return nil end
  local ok, info = pcall(cjson.decode, text)
  if not ok or type(info) ~= "table" or info.format ~= STAMP_FORMAT or info.stamp ~= stamp
      or type(info.files) ~= "table" or type(info.row) ~= "table" then
    return nil
  end
  for name, size in pairs(info.files) do
    local st = uv.fs_stat(dir .. "/" .. name)
    if not st or st.size ~= size then return nil end
  end
  return denull(info)
end

-- An error object as one line: the message without a "file.lua:12: " position.
local function message(err)
  local text = type(err) == "string" and err or tostring(err)
  text = text:gsub("^[^\n:]+:%d+: ", "", 1)
  return (text:gsub("%s*\n.*", ""))
end

-- The built-in work: load, STFT, NMF, save (as `tessera decompose`). Returns the row's
-- figures and the stage timings.
local function decompose(path, dir, o, threads)
  local tessera = require "tessera"
  local now = util.now
  local t0 = now()
  local a = tessera.audio.load(path, { sr = o.sr, offset = o.offset,
                                       duration = o.duration or nil, mono = true,
                                       quality = o.resample })
  if a:peak() == 0 then fail("tessera.batch: '%s' is silent (every sample is 0)", path) end
  local t1 = now()
  -- The complex spectrogram only when component audio needs its phase; else the fused
  -- magnitude (one pass, no complex matrix).
  local S = o.audio and tessera.stft(a, { n_fft = o.n_fft, hop = o.hop })
  local V = S and S:magnitude()
            or tessera.stft(a, { n_fft = o.n_fft, hop = o.hop, magnitude = true, threads = threads })
  local t2 = now()
  local m = tessera.nmf(V, { k = o.k, loss = o.loss, solver = o.solver, seed = o.seed,
                             max_iter = o.iter, tol = o.tol, every = o.every, progress = false,
                             threads = threads })
  local t3 = now()
  m:save(dir)
  if o.audio then
    local width = #tostring(m.k)
    for i = 1, m.k do
      m:audio(i, S, { method = o.method }):save(fmt("%s/component_%0" .. width .. "d.wav", dir, i))
    end
    m:audio(nil, S, { method = o.method }):save(dir .. "/sum.wav")
  end
  if o.figures then
    tessera.plot.W(m.W, { out = dir .. "/W.png", sr = a.sr, n_fft = o.n_fft, db = true })
    tessera.plot.H(m.H, { out = dir .. "/H.png", sr = a.sr, hop = o.hop })
  end
  local t4 = now()
  return { duration = a:duration(), k = m.k, loss = m.loss, iterations = m.iterations },
    { load = t1 - t0, stft = t2 - t1, nmf = t3 - t2, save = t4 - t3 }
end

-- Where an input's outputs are built (tmp), and where its previous folder waits while the
-- new one is swapped in (old): hidden names beside its folder `out`.
local function work_paths(out)
  local parent, base = dirname(out), basename(out)
  return parent .. "/." .. base .. ".tmp", parent .. "/." .. base .. ".old"
end

local function list_files(dir, prefix, files)
  local req = uv.fs_scandir(dir)
  if not req then return end
  while true do
    local name, kind = uv.fs_scandir_next(req)
    if not name then break end
    local rel = prefix == "" and name or prefix .. "/" .. name
    if kind == "directory" then
      list_files(dir .. "/" .. name, rel, files)
    elseif name ~= STAMP then
      files[rel] = uv.fs_stat(dir .. "/" .. name).size
    end
  end
end

-- batch.process(job) -> row: the whole work on one input. job = {file, path, out (absolute
-- folder), options (complete), script (absolute path or nil), threads}. Never raises for a
-- bad input: the row's status is "ok", "skipped" (a matching stamp was found) or "failed"
-- with the error.
function batch.process(job)
  local t0 = util.now()
  local row = { file = job.file, output = job.rel }
  local parent = dirname(job.out)
  local tmp, old = work_paths(job.out)
  local ok, err = pcall(function()
    local f, oerr = io.open(job.path, "rb")
    if not f then
      fail("tessera.batch: cannot open '%s': %s", job.path, (tostring(oerr):gsub("^.-: ", "")))
    end
    f:close()
    local input_sha = util.sha256_file(job.path)
    local stamp = stamp_of(input_sha, job)
    local found = valid_stamp(job.out, stamp)
    if found then
      for k, v in pairs(found.row) do row[k] = v end
      row.status = "skipped"
      return
    end
    mkdir_p(parent)
    rmtree(tmp) -- left by a worker that was killed
    rmtree(old)
    mkdir_p(tmp)
    local figures, stages
    if job.script then
      local info = load_script(job.script)(job.path, tmp, job.options)
      if info ~= nil and type(info) ~= "table" then
        fail("script returned a %s (expected a table or nothing)", type(info))
      end
      figures = info or {}
    else
      figures, stages = decompose(job.path, tmp, job.options, job.threads)
    end
    for _, c in ipairs({ "duration", "k", "loss", "iterations" }) do
      local v = figures[c]
      if v ~= nil and type(v) ~= "number" then
        fail("script returned %s = %s (a number expected)", c, tostring(v))
      end
      row[c] = v
    end
    row.stages = stages
    row.status = "ok"
    row.seconds = util.now() - t0
    row.peak_memory = peak_memory()
    local files = {}
    list_files(tmp, "", files)
    local stored = {}
    for k, v in pairs(row) do stored[k] = v end
    write_atomic(tmp .. "/" .. STAMP, json_value({
      format = STAMP_FORMAT, stamp = stamp, version = core.version, input = job.file,
      input_sha256 = input_sha, options = job.options, files = files, row = stored,
    }) .. "\n")
    -- Swap the new folder in; an old one (other options, older input) goes.
    if uv.fs_stat(job.out) then
      local moved, merr = os.rename(job.out, old)
      if not moved then fail("cannot replace '%s': %s", job.out, tostring(merr)) end
    end
    local renamed, rerr = os.rename(tmp, job.out)
    if not renamed then fail("cannot write '%s': %s", job.out, tostring(rerr)) end
    rmtree(old)
  end)
  if not ok then
    rmtree(tmp)
    row = { file = job.file, output = job.rel, status = "failed", error = message(err),
            seconds = util.now() - t0, peak_memory = peak_memory() }
  end
  return row
end

-- The worker's loop (bin/tessera -e "require('tessera.batch').worker()"): a job per line
-- of stdin (JSON), a result per line on file descriptor 3 (so that what a user script
-- prints cannot be taken for a result); "ready" first. Ends at the end of stdin.
function batch.worker()
  -- The descriptor is a socket (libuv's pipe), which /dev/fd/3 cannot reopen: luv writes it,
  -- each write run to completion before the next job.
  local out = uv.new_pipe(false)
  assert(out:open(3))
  local function send(text)
    out:write(text)
    uv.run("default")
  end
  send('{"ready":true}\n')
  for line in io.lines() do
    local job = denull(cjson.decode(line))
    local row = batch.process(job)
    send(json_row(row) .. "\n")
    collectgarbage()
  end
  out:close()
  uv.run("default")
end

---------------------------------------------------------------------------------------------
-- Results tables

local function csv_field(v)
  if v == nil then return "" end
  local s = tostring(v)
  if s:find('[,"\r\n]') then s = '"' .. s:gsub('"', '""') .. '"' end
  return s
end

local function number_text(c, v)
  if v == nil then return nil end
  if c == "duration" then return fmt("%.6f", v)
  elseif c == "seconds" then return fmt("%.3f", v)
  elseif c == "loss" then return fmt("%.17g", v)
  else return fmt("%d", v) end
end

local function sort_rows(rows)
  local sorted = {}
  for i, r in ipairs(rows) do sorted[i] = r end
  table.sort(sorted, function(a, b) return a.file < b.file end)
  return sorted
end

-- batch.csv(rows) -> the CSV text (RFC 4180, a header line, rows sorted by file).
function batch.csv(rows)
  local lines = { table.concat(batch.COLUMNS, ",") }
  for _, r in ipairs(sort_rows(rows)) do
    local fields = {}
    for i, c in ipairs(batch.COLUMNS) do
      local v = r[c]
      if type(v) == "number" then v = number_text(c, v) end
      fields[i] = csv_field(v)
    end
    lines[#lines + 1] = table.concat(fields, ",")
  end
  return table.concat(lines, "\r\n") .. "\r\n"
end

-- batch.json_table(rows) -> the JSON text: an array of row objects sorted by file.
function batch.json_table(rows)
  local parts = {}
  for i, r in ipairs(sort_rows(rows)) do parts[i] = "  " .. json_row(r) end
  if #parts == 0 then return "[]\n" end
  return "[\n" .. table.concat(parts, ",\n") .. "\n]\n"
end

-- batch.write_table(rows, csv_path, json_path): both files, each written atomically.
function batch.write_table(rows, csv_path, json_path)
  if csv_path then write_atomic(csv_path, batch.csv(rows)) end
  if json_path then write_atomic(json_path, batch.json_table(rows)) end
end

-- RFC 4180 records of a CSV text.
local function parse_csv(text, name)
  local records, record, field = {}, {}, {}
  local i, n = 1, #text
  local quoted_field = false
  while i <= n do
    local c = text:sub(i, i)
    if c == '"' and #field == 0 and not quoted_field then
      local j = i + 1
      while true do
        local q = text:find('"', j, true)
        if not q then fail("tessera.batch: '%s' has an unterminated quoted field", name) end
        field[#field + 1] = text:sub(j, q - 1)
        if text:sub(q + 1, q + 1) == '"' then
          field[#field + 1] = '"'
          j = q + 2
        else
          i = q + 1
          break
        end
      end
      quoted_field = true
    elseif c == "," then
      record[#record + 1] = table.concat(field)
      field, quoted_field = {}, false
      i = i + 1
    elseif c == "\r" or c == "\n" then
      record[#record + 1] = table.concat(field)
      records[#records + 1] = record
      record, field, quoted_field = {}, {}, false
      i = i + ((c == "\r" and text:sub(i + 1, i + 1) == "\n") and 2 or 1)
    else
      local j = text:find('[,\r\n]', i) or n + 1
      field[#field + 1] = text:sub(i, j - 1)
      i = j
    end
  end
  if #field > 0 or #record > 0 then
    record[#record + 1] = table.concat(field)
    records[#records + 1] = record
  end
  return records
end

local NUMERIC = { duration = true, k = true, loss = true, iterations = true, seconds = true }

-- batch.read_table(path) -> rows: a results table written by batch (.csv or .json).
function batch.read_table(path)
  local text = read_file(path)
  if not text then
    local _, err = io.open(path, "rb")
    fail("tessera.batch: cannot open '%s': %s", path, (tostring(err):gsub("^.-: ", "")))
  end
  local rows = {}
  if path:lower():match("%.json$") then
    local ok, data = pcall(cjson.decode, text)
    if not ok or type(data) ~= "table" or (next(data) ~= nil and data[1] == nil) then
      fail("tessera.batch: '%s' is not a results table (a JSON array of rows expected)", path)
    end
    for i, r in ipairs(data) do
      r = denull(r)
      if type(r) ~= "table" or type(r.file) ~= "string" or type(r.status) ~= "string" then
        fail("tessera.batch: '%s' is not a results table (row %d has no file or status)", path, i)
      end
      rows[i] = r
    end
    return rows
  end
  local records = parse_csv(text, path)
  local header = records[1] or {}
  local index = {}
  for i, name in ipairs(header) do index[name] = i end
  for _, c in ipairs(batch.COLUMNS) do
    if not index[c] then
      fail("tessera.batch: '%s' is not a results table (no column '%s')", path, c)
    end
  end
  for line = 2, #records do
    local rec = records[line]
    if not (#rec == 1 and rec[1] == "") then
      if #rec ~= #header then
        fail("tessera.batch: '%s' line %d has %d fields, the header %d", path, line, #rec, #header)
      end
      local r = {}
      for _, c in ipairs(batch.COLUMNS) do
        local v = rec[index[c]]
        if v == "" then v = nil
        elseif NUMERIC[c] then
          local x = tonumber(v)
          if x == nil then
            fail("tessera.batch: '%s' line %d: %s is not a number: '%s'", path, line, c, v)
          end
          v = (c == "k" or c == "iterations") and (math.tointeger(x) or x) or x + 0.0
        end
        r[c] = v
      end
      rows[#rows + 1] = r
    end
  end
  return rows
end

-- The fields that must agree when a file is in two tables (timings may differ; "skipped"
-- is the same result as "ok").
local function result_of(r)
  local status = r.status == "skipped" and "ok" or r.status
  local parts = { status }
  for _, c in ipairs({ "duration", "k", "loss", "iterations", "error" }) do
    local v = r[c]
    parts[#parts + 1] = type(v) == "number" and number_text(c, v) or tostring(v)
  end
  return table.concat(parts, "|")
end

local function describe_row(r)
  if r.error then return fmt("%s: %s", r.status, tostring(r.error)) end
  return fmt("%s, loss %s", r.status, r.loss and fmt("%.9g", r.loss) or "none")
end

-- batch.merge(paths) -> rows: the tables' rows together, sorted by file. A file in two
-- tables with the same result (timings aside) is kept once; with different results it is
-- an error naming both tables.
function batch.merge(paths)
  if type(paths) ~= "table" or #paths == 0 then
    error("bad argument #1 to 'merge' (a non-empty list of tables expected)", 2)
  end
  local seen, rows = {}, {}
  for _, path in ipairs(paths) do
    for _, r in ipairs(batch.read_table(path)) do
      local prev = seen[r.file]
      if prev then
        if result_of(prev.row) ~= result_of(r) then
          fail("tessera.batch: '%s' is in '%s' (%s) and in '%s' (%s)", r.file, prev.path,
            describe_row(prev.row), path, describe_row(r))
        end
      else
        seen[r.file] = { row = r, path = path }
        rows[#rows + 1] = r
      end
    end
  end
  return sort_rows(rows)
end

---------------------------------------------------------------------------------------------
-- The coordinator

-- The host that runs workers: this process's executable when it is bin/tessera (or the
-- sanitized build), else the bin/tessera beside the lua/ folder this module came from.
function batch.host()
  if package.preload["tessera.host"] then return uv.exepath() end
  local here = package.searchpath("tessera.batch", package.path)
  local root = here and here:match("^(.-)/?lua/tessera/batch%.lua$")
  if root then
    local exe = uv.fs_realpath((root == "" and "." or root) .. "/bin/tessera")
    if exe then return exe end
  end
  fail("tessera.batch: cannot find the bin/tessera host to run workers (build it with make)")
end

-- Cores this process may use.
function batch.cores()
  return uv.available_parallelism and uv.available_parallelism() or #uv.cpu_info()
end

local function clock(seconds)
  seconds = math.floor(seconds + 0.5)
  if seconds < 60 then return fmt("%ds", seconds) end
  if seconds < 3600 then return fmt("%dm%02ds", seconds // 60, seconds % 60) end
  return fmt("%dh%02dm", seconds // 3600, seconds % 3600 // 60)
end

local SIGNAL_NAMES = { [1] = "SIGHUP", [2] = "SIGINT", [6] = "SIGABRT", [9] = "SIGKILL",
  [11] = "SIGSEGV", [15] = "SIGTERM", [7] = "SIGBUS", [8] = "SIGFPE", [4] = "SIGILL" }

-- batch.run(spec) -> summary. spec: source (folder or manifest), out (output folder),
-- options (batch.options), script (path or nil), jobs (workers; default the cores),
-- threads (per worker; default cores // jobs, at least 1), shard = {i, n} or nil,
-- max_memory (TESSERA_MAX_MEMORY for the workers, e.g. "512M"), timeout (seconds a worker
-- may spend on one input: past it the worker and its children are killed, the input's row
-- has status "timeout" and counts as failed, its partial outputs are removed and a new
-- worker goes on; default none), progress ("bar", "lines", "none"; default bar on a
-- terminal, else lines), host (the executable for workers).
-- Writes out/results.csv and out/results.json (out/results.shard-I-of-N.* with a shard)
-- whenever a result comes in (at most once a second past 1000 rows) and at the end.
-- summary = {total, ok, skipped, failed, timed_out (those of failed), interrupted, rows,
-- seconds, csv, json, threads, jobs}.
function batch.run(spec)
  if type(spec) ~= "table" then
    error(fmt("bad argument #1 to 'run' (table expected, got %s)", type(spec)), 2)
  end
  if type(spec.out) ~= "string" or spec.out == "" then
    fail("tessera.batch: out must be a folder name")
  end
  local options = batch.options(spec.options)
  local cores = batch.cores()
  local jobs = spec.jobs or cores
  if math.type(jobs) ~= "integer" or jobs < 1 then
    fail("tessera.batch: jobs must be an integer >= 1, got %s", tostring(jobs))
  end
  local threads = spec.threads or math.max(1, cores // jobs)
  if math.type(threads) ~= "integer" or threads < 1 or threads > 64 then
    fail("tessera.batch: threads must be an integer in 1..64, got %s", tostring(threads))
  end
  local timeout = spec.timeout
  if timeout ~= nil
      and (type(timeout) ~= "number" or timeout ~= timeout or timeout <= 0
        or timeout == math.huge) then
    fail("tessera.batch: timeout must be a number of seconds > 0, got %s", tostring(timeout))
  end
  local script
  if spec.script then
    script = uv.fs_realpath(spec.script)
    if not script then fail("tessera.batch: cannot open script '%s'", tostring(spec.script)) end
    load_script(script) -- a script that does not load fails here, not once per file
  end
  local progress = spec.progress or (uv.guess_handle(2) == "tty" and "bar" or "lines")
  if progress ~= "bar" and progress ~= "lines" and progress ~= "none" then
    fail("tessera.batch: progress must be bar, lines or none, got '%s'", tostring(progress))
  end
  local host = spec.host or batch.host()

  mkdir_p(spec.out)
  local out_real = uv.fs_realpath(spec.out)
  local all = batch.inputs(spec.source, { exclude = out_real })
  if #all == 0 then
    fail("tessera.batch: no audio files in '%s' (looked for .%s)", spec.source,
      table.concat(batch.EXTENSIONS, ", ."))
  end
  local inputs, table_base = all, out_real .. "/results"
  if spec.shard then
    inputs = batch.shard(all, spec.shard[1], spec.shard[2])
    table_base = fmt("%s/results.shard-%d-of-%d", out_real, spec.shard[1], spec.shard[2])
  end
  -- Workers take the largest files first, so that the last ones to finish are small and
  -- no worker idles long at the end (the results tables are sorted by file anyway).
  local queue, sizes = {}, {}
  for i, item in ipairs(inputs) do
    queue[i] = item
    local st = uv.fs_stat(item.path)
    sizes[item] = st and st.size or 0
  end
  table.sort(queue, function(a, b)
    if sizes[a] ~= sizes[b] then return sizes[a] > sizes[b] end
    return a.file < b.file
  end)
  local csv_path, json_path = table_base .. ".csv", table_base .. ".json"
  local summary = { total = #inputs, ok = 0, skipped = 0, failed = 0, timed_out = 0,
                    interrupted = false,
                    rows = {}, csv = csv_path, json = json_path, jobs = jobs, threads = threads,
                    worker_errors = {} }
  local rows = summary.rows
  local t_start = util.now()
  local log = io.stderr

  -- Table writes: after each result, at most once a second for big tables.
  local last_write = -math.huge
  local function save_table(force)
    local t = util.now()
    if force or #rows <= 1000 or t - last_write >= 1 then
      batch.write_table(rows, csv_path, json_path)
      last_write = t
    end
  end
  save_table(true)
  if #inputs == 0 then
    summary.seconds = 0
    return summary
  end

  -- Progress
  local done, computed = 0, 0
  local bar_shown = false
  local function bar_line()
    local elapsed = util.now() - t_start
    local width = 24
    local filled = math.floor(width * done / summary.total)
    local rate = computed > 0 and computed / elapsed or 0
    local eta = rate > 0 and clock((summary.total - done) / rate) or "?"
    return fmt("\r[%s%s] %d/%d  %.2f files/s  ETA %s  failed %d\27[K", string.rep("#", filled),
      string.rep(".", width - filled), done, summary.total, rate, eta, summary.failed)
  end
  local function say(text) -- a line for the log, above the bar
    if progress == "bar" then
      log:write("\r\27[K", text, "\n")
      if bar_shown then log:write(bar_line()) end
    else
      log:write(text, "\n")
    end
    log:flush()
  end
  local function report(row)
    if progress == "lines" then
      local what
      if row.error then
        what = fmt("%s %s: %s", row.status, row.file, tostring(row.error))
      else
        local facts = {}
        if row.duration then facts[#facts + 1] = fmt("%.2f s of audio", row.duration) end
        if row.k then facts[#facts + 1] = fmt("k %d", row.k) end
        if row.loss then facts[#facts + 1] = fmt("loss %.6g", row.loss) end
        if row.iterations then facts[#facts + 1] = fmt("%d iterations", row.iterations) end
        if row.seconds then facts[#facts + 1] = fmt("%.2f s", row.seconds) end
        what = fmt("%s %s (%s)", row.status, row.file, table.concat(facts, ", "))
      end
      log:write(fmt("batch: [%d/%d] %s\n", done, summary.total, what))
      log:flush()
    elseif progress == "bar" then
      if row.error then
        say(fmt("batch: %s %s: %s", row.status, row.file, tostring(row.error)))
      end
      log:write(bar_line())
      bar_shown = true
      log:flush()
    end
  end

  -- Workers
  local env = {}
  for key, value in pairs(uv.os_environ()) do
    if key ~= "OPENBLAS_NUM_THREADS" and key ~= "OMP_NUM_THREADS"
        and not (spec.max_memory and key == "TESSERA_MAX_MEMORY") then
      env[#env + 1] = key .. "=" .. value
    end
  end
  env[#env + 1] = "OPENBLAS_NUM_THREADS=" .. threads
  env[#env + 1] = "OMP_NUM_THREADS=" .. threads
  if spec.max_memory then env[#env + 1] = "TESSERA_MAX_MEMORY=" .. tostring(spec.max_memory) end
  table.sort(env)

  local next_input = 1
  local workers = {}
  local fatal = nil
  local stopping = false
  local live = 0
  local signals = {}
  local ticker

  local function record(row)
    rows[#rows + 1] = row
    done = done + 1
    if row.status == "ok" then
      summary.ok = summary.ok + 1
      computed = computed + 1
    elseif row.status == "skipped" then
      summary.skipped = summary.skipped + 1
    else
      summary.failed = summary.failed + 1
      if row.status == "timeout" then summary.timed_out = summary.timed_out + 1 end
      computed = computed + 1
    end
    save_table(false)
    report(row)
  end

  local spawn_worker -- forward

  local function close_handle(h)
    if h and not h:is_closing() then h:close() end
  end

  local function finish_all()
    if ticker then close_handle(ticker) end
    for _, s in ipairs(signals) do close_handle(s) end
  end

  local function stop_all(reason)
    if reason and not fatal then fatal = reason end
    stopping = true
    for _, w in pairs(workers) do
      if not w.exited then
        uv.kill(w.pid, "sigterm")
      end
    end
  end

  local function guard(fn)
    return function(...)
      local ok, err = pcall(fn, ...)
      if not ok then stop_all(message(err)) end
    end
  end

  -- A worker past the timeout on its input: it and its process group (what a script
  -- started) are killed; worker_done records the input.
  local function expire(w, item)
    if stopping or w.job ~= item or w.exited then return end
    w.timed_out = true
    uv.kill(-w.pid, "sigkill")
  end

  local function dispatch(w)
    if w.timed_out then return end
    if stopping or fatal or next_input > #queue then
      if not w.stdin_closed then
        w.stdin_closed = true
        w.stdin:shutdown(function() close_handle(w.stdin) end)
      end
      return
    end
    local item = queue[next_input]
    next_input = next_input + 1
    w.job, w.job_start, w.errtail = item, util.now(), ""
    w.stdin:write(json_value({
      file = item.file, path = item.path, out = out_real .. "/" .. item.out, rel = item.out,
      options = options, script = script, threads = threads,
    }) .. "\n")
    if timeout then
      w.timer:start(math.max(1, math.ceil(timeout * 1000)), 0,
        guard(function() expire(w, item) end))
    end
  end

  -- A worker is done when its process has exited and its pipes are at their end (so its
  -- last words on stderr are in errtail); one killed for its timeout when it has exited (a
  -- process that left its group may still hold the pipes).
  local function worker_done(w)
    if w.finished or w.exit_code == nil or (w.open_pipes > 0 and not w.timed_out) then return end
    w.finished = true
    live = live - 1
    close_handle(w.timer)
    close_handle(w.handle)
    close_handle(w.stdout)
    close_handle(w.stderr)
    close_handle(w.results)
    close_handle(w.stdin)
    local why
    if w.signal ~= 0 then
      why = fmt("killed by signal %d%s", w.signal,
        SIGNAL_NAMES[w.signal] and " (" .. SIGNAL_NAMES[w.signal] .. ")" or "")
    elseif w.exit_code ~= 0 then
      why = fmt("exited with status %d", w.exit_code)
    end
    local tail = w.errtail:gsub("%s+$", ""):match("([^\n]*)$")
    if w.job and not stopping then
      -- The input took its worker down (or past the timeout): its failure, what it left half
      -- written goes, and a new worker takes over.
      local row = { file = w.job.file, output = w.job.out, status = "failed",
                    seconds = util.now() - w.job_start,
                    error = fmt("worker %s%s", why or "exited", tail ~= "" and ": " .. tail or "") }
      if w.timed_out then
        row.status = "timeout"
        row.error = fmt("timed out after %g s (the per-file timeout): its worker was killed",
          timeout)
      end
      rmtree((work_paths(out_real .. "/" .. w.job.out)))
      record(row)
      w.job = nil
    elseif not w.ready and not stopping then
      stop_all(fmt("tessera.batch: a worker (%s) %s before it started%s", host, why or "exited",
        tail ~= "" and ": " .. tail or ""))
    elseif why and not stopping then
      summary.worker_errors[#summary.worker_errors + 1] = fmt("worker %d %s%s", w.pid, why,
        tail ~= "" and ": " .. tail or "")
    end
    if not stopping and not fatal and next_input <= #queue then spawn_worker() end
    if live == 0 then finish_all() end
  end

  local function line_reader(on_line)
    local buffer = ""
    return function(err, data)
      if err then return end
      if data then
        buffer = buffer .. data
        while true do
          local nl = buffer:find("\n", 1, true)
          if not nl then break end
          local line = buffer:sub(1, nl - 1)
          buffer = buffer:sub(nl + 1)
          on_line(line)
        end
      else
        if buffer ~= "" then on_line(buffer) end
        buffer = ""
        on_line(nil)
      end
    end
  end

  function spawn_worker()
    local w = { stdin = uv.new_pipe(false), stdout = uv.new_pipe(false),
                stderr = uv.new_pipe(false), results = uv.new_pipe(false), errtail = "",
                open_pipes = 3 }
    local handle, pid = uv.spawn(host, {
      args = { "-e", "require('tessera.batch').worker()" },
      stdio = { w.stdin, w.stdout, w.stderr, w.results },
      env = env,
      detached = true, -- its own process group: a terminal's Ctrl-C reaches the coordinator only
    }, guard(function(code, signal)
      w.exit_code, w.signal, w.exited = code, signal, true
      worker_done(w)
    end))
    if not handle then
      for _, h in ipairs({ w.stdin, w.stdout, w.stderr, w.results }) do close_handle(h) end
      stop_all(fmt("tessera.batch: cannot start a worker (%s): %s", host, uv_reason(pid)))
      if live == 0 then finish_all() end
      return
    end
    w.handle, w.pid = handle, pid
    if timeout then w.timer = uv.new_timer() end
    workers[pid] = w
    live = live + 1
    local function passthrough(line)
      if line == nil then
        w.open_pipes = w.open_pipes - 1
        worker_done(w)
        return
      end
      w.errtail = (w.errtail .. line .. "\n"):sub(-2000)
      if line ~= "" then say(line) end
    end
    w.stdout:read_start(guard(line_reader(passthrough)))
    w.stderr:read_start(guard(line_reader(passthrough)))
    w.results:read_start(guard(line_reader(function(line)
      if line == nil then
        w.open_pipes = w.open_pipes - 1
        worker_done(w)
        return
      end
      local ok, result = pcall(cjson.decode, line)
      if not ok or type(result) ~= "table" then
        stop_all(fmt("tessera.batch: a worker sent '%s'", line:sub(1, 200)))
        return
      end
      if w.timed_out then return end -- a result that came too late: the input timed out
      if result.ready then
        w.ready = true
      elseif w.job then
        local row = denull(result)
        w.job = nil
        if w.timer then w.timer:stop() end
        -- A file that failed while the batch was stopping was cut short by the stop (the
        -- worker's own "interrupted!"), not by its content: leave it for the rerun.
        if not (stopping and row.status == "failed") then record(row) end
      end
      dispatch(w)
    end)))
  end

  -- SIGPIPE (a worker gone while we write its next job) is caught and ignored: the worker's
  -- exit is what reports it.
  for _, name in ipairs({ "sigint", "sigterm", "sighup", "sigpipe" }) do
    local s = uv.new_signal()
    s:start(name, guard(function()
      if name ~= "sigpipe" and not summary.interrupted then
        summary.interrupted = name:upper()
        stop_all()
      end
    end))
    signals[#signals + 1] = s
  end
  if progress == "bar" then
    ticker = uv.new_timer()
    ticker:start(250, 250, guard(function()
      log:write(bar_line())
      bar_shown = true
      log:flush()
    end))
  end

  for _ = 1, math.min(jobs, #inputs) do
    if not fatal then spawn_worker() end
  end
  if live == 0 then finish_all() end
  uv.run("default")
  if bar_shown then
    log:write(bar_line(), "\n")
    log:flush()
  end
  summary.seconds = util.now() - t_start
  save_table(true)
  if fatal then error(fatal, 0) end
  return summary
end

return batch
