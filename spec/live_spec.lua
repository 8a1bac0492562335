-- Specs of live coding (tessera.live, `tessera live`): the watcher runs as a child process
-- on a temporary recipe over two 10-second sources; the spec edits the files the ways
-- editors do (in place, in two writes, by renaming a new file over the recipe, by moving
-- the old one away first), deletes and restores a source, and reads the lines and the
-- output file: one render per change, the error reported and the last good output kept,
-- no render for a save that changes nothing, a clean stop on SIGINT; --once and --play.
local uv = require "luv"
local core = require "tessera.core"
local live = require "tessera.live"
local fs = require "tessera.fs"
local helpers = require "helpers"

local format = string.format
local BIN = fs.resolve(helpers.root .. "/bin/tessera")

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function lines_of(path)
  local text = helpers.read_file(path) or ""
  local lines = {}
  for line in text:gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  return lines
end

local function escape(s)
  return (s:gsub("%p", "%%%0"))
end

-- The recipe over drums.wav and pads.wav with the second layer's gain (and a tail, to
-- break it on purpose).
local function recipe(gain, tail)
  return format([[
return {
  sources = {
    drums = { file = "drums.wav", k = 4, loss = "kl", max_iter = 40 },
    pads = { file = "pads.wav", k = 4, loss = "kl", max_iter = 40 },
  },
  layers = {
    { W = "pads", H = "drums", gain = 1.0 },
    { W = "drums:1-2", gain = %s },
  },
}%s
]], gain, tail or "")
end

-- A temporary folder with the two sources and a cache shared by the tests.
local dir, cache, pads_bytes

local function setup_folder()
  dir = helpers.tmpdir()
  cache = dir .. "/cache"
  local drums = core.audio.load(helpers.samples .. "/loop_tabla.flac", { sr = 22050, mono = true, duration = 10 })
  drums:save(dir .. "/drums.wav")
  local pads = core.audio.load(helpers.samples .. "/loop_garzul.flac", { sr = 22050, mono = true })
  pads:tile(220500):save(dir .. "/pads.wav")
  pads_bytes = helpers.read_file(dir .. "/pads.wav")
end

-- The watcher as a child process, its stdout and stderr in files.
local Child = {}
Child.__index = Child

local function start(args, name)
  local c = setmetatable({ log = dir .. "/" .. name .. ".log", err = dir .. "/" .. name .. ".err" }, Child)
  local out_fd = assert(uv.fs_open(c.log, "w", tonumber("644", 8)))
  local err_fd = assert(uv.fs_open(c.err, "w", tonumber("644", 8)))
  local argv = { "live" }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  c.handle, c.pid = uv.spawn(BIN, { args = argv, cwd = dir, stdio = { nil, out_fd, err_fd } },
    function(code, signal) c.exit = { code = code, signal = signal } end)
  uv.fs_close(out_fd)
  uv.fs_close(err_fd)
  assert(c.handle, c.pid)
  return c
end

-- Waits (bounded) until pred() holds, running the loop so the child's exit is seen.
local function wait_until(pred, seconds, what)
  local deadline = uv.hrtime() + seconds * 1e9
  while true do
    uv.run("nowait")
    if pred() then return end
    if uv.hrtime() > deadline then error("timed out waiting for " .. what, 2) end
    uv.sleep(15)
  end
end

function Child:lines()
  return lines_of(self.log)
end

-- Waits for render line #n and returns it.
function Child:render(n, seconds)
  local pattern = "^#" .. n .. " "
  local found
  wait_until(function()
    for _, line in ipairs(self:lines()) do
      if line:match(pattern) then found = line end
    end
    return found ~= nil or self.exit ~= nil
  end, seconds or 10, "render #" .. n .. " in " .. self.log)
  assert(found, "the watcher exited before render #" .. n .. ": " .. (helpers.read_file(self.err) or ""))
  return found
end

function Child:stop()
  if self.exit == nil then self.handle:kill("sigint") end
  wait_until(function() return self.exit ~= nil end, 10, "the watcher to stop")
  self.handle:close()
  uv.run("nowait")
end

function Child:kill()
  if self.handle and not self.handle:is_closing() then
    if self.exit == nil then
      self.handle:kill("sigkill")
      pcall(wait_until, function() return self.exit ~= nil end, 5, "the watcher to die")
    end
    self.handle:close()
    uv.run("nowait")
  end
end

-- Whether two Audio differ in any sample (output files also differ by the time stamp
-- libsndfile writes in a float WAV's PEAK chunk, so their bytes cannot be compared).
local function differ(a, b)
  return #a ~= #b or a:mix(b, -1):peak() > 0
end

local function alive(pid)
  return uv.kill(pid, 0) == 0
end

local OK = "%d+ ms: wrote " -- a good render, after the watcher's timing

describe("tessera.live", function()
  lazy_setup(setup_folder)
  lazy_teardown(function() helpers.rmtree(dir) end)

  describe("tessera live", function()
    it("re-renders on each save, reports errors, keeps the last good output", function()
      local path, out = dir .. "/recipe.lua", dir .. "/out.wav"
      write(path, recipe("0.3"))
      local w = start({ "recipe.lua", "-o", "out.wav", "--cache-dir", cache }, "session")
      finally(function() w:kill() end)

      -- The first render decomposes both sources.
      local line = w:render(1, 60)
      assert.matches("^#1 %[start%] " .. OK .. escape(out) .. ": 10%.00 s at 22050 Hz, 2 layers, 2 sources, " ..
        "phase drums; cache %d+ hits?, %d+ miss%a*, 2 NMF; [%d.]+ s$", line)
      local first = core.audio.load(out)

      -- A gain change, saved in place in two writes: one render, from the cache.
      local f = assert(io.open(path, "wb"))
      local text = recipe("0.6")
      f:write(text:sub(1, 40))
      f:flush()
      uv.sleep(5)
      f:write(text:sub(41))
      f:close()
      line = w:render(2)
      assert.matches("^#2 %[recipe%.lua%] " .. OK .. escape(out) .. ": .*; cache %d+ hits?, 0 misses, 0 NMF; " ..
        "[%d.]+ s$", line)
      local second, second_file = core.audio.load(out), core.util.sha256_file(out)
      assert.is_true(differ(first, second))

      -- A syntax error, saved by renaming a new file over the recipe: reported, output kept.
      write(dir .. "/.recipe.lua.swp", recipe("0.6", " }"))
      assert(os.rename(dir .. "/.recipe.lua.swp", path))
      line = w:render(3)
      assert.matches("^#3 %[recipe%.lua%] error: tessera%.mosaic: recipe%.lua:%d+: <eof> expected near '}'; " ..
        "keeping " .. escape(out) .. " %(#2%)$", line)
      assert.equal(second_file, core.util.sha256_file(out)) -- not even rewritten

      -- The fix, saved the way vim does by default (old file moved away, new one written).
      assert(os.rename(path, path .. "~"))
      write(path, recipe("0.9"))
      os.remove(path .. "~")
      line = w:render(4)
      assert.matches("^#4 %[recipe%.lua%] " .. OK .. ".* 0 NMF; [%d.]+ s$", line)
      local fourth, fourth_file = core.audio.load(out), core.util.sha256_file(out)
      assert.is_true(differ(second, fourth))

      -- A source deleted: the error names it and the output stays; restored: rendered again.
      assert(os.remove(dir .. "/pads.wav"))
      line = w:render(5)
      assert.matches("^#5 %[pads%.wav%] error: tessera%.mosaic: recipe%.lua: source 'pads': key 'file': " ..
        "cannot open 'pads%.wav': No such file or directory; keeping " .. escape(out) .. " %(#4%)$", line)
      assert.equal(fourth_file, core.util.sha256_file(out))
      write(dir .. "/pads.wav", pads_bytes)
      line = w:render(6)
      assert.matches("^#6 %[pads%.wav%] " .. OK .. ".* 0 NMF; [%d.]+ s$", line)
      assert.is_false(differ(fourth, core.audio.load(out))) -- same recipe and sources: same samples

      -- A save that changes nothing renders nothing; the output's own writes do not count.
      write(path, recipe("0.9"))
      uv.sleep(300)
      w:stop()
      assert.same({ code = 0, signal = 0 }, w.exit)
      local lines = w:lines()
      assert.equal(7, #lines, table.concat(lines, "\n"))
      assert.equal("stopped after 6 renders", lines[7])
      assert.equal("", helpers.read_file(w.err))
    end)

    it("plays each good render in the background and stops the previous playback", function()
      local path = dir .. "/play.lua"
      write(path, recipe("0.5"))
      local player, played = dir .. "/player.sh", dir .. "/played.txt"
      write(player, "#!/bin/sh\necho \"$$ $1\" >> " .. played .. "\nexec sleep 30\n")
      assert(os.execute("chmod +x " .. helpers.shell_quote(player)))
      local w = start({ "play.lua", "-o", "play.wav", "--cache-dir", cache, "--player", player }, "play")
      finally(function()
        w:kill()
        for _, l in ipairs(lines_of(played)) do uv.kill(tonumber(l:match("^%d+")), "sigkill") end
      end)
      w:render(1, 60)
      wait_until(function() return #lines_of(played) == 1 end, 5, "the first playback")
      local pid1 = tonumber(lines_of(played)[1]:match("^(%d+) " .. escape(dir .. "/play.wav") .. "$"))
      assert.is_true(alive(pid1))

      write(path, recipe("0.25", " }")) -- an error: nothing new to play
      w:render(2)
      write(path, recipe("0.25"))
      w:render(3)
      wait_until(function() return #lines_of(played) == 2 end, 5, "the second playback")
      local pid2 = tonumber(lines_of(played)[2]:match("^(%d+) "))
      wait_until(function() return not alive(pid1) end, 5, "the first playback to stop")
      assert.is_true(alive(pid2))

      w:stop()
      assert.same({ code = 0, signal = 0 }, w.exit)
      wait_until(function() return not alive(pid2) end, 5, "the last playback to stop with the watcher")
      assert.equal(2, #lines_of(played))
    end)

    it("renders once and exits with the render's status with --once", function()
      local path, out = dir .. "/once.lua", dir .. "/once.wav"
      write(path, recipe("0.4"))
      local q = helpers.shell_quote
      local cmd = format("cd %s && %s live once.lua --once -o once.wav --cache-dir %s 2>&1", q(dir), q(BIN), q(cache))
      local text, ok = helpers.run(cmd)
      assert.is_true(ok, text)
      assert.matches("^#1 %[once%] " .. OK .. escape(out) .. ": .* 0 NMF; [%d.]+ s\n$", text)
      local digest = core.util.sha256_file(out)

      write(path, recipe("0.4", " }"))
      text, ok = helpers.run(cmd)
      assert.is_falsy(ok)
      assert.equal("tessera: tessera.mosaic: once.lua:10: <eof> expected near '}'\n", text)
      assert.equal(digest, core.util.sha256_file(out))

      write(path, recipe("0.4"))
      text, ok = helpers.run(format("cd %s && %s live once.lua --once --cache-dir %s 2>&1", q(dir), q(BIN), q(cache)))
      assert.is_falsy(ok)
      assert.equal("tessera: tessera.live: once.lua has no 'out': give -o OUT.wav\n", text)

      text, ok = helpers.run(format("cd %s && %s live once.lua --once -o once.wav --cache-dir %s --player %s 2>&1",
        q(dir), q(BIN), q(cache), q(dir .. "/no-such-player")))
      assert.is_falsy(ok)
      -- Refused before the render: nothing else is printed.
      assert.matches("^tessera: tessera live: cannot run the player '" .. escape(dir) .. "/no%-such%-player' %(not "
        .. "found on PATH or not executable%)\n$", text)
    end)

    it("looks for an audio player before any work with --play, naming the ones it tried", function()
      local path, out = dir .. "/noplayer.lua", dir .. "/noplayer.wav"
      write(path, recipe("0.4"))
      os.remove(out)
      local q = helpers.shell_quote
      local empty = dir .. "/empty-path"
      os.execute("mkdir -p " .. q(empty))
      for _, once in ipairs { " --once", "" } do
        local t0 = core.util.now()
        local text, ok = helpers.run(format("cd %s && PATH=%s %s live noplayer.lua%s --play -o noplayer.wav "
          .. "--cache-dir %s 2>&1", q(dir), q(empty), q(BIN), once, q(cache)))
        assert.is_falsy(ok)
        assert.equal("tessera: tessera live: no audio player found (looked for pw-play, paplay, aplay on PATH); "
          .. "install one, give --player PROGRAM, or leave out --play\n", text)
        assert.is_nil(io.open(out, "rb"), "nothing was rendered")
        assert.is_true(core.util.now() - t0 < 5)
      end
    end)
  end)

  describe("live.find_player()", function()
    it("finds the first executable of a list in PATH, or a given path", function()
      local sh = live.find_player { "no-such-player-here", "sh" }
      assert.is_truthy(sh and sh:match("/sh$"))
      assert.equal("/bin/sh", live.find_player { "/bin/sh" })
      assert.is_nil(live.find_player { "no-such-player-here", "/no/such/player" })
      assert.same({ "pw-play", "paplay", "aplay" }, live.players)
    end)
  end)

  describe("live.run()", function()
    it("refuses a path that is not a string", function()
      assert.has_error(function() live.run(nil) end, "bad argument #1 to 'run' (recipe path expected, got nil)")
      assert.has_error(function() live.run("x.lua", { debounce = -1 }) end,
        "tessera.live: debounce must be a number of seconds >= 0, got -1")
    end)
  end)
end)
