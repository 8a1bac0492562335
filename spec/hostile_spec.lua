-- The hostile-recipe suite (issue 15): recipes written the way an attacker would, each run by
-- `bin/tessera mosaic` in a child process under `timeout` and `ulimit -v` (1 GB), with
-- TESSERA_MAX_MEMORY=1G and a 4-second wall clock, so a regression cannot hang or exhaust
-- the machine running the specs. Each must end with status 1, one line naming the refusal,
-- within 5 seconds, and leave no file anywhere but the recipe's own.
local helpers = require "helpers"
local core = require "tessera.core"

local SAMPLE = helpers.samples .. "/loop_amen.flac"
local BIN = require("tessera.fs").resolve(helpers.root .. "/bin/tessera")

-- A recipe around `layer` and `source` (Lua text) that would render if they were sane.
local function recipe(top, source, layer)
  return ([[return { %s sources = { a = { file = %q, duration = 1, %s } },
                     layers = { { %s } } }]]):format(top or "", SAMPLE, source or "k = 2",
    layer or 'W = "a"')
end

-- The victim files a case must not create (relative to the recipe's folder or absolute).
local VICTIMS = { "../victim.wav", "../../victim.wav", "/tmp/tessera-hostile-victim.wav" }

-- { name, recipe text, expected message (exact after "tessera: tessera.mosaic: ", with
-- R for the recipe's path) or a Lua pattern when it starts with "^" }.
local cases = {
  -- escapes through error objects, metamethods and keys
  { "an error object whose __tostring writes a file",
    [[error(setmetatable({}, { __tostring = function()
        tessera.audio.new(1, 8000):save("../../victim.wav") return "x" end }))]],
    "(error object is a table value)" },
  { "an error object whose __tostring loops forever",
    [[error(setmetatable({}, { __tostring = function() while true do end end }))]],
    "the recipe exceeded its CPU budget (1000000 instructions)" },
  { "an error object whose __tostring returns a table",
    [[error(setmetatable({}, { __tostring = function() return {} end }))]],
    "(error object is a table value)" },
  { "an error object that is a function", [[error(function() end)]],
    "(error object is a function value)" },
  { "an error object that is a coroutine", [[error(coroutine.create(print))]],
    "(error object is a thread value)" },
  { "a key whose __tostring writes a file",
    [[return { [setmetatable({}, { __tostring = function()
        tessera.audio.new(1, 8000):save("/tmp/tessera-hostile-victim.wav") return "x" end })] = 1 }]],
    "the recipe's result: the value has a key that is a table (keys must be strings, numbers " ..
    "or booleans)" },
  { "a function as a key", [[return { [print] = 1 }]],
    "the recipe's result: the value has a key that is a function (keys must be strings, " ..
    "numbers or booleans)" },
  { "a result with an __index metamethod",
    [[return setmetatable({}, { __index = function() while true do end end })]],
    "the recipe's result: the value is a table with a metatable (a recipe gives back plain tables)" },
  { "a nested table with __pairs",
    [[return { sources = { a = setmetatable({}, { __pairs = function() while true do end end }) } }]],
    "the recipe's result: the value.sources.a is a table with a metatable (a recipe gives back " ..
    "plain tables)" },
  { "a function where a number goes", recipe(nil, "k = function() return 2 end"),
    "the recipe's result: the value.sources.a.k is a function (a recipe gives back data: plain " ..
    "tables, strings, numbers and booleans)" },
  { "a coroutine in the result", [[return { layers = { coroutine.create(print) } }]],
    "the recipe's result: the value.layers[1] is a thread (a recipe gives back data: plain " ..
    "tables, strings, numbers and booleans)" },
  { "a table that contains itself", [[local t = {} t.t = t return t]],
    "the recipe's result: the value.t contains itself" },
  { "tables nested 100 deep",
    [[local t = {} local r = t for _ = 1, 100 do t.x = {} t = t.x end return r]],
    "^the recipe's result: the value[.x]+ is nested more than 64 tables deep$" },
  { "poisoning the Model class through getmetatable",
    [[local m = tessera.nmf(tessera.matrix.new(4, 4):fill(1), { k = 1, progress = false })
      getmetatable(m).__index = function() end]],
    "R:2: attempt to index a string value" },
  { "poisoning the Model class through m.__index",
    [[local m = tessera.nmf(tessera.matrix.new(4, 4):fill(1), { k = 1, progress = false })
      m.__index.save = function() end]],
    "R:2: attempt to index a nil value (field '__index')" },
  { "replacing a model's metatable",
    [[local m = tessera.nmf(tessera.matrix.new(4, 4):fill(1), { k = 1, progress = false })
      setmetatable(m, {})]],
    "R:2: cannot change a protected metatable" },
  { "a finalizer", [[setmetatable({}, { __gc = function() end })]],
    "R:1: setmetatable: __gc metamethods are not allowed in a recipe" },
  { "a to-be-closed variable that writes a file as the error unwinds",
    [[local x <close> = setmetatable({}, { __close = function()
        tessera.audio.new(1, 8000):save("../victim.wav") end })
      error("boom")]],
    "^R:2: tessera.audio.save: a recipe may not write '%.%./victim.wav'$" },
  { "a to-be-closed variable that loops forever",
    [[local x <close> = setmetatable({}, { __close = function() while true do end end })
      error("boom")]],
    "the recipe exceeded its CPU budget (1000000 instructions)" },
  -- escapes through coroutines, the debug and string libraries, loading
  { "an xpcall handler that loops forever",
    [[xpcall(function() error("x") end, function() while true do end end)]],
    "the recipe exceeded its CPU budget (1000000 instructions)" },
  { "an xpcall handler that catches the budget's error",
    [[while true do xpcall(function() while true do end end, function(e) return e end) end]],
    "the recipe exceeded its CPU budget (1000000 instructions)" },
  { "an endless loop in a coroutine",
    [[local co = coroutine.wrap(function() while true do coroutine.yield() end end)
      while true do co() end]],
    "the recipe exceeded its CPU budget (1000000 instructions)" },
  { "an endless loop in a coroutine's xpcall handler",
    [[coroutine.wrap(function() xpcall(error, function() while true do end end) end)()]],
    "the recipe exceeded its CPU budget (1000000 instructions)" },
  { "the debug library", [[debug.sethook()]],
    "R:1: attempt to index a nil value (global 'debug')" },
  { "string.dump", [[string.dump(print)]], "R:1: attempt to call a nil value (field 'dump')" },
  { "string.dump through a string's methods", [[("").dump(print)]],
    "R:1: attempt to call a nil value (field 'dump')" },
  { "the string metatable", [[getmetatable("").__index.find = nil]],
    "R:1: attempt to index a nil value" },
  { "bytecode through load", [[load("\27LuaT\0")()]],
    "R:1: load: binary chunks are not allowed in a recipe" },
  { "load in binary mode", [[load("return 1", "x", "b")]],
    "R:1: load: mode must be 't' in a recipe, got 'b'" },
  { "replacing string.sub to fool the host's path check",
    [[string.sub = function() return "" end
      dofile("/etc/passwd")]],
    "^R:2: dofile: '/etc/passwd' is outside the recipe's folder '.*' %(recipes may only read there%)$" },
  { "os.execute", [[os.execute("touch ../victim.wav")]],
    "R:1: attempt to call a nil value (field 'execute')" },
  { "io", [[io.open("../victim.wav", "w")]], "R:1: attempt to index a nil value (global 'io')" },
  { "require", [[require("io")]], "R:1: attempt to call a nil value (global 'require')" },
  { "package.loadlib", [[package.loadlib("libc.so.6", "system")]],
    "R:1: attempt to index a nil value (global 'package')" },
  -- budget dodges
  { "C pattern backtracking through a string method",
    [[local r = ("a"):rep(30000):find(("a*"):rep(10) .. "b") return r]],
    "R:1: string.find: the pattern 'a*a*a*a*a*a*a*a*a*a*b' on 30000 bytes could backtrack too " ..
    "long for a recipe (11 repeated items; use a shorter subject or a simpler pattern)" },
  { "C pattern backtracking through string.gsub",
    [[local r = string.gsub(("x"):rep(100000), ".-.-.-y", "") return r]],
    "R:1: string.gsub: the pattern '.-.-.-y' on 100000 bytes could backtrack too long for a " ..
    "recipe (4 repeated items; use a shorter subject or a simpler pattern)" },
  { "C pattern backtracking through gmatch",
    [[for _ in ("ab"):rep(50000):gmatch("(.-)(.-)(.-)c") do end]],
    "R:1: string.gmatch: the pattern '(.-)(.-)(.-)c' on 100000 bytes could backtrack too long " ..
    "for a recipe (4 repeated items; use a shorter subject or a simpler pattern)" },
  { "a C loop in table.move", [[table.move({}, 1, 2^53, 2)]],
    "the recipe exceeded its CPU budget (1000000 instructions)" },
  { "a fit with max_iter = 2^31 - 1 in the recipe",
    [[tessera.nmf(tessera.matrix.new(200, 200):fill(1), { k = 2, max_iter = 2^31 - 1, tol = 0 })]],
    "the recipe exceeded its CPU budget (1000000 instructions)" },
  { "pcall swallowing the memory budget",
    [[local t = {} while true do pcall(function() t[#t + 1] = ("x"):rep(1e6) .. #t end) end]],
    "the recipe exceeded its memory budget (33.6 MB)" },
  { "an endless loop without a CPU budget (the wall clock)",
    [[while true do pcall(function() while true do end end) end]],
    "the recipe exceeded its time limit (2 s)", { TESSERA_RECIPE_INSTRUCTIONS = "0" } },
  -- resource bombs
  { "a string doubled forever", [[local s = "x" while true do s = s .. s end]],
    "the recipe exceeded its memory budget (33.6 MB)" },
  { "a 400 MB matrix", [[return tessera.matrix.new(10000, 10000)]],
    "the recipe exceeded its memory budget (33.6 MB)" },
  { "an hour of audio", [[return tessera.audio.new(22050 * 3600, 22050)]],
    "the recipe exceeded its memory budget (33.6 MB)" },
  { "a selector of 999999999 components", recipe(nil, nil, 'W = "a:1-999999999"'),
    "R: layer 1: key 'W': component 999999999 of source 'a' is out of range (k = 2)" },
  { "a selector index beyond the integers", recipe(nil, nil, 'W = "a:1-99999999999999999999"'),
    "R: layer 1: key 'W': component 99999999999999999999 of source 'a' is out of range (k = 2)" },
  { "a selector repeating a range", recipe(nil, nil, 'W = "a:1-2' .. (",1-2"):rep(60000) .. '"'),
    "R: layer 1: key 'W': 'a:1-2,1-2,1-2,1-2,1-2,1-2,1-2,1-2,1-2,1-...' selects more than 100000 " ..
    "components" },
  { "a duration of ten hours", recipe("duration = 36000,"),
    "^R: key 'duration': the output %(36000 s at 22050 Hz%) needs 47%.67 GB, more than " },
  { "a duration of 1e9 seconds", recipe("duration = 1e9,"),
    "^R: key 'duration': the output %(1000000000 s at 22050 Hz%) needs 1324%.0 TB, more than " },
  { "k = 1e6", recipe(nil, "k = 1e6"),
    "R: source 'a': key 'k' must be an integer in 1..1000, got number 1000000.0" },
  { "k = 1e30", recipe(nil, "k = 1e30"),
    "R: source 'a': key 'k' must be an integer in 1..1000, got number 1e+30" },
  { "a source fit with max_iter = 2e9", recipe(nil, "k = 2, max_iter = 2e9, tol = 0"),
    "the recipe exceeded its time limit (2 s)" },
  -- path tricks
  { "dofile outside its folder", [[dofile("/etc/passwd")]],
    "^R:1: dofile: '/etc/passwd' is outside the recipe's folder '.*' %(recipes may only read there%)$" },
  { "a source outside its folder",
    [[return { sources = { a = { file = "/etc/passwd", k = 2 } }, layers = { { W = "a" } } }]],
    "R: source 'a': key 'file': '/etc/passwd' is outside the folders a recipe may read (its " ..
    "own, /usr/share/sonic-pi/samples and those given with --allow)" },
  { "saving audio outside its folder", [[tessera.audio.new(100, 8000):save("/tmp/tessera-hostile-victim.wav")]],
    "R:1: tessera.audio.save: a recipe may not write '/tmp/tessera-hostile-victim.wav'" },
  { "saving a model outside its folder",
    [[tessera.nmf(tessera.matrix.new(4, 4):fill(1), { k = 1, progress = false }):save("../victim")]],
    "^R:1: tessera.nmf.save: a recipe may not write '%.%./victim'$" },
}

describe("hostile recipes", function()
  local root, dir, path

  setup(function()
    root = helpers.tmpdir()
    dir = root .. "/a/b"
    assert(os.execute("mkdir -p " .. helpers.shell_quote(dir)))
    path = dir .. "/r.lua"
  end)
  teardown(function() helpers.rmtree(root) end)

  -- Runs the recipe text in a child under the limits; returns its one line, status, seconds.
  local function run(text, env)
    helpers.write_file(path, text)
    local vars = { TESSERA_MAX_MEMORY = "1G", TESSERA_RECIPE_SECONDS = "2",
                   TESSERA_RECIPE_MEMORY = "32M", TESSERA_RECIPE_INSTRUCTIONS = "1000000" }
    for k, v in pairs(env or {}) do vars[k] = v end
    local words = {}
    for k, v in pairs(vars) do words[#words + 1] = k .. "=" .. helpers.shell_quote(v) end
    local cmd = ("cd %s && ulimit -v 1048576 && env %s timeout -k 1 10 %s mosaic -o %s " ..
      "--cache-dir %s r.lua 2>&1"):format(helpers.shell_quote(dir), table.concat(words, " "),
      helpers.shell_quote(BIN), helpers.shell_quote(dir .. "/o.wav"),
      helpers.shell_quote(root .. "/cache"))
    local t0 = core.util.now()
    local out, _, code = helpers.run(cmd)
    return out, code, core.util.now() - t0
  end

  it("has at least 40 cases, each listed in docs/bad-input.md with its message", function()
    assert.is_true(#cases >= 40, tostring(#cases))
    local doc = assert(helpers.read_file(helpers.root .. "/docs/bad-input.md"))
    for i, case in ipairs(cases) do
      local line = doc:match("\n| H" .. i .. " |[^\n]*")
      assert.is_truthy(line, "H" .. i)
      assert.is_truthy(line:find(case[1], 1, true), "H" .. i .. ": " .. case[1])
      local shown = case[3]:gsub("^%^", ""):gsub("%$$", ""):gsub("^R", "<recipe>", 1):gsub("|", "\\|")
      if case[3]:sub(1, 1) ~= "^" then
        assert.is_truthy(line:find(shown, 1, true), "H" .. i .. ": " .. shown)
      end
    end
  end)

  for _, case in ipairs(cases) do
    local name, text, expected, env = case[1], case[2], case[3], case[4]
    it("refuses " .. name, function()
      local out, code, seconds = run(text, env)
      local line = out:match("^tessera: tessera%.mosaic: (.-)\n$")
      assert.is_truthy(line, out)
      line = line:gsub("^r%.lua", "R", 1)
      if expected:sub(1, 1) == "^" then
        assert.matches(expected, line)
      else
        assert.equal(expected, line)
      end
      assert.equal(1, code)
      assert.is_true(seconds < 5, ("%.1f s"):format(seconds))
      for _, victim in ipairs(VICTIMS) do
        local full = victim:sub(1, 1) == "/" and victim or dir .. "/" .. victim
        assert.is_false(helpers.exists(full), victim)
      end
      assert.same({ "r.lua" }, helpers.listdir(dir))
      assert.same({ "a", "cache" }, (function()
        local names = helpers.listdir(root)
        if #names == 1 then names[2] = "cache" end -- no cache folder yet is fine
        return names
      end)())
    end)
  end
end)

return cases
