-- Temporal continuity of H (smooth_H, Virtanen 2007): weight 0 changes nothing, a weight
-- makes activations smoother as it grows, a list smooths only the components it names, the
-- weight means the same for any scale of V, and bad weights are refused.
local tessera = require "tessera"
local helpers = require "helpers"

local V = tessera.stft(tessera.audio.load(helpers.samples .. "/loop_amen.flac",
  { sr = 22050, duration = 2 })):magnitude()

-- Row a's squared steps over its energy: 0 for a constant row, large for a spiky one.
local function roughness(H, a)
  local r = H:row(a):totable()[1]
  local S, D = 0, 0
  for j = 1, #r do
    S = S + r[j] ^ 2
    if j > 1 then D = D + (r[j] - r[j - 1]) ^ 2 end
  end
  return D / S
end

local function fit(smooth, v)
  return tessera.nmf(v or V, { k = 3, loss = "kl", init = "random", seed = 1, max_iter = 200,
    smooth_H = smooth, progress = false })
end

describe("tessera.nmf with smooth_H", function()
  it("changes nothing with a weight of 0", function()
    local plain, zero = fit(nil), fit(0)
    assert.same(plain.W:totable(), zero.W:totable())
    assert.same(plain.H:totable(), zero.H:totable())
  end)

  it("makes every activation smoother as the weight grows", function()
    local before = fit(nil)
    local previous = {}
    for a = 1, 3 do previous[a] = roughness(before.H, a) end
    for _, w in ipairs { 0.01, 0.1, 1 } do
      local m = fit(w)
      for a = 1, 3 do
        local r = roughness(m.H, a)
        assert.is_true(r < previous[a], ("w %g, row %d: %g after %g"):format(w, a, r, previous[a]))
        previous[a] = r
      end
    end
    assert.is_true(previous[1] < 0.2 * roughness(before.H, 1))
  end)

  it("smooths only the components a list gives a weight", function()
    local before, m = fit(nil), fit({ 0, 0, 1 })
    assert.is_true(roughness(m.H, 3) < 0.05 * roughness(before.H, 3))
    for a = 1, 2 do assert.is_true(roughness(m.H, a) > 0.5 * roughness(before.H, a)) end
  end)

  it("means the same for any scale of V (weights relative to the start's divergence)", function()
    local a, b = fit(0.1), fit(0.1, V:copy():scale(1000))
    for r = 1, 3 do assert.near(roughness(a.H, r), roughness(b.H, r), 1e-3 * roughness(a.H, r)) end
  end)

  it("refuses bad weights, naming them", function()
    local function refused(opts, expected)
      opts.k, opts.progress = 3, false
      assert.equal(expected, helpers.error_message(tessera.nmf, V, opts))
    end
    refused({ smooth_H = { 1, 2 } },
      "bad argument #2 to 'nmf' (smooth_H must list 3 weights (one per component), got 2)")
    refused({ smooth_H = -1 },
      "bad argument #2 to 'nmf' (smooth_H weights must be finite numbers >= 0, got -1)")
    refused({ smooth_H = "x" },
      "bad argument #2 to 'nmf' (smooth_H must be a number or a list of 3 numbers, got string)")
    refused({ smooth_H = 1, solver = "cd" },
      "bad argument #2 to 'nmf' (smooth_H needs solver 'mu' (temporal continuity is a multiplicative update's prior))")
  end)

  it("is a recipe source key and a decompose flag", function()
    local dir = helpers.tmpdir()
    finally(function() helpers.rmtree(dir) end)
    helpers.write_file(dir .. "/r.lua", ([[return { duration = 1, sources = { a = {
      file = "%s/loop_amen.flac", duration = 1, k = 2, loss = "kl", smooth_H = 0.5, max_iter = 20 } },
      layers = { { W = "a:1" } } }]]):format(helpers.samples))
    local ok, err = pcall(tessera.mosaic.render, dir .. "/r.lua", { out = dir .. "/r.wav" })
    assert.is_true(ok, err)
    local q = helpers.shell_quote
    local out, done = helpers.run(("%s decompose %s -k 2 --iter 20 --smooth 0.5 -o %s 2>&1"):format(
      q(helpers.root .. "/bin/tessera"), q(helpers.samples .. "/loop_amen.flac"), q(dir .. "/out")))
    assert.is_true(done, out)
    local m = tessera.nmf.load(dir .. "/out")
    assert.equal(2, m.k)
  end)
end)
