-- tessera.batch.run: the coordinator. It checks the batch's spec, lists and shards the
-- inputs, hands them to a pool of worker processes (tessera.batch.pool), counts and shows
-- what comes back, and keeps the results tables up to date on disk.
local core = require "tessera.core"
local uv = require "luv"
local fs = require "tessera.fs"
local inputs = require "tessera.batch.inputs"
local options = require "tessera.batch.options"
local pool = require "tessera.batch.pool"
local progress = require "tessera.batch.progress"
local results = require "tessera.batch.results"
local worker = require "tessera.batch.worker"

local util = core.util
local error, ipairs, pairs, pcall, tostring, type = error, ipairs, pairs, pcall, tostring, type
local math, package, table = math, package, table
local fmt = string.format

local run = {}

local function fail(msg, ...)
  error(fmt(msg, ...), 0)
end

-- run.host() (batch.host) -> the host that runs workers: this process's executable when it
-- is bin/tessera (or the sanitized build), else the bin/tessera beside the folder this
-- module came from: a checkout's lua/, or an install's share/lua/5.4 (make install, luarocks).
function run.host()
  if package.preload["tessera.host"] then return uv.exepath() end
  local here = package.searchpath("tessera.batch.run", package.path)
  local root = here and (here:match("^(.-)/?share/lua/5%.4/tessera/batch/run%.lua$")
    or here:match("^(.-)/?lua/tessera/batch/run%.lua$"))
  if root then
    local exe = uv.fs_realpath((root == "" and "." or root) .. "/bin/tessera")
    if exe then return exe end
  end
  fail("tessera.batch: cannot find the bin/tessera host to run workers (build it with make)")
end

-- run.cores() (batch.cores) -> the cores this process may use.
function run.cores()
  return uv.available_parallelism and uv.available_parallelism() or #uv.cpu_info()
end

-- The spec's settings, checked: options, jobs, threads, timeout, script, progress, host.
local function check_spec(spec)
  if type(spec.out) ~= "string" or spec.out == "" then
    fail("tessera.batch: out must be a folder name")
  end
  local plan = { options = options.check(spec.options) }
  plan.cores = run.cores()
  plan.jobs = spec.jobs or plan.cores
  if math.type(plan.jobs) ~= "integer" or plan.jobs < 1 then
    fail("tessera.batch: jobs must be an integer >= 1, got %s", tostring(plan.jobs))
  end
  if spec.threads ~= nil and (math.type(spec.threads) ~= "integer" or spec.threads < 1
      or spec.threads > 64) then
    fail("tessera.batch: threads must be an integer in 1..64, got %s", tostring(spec.threads))
  end
  local timeout = spec.timeout
  if timeout ~= nil
      and (type(timeout) ~= "number" or timeout ~= timeout or timeout <= 0
        or timeout == math.huge) then
    fail("tessera.batch: timeout must be a number of seconds > 0, got %s", tostring(timeout))
  end
  plan.timeout = timeout
  if spec.script then
    plan.script = uv.fs_realpath(spec.script)
    if not plan.script then fail("tessera.batch: cannot open script '%s'", tostring(spec.script)) end
    worker.load_script(plan.script) -- a script that does not load fails here, not once per file
  end
  plan.progress = spec.progress or (uv.guess_handle(2) == "tty" and "bar" or "lines")
  if plan.progress ~= "bar" and plan.progress ~= "lines" and plan.progress ~= "none" then
    fail("tessera.batch: progress must be bar, lines or none, got '%s'", tostring(plan.progress))
  end
  plan.host = spec.host or run.host()
  return plan
end

-- Makes the output folder and lists this machine's inputs. Returns them, the output
-- folder's real path and the results tables' paths (without extension).
local function list_inputs(spec)
  local made, err = fs.mkdir_p(spec.out)
  if not made then fail("tessera.batch: %s", err) end
  local out_real = uv.fs_realpath(spec.out)
  local all = inputs.list(spec.source, { exclude = out_real })
  if #all == 0 then
    fail("tessera.batch: no audio files in '%s' (looked for .%s)", spec.source,
      table.concat(inputs.EXTENSIONS, ", ."))
  end
  if spec.shard then
    return inputs.shard(all, spec.shard[1], spec.shard[2]), out_real,
      fmt("%s/results.shard-%d-of-%d", out_real, spec.shard[1], spec.shard[2])
  end
  return all, out_real, out_real .. "/results"
end

-- Workers take the largest files first, so that the last ones to finish are small and no
-- worker idles long at the end (the results tables are sorted by file anyway).
local function largest_first(list)
  local queue, sizes = {}, {}
  for i, item in ipairs(list) do
    queue[i] = item
    local st = uv.fs_stat(item.path)
    sizes[item] = st and st.size or 0
  end
  table.sort(queue, function(a, b)
    if sizes[a] ~= sizes[b] then return sizes[a] > sizes[b] end
    return a.file < b.file
  end)
  return queue
end

-- Each input's seconds of audio, from its header (tessera.audio.info: no decoding), for the
-- progress display's ETA; an unreadable one is left out (its worker will say why).
local function audio_seconds(list)
  local seconds = {}
  for _, item in ipairs(list) do
    local ok, info = pcall(core.audio.info, item.path)
    if ok and info.duration > 0 then seconds[item.file] = info.duration end
  end
  return seconds
end

-- The workers' environment: this one, with their BLAS threads and memory cap.
local function worker_env(spec, threads)
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
  return env
end

-- The results tables' writer: save(force) writes both after each result, at most once a
-- second for tables past 1000 rows, and always when forced.
local function table_writer(rows, csv_path, json_path)
  local last_write = -math.huge
  return function(force)
    local t = util.now()
    if force or #rows <= 1000 or t - last_write >= 1 then
      results.write_table(rows, csv_path, json_path)
      last_write = t
    end
  end
end

-- Adds a finished input to the summary.
local function count(summary, row)
  summary.rows[#summary.rows + 1] = row
  if row.status == "ok" then
    summary.ok = summary.ok + 1
  elseif row.status == "skipped" then
    summary.skipped = summary.skipped + 1
  else
    summary.failed = summary.failed + 1
    if row.status == "timeout" then summary.timed_out = summary.timed_out + 1 end
  end
end

-- run.run(spec) (batch.run) -> summary. spec: source (folder or manifest), out (output
-- folder), options (batch.options), script (path or nil), jobs (workers; default the cores,
-- at most one per input), threads (per worker; default cores // jobs, at least 1), shard = {i, n} or nil,
-- max_memory (TESSERA_MAX_MEMORY for the workers, e.g. "512M"), timeout (seconds a worker
-- may spend on one input: past it the worker and its children are killed, the input's row
-- has status "timeout" and counts as failed, its partial outputs are removed and a new
-- worker goes on; default none), progress ("bar", "lines", "none"; default bar on a
-- terminal, else lines), host (the executable for workers).
-- Writes out/results.csv and out/results.json (out/results.shard-I-of-N.* with a shard)
-- whenever a result comes in (at most once a second past 1000 rows) and at the end.
-- summary = {total, ok, skipped, failed, timed_out (those of failed), interrupted, rows,
-- seconds, csv, json, threads, jobs, worker_errors}.
function run.run(spec)
  if type(spec) ~= "table" then
    error(fmt("bad argument #1 to 'run' (table expected, got %s)", type(spec)), 2)
  end
  local plan = check_spec(spec)
  local list, out_real, table_base = list_inputs(spec)
  -- The cores shared by the workers there will be: one input (or two) gets them all.
  if not spec.jobs then plan.jobs = math.max(1, math.min(plan.jobs, #list)) end
  plan.threads = spec.threads or math.min(64, math.max(1, plan.cores // plan.jobs))
  local summary = { total = #list, ok = 0, skipped = 0, failed = 0, timed_out = 0,
                    interrupted = false, rows = {}, csv = table_base .. ".csv",
                    json = table_base .. ".json", jobs = plan.jobs, threads = plan.threads,
                    worker_errors = {} }
  local t_start = util.now()
  local save_table = table_writer(summary.rows, summary.csv, summary.json)
  save_table(true)
  if #list == 0 then
    summary.seconds = 0
    return summary
  end

  local shown = progress.new(plan.progress, summary, t_start,
    plan.progress == "bar" and audio_seconds(list) or nil)
  local workers = pool.new {
    host = plan.host, env = worker_env(spec, plan.threads), jobs = plan.jobs,
    timeout = plan.timeout, queue = largest_first(list), out = out_real,
    job = function(item)
      return { file = item.file, path = item.path, out = out_real .. "/" .. item.out,
               rel = item.out, options = plan.options, script = plan.script,
               threads = plan.threads }
    end,
    on_row = function(row)
      count(summary, row)
      save_table(false)
      shown:report(row)
    end,
    say = function(line) shown:say(line) end,
    on_tick = plan.progress == "bar" and function() shown:tick() end or nil,
  }
  workers:run()
  shown:finish()
  summary.interrupted = workers.interrupted
  summary.worker_errors = workers.worker_errors
  summary.seconds = util.now() - t_start
  save_table(true)
  if workers.fatal then error(workers.fatal, 0) end
  return summary
end

return run
