-- tessera.batch.worker: the work on one input, inside a worker process. The built-in
-- decomposition (or the user's script) runs in a hidden folder beside the input's output
-- folder, a stamp (what the outputs are a function of) is written last, and the folder is
-- renamed into place; an input whose folder holds a matching stamp is skipped. The worker's
-- loop reads jobs on stdin and answers a row per job on descriptor 3.
local core = require "tessera.core"
local uv = require "luv"
local fs = require "tessera.fs"
local json = require "tessera.json"
local file_io = require "tessera.files"
local options = require "tessera.batch.options"
local results = require "tessera.batch.results"

local util = core.util
local assert, error, ipairs, pairs, pcall, tonumber = assert, error, ipairs, pairs, pcall, tonumber
local tostring, type, loadfile, collectgarbage = tostring, type, loadfile, collectgarbage
local io, math, os, table = io, math, os, table
local fmt = string.format

local worker = {}

local STAMP = "stamp.json"
local STAMP_FORMAT = "tessera.batch/1"

local function fail(msg, ...)
  error(fmt(msg, ...), 0)
end

local function mkdir_p(path)
  local ok, err = fs.mkdir_p(path)
  if not ok then fail("tessera.batch: %s", err) end
end

local rmtree = fs.remove_tree

local scripts = {} -- path -> function, per worker

function worker.load_script(path)
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
  local status = fs.read_file("/proc/self/status")
  local kb = status and status:match("VmHWM:%s*(%d+) kB")
  return kb and math.tointeger(tonumber(kb)) * 1024 or nil
end

-- The stamp of an input: what its outputs are a function of.
local function stamp_of(input_sha, job)
  local script_sha = job.script and util.sha256_file(job.script) or ""
  return util.sha256(table.concat({ STAMP_FORMAT, core.version, json.encode(job.options),
    input_sha, script_sha }, "\0"))
end

-- The stamp file of a complete output folder whose files are all there, or nil.
local function valid_stamp(dir, stamp)
  local text = fs.read_file(dir .. "/" .. STAMP)
  if not text then return nil end
  local ok, info = pcall(json.decode, text)
  if not ok or type(info) ~= "table" or info.format ~= STAMP_FORMAT or info.stamp ~= stamp
      or type(info.files) ~= "table" or type(info.row) ~= "table" then
    return nil
  end
  for name, size in pairs(info.files) do
    local st = uv.fs_stat(dir .. "/" .. name)
    if not st or st.size ~= size then return nil end
  end
  return info
end

-- An error object as one line: the message without a "file.lua:12: " position.
function worker.message(err)
  local text = type(err) == "string" and err or tostring(err)
  text = text:gsub("^[^\n:]+:%d+: ", "", 1)
  return (text:gsub("%s*\n.*", ""))
end

-- The built-in work: load, STFT, NMF, sort, save (batch.options's, as `tessera decompose`
-- does). Returns the row's figures and the stage timings.
local function decompose(path, dir, o, threads, input_sha)
  local tessera = require "tessera"
  local now = util.now
  local t0 = now()
  local a = options.load(path, o)
  if a:peak() == 0 then fail("tessera.batch: '%s' is silent (every sample is 0)", path) end
  local t1 = now()
  -- The complex spectrogram only when component audio needs its phase; else the fused
  -- magnitude (one pass, no complex matrix; the same numbers), with the geometry the model
  -- records.
  local S = o.audio and tessera.stft(a, { n_fft = o.n_fft, hop = o.hop })
  local V = S or tessera.stft(a, { n_fft = o.n_fft, hop = o.hop, magnitude = true, threads = threads })
  local t2 = now()
  local fit = options.nmf(o, threads)
  fit.progress = false
  local m = options.tidy(tessera.nmf(V, fit), o)
  if not S then m.spectrogram = { sr = a.sr, n_fft = o.n_fft, hop = o.hop, window = "hann" } end
  m.source = options.source(path, input_sha)
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

-- Where an input's outputs are built (tmp), where its previous folder waits while the
-- new one is swapped in (old), and the lock a worker holds meanwhile: hidden names beside
-- its folder `out`.
function worker.work_paths(out)
  local parent, base = fs.dirname(out), fs.basename(out)
  return parent .. "/." .. base .. ".tmp", parent .. "/." .. base .. ".old",
    parent .. "/." .. base .. ".lock"
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

-- The steps of worker.process, in order.

-- Raises "tessera.batch: cannot open 'x': reason" unless the input can be read, and
-- "tessera.batch: cannot read 'x': not a regular file (a FIFO)" for what is not a file
-- (hashing or decoding it would never end). util.check_file never waits on the path.
local function check_readable(path)
  local ok, why = util.check_file(path)
  if not ok then fail("tessera.batch: %s", why) end
end

-- The row of an input whose outputs are there already: as it was, status "skipped".
local function mark_skipped(row, found)
  for k, v in pairs(found.row) do row[k] = v end
  row.status = "skipped"
end

-- The lock on an output folder (".<name>.lock" beside it), held while a worker writes it:
-- a second process on the same output (a resume while a killed coordinator's worker still
-- runs, two shards) is refused instead of writing into the same temporary folder. The lock
-- dies with its process, so a kill -9 leaves nothing locked.
local function lock_output(out)
  mkdir_p(fs.dirname(out))
  local lock, why = util.lock(select(3, worker.work_paths(out)))
  if lock then return lock end
  if why == "busy" then fail("'%s' is being written by another tessera process", out) end
  fail("%s", why)
end

-- The input's parent folder made; an empty tmp, no old (left by a worker that was killed).
local function fresh_folders(out, tmp, old)
  mkdir_p(fs.dirname(out))
  rmtree(tmp)
  rmtree(old)
  mkdir_p(tmp)
end

-- The script's work, or the built-in decomposition, into tmp. Returns the row's figures
-- (checked: numbers or nothing) and the stage timings (built-in work only).
local function do_work(job, tmp, input_sha)
  local figures, stages
  if job.script then
    local info = worker.load_script(job.script)(job.path, tmp, job.options)
    if info ~= nil and type(info) ~= "table" then
      fail("script returned a %s (expected a table or nothing)", type(info))
    end
    figures = info or {}
  else
    figures, stages = decompose(job.path, tmp, job.options, job.threads, input_sha)
  end
  for _, c in ipairs({ "duration", "k", "loss", "iterations" }) do
    local v = figures[c]
    if v ~= nil and type(v) ~= "number" then
      fail("script returned %s = %s (a number expected)", c, tostring(v))
    end
  end
  return figures, stages
end

local function fill_row(row, figures, stages, t0)
  for _, c in ipairs({ "duration", "k", "loss", "iterations" }) do row[c] = figures[c] end
  row.stages = stages
  row.status = "ok"
  row.seconds = util.now() - t0
  row.peak_memory = peak_memory()
end

-- The stamp, written last: the files (and sizes) it vouches for and the row they make.
local function write_stamp(tmp, job, stamp, input_sha, row)
  local files = {}
  list_files(tmp, "", files)
  local stored = {}
  for k, v in pairs(row) do stored[k] = v end
  file_io.write_atomic(tmp .. "/" .. STAMP, json.encode({
    format = STAMP_FORMAT, stamp = stamp, version = core.version, input = job.file,
    input_sha256 = input_sha, options = job.options, files = files, row = stored,
  }) .. "\n", "tessera.batch", 0)
end

-- Swaps the new folder in; an old one (other options, older input) goes.
local function swap_in(tmp, out, old)
  if uv.fs_stat(out) then
    local moved, merr = os.rename(out, old)
    if not moved then fail("cannot replace '%s': %s", out, tostring(merr)) end
  end
  local renamed, rerr = os.rename(tmp, out)
  if not renamed then fail("cannot write '%s': %s", out, tostring(rerr)) end
  util.sync_folder_of(out)
  rmtree(old)
end

-- worker.process(job) (batch.process) -> row: the whole work on one input. job = {file, path, out (absolute
-- folder), options (complete), script (absolute path or nil), threads}. Never raises for a
-- bad input: the row's status is "ok", "skipped" (a matching stamp was found) or "failed"
-- with the error.
function worker.process(job)
  local t0 = util.now()
  local row = { file = job.file, output = job.rel }
  local tmp, old = worker.work_paths(job.out)
  local ok, err = pcall(function()
    check_readable(job.path)
    local input_sha = util.sha256_file(job.path)
    local stamp = stamp_of(input_sha, job)
    local found = valid_stamp(job.out, stamp)
    if found then return mark_skipped(row, found) end
    local lock <close> = lock_output(job.out) -- luacheck: ignore 211 (held to the block's end)
    fresh_folders(job.out, tmp, old)
    local figures, stages = do_work(job, tmp, input_sha)
    fill_row(row, figures, stages, t0)
    write_stamp(tmp, job, stamp, input_sha, row)
    swap_in(tmp, job.out, old)
  end)
  if not ok then
    rmtree(tmp)
    row = { file = job.file, output = job.rel, status = "failed", error = worker.message(err),
            seconds = util.now() - t0, peak_memory = peak_memory() }
  end
  return row
end

-- The worker's loop (bin/tessera -e "require('tessera.batch').worker()"): a job per line
-- of stdin (JSON), a result per line on file descriptor 3 (so that what a user script
-- prints cannot be taken for a result); "ready" first. Ends at the end of stdin. ppid (the
-- coordinator's pid, when given): the worker dies with it (PR_SET_PDEATHSIG), and checks it
-- before each job.
function worker.loop(ppid)
  if ppid then util.die_with_parent(ppid) end
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
    if ppid and not util.parent_alive(ppid) then os.exit(1) end
    local job = json.decode(line)
    local row = worker.process(job)
    send(results.json_row(row) .. "\n")
    collectgarbage()
  end
  out:close()
  uv.run("default")
end

return worker
