-- tessera.nmf: the multiplicative-update solvers against the paper's formulas written out
-- in Lua, the study's published code, scikit-learn 1.2 (through /usr/bin/python3), and the
-- Model's methods; every validation error with its message.
local tessera = require "tessera"

local matrix = tessera.matrix
local nmf = tessera.nmf
local helpers = require "helpers"

local SAMPLES = "/usr/share/sonic-pi/samples/"
local PYTHON = "/usr/bin/python3"
local SKLEARN = "spec/support/nmf_sklearn.py"

local random_matrix = helpers.random_matrix

local amen_V
-- The magnitude spectrogram of a real loop (1025 x 76).
local function amen()
  if not amen_V then
    local a = tessera.audio.load(SAMPLES .. "loop_amen.flac", { sr = 22050 })
    amen_V = tessera.stft(a):magnitude()
  end
  return amen_V
end

local function tmpname(suffix)
  local base = os.tmpname()
  os.remove(base)
  return base .. suffix
end

local function run(cmd)
  local f = assert(io.popen(cmd .. " 2>&1"))
  local out = f:read("a")
  local ok = f:close()
  assert(ok, "command failed: " .. cmd .. "\n" .. out)
  return out
end

-- Plain double-precision matrix helpers on tables of rows.
local function mul(A, B)
  local C = {}
  for i = 1, #A do
    C[i] = {}
    for j = 1, #B[1] do
      local s = 0
      for a = 1, #B do s = s + A[i][a] * B[a][j] end
      C[i][j] = s
    end
  end
  return C
end

local function transpose(A)
  local T = {}
  for j = 1, #A[1] do
    T[j] = {}
    for i = 1, #A do T[j][i] = A[i][j] end
  end
  return T
end

-- Largest |a - b| / |b| over the entries (b from the reference).
local function max_rel(A, B)
  local worst = 0
  for i = 1, #B do
    for j = 1, #B[1] do
      local d = math.abs(A[i][j] - B[i][j]) / math.max(math.abs(B[i][j]), 1e-30)
      if d > worst then worst = d end
    end
  end
  return worst
end

-- The largest |A - B| over two tables of rows, and the largest |B|: for "within x of the
-- largest entry" checks, where entries near zero make a relative error meaningless.
local function max_abs_diff(A, B)
  local worst, top = 0, 0
  for i = 1, #B do
    for j = 1, #B[1] do
      worst = math.max(worst, math.abs(A[i][j] - B[i][j]))
      top = math.max(top, math.abs(B[i][j]))
    end
  end
  return worst, top
end

local function same_bits(A, B)
  local ra, ca = A:shape()
  local rb, cb = B:shape()
  if ra ~= rb or ca ~= cb then return false end
  for j = 1, ca do
    for i = 1, ra do
      if A:get(i, j) ~= B:get(i, j) then return false end
    end
  end
  return true
end

local function all_finite(M)
  local r, c = M:shape()
  for j = 1, c do
    for i = 1, r do
      local x = M:get(i, j)
      if x ~= x or x == math.huge or x == -math.huge then return false end
    end
  end
  return true
end

-- The paper's rules (section 2.4) element by element: H first, then W from the new H.
local function paper_euclidean_step(V, W, H)
  local Wt = transpose(W)
  local WtV, WtWH = mul(Wt, V), mul(mul(Wt, W), H)
  local H2 = {}
  for a = 1, #H do
    H2[a] = {}
    for j = 1, #H[1] do H2[a][j] = H[a][j] * WtV[a][j] / WtWH[a][j] end
  end
  local H2t = transpose(H2)
  local VHt, WHHt = mul(V, H2t), mul(mul(W, H2), H2t)
  local W2 = {}
  for i = 1, #W do
    W2[i] = {}
    for a = 1, #W[1] do W2[i][a] = W[i][a] * VHt[i][a] / WHHt[i][a] end
  end
  return W2, H2
end

local function paper_kl_step(V, W, H)
  local n, p, k = #V, #V[1], #W[1]
  local WH = mul(W, H)
  local H2 = {}
  for a = 1, k do
    H2[a] = {}
    local wsum = 0
    for i = 1, n do wsum = wsum + W[i][a] end
    for b = 1, p do
      local s = 0
      for i = 1, n do s = s + W[i][a] * V[i][b] / WH[i][b] end
      H2[a][b] = H[a][b] * s / wsum
    end
  end
  WH = mul(W, H2)
  local W2 = {}
  for i = 1, n do
    W2[i] = {}
    for a = 1, k do
      local s, hsum = 0, 0
      for b = 1, p do
        s = s + H2[a][b] * V[i][b] / WH[i][b]
        hsum = hsum + H2[a][b]
      end
      W2[i][a] = W[i][a] * s / hsum
    end
  end
  return W2, H2
end

-- Fevotte & Idier (2011), the heuristic MU with their exponent gamma(beta): H first.
local function fevotte_step(V, W, H, beta)
  local gamma = beta < 1 and 1 / (2 - beta) or beta > 2 and 1 / (beta - 1) or 1
  local function update(F, num, den)
    local out = {}
    for i = 1, #F do
      out[i] = {}
      for j = 1, #F[1] do out[i][j] = F[i][j] * (num[i][j] / den[i][j]) ^ gamma end
    end
    return out
  end
  local function ratios(WH)
    local R, Q = {}, {}
    for i = 1, #V do
      R[i], Q[i] = {}, {}
      for j = 1, #V[1] do
        R[i][j] = WH[i][j] ^ (beta - 2) * V[i][j]
        Q[i][j] = WH[i][j] ^ (beta - 1)
      end
    end
    return R, Q
  end
  local R, Q = ratios(mul(W, H))
  local Wt = transpose(W)
  local H2 = update(H, mul(Wt, R), mul(Wt, Q))
  R, Q = ratios(mul(W, H2))
  local H2t = transpose(H2)
  return update(W, mul(R, H2t), mul(Q, H2t)), H2
end

-- The study's published euclidean_nmf / divergence_nmf loops: both factors from the
-- previous iterate.
local function study_step(V, W, H, loss)
  if loss == "euclidean" then
    local Wt, Ht = transpose(W), transpose(H)
    local num_h, den_h = mul(Wt, V), mul(mul(Wt, W), H)
    local num_w, den_w = mul(V, Ht), mul(mul(W, H), Ht)
    local H2, W2 = {}, {}
    for a = 1, #H do
      H2[a] = {}
      for j = 1, #H[1] do H2[a][j] = H[a][j] * num_h[a][j] / den_h[a][j] end
    end
    for i = 1, #W do
      W2[i] = {}
      for a = 1, #W[1] do W2[i][a] = W[i][a] * num_w[i][a] / den_w[i][a] end
    end
    return W2, H2
  end
  local WH = mul(W, H)
  local H2, W2 = {}, {}
  for a = 1, #H do
    H2[a] = {}
    for b = 1, #H[1] do
      local s, wsum = 0, 0
      for i = 1, #W do
        s = s + W[i][a] * V[i][b] / WH[i][b]
        wsum = wsum + W[i][a]
      end
      H2[a][b] = H[a][b] * s / wsum
    end
  end
  for i = 1, #W do
    W2[i] = {}
    for a = 1, #W[1] do
      local s, hsum = 0, 0
      for b = 1, #H[1] do
        s = s + H[a][b] * V[i][b] / WH[i][b]
        hsum = hsum + H[a][b]
      end
      W2[i][a] = W[i][a] * s / hsum
    end
  end
  return W2, H2
end

-- Checks along a fit with every = 1: the objective after each iteration.
local function history_losses(m)
  local out = {}
  for _, h in ipairs(m.history) do out[#out + 1] = h.loss end
  return out
end

local function assert_non_increasing(losses, what)
  for i = 2, #losses do
    if losses[i] > losses[i - 1] * (1 + 1e-6) then
      error(string.format("%s: the objective rose at iteration %d: %.10g -> %.10g", what, i - 1,
                          losses[i - 1], losses[i]))
    end
  end
end

describe("tessera.nmf", function()
  describe("nmf()", function()
    it("fits a real loop and returns a Model with W, H and the figures of the fit", function()
      local V = amen()
      local n, p = V:shape()
      local m = tessera.nmf(V, { k = 4, loss = "kl", progress = false })
      assert.same({ n, 4 }, { m.W:shape() })
      assert.same({ 4, p }, { m.H:shape() })
      assert.equal(4, m.k)
      assert.is_true(m.iterations >= 10 and m.iterations <= 200)
      assert.is_true(m.converged) -- the default tol stops a real loop well before 200
      assert.equal(0, m.iterations % 10)
      assert.near(nmf.loss(V, m.W, m.H, "kl"), m.loss, 1e-9 * m.loss)
      assert.equal(0, m.history[1].iteration)
      assert.equal(m.iterations, m.history[#m.history].iteration)
      assert.equal(m.loss, m.history[#m.history].loss)
      assert.is_true(m.loss < m.history[1].loss / 2)
      assert.is_true(m.seconds >= 0 and m.seconds < 60)
      local o = m.options
      assert.same({ "kl", 1, "mu", "nndsvda", "HW", 200, 1e-4, 10, 0 },
                  { o.loss, o.beta, o.solver, o.init, o.order, o.max_iter, o.tol, o.every, o.seed })
      assert.same({ true, true, 0, 0, 0 }, { o.update_W, o.update_H, o.alpha_W, o.alpha_H, o.l1_ratio })
      assert.is_true(o.threads >= 1)
    end)

    it("never increases the Euclidean distance or the divergence (Theorems 1 and 2)", function()
      local cases = { { "amen", amen() }, { "random", random_matrix(60, 50, 7, 0.01) } }
      for _, case in ipairs(cases) do
        for _, loss in ipairs({ "euclidean", "kl" }) do
          for _, order in ipairs({ "HW", "WH" }) do
            local m = tessera.nmf(case[2], { k = 4, loss = loss, order = order, init = "random",
                                             seed = 3, max_iter = 150, tol = 0, every = 1 })
            local losses = history_losses(m)
            assert.equal(151, #losses)
            assert_non_increasing(losses, case[1] .. " " .. loss .. " " .. order)
            assert.is_true(losses[151] < 0.9 * losses[1])
          end
        end
      end
    end)

    it("takes one step exactly as the paper's element-wise rules", function()
      local V = random_matrix(9, 7, 11, 0.1)
      local W0, H0 = random_matrix(9, 3, 12, 0.1), random_matrix(3, 7, 13, 0.1)
      local Vt, Wt, Ht = V:totable(), W0:totable(), H0:totable()
      for loss, step in pairs({ euclidean = paper_euclidean_step, kl = paper_kl_step }) do
        local W2, H2 = step(Vt, Wt, Ht)
        local m = tessera.nmf(V, { k = 3, W = W0, H = H0, loss = loss, max_iter = 1, tol = 0 })
        assert.is_true(max_rel(m.H:totable(), H2) < 2e-5, loss .. " H")
        assert.is_true(max_rel(m.W:totable(), W2) < 2e-5, loss .. " W")
      end
    end)

    it("takes the same steps for k > 8 (OpenBLAS products, generic loops)", function()
      local V = random_matrix(14, 12, 14, 0.1)
      local W0, H0 = random_matrix(14, 10, 15, 0.1), random_matrix(10, 12, 16, 0.1)
      local Vt, Wt, Ht = V:totable(), W0:totable(), H0:totable()
      for loss, step in pairs({ euclidean = paper_euclidean_step, kl = paper_kl_step }) do
        local W2, H2 = step(Vt, Wt, Ht)
        local m = tessera.nmf(V, { k = 10, W = W0, H = H0, loss = loss, max_iter = 1, tol = 0 })
        assert.is_true(max_rel(m.H:totable(), H2) < 2e-5, loss .. " H")
        assert.is_true(max_rel(m.W:totable(), W2) < 2e-5, loss .. " W")
        W2, H2 = study_step(Vt, Wt, Ht, loss)
        m = tessera.nmf(V, { k = 10, W = W0, H = H0, loss = loss, max_iter = 1, tol = 0,
                             order = "simultaneous" })
        assert.is_true(max_rel(m.H:totable(), H2) < 2e-5, loss .. " simultaneous H")
        assert.is_true(max_rel(m.W:totable(), W2) < 2e-5, loss .. " simultaneous W")
        local W3t, H3t = step(transpose(Vt), transpose(Ht), transpose(Wt))
        m = tessera.nmf(V, { k = 10, W = W0, H = H0, loss = loss, max_iter = 1, tol = 0, order = "WH" })
        assert.is_true(max_rel(m.W:totable(), transpose(H3t)) < 2e-5, loss .. " WH W")
        assert.is_true(max_rel(m.H:totable(), transpose(W3t)) < 2e-5, loss .. " WH H")
        local long = tessera.nmf(amen(), { k = 12, loss = loss, max_iter = 40, tol = 0, every = 1,
                                           init = "random", seed = 4 })
        assert_non_increasing(history_losses(long), "k = 12 " .. loss)
      end
    end)

    it("takes scikit-learn's order (W first) with order = 'WH'", function()
      local V = random_matrix(8, 6, 21, 0.1)
      local W0, H0 = random_matrix(8, 2, 22, 0.1), random_matrix(2, 6, 23, 0.1)
      -- W then H is H then W on the transposed problem V' = H' W'.
      local W2t, H2t = paper_kl_step(transpose(V:totable()), transpose(H0:totable()),
                                     transpose(W0:totable()))
      local m = tessera.nmf(V, { k = 2, W = W0, H = H0, loss = "kl", order = "WH", max_iter = 1,
                                 tol = 0 })
      assert.is_true(max_rel(m.W:totable(), transpose(H2t)) < 2e-5)
      assert.is_true(max_rel(m.H:totable(), transpose(W2t)) < 2e-5)
    end)

    it("reports at each check the objective of that iteration's factors, and stops there", function()
      -- The KL checks are summed by passes that form V / WH anyway (in order WH the same
      -- iteration's, otherwise the next one's, which then must undo itself on a stop): each
      -- must equal nmf.loss of the factors a fit stopped at that iteration returns, and
      -- on_iter returning false must leave exactly those factors.
      local V = amen()
      local n, p = V:shape()
      local W0, H0 = random_matrix(n, 4, 31, 0.1), random_matrix(4, p, 32, 0.1)
      for _, case in ipairs({ { order = "WH" }, { order = "HW" }, { order = "simultaneous" },
                              { order = "HW", update_H = false }, { order = "HW", update_W = false } }) do
        local function fit(iterations, on_iter)
          local o = { k = 4, loss = "kl", tol = 0, every = 1, progress = false, W = W0:copy(),
                      H = H0:copy(), max_iter = iterations, on_iter = on_iter }
          for key, value in pairs(case) do o[key] = value end
          return tessera.nmf(V, o)
        end
        local label = case.order .. (case.update_H == false and " H fixed" or "")
                      .. (case.update_W == false and " W fixed" or "")
        local long = fit(4)
        assert.equal(5, #long.history)
        for t = 1, 3 do
          local short = fit(t)
          local direct = nmf.loss(V, short.W, short.H, "kl")
          assert.equal(t, long.history[t + 1].iteration)
          assert.is_true(math.abs(direct - long.history[t + 1].loss) <= 1e-9 * direct,
                         ("%s, iteration %d: %.12g vs %.12g"):format(label, t, direct,
                                                                     long.history[t + 1].loss))
        end
        local stopped = fit(10, function(it) return it < 2 end)
        local two = fit(2)
        assert.equal(2, stopped.iterations, label)
        assert.is_true(stopped.stopped, label)
        assert.same(two.W:totable(), stopped.W:totable(), label)
        assert.same(two.H:totable(), stopped.H:totable(), label)
        assert.equal(two.loss, stopped.loss, label)
      end
    end)

    it("takes Itakura-Saito and beta-divergence steps as Fevotte and Idier's formulas", function()
      local V = random_matrix(9, 8, 31, 0.1)
      local W0, H0 = random_matrix(9, 3, 32, 0.1), random_matrix(3, 8, 33, 0.1)
      for _, beta in ipairs({ 0, 0.5, 1.5, 3 }) do
        local W2, H2 = fevotte_step(V:totable(), W0:totable(), H0:totable(), beta)
        local m = tessera.nmf(V, { k = 3, W = W0, H = H0, loss = beta == 0 and "is" or beta,
                                   max_iter = 1, tol = 0 })
        assert.is_true(max_rel(m.H:totable(), H2) < 2e-5, "beta " .. beta .. " H")
        assert.is_true(max_rel(m.W:totable(), W2) < 2e-5, "beta " .. beta .. " W")
      end
    end)

    it("reproduces the study's published code step for step with order = 'simultaneous'", function()
      local V = random_matrix(10, 8, 41, 0.05)
      local W0, H0 = random_matrix(10, 3, 42), random_matrix(3, 8, 43)
      for _, loss in ipairs({ "euclidean", "kl" }) do
        local W, H = W0:totable(), H0:totable()
        for steps = 1, 5 do
          W, H = study_step(V:totable(), W, H, loss)
          local m = tessera.nmf(V, { k = 3, W = W0, H = H0, loss = loss, order = "simultaneous",
                                     max_iter = steps, tol = 0 })
          assert.is_true(max_rel(m.W:totable(), W) < 1e-4, loss .. " W after " .. steps)
          assert.is_true(max_rel(m.H:totable(), H) < 1e-4, loss .. " H after " .. steps)
        end
      end
    end)

    it("reaches scikit-learn's objective after 50 MU iterations from the same factors", function()
      local V = amen()
      local n, p = V:shape()
      local init = tessera.nmf(V, { k = 4, init = "uniform", seed = 5, max_iter = 0 })
      local paths = { tmpname(".npy"), tmpname(".npy"), tmpname(".npy") }
      finally(function() for _, f in ipairs(paths) do os.remove(f) end end)
      V:save(paths[1])
      init.W:save(paths[2])
      init.H:save(paths[3])
      local cases = {
        { loss = "euclidean", beta = 2 },
        { loss = "kl", beta = 1 },
        { loss = "euclidean", beta = 2, alpha_W = 0.002, alpha_H = "same", l1_ratio = 0.3 },
        { loss = "kl", beta = 1, alpha_W = 0.001, alpha_H = 0.004, l1_ratio = 0.7 },
      }
      for _, c in ipairs(cases) do
        local reg = c.alpha_W and string.format(" %s %s %s", c.alpha_W, c.alpha_H, c.l1_ratio) or ""
        local sk = tonumber(run(string.format("%s %s fit %s %s %s %s 50%s", PYTHON, SKLEARN,
                                              paths[1], paths[2], paths[3], c.beta, reg)))
        local m = tessera.nmf(V, { k = 4, W = init.W, H = init.H, loss = c.loss, order = "WH",
                                   max_iter = 50, tol = 0, alpha_W = c.alpha_W,
                                   alpha_H = c.alpha_H, l1_ratio = c.l1_ratio })
        assert.is_true(math.abs(m.loss - sk) <= 1e-3 * sk,
                       string.format("%s%s: tessera %.8g, scikit-learn %.8g", c.loss, reg, m.loss, sk))
      end
      assert.equal(n, select(1, init.W:shape()))
      assert.equal(p, select(2, init.H:shape()))
    end)

    it("initialises nndsvd and nndsvda as scikit-learn does", function()
      local V = amen()
      local paths = { tmpname(".npy"), tmpname(".npy"), tmpname(".npy") }
      finally(function() for _, f in ipairs(paths) do os.remove(f) end end)
      V:save(paths[1])
      for _, method in ipairs({ "nndsvd", "nndsvda" }) do
        run(string.format("%s %s init %s 4 %s %s %s", PYTHON, SKLEARN, paths[1], method, paths[2],
                          paths[3]))
        local m = tessera.nmf(V, { k = 4, init = method, max_iter = 0 })
        for name, ref in pairs({ W = matrix.load(paths[2]), H = matrix.load(paths[3]) }) do
          local worst, top = max_abs_diff(m[name]:totable(), ref:totable())
          assert.is_true(worst <= 1e-4 * top, string.format("%s %s: %g of %g", method, name, worst, top))
        end
      end
    end)

    it("initialises nndsvd the same when V's entries are huge", function()
      -- The SVD's V V' squares V's magnitude: unscaled, entries of 1e30 overflow float (and
      -- LAPACK's SVD loops forever on infinities). W and H each scale by the square root.
      -- (Small V cannot be compared so: nndsvd zeroes entries under 1e-6, as scikit-learn.)
      local V = amen()
      local base = tessera.nmf(V, { k = 4, init = "nndsvd", max_iter = 0 })
      for _, factor in ipairs({ 1e30, 1e12 }) do
        local m = tessera.nmf(V:copy():scale(factor), { k = 4, init = "nndsvd", max_iter = 0 })
        for _, name in ipairs({ "W", "H" }) do
          local scaled = m[name]:copy():scale(1 / math.sqrt(factor))
          local worst, top = max_abs_diff(scaled:totable(), base[name]:totable())
          assert.is_true(worst <= 1e-4 * top, ("%g %s: %g of %g"):format(factor, name, worst, top))
        end
      end
    end)

    it("initialises random as scikit-learn (|N(0, 1)| sqrt(mean(V)/k)) and uniform on [0, 1)", function()
      local V = random_matrix(200, 150, 51, 0)
      local mean = V:sum() / (200 * 150)
      local m = tessera.nmf(V, { k = 5, init = "random", seed = 9, max_iter = 0 })
      -- E|N(0, 1)| = sqrt(2 / pi)
      local expected = math.sqrt(mean / 5) * math.sqrt(2 / math.pi)
      assert.near(expected, m.W:sum() / (200 * 5), 0.05 * expected)
      assert.near(expected, m.H:sum() / (5 * 150), 0.05 * expected)
      local u = tessera.nmf(V, { k = 5, init = "uniform", seed = 9, max_iter = 0 })
      assert.is_true(u.W:min() >= 0 and u.W:max() < 1 and u.H:min() >= 0 and u.H:max() < 1)
      assert.near(0.5, u.W:sum() / 1000, 0.03)
      assert.near(0.5, u.H:sum() / 750, 0.03)
    end)

    it("chooses nndsvda when k <= min(n, p), random otherwise", function()
      local V = random_matrix(6, 5, 61, 0.1)
      assert.equal("nndsvda", tessera.nmf(V, { k = 5, max_iter = 0 }).options.init)
      assert.equal("random", tessera.nmf(V, { k = 6, max_iter = 0 }).options.init)
      assert.equal("custom", tessera.nmf(V, { k = 2, H = random_matrix(2, 5, 62), max_iter = 0 }).options.init)
    end)

    it("gives bit-identical factors for the same seed, input and thread count", function()
      local V = amen()
      for _, init in ipairs({ "random", "uniform", "nndsvdar", "nndsvda" }) do
        for _, threads in ipairs({ 1, 2 }) do
          local opts = { k = 4, loss = "kl", init = init, seed = 42, max_iter = 30, threads = threads }
          local a, b = tessera.nmf(V, opts), tessera.nmf(V, opts)
          assert.is_true(same_bits(a.W, b.W) and same_bits(a.H, b.H), init .. " " .. threads)
        end
      end
      local a = tessera.nmf(V, { k = 4, init = "random", seed = 1, max_iter = 0 })
      local b = tessera.nmf(V, { k = 4, init = "random", seed = 2, max_iter = 0 })
      assert.is_false(same_bits(a.W, b.W))
    end)

    it("keeps W bit-identical with update_W = false, and still lowers the loss", function()
      local V = amen()
      local source = tessera.nmf(V, { k = 4, loss = "kl", max_iter = 50 })
      for _, loss in ipairs({ "euclidean", "kl" }) do
        local m = tessera.nmf(V, { k = 4, loss = loss, W = source.W, update_W = false,
                                   max_iter = 60, tol = 0, every = 1 })
        assert.is_true(same_bits(m.W, source.W))
        assert_non_increasing(history_losses(m), loss)
        assert.is_true(m.loss < m.history[1].loss)
        assert.is_false(m.options.update_W)
      end
    end)

    it("keeps H bit-identical with update_H = false", function()
      local V = amen()
      local source = tessera.nmf(V, { k = 3, max_iter = 30 })
      local m = tessera.nmf(V, { k = 3, loss = "kl", H = source.H, update_H = false, max_iter = 40,
                                 tol = 0, every = 1 })
      assert.is_true(same_bits(m.H, source.H))
      assert_non_increasing(history_losses(m), "fixed H")
      assert.is_true(m.loss < m.history[1].loss)
    end)

    it("never produces NaN or Inf from zeros", function()
      local zeros = matrix.new(20, 15)
      for _, loss in ipairs({ "euclidean", "kl", "is", 0.5 }) do
        for _, init in ipairs({ "random", "nndsvd", "nndsvda", "uniform" }) do
          local m = tessera.nmf(zeros, { k = 3, loss = loss, init = init, max_iter = 20 })
          assert.is_true(all_finite(m.W) and all_finite(m.H), loss .. " " .. init)
          assert.equal(loss == "kl" and 0 or m.loss, m.loss)
        end
      end
      -- zero rows and columns in a real spectrogram, and a zero initial factor
      local V = amen():copy()
      local n, p = V:shape()
      for j = 1, p do V:set(5, j, 0) end
      for i = 1, n do V:set(i, 9, 0) end
      for _, loss in ipairs({ "euclidean", "kl", "is" }) do
        local m = tessera.nmf(V, { k = 4, loss = loss, max_iter = 30 })
        assert.is_true(all_finite(m.W) and all_finite(m.H), loss)
        assert.is_true(m.loss == m.loss and m.loss < math.huge)
        local z = tessera.nmf(V, { k = 4, loss = loss, W = matrix.new(n, 4), H = m.H, max_iter = 5 })
        assert.is_true(all_finite(z.W) and all_finite(z.H), loss .. " from zero W")
      end
    end)

    it("keeps a beta-divergence step finite where W h overflows (beta < 2)", function()
      -- W h = inf: the powers give r = 0 and q = inf, the factors 0, never inf x 0 = NaN.
      -- 20 rows: two blocks of eight for the AVX2 loops, four for the portable ones.
      local V = matrix.new(20, 12, 1)
      for _, beta in ipairs({ 1.5, 0.5, -1 }) do
        local m = tessera.nmf(V, { k = 2, loss = beta, W = matrix.new(20, 2, 3e20),
                                   H = matrix.new(2, 12, 3e20), max_iter = 1, tol = 0 })
        assert.is_true(all_finite(m.W) and all_finite(m.H), "beta " .. beta)
        assert.is_true(m.loss == m.loss and m.loss < math.huge, "beta " .. beta)
      end
    end)

    it("calls on_iter every `every` iterations, stops when it returns false", function()
      local V = random_matrix(30, 20, 71, 0.1)
      local seen = {}
      local m = tessera.nmf(V, { k = 2, max_iter = 23, tol = 0, every = 5,
                                 on_iter = function(it, loss) seen[#seen + 1] = { it, loss } end })
      assert.same({ 5, 10, 15, 20 }, { seen[1][1], seen[2][1], seen[3][1], seen[4][1] })
      assert.equal(4, #seen)
      assert.equal(m.history[2].loss, seen[1][2])
      assert.equal(23, m.iterations)
      local stop = tessera.nmf(V, { k = 2, max_iter = 100, tol = 0, every = 5,
                                    on_iter = function(it) return it < 10 end })
      assert.equal(10, stop.iterations)
      assert.is_true(stop.stopped)
      assert.is_false(stop.converged)
    end)

    it("raises an error from on_iter as it was raised, after the fit released its memory", function()
      local V = random_matrix(30, 20, 72, 0.1)
      local calls = 0
      local ok, err = pcall(tessera.nmf, V, { k = 2, max_iter = 50, loss = "kl", on_iter = function(it)
        calls = calls + 1
        if it == 20 then error("enough at " .. it, 0) end
      end })
      assert.is_false(ok)
      assert.equal("enough at 20", err)
      assert.equal(2, calls)
      local obj = {}
      local ok2, err2 = pcall(tessera.nmf, V, { k = 2, on_iter = function() error(obj) end })
      assert.is_false(ok2)
      assert.equal(obj, err2)
      collectgarbage() -- the sanitizer run checks nothing leaked
    end)

    it("stops by scikit-learn's tol rule, and never with tol = 0", function()
      local V = amen()
      local loose = tessera.nmf(V, { k = 4, loss = "kl", tol = 1e-2, max_iter = 500 })
      local tight = tessera.nmf(V, { k = 4, loss = "kl", tol = 1e-5, max_iter = 500 })
      local never = tessera.nmf(V, { k = 4, loss = "kl", tol = 0, max_iter = 120 })
      assert.is_true(loose.converged and loose.iterations < tight.iterations)
      assert.is_false(never.converged)
      assert.equal(120, never.iterations)
      -- the rule: (previous - current) / initial < tol on sqrt(2 * D)
      local h = loose.history
      local function e(x) return math.sqrt(2 * x) end
      local last, before = h[#h].loss, h[#h - 1].loss
      assert.is_true((e(before) - e(last)) / e(h[1].loss) < 1e-2)
      for i = 2, #h - 1 do
        assert.is_true((e(h[i - 1].loss) - e(h[i].loss)) / e(h[1].loss) >= 1e-2)
      end
    end)

    it("with tol_rule 'last' divides the decrease by the last check's error, not the start's", function()
      -- nndsvda's start is far worse than the fit under KL, so scikit-learn's rule stops
      -- while the objective still falls; the rule on the last check's error goes on.
      local V = amen()
      local start = tessera.nmf(V, { k = 6, loss = "kl", max_iter = 1000 })
      local last = tessera.nmf(V, { k = 6, loss = "kl", max_iter = 1000, tol_rule = "last" })
      assert.equal("start", start.options.tol_rule)
      assert.equal("last", last.options.tol_rule)
      assert.is_true(last.converged and last.iterations > start.iterations)
      assert.is_true(last.loss < start.loss)
      local h = last.history
      local function e(x) return math.sqrt(2 * x) end
      assert.is_true((e(h[#h - 1].loss) - e(h[#h].loss)) / e(h[#h - 1].loss) < 1e-4)
      for i = 2, #h - 1 do
        assert.is_true((e(h[i - 1].loss) - e(h[i].loss)) / e(h[i - 1].loss) >= 1e-4)
      end
    end)

    it("gives the same fit with the portable loops, the AVX2 ones and the AVX-512 ones", function()
      -- A child process caps the choice (TESSERA_SIMD); the CPU's own best runs here. k = 12
      -- takes the loops' other register plan, order WH the objective summed by the pass (KL)
      -- and the Euclidean MU on the CD pass with its k^2 loops in 16 lanes. The fits start
      -- from the same factors: nndsvda's paths differ by rounding, which can move an entry
      -- across nndsvd's 1e-6 threshold and so start another fit; the init is compared apart,
      -- as nndsvd (the threshold then moves an entry by 1e-6 at most).
      local V = amen()
      local paths = { V = tmpname(".npy"), W = tmpname(".npy"), H = tmpname(".npy") }
      finally(function() for _, f in pairs(paths) do os.remove(f) end end)
      V:save(paths.V)
      local function child(simd, code)
        local cmd = string.format("LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='lua/?.so;;' "
                                  .. "TESSERA_SIMD=%s lua5.4 -e %q", simd, code)
        return run(cmd)
      end
      -- The fifth case starts with a zero row in W (with V's row zero too, and a zero column),
      -- so that W h is 0 there: the AVX-512 KL sweeps then take their guarded path. The
      -- beta-divergences compare the AVX2 loops' powers (pow8) with powf's.
      local Vz = V:copy()
      local n, p = Vz:shape()
      for j = 1, p do Vz:set(7, j, 0) end
      for i = 1, n do Vz:set(i, 11, 0) end
      for _, case in ipairs({ { "kl", 4, "HW" }, { "kl", 12, "WH" }, { "euclidean", 4, "HW" },
                              { "euclidean", 12, "WH" }, { "kl", 4, "WH", Vz }, { 1.5, 4, "WH" },
                              { 0.5, 12, "HW" } }) do
        local loss, k, order = case[1], case[2], case[3]
        local Vc = case[4] or V
        Vc:save(paths.V)
        local init = tessera.nmf(Vc, { k = k, max_iter = 0 })
        if case[4] then
          for a = 1, k do init.W:set(7, a, 0) end
        end
        init.W:save(paths.W)
        init.H:save(paths.H)
        local code = string.format([[
          local t = require "tessera"
          local m = t.nmf(t.matrix.load(%q), {k = %d, loss = %q, order = %q, max_iter = 40,
                                              threads = 1, every = 5, W = t.matrix.load(%q),
                                              H = t.matrix.load(%q)})
          io.write(string.format("%%.17g", m.loss))]], paths.V, k, loss, order, paths.W, paths.H)
        local m = tessera.nmf(Vc, { k = k, loss = loss, order = order, max_iter = 40, threads = 1,
                                    every = 5, W = init.W, H = init.H })
        for _, simd in ipairs({ "generic", "avx2" }) do
          local other = tonumber(child(simd, code))
          assert.is_true(math.abs(other - m.loss) <= 1e-4 * m.loss,
                         string.format("%s k=%d %s: %.10g vs %.10g", loss, k, simd, other, m.loss))
        end
      end
      V:save(paths.V)
      -- nndsvd's truncated SVD: one pass over V per step in 16 lanes, or two sgemm calls.
      local mine = tessera.nmf(V, { k = 12, init = "nndsvd", max_iter = 0 })
      child("generic", string.format([[
        local t = require "tessera"
        local m = t.nmf(t.matrix.load(%q), {k = 12, init = "nndsvd", max_iter = 0})
        m.W:save(%q)
        m.H:save(%q)]], paths.V, paths.W, paths.H))
      for name, theirs in pairs({ W = matrix.load(paths.W), H = matrix.load(paths.H) }) do
        local worst, top = max_abs_diff(theirs:totable(), mine[name]:totable())
        assert.is_true(worst <= 1e-5 * top, string.format("nndsvd %s: %g of %g", name, worst, top))
      end
    end)

    it("takes a beta-divergence step with the AVX2 loops' powers as with powf's", function()
      -- pow8 against powf where both factors' updates see its errors: they cancel in the
      -- ratio of a whole fit's sums, not in one step's. Measured 2e-7 to 4.4e-7; an error
      -- of 1e-4 in its polynomial (one coefficient off by 0.1%) gives 1.3e-6 to 3.8e-6.
      local V = amen()
      local init = tessera.nmf(V, { k = 4, max_iter = 0 })
      local paths = { V = tmpname(".npy"), W = tmpname(".npy"), H = tmpname(".npy") }
      finally(function() for _, f in pairs(paths) do os.remove(f) end end)
      V:save(paths.V)
      for _, beta in ipairs({ 0.5, 1.5, 3 }) do
        init.W:save(paths.W)
        init.H:save(paths.H)
        run(string.format("LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='lua/?.so;;' "
                          .. "TESSERA_SIMD=generic lua5.4 -e %q", string.format([[
          local t = require "tessera"
          local m = t.nmf(t.matrix.load(%q), {k = 4, loss = %s, max_iter = 1, tol = 0,
                                              W = t.matrix.load(%q), H = t.matrix.load(%q)})
          m.W:save(%q)
          m.H:save(%q)]], paths.V, beta, paths.W, paths.H, paths.W, paths.H)))
        local m = tessera.nmf(V, { k = 4, loss = beta, max_iter = 1, tol = 0, W = init.W,
                                   H = init.H })
        for name, theirs in pairs({ W = matrix.load(paths.W), H = matrix.load(paths.H) }) do
          local worst = max_rel(m[name]:totable(), theirs:totable())
          assert.is_true(worst < 1e-6, string.format("beta %g %s: %g", beta, name, worst))
        end
      end
    end)

    describe("rejects bad input with a clear error", function()
      local V = random_matrix(10, 8, 81, 0.1)

      it("names the first negative, NaN or infinite entry of V", function()
        local bad = matrix.new(5, 20, 1)
        bad:set(3, 17, -0.25)
        assert.has_error(function() tessera.nmf(bad, { k = 2 }) end,
          "tessera.nmf: V has a negative entry (-0.25 at row 3, column 17)")
        bad:set(3, 17, 1)
        bad:set(2, 5, 0 / 0)
        assert.has_error(function() tessera.nmf(bad, { k = 2 }) end,
          "tessera.nmf: V has a NaN entry (at row 2, column 5)")
        bad:set(2, 5, 1)
        bad:set(1, 1, math.huge)
        assert.has_error(function() tessera.nmf(bad, { k = 2 }) end,
          "tessera.nmf: V has an infinite entry (inf at row 1, column 1)")
        assert.has_error(function() tessera.nmf(matrix.new(0, 4), { k = 1 }) end,
          "bad argument #1 to 'nmf' (V must not be empty, got 0 x 4)")
      end)

      it("checks k, the names and every option", function()
        local cases = {
          { {}, "k is required" },
          { { k = 0 }, "k must be >= 1, got 0" },
          { { k = 1.5 }, "k must be an integer, got 1.5" },
          { { k = 2, loss = "foo" }, "invalid loss 'foo'; expected one of: euclidean, kl, is, or a number" },
          { { k = 2, loss = true }, "loss must be a string or a number, got boolean" },
          { { k = 2, solver = "als" }, "invalid solver 'als'; expected one of: mu, cd" },
          { { k = 2, init = "svd" },
            "invalid init 'svd'; expected one of: random, uniform, nndsvd, nndsvda, nndsvdar, custom" },
          { { k = 2, order = "hw" }, "invalid order 'hw'; expected one of: HW, WH, simultaneous; did you mean 'HW'?" },
          { { k = 2, solver = "cd", loss = "kl" }, "solver 'cd' needs the euclidean loss, got 'kl'" },
          { { k = 2, solver = "cd", loss = 1.5 }, "solver 'cd' needs the euclidean loss, got 1.5" },
          { { k = 9, init = "nndsvd" }, "init 'nndsvd' needs k <= 8, the smaller of n and p, got 9" },
          { { k = 9, init = "nndsvdar" }, "init 'nndsvdar' needs k <= 8, the smaller of n and p, got 9" },
          { { k = 2, max_iters = 5 }, "unknown option 'max_iters' (valid: k, loss, solver, init, W, H, "
            .. "seed, order, max_iter, tol, tol_rule, update_W, update_H, alpha_W, alpha_H, l1_ratio, on_iter, "
            .. "every, progress, threads, weights, fixed_W, fixed_H, smooth_H, allowed_H, W_start, H_start, T, "
            .. "max_memory); did you mean 'max_iter'?" },
          { { k = 2, max_iter = -1 }, "max_iter must be >= 0, got -1" },
          { { k = 2, tol = -1 }, "tol must be a finite number >= 0, got -1.0" },
          { { k = 2, tol_rule = "first" }, "invalid tol_rule 'first'; expected one of: start, last" },
          { { k = 2, every = 0 }, "every must be >= 1, got 0" },
          { { k = 2, threads = 0 }, "threads must be in 1..64, got 0" },
          { { k = 2, alpha_W = -1 }, "alpha_W must be a finite number >= 0, got -1.0" },
          { { k = 2, alpha_H = "half" }, "alpha_H must be a number or 'same', got 'half'" },
          { { k = 2, l1_ratio = 2 }, "l1_ratio must be in [0, 1], got 2.0" },
          { { k = 2, on_iter = 3 }, "on_iter must be a function, got number" },
          { { k = 2, update_W = "no" }, "update_W must be a boolean, got string" },
          { { k = 2, init = "custom" }, "init 'custom' needs W or H" },
          { { k = 2, init = "random", H = random_matrix(2, 8, 1) },
            "W and H are used only with init 'custom', got init 'random'" },
          { { k = 3, W = random_matrix(10, 2, 1) }, "W must be 10 x 3, got 10 x 2" },
          { { k = 3, H = random_matrix(3, 7, 1) }, "H must be 3 x 8, got 3 x 7" },
          { { k = 3, W = "W" }, "W must be a Matrix, got string" },
        }
        for _, c in ipairs(cases) do
          assert.has_error(function() tessera.nmf(V, c[1]) end, "bad argument #2 to 'nmf' (" .. c[2] .. ")")
        end
      end)

      it("rejects negative custom factors", function()
        local W = random_matrix(10, 2, 82)
        W:set(2, 1, -1)
        assert.has_error(function() tessera.nmf(V, { k = 2, W = W }) end,
          "tessera.nmf: W has a negative entry (-1 at row 2, column 1)")
        local H = random_matrix(2, 8, 83)
        H:set(2, 8, -0.5)
        assert.has_error(function() tessera.nmf(V, { k = 2, H = H }) end,
          "tessera.nmf: H has a negative entry (-0.5 at row 2, column 8)")
      end)
    end)
  end)

  describe("loss()", function()
    local V = random_matrix(7, 6, 91, 0.2)
    local W, H = random_matrix(7, 2, 92, 0.1), random_matrix(2, 6, 93, 0.1)
    local Vt, WH = V:totable(), mul(W:totable(), H:totable())
    local function plain(term)
      local s = 0
      for i = 1, 7 do
        for j = 1, 6 do s = s + term(Vt[i][j], WH[i][j]) end
      end
      return s
    end

    it("computes the paper's objectives, Itakura-Saito and the beta-divergence", function()
      local cases = {
        euclidean = function(v, y) return (v - y) ^ 2 end,
        kl = function(v, y) return v * math.log(v / y) - v + y end,
        is = function(v, y) return v / y - math.log(v / y) - 1 end,
        [0.5] = function(v, y) return (v ^ 0.5 + (0.5 - 1) * y ^ 0.5 - 0.5 * v * y ^ (0.5 - 1)) / (0.5 * (0.5 - 1)) end,
        [3] = function(v, y) return (v ^ 3 + 2 * y ^ 3 - 3 * v * y ^ 2) / 6 end,
      }
      for loss, term in pairs(cases) do
        local expected = plain(term)
        assert.near(expected, nmf.loss(V, W, H, loss), 1e-5 * expected, tostring(loss))
      end
      assert.equal(nmf.loss(V, W, H, "euclidean"), nmf.loss(V, W, H))
      assert.equal(nmf.loss(V, W, H, "kl"), nmf.loss(V, W, H, 1))
    end)

    it("counts V = 0 as 0 log 0 = 0 and guards WH = 0", function()
      local Z = matrix.new(3, 2)
      local Wz, Hz = matrix.new(3, 1), matrix.new(1, 2)
      assert.equal(0, nmf.loss(Z, Wz, Hz, "kl"))
      assert.equal(0, nmf.loss(Z, Wz, Hz, "is"))
      local one = matrix.new(3, 2, 1)
      local d = nmf.loss(one, Wz, Hz, "kl")
      assert.is_true(d > 0 and d < math.huge)
    end)

    it("rejects factors of the wrong shape and unknown losses", function()
      assert.has_error(function() nmf.loss(V, random_matrix(6, 2, 1), H) end,
        "bad argument #2 to 'loss' (W must have 7 rows like V, got 6)")
      assert.has_error(function() nmf.loss(V, W, random_matrix(3, 6, 1)) end,
        "bad argument #3 to 'loss' (H must be 2 x 6, got 3 x 6)")
      assert.has_error(function() nmf.loss(V, W, H, "l2") end,
        "bad argument #4 to 'loss' (invalid loss 'l2'; expected one of: euclidean, kl, is, or a number)")
    end)
  end)

  describe("Model", function()
    local V = amen()
    local n, p = V:shape()

    it("reconstructs W H, and the components add up to it", function()
      local m = tessera.nmf(V, { k = 3, max_iter = 20 })
      local R = m:reconstruct()
      assert.is_true(max_rel((m.W * m.H):totable(), R:totable()) == 0)
      local sum = m:component(1) + m:component(2) + m:component(3)
      local Rt, St = R:totable(), sum:totable()
      for i = 1, n, 37 do
        for j = 1, p, 5 do assert.near(Rt[i][j], St[i][j], 1e-5 * (1 + Rt[i][j])) end
      end
      -- component i is the outer product of W's column i and H's row i
      local C2 = m:component(2)
      assert.near(m.W:get(100, 2) * m.H:get(2, 30), C2:get(100, 30), 1e-6)
      assert.has_error(function() m:component(4) end,
        "bad argument #1 to 'component' (component must be an integer in 1..3, got 4)")
    end)

    it("normalises W's columns to unit norm and keeps W H", function()
      local m = tessera.nmf(V, { k = 4, loss = "kl", max_iter = 30 })
      local before = m:reconstruct():totable()
      assert.equal(m, m:normalize())
      for a = 1, 4 do
        local s = 0
        for i = 1, n do s = s + m.W:get(i, a) ^ 2 end
        assert.near(1, s, 1e-5)
      end
      local after = m:reconstruct():totable()
      local top = 0
      for i = 1, n do for j = 1, p do top = math.max(top, before[i][j]) end end
      for i = 1, n do
        for j = 1, p do assert.is_true(math.abs(after[i][j] - before[i][j]) <= 1e-5 * top) end
      end
    end)

    it("normalises W's columns to unit sum or unit max, and keeps W H", function()
      for _, norm in ipairs { "sum", "max" } do
        local m = tessera.nmf(V, { k = 3, loss = "kl", max_iter = 20 })
        local before = m:reconstruct()
        local h1 = m.H:get(2, 7) -- H's row scaled by what W's column lost
        local col = {}
        for i = 1, n do col[i] = m.W:get(i, 2) end
        assert.equal(m, m:normalize(norm))
        for a = 1, 3 do
          local s, top = 0, 0
          for i = 1, n do
            s = s + m.W:get(i, a)
            top = math.max(top, m.W:get(i, a))
          end
          assert.near(1, norm == "sum" and s or top, 1e-5)
        end
        local scale = 0
        for i = 1, n do scale = norm == "sum" and scale + col[i] or math.max(scale, col[i]) end
        assert.near(h1 * scale, m.H:get(2, 7), 1e-5 * h1 * scale)
        local D = m:reconstruct() - before
        assert.is_true(math.max(D:max(), -D:min()) <= 1e-5 * before:max())
      end
      local m = tessera.nmf(V, { k = 2, max_iter = 5 })
      assert.has_error(function() m:normalize("l1") end,
        "bad argument #1 to 'normalize' (invalid norm 'l1'; expected one of: l2, sum, max)")
    end)

    it("sorts components by energy, spectral centroid or time", function()
      local m = tessera.nmf(V, { k = 4, loss = "kl", max_iter = 40 })
      local W0, H0 = m.W:copy(), m.H:copy()
      local function energy(a)
        local w, h = 0, 0
        for i = 1, n do w = w + m.W:get(i, a) ^ 2 end
        for j = 1, p do h = h + m.H:get(a, j) ^ 2 end
        return w * h
      end
      local function centroid(a)
        local s, t = 0, 0
        for i = 1, n do s, t = s + (i - 1) * m.W:get(i, a), t + m.W:get(i, a) end
        return s / t
      end
      local function center(a)
        local s, t = 0, 0
        for j = 1, p do s, t = s + (j - 1) * m.H:get(a, j), t + m.H:get(a, j) end
        return s / t
      end
      local _, order = m:sort()
      for a = 2, 4 do assert.is_true(energy(a - 1) >= energy(a)) end
      -- the order names the old components
      for a = 1, 4 do
        for i = 1, n, 50 do assert.equal(W0:get(i, order[a]), m.W:get(i, a)) end
        for j = 1, p, 7 do assert.equal(H0:get(order[a], j), m.H:get(a, j)) end
      end
      m:sort("centroid")
      for a = 2, 4 do assert.is_true(centroid(a - 1) <= centroid(a)) end
      m:sort("time")
      for a = 2, 4 do assert.is_true(center(a - 1) <= center(a)) end
      -- Reordered components sum each entry of WH in another order: float32 rounding.
      assert.near(nmf.loss(V, W0, H0), nmf.loss(V, m.W, m.H), 1e-7 * nmf.loss(V, W0, H0))
      assert.has_error(function() m:sort("loudness") end,
        "bad argument #1 to 'sort' (invalid key 'loudness'; expected one of: energy, centroid, time)")
    end)

    it("saves to a directory and loads back the same model", function()
      local dir = tmpname("-model")
      finally(function()
        for _, f in ipairs({ "W.npy", "H.npy", "model.json" }) do os.remove(dir .. "/" .. f) end
        os.remove(dir)
      end)
      local m = tessera.nmf(V, { k = 4, loss = "kl", max_iter = 30, seed = 7, every = 5 })
      assert.equal(m, m:save(dir))
      local listing = run("ls -A " .. dir)
      assert.equal("H.npy\nW.npy\nmodel.json\n", listing) -- no temporary file left behind
      local back = nmf.load(dir)
      assert.is_true(same_bits(m.W, back.W) and same_bits(m.H, back.H))
      for _, key in ipairs({ "k", "n", "p", "loss", "iterations", "converged", "stopped", "seconds" }) do
        assert.equal(m[key], back[key], key)
      end
      assert.same(m.history, back.history)
      assert.same(m.options, back.options)
      assert.equal(math.type(m.iterations), math.type(back.iterations))
      -- saving again over it works (the matrices and the JSON are replaced)
      m:normalize():save(dir)
      assert.is_true(same_bits(m.W, nmf.load(dir).W))
      assert.has_error(function() nmf.load(dir .. "-missing") end,
        "tessera.nmf.load: cannot open '" .. dir .. "-missing/model.json': No such file or directory")
    end)

    it("matches the components of two models (Hungarian assignment)", function()
      local m = tessera.nmf(V, { k = 4, loss = "kl", max_iter = 40 })
      local dir = tmpname("-match")
      finally(function()
        for _, f in ipairs({ "W.npy", "H.npy", "model.json" }) do os.remove(dir .. "/" .. f) end
        os.remove(dir)
      end)
      m:save(dir)
      local other = nmf.load(dir)
      local perm = { 3, 1, 4, 2 } -- other's component i becomes m's component perm[i]
      tessera.core.nmf.permute(other.W, other.H, perm)
      local inverse = {}
      for b, a in ipairs(perm) do inverse[a] = b end
      for _, by in ipairs({ "H", "W" }) do
        local found, total = nmf.match(m, other, { by = by })
        assert.equal(4, #found)
        for a = 1, 4 do
          assert.equal(a, found[a].a)
          assert.equal(inverse[a], found[a].b)
          assert.near(1, found[a].corr, 1e-9)
        end
        assert.near(4, total, 1e-8)
      end
      -- models of different sizes: min(k1, k2) pairs, each component used once
      local three = tessera.nmf(V, { k = 3, loss = "kl", max_iter = 40 })
      local few = nmf.match(m, three)
      assert.equal(3, #few)
      local used = {}
      for _, pair in ipairs(few) do
        assert.is_nil(used[pair.b])
        used[pair.b] = true
        assert.is_true(pair.corr >= -1 and pair.corr <= 1)
      end
      assert.has_error(function() nmf.match(m, {}) end,
        "bad argument #2 to 'match' (Model expected, got table)")
      assert.has_error(function() nmf.match(m, other, { by = "V" }) end,
        "bad argument #3 to 'match' (invalid by 'V'; expected one of: H, W)")
    end)
  end)
end)

describe("tessera.nmf on a Spectrogram", function()
  local a = tessera.audio.load(helpers.samples .. "/loop_amen.flac", { sr = 22050, duration = 1 })
  local S = tessera.stft(a, { n_fft = 1024, hop = 256, window = "hamming" })

  it("factors its magnitude and remembers its geometry, also through save and load", function()
    local from_S = tessera.nmf(S, { k = 3, max_iter = 20, seed = 1 })
    local from_V = tessera.nmf(S:magnitude(), { k = 3, max_iter = 20, seed = 1 })
    assert.same(from_V.W:totable(), from_S.W:totable())
    assert.same(from_V.H:totable(), from_S.H:totable())
    assert.same({ sr = 22050, n_fft = 1024, hop = 256, window = "hamming" }, from_S.spectrogram)
    assert.is_nil(from_V.spectrogram)
    local dir = helpers.tmpdir()
    finally(function() helpers.rmtree(dir) end)
    from_S:save(dir)
    local loaded = tessera.nmf.load(dir)
    assert.same(from_S.spectrogram, loaded.spectrogram)
    assert.equal("integer", math.type(loaded.spectrogram.hop))
  end)

  it("caps what one fit may allocate with max_memory, for that call only", function()
    local V = tessera.matrix.new(1000, 1000, 1)
    assert.has_error(function() tessera.nmf(V, { k = 100, max_iter = 1, max_memory = 100000 }) end,
      "tessera.nmf: a 1000 x 100 matrix needs 400.1 kB, more than its memory budget (100.0 kB)")
    assert.equal(0, tessera.core.util.memory_cap())
    local m = tessera.nmf(V, { k = 2, max_iter = 1, max_memory = 64 * 1024 * 1024 })
    assert.equal(2, m.k)
    assert.equal(0, tessera.core.util.memory_cap())
    local ok, err = pcall(tessera.nmf, V, { k = 1, max_memory = 0 })
    assert.is_false(ok)
    assert.truthy(err:find("bad argument #2 to 'nmf' (max_memory must be a positive integer, got 0)", 1, true))
  end)
end)

describe("tessera.nmf on factors that overflow (issue 15)", function()
  local function V_with_a_zero(rows, cols)
    local V = tessera.matrix.new(rows or 20, cols or 30):fill(1)
    V:set(1, 1, 0)
    return V
  end
  local function refusal(at, what, beta, aW, aH)
    return ("tessera.nmf: the fit diverged at iteration %s: %s; likely an extreme beta (%s) or " ..
      "alpha (alpha_W %s, alpha_H %s), or V or the initial W and H near float32's limits")
      :format(at, what, beta, aW, aH)
  end
  local W_nan = "the factors became NaN or infinite (W has a NaN entry at row 1, column 1)"
  local overflow = "the objective became infinite (WH overflows float32)"

  it("stops at the iteration where the factors or the objective stop being finite, for every solver", function()
    local cases = {
      { V_with_a_zero(), { k = 2, loss = -5 }, refusal(15, W_nan, -5, 0, 0) },
      { V_with_a_zero(), { k = 2, loss = -5, order = "simultaneous" }, refusal(18, W_nan, -5, 0, 0) },
      { V_with_a_zero(), { k = 2, loss = 1e9 }, refusal(0, "the objective became NaN", "1e+09", 0, 0) },
      { V_with_a_zero(), { k = 2, alpha_W = 1e38, alpha_H = 1e38 }, refusal(2, W_nan, 2, "1e+38", "1e+38") },
      -- k > 8: the Euclidean MU through sgemm
      { V_with_a_zero(40, 60), { k = 10, alpha_W = 1e38, alpha_H = 1e38 },
        refusal(2, W_nan, 2, "1e+38", "1e+38") },
      { tessera.matrix.new(20, 30):fill(3e38), { k = 2, init = "random", solver = "cd" },
        refusal(0, overflow, 2, 0, 0) },
    }
    for i, c in ipairs(cases) do
      c[2].progress = false
      local ok, err = pcall(tessera.nmf, c[1], c[2])
      assert.is_false(ok, "case " .. i)
      assert.equal(c[3], (err:gsub("^.-:%d+: ", "")), "case " .. i)
    end
    -- Where WH first overflows depends on how the kernel sums (the generic one in double).
    local ok, err = pcall(tessera.nmf, tessera.matrix.new(20, 30):fill(3e38),
      { k = 2, init = "random", progress = false })
    assert.is_false(ok)
    assert.matches("tessera.nmf: the fit diverged at iteration [01]: the ", err)
  end)

  it("stops within a second of an interrupt, even between checks (every = max_iter)", function()
    local bin = helpers.root .. "/bin/tessera"
    for _, opts in ipairs { "k = 4", "k = 12", "k = 4, solver = 'cd'", "k = 4, loss = 'kl'" } do
      local script = ([[
        local t = require "tessera"
        local sandbox = require "tessera.sandbox"
        local V = t.matrix.new(300, 400)
        for j = 1, 400 do for i = 1, 300 do V:set(i, j, ((i * 7919 + j * 104729) %% 1000) / 1000) end end
        local t0 = t.core.util.now()
        local ok, err = pcall(sandbox.timed, 0.5, function()
          return t.nmf(V, { %s, max_iter = 100000000, every = 100000000, tol = 0, progress = false })
        end)
        io.write(string.format("%%s %%.2f %%s", tostring(ok), t.core.util.now() - t0, tostring(err)))]])
        :format(opts)
      local out = helpers.run("timeout -s KILL 30 " .. helpers.shell_quote(bin) .. " -e " ..
        helpers.shell_quote(script) .. " 2>&1")
      local ok, seconds, err = out:match("^(%a+) ([%d.]+) (.*)$")
      assert.equal("false", ok, opts .. ": " .. out)
      assert.is_true(tonumber(seconds) < 1.5, opts .. ": " .. out)
      assert.matches("time limit", err, 1, true)
    end
  end)

  it("never reports a negative divergence (KL on denormal input)", function()
    local tiny = tessera.matrix.new(20, 30):fill(1e-40)
    local m = tessera.nmf(tiny, { k = 2, loss = "kl", progress = false })
    assert.is_true(m.loss >= 0)
    for _, h in ipairs(m.history) do assert.is_true(h.loss >= 0) end
    assert.is_true(tessera.nmf.loss(tiny, m.W, m.H, "kl") >= 0)
  end)
end)
