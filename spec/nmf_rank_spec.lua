-- tessera.nmf.rank and `tessera rank`: masked cross-validation and stability find the rank
-- of matrices whose rank is known, the evidence is consistent with itself, and bad options
-- are refused.
local tessera = require "tessera"
local helpers = require "helpers"

local matrix = tessera.matrix

local random_matrix = helpers.random_matrix

-- A non-negative matrix of rank r (sparse factors, so NMF's solution is unique) plus noise.
local function low_rank(n, p, r, seed, noise)
  math.randomseed(seed)
  local W, H = {}, {}
  for i = 1, n do
    W[i] = {}
    for a = 1, r do W[i][a] = math.random() < 0.4 and math.random() or 0 end
  end
  for a = 1, r do
    H[a] = {}
    for j = 1, p do H[a][j] = math.random() < 0.4 and math.random() or 0 end
  end
  local V = matrix.from(W) * matrix.from(H)
  local N = random_matrix(n, p, seed + 1):scale(noise)
  return V + N
end

describe("tessera.nmf.rank", function()
  for _, case in ipairs {
    { r = 3, loss = "euclidean" }, { r = 5, loss = "kl" }, { r = 4, loss = "euclidean", solver = "cd" },
  } do
    it(("suggests the rank of a rank-%d matrix plus noise (%s%s)"):format(case.r, case.loss,
      case.solver and ", cd" or ""), function()
      local V = low_rank(60, 80, case.r, 10 * case.r, 0.01)
      local r = tessera.nmf.rank(V, { ks = { 1, 2, 3, 4, 5, 6, 7, 8 }, loss = case.loss,
        solver = case.solver, max_iter = 400 })
      assert.equal(case.r, r.suggested, r.reason)
      -- the evidence agrees with itself: each row's error is its folds' mean, the flags
      -- follow the weakest pair, and the suggestion is the smallest k with 90% of the fall
      local lowest = math.huge
      for _, row in ipairs(r.rows) do
        lowest = math.min(lowest, row.heldout)
        local mean = 0
        for _, x in ipairs(row.folds) do mean = mean + x end
        assert.near(mean / #row.folds, row.heldout, 1e-12 * row.heldout)
        assert.equal(row.weakest >= 0.9, row.stable)
      end
      local chosen = r.rows[r.suggested]
      local fall = r.rows[1].heldout - lowest
      assert.is_true(r.rows[1].heldout - chosen.heldout >= 0.9 * fall)
      for k = 1, r.suggested - 1 do assert.is_true(r.rows[1].heldout - r.rows[k].heldout < 0.9 * fall) end
      assert.is_true(chosen.stable)
      assert.is_true(r.rows[1].heldout > 2 * chosen.heldout) -- too few components predict badly
      assert.matches("k = " .. r.suggested, r.reason, 1, true)
    end)
  end

  -- The issue's measure: ten mixtures of N = 2..6 real one-shots (tessera.mixture, each
  -- sound on a rhythm of its own), N +- 1 in at least 8 of 10.
  it("suggests N +- 1 on at least 8 of 10 known mixtures of N real sounds", function()
    local pool = { "drum_bass_hard", "drum_snare_hard", "drum_cymbal_closed", "bass_hit_c",
      "elec_bell", "perc_bell", "elec_blip", "drum_tom_lo_hard", "tabla_na", "elec_ping",
      "ambi_choir", "guit_em9" }
    local patterns = { "x.......x.......", "....x.......x...", "..x...x...x...x.",
      "x.....x.........", "........x.......", "..........x.....", "...x.......x....",
      "......x.........", ".x.......x......", ".....x........x." }
    local hits, seen = 0, {}
    for i, N in ipairs { 2, 2, 3, 3, 4, 4, 5, 5, 6, 6 } do
      local offset = N * 7 + (i % 2) * 5
      local stems = {}
      for s = 1, N do
        local name = pool[(s + offset - 1) % #pool + 1]
        stems[s] = { name = name, file = helpers.samples .. "/" .. name .. ".flac",
          pattern = patterns[(s + offset * 3 - 1) % #patterns + 1] }
      end
      local mix = tessera.mixture { sr = 22050, duration = 4, bpm = 120, stems = stems }
      local V = tessera.stft(mix.mix, { n_fft = 1024, hop = 512 }):magnitude()
      local r = tessera.nmf.rank(V, { ks = { 2, 3, 4, 5, 6, 7, 8 }, seeds = 2 })
      if math.abs(r.suggested - N) <= 1 then hits = hits + 1 end
      seen[#seen + 1] = ("N = %d: %d"):format(N, r.suggested)
    end
    assert.is_true(hits >= 8, table.concat(seen, ", "))
  end)

  it("is the same for the same seed and reports its options", function()
    local V = low_rank(30, 40, 2, 5, 0.01)
    local a = tessera.nmf.rank(V, { ks = { 1, 2, 3 }, seed = 7 })
    local b = tessera.nmf.rank(V, { ks = { 3, 1, 2 }, seed = 7 })
    assert.same(a.rows, b.rows)
    assert.same({ 1, 2, 3 }, a.ks)
    assert.equal(3, a.options.folds)
    assert.equal(0.1, a.options.holdout)
    assert.equal("euclidean", a.options.loss)
    local calls = 0
    tessera.nmf.rank(V, { ks = { 1, 2 }, folds = 2, seeds = 2, on_progress = function(done, total)
      calls = calls + 1
      assert.equal(8, total)
      assert.equal(calls, done)
    end })
    assert.equal(8, calls)
  end)

  it("takes a Spectrogram of real music and explains both criteria", function()
    local a = tessera.audio.load(helpers.samples .. "/loop_amen.flac", { sr = 22050, duration = 1 })
    local S = tessera.stft(a, { n_fft = 1024, hop = 256 })
    local r = tessera.nmf.rank(S, { ks = { 1, 2, 3 }, max_iter = 50 })
    assert.equal(3, #r.rows)
    assert.matches("held%-out error falls from [%d.e+-]+ per entry at k = 1 to", r.criteria.cv)
    assert.matches("fits from 3 random starts pair up", r.criteria.stability, 1, true)
  end)

  it("refuses bad options, naming them", function()
    local V = random_matrix(10, 12, 1)
    local function refused(opts, expected)
      assert.equal(expected, helpers.error_message(tessera.nmf.rank, V, opts))
    end
    refused({ ks = {} }, "bad argument #2 to 'rank' (ks must be a non-empty list of integers)")
    refused({ ks = { 2, 11 } },
      "bad argument #2 to 'rank' (ks[2] must be an integer in 1..10 (the smaller of n and p), got 11)")
    refused({ holdout = 0.7 }, "bad argument #2 to 'rank' (holdout must be in (0, 0.5], got 0.7)")
    refused({ folds = 11 }, "bad argument #2 to 'rank' (folds must be an integer in 1..10, got 11)")
    refused({ seeds = 1 }, "bad argument #2 to 'rank' (seeds must be an integer in 2..100, got 1)")
    refused({ fold = 2 }, "bad argument #2 to 'rank' (unknown option 'fold' (valid: explained, " ..
      "folds, holdout, ks, loss, max_iter, on_progress, seed, seeds, solver, stable_at, tol); did you mean 'folds'?)")
    refused({ explained = 0 }, "bad argument #2 to 'rank' (explained must be in (0, 1], got 0)")
    assert.has_error(function() tessera.nmf.rank("V") end,
      "bad argument #1 to 'rank' (Matrix or Spectrogram expected, got string)")
  end)
end)

describe("tessera rank", function()
  local BIN = helpers.root .. "/bin/tessera"
  local FILE = helpers.samples .. "/loop_amen.flac"

  it("prints a table, a plot and the suggestion, or JSON", function()
    local out, ok = helpers.run(("%s rank %s -k 1..3 --duration 1 --iter 30 2>&1"):format(
      helpers.shell_quote(BIN), helpers.shell_quote(FILE)))
    assert.is_true(ok, out)
    assert.matches("held%-out error %(low is good%)", out)
    assert.matches("\n   2  ", out)
    assert.matches("<%- suggested", out)
    assert.matches("\nsuggested k = %d: ", out)
    local text = helpers.run(("%s rank %s -k 1,3 --duration 1 --iter 30 --json"):format(
      helpers.shell_quote(BIN), helpers.shell_quote(FILE)))
    local r = require("cjson").decode(text)
    assert.same({ 1, 3 }, r.ks)
    assert.equal(2, #r.rows)
    assert.is_number(r.suggested)
  end)

  it("refuses a bad list of ks", function()
    local out, ok = helpers.run(("%s rank %s -k 2..x 2>&1"):format(helpers.shell_quote(BIN),
      helpers.shell_quote(FILE)))
    assert.is_falsy(ok)
    assert.equal("tessera: rank: -k expects a list like 2..12 or 2,3,4,6, got '2..x'\n", out)
  end)
end)
