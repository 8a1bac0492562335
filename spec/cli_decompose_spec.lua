-- Specs for `tessera decompose` and `tessera batch` as the Lua API: the options of the fit
-- (--tol, --init, --order, --solver, --resample, --seed), one decomposition for both commands,
-- sorted and normalised components, what model.json records, one default loss, option errors
-- that name the option and the value, the progress bar while component files are written,
-- and the cores a one-input batch gets. Run as child processes of bin/tessera on real loops.
local cjson = require "cjson"
local tessera = require "tessera"
local helpers = require "helpers"

local fmt = string.format
local q = helpers.shell_quote
local BIN = require("luv").fs_realpath(helpers.root .. "/bin/tessera")
local AMEN = "/usr/share/sonic-pi/samples/loop_amen.flac"
local AMEN_FULL = "/usr/share/sonic-pi/samples/loop_amen_full.flac"

-- Runs bin/tessera with args (a shell fragment), in the folder cwd when given; returns
-- stdout, stderr and the exit code.
local function tsr(args, cwd)
  local errfile = os.tmpname()
  local p = io.popen(fmt("%s%s %s 2>%s </dev/null", cwd and "cd " .. q(cwd) .. " && " or "",
    q(BIN), args, q(errfile)))
  local out = p:read("a")
  local _, _, code = p:close()
  local err = helpers.read_file(errfile)
  os.remove(errfile)
  return out, err, code
end

local function decompose(dir, file, args)
  local out, err, code = tsr(fmt("decompose %s -o %s %s", q(file), q(dir), args))
  assert(code == 0, err)
  return out
end

local function model_json(dir)
  return cjson.decode((assert(helpers.read_file(dir .. "/model.json"))))
end

-- The largest entry of |A - B|.
local function max_diff(A, B)
  local D = A - B
  return math.max(D:max(), -D:min())
end

local function same_bytes(a, b)
  return assert(helpers.read_file(a)) == assert(helpers.read_file(b))
end

describe("tessera decompose", function()
  local dir
  before_each(function() dir = helpers.tmpdir() end)
  after_each(function() helpers.rmtree(dir) end)

  it("takes --tol, --init, --order, --solver and --resample, and records them", function()
    decompose(dir .. "/a", AMEN, "-k 3 --iter 30 --tol 1e-3 --init nndsvd --order WH --solver mu "
      .. "--resample fast")
    local o = model_json(dir .. "/a").options
    assert.same({ 1e-3, "last", "nndsvd", "WH", "mu", 30 },
      { o.tol, o.tol_rule, o.init, o.order, o.solver, o.max_iter })
    decompose(dir .. "/b", AMEN, "-k 3 --iter 30 --tol 1e-3 --init nndsvd --order WH")
    -- poly by default: other samples than libsamplerate's fast converter, so other factors
    assert.is_false(same_bytes(dir .. "/a/W.npy", dir .. "/b/W.npy"))
  end)

  it("gives the factors batch gives for the same file and options", function()
    os.execute(fmt("mkdir -p %s/in && cp %s %s/in/", q(dir), q(AMEN), q(dir)))
    local args = "-k 3 --iter 40 --init random --seed 3 --order WH"
    decompose(dir .. "/d", dir .. "/in/loop_amen.flac", args)
    local _, err, code = tsr(fmt("batch %s -o %s %s --progress none", q(dir .. "/in"),
      q(dir .. "/b"), args))
    assert.equal(0, code, err)
    for _, f in ipairs { "W.npy", "H.npy" } do
      assert.is_true(same_bytes(dir .. "/d/" .. f, dir .. "/b/loop_amen.flac/" .. f), f)
    end
    local d, b = model_json(dir .. "/d"), model_json(dir .. "/b/loop_amen.flac")
    assert.equal(d.loss, b.loss)
    assert.same(d.spectrogram, b.spectrogram)
    assert.same(d.source, b.source)
  end)

  it("changes a random start with --seed, and keeps the default start free of randomness", function()
    for _, seed in ipairs { 1, 7 } do
      decompose(fmt("%s/r%d", dir, seed), AMEN, fmt("-k 3 --iter 10 --init random --seed %d", seed))
      decompose(fmt("%s/d%d", dir, seed), AMEN, fmt("-k 3 --iter 10 --seed %d", seed))
    end
    assert.is_false(same_bytes(dir .. "/r1/W.npy", dir .. "/r7/W.npy"))
    assert.is_true(same_bytes(dir .. "/d1/W.npy", dir .. "/d7/W.npy"))
    assert.equal("random", model_json(dir .. "/r1").options.init)
    assert.equal("nndsvda", model_json(dir .. "/d1").options.init)
  end)

  it("goes on while the objective still improves (-k 6 --iter 1000 does not stop at 130)", function()
    -- scikit-learn's rule (the decrease over the error at the start) stopped this KL fit
    -- after 130 iterations, 0.2% above where 200 iterations get.
    decompose(dir .. "/long", AMEN_FULL, "-k 6 --loss kl --iter 1000")
    local long = model_json(dir .. "/long")
    assert.is_true(long.converged)
    assert.is_true(long.iterations > 200 and long.iterations < 1000, tostring(long.iterations))
    -- what it went on for was worth it: 0.1% lower than at iteration 130
    local h, at130 = long.history, nil
    for _, c in ipairs(h) do if c.iteration == 130 then at130 = c.loss end end
    assert.is_true(long.loss < 0.999 * at130)
    -- it stopped because the last 10 iterations improved by less than tol of the error
    local e1, e2 = math.sqrt(2 * h[#h - 1].loss), math.sqrt(2 * h[#h].loss)
    assert.is_true((e1 - e2) / e1 < 1e-4)
  end)

  it("writes components with unit-sum templates, by centroid; --no-sort keeps the solver's", function()
    decompose(dir .. "/s", AMEN, "-k 4 --iter 30 --init random --seed 1")
    decompose(dir .. "/u", AMEN, "-k 4 --iter 30 --init random --seed 1 --no-sort")
    local s, u = tessera.nmf.load(dir .. "/s"), tessera.nmf.load(dir .. "/u")
    local _, centroid = tessera.core.nmf.describe(s.W, s.H)
    local W = s.W:totable()
    for j = 1, 4 do
      local sum = 0
      for i = 1, s.n do sum = sum + W[i][j] end
      assert.near(1, sum, 1e-5)
      if j > 1 then assert.is_true(centroid[j - 1] <= centroid[j]) end
    end
    -- the same model, W H to float rounding
    assert.is_true(max_diff(s:reconstruct(), u:reconstruct()) < 1e-3 * u:reconstruct():max())
    -- --no-sort is the fit as tessera.nmf gives it
    local a = tessera.audio.load(AMEN, { sr = 22050, quality = "poly" })
    local m = tessera.nmf(tessera.stft(a), { k = 4, max_iter = 30, init = "random", seed = 1,
                                             tol_rule = "last", progress = false })
    assert.equal(0, max_diff(m.W, u.W))
    local uc = select(2, tessera.core.nmf.describe(u.W, u.H))
    local sorted = true
    for j = 2, 4 do sorted = sorted and uc[j - 1] <= uc[j] end
    assert.is_false(sorted) -- else this file would not show the difference
  end)

  it("records the source file, its SHA-256 and the spectrogram in model.json", function()
    os.execute(fmt("cp %s %s/amen.flac", q(AMEN), q(dir)))
    -- a relative path is recorded as the absolute one
    local _, err, code = tsr("decompose amen.flac -o m -k 2 --iter 5 --n-fft 1024 --hop 256 "
      .. "--sr 16000", dir)
    assert.equal(0, code, err)
    local info = model_json(dir .. "/m")
    local sha = helpers.run("sha256sum " .. q(AMEN)):match("^(%x+)")
    assert.same({ file = require("luv").fs_realpath(dir .. "/amen.flac"), sha256 = sha }, info.source)
    assert.same({ sr = 16000, n_fft = 1024, hop = 256, window = "hann" }, info.spectrogram)
    assert.same(info.source, tessera.nmf.load(dir .. "/m").source)
  end)

  it("has the default loss of tessera.nmf", function()
    decompose(dir .. "/l", AMEN, "-k 2 --iter 5")
    local V = tessera.stft(tessera.audio.load(AMEN, { duration = 0.5 })):magnitude()
    local api = tessera.nmf(V, { k = 2, max_iter = 5 }).options.loss
    assert.equal("euclidean", api)
    assert.equal(api, model_json(dir .. "/l").options.loss)
  end)

  it("names the option and the value it refuses", function()
    local cases = {
      { "-k -3", "-k must be a positive integer, got -3" },
      { "-k 0", "-k must be a positive integer, got 0" },
      { "-k x", "-k must be a positive integer, got 'x'" },
      { "--iter 0", "--iter must be a positive integer, got 0" },
      { "--seed -1", "--seed must be an integer >= 0, got -1" },
      { "--tol -1", "--tol must be a number >= 0, got -1" },
      { "--tol=-0.5", "--tol must be a number >= 0, got -0.5" },
      { "--tol -0.5", "--tol must be a number >= 0, got -0.5" },
      { "--offset -1", "--offset must be a number >= 0, got -1" },
      { "--duration 0", "--duration must be a number > 0, got 0" },
      { "--loss l1", "--loss must be one of euclidean, is, kl, got 'l1'" },
      { "--init svd", "--init: invalid init 'svd'; expected one of: random, uniform, nndsvd, "
        .. "nndsvda, nndsvdar, custom" },
      { "--order hw", "--order: invalid order 'hw'; expected one of: HW, WH, simultaneous; did you mean 'HW'?" },
      { "--solver newton", "--solver: invalid solver 'newton'; expected one of: mu, cd" },
      { "--solver cd --loss kl", "--solver: solver 'cd' needs the euclidean loss, got 'kl'" },
      { "--resample good", "--resample must be one of best, fast, medium, poly, got 'good'" },
      { "--hop 4096", "--hop must be <= --n-fft (2048), got 4096" },
    }
    for _, case in ipairs(cases) do
      local out, err, code = tsr(fmt("decompose %s -o %s %s", q(AMEN), q(dir .. "/e"), case[1]))
      assert.equal("", out)
      assert.equal("tessera: decompose: " .. case[2] .. "\n", err)
      assert.equal(1, code)
    end
    assert.is_false(helpers.exists(dir .. "/e")) -- refused before the output folder is made
  end)

  it("draws a bar with an ETA on a terminal while it fits and while it writes the files", function()
    local long = dir .. "/long.wav"
    assert(os.execute(fmt("%s -e %s", q(BIN), q(fmt([[
      local t = require "tessera"
      t.audio.load(%q, { sr = 22050 }):tile(22050 * 120):save(%q)]], AMEN, long)))))
    -- script(1) runs it on a pseudo-terminal, which takes stdout and stderr alike
    local out = helpers.run(fmt("script -qec %s /dev/null", q(fmt("%s decompose %s -k 8 --loss kl --iter 1500 "
      .. "--tol 0 -o %s", q(BIN), q(long), q(dir .. "/p")))))
    assert.matches("%[#+%.*%] %d+/1500 iterations  ETA %d+s  loss %d", out)
    assert.matches("%[#+%] %d/9 WAV files written  ETA %d+s", out)
    assert.matches("%[########################%] 9/9 WAV files written  ETA 0s", out)
  end)
end)

describe("tessera.batch.progress.steps()", function()
  it("draws from the first step a second after the start, with the ETA of the steps left", function()
    local progress = require "tessera.batch.progress"
    local t, lines = 0, {}
    local log = { write = function(_, ...) lines[#lines + 1] = table.concat({ ... }) end,
                  flush = function() end }
    local bar = progress.steps(4, "files", { log = log, now = function() return t end })
    t = 0.5
    bar:step()
    assert.same({}, lines) -- quicker than a second: nothing yet
    t = 2
    bar:step()
    assert.equal("\r[############............] 2/4 files  ETA 2s\27[K", lines[1])
    t = 3
    bar:step()
    assert.equal("\r[##################......] 3/4 files  ETA 1s\27[K", lines[2])
    bar:finish()
    assert.equal("\n", lines[3])
    bar:update(4, "loss 12")
    assert.equal("\r[########################] 4/4 files  ETA 0s  loss 12\27[K", lines[4])
    bar:clear()
    assert.equal("\r\27[K", lines[5])
    lines = {}
    local quiet = progress.steps(2, "files", { log = log, now = function() return 0 end })
    quiet:step()
    quiet:finish()
    quiet:clear()
    assert.same({}, lines)
  end)
end)

describe("tessera batch", function()
  local dir
  before_each(function() dir = helpers.tmpdir() end)
  after_each(function() helpers.rmtree(dir) end)

  it("runs one input in one worker with every core", function()
    os.execute(fmt("mkdir -p %s/in && cp %s %s/in/", q(dir), q(AMEN), q(dir)))
    local cores = require("luv").available_parallelism()
    local _, err, code = tsr(fmt("batch %s -o %s -k 2 --iter 5 --progress none", q(dir .. "/in"),
      q(dir .. "/out")))
    assert.equal(0, code, err)
    assert.matches(fmt("%%(1 worker x %d thread%s%%)", cores, cores == 1 and "" or "s"), err)
  end)

  it("words a bad -k as decompose does", function()
    for _, k in ipairs { "0", "-3" } do
      local _, err, code = tsr(fmt("batch %s -o %s -k %s", q(dir), q(dir .. "/out"), k))
      assert.equal(1, code)
      assert.equal(fmt("tessera: batch: -k must be a positive integer, got %s\n", k), err)
      local _, err2 = tsr(fmt("decompose %s -o %s -k %s", q(AMEN), q(dir .. "/out"), k))
      assert.equal(err:gsub("batch", "decompose"), err2)
    end
  end)
end)
