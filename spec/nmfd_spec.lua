-- tessera.nmfd: convolutive NMF. Checked against tessera.nmf (T = 1), against the update
-- rules written plainly in Lua (Smaragdis 2004, in double), on its own invariants (the
-- objective never rises, frozen parts stay, thread counts and kernel paths agree), and on
-- the issue's measure: drum mixtures made by tessera.mixture, separated through Wiener masks.
local helpers = require "helpers"
local tessera = require "tessera"

local matrix = tessera.matrix

local amen = tessera.stft(tessera.audio.load(helpers.samples .. "/loop_amen.flac", { sr = 22050 }),
                          { n_fft = 1024, hop = 256 })
local V = amen:magnitude()
local n, p = V:shape()

local function rel(a, b) return math.abs(a - b) / math.max(math.abs(b), 1e-30) end

-- max |A - B| / max |B|
local function rel_matrix(A, B)
  local D = A - B
  return math.max(D:max(), -D:min()) / math.max(B:max(), -B:min())
end

local function same_bits(A, B)
  local ra, ca = A:shape()
  local rb, cb = B:shape()
  if ra ~= rb or ca ~= cb then return false end
  local a, b = A:totable(), B:totable()
  for i = 1, ra do
    for j = 1, ca do
      if string.pack("f", a[i][j]) ~= string.pack("f", b[i][j]) then return false end
    end
  end
  return true
end

-- The convolutive model and its MU written plainly in double from the paper's formulas:
-- L = sum_t W_t H->t; W_t <- W_t (X (H->t)') / (Y (H->t)'); H <- H sum_t W_t' X<-t / sum_t
-- W_t' Y<-t, with X = V / L, Y = 1 (KL) or X = V, Y = L (Euclidean); ->t shifts columns
-- right by t (zeros in), <-t left (zeros in). Tables: W[t][i][a], H[a][j], V[i][j].
local function plain_model(W, H, T, n_, p_, k)
  local L = {}
  for i = 1, n_ do
    L[i] = {}
    for j = 1, p_ do
      local s = 0
      for t = 0, T - 1 do
        if j - t >= 1 then
          for a = 1, k do s = s + W[t + 1][i][a] * H[a][j - t] end
        end
      end
      L[i][j] = s
    end
  end
  return L
end

local function plain_terms(Vt, L, loss, n_, p_)
  local X, Y = {}, {}
  for i = 1, n_ do
    X[i], Y[i] = {}, {}
    for j = 1, p_ do
      if loss == "kl" then
        X[i][j], Y[i][j] = Vt[i][j] / L[i][j], 1
      else
        X[i][j], Y[i][j] = Vt[i][j], L[i][j]
      end
    end
  end
  return X, Y
end

local function plain_iteration(Vt, W, H, T, loss, n_, p_, k)
  -- H first (order HW), from the current W.
  local X, Y = plain_terms(Vt, plain_model(W, H, T, n_, p_, k), loss, n_, p_)
  local newH = {}
  for a = 1, k do
    newH[a] = {}
    for j = 1, p_ do
      local num, den = 0, 0
      for t = 0, T - 1 do
        if j + t <= p_ then
          for i = 1, n_ do
            num = num + W[t + 1][i][a] * X[i][j + t]
            den = den + W[t + 1][i][a] * Y[i][j + t]
          end
        end
      end
      newH[a][j] = H[a][j] * num / den
    end
  end
  X, Y = plain_terms(Vt, plain_model(W, newH, T, n_, p_, k), loss, n_, p_)
  local newW = {}
  for t = 0, T - 1 do
    newW[t + 1] = {}
    for i = 1, n_ do
      newW[t + 1][i] = {}
      for a = 1, k do
        local num, den = 0, 0
        for j = 1 + t, p_ do
          num = num + X[i][j] * newH[a][j - t]
          den = den + Y[i][j] * newH[a][j - t]
        end
        newW[t + 1][i][a] = W[t + 1][i][a] * num / den
      end
    end
  end
  return newW, newH
end

describe("tessera.nmfd", function()
  for _, loss in ipairs({ "euclidean", "kl", "is", 1.5 }) do
    for _, order in ipairs({ "HW", "WH", "simultaneous" }) do
      it(("with T = 1 equals tessera.nmf to 1e-5 (%s, order %s)"):format(loss, order), function()
        local opts = { k = 4, init = "random", seed = 3, loss = loss, max_iter = 60, tol = 0,
                       order = order, progress = false }
        local plain = tessera.nmf(V, opts)
        opts.T = 1
        local conv = tessera.nmfd(V, opts)
        local diff = rel_matrix(conv:reconstruct(), plain:reconstruct())
        assert.is_true(diff < 1e-5, ("W H differs by %.3g"):format(diff))
        assert.is_true(rel(conv.loss, plain.loss) < 1e-5, ("%.9g vs %.9g"):format(conv.loss, plain.loss))
        assert.is_true(rel_matrix(conv.W, plain.W) < 1e-4)
      end)
    end
  end

  for _, loss in ipairs({ "kl", "euclidean" }) do
    it("follows the update rules written plainly (" .. loss .. ", T = 3)", function()
      local n_, p_, k, T = 9, 14, 2, 3
      local Vm = helpers.random_matrix(n_, p_, 11, 0.1)
      local W0 = helpers.random_matrix(n_, k * T, 12, 0.1)
      local H0 = helpers.random_matrix(k, p_, 13, 0.1)
      local m = tessera.nmfd(Vm, { k = k, T = T, W = W0, H = H0, loss = loss, max_iter = 5,
                                   tol = 0, progress = false })
      local Vt, w0, H = Vm:totable(), W0:totable(), H0:totable()
      local W = {}
      for t = 0, T - 1 do
        W[t + 1] = {}
        for i = 1, n_ do
          W[t + 1][i] = {}
          for a = 1, k do W[t + 1][i][a] = w0[i][a + k * t] end
        end
      end
      for _ = 1, 5 do W, H = plain_iteration(Vt, W, H, T, loss, n_, p_, k) end
      local got_W, got_H = m.W:totable(), m.H:totable()
      for t = 0, T - 1 do
        for i = 1, n_ do
          for a = 1, k do
            assert.is_true(rel(got_W[i][a + k * t], W[t + 1][i][a]) < 1e-4,
              ("W_%d[%d, %d]: %.9g vs %.9g"):format(t, i, a, got_W[i][a + k * t], W[t + 1][i][a]))
          end
        end
      end
      for a = 1, k do
        for j = 1, p_ do assert.is_true(rel(got_H[a][j], H[a][j]) < 1e-4) end
      end
      -- and its objective is the plain one
      local L = plain_model(W, H, T, n_, p_, k)
      local plain_loss = 0
      for i = 1, n_ do
        for j = 1, p_ do
          local v, l = Vt[i][j], L[i][j]
          plain_loss = plain_loss + (loss == "kl" and (v * math.log(v / l) - v + l) or (v - l) ^ 2)
        end
      end
      assert.is_true(rel(tessera.nmfd.loss(Vm, m.W, m.H, T, loss), plain_loss) < 1e-4)
    end)
  end

  for _, case in ipairs({ { loss = "kl" }, { loss = "euclidean" }, { loss = "is" }, { loss = 0.5 },
                          { loss = "kl", order = "WH" }, { loss = "euclidean", order = "WH" },
                          { loss = "kl", alpha_W = 0.01, l1_ratio = 1 } }) do
    -- (Order "simultaneous", the study's code, updates both factors from one iterate: no
    -- such guarantee, for NMF either.)
    local name = ("%s%s%s"):format(case.loss, case.order and ", " .. case.order or "",
                                   case.alpha_W and ", L1 prior" or "")
    it("lowers the objective at every iteration on real music (" .. name .. ")", function()
      local opts = { k = 3, T = 6, init = "random", seed = 1, max_iter = 40, tol = 0, every = 1,
                     progress = false }
      for key, v in pairs(case) do opts[key] = v end
      local m = tessera.nmfd(V, opts)
      assert.equal(41, #m.history)
      -- With a prior the objective is the divergence plus the penalty; check the divergence
      -- falls overall and, without one, at every step (float rounding aside).
      for i = 2, #m.history do
        local before, after = m.history[i - 1].loss, m.history[i].loss
        if not case.alpha_W then
          assert.is_true(after <= before * (1 + 1e-6), ("iteration %d: %.9g after %.9g"):format(i - 1, after, before))
        end
      end
      assert.is_true(m.history[#m.history].loss < 0.9 * m.history[1].loss)
    end)
  end

  it("makes H sparser with an L1 prior (alpha_W, alpha_H 'same', l1_ratio 1)", function()
    local base = { k = 3, T = 6, init = "random", seed = 1, max_iter = 60, tol = 0, progress = false }
    local plain = tessera.nmfd(V, base)
    -- Both factors penalised (alpha_H "same"): with H's alone, scale moves into W.
    base.alpha_W, base.l1_ratio = 0.2, 1
    local sparse = tessera.nmfd(V, base)
    -- Hoyer's sparsity of H's rows (0 flat .. 1 a single spike), averaged: blind to scale.
    local function hoyer(H)
      local total, rows = 0, H:totable()
      for _, row in ipairs(rows) do
        local l1, l2 = 0, 0
        for _, x in ipairs(row) do l1, l2 = l1 + math.abs(x), l2 + x * x end
        total = total + (math.sqrt(#row) - l1 / math.sqrt(l2)) / (math.sqrt(#row) - 1)
      end
      return total / #rows
    end
    assert.is_true(hoyer(sparse.H) > hoyer(plain.H) + 0.02, ("%.3f vs %.3f"):format(hoyer(sparse.H), hoyer(plain.H)))
  end)

  it("keeps frozen templates and rows bit for bit, and returns its input when all are frozen", function()
    local W0, H0 = tessera.core.nmf.fit(V, { k = 3, T = 4, init = "random", seed = 5, max_iter = 0 })
    for _, loss in ipairs({ "kl", "euclidean" }) do
      local m = tessera.nmfd(V, { k = 3, T = 4, W = W0, H = H0, fixed_W = { 2 }, fixed_H = { 3 },
                                  loss = loss, max_iter = 30, tol = 0, every = 1, progress = false })
      local start = tessera.nmfd(V, { k = 3, T = 4, W = W0, H = H0, max_iter = 0 })
      assert.is_true(same_bits(m:template(2), start:template(2)))
      assert.is_true(same_bits(m.H:row(3), H0:row(3)))
      assert.is_false(same_bits(m:template(1), start:template(1)))
      for i = 2, #m.history do assert.is_true(m.history[i].loss <= m.history[i - 1].loss * (1 + 1e-6)) end
      local all = tessera.nmfd(V, { k = 3, T = 4, W = W0, H = H0, fixed_W = { 1, 2, 3 },
                                    fixed_H = { 1, 2, 3 }, loss = loss, max_iter = 5, tol = 0 })
      assert.is_true(same_bits(all.W, W0) and same_bits(all.H, H0))
    end
  end)

  it("gives the same fit on 1 and 2 threads, bit for bit", function()
    for _, loss in ipairs({ "kl", "euclidean", "is" }) do
      local opts = { k = 3, T = 5, init = "random", seed = 2, loss = loss, max_iter = 25, tol = 0, progress = false }
      opts.threads = 1
      local one = tessera.nmfd(V, opts)
      opts.threads = 2
      local two = tessera.nmfd(V, opts)
      assert.is_true(same_bits(one.W, two.W) and same_bits(one.H, two.H), loss)
    end
  end)

  it("computes the same fit at every kernel level, for any thread count", function()
    local dir = helpers.tmpdir()
    finally(function() helpers.rmtree(dir) end)
    V:save(dir .. "/V.npy")
    local script = dir .. "/fit.lua"
    helpers.write_file(script, ([[
      local t = require "tessera"
      local V = t.matrix.load(%q)
      for _, loss in ipairs({ "kl", "euclidean", "is", 1.5 }) do
        for _, threads in ipairs({ 1, 2 }) do
          local m = t.nmfd(V, { k = 3, T = 5, init = "random", seed = 4, loss = loss, max_iter = 30,
                                tol = 0, threads = threads, progress = false })
          io.write(("%%s %%d %%.17g %%.17g %%.17g\n"):format(tostring(loss), threads, m.loss,
                                                         m.W:sum(), m.H:sum()))
        end
      end
    ]]):format(dir .. "/V.npy"))
    local function run(env)
      local out, ok = helpers.run(("cd %s && %s LUA_PATH='lua/?.lua;lua/?/init.lua;;' "
        .. "LUA_CPATH='lua/?.so;;' lua5.4 %s 2>&1"):format(helpers.shell_quote(helpers.root), env, script))
      assert(ok, out)
      local rows = {}
      for line in out:gmatch("[^\n]+") do
        local loss, threads, l, w, h = line:match("^(%S+) (%d) (%S+) (%S+) (%S+)$")
        assert(loss, line)
        rows[#rows + 1] = { loss = loss, threads = threads, tonumber(l), tonumber(w), tonumber(h) }
      end
      assert.equal(8, #rows)
      return rows
    end
    -- The reference: this CPU's widest level; every level against it, within float rounding.
    local CAP = { generic = "generic", avx2 = "avx2", avx512 = "any" }
    local paths = helpers.cpu_paths()
    local reference = run("TESSERA_SIMD=" .. CAP[paths[#paths]])
    for _, path in ipairs(paths) do
      local rows = run("TESSERA_SIMD=" .. CAP[path])
      for i, row in ipairs(rows) do
        for c = 1, 3 do
          assert.is_true(rel(row[c], reference[i][c]) < 1e-5, ("%s, loss %s, threads %s: %.9g vs %.9g"):format(
            path, row.loss, row.threads, row[c], reference[i][c]))
        end
        if i % 2 == 0 then -- threads 1 and 2: the same bits
          for c = 1, 3 do assert.equal(rows[i - 1][c], row[c]) end
        end
      end
    end
  end)

  -- Three minutes of the loop: a V (32 MB) past the cache, which the Euclidean passes read
  -- block by block rather than where it lies (nmfd_blocks.c).
  local long_V
  local function long()
    long_V = long_V or tessera.stft(tessera.audio.load(helpers.samples .. "/loop_amen.flac",
                                                       { sr = 22050 }):tile(22050 * 180)):magnitude()
    return long_V
  end

  it("reads a V larger than the cache alike: T = 1 equals tessera.nmf, 1 and 2 threads agree", function()
    local opts = { k = 3, init = "random", seed = 6, loss = "euclidean", max_iter = 4, tol = 0,
                   progress = false }
    local plain = tessera.nmf(long(), opts)
    opts.T = 1
    local conv = tessera.nmfd(long(), opts)
    assert.is_true(rel_matrix(conv:reconstruct(), plain:reconstruct()) < 1e-5)
    opts.T, opts.max_iter = 4, 3
    opts.threads = 1
    local one = tessera.nmfd(long(), opts)
    opts.threads = 2
    local two = tessera.nmfd(long(), opts)
    assert.is_true(same_bits(one.W, two.W) and same_bits(one.H, two.H))
  end)

  it("needs no n x p scratch: a long fit runs under a budget of half V's size", function()
    local ln, lp = long():shape()
    local opts = { k = 4, T = 8, init = "random", seed = 4, loss = "kl", max_iter = 2, tol = 0,
                   progress = false }
    local free = tessera.nmfd(long(), opts)
    opts.max_memory = 4 * ln * lp // 2
    local capped = tessera.nmfd(long(), opts)
    assert.is_true(same_bits(capped.W, free.W) and same_bits(capped.H, free.H))
  end)

  -- The issue's measure: real one-shots over an ambient pad, both fits started from the
  -- one-shots (NMF from their mean spectra, NMFD from their first T frames) with one free
  -- component, KL; each drum's SI-SDR (Wiener masks) from its best component.
  local kits = {
    { pad = "ambi_drone.flac", "drum_bass_hard.flac", "drum_snare_hard.flac", "drum_cymbal_closed.flac" },
    { pad = "ambi_haunted_hum.flac", "drum_heavy_kick.flac", "drum_snare_soft.flac", "drum_cymbal_pedal.flac" },
  }
  for _, kit in ipairs(kits) do
    it("with T = 8 separates every drum at least 2 dB better than NMF (" .. kit[1] .. ", " .. kit.pad .. ")", function()
      local S = helpers.samples .. "/"
      local files = { S .. kit[1], S .. kit[2], S .. kit[3] }
      local mix = tessera.mixture { sr = 22050, duration = 6, bpm = 100, seed = 1, stems = {
        { name = "kick", file = files[1], pattern = "x.......x.x....." },
        { name = "snare", file = files[2], pattern = "....x.......x..." },
        { name = "hat", file = files[3], pattern = "x.x.x.x.x.x.x.x.", db = -6 },
        { name = "pad", file = S .. kit.pad, onsets = { 0 }, db = -3 },
      } }
      local X = tessera.stft(mix.mix, { n_fft = 1024, hop = 256 })
      local Vmix = X:magnitude()
      local stft = { sr = 22050, n_fft = 1024, hop = 256 }
      local function best(m, d)
        local b = -math.huge
        for i = 1, m.k do b = math.max(b, tessera.eval.si_sdr(m:audio(i, X), mix.stems[d].audio)) end
        return b
      end
      local opts = { k = 4, loss = "kl", init = "random", seed = 0, max_iter = 300, progress = false }
      opts.W_start = tessera.nmf.templates(files, stft)
      local plain = tessera.nmf(Vmix, opts)
      opts.T = 8
      stft.T = 8
      opts.W_start = tessera.nmfd.templates(files, stft)
      local conv = tessera.nmfd(Vmix, opts)
      for d = 1, 3 do
        local a, b = best(plain, d), best(conv, d)
        assert.is_true(b >= a + 2, ("%s: %.2f dB NMFD, %.2f dB NMF"):format(mix.stems[d].name, b, a))
      end
    end)
  end

  describe("its model", function()
    local m = tessera.nmfd(amen, { k = 3, T = 6, loss = "kl", max_iter = 40, seed = 1, progress = false })

    it("reads as an NMFD model with its templates, components and reconstruction", function()
      assert.equal(6, m.T)
      assert.equal(3, m.k)
      local rows, cols = m.W:shape()
      assert.same({ n, 18 }, { rows, cols })
      assert.matches("NMFD model %(k = 3, T = 6", tostring(m))
      local tpl = m:template(2)
      assert.same({ n, 6 }, { tpl:shape() })
      for t = 1, 6 do assert.is_true(same_bits(tpl:col(t), m.W:col(2 + 3 * (t - 1)))) end
      local sum = m:component(1) + m:component(2) + m:component(3)
      assert.is_true(rel_matrix(sum, m:reconstruct()) < 1e-5)
      assert.is_true(rel(tessera.nmfd.loss(V, m.W, m.H, 6, "kl"), m.loss) < 1e-5)
    end)

    it("convolves each template with its activations (a direct sum as reference)", function()
      local R, w, h = m:component(3):totable(), m.W:totable(), m.H:totable()
      for _, ij in ipairs({ { 1, 1 }, { 40, 3 }, { 100, 7 }, { n, p } }) do
        local i, j = ij[1], ij[2]
        local s = 0
        for t = 0, 5 do if j - t >= 1 then s = s + w[i][3 + 3 * t] * h[3][j - t] end end
        assert.is_true(math.abs(R[i][j] - s) <= 1e-5 * math.max(1, math.abs(s)))
      end
    end)

    it("sounds its components through Wiener masks that add up to the input", function()
      local total
      for i = 1, 3 do
        local a = m:audio(i, amen):matrix()
        total = total and total + a or a
      end
      local err = rel_matrix(total, amen:istft():matrix())
      assert.is_true(err < 1e-4, ("%.3g"):format(err))
    end)

    it("has a percussiveness: the Wiener shares of its convolved components", function()
      -- The definition written from the model's own components, as the reference.
      local mask = tessera.hpss(amen).masks.percussive
      local whole, mag = m:reconstruct(), amen:magnitude()
      local shares = tessera.hpss.percussiveness(m, amen, { mask = mask })
      for i = 1, m.k do
        local v = mag:hadamard(tessera.core.listen.ratio(m:component(i), whole, 1 / m.k))
        local kept = v:hadamard(mask)
        assert.near(kept:hadamard(kept):sum() / v:hadamard(v):sum(), shares[i], 1e-5)
      end
    end)

    it("normalizes, sorts, saves and loads without changing the model", function()
      local c = tessera.nmfd(amen, { k = 3, T = 6, loss = "kl", max_iter = 20, seed = 1, progress = false })
      local before = c:reconstruct()
      c:normalize()
      for i = 1, 3 do
        local tpl = c:template(i)
        assert.is_true(math.abs(tpl:hadamard(tpl):sum() - 1) < 1e-5)
      end
      local _, order = c:sort("centroid")
      assert.equal(3, #order)
      assert.is_true(rel_matrix(c:reconstruct(), before) < 1e-5)
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      c:save(dir)
      local again = tessera.nmfd.load(dir)
      assert.equal(6, again.T)
      assert.is_true(same_bits(again.W, c.W) and same_bits(again.H, c.H))
    end)
  end)

  describe("from decompose and recipes", function()
    local q = helpers.shell_quote
    local amen_file = helpers.samples .. "/loop_amen.flac"
    local kick = helpers.samples .. "/drum_heavy_kick.flac"

    it("decompose --frames writes an NMFD model whose components add up to the file", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      local out, ok = helpers.run(("%s decompose %s -k 3 --frames 6 --iter 20 --template %s "
        .. "--freeze-templates -o %s 2>&1"):format(q(helpers.root .. "/bin/tessera"), q(amen_file),
        q(kick), q(dir .. "/out")))
      assert.is_true(ok, out)
      assert.matches("into 3 6%-frame components", out)
      local m = tessera.nmfd.load(dir .. "/out")
      assert.equal(6, m.T)
      -- The frozen template is the kick's first 6 frames, scaled.
      local kit = tessera.nmfd.templates({ kick }, { T = 6 })
      local got, want = m:template(1):totable(), kit:totable()
      local scale = got[10][1] / want[10][1]
      for i = 1, #want, 37 do
        for t = 1, 6 do assert.near(want[i][t] * scale, got[i][t], 1e-5 * math.abs(got[i][t]) + 1e-9) end
      end
      local sum = tessera.audio.load(dir .. "/out/sum.wav")
      -- decompose resamples as scipy's resample_poly (--resample poly)
      local whole = tessera.audio.load(amen_file, { sr = 22050, mono = true, quality = "poly" })
      assert.is_true(rel_matrix(sum:matrix(), whole:matrix()) < 1e-3)
      out, ok = helpers.run(("%s decompose %s -k 2 --frames 4 --template-method rank1 -o %s 2>&1"):format(
        q(helpers.root .. "/bin/tessera"), q(amen_file), q(dir .. "/bad")))
      assert.is_falsy(ok)
      assert.matches("--template-method must be frames with --frames", out, 1, true)
    end)

    it("a recipe's source with T sounds its templates convolved with their activations", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      local rec = { sources = {
        drums = { file = amen_file, k = 3, T = 6, loss = "kl", max_iter = 25 } },
        layers = { { W = "drums:2" } } }
      local _, summary = tessera.mosaic.render(rec, { cache_dir = dir, write = false })
      local a = tessera.audio.load(amen_file, { sr = 22050, mono = true })
      local m = tessera.nmfd(tessera.stft(a):magnitude(), { k = 3, T = 6, loss = "kl", max_iter = 25,
                                                           seed = 0, progress = false })
      assert.same({ m:component(2):shape() }, { summary.magnitude:shape() })
      assert.is_true(rel_matrix(summary.magnitude, m:component(2)) < 1e-5)
      local ok, err = pcall(tessera.mosaic.render, { sources = {
        drums = { file = amen_file, k = 3, T = 6, templates = { kick }, template_method = "mean" } },
        layers = { { W = "drums:1" } } }, { cache_dir = dir, write = false })
      assert.is_false(ok)
      assert.matches("key 'template_method' must be 'frames' with T", tostring(err), 1, true)
    end)
  end)

  it("refuses what it cannot fit, naming the option", function()
    local function refused(opts, expected)
      local ok, err = pcall(tessera.nmfd, V, opts)
      assert.is_false(ok)
      assert.matches(expected, tostring(err), 1, true)
    end
    refused({ k = 2 }, "T is required")
    refused({ k = 2, T = 0 }, "T must be >= 1, got 0")
    refused({ k = 2, T = p + 1 }, ("T must be in 1..%d (the frames of V), got %d"):format(p, p + 1))
    refused({ k = 2, T = 4, solver = "cd" }, "NMFD needs solver 'mu'")
    refused({ k = 2, T = 4, weights = matrix.new(n, p, 1) }, "NMFD takes no weights")
    refused({ k = 2, T = 4, smooth_H = 0.1 }, "NMFD takes no smooth_H")
    refused({ k = 2, T = 4, init = "nndsvda" }, "init 'nndsvda' needs T = 1")
    refused({ k = 2, T = 4, W = matrix.new(n, 2, 1), H = matrix.new(2, p, 1) },
            ("W must be %d x 8, got %d x 2"):format(n, n))
    refused({ k = 2, T = 4, W_start = matrix.new(n, 3, 1) },
            "W_start must hold whole templates of T = 4 frames, got 3 columns")
    refused({ k = 2, T = 4, fixed_W = { 3 } }, "fixed_W[1] must be a component number in 1..2, got 3")
    local ok, err = pcall(tessera.nmfd.templates, { helpers.samples .. "/drum_snare_hard.flac" },
                          { T = 2, method = "mean" })
    assert.is_false(ok)
    assert.matches("method must be 'frames' with T", tostring(err), 1, true)
  end)
end)
