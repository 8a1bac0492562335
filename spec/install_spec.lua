-- Specs for `make install` / `make uninstall`: the host, the Lua modules, tessera.core and the
-- man page land under PREFIX in the layout the stock lua5.4 searches, and work from / with
-- nothing of the checkout in sight (scripts/test-install.sh also does it with luarocks).
local helpers = require "helpers"

local q = helpers.shell_quote

local function absolute(path)
  local out = helpers.run("cd " .. q(path) .. " && pwd -P")
  return (out:gsub("\n$", ""))
end

local ROOT = absolute(helpers.root)
local LOOP = helpers.samples .. "/loop_amen.flac"

-- make in the checkout, as a user types it (a spec may itself run under make test: the
-- outer make's jobserver is not ours).
local function make(args)
  return helpers.run("cd " .. q(ROOT) .. " && env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s "
    .. args .. " 2>&1")
end

-- A command run from /, without any variable that could lead back to the checkout.
local function from_root(env, cmd)
  return helpers.run("cd / && env -u TESSERA_LUA_PATH -u LUA_PATH -u LUA_PATH_5_4 -u LUA_CPATH "
    .. "-u LUA_CPATH_5_4 -u LUA_INIT -u LUA_INIT_5_4 " .. env .. " " .. cmd .. " 2>&1")
end

local function modules_in(dir)
  local out = helpers.run("cd " .. q(dir) .. " && find tessera -name '*.lua' | LC_ALL=C sort")
  return out
end

describe("make install", function()
  local tmp, prefix

  lazy_setup(function()
    tmp = helpers.tmpdir()
    prefix = tmp .. "/prefix"
    local out, ok = make("install PREFIX=" .. q(prefix))
    assert(ok, "make install failed:\n" .. out)
  end)

  lazy_teardown(function()
    helpers.rmtree(tmp)
  end)

  it("puts the host, every Lua module, tessera.core and the man page under PREFIX", function()
    assert.is_true(helpers.exists(prefix .. "/bin/tessera"))
    local _, executable = helpers.run("test -x " .. q(prefix .. "/bin/tessera"))
    assert.is_true(executable)
    assert.is_true(helpers.exists(prefix .. "/lib/lua/5.4/tessera/core.so"))
    assert.is_true(helpers.exists(prefix .. "/share/man/man1/tessera.1"))
    local installed = modules_in(prefix .. "/share/lua/5.4")
    assert.equal(modules_in(ROOT .. "/lua"), installed)
    assert.truthy(installed:find("tessera/batch/run.lua", 1, true))
  end)

  it("lets the stock lua5.4 require tessera from / and fit an NMF of a real loop", function()
    local out = tmp .. "/model"
    local lua = [[
      local prefix, loop, out = ...
      local tessera = require "tessera"
      print(package.searchpath("tessera", package.path))
      print(package.searchpath("tessera.core", package.cpath))
      local a = tessera.audio.load(loop, { sr = 22050 })
      local m = tessera.nmf(tessera.stft(a, { magnitude = true }), { k = 3, max_iter = 30 })
      m:save(out)
      print(m.W:shape())
      print(require("tessera.batch").host())
    ]]
    local script = tmp .. "/fit.lua"
    helpers.write_file(script, lua)
    local env = "LUA_PATH=" .. q(prefix .. "/share/lua/5.4/?.lua;" .. prefix .. "/share/lua/5.4/?/init.lua;;")
      .. " LUA_CPATH=" .. q(prefix .. "/lib/lua/5.4/?.so;;")
    local text, ok = from_root(env, "lua5.4 " .. table.concat({ q(script), q(prefix), q(LOOP), q(out) }, " "))
    assert(ok, text)
    local lines = {}
    for line in text:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.equal(prefix .. "/share/lua/5.4/tessera/init.lua", lines[1])
    assert.equal(prefix .. "/lib/lua/5.4/tessera/core.so", lines[2])
    assert.equal("1025\t3", lines[3])
    -- batch's workers are the installed host, found from the modules' folder.
    assert.equal(prefix .. "/bin/tessera", lines[4])
    assert.is_true(helpers.exists(out .. "/W.npy"))
    assert.is_true(helpers.exists(out .. "/H.npy"))
  end)

  it("installs a host that finds its modules in PREFIX/share/lua/5.4 and runs every command's help", function()
    local bin = q(prefix .. "/bin/tessera")
    local path, ok = from_root("", bin .. [[ -e 'io.write(package.searchpath("tessera.cli", package.path))']])
    assert(ok, path)
    assert.equal(prefix .. "/share/lua/5.4/tessera/cli.lua", path)
    local help
    help, ok = from_root("", bin .. " help")
    assert(ok, help)
    for _, command in ipairs(require("tessera.cli").commands()) do
      assert.truthy(help:find("\n  " .. command.name .. " ", 1, true), command.name)
      local usage
      usage, ok = from_root("", bin .. " " .. command.name .. " --help")
      assert(ok, usage)
      assert.equal("Usage: tessera " .. command.name, usage:match("^Usage: tessera [%w_-]+"))
    end
    local info
    info, ok = from_root("", bin .. " info " .. q(LOOP))
    assert(ok, info)
    assert.truthy(info:find("sample rate  44100 Hz", 1, true))
  end)

  it("installs under DESTDIR, and make uninstall removes every file it installed", function()
    local stage = tmp .. "/stage"
    local out, ok = make("install DESTDIR=" .. q(stage) .. " PREFIX=/opt/tessera")
    assert(ok, out)
    local root = stage .. "/opt/tessera"
    assert.is_true(helpers.exists(root .. "/bin/tessera"))
    assert.is_true(helpers.exists(root .. "/share/lua/5.4/tessera/init.lua"))
    -- The staged host already works where it lies.
    local version
    version, ok = from_root("", q(root .. "/bin/tessera") .. " -e 'io.write(require(\"tessera\").version)'")
    assert(ok, version)
    assert.equal(require("tessera").version, version)
    out, ok = make("uninstall DESTDIR=" .. q(stage) .. " PREFIX=/opt/tessera")
    assert(ok, out)
    local left = helpers.run("find " .. q(stage) .. " -type f")
    assert.equal("", left)
  end)
end)
