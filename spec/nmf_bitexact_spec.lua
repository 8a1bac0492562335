-- tessera.nmf gives the same factors, bit for bit, as the code it was refactored from: the
-- fits of spec/support/bitexact_fits.lua (every loss, solver, order and init, regularisation,
-- fixed factors, one thread and two, on a real loop) against SHA-256s of W's and H's bytes,
-- the loss and the iteration count recorded before csrc/nmf/ was split out of nmf.c and
-- nmf_cd.c (spec/support/bitexact_expected.lua). Results differ per kernel path (generic,
-- avx2, avx512), so each path this CPU has is run in a child process capped by TESSERA_SIMD.
-- The numbers belong to this machine's OpenBLAS and libm as well: on another one, or after
-- a deliberate change of the arithmetic, record them again with TESSERA_BITEXACT_RECORD=1
-- (and say why in the commit).
local helpers = require "helpers"

local EXPECTED = "spec/support/bitexact_expected.lua"

local CAP = { generic = "generic", avx2 = "avx2", avx512 = "any" }

local function fits(path)
  local out, ok = helpers.run(("cd %s && TESSERA_SIMD=%s LUA_PATH='lua/?.lua;lua/?/init.lua;;' "
    .. "LUA_CPATH='lua/?.so;;' lua5.4 spec/support/bitexact_fits.lua 2>&1"):format(
    helpers.shell_quote(helpers.root), CAP[path]))
  assert(ok, out)
  return out
end

local function lines(text)
  local t = {}
  for line in text:gmatch("[^\n]+") do t[#t + 1] = line end
  return t
end

describe("tessera.nmf", function()
  describe("bit-exact fits", function()
    local paths = helpers.cpu_paths()

    if os.getenv("TESSERA_BITEXACT_RECORD") then
      it("records the expected fits", function()
        local f = assert(io.open(helpers.root .. "/" .. EXPECTED, "w"))
        f:write("-- Recorded by spec/nmf_bitexact_spec.lua (TESSERA_BITEXACT_RECORD=1): per kernel\n"
                .. "-- path, one line per fit of spec/support/bitexact_fits.lua\n"
                .. "-- (\"name|W sha256|H sha256|loss|iterations\").\nreturn {\n")
        for _, path in ipairs(paths) do f:write(("  %s = [[\n%s]],\n"):format(path, fits(path))) end
        f:write("}\n")
        f:close()
      end)
      return
    end

    local expected = dofile(helpers.root .. "/" .. EXPECTED)
    for _, path in ipairs(paths) do
      it("gives the recorded factors, loss and iterations on the " .. path .. " path", function()
        local want, got = lines(expected[path]), lines(fits(path))
        assert.is_true(#want > 100, "recorded cases")
        for i, line in ipairs(want) do
          assert.equal(line, got[i], want[i]:match("^[^|]*"))
        end
        assert.equal(#want, #got)
      end)
    end
  end)
end)
