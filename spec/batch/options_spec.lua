-- Specs for tessera.batch.options: the built-in work's options and their one check.
local batch = require "tessera.batch"

describe("tessera.batch", function()
  describe("options()", function()
    it("fills in the defaults of tessera decompose, resampling as scipy's resample_poly", function()
      local o = batch.options({ k = 8 })
      assert.same({ k = 8, loss = "kl", solver = "mu", seed = 0, iter = 200, tol = 1e-4,
        every = 10, sr = 22050, n_fft = 2048, hop = 512, offset = 0, duration = false, audio = false,
        method = "wiener", figures = false, resample = "poly" }, o)
    end)

    it("checks every option", function()
      assert.has_error(function() batch.options({ kk = 2 }) end,
        "tessera.batch: unknown option 'kk' (expected one of: audio, duration, every, figures, "
        .. "hop, iter, k, loss, method, n_fft, offset, resample, seed, solver, sr, tol)")
      assert.has_error(function() batch.options({ every = 0 }) end,
        "tessera.batch: every must be an integer >= 1, got 0")
      assert.has_error(function() batch.options({ k = 0 }) end,
        "tessera.batch: k must be an integer >= 1, got 0")
      assert.has_error(function() batch.options({ loss = "l1" }) end,
        "tessera.batch: loss must be one of euclidean, is, kl, got 'l1'")
      assert.has_error(function() batch.options({ solver = "cd" }) end,
        "tessera.batch: solver cd needs loss euclidean, got 'kl'")
      assert.has_error(function() batch.options({ hop = 4096 }) end,
        "tessera.batch: hop must be <= n_fft (2048), got 4096")
      assert.has_error(function() batch.options({ duration = 0 }) end,
        "tessera.batch: duration must be > 0, got 0")
      assert.has_error(function() batch.options({ tol = -1 }) end,
        "tessera.batch: tol must be >= 0, got -1")
      assert.has_error(function() batch.options({ resample = "high" }) end,
        "tessera.batch: resample must be one of best, fast, medium, poly, got 'high'")
    end)
  end)
end)
