-- Inputs that are not files, links out of a recipe's folder, batch workers that outlive their
-- coordinator and outputs written twice (issue 15). Everything that could hang runs in a
-- child process under `timeout`, so a regression fails instead of blocking the suite.
local helpers = require "helpers"
local core = require "tessera.core"
local fs = require "tessera.fs"
local uv = require "luv"

local q = helpers.shell_quote
local BIN = fs.realpath(helpers.root .. "/bin/tessera")
local SAMPLE = helpers.samples .. "/loop_amen.flac"

-- Runs `bin/tessera <args>` in dir under a 10-second timeout; returns output (both streams),
-- exit status and seconds taken.
local function run(dir, args, env)
  local t0 = core.util.now()
  local out, _, code = helpers.run(("cd %s && %s timeout -k 1 10 %s %s 2>&1 </dev/null"):format(
    q(dir), env or "", q(BIN), args))
  return out, code, core.util.now() - t0
end

local write = helpers.write_file

describe("inputs", function()
  local dir
  before_each(function()
    dir = helpers.tmpdir()
    assert(os.execute("mkfifo " .. q(dir .. "/f.wav")))
  end)
  after_each(function() helpers.rmtree(dir) end)

  describe("what is not a regular file", function()
    it("is refused by info, decompose and tessera.audio.load before anything waits on it", function()
      for _, case in ipairs {
        { "info f.wav", "tessera: tessera.audio.load: cannot read 'f.wav': not a regular file (a FIFO)\n" },
        { "info /dev/zero", "tessera: tessera.audio.load: cannot read '/dev/zero': not a regular " ..
          "file (a character device)\n" },
        { "decompose f.wav -k 2 -o out", "^tessera: .*cannot read 'f%.wav': not a regular file %(a FIFO%)\n$" },
      } do
        local out, code, seconds = run(dir, case[1])
        if case[2]:sub(1, 1) == "^" then assert.matches(case[2], out) else assert.equal(case[2], out) end
        assert.equal(1, code)
        assert.is_true(seconds < 5)
      end
      assert.has_error(function() core.audio.load(dir .. "/f.wav") end,
        "tessera.audio.load: cannot read '" .. dir .. "/f.wav': not a regular file (a FIFO)")
      assert.has_error(function() core.matrix.load("/dev/zero.npy") end) -- missing: as before
    end)

    it("is refused by the hashing and util.check_file", function()
      assert.has_error(function() core.util.sha256_file("/dev/zero") end,
        "tessera.util.sha256_file: cannot read '/dev/zero': not a regular file (a character device)")
      assert.same({ nil, "cannot read '" .. dir .. "/f.wav': not a regular file (a FIFO)" },
        { core.util.check_file(dir .. "/f.wav") })
      assert.same({ nil, "cannot read '" .. dir .. "': Is a directory" }, { core.util.check_file(dir) })
      assert.is_true(core.util.check_file(SAMPLE))
    end)

    it("is a failed input of a batch, not a hang (manifest lines /dev/zero and a FIFO)", function()
      write(dir .. "/list.txt", "/dev/zero\n" .. dir .. "/f.wav\n")
      local out, code, seconds = run(dir, "batch list.txt -o out -k 2 --iter 5")
      assert.equal(2, code, out)
      assert.is_true(seconds < 8)
      local table_text = assert(helpers.read_file(dir .. "/out/results.csv"))
      assert.matches("cannot read '/dev/zero': not a regular file %(a character device%)", table_text)
      assert.matches("not a regular file %(a FIFO%)", table_text)
    end)

    it("is refused as a recipe and as a recipe's source (a link to /dev/zero, a FIFO)", function()
      assert(os.execute("ln -s /dev/zero " .. q(dir .. "/z.wav")))
      local out, code = run(dir, "mosaic f.wav -o o.wav")
      assert.equal("tessera: tessera.mosaic: cannot read 'f.wav': not a regular file (a FIFO)\n", out)
      assert.equal(1, code)
      write(dir .. "/r.lua", [[return { sources = { a = { file = "f.wav", k = 2 } }, layers = { { W = "a" } } }]])
      out, code = run(dir, "mosaic r.lua -o o.wav --cache-dir cache")
      assert.equal("tessera: tessera.mosaic: r.lua: source 'a': key 'file': cannot read 'f.wav': " ..
        "not a regular file (a FIFO)\n", out)
      assert.equal(1, code)
      write(dir .. "/r.lua", [[return { sources = { a = { file = "z.wav", k = 2 } }, layers = { { W = "a" } } }]])
      out = run(dir, "mosaic r.lua -o o.wav --cache-dir cache")
      assert.equal("tessera: tessera.mosaic: r.lua: source 'a': key 'file': 'z.wav' leads (through " ..
        "a link) outside the folders a recipe may read (its own, /usr/share/sonic-pi/samples and " ..
        "those given with --allow)\n", out)
    end)
  end)

  describe("links out of a recipe's folder", function()
    local rec
    before_each(function()
      rec = dir .. "/rec"
      assert(os.execute(("mkdir -p %s %s && echo SECRET-7f3a > %s && ln -s ../secret.txt %s && ln -s ../elsewhere %s")
        :format(q(rec), q(dir .. "/elsewhere"), q(dir .. "/secret.txt"), q(rec .. "/settings.lua"),
          q(rec .. "/outdir"))))
    end)

    it("are refused for reading (dofile of a link to a secret)", function()
      write(rec .. "/r.lua", [[dofile("settings.lua")]])
      local out, code = run(dir, "mosaic rec/r.lua -o o.wav")
      assert.equal("tessera: tessera.mosaic: rec/r.lua:1: dofile: 'settings.lua' leads outside the " ..
        "recipe's folder '" .. rec .. "' (a link to '" .. fs.realpath(dir) .. "/secret.txt'; recipes " ..
        "may only read there)\n", out)
      assert.equal(1, code)
      assert.is_nil(out:find("SECRET", 1, true))
    end)

    it("are refused for writing (out through a linked folder) unless --allow names it", function()
      write(rec .. "/r.lua", ([[return { out = "outdir/x.wav", sources = { a = { file = %q,
        duration = 1, k = 2 } }, layers = { { W = "a" } } }]]):format(SAMPLE))
      local out, code = run(dir, "mosaic rec/r.lua --cache-dir cache")
      assert.equal("tessera: tessera.mosaic: rec/r.lua: key 'out': 'outdir/x.wav' leads (through a " ..
        "link) outside the recipe's folder, to '" .. fs.realpath(dir) .. "/elsewhere/x.wav' (give " ..
        "-o, or --allow that folder)\n", out)
      assert.equal(1, code)
      assert.same({}, helpers.listdir(dir .. "/elsewhere"))
      out, code = run(dir, "mosaic rec/r.lua --cache-dir cache --allow elsewhere")
      assert.equal(0, code, out)
      assert.same({ "x.wav" }, helpers.listdir(dir .. "/elsewhere"))
    end)
  end)

  describe("interrupts, caches and output folders", function()
    it("one SIGTERM ends decompose of a 10-minute file within a second, leaving no file", function()
      local long = dir .. "/long.flac"
      assert(os.execute(("%s -e %s"):format(q(BIN), q(([[
        local t = require "tessera"
        local a = t.audio.load(%q, { sr = 44100 })
        a:tile(44100 * 600):save(%q)]]):format(SAMPLE, long)))))
      for _, wait in ipairs { 0.3, 1.5 } do
        os.execute(("cd %s && (timeout -s KILL 60 %s decompose long.flac -k 2 --loss kl --tol 0 -o out " ..
          ">/dev/null 2>&1 " ..
          "& echo $! > pid)"):format(q(dir), q(BIN)))
        uv.sleep(math.floor(wait * 1000))
        local pid = assert(helpers.read_file(dir .. "/pid")):match("%d+")
        local child = helpers.run("pgrep -P " .. pid):match("%d+")
        local t0 = core.util.now()
        os.execute("kill -TERM " .. child)
        while os.execute("kill -0 " .. child .. " 2>/dev/null") and core.util.now() - t0 < 30 do
          uv.sleep(20)
        end
        local seconds = core.util.now() - t0
        assert.is_true(seconds < 1, ("%.2f s after SIGTERM at %.1f s"):format(seconds, wait))
        assert.same({}, helpers.listdir(dir .. "/out"))
      end
    end)

    it("a cache that cannot be written is a warning, and the render goes on", function()
      write(dir .. "/notadir", "")
      write(dir .. "/r.lua", ([[return { sources = { a = { file = %q, duration = 1, k = 2 } },
        layers = { { W = "a" } } }]]):format(SAMPLE))
      local out, code = run(dir, "mosaic r.lua -o o.wav --cache-dir notadir")
      assert.equal(0, code, out)
      assert.matches("^tessera: warning: the cache '" .. (fs.realpath(dir) .. "/notadir"):gsub("%p", "%%%0") ..
        "' cannot be written %(tessera.cache: cannot create a folder in '.*'%); going on without it\n" ..
        "wrote .*o%.wav: 1%.00 s", out)
      assert.is_true(helpers.exists(dir .. "/o.wav"))
    end)

    it("decompose checks its output folder before the work", function()
      write(dir .. "/file", "")
      local out, code, seconds = run(dir, "decompose " .. q(SAMPLE) .. " -k 2 -o file/b")
      assert.equal("tessera: decompose: cannot create folder 'file': File already exists\n", out)
      assert.equal(1, code)
      assert.is_true(seconds < 1)
      out, code = run(dir, "decompose " .. q(SAMPLE) .. " -k 2 --iter 5 -o a/b")
      assert.equal(0, code, out)
      assert.is_true(helpers.exists(dir .. "/a/b/W.npy"))
    end)
  end)

  describe("batch workers", function()
    it("die with their coordinator (kill -9)", function()
      assert(os.execute(("mkdir -p %s && cp %s %s/"):format(q(dir .. "/in"), q(SAMPLE), q(dir .. "/in"))))
      -- A worker that would run for minutes: a script that sleeps in Lua.
      write(dir .. "/slow.lua", [[return function(path, out) local t = os.time() + 120
        while os.time() < t do end end]])
      local pidfile = dir .. "/pid"
      os.execute(("cd %s && (timeout -s KILL 60 %s batch in -o out --script slow.lua -j 1 " ..
        ">/dev/null 2>&1 & echo $! > %s)"):format(q(dir), q(BIN), q(pidfile)))
      local function children(pid)
        local list = {}
        for child in helpers.run("pgrep -P " .. pid .. " || true"):gmatch("%d+") do
          list[#list + 1] = child
        end
        return list
      end
      local function alive(pid) return os.execute("kill -0 " .. pid .. " 2>/dev/null") end
      local t0 = core.util.now()
      local coordinator
      repeat -- timeout's child is the coordinator, the coordinator's the worker
        uv.sleep(100)
        local pid = (helpers.read_file(pidfile) or ""):match("%d+")
        coordinator = pid and children(pid)[1]
      until (coordinator and #children(coordinator) > 0) or core.util.now() - t0 > 20
      local workers = coordinator and children(coordinator) or {}
      assert.is_true(#workers > 0, "no worker started")
      assert(os.execute("kill -9 " .. coordinator))
      t0 = core.util.now()
      while alive(workers[1]) and core.util.now() - t0 < 5 do uv.sleep(50) end
      assert.is_falsy(alive(workers[1]))
    end)

    it("lock the folder they write: a second writer is told, not let in", function()
      local lock = assert(core.util.lock(dir .. "/.x.lock"))
      local out = helpers.run(("%s -e %s 2>&1"):format(q(BIN), q(
        "print(require('tessera.core').util.lock(" .. ("%q"):format(dir .. "/.x.lock") .. "))")))
      assert.equal("nil\tbusy\n", out)
      lock:release()
      lock:release() -- twice is harmless
      assert.is_false(helpers.exists(dir .. "/.x.lock"))
      local again = assert(core.util.lock(dir .. "/.x.lock"))
      again:release()
    end)
  end)
end)
