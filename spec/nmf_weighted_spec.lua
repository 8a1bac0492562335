-- Weighted NMF (opts.weights): the weighted multiplicative updates against the rules written
-- plainly in Lua, the weighted objective against a direct sum, held-out entries that the
-- fit never sees, recovery of held-out entries of a low-rank matrix, and bad weights.
local tessera = require "tessera"
local helpers = require "helpers"

local matrix = tessera.matrix
local nmf = tessera.nmf

local SAMPLES = "/usr/share/sonic-pi/samples/"

local random_matrix = helpers.random_matrix

-- A 0/1 mask holding out about `share` of the entries.
local function mask(rows, cols, seed, share)
  math.randomseed(seed)
  local t = {}
  for i = 1, rows do
    t[i] = {}
    for j = 1, cols do t[i][j] = math.random() < share and 0 or 1 end
  end
  return matrix.from(t)
end

local function rows_of(m) return m:totable() end

local function product(W, H)
  local n, k, p = #W, #H, #H[1]
  local Y = {}
  for i = 1, n do
    Y[i] = {}
    for j = 1, p do
      local s = 0
      for a = 1, k do s = s + W[i][a] * H[a][j] end
      Y[i][j] = s
    end
  end
  return Y
end

local EPS = 1.1920928955078125e-07 -- float32's epsilon, the guard of zero denominators

-- One weighted MU iteration, H then W, for beta 2 or 1 (the rules with M in both terms).
local function weighted_mu_step(V, M, W, H, beta)
  local n, k, p = #W, #H, #H[1]
  local function terms()
    local Y = product(W, H)
    local R, Q = {}, {}
    for i = 1, n do
      R[i], Q[i] = {}, {}
      for j = 1, p do
        local y = Y[i][j]
        if beta == 2 then
          R[i][j], Q[i][j] = M[i][j] * V[i][j], M[i][j] * y
        else
          R[i][j], Q[i][j] = M[i][j] * V[i][j] / math.max(y, EPS), M[i][j]
        end
      end
    end
    return R, Q
  end
  local R, Q = terms()
  for a = 1, k do
    for j = 1, p do
      local num, den = 0, 0
      for i = 1, n do
        num = num + W[i][a] * R[i][j]
        den = den + W[i][a] * Q[i][j]
      end
      H[a][j] = H[a][j] * num / (den == 0 and EPS or den)
    end
  end
  R, Q = terms()
  for i = 1, n do
    for a = 1, k do
      local num, den = 0, 0
      for j = 1, p do
        num = num + R[i][j] * H[a][j]
        den = den + Q[i][j] * H[a][j]
      end
      W[i][a] = W[i][a] * num / (den == 0 and EPS or den)
    end
  end
end

local function max_relative_difference(A, B)
  local worst = 0
  for i = 1, #A do
    for j = 1, #A[1] do
      local d = math.abs(A[i][j] - B[i][j]) / math.max(math.abs(B[i][j]), 1e-3)
      if d > worst then worst = d end
    end
  end
  return worst
end

describe("tessera.nmf with weights", function()
  local V = random_matrix(12, 15, 1, 0.1)
  local M = mask(12, 15, 2, 0.25)
  local W0, H0 = random_matrix(12, 3, 3, 0.1), random_matrix(3, 15, 4, 0.1)

  for _, beta in ipairs { 2, 1 } do
    it("follows the weighted multiplicative rules written plainly (beta " .. beta .. ")", function()
      local m = nmf(V, { k = 3, loss = beta, W = W0, H = H0, weights = M, max_iter = 10, tol = 0,
        progress = false })
      local W, H, Vt, Mt = rows_of(W0), rows_of(H0), rows_of(V), rows_of(M)
      for _ = 1, 10 do weighted_mu_step(Vt, Mt, W, H, beta) end
      assert.is_true(max_relative_difference(rows_of(m.W), W) < 1e-3)
      assert.is_true(max_relative_difference(rows_of(m.H), H) < 1e-3)
    end)
  end

  it("reports the weighted objective, summed directly", function()
    local m = nmf(V, { k = 3, weights = M, max_iter = 5, progress = false })
    local Y, Vt, Mt = product(rows_of(m.W), rows_of(m.H)), rows_of(V), rows_of(M)
    local direct = 0
    for i = 1, #Vt do
      for j = 1, #Vt[1] do direct = direct + Mt[i][j] * (Vt[i][j] - Y[i][j]) ^ 2 end
    end
    assert.near(direct, m.loss, 1e-5 * direct)
    assert.near(direct, nmf.loss(V, m.W, m.H, "euclidean", M), 1e-5 * direct)
    assert.is_true(nmf.loss(V, m.W, m.H) > m.loss) -- the held-out entries count there
  end)

  it("never sees a held-out entry, in the fit or its start, for every loss and solver", function()
    local amen = tessera.stft(tessera.audio.load(SAMPLES .. "loop_amen.flac",
      { sr = 22050, duration = 1 })):magnitude()
    local n, p = amen:shape()
    local held = mask(n, p, 5, 0.1)
    local changed = amen:copy()
    for j = 1, p do
      for i = 1, n do
        if held:get(i, j) == 0 then changed:set(i, j, (i * j) % 7) end
      end
    end
    for _, opts in ipairs {
      { loss = "euclidean" }, { loss = "kl" }, { loss = "is" }, { loss = 0.5 },
      { solver = "cd" }, { loss = "kl", order = "simultaneous" }, { init = "nndsvd" },
    } do
      opts.k, opts.weights, opts.max_iter, opts.progress = 4, held, 20, false
      local a, b = nmf(amen, opts), nmf(changed, opts)
      assert.same(a.W:totable(), b.W:totable())
      assert.same(a.H:totable(), b.H:totable())
      assert.equal(a.loss, b.loss)
    end
  end)

  -- (not the simultaneous order: updating both factors from one WH is not monotone, as the
  -- study's own code shows)
  it("lowers the weighted objective at every check, for every loss and solver", function()
    for _, opts in ipairs {
      { loss = "euclidean" }, { loss = "kl" }, { loss = "is" }, { loss = 0.5 }, { loss = 3 },
      { solver = "cd" }, { order = "WH" }, { loss = "kl", order = "WH" },
    } do
      opts.k, opts.weights, opts.max_iter, opts.every, opts.tol, opts.progress = 3, M, 60, 1, 0, false
      local m = nmf(V, opts)
      for i = 2, #m.history do
        local before, after = m.history[i - 1].loss, m.history[i].loss
        assert.is_true(after <= before * (1 + 1e-5), ("%s: %g then %g"):format(
          tostring(opts.loss or opts.solver), before, after))
      end
    end
  end)

  it("recovers held-out entries of a low-rank matrix (MU and CD)", function()
    local truth = random_matrix(40, 3, 6, 0.05) * random_matrix(3, 50, 7, 0.05)
    local held = mask(40, 50, 8, 0.2)
    for _, solver in ipairs { "mu", "cd" } do
      local m = nmf(truth, { k = 3, weights = held, solver = solver, max_iter = 2000, tol = 0,
        init = "random", seed = 1, progress = false })
      local Y = m.W * m.H
      local worst, heldout = 0, 0
      for j = 1, 50 do
        for i = 1, 40 do
          if held:get(i, j) == 0 then
            heldout = heldout + 1
            local rel = math.abs(Y:get(i, j) - truth:get(i, j)) / truth:get(i, j)
            if rel > worst then worst = rel end
          end
        end
      end
      assert.is_true(heldout > 300)
      assert.is_true(worst < 0.02, solver .. ": worst relative error " .. worst)
    end
  end)

  it("equals the unweighted fit when every weight is 1", function()
    local ones = matrix.new(12, 15, 1)
    for _, opts in ipairs { { loss = "euclidean" }, { loss = "kl" }, { solver = "cd" } } do
      opts.k, opts.max_iter, opts.tol, opts.progress = 3, 50, 0, false
      local plain = nmf(V, opts)
      opts.weights = ones
      local weighted = nmf(V, opts)
      assert.near(plain.loss, weighted.loss, 1e-4 * plain.loss)
    end
  end)

  it("refuses bad weights, naming them", function()
    local function refused(weights, expected)
      assert.equal(expected, helpers.error_message(nmf, V, { k = 2, weights = weights, progress = false }))
    end
    refused(matrix.new(3, 3, 1), "bad argument #2 to 'nmf' (weights must be 12 x 15, got 3 x 3)")
    refused("all", "bad argument #2 to 'nmf' (weights must be a Matrix, got string)")
    local bad = matrix.new(12, 15, 1)
    bad:set(2, 3, -1)
    refused(bad, "tessera.nmf: weights has a negative entry (-1 at row 2, column 3)")
    bad:set(2, 3, 0 / 0)
    refused(bad, "tessera.nmf: weights has a NaN entry (at row 2, column 3)")
    refused(matrix.new(12, 15, 0), "tessera.nmf: weights are all 0: no entry of V is seen")
    assert.has_error(function() nmf.loss(V, W0, H0, "euclidean", matrix.new(2, 2, 1)) end,
      "bad argument #5 to 'loss' (weights must be 12 x 15 like V, got 2 x 2)")
  end)
end)
