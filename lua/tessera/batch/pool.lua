-- tessera.batch.pool: the worker processes of a batch. Each is the bin/tessera host running
-- tessera.batch's worker loop, spawned through luv in its own process group; it takes one
-- job at a time (a JSON line on its stdin) and answers one row (a JSON line on descriptor
-- 3). A worker that dies takes only its input down: that input is recorded as failed, what
-- it half wrote goes, and a new worker takes over. Past the per-input timeout a worker and
-- its process group are killed. SIGINT, SIGTERM and SIGHUP stop the batch: the workers get
-- SIGTERM and the inputs they were cut short on are left for the rerun.
local uv = require "luv"
local core = require "tessera.core"
local fs = require "tessera.fs"
local json = require "tessera.json"
local worker = require "tessera.batch.worker"

local util = core.util
local ipairs, pairs, pcall, setmetatable, type = ipairs, pairs, pcall, setmetatable, type
local math = math
local fmt = string.format

local pool = {}
local Pool = {}
Pool.__index = Pool

local SIGNAL_NAMES = { [1] = "SIGHUP", [2] = "SIGINT", [6] = "SIGABRT", [9] = "SIGKILL",
  [11] = "SIGSEGV", [15] = "SIGTERM", [7] = "SIGBUS", [8] = "SIGFPE", [4] = "SIGILL" }

-- pool.new(p) -> a pool, not started. p: host (the executable), env (a list of
-- "NAME=value"), jobs (workers at most), timeout (seconds per input, or nil), queue (the
-- inputs in the order they go out), out (the real output folder), job(item) (the job table
-- sent for an input), on_row(row) (a finished input), say(line) (a worker's output line),
-- on_tick (called every 250 ms while the pool runs, or nil).
-- After run: fatal (the message that stopped the batch, or nil), interrupted (the signal's
-- name, or false), worker_errors (workers that exited badly between inputs).
function pool.new(p)
  return setmetatable({ host = p.host, env = p.env, jobs = p.jobs, timeout = p.timeout,
                        queue = p.queue, out = p.out, job = p.job, on_row = p.on_row,
                        say = p.say, on_tick = p.on_tick, workers = {}, next_input = 1,
                        live = 0, handles = {}, fatal = nil, stopping = false,
                        interrupted = false, worker_errors = {} }, Pool)
end

local function close_handle(h)
  if h and not h:is_closing() then h:close() end
end

-- The pool's own handles (signals, ticker) go once the last worker has.
function Pool:finish_all()
  for _, h in ipairs(self.handles) do close_handle(h) end
end

-- Stops handing out inputs and asks every worker to end; reason (if any) is fatal.
function Pool:stop(reason)
  if reason and not self.fatal then self.fatal = reason end
  self.stopping = true
  for _, w in pairs(self.workers) do
    if not w.exited then uv.kill(w.pid, "sigterm") end
  end
end

-- A callback that stops the pool instead of raising inside libuv's loop.
function Pool:guard(fn)
  return function(...)
    local ok, err = pcall(fn, ...)
    if not ok then self:stop(worker.message(err)) end
  end
end

-- A worker past the timeout on its input: it and its process group (what a script started)
-- are killed; worker_done records the input.
function Pool:expire(w, item)
  if self.stopping or w.job ~= item or w.exited then return end
  w.timed_out = true
  uv.kill(-w.pid, "sigkill")
end

-- Gives a worker its next input, or closes its stdin when there is none.
function Pool:dispatch(w)
  if w.timed_out then return end
  if self.stopping or self.fatal or self.next_input > #self.queue then
    if not w.stdin_closed then
      w.stdin_closed = true
      w.stdin:shutdown(function() close_handle(w.stdin) end)
    end
    return
  end
  local item = self.queue[self.next_input]
  self.next_input = self.next_input + 1
  w.job, w.job_start, w.errtail = item, util.now(), ""
  w.stdin:write(json.encode(self.job(item)) .. "\n")
  if self.timeout then
    w.timer:start(math.max(1, math.ceil(self.timeout * 1000)), 0,
      self:guard(function() self:expire(w, item) end))
  end
end

-- Why a worker ended ("killed by signal 9 (SIGKILL)", "exited with status 3"), or nil.
local function exit_reason(w)
  if w.signal ~= 0 then
    return fmt("killed by signal %d%s", w.signal,
      SIGNAL_NAMES[w.signal] and " (" .. SIGNAL_NAMES[w.signal] .. ")" or "")
  elseif w.exit_code ~= 0 then
    return fmt("exited with status %d", w.exit_code)
  end
end

-- The row of an input whose worker died on it (or was killed past the timeout).
function Pool:lost_row(w, why, tail)
  local row = { file = w.job.file, output = w.job.out, status = "failed",
                seconds = util.now() - w.job_start,
                error = fmt("worker %s%s", why or "exited", tail ~= "" and ": " .. tail or "") }
  if w.timed_out then
    row.status = "timeout"
    row.error = fmt("timed out after %g s (the per-file timeout): its worker was killed",
      self.timeout)
  end
  return row
end

-- A worker is done when its process has exited and its pipes are at their end (so its last
-- words on stderr are in errtail); one killed for its timeout when it has exited (a process
-- that left its group may still hold the pipes).
function Pool:worker_done(w)
  if w.finished or w.exit_code == nil or (w.open_pipes > 0 and not w.timed_out) then return end
  w.finished = true
  self.live = self.live - 1
  local handles = { w.timer, w.handle, w.stdout, w.stderr, w.results, w.stdin } -- timer may be nil
  for i = 1, 6 do close_handle(handles[i]) end
  local why = exit_reason(w)
  local tail = w.errtail:gsub("%s+$", ""):match("([^\n]*)$")
  if w.job and not self.stopping then
    -- The input took its worker down: its failure, and what it left half written goes.
    local row = self:lost_row(w, why, tail)
    -- its temporary folder, and its lock (a dead process holds no lock: the file is litter)
    local tmp, _, lock = worker.work_paths(self.out .. "/" .. w.job.out)
    fs.remove_tree(tmp)
    fs.remove_tree(lock)
    self.on_row(row)
    w.job = nil
  elseif not w.ready and not self.stopping then
    self:stop(fmt("tessera.batch: a worker (%s) %s before it started%s", self.host,
      why or "exited", tail ~= "" and ": " .. tail or ""))
  elseif why and not self.stopping then
    self.worker_errors[#self.worker_errors + 1] = fmt("worker %d %s%s", w.pid, why,
      tail ~= "" and ": " .. tail or "")
  end
  if not self.stopping and not self.fatal and self.next_input <= #self.queue then self:spawn() end
  if self.live == 0 then self:finish_all() end
end

-- A luv read callback that hands on_line each whole line, then nil at the end.
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

-- One of the worker's pipes is at its end.
function Pool:pipe_closed(w)
  w.open_pipes = w.open_pipes - 1
  self:worker_done(w)
end

-- A line of the worker's stdout or stderr: shown, and kept for its obituary.
function Pool:passthrough(w, line)
  if line == nil then return self:pipe_closed(w) end
  w.errtail = (w.errtail .. line .. "\n"):sub(-2000)
  if line ~= "" then self.say(line) end
end

-- A line on the worker's results descriptor: "ready", or the row of its current input.
function Pool:result(w, line)
  if line == nil then return self:pipe_closed(w) end
  local ok, result = pcall(json.decode, line)
  if not ok or type(result) ~= "table" then
    self:stop(fmt("tessera.batch: a worker sent '%s'", line:sub(1, 200)))
    return
  end
  if w.timed_out then return end -- a result that came too late: the input timed out
  if result.ready then
    w.ready = true
  elseif w.job then
    w.job = nil
    if w.timer then w.timer:stop() end
    -- A file that failed while the batch was stopping was cut short by the stop (the
    -- worker's own "interrupted!"), not by its content: leave it for the rerun.
    if not (self.stopping and result.status == "failed") then self.on_row(result) end
  end
  self:dispatch(w)
end

-- Starts a worker and reads its three pipes.
function Pool:spawn()
  local w = { stdin = uv.new_pipe(false), stdout = uv.new_pipe(false),
              stderr = uv.new_pipe(false), results = uv.new_pipe(false), errtail = "",
              open_pipes = 3 }
  local handle, pid = uv.spawn(self.host, {
    -- The coordinator's pid: the worker dies with it (util.die_with_parent).
    args = { "-e", fmt("require('tessera.batch').worker(%d)", uv.os_getpid()) },
    stdio = { w.stdin, w.stdout, w.stderr, w.results },
    env = self.env,
    detached = true, -- its own process group: a terminal's Ctrl-C reaches the coordinator only
  }, self:guard(function(code, signal)
    w.exit_code, w.signal, w.exited = code, signal, true
    self:worker_done(w)
  end))
  if not handle then
    for _, h in ipairs({ w.stdin, w.stdout, w.stderr, w.results }) do close_handle(h) end
    self:stop(fmt("tessera.batch: cannot start a worker (%s): %s", self.host, fs.reason(pid)))
    if self.live == 0 then self:finish_all() end
    return
  end
  w.handle, w.pid = handle, pid
  if self.timeout then w.timer = uv.new_timer() end
  self.workers[pid] = w
  self.live = self.live + 1
  w.stdout:read_start(self:guard(line_reader(function(line) self:passthrough(w, line) end)))
  w.stderr:read_start(self:guard(line_reader(function(line) self:passthrough(w, line) end)))
  w.results:read_start(self:guard(line_reader(function(line) self:result(w, line) end)))
end

-- SIGINT, SIGTERM and SIGHUP stop the batch; SIGPIPE (a worker gone while we write its next
-- job) is caught and ignored: the worker's exit is what reports it.
function Pool:watch_signals()
  for _, name in ipairs({ "sigint", "sigterm", "sighup", "sigpipe" }) do
    local s = uv.new_signal()
    s:start(name, self:guard(function()
      if name ~= "sigpipe" and not self.interrupted then
        self.interrupted = name:upper()
        self:stop()
      end
    end))
    self.handles[#self.handles + 1] = s
  end
end

-- Runs the queue to its end (or to a stop) in libuv's loop.
function Pool:run()
  self:watch_signals()
  if self.on_tick then
    local ticker = uv.new_timer()
    ticker:start(250, 250, self:guard(self.on_tick))
    self.handles[#self.handles + 1] = ticker
  end
  for _ = 1, math.min(self.jobs, #self.queue) do
    if not self.fatal then self:spawn() end
  end
  if self.live == 0 then self:finish_all() end
  uv.run("default")
end

return pool
