-- tessera.live: live coding with recipes. Renders a recipe, then watches it and its
-- sources and renders again after every save, printing one line per render: its number,
-- what changed, how long it took, and the render's summary (or the error, in which case
-- the last good output stays where it is: mosaic writes atomically). File events come from
-- libuv (Debian's lua-luv), not from polling: each watched folder has one fs_event handle
-- (a folder, not the file, because editors that save by writing a new file and renaming it
-- over the old one replace the file's inode) and events are filtered by name. Events
-- arriving within `debounce` of each other make one render, and a save that leaves the
-- recipe and its sources as they were renders nothing. Decompositions come from the cache,
-- so a change of gains or layers re-renders without NMF.
--
--   tessera live recipe.lua -o out.wav [--play]
--
-- Render lines look like
--   #1 [start] 2731 ms: wrote /music/out.wav: 10.00 s at 22050 Hz, ...; 2.73 s
--   #2 [recipe.lua] 48 ms: wrote /music/out.wav: 10.00 s at 22050 Hz, ...; 0.05 s
--   #3 [recipe.lua] error: tessera.mosaic: recipe.lua:7: '}' expected ...; keeping
--      /music/out.wav (#2)                                       (one line, folded here)
local core = require "tessera.core"
local mosaic = require "tessera.mosaic"
local fs = require "tessera.fs"
local sandbox = require "tessera.sandbox"

local error, ipairs, pairs, pcall, tostring, type = error, ipairs, pairs, pcall, tostring, type
local format = string.format
local concat, sort = table.concat, table.sort
local now = core.util.now

local live = {}

-- Audio players tried by --play, in this order: the sound servers' own clients first (they
-- share the device with other programs), then ALSA's.
live.players = { "pw-play", "paplay", "aplay" }

-- live.find_player([names]) -> the full path of the first of names (default live.players)
-- found as an executable in PATH, or nil.
function live.find_player(names)
  local uv = require "luv"
  for _, name in ipairs(names or live.players) do
    if name:find("/", 1, true) then
      if uv.fs_access(name, "X") then return name end
    else
      for dir in (os.getenv("PATH") or ""):gmatch("[^:]+") do
        local path = dir .. "/" .. name
        if uv.fs_access(path, "X") then return path end
      end
    end
  end
  return nil
end

local function one_line(msg)
  return (tostring(msg):gsub("%s*\n%s*", " / "))
end

-- A callback for the event loop that reports its errors and carries on: an error escaping
-- into luv would end the process.
local function guarded(fn)
  return function(...)
    local ok, err = pcall(fn, ...)
    if not ok then io.stderr:write("tessera live: ", one_line(err), "\n") end
  end
end

-- ---- a session ----------------------------------------------------------------------

local Session = {}
Session.__index = Session

local function new_session(path, opts)
  local full = fs.resolve(path)
  local self = setmetatable({
    path = path, full = full, dir = fs.dirname(full), opts = opts,
    n = 0,              -- renders so far
    good = nil,         -- { n = render number, out = path } of the last good output
    sources = {},       -- full paths of the sources of the last recipe that loaded
    watchers = {},      -- folder -> fs_event handle
    pending = {},       -- changed file -> true, until the debounce timer fires
    print = opts.print or function(line)
      io.stdout:write(line, "\n")
      io.stdout:flush()
    end,
  }, Session)
  return self
end

-- How a changed file is named in a render line: relative to the recipe's folder when it is
-- inside it, else in full.
function Session:name_of(path)
  if fs.inside(self.dir, path) and path ~= self.dir then return path:sub(#self.dir + 2) end
  return path
end

-- What a render reads, for telling whether a save changed anything: the recipe's text,
-- and each source's size and time of change (or its absence).
function Session:recipe_print()
  local f = io.open(self.full, "rb")
  if not f then return "missing" end
  local text = f:read("a") or ""
  f:close()
  return core.util.sha256(text)
end

function Session:sources_print()
  local parts = {}
  for _, file in ipairs(self.sources) do
    local st = self.uv.fs_stat(file)
    parts[#parts + 1] = st and format("%s %d %d.%09d", file, st.size, st.mtime.sec, st.mtime.nsec)
      or (file .. " missing")
  end
  return concat(parts, "\n")
end

function Session:fingerprint()
  return self:recipe_print() .. "\n" .. self:sources_print()
end

-- One render: load (the recipe may have changed its sources: the watches follow), render,
-- and one line. Returns the summary, or nil and the error message.
function Session:render(reason)
  self.n = self.n + 1
  local t0 = now()
  -- The fingerprint of what this render reads, taken before it reads it: a save during
  -- the render then differs from it and renders again.
  local recipe_print = self.uv and self:recipe_print()
  local sources_print
  local ok, summary = pcall(sandbox.timed, self.opts.seconds, function()
    local rec = mosaic.load(self.path, { out = self.opts.out, allow = self.opts.allow })
    self:track(rec)
    sources_print = self.uv and self:sources_print()
    if rec.out == nil then
      error(format("tessera.live: %s has no 'out': give -o OUT.wav", self.path), 0)
    end
    local _, s = mosaic.render(rec, { cache_dir = self.opts.cache_dir })
    return s
  end)
  if not ok then summary = mosaic.message(summary) end
  local ms = (now() - t0) * 1000
  if self.uv then
    self.last_fingerprint = recipe_print .. "\n" .. (sources_print or self:sources_print())
  end
  local line
  if ok then
    self.good = { n = self.n, out = summary.out }
    line = format("#%d [%s] %.0f ms: %s", self.n, reason, ms, mosaic.describe(summary))
  elseif self.uv == nil then
    return nil, summary -- --once: the caller raises it
  else
    summary = one_line(summary)
    local kept = self.good and format("keeping %s (#%d)", self.good.out, self.good.n)
      or "no output yet"
    line = format("#%d [%s] error: %s; %s", self.n, reason, summary, kept)
  end
  self.print(line)
  -- The matrices of a render live outside Lua's heap, so the collector does not feel
  -- them: collect now, between renders, rather than let them pile up.
  collectgarbage("collect")
  if ok then return summary end
  return nil, summary
end

-- ---- watching -----------------------------------------------------------------------

-- Watches the folders of the recipe and of `rec`'s sources (a folder no longer needed is
-- let go). Folder watches survive rename-saves, deleted and restored files.
function Session:track(rec)
  if self.uv == nil then return end -- --once: nothing to watch
  local files = {}
  for _, src in pairs(rec.sources) do files[#files + 1] = src.file end
  sort(files)
  self.sources = files
  self:watch_all()
end

function Session:watch_all()
  local uv = self.uv
  local wanted = { [self.dir] = { [fs.basename(self.full)] = self.full } }
  for _, file in ipairs(self.sources) do
    local dir = fs.dirname(fs.resolve(file))
    wanted[dir] = wanted[dir] or {}
    wanted[dir][fs.basename(file)] = file
  end
  self.interest = wanted
  for dir, handle in pairs(self.watchers) do
    if not wanted[dir] then
      handle:stop()
      handle:close()
      self.watchers[dir] = nil
    end
  end
  for dir in pairs(wanted) do
    if not self.watchers[dir] then
      local handle = uv.new_fs_event()
      local ok, err = handle:start(dir, {}, guarded(function(ev_err, name)
        self:event(dir, ev_err, name)
      end))
      if ok then
        self.watchers[dir] = handle
      else
        handle:close()
        io.stderr:write(format("tessera live: cannot watch '%s': %s\n", dir, tostring(err)))
      end
    end
  end
end

function Session:event(dir, err, name)
  if err then
    io.stderr:write(format("tessera live: watching '%s': %s\n", dir, tostring(err)))
    return
  end
  local names = self.interest and self.interest[dir]
  if names == nil then return end
  local file = name and names[name]
  if name and not file then return end -- another file in a watched folder (the output, ...)
  if file then
    self.pending[self:name_of(file)] = true
  else -- no name given: anything in the folder may have changed
    for _, f in pairs(names) do self.pending[self:name_of(f)] = true end
  end
  self.timer:stop()
  self.timer:start(self.debounce_ms, 0, guarded(function() self:fire() end))
end

-- The debounce timer: one render for everything that changed meanwhile, unless the files
-- read are exactly as they were at the previous render.
function Session:fire()
  local changed = {}
  for name in pairs(self.pending) do changed[#changed + 1] = name end
  self.pending = {}
  sort(changed)
  if self:fingerprint() == self.last_fingerprint then return end
  if self:render(concat(changed, ", ")) then self:play() end
end

-- ---- playing ------------------------------------------------------------------------

function Session:stop_playing()
  local p = self.playing
  if p and not p:is_closing() then p:kill("sigterm") end
  self.playing = nil
end

-- Plays the last good output in the background, stopping what played before.
function Session:play()
  if not self.player or not self.good then return end
  self:stop_playing()
  local handle
  handle = self.uv.spawn(self.player, { args = { self.good.out }, stdio = {} }, function()
    if not handle:is_closing() then handle:close() end
    if self.playing == handle then self.playing = nil end
  end)
  if handle then
    self.playing = handle
  else
    io.stderr:write(format("tessera live: cannot start '%s'\n", self.player))
  end
end

-- ---- running ------------------------------------------------------------------------

local function no_player(opts)
  if opts.player then
    return format("tessera live: cannot run the player '%s' (not found on PATH or not executable)",
      opts.player)
  end
  return format("tessera live: no audio player found (looked for %s on PATH); install one, "
    .. "give --player PROGRAM, or leave out --play", concat(live.players, ", "))
end

-- live.run(recipe [, opts]) -> exit status. opts: out (overrides the recipe's), cache_dir,
-- allow (more source folders), once (render once and return 0, or raise the error; with
-- play, the result is played to its end first), play (play each good render in the
-- background with live.find_player()'s player, or opts.player),
-- debounce (seconds, default 0.05), print (function(line), default stdout, flushed),
-- seconds (the wall-clock limit of each render, see mosaic.render; default 60).
-- Without once it runs until SIGINT or SIGTERM, then returns 0.
function live.run(path, opts)
  if type(path) ~= "string" or path == "" then
    error(format("bad argument #1 to 'run' (recipe path expected, got %s)", type(path)), 2)
  end
  opts = opts or {}
  -- The player is looked for before any work: a missing one is not found out after a render.
  local player
  if opts.play then
    player = live.find_player(opts.player and { opts.player } or nil)
    if not player then error(no_player(opts), 0) end
  end
  local self = new_session(path, opts)
  if opts.once then
    local summary, err = self:render("once")
    if not summary then error(err, 0) end
    if player then -- in the foreground: the process would end the playback otherwise
      local uv = require "luv"
      local status = 0
      local handle, why = uv.spawn(player, { args = { summary.out }, stdio = { nil, nil, 2 } },
        function(code, signal) status = (code ~= 0 or signal ~= 0) and 1 or 0 end)
      if not handle then
        error(format("tessera live: cannot start '%s': %s", player, tostring(why)), 0)
      end
      uv.run("default")
      handle:close()
      uv.run("default")
      return status
    end
    return 0
  end

  local uv = require "luv"
  self.uv = uv
  local debounce = opts.debounce or 0.05
  if type(debounce) ~= "number" or debounce < 0 then
    error(format("tessera.live: debounce must be a number of seconds >= 0, got %s",
      tostring(debounce)), 0)
  end
  self.debounce_ms = math.floor(debounce * 1000 + 0.5)
  self.player = player
  self.timer = uv.new_timer()
  local signals = {}
  for i, name in ipairs { "sigint", "sigterm" } do
    signals[i] = uv.new_signal()
    signals[i]:start(name, function() uv.stop() end)
  end

  -- Watch the recipe's folder before the first render, so a save during it is not missed.
  self:watch_all()
  if self:render("start") then self:play() end
  uv.run("default")

  -- Close what this session opened (not other handles of the process's loop); a player
  -- still running is stopped, and its exit closes its handle.
  self:stop_playing()
  local function close(handle)
    if not handle:is_closing() then handle:close() end
  end
  for _, handle in pairs(self.watchers) do close(handle) end
  self.watchers = {}
  close(self.timer)
  for _, handle in ipairs(signals) do close(handle) end
  uv.run("default") -- let the closes (and the player's exit) complete
  self.print(format("stopped after %d render%s", self.n, self.n == 1 and "" or "s"))
  return 0
end

return live
