-- Partial freezing (fixed_W, fixed_H): frozen columns of W and rows of H are kept bit for
-- bit by every loss and solver, the objective never rises, the free components adapt, and
-- a fit with everything frozen returns its input.
local tessera = require "tessera"
local helpers = require "helpers"

local matrix = tessera.matrix

local V = tessera.stft(tessera.audio.load(helpers.samples .. "/loop_amen.flac",
  { sr = 22050, duration = 1 })):magnitude()
local n, p = V:shape()

-- A deterministic, strictly positive start of k components.
local function start(k)
  local W, H = matrix.new(n, k), matrix.new(k, p)
  for a = 1, k do
    for i = 1, n do W:set(i, a, 0.01 + ((i * a) % 13) / 13) end
    for j = 1, p do H:set(a, j, 0.05 + ((j * (a + 1)) % 7) / 7) end
  end
  return W, H
end

local function column(M, a) return M:col(a):totable() end
local function row(M, a) return M:row(a):totable() end

describe("tessera.nmf with fixed_W and fixed_H", function()
  local cases = {
    { loss = "euclidean" }, { loss = "kl" }, { loss = "is" }, { loss = 0.5, order = "WH" },
    { loss = "euclidean", k = 10 }, { loss = "kl", order = "simultaneous" }, { solver = "cd" },
    { solver = "cd", k = 10 }, { loss = "kl", weights = matrix.new(n, p, 1) },
    { solver = "cd", weights = matrix.new(n, p, 1) }, { loss = "kl", threads = 1 },
    { solver = "cd", threads = 1 },
  }
  for _, case in ipairs(cases) do
    local name = ("%s %s%s%s%s"):format(tostring(case.loss or "euclidean"), case.solver or "mu",
      case.order and (" " .. case.order) or "", case.k and (" k " .. case.k) or "",
      case.weights and " weighted" or case.threads and " 1 thread" or "")
    it("keeps frozen components bit for bit and lowers the objective (" .. name .. ")", function()
      local k = case.k or 4
      local W0, H0 = start(k)
      local opts = { k = k, W = W0, H = H0, fixed_W = { 1, 3 }, fixed_H = { 2 }, max_iter = 40,
        every = 1, tol = 0, progress = false }
      for key, v in pairs(case) do opts[key] = v end
      opts.k = k
      local m = tessera.nmf(V, opts)
      assert.same(column(W0, 1), column(m.W, 1))
      assert.same(column(W0, 3), column(m.W, 3))
      assert.same(row(H0, 2), row(m.H, 2))
      assert.are_not.same(column(W0, 2), column(m.W, 2)) -- the free ones adapt
      assert.are_not.same(row(H0, 1), row(m.H, 1))
      if case.order ~= "simultaneous" then -- the study's update is not monotone
        for i = 2, #m.history do
          assert.is_true(m.history[i].loss <= m.history[i - 1].loss * (1 + 1e-6),
            ("iteration %d: %g after %g"):format(i - 1, m.history[i].loss, m.history[i - 1].loss))
        end
      end
      assert.is_true(m.loss < m.history[1].loss)
    end)
  end

  it("returns its input when everything is frozen (mu and cd)", function()
    for _, solver in ipairs { "mu", "cd" } do
      local W0, H0 = start(3)
      local m = tessera.nmf(V, { k = 3, W = W0, H = H0, fixed_W = { 1, 2, 3 }, fixed_H = { 3, 1, 2 },
        solver = solver, max_iter = 20, progress = false })
      assert.same(W0:totable(), m.W:totable())
      assert.same(H0:totable(), m.H:totable())
    end
  end)

  it("fits the rest around frozen templates: a frozen column W0 explains what it can", function()
    -- V is W_true H_true; freezing the true first template leaves the fit free to find the
    -- other, and the loss goes to nearly 0.
    local Wt, Ht = start(2)
    local Vt = Wt * Ht
    local W0 = matrix.new(n, 2, 0.5)
    for i = 1, n do W0:set(i, 1, Wt:get(i, 1)) end
    local H0 = matrix.new(2, p, 0.5)
    local m = tessera.nmf(Vt, { k = 2, W = W0, H = H0, fixed_W = { 1 }, max_iter = 500, tol = 0,
      progress = false })
    assert.same(column(Wt, 1), column(m.W, 1))
    assert.is_true(m.loss < 1e-4 * m.history[1].loss, tostring(m.loss / m.history[1].loss))
  end)

  -- The issue's measure: a mixture of real drum one-shots over a pad; the drums' own
  -- spectra frozen as the first three components, one free component for the rest.
  it("frozen one-shot templates improve every drum's SI-SDR by at least 3 dB (KL)", function()
    local S = helpers.samples .. "/"
    local files = { S .. "drum_bass_hard.flac", S .. "drum_snare_hard.flac", S .. "drum_cymbal_closed.flac" }
    local mix = tessera.mixture { sr = 22050, duration = 6, bpm = 100, seed = 1, stems = {
      { name = "kick", file = files[1], pattern = "x.......x.x....." },
      { name = "snare", file = files[2], pattern = "....x.......x..." },
      { name = "hat", file = files[3], pattern = "x.x.x.x.x.x.x.x.", db = -6 },
      { name = "pad", file = S .. "ambi_drone.flac", onsets = { 0 }, db = -3 },
    } }
    local X = tessera.stft(mix.mix, { n_fft = 1024, hop = 256 })
    local Vmix = X:magnitude()
    local opts = { k = 4, loss = "kl", init = "random", seed = 0, max_iter = 300, progress = false }
    local plain = tessera.nmf(Vmix, opts)
    opts.W_start = tessera.nmf.templates(files, { sr = 22050, n_fft = 1024, hop = 256 })
    opts.fixed_W = { 1, 2, 3 }
    local supervised = tessera.nmf(Vmix, opts)
    for d = 1, 3 do
      local truth = mix.stems[d].audio
      local best = -math.huge -- the unsupervised fit's best component for this drum
      for i = 1, 4 do
        best = math.max(best, tessera.eval.si_sdr(plain:audio(i, X, { method = "wiener" }), truth))
      end
      local frozen = tessera.eval.si_sdr(supervised:audio(d, X, { method = "wiener" }), truth)
      assert.is_true(frozen >= best + 3, ("%s: %.2f dB frozen, %.2f dB unsupervised"):format(
        mix.stems[d].name, frozen, best))
    end
  end)

  it("freezes templates from decompose --freeze-templates", function()
    local dir = helpers.tmpdir()
    finally(function() helpers.rmtree(dir) end)
    local q = helpers.shell_quote
    local kick = helpers.samples .. "/drum_bass_hard.flac"
    local out, ok = helpers.run(("%s decompose %s -k 3 --iter 20 --template %s --freeze-templates " ..
      "-o %s 2>&1"):format(q(helpers.root .. "/bin/tessera"), q(helpers.samples .. "/loop_amen.flac"),
      q(kick), q(dir .. "/out")))
    assert.is_true(ok, out)
    local m = tessera.nmf.load(dir .. "/out")
    local T = tessera.nmf.templates({ kick }, { sr = 22050, n_fft = 2048, hop = 512 })
    local w, t = m.W:col(1):totable(), T:col(1):totable()
    local scale = w[1][1] / t[1][1]
    for i = 1, #t do assert.near(t[i][1] * scale, w[i][1], 1e-6 * math.abs(w[i][1]) + 1e-12) end
    out, ok = helpers.run(("%s decompose %s -k 3 --freeze-templates -o %s 2>&1"):format(
      q(helpers.root .. "/bin/tessera"), q(kick), q(dir .. "/bad")))
    assert.is_falsy(ok)
    assert.equal("tessera: decompose: --freeze-templates needs --template\n", out)
  end)

  it("freezes templates from a recipe's freeze_templates, and checks the key", function()
    local dir = helpers.tmpdir()
    finally(function() helpers.rmtree(dir) end)
    local source = ('file = "%s/loop_amen.flac", duration = 1, k = 2, max_iter = 10'):format(helpers.samples)
    local kick = helpers.samples .. "/drum_bass_hard.flac"
    local function render(keys)
      helpers.write_file(dir .. "/r.lua", ("return { duration = 1, sources = { a = { %s, %s } }, " ..
        "layers = { { W = 'a:1' } } }"):format(source, keys))
      return pcall(tessera.mosaic.render, dir .. "/r.lua", { out = dir .. "/r.wav" })
    end
    local ok, err = render(('templates = { "%s" }, freeze_templates = true'):format(kick))
    assert.is_true(ok, err)
    ok, err = render(('templates = { "%s" }, freeze_templates = 1'):format(kick))
    assert.is_false(ok)
    assert.matches("source 'a': key 'freeze_templates' must be true or false, got number 1", err, 1, true)
    ok, err = render("freeze_templates = true")
    assert.is_false(ok)
    assert.matches("source 'a': key 'freeze_templates' needs templates or onsets", err, 1, true)
  end)

  it("takes templates and activations from another source of a recipe, frozen", function()
    local dir = helpers.tmpdir()
    local restore = helpers.use_cache(dir)
    finally(function() restore(); helpers.rmtree(dir) end) -- busted keeps one finally per test
    local recipe = require "tessera.recipe"
    local amen, garzul = helpers.samples .. "/loop_amen.flac", helpers.samples .. "/loop_garzul.flac"
    local sources = helpers.recipe_sources({ sources = {
      kit = { file = amen, k = 3, max_iter = 30, loss = "kl" },
      pads = { file = garzul, duration = 3, k = 4, max_iter = 30, templates_from = "kit:1,3",
               freeze_templates = true },
      again = { file = amen, k = 3, max_iter = 30, activations_from = "kit:2", freeze_activations = true },
    }, layers = { { W = "pads:1" } } }, dir)
    local kit, pads, again = sources:model("kit"), sources:model("pads"), sources:model("again")
    -- pads' first two templates are kit's 1 and 3, each scaled once, then kept.
    for c, from in ipairs({ 1, 3 }) do
      local w, t = pads.W:col(c):totable(), kit.W:col(from):totable()
      local scale = w[1][1] / t[1][1]
      for i = 1, #t, 17 do assert.near(t[i][1] * scale, w[i][1], 1e-5 * math.abs(w[i][1]) + 1e-12) end
    end
    assert.same(kit.H:row(2):totable(), again.H:row(1):totable())
    local function refused(sources_, expected)
      local ok, err = pcall(recipe.check, { sources = sources_, layers = { { W = "a:1" } } },
                            { name = "t", dir = dir })
      assert.is_false(ok)
      assert.matches(expected, tostring(err), 1, true)
    end
    refused({ a = { file = amen, k = 2, templates_from = "b:1" }, b = { file = amen, k = 2, templates_from = "a:1" } },
            "templates_from / activations_from make a cycle: a -> b -> a")
    refused({ a = { file = amen, k = 2, templates_from = "a:1" } }, "make a cycle: a -> a")
    refused({ a = { file = amen, k = 1, templates_from = "b" }, b = { file = amen, k = 2 } },
            "key 'templates_from' selects 2 components, more than k = 1")
    refused({ a = { file = amen, k = 2, templates_from = "b:1", n_fft = 1024 }, b = { file = amen, k = 2 } },
            "source 'b' has n_fft 2048 and T 1, this one n_fft 1024 and T 1")
    refused({ a = { file = amen, k = 2, freeze_activations = true, templates_from = "b:1" },
              b = { file = amen, k = 2 } }, "key 'freeze_activations' needs activations_from")
    refused({ a = { file = amen, k = 2, freeze_activations = true } },
            "source 'a': key 'freeze_activations' needs activations_from")
    local ok, err = pcall(function()
      return helpers.recipe_sources({ sources = {
        a = { file = amen, k = 2, duration = 1, max_iter = 5, activations_from = "b:1" },
        b = { file = amen, k = 2, max_iter = 5 } }, layers = { { W = "a:1" } } }, dir):model("a")
    end)
    assert.is_false(ok)
    assert.matches("key 'activations_from': source 'b' has 76 frames, this one 44", tostring(err), 1, true)
  end)

  it("refuses bad lists, naming them", function()
    local function refused(opts, expected)
      opts.k, opts.progress = 4, false
      assert.equal(expected, helpers.error_message(tessera.nmf, V, opts))
    end
    refused({ fixed_W = 1 }, "bad argument #2 to 'nmf' (fixed_W must be a list of component numbers, got number)")
    refused({ fixed_W = { 5 } }, "bad argument #2 to 'nmf' (fixed_W[1] must be a component number in 1..4, got 5)")
    refused({ fixed_H = { 1, "x" } },
      "bad argument #2 to 'nmf' (fixed_H[2] must be a component number in 1..4, got x)")
    refused({ fixed_H = { 2, 2 } }, "bad argument #2 to 'nmf' (fixed_H lists component 2 twice)")
  end)
end)
