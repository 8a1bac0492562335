-- Specs for scripts/install-deps.sh and the make targets that call it: `make` and `make demo`
-- install only the run group (no test tool on a machine that only runs tessera), the
-- targets that test install the test group too.
local helpers = require "helpers"

local q = helpers.shell_quote
local SCRIPT = q(helpers.root .. "/scripts/install-deps.sh")

-- The packages of some groups (install-deps.sh --list), as a set.
local function listed(groups)
  local out, ok = helpers.run(SCRIPT .. " --list " .. groups .. " 2>&1")
  assert(ok, out)
  local set = {}
  for name in out:gmatch("[^\n]+") do set[name] = true end
  return set, out
end

-- Tools only the tests, the fuzzer, memcheck or the benchmarks use.
local TEST_ONLY = { "chromium", "clang", "libclang-rt-dev", "valgrind", "lua-busted", "lua-check",
  "python3-numpy", "python3-sklearn", "python3-scipy", "python3-mir-eval", "python3-mido",
  "parallel", "time", "luarocks", "man-db" }

-- The groups every install-deps.sh call of `make -n TARGET` names (none: run).
local function groups_of(target)
  local out, ok = helpers.run("cd " .. q(helpers.root)
    .. " && env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -n " .. target .. " 2>&1")
  assert(ok, out)
  local calls = {}
  for line in out:gmatch("[^\n]+") do
    local args = line:match("scripts/install%-deps%.sh(.*)$")
    if args then calls[#calls + 1] = args:match("^%s*(.-)%s*$") end
  end
  return calls
end

describe("scripts/install-deps.sh", function()
  it("keeps test tools out of the run group and puts them in the test group", function()
    local run = listed("run")
    local test = listed("test")
    for _, p in ipairs(TEST_ONLY) do
      assert(not run[p], "the run group installs the test tool " .. p)
      assert(test[p], "the test group lacks " .. p)
    end
    for _, p in ipairs({ "build-essential", "lua5.4", "liblua5.4-dev", "libfftw3-dev", "libopenblas-dev",
      "lua-argparse", "lua-luv", "gnuplot-nox", "sonic-pi-samples" }) do
      assert(run[p], "the run group lacks " .. p)
    end
  end)

  it("lists the run group when no group is named, and refuses an unknown group", function()
    local _, default = listed("")
    local _, run = listed("run")
    assert.equal(run, default)
    local out, ok, code = helpers.run(SCRIPT .. " --list run tests 2>&1")
    assert.is_falsy(ok)
    assert.equal(2, code)
    assert.equal("install-deps: unknown group 'tests' (groups: run, test, doc, cluster)\n", out)
  end)

  it("installs nothing, quietly, when every package of a group is there", function()
    -- The run group is installed on any machine that built tessera: a quick dpkg check.
    local out, ok = helpers.run(SCRIPT .. " run 2>&1")
    assert(ok, out)
    assert.equal("", out)
  end)
end)

describe("make", function()
  it("installs only the run group for make and make demo", function()
    for _, target in ipairs({ "all", "demo", "install" }) do
      local calls = groups_of(target)
      assert.is_true(#calls >= 1, target)
      for _, groups in ipairs(calls) do
        assert(groups == "run", "make " .. target .. " runs install-deps.sh " .. groups)
      end
    end
  end)

  -- Whether some install-deps.sh call of make -n TARGET names the group.
  local function installs(target, group)
    for _, groups in ipairs(groups_of(target)) do
      if groups:find("%f[%w]" .. group .. "%f[^%w]") then return true end
    end
    return false
  end

  it("installs the test and doc groups for the targets that test", function()
    for _, target in ipairs({ "test", "fuzz", "memcheck", "bench", "test-install" }) do
      assert(installs(target, "test"), "make " .. target .. " does not install the test group")
      assert(installs(target, "doc"), "make " .. target .. " does not install the doc group")
    end
  end)

  it("installs the doc group, and no test tool, for make doc", function()
    assert.is_true(installs("doc", "doc"))
    assert.is_false(installs("doc", "test"))
    local doc = listed("doc")
    assert.is_true(doc["lua-ldoc"])
    for _, p in ipairs(TEST_ONLY) do assert(not doc[p], "the doc group installs the test tool " .. p) end
  end)
end)
