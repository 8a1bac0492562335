-- tessera.batch.progress: what a batch tells its user on stderr while it runs. "bar": one
-- line redrawn in place (done/total, seconds of audio decomposed per second, ETA, failures)
-- with failures and the workers' own lines above it; "lines": one line per input; "none":
-- nothing. The ETA counts audio seconds, not files: the work of an input grows with its
-- length, so twenty files with a three-minute one still running are not "19/20, ETA 0s".
-- And progress.steps: the same bar over the steps of one long job (decompose's component files).
local util = require("tessera.core").util

local pairs, setmetatable, tostring = pairs, setmetatable, tostring
local io, math, string, table = io, math, string, table
local fmt = string.format

local progress = {}
local Progress = {}
Progress.__index = Progress

-- "42s", "3m05s", "2h07m".
local function clock(seconds)
  seconds = math.floor(seconds + 0.5)
  if seconds < 60 then return fmt("%ds", seconds) end
  if seconds < 3600 then return fmt("%dm%02ds", seconds // 60, seconds % 60) end
  return fmt("%dh%02dm", seconds // 3600, seconds % 3600 // 60)
end

-- progress.new(mode, summary, t_start [, seconds]) -> the display of a batch whose counts
-- are summary's. seconds: input file -> its seconds of audio (from its header,
-- tessera.audio.info); an input missing there counts as the mean of the others (a file of
-- one second when none is known).
function progress.new(mode, summary, t_start, seconds)
  seconds = seconds or {}
  local known, sum = 0, 0
  for _, s in pairs(seconds) do known, sum = known + 1, sum + s end
  local self = setmetatable({ mode = mode, summary = summary, t_start = t_start, log = io.stderr,
                              done = 0, computed = 0, shown = false, seconds = seconds,
                              mean = known > 0 and sum / known or 1,
                              audio_done = 0, audio_computed = 0 }, Progress)
  -- The total over every input, those without a known length at the mean.
  self.audio_total = sum + (summary.total - known) * self.mean
  return self
end

function Progress:audio_of(file)
  return self.seconds[file] or self.mean
end

-- "[######..................]", done of total.
local function bar(done, total)
  local width = 24
  local filled = math.floor(width * done / total)
  return "[" .. string.rep("#", filled) .. string.rep(".", width - filled) .. "]"
end

function Progress:bar_line()
  local s = self.summary
  local elapsed = util.now() - self.t_start
  local rate = self.audio_computed > 0 and elapsed > 0 and self.audio_computed / elapsed or 0
  local left = math.max(0, self.audio_total - self.audio_done)
  local eta = rate > 0 and clock(left / rate) or "?"
  return fmt("\r%s %d/%d  %.1f s of audio/s  ETA %s  failed %d\27[K", bar(self.done, s.total),
    self.done, s.total, rate, eta, s.failed)
end

-- Redraws the bar.
function Progress:tick()
  self.log:write(self:bar_line())
  self.shown = true
  self.log:flush()
end

-- A line for the log, above the bar.
function Progress:say(text)
  if self.mode == "bar" then
    self.log:write("\r\27[K", text, "\n")
    if self.shown then self.log:write(self:bar_line()) end
  else
    self.log:write(text, "\n")
  end
  self.log:flush()
end

-- "ok drums/amen.wav (1.75 s of audio, k 4, loss 12.5, 200 iterations, 0.41 s)".
local function row_line(row)
  if row.error then return fmt("%s %s: %s", row.status, row.file, tostring(row.error)) end
  local facts = {}
  if row.duration then facts[#facts + 1] = fmt("%.2f s of audio", row.duration) end
  if row.k then facts[#facts + 1] = fmt("k %d", row.k) end
  if row.loss then facts[#facts + 1] = fmt("loss %.6g", row.loss) end
  if row.iterations then facts[#facts + 1] = fmt("%d iterations", row.iterations) end
  if row.seconds then facts[#facts + 1] = fmt("%.2f s", row.seconds) end
  return fmt("%s %s (%s)", row.status, row.file, table.concat(facts, ", "))
end

-- Counts a finished input (a skipped one is done but not computed) and shows it.
function Progress:report(row)
  self.done = self.done + 1
  local audio = self:audio_of(row.file)
  self.audio_done = self.audio_done + audio
  if row.status ~= "skipped" then
    self.computed = self.computed + 1
    self.audio_computed = self.audio_computed + audio
  end
  if self.mode == "lines" then
    self.log:write(fmt("batch: [%d/%d] %s\n", self.done, self.summary.total, row_line(row)))
    self.log:flush()
  elseif self.mode == "bar" then
    if row.error then
      self:say(fmt("batch: %s %s: %s", row.status, row.file, tostring(row.error)))
    end
    self:tick()
  end
end

-- The bar's last state on a line of its own, once the batch is over.
function Progress:finish()
  if self.shown then
    self.log:write(self:bar_line(), "\n")
    self.log:flush()
  end
end

local Steps = {}
Steps.__index = Steps

-- progress.steps(total, what [, opts]) -> a bar over total steps of one job, on stderr when
-- it is a terminal: "[####....] 3/7 WAV files written  ETA 4s", drawn from the first step
-- that ends a second or more after the start (a job quicker than that shows nothing), and
-- left on its own line by :finish() or removed by :clear(). opts: log (a file to draw on;
-- then always drawn), now (the clock, for a spec).
function progress.steps(total, what, opts)
  opts = opts or {}
  local log = opts.log
  if not log and require("luv").guess_handle(2) == "tty" then log = io.stderr end
  local now = opts.now or util.now
  return setmetatable({ total = total, what = what, log = log, now = now, t_start = now(),
                        done = 0, shown = false }, Steps)
end

-- done steps of total so far, with a note after the ETA (a fit's loss): the bar redrawn,
-- once a second has passed.
function Steps:update(done, note)
  self.done = done
  if not self.log or done < 1 then return end
  local elapsed = self.now() - self.t_start
  if elapsed < 1 and not self.shown then return end
  local eta = clock(math.max(0, self.total - done) * elapsed / done)
  self.log:write(fmt("\r%s %d/%d %s  ETA %s%s\27[K", bar(math.min(done, self.total), self.total),
    done, self.total, self.what, eta, note and "  " .. note or ""))
  self.log:flush()
  self.shown = true
end

-- One more step done.
function Steps:step()
  self:update(self.done + 1)
end

-- The bar's last state kept on its line (nothing when it was never drawn).
function Steps:finish()
  if self.shown then
    self.log:write("\n")
    self.log:flush()
  end
end

-- The bar removed from its line (nothing when it was never drawn).
function Steps:clear()
  if self.shown then
    self.log:write("\r\27[K")
    self.log:flush()
  end
end

return progress
