-- Specs for tessera.batch.options: the built-in work's options and their one check.
local batch = require "tessera.batch"

describe("tessera.batch", function()
  describe("options()", function()
    it("fills in the defaults of tessera decompose, resampling as scipy's resample_poly", function()
      local o = batch.options({ k = 8 })
      assert.same({ k = 8, loss = "euclidean", solver = "mu", init = "auto", order = "HW", seed = 0,
        iter = 200, tol = 1e-4, every = 10, sr = 22050, n_fft = 2048, hop = 512, offset = 0,
        duration = false, audio = false, method = "wiener", figures = false, resample = "poly",
        sort = true }, o)
    end)

    it("checks every option", function()
      assert.has_error(function() batch.options({ kk = 2 }) end,
        "tessera.batch: unknown option 'kk' (expected one of: audio, duration, every, figures, "
        .. "hop, init, iter, k, loss, method, n_fft, offset, order, resample, seed, solver, sort, sr, tol)")
      assert.has_error(function() batch.options({ every = 0 }) end,
        "tessera.batch: every must be a positive integer, got 0")
      assert.has_error(function() batch.options({ k = 0 }) end,
        "tessera.batch: k must be a positive integer, got 0")
      assert.has_error(function() batch.options({ loss = "l1" }) end,
        "tessera.batch: loss must be one of euclidean, is, kl, got 'l1'")
      assert.has_error(function() batch.options({ solver = "cd", loss = "kl" }) end,
        "tessera.batch: solver: solver 'cd' needs the euclidean loss, got 'kl'")
      assert.has_error(function() batch.options({ solver = "newton" }) end,
        "tessera.batch: solver: invalid solver 'newton'; expected one of: mu, cd")
      assert.has_error(function() batch.options({ init = "svd" }) end,
        "tessera.batch: init: invalid init 'svd'; expected one of: random, uniform, nndsvd, nndsvda, "
        .. "nndsvdar, custom")
      assert.has_error(function() batch.options({ order = "hw" }) end,
        "tessera.batch: order: invalid order 'hw'; expected one of: HW, WH, simultaneous; did you mean 'HW'?")
      assert.has_error(function() batch.options({ hop = 4096 }) end,
        "tessera.batch: hop must be <= n_fft (2048), got 4096")
      assert.has_error(function() batch.options({ duration = 0 }) end,
        "tessera.batch: duration must be a number > 0, got 0")
      assert.has_error(function() batch.options({ tol = -1 }) end,
        "tessera.batch: tol must be a number >= 0, got -1")
      assert.has_error(function() batch.options({ resample = "high" }) end,
        "tessera.batch: resample must be one of best, fast, medium, poly, got 'high'")
    end)

    it("names the command-line flags for a command, with one wording for decompose and batch", function()
      local options = require "tessera.batch.options"
      for _, who in ipairs { "decompose", "batch" } do
        assert.has_error(function() options.check({ k = "-3" }, who, true) end,
          who .. ": -k must be a positive integer, got -3")
        assert.has_error(function() options.check({ k = "0" }, who, true) end,
          who .. ": -k must be a positive integer, got 0")
      end
      assert.has_error(function() options.check({ n_fft = "1" }, "decompose", true) end,
        "decompose: --n-fft must be an integer >= 2, got 1")
      assert.has_error(function() options.check({ iter = "x" }, "decompose", true) end,
        "decompose: --iter must be a positive integer, got 'x'")
      assert.same(6, options.check({ k = "6" }, "decompose", true).k)
    end)
  end)
end)
