-- Specs for what README.md tells a new user: its NMF example prints what its comment says,
-- and its rule of the folders a recipe may read is the one tessera.mosaic enforces.
local helpers = require "helpers"
local tessera = require "tessera"

local AMEN = "/usr/share/sonic-pi/samples/loop_amen.flac"
local README = helpers.read_file(helpers.root .. "/README.md")

describe("README.md", function()
  it("shows both factors' shapes in its NMF example, as they print", function()
    local line = README:match("\n(print%(m%.W, m%.H%)[^\n]*)\n")
    assert.is_string(line, "the NMF example prints m.W and m.H")
    local shown = line:match("%-%- (.*)$")
    -- The example's own steps: the amen loop at 22050 Hz, its magnitude, k = 4, KL.
    local a = tessera.audio.load(AMEN, { sr = 22050 })
    local m = tessera.nmf(tessera.stft(a):magnitude(), { k = 4, loss = "kl" })
    assert.equal(shown:gsub("%s+", " "), tostring(m.W) .. " " .. tostring(m.H))
    assert.is_nil(README:find("m.W:shape(), m.H:shape()", 1, true), "Lua keeps one value of each call")
  end)

  describe("the folders a recipe may read", function()
    -- The paragraph that introduces the sandbox, where the mosaic recipes are shown.
    local para = README:match("Recipes run in a sandbox.-\n\n")

    it("are stated where the sandbox is introduced: its own, the sonic-pi samples, --allow", function()
      assert.is_string(para)
      assert.is_nil(para:find("files outside their folder", 1, true))
      assert.truthy(para:find("/usr/share/sonic-pi/samples", 1, true))
      assert.truthy(para:find("--allow DIR", 1, true))
      assert.truthy(para:find("TESSERA_ALLOW", 1, true))
    end)

    it("are the ones tessera.mosaic enforces", function()
      local dir, other = helpers.tmpdir(), helpers.tmpdir()
      finally(function()
        helpers.rmtree(dir)
        helpers.rmtree(other)
      end)
      local copy = other .. "/amen.wav"
      tessera.audio.load(AMEN, { mono = false, duration = 0.5 }):save(copy)
      local function recipe(file, code)
        helpers.write_file(dir .. "/r.lua", (code or "") .. 'return { sources = { d = { file = "' .. file
          .. '", k = 2 } }, layers = { { W = "d" } } }')
        return dir .. "/r.lua"
      end
      -- The sonic-pi samples: allowed by default.
      assert.is_table(tessera.mosaic.load(recipe(AMEN)))
      -- Another folder: refused, with --allow named; allowed when given.
      local ok, err = pcall(tessera.mosaic.load, recipe(copy))
      assert.is_false(ok)
      assert.truthy(err:find("is outside the folders a recipe may read", 1, true), err)
      assert.truthy(err:find("--allow", 1, true), err)
      assert.is_table(tessera.mosaic.load(recipe(copy), { allow = { other } }))
      -- Code the recipe runs reads its own folder only, the samples included.
      ok, err = pcall(tessera.mosaic.load, recipe(AMEN, 'tessera.audio.load("' .. AMEN .. '")\n'))
      assert.is_false(ok)
      assert.truthy(err:find("is outside the recipe's folder", 1, true), err)
    end)
  end)
end)
