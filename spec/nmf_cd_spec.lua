-- Specs for tessera.nmf's coordinate-descent solver (solver = "cd", csrc/nmf/cd.c):
-- scikit-learn 1.2's "cd" semantics checked against scikit-learn itself on a real loop's
-- magnitude spectrogram from the same custom start, the loss's monotone descent, zero data,
-- the tol stopping rule, determinism, and the errors it raises.
local tessera = require "tessera"

local PY = "/usr/bin/python3" -- Debian's, with numpy and scikit-learn
local LOOP = "/usr/share/sonic-pi/samples/loop_amen.flac"

-- A fresh temporary folder, removed by the caller.
local function tmpdir()
  local p = assert(io.popen("mktemp -d /tmp/tessera-nmf-cd.XXXXXX"))
  local dir = p:read("l")
  p:close()
  return dir
end

local function rmdir(dir) os.execute("rm -rf '" .. dir .. "'") end

-- Runs scikit-learn's non_negative_factorization on DIR's V.npy (and W0.npy / H0.npy as
-- named in `opts`) and returns the full ||V - WH||^2_F of its result, in double, and its
-- n_iter. Like with like: scikit-learn's own reported errors are halved, this is not.
local SKLEARN = [[
import json, sys, warnings
import numpy as np
from sklearn.decomposition import non_negative_factorization
warnings.filterwarnings("ignore")
d, o = sys.argv[1], json.loads(sys.argv[2])
def load(name):  # tessera writes Fortran order; scikit-learn's cd wants C order
    return np.ascontiguousarray(np.load(d + "/" + name), dtype=np.float32)
X = load("V.npy")
kw = dict(n_components=o["k"], solver="cd", max_iter=o["max_iter"], tol=o["tol"],
          alpha_W=o.get("alpha_W", 0.0), l1_ratio=o.get("l1_ratio", 0.0))
if o.get("transpose"):
    X = np.ascontiguousarray(X.T)
if "W" in o:
    kw["W"] = load(o["W"])
if "H" in o:
    kw["H"] = load(o["H"])
if o.get("update_H", True):
    kw["init"] = "custom"
else:
    kw["update_H"] = False
W, H, n_iter = non_negative_factorization(X, **kw)
R = X.astype(np.float64) - W.astype(np.float64) @ H.astype(np.float64)
print(json.dumps({"loss": float((R * R).sum()), "n_iter": int(n_iter)}))
]]

local function sklearn(dir, opts)
  local script = dir .. "/sk.py"
  local f = assert(io.open(script, "w"))
  f:write(SKLEARN)
  f:close()
  local json = require("cjson").encode(opts)
  local p = assert(io.popen(("%s %s %s '%s'"):format(PY, script, dir, json)))
  local out = p:read("a")
  local ok = p:close()
  assert(ok, "scikit-learn failed: " .. out)
  return require("cjson").decode(out)
end

-- ||V - WH||^2_F through Matrix arithmetic: an independent check of m.loss.
local function euclidean(V, W, H)
  local R = V - W * H
  return R:hadamard(R):sum()
end

local function rel(a, b) return math.abs(a - b) / math.max(math.abs(b), 1e-300) end

local function same_matrix(A, B)
  local D = A - B
  return D:min() == 0 and D:max() == 0
end

describe("tessera.nmf", function()
  describe("nmf(V, {solver = 'cd'})", function()
    local dir, V, W0, H0
    local K = 4

    lazy_setup(function()
      dir = tmpdir()
      -- loop_amen tiled to 4 s: 1025 x 173, several column blocks for the solver's threads.
      local a = tessera.audio.load(LOOP, { sr = 22050 })
      V = tessera.stft(a:tile(4 * 22050), { n_fft = 2048, hop = 512 }):magnitude()
      local init = tessera.nmf(V, { k = K, init = "random", seed = 11, max_iter = 0 })
      W0, H0 = init.W, init.H
      V:save(dir .. "/V.npy")
      W0:save(dir .. "/W0.npy")
      H0:save(dir .. "/H0.npy")
      W0:T():save(dir .. "/W0T.npy") -- for scikit-learn's side of update_W = false
    end)

    lazy_teardown(function()
      if dir then rmdir(dir) end
    end)

    it("reaches scikit-learn's loss after 50 iterations from the same start", function()
      local m = tessera.nmf(V, { k = K, solver = "cd", W = W0, H = H0, max_iter = 50, tol = 0 })
      local ref = sklearn(dir, { k = K, max_iter = 50, tol = 0, W = "W0.npy", H = "H0.npy" })
      assert.equal(50, m.iterations)
      assert.is_false(m.converged)
      assert.is_true(rel(m.loss, ref.loss) < 1e-5, ("%.9g vs %.9g"):format(m.loss, ref.loss))
      assert.is_true(rel(m.loss, euclidean(V, m.W, m.H)) < 1e-6)
      -- And it did fit: far below where it started.
      assert.is_true(m.loss < 0.5 * m.history[1].loss)
    end)

    it("matches scikit-learn with regularisation (alpha_W 0.01, l1_ratio 0.5)", function()
      local m = tessera.nmf(V, { k = K, solver = "cd", W = W0, H = H0, max_iter = 50, tol = 0,
                                 alpha_W = 0.01, l1_ratio = 0.5 })
      local ref = sklearn(dir, { k = K, max_iter = 50, tol = 0, W = "W0.npy", H = "H0.npy",
                                 alpha_W = 0.01, l1_ratio = 0.5 })
      assert.is_true(rel(m.loss, ref.loss) < 1e-5, ("%.9g vs %.9g"):format(m.loss, ref.loss))
      -- The penalty moved it: the plain fit reaches a lower ||V - WH||^2.
      local plain = tessera.nmf(V, { k = K, solver = "cd", W = W0, H = H0, max_iter = 50, tol = 0 })
      assert.is_true(plain.loss < m.loss)
    end)

    it("matches scikit-learn with update_H = false (W from zero, H kept)", function()
      local m = tessera.nmf(V, { k = K, solver = "cd", H = H0, update_H = false,
                                 max_iter = 50, tol = 0 })
      local ref = sklearn(dir, { k = K, max_iter = 50, tol = 0, H = "H0.npy", update_H = false })
      assert.is_true(rel(m.loss, ref.loss) < 1e-5, ("%.9g vs %.9g"):format(m.loss, ref.loss))
      assert.is_true(same_matrix(m.H, H0))
    end)

    it("matches scikit-learn with update_H = false and regularisation", function()
      local m = tessera.nmf(V, { k = K, solver = "cd", H = H0, update_H = false,
                                 max_iter = 50, tol = 0, alpha_W = 0.01, l1_ratio = 0.5 })
      local ref = sklearn(dir, { k = K, max_iter = 50, tol = 0, H = "H0.npy", update_H = false,
                                 alpha_W = 0.01, l1_ratio = 0.5 })
      assert.is_true(rel(m.loss, ref.loss) < 1e-5, ("%.9g vs %.9g"):format(m.loss, ref.loss))
    end)

    it("with update_W = false solves for H as scikit-learn does on Vᵀ", function()
      local m = tessera.nmf(V, { k = K, solver = "cd", W = W0, update_W = false,
                                 max_iter = 50, tol = 0 })
      local ref = sklearn(dir, { k = K, max_iter = 50, tol = 0, transpose = true,
                                 H = "W0T.npy", update_H = false })
      assert.is_true(rel(m.loss, ref.loss) < 1e-5, ("%.9g vs %.9g"):format(m.loss, ref.loss))
      assert.is_true(same_matrix(m.W, W0))
    end)

    it("gives the same fit on every kernel path (TESSERA_SIMD=generic, avx2)", function()
      -- The plain C and AVX2 paths are what other CPUs run; a child process caps the choice.
      local code = ([[
        local t = require "tessera"
        local d = %q
        local V = t.matrix.load(d .. "/V.npy")
        local m = t.nmf(V, { k = %d, solver = "cd", W = t.matrix.load(d .. "/W0.npy"),
                             H = t.matrix.load(d .. "/H0.npy"), max_iter = 50, tol = 0,
                             alpha_W = 0.01, l1_ratio = 0.5 })
        io.write(("%%.17g"):format(m.loss))
      ]]):format(dir, K)
      local script = dir .. "/paths.lua"
      local f = assert(io.open(script, "w"))
      f:write(code)
      f:close()
      local here = tessera.nmf(V, { k = K, solver = "cd", W = W0, H = H0, max_iter = 50, tol = 0,
                                    alpha_W = 0.01, l1_ratio = 0.5 })
      for _, simd in ipairs { "generic", "avx2" } do
        local p = assert(io.popen(("TESSERA_SIMD=%s LUA_PATH='lua/?.lua;lua/?/init.lua;;' "
          .. "LUA_CPATH='lua/?.so;;' lua5.4 %s"):format(simd, script)))
        local out = p:read("a")
        assert(p:close(), out)
        local loss = tonumber(out)
        assert.is_number(loss)
        assert.is_true(rel(loss, here.loss) < 1e-5, ("%s: %.9g vs %.9g"):format(simd, loss, here.loss))
      end
    end)

    it("never lets the loss rise between checks", function()
      local m = tessera.nmf(V, { k = 8, solver = "cd", init = "random", seed = 3, max_iter = 80,
                                 tol = 0, every = 1 })
      assert.equal(81, #m.history) -- iteration 0 and every one after it
      for i = 2, #m.history do
        local before, after = m.history[i - 1].loss, m.history[i].loss
        assert.is_true(after <= before * (1 + 1e-6), ("iteration %d: %.9g after %.9g"):format(
                       m.history[i].iteration, after, before))
      end
      assert.is_true(m.history[#m.history].loss < 0.5 * m.history[1].loss)
    end)

    it("gives finite factors for an all-zero V", function()
      local Z = tessera.matrix.new(40, 30)
      local W, H = tessera.matrix.new(40, 3), tessera.matrix.new(3, 30)
      W:fill(0.5)
      H:fill(0.25)
      local m = tessera.nmf(Z, { k = 3, solver = "cd", W = W, H = H, max_iter = 20, tol = 0 })
      assert.is_true(m.W:isfinite() and m.H:isfinite())
      assert.equal(0, m.loss)
      assert.equal(0, m.W:max()) -- nothing to explain: the first sweep zeroes W
      -- H's hessian (W^T W) is then 0: H is left as it was, and with nothing left to move
      -- the violation is 0, which ends the fit at iteration 2 as in scikit-learn.
      assert.is_true(same_matrix(m.H, H))
      assert.equal(2, m.iterations)
      assert.is_true(m.converged)
    end)

    it("gives finite factors when rows and columns of V are zero, and zeros there", function()
      local Vz = V:copy()
      local n, p = Vz:shape()
      for i = 1, 200 do for j = 1, p do Vz:set(i, j, 0) end end      -- the lowest bins
      for j = 50, 60 do for i = 1, n do Vz:set(i, j, 0) end end      -- a silent stretch
      local m = tessera.nmf(Vz, { k = K, solver = "cd", W = W0, H = H0, max_iter = 30, tol = 0 })
      assert.is_true(m.W:isfinite() and m.H:isfinite())
      -- Nothing to explain there: those rows of W and columns of H go to 0 (within rounding
      -- of the last component's own step, which shrinks by ~1e-7 an iteration).
      for i = 1, 200 do for t = 1, K do assert.is_true(m.W:get(i, t) <= 1e-30) end end
      for j = 50, 60 do for t = 1, K do assert.is_true(m.H:get(t, j) <= 1e-30) end end
      assert.is_true(rel(m.loss, euclidean(Vz, m.W, m.H)) < 1e-6)
    end)

    it("stops early by tol on a matrix of exact rank k, where scikit-learn stops", function()
      -- V = A B with A 60 x 3, B 3 x 50, entries 0.1..1.0 (no zeros: a unique optimum).
      local A, B = tessera.matrix.new(60, 3), tessera.matrix.new(3, 50)
      for i = 1, 60 do for t = 1, 3 do A:set(i, t, 0.1 + ((i * 7 + t * 13) % 10) / 10) end end
      for t = 1, 3 do for j = 1, 50 do B:set(t, j, 0.1 + ((j * 3 + t * 11) % 10) / 10) end end
      local R = A * B
      local sub = tmpdir()
      local ok, err = pcall(function()
        local init = tessera.nmf(R, { k = 3, init = "random", seed = 5, max_iter = 0 })
        R:save(sub .. "/V.npy")
        init.W:save(sub .. "/W0.npy")
        init.H:save(sub .. "/H0.npy")
        local m = tessera.nmf(R, { k = 3, solver = "cd", W = init.W, H = init.H,
                                   max_iter = 5000, tol = 1e-4 })
        local ref = sklearn(sub, { k = 3, max_iter = 5000, tol = 1e-4, W = "W0.npy", H = "H0.npy" })
        assert.is_true(m.converged)
        assert.is_true(m.iterations < 5000)
        -- The same rule on the same numbers: the same iteration, give or take rounding.
        assert.is_true(math.abs(m.iterations - ref.n_iter) <= 1,
                       ("tessera %d, scikit-learn %d"):format(m.iterations, ref.n_iter))
        local total = R:hadamard(R):sum()
        assert.is_true(m.loss < 1e-3 * total)
      end)
      rmdir(sub)
      assert(ok, err)
    end)

    it("is bit-identical for the same input, whatever the thread count", function()
      local function fit(threads)
        return tessera.nmf(V, { k = K, solver = "cd", W = W0, H = H0, max_iter = 15, tol = 0,
                                threads = threads })
      end
      local a, b, one, three = fit(2), fit(2), fit(1), fit(3)
      for _, m in ipairs { b, one, three } do
        assert.is_true(same_matrix(a.W, m.W) and same_matrix(a.H, m.H))
        -- m.loss is summed afresh by tsr_nmf_fit in per-thread parts: equal up to rounding.
        assert.is_true(rel(m.loss, a.loss) < 1e-12)
      end
      assert.equal(a.loss, b.loss)
    end)

    it("stops when on_iter returns false", function()
      local seen = {}
      local m = tessera.nmf(V, { k = K, solver = "cd", W = W0, H = H0, max_iter = 100, tol = 0,
                                 every = 5, on_iter = function(it, loss)
                                   seen[#seen + 1] = it
                                   assert.is_true(loss > 0)
                                   return it < 15
                                 end })
      assert.same({ 5, 10, 15 }, seen)
      assert.is_true(m.stopped)
      assert.equal(15, m.iterations)
    end)

    it("refuses losses other than the euclidean one", function()
      assert.has_error(function() tessera.nmf(V, { k = 2, solver = "cd", loss = "kl" }) end,
                       "bad argument #2 to 'nmf' (solver 'cd' needs the euclidean loss, got 'kl')")
      assert.has_error(function() tessera.nmf(V, { k = 2, solver = "cd", loss = "is" }) end,
                       "bad argument #2 to 'nmf' (solver 'cd' needs the euclidean loss, got 'is')")
      assert.has_error(function() tessera.nmf(V, { k = 2, solver = "cd", loss = 1.5 }) end,
                       "bad argument #2 to 'nmf' (solver 'cd' needs the euclidean loss, got 1.5)")
    end)
  end)
end)
