-- Hostile recipes: every escape the sandbox closes is tried, each must be refused with a
-- clear error, and the process must stay healthy afterwards (budgets lifted, the host's
-- libraries and metatables untouched, a normal recipe still loads).
local helpers = require "helpers"
local tessera = require "tessera"
local core = require "tessera.core"
local sandbox = require "tessera.sandbox"
local mosaic = require "tessera.mosaic"

local SAMPLES = helpers.samples
local GOOD = [[return { duration = 1.5, sources = { a = { file = "]] .. SAMPLES ..
  [[/loop_amen.flac", duration = 1.5, k = 2 } }, layers = { { W = "a" } } }]]

describe("tessera.sandbox", function()
  local dir, path

  before_each(function()
    dir = helpers.tmpdir()
    path = dir .. "/r.lua"
  end)
  after_each(function() helpers.rmtree(dir) end)

  local write = helpers.write_file

  -- Loads recipe text with small budgets (fast to exceed); returns ok, error message.
  local function try(code, opts)
    write(path, code)
    opts = opts or {}
    if opts.memory == nil then opts.memory = 32 * 1024 * 1024 end
    if opts.instructions == nil then opts.instructions = 2000000 end
    return pcall(mosaic.load, path, opts)
  end

  -- After each hostile recipe: no budget left in force, big allocations work, the string
  -- metatable and io/os are the host's, and a good recipe loads.
  local function healthy()
    assert.is_nil(core.sandbox.exceeded())
    local big = tessera.matrix.new(4000, 4000) -- 64 MB: above every budget used here
    assert.equal(4000, (big:shape()))
    local s = string.rep("y", 64 * 1024 * 1024)
    assert.equal(64 * 1024 * 1024, #s)
    assert.equal(string, getmetatable("").__index)
    assert.is_function(os.execute)
    assert.is_function(io.popen)
    local ok, rec = try(GOOD)
    assert.is_true(ok, rec)
    assert.equal(2, rec.sources.a.nmf.k)
  end

  describe("refuses", function()
    local escapes = {
      { "os.execute", "os.execute('touch pwned')", "attempt to call a nil value (field 'execute')" },
      { "io.popen", "io.popen('id')", "attempt to index a nil value (global 'io')" },
      { "os.remove", "os.remove('r.lua')", "attempt to call a nil value (field 'remove')" },
      { "os.getenv", "return os.getenv('HOME')", "attempt to call a nil value (field 'getenv')" },
      { "require", "require('os')", "attempt to call a nil value (global 'require')" },
      { "debug", "debug.sethook()", "attempt to index a nil value (global 'debug')" },
      { "package.loadlib", "package.loadlib('libc.so.6', 'system')",
        "attempt to index a nil value (global 'package')" },
      { "collectgarbage", "collectgarbage('stop')",
        "attempt to call a nil value (global 'collectgarbage')" },
      { "string.dump", "string.dump(print)", "attempt to call a nil value (field 'dump')" },
    }
    for _, case in ipairs(escapes) do
      it(case[1], function()
        local ok, err = try(case[2])
        assert.is_false(ok)
        assert.equal("tessera.mosaic: " .. path .. ":1: " .. case[3], err)
        assert.same({ "r.lua" }, helpers.listdir(dir))
        healthy()
      end)
    end

    it("bytecode, and the string-dump trick (string methods reach the recipe's string table)", function()
      -- A string's methods are the recipe's string table while it runs: no dump there.
      local ok, err = try([[
        local code = ("").dump(function() return 1 end)
        local f = load(code)
        return f
      ]])
      assert.is_false(ok)
      assert.equal("tessera.mosaic: " .. path .. ":1: attempt to call a nil value (field 'dump')", err)
      ok, err = try([[local f = load("\27Lua", "x", "b") return f]])
      assert.is_false(ok)
      assert.equal("tessera.mosaic: " .. path .. ":1: load: mode must be 't' in a recipe, got 'b'", err)
      ok, err = try([[local f = load("\27LuaT\0") return f]])
      assert.is_false(ok)
      assert.equal("tessera.mosaic: " .. path .. ":1: load: binary chunks are not allowed in a recipe", err)
      -- bytecode handed over piece by piece through a reader function
      ok, err = try([[
        local code, done = "\27LuaT\0", false
        local f = load(function() if done then return nil end done = true return code end)
        return f
      ]])
      assert.is_false(ok)
      assert.equal("tessera.mosaic: " .. path .. ":2: load: binary chunks are not allowed in a recipe", err)
      -- a recipe file that is itself bytecode
      write(path, string.dump(function() return {} end))
      ok, err = pcall(mosaic.load, path)
      assert.is_false(ok)
      assert.equal("tessera.mosaic: binary chunks are not allowed in a recipe", err)
      healthy()
    end)

    it("an endless loop, with its CPU budget", function()
      local ok, err = try("while true do end")
      assert.is_false(ok)
      assert.equal("tessera.mosaic: the recipe exceeded its CPU budget (2000000 instructions)", err)
      healthy()
    end)

    it("an endless loop that catches the budget's error with pcall or xpcall", function()
      for _, code in ipairs {
        "while true do pcall(function() while true do end end) end",
        "while true do xpcall(function() while true do end end, function(e) return e end) end",
        "local n = 0 while true do n = n + 1 pcall(error, n) end",
      } do
        local ok, err = try(code)
        assert.is_false(ok)
        assert.equal("tessera.mosaic: the recipe exceeded its CPU budget (2000000 instructions)", err)
      end
      healthy()
    end)

    it("an endless loop inside coroutines", function()
      for _, code in ipairs {
        "local co = coroutine.create(function() while true do end end) coroutine.resume(co)",
        "coroutine.wrap(function() while true do end end)()",
        "local co = coroutine.wrap(function() while true do coroutine.yield() end end) while true do co() end",
      } do
        local ok, err = try(code)
        assert.is_false(ok)
        assert.equal("tessera.mosaic: the recipe exceeded its CPU budget (2000000 instructions)", err)
      end
      healthy()
    end)

    it("memory bombs in Lua, with its memory budget", function()
      for _, code in ipairs {
        "local t = {} while true do t[#t + 1] = {} end",
        "local s = 'x' while true do s = s .. s end",
        "return #string.rep('x', 1 << 30)",
        "local t = {} for i = 1, 1e6 do t[i] = ('x'):rep(1000) .. i end",
        "local t = {} while true do pcall(function() t[#t + 1] = ('x'):rep(1e6) .. #t end) end",
      } do
        local ok, err = try(code, { instructions = 0 })
        assert.is_false(ok)
        assert.equal("tessera.mosaic: the recipe exceeded its memory budget (33.6 MB)", err)
      end
      healthy()
    end)

    it("memory bombs through tessera's buffers (one budget with the Lua heap)", function()
      for _, code in ipairs {
        "return tessera.matrix.new(10000, 10000)", -- 400 MB at once
        "local t = {} for i = 1, 100 do t[i] = tessera.matrix.new(1000, 1000) end", -- 4 MB each
        "return tessera.audio.new(22050 * 3600, 22050)", -- an hour of audio
      } do
        local ok, err = try(code)
        assert.is_false(ok)
        assert.equal("tessera.mosaic: the recipe exceeded its memory budget (33.6 MB)", err)
      end
      healthy()
    end)

    it("finalizers, which would run later outside every budget", function()
      local ok, err = try("setmetatable({}, { __gc = function() while true do end end })")
      assert.is_false(ok)
      assert.equal("tessera.mosaic: " .. path ..
        ":1: setmetatable: __gc metamethods are not allowed in a recipe", err)
      healthy()
    end)

    it("the string metatable (shared with the host)", function()
      local ok, err = try("getmetatable('').__index.rep = nil")
      assert.is_false(ok)
      assert.equal("tessera.mosaic: " .. path .. ":1: attempt to index a nil value", err:gsub(" %(.*$", ""))
      healthy()
    end)

    it("reading files outside its folder", function()
      for _, case in ipairs {
        { "tessera.audio.load('/etc/passwd')", "tessera.audio.load" },
        { "tessera.matrix.load('../../etc/passwd')", "tessera.matrix.load" },
        { "dofile('/etc/passwd')", "dofile" },
        { "loadfile('/etc/passwd')", "loadfile" },
      } do
        local ok, err = try(case[1])
        assert.is_false(ok)
        assert.matches("^tessera%.mosaic: " .. path:gsub("%p", "%%%0") .. ":1: " .. case[2] ..
          ": '[%./]*etc/passwd' is outside the recipe's folder '.*' %(recipes may only read there%)$", err)
      end
      healthy()
    end)

    it("/etc/passwd as a source, and nothing of it leaks into a message", function()
      local secret = assert(helpers.read_file("/etc/passwd"))
      local ok, err = try([[return { sources = { a = { file = "/etc/passwd", k = 2 } },
                                     layers = { { W = "a" } } }]])
      assert.is_false(ok)
      assert.equal("tessera.mosaic: " .. path .. ": source 'a': key 'file': '/etc/passwd' is " ..
        "outside the folders a recipe may read (its own, /usr/share/sonic-pi/samples and " ..
        "those given with --allow)", err)
      ok, err = try([[return { sources = { a = { file = "../../../../../../etc/passwd", k = 2 } },
                               layers = { { W = "a" } } }]])
      assert.is_false(ok)
      assert.matches("is outside the folders a recipe may read", err)
      -- A link inside the folder that leads outside it is refused before anything reads it,
      -- with a message that shows none of the file.
      assert(os.execute("ln -s /etc/passwd " .. helpers.shell_quote(dir .. "/link.wav")))
      write(path, [[return { out = "out.wav", sources = { a = { file = "link.wav", k = 2 } },
                             layers = { { W = "a" } } }]])
      local out, ok2, code = helpers.run(helpers.root .. "/bin/tessera mosaic --cache-dir " ..
        helpers.shell_quote(dir .. "/cache") .. " " .. helpers.shell_quote(path) .. " 2>&1")
      assert.is_nil(ok2)
      assert.equal(1, code)
      assert.equal("tessera: tessera.mosaic: " .. path .. ": source 'a': key 'file': 'link.wav' " ..
        "leads (through a link) outside the folders a recipe may read (its own, " ..
        "/usr/share/sonic-pi/samples and those given with --allow)\n", out)
      for line in secret:gmatch("[^\n]+") do
        for field in line:gmatch("[^:]+") do
          if #field >= 4 then assert.is_nil(out:find(field, 1, true), field) end
        end
      end
      assert.is_false(helpers.exists(dir .. "/out.wav"))
      -- an allowed folder is one the caller names, not the recipe
      ok = try([[return { sources = { a = { file = "/etc/passwd", k = 2 } }, layers = { { W = "a" } } }]],
        { allow = { "/etc" } })
      assert.is_true(ok) -- checked, not decoded: rendering would fail as above
    end)

    it("writing anywhere, even through tessera's save methods", function()
      for _, code in ipairs {
        "tessera.audio.new(100, 8000):save('/tmp/x.wav')",
        "tessera.matrix.new(2, 2):save('../m.npy')",
      } do
        local ok, err = try(code)
        assert.is_false(ok)
        assert.matches("a recipe may not write", err)
      end
      assert.same({ "r.lua" }, helpers.listdir(dir))
      healthy()
    end)

    it("recipe files that are too large", function()
      write(path, "return {}\n--" .. string.rep("x", 2 * 1024 * 1024))
      local ok, err = pcall(mosaic.load, path)
      assert.is_false(ok)
      assert.equal(("tessera.mosaic: the recipe is too large (%d bytes, at most 1048576)"):format(
        12 + 2 * 1024 * 1024), err)
    end)
  end)

  describe("budgets", function()
    it("are configurable per environment and from the environment variables", function()
      local env = sandbox.env(dir, { instructions = 5000 })
      write(path, "local n = 0 for i = 1, 1000 do n = n + i end return n")
      assert.same({ true, 500500 }, { sandbox.run(path, env) })
      write(path, "local n = 0 for i = 1, 100000 do n = n + i end return n")
      assert.same({ false, "the recipe exceeded its CPU budget (5000 instructions)" },
        { sandbox.run(path, env) })
      -- 0 is unlimited
      env = sandbox.env(dir, { instructions = 0, memory = 0 })
      assert.same({ true, 5000050000 }, { sandbox.run(path, env) })
      assert.has_error(function() sandbox.env(dir, { memory = -1 }) end,
        "bad argument #2 to 'env' (memory must be an integer >= 0, got -1)")
      assert.has_error(function() sandbox.env(dir, { instructions = "many" }) end,
        "bad argument #2 to 'env' (instructions must be an integer >= 0, got string)")
      -- the CLI takes TESSERA_RECIPE_INSTRUCTIONS / TESSERA_RECIPE_MEMORY
      write(path, "while true do end")
      local out, ok, code = helpers.run("TESSERA_RECIPE_INSTRUCTIONS=100000 " .. helpers.root ..
        "/bin/tessera mosaic -o " .. helpers.shell_quote(dir .. "/o.wav") .. " " ..
        helpers.shell_quote(path) .. " 2>&1")
      assert.is_nil(ok)
      assert.equal(1, code)
      assert.equal("tessera: tessera.mosaic: the recipe exceeded its CPU budget (100000 instructions)\n", out)
      write(path, "local t = {} while true do t[#t + 1] = {} end")
      out, ok, code = helpers.run("TESSERA_RECIPE_MEMORY=8M " .. helpers.root ..
        "/bin/tessera mosaic -o " .. helpers.shell_quote(dir .. "/o.wav") .. " " ..
        helpers.shell_quote(path) .. " 2>&1")
      assert.is_nil(ok)
      assert.equal(1, code)
      assert.equal("tessera: tessera.mosaic: the recipe exceeded its memory budget (8.4 MB)\n", out)
    end)

    it("core.sandbox.call checks its arguments and returns like pcall", function()
      local call = core.sandbox.call
      assert.same({ true, 3, "ok" }, { call({}, function(a, b) return a + b, "ok" end, 1, 2) })
      assert.same({ false, "boom" }, { call({}, error, "boom", 0) })
      assert.has_error(function() call({ memory = -2 }, print) end,
        "bad argument #1 to 'call' (memory must be >= 0, got -2)")
      assert.has_error(function() call({}, 3) end,
        "bad argument #2 to 'call' (function expected, got number)")
      -- an inner call runs under the outer budget
      assert.same({ false, "the recipe exceeded its CPU budget (10000 instructions)" },
        { call({ instructions = 10000 }, function()
          return call({ instructions = 0 }, function() while true do end end)
        end) })
      assert.is_nil(core.sandbox.exceeded())
    end)
  end)
end)
