-- Specs for tessera.entry: an error from the Lua API names the line of the user's script
-- that made the call, not the library's file. Each case is a real script file in a
-- temporary folder, run by bin/tessera and by the stock lua5.4 (LUA_PATH/LUA_CPATH at the
-- build), its error checked to start with that script's name and line.
local entry = require "tessera.entry"
local helpers = require "helpers"

local q = helpers.shell_quote
local format = string.format
local ROOT = (helpers.run("cd " .. q(helpers.root) .. " && pwd -P"):match("^[^\n]+"))
local BIN = ROOT .. "/bin/tessera"
local AMEN = "/usr/share/sonic-pi/samples/loop_amen.flac"
local CLEAN = "env -u TESSERA_DEBUG -u LUA_INIT -u LUA_INIT_5_4 "

-- The script's lines before the one that fails: an amen loop, its spectrogram and a model.
local PRELUDE = table.concat({
  'local t = require "tessera"',
  'local a = t.audio.load("' .. AMEN .. '", { sr = 22050 })',
  "local S = t.stft(a)",
  "local V = S:magnitude()",
  "local m = t.nmf(V, { k = 2, max_iter = 5 })",
}, "\n") .. "\n"
local LINE = 6 -- the failing line, after the prelude

describe("tessera.entry", function()
  local dir
  setup(function() dir = helpers.tmpdir() end)
  teardown(function() helpers.rmtree(dir) end)

  -- Runs `body` (the line after the prelude) as dir/name.lua under host ("tessera" or
  -- "lua5.4") from dir; returns the first line of stderr and the exit status.
  local function run(name, body, host)
    helpers.write_file(dir .. "/" .. name .. ".lua", PRELUDE .. body .. "\n")
    local cmd
    if host == "lua5.4" then
      cmd = format("cd %s && %sLUA_PATH=%s LUA_CPATH=%s lua5.4 %s.lua 2>&1 >/dev/null", q(dir), CLEAN,
        q(ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;;"), q(ROOT .. "/lua/?.so;;"), name)
    else
      cmd = format("cd %s && %s%s %s.lua 2>&1 >/dev/null", q(dir), CLEAN, q(BIN), name)
    end
    local out, ok = helpers.run(cmd)
    return out:match("^[^\n]*"), ok
  end

  local cases = {
    { "nmf", 't.nmf(V, { k = 4, lose = "kl" })',
      "bad argument #2 to 'nmf' (unknown option 'lose' (valid: k, loss, " },
    { "nmf_loss", 't.nmf(V, { k = 4, loss = "kll" })', "bad argument #2 to 'nmf' (invalid loss 'kll'" },
    { "nmf_method", "m:component(9)", "bad argument #1 to 'component' (component must be an integer" },
    { "nmf_audio", 'm:audio(1, S, { phase = "x" })', "bad argument #3 to 'audio' (unknown option 'phase'" },
    { "stft", "t.stft(a, { hop = 0 })", "bad argument #2 to 'stft' (hop must be in 1..2048, got 0)" },
    { "stft_cap", "t.stft(a, { max_memory = 1000 })",
      "tessera.stft: a 1025 x 76 spectrogram needs 623.3 kB, more than its memory budget (1.0 kB)" },
    { "istft", "S:istft({ lenght = 3 })", "bad argument #1 to 'istft' (unknown option 'lenght'" },
    { "load", 't.audio.load("nowhere.wav")', "tessera.audio.load: cannot open 'nowhere.wav'" },
    { "matrix", "V:get(0, 1)", "bad argument #1 to 'get' (row must be in 1..1025, got 0)" },
    { "frame_count", "t.spectrogram.frame_count(100, { n_fft = 256, hopp = 1 })",
      "bad argument #2 to 'frame_count' (unknown option 'hopp'" },
    { "score", "t.score.quantize(m.H:row(1), { grid = -1 })", "tessera.score.quantize: " },
    { "mosaic", 't.mosaic.load("recipe_bad.lua")', "tessera.mosaic: recipe_bad.lua: " },
  }

  for _, host in ipairs { "tessera", "lua5.4" } do
    describe("run by " .. host, function()
      for _, c in ipairs(cases) do
        it("places an error of " .. c[1] .. " at the script's line", function()
          helpers.write_file(dir .. "/recipe_bad.lua", "return { sources = {}, layers = {}, windw = 1 }\n")
          local line, ok = run(c[1], c[2], host)
          assert.is_falsy(ok)
          local prefix = (host == "tessera" and "tessera: " or "lua5.4: ") .. c[1] .. ".lua:" .. LINE .. ": "
          assert.equal(prefix, line:sub(1, #prefix), line)
          assert.equal(c[3], line:sub(#prefix + 1, #prefix + #c[3]), line)
          assert.is_nil(line:find("tessera/", 1, true), line) -- no library file named
        end)
      end
    end)
  end

  it("places an error raised by a recipe's code at the recipe's line", function()
    helpers.write_file(dir .. "/recipe_code.lua", table.concat({
      "local V = tessera.matrix.new(4, 4, 1)",
      'local m = tessera.nmf(V, { k = 2, lose = "kl" })',
      "return m",
    }, "\n"))
    local line = run("recipe_entry", 't.mosaic.load("recipe_code.lua")', "tessera")
    assert.matches("^tessera: recipe_entry%.lua:6: tessera%.mosaic: recipe_code%.lua:2: bad argument #2 to 'nmf' "
      .. "%(unknown option 'lose'", line)
  end)

  it("keeps a user callback's own error as it was raised", function()
    local line = run("callback", 't.nmf(V, { k = 2, on_iter = function() error("mine", 0) end })', "tessera")
    assert.equal("tessera: mine", line)
    line = run("callback2", 't.nmf(V, { k = 2, on_iter = function() error("mine") end })', "tessera")
    assert.equal("tessera: callback2.lua:6: mine", line)
  end)

  it("leaves errors as raised under --debug, with the traceback through the library", function()
    helpers.write_file(dir .. "/debug.lua", PRELUDE .. 't.nmf(V, { k = 4, lose = "kl" })\n')
    local out = helpers.run(format("cd %s && %s%s --debug debug.lua 2>&1", q(dir), CLEAN, q(BIN)))
    assert.matches("^tessera: [^\n]*tessera/nmf%.lua:%d+: bad argument #2 to 'nmf'", out)
    assert.truthy(out:find("\nstack traceback:\n", 1, true))
    assert.truthy(out:find("debug.lua:6:", 1, true))
  end)

  describe("export()", function()
    it("wraps a module's Lua functions once, and its __call", function()
      local called = 0
      local mt = { __call = function() called = called + 1 end }
      local mod = setmetatable({ f = function() return 1, 2, 3 end, n = 4 }, mt)
      local f, call = mod.f, mt.__call
      entry.export(mod)
      assert.are_not.equal(f, mod.f)
      assert.are_not.equal(call, mt.__call)
      local g = mod.f
      entry.export(mod)
      assert.equal(g, mod.f) -- not wrapped twice
      assert.same({ 1, 2, 3 }, { mod.f() })
      mod()
      assert.equal(1, called)
    end)

    it("adds the caller's position to the library's own messages only", function()
      local mod = entry.export({
        lib = function() error("tessera.x: bad thing", 0) end,
        mine = function() error("something of mine", 0) end,
        arg = function() error("bad argument #1 to 'arg' (no)", 0) end,
      })
      local this = debug.getinfo(1, "S").short_src
      local _, err = pcall(function() mod.lib() end)
      assert.matches("^" .. this:gsub("%p", "%%%0") .. ":%d+: tessera%.x: bad thing$", err)
      _, err = pcall(function() mod.arg() end)
      assert.matches("^" .. this:gsub("%p", "%%%0") .. ":%d+: bad argument #1 to 'arg' %(no%)$", err)
      _, err = pcall(function() mod.mine() end)
      assert.equal("something of mine", err)
      -- Called by pcall itself (a C function), as Lua's own functions: no position added.
      _, err = pcall(mod.lib)
      assert.equal("tessera.x: bad thing", err)
    end)
  end)
end)
