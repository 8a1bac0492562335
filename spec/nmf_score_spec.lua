-- Score-informed starts (lua/tessera/nmf_score.lua): allowed_H, W_start, allowed_from_onsets,
-- templates, and their recipe keys and decompose flags.
local helpers = require "helpers"
local tessera = require "tessera"

local SAMPLES = helpers.samples .. "/"
local KICK, SNARE, HAT = SAMPLES .. "drum_bass_hard.flac", SAMPLES .. "drum_snare_hard.flac",
  SAMPLES .. "drum_cymbal_closed.flac"

local message = helpers.error_message

-- A 0/1 mask with a few zeros in every row and at least one 1 in every column.
local function mask(k, p, seed)
  local t = helpers.random_matrix(k, p, seed):totable()
  for j = 1, p do
    for i = 1, k do t[i][j] = t[i][j] > 0.5 and 1 or 0 end
    t[(j % k) + 1][j] = 1
  end
  return tessera.matrix.from(t), t
end

-- The known mixture: kick, snare and hat one-shots, each sound in its own place in time.
local mix = tessera.mixture {
  sr = 22050, duration = 4, seed = 1,
  stems = {
    { name = "kick", file = KICK, every = 1 },
    { name = "snare", file = SNARE, every = 1, offset = 0.5 },
    { name = "hat", file = HAT, every = 0.5, offset = 0.25 },
  },
}
local S = tessera.stft(mix.mix)
local V = S:magnitude()
local n, p = V:shape()
-- how long each one-shot sounds (seconds): the part of the timeline its component may own
local LENGTHS = { 0.7, 0.45, 0.21 }

-- Mean SI-SDR (dB) of the components' Wiener audio against the stems: component i against
-- stem i, or (best = true) the pairing that gives the highest total (Hungarian).
local function separation(m, best)
  local sdr = {}
  for i = 1, 3 do
    local est = m:audio(i, S, { method = "wiener" })
    sdr[i] = {}
    for s = 1, 3 do sdr[i][s] = tessera.eval.si_sdr(est, mix.stems[s].audio) end
  end
  local pairing = { 1, 2, 3 }
  if best then
    local cost = {}
    for i = 1, 3 do
      cost[i] = {}
      for s = 1, 3 do cost[i][s] = -sdr[i][s] end
    end
    pairing = require("tessera.assign").hungarian(cost, 3)
  end
  local total = 0
  for i = 1, 3 do total = total + sdr[i][pairing[i]] end
  return total / 3
end

describe("tessera.nmf score-informed starts", function()
  describe("allowed_H", function()
    for _, loss in ipairs { "euclidean", "kl", "is", 0.5 } do
      for _, order in ipairs { "HW", "WH" } do
        it("keeps its zeros exactly zero (loss " .. tostring(loss) .. ", order " .. order .. ")", function()
          local X = helpers.random_matrix(20, 30, 1, 0.1)
          local A, t = mask(3, 30, 2)
          local m = tessera.nmf(X, { k = 3, loss = loss, order = order, allowed_H = A, max_iter = 100 })
          local H = m.H:totable()
          local zeros = 0
          for i = 1, 3 do
            for j = 1, 30 do
              if t[i][j] == 0 then
                assert.equal(0, H[i][j])
                zeros = zeros + 1
              else
                assert.is_true(H[i][j] == H[i][j])
              end
            end
          end
          assert.is_true(zeros > 10)
          assert.same({ init = "nndsvda", allowed_H = true }, m.options.score)
        end)
      end
    end

    it("starts from the usual start times the mask (same seed and init)", function()
      local X = helpers.random_matrix(20, 30, 3)
      local A = mask(3, 30, 4)
      local plain = tessera.nmf(X, { k = 3, init = "random", seed = 5, max_iter = 0 })
      local masked = tessera.nmf(X, { k = 3, init = "random", seed = 5, max_iter = 0, allowed_H = A })
      assert.same(plain.W:totable(), masked.W:totable())
      assert.same(plain.H:hadamard(A):totable(), masked.H:totable())
      assert.equal("random", masked.options.score.init)
    end)

    it("keeps a component silent outside the frames its onsets allow", function()
      local A = tessera.nmf.allowed_from_onsets(mix, { p = p, after = LENGTHS })
      local m = tessera.nmf(V, { k = 3, loss = "kl", allowed_H = A })
      local H, a = m.H:totable(), A:totable()
      local outside = 0
      for i = 1, 3 do
        for j = 1, p do
          if a[i][j] == 0 then
            outside = outside + 1
            assert.equal(0, H[i][j])
          end
        end
      end
      assert.equal(153, outside) -- of 3 x 173 entries: the mask does say something
    end)
  end)

  describe("allowed_from_onsets()", function()
    it("maps onsets to centred frames whose window overlaps [onset - before, onset + after]", function()
      -- hop 10, n_fft 20 at 100 Hz: frame j is centred at (j - 1) / 10 s, sees 0.1 s either side
      local A = tessera.nmf.allowed_from_onsets({ { 0.5 } }, { p = 12, k = 2, sr = 100, hop = 10,
        n_fft = 20, before = 0, after = 0.2 })
      local t = A:totable()
      -- window [c - 0.1, c + 0.1] overlaps [0.5, 0.7]: c in [0.4, 0.8], frames 5..9
      assert.same({ 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0 }, t[1])
      for j = 1, 12 do assert.equal(1, t[2][j]) end -- no list: allowed everywhere
    end)

    it("takes a mixture's stems, lists of {time =} and per-list before and after", function()
      local a = tessera.nmf.allowed_from_onsets(mix, { p = p, after = LENGTHS }):totable()
      local lists = {}
      for i, stem in ipairs(mix.stems) do
        lists[i] = {}
        for j, o in ipairs(stem.onsets) do lists[i][j] = o.time end
      end
      assert.same(a, tessera.nmf.allowed_from_onsets(lists, { p = p, after = LENGTHS }):totable())
    end)
  end)

  describe("templates()", function()
    it("is a file's mean magnitude spectrum, of unit L2 norm", function()
      local T = tessera.nmf.templates({ KICK })
      local a = tessera.audio.load(KICK, { sr = 22050, mono = true })
      local M = tessera.stft(a):magnitude():totable()
      local mean, norm = {}, 0
      for i = 1, #M do
        local sum = 0
        for j = 1, #M[i] do sum = sum + M[i][j] end
        mean[i] = sum / #M[i]
        norm = norm + mean[i] * mean[i]
      end
      norm = math.sqrt(norm)
      local t = T:totable()
      assert.equal(#M, #t)
      for i = 1, #M do assert.near(mean[i] / norm, t[i][1], 1e-5) end
    end)

    it("is the W of the file's own rank-1 fit with method rank1", function()
      local T = tessera.nmf.templates({ HAT }, { method = "rank1" })
      local a = tessera.audio.load(HAT, { sr = 22050, mono = true })
      local m = tessera.nmf(tessera.stft(a):magnitude(), { k = 1, seed = 0 }):normalize()
      local t, w = T:totable(), m.W:totable()
      for i = 1, #w do assert.near(w[i][1], t[i][1], 1e-6) end
    end)

    it("start W's first columns, scaled to the usual start's, the rest as usual", function()
      local T = tessera.nmf.templates({ KICK, SNARE })
      local plain = tessera.nmf(V, { k = 4, max_iter = 0 })
      local m = tessera.nmf(V, { k = 4, max_iter = 0, W_start = T })
      local w0, w, t = plain.W:totable(), m.W:totable(), T:totable()
      for j = 1, 2 do
        local norm = 0
        for i = 1, n do norm = norm + w0[i][j] ^ 2 end
        norm = math.sqrt(norm)
        for i = 1, n, 50 do assert.near(t[i][j] * norm, w[i][j], 1e-4 * norm) end
      end
      for i = 1, n do
        assert.equal(w0[i][3], w[i][3])
        assert.equal(w0[i][4], w[i][4])
      end
      assert.same(plain.H:totable(), m.H:totable())
      assert.same({ init = "nndsvda", allowed_H = false, W_start = 2 }, m.options.score)
    end)
  end)

  describe("separation of a known mixture (SI-SDR of Wiener audio against the stems)", function()
    it("improves with H from the stems' onset lists", function()
      -- measured: 13.1 dB uninformed (best pairing), 20.4 dB informed (component i = stem i)
      local plain = separation(tessera.nmf(V, { k = 3, loss = "kl", init = "random" }), true)
      local A = tessera.nmf.allowed_from_onsets(mix, { p = p, after = LENGTHS })
      local informed = separation(tessera.nmf(V, { k = 3, loss = "kl", init = "random", allowed_H = A }))
      assert.is_true(informed > plain + 5, string.format("%.2f vs %.2f dB", informed, plain))
    end)

    it("improves with the one-shots' templates as the start of W", function()
      -- measured: 12.0 dB uninformed (best pairing), 18.9 dB from the templates (Itakura-Saito)
      local plain = separation(tessera.nmf(V, { k = 3, loss = "is", init = "random" }), true)
      local T = tessera.nmf.templates({ KICK, SNARE, HAT })
      local informed = separation(tessera.nmf(V, { k = 3, loss = "is", init = "random", W_start = T }))
      assert.is_true(informed > plain + 4, string.format("%.2f vs %.2f dB", informed, plain))
    end)
  end)

  describe("end to end", function()
    local tmp
    before_each(function() tmp = helpers.tmpdir() end)
    after_each(function() helpers.rmtree(tmp) end)

    local function short_mix()
      local m = tessera.mixture { sr = 22050, duration = 2, seed = 1, stems = {
        { name = "kick", file = KICK, every = 1 },
        { name = "hat", file = HAT, every = 0.5, offset = 0.25 } } }
      tessera.mixture.write(m, tmp .. "/mix")
      return m
    end

    it("decompose takes --template and --onsets", function()
      short_mix()
      local bin = helpers.root .. "/bin/tessera"
      local q = helpers.shell_quote
      local out, ok = helpers.run(table.concat({ q(bin), "decompose", q(tmp .. "/mix/mix.wav"),
        "-o", q(tmp .. "/out"), "-k", "3", "--template", q(KICK), "--onsets",
        q(tmp .. "/mix/onsets/kick.csv"), "--onsets", q(tmp .. "/mix/onsets/hat.csv"),
        "--onset-after", "0.7", "2>&1" }, " "))
      assert.is_true(ok, out)
      local m = tessera.nmf.load(tmp .. "/out")
      assert.equal("nndsvda", m.options.score.init)
      assert.is_true(m.options.score.allowed_H)
      assert.equal(1, math.tointeger(m.options.score.W_start))
      local A = tessera.nmf.allowed_from_onsets(
        { tessera.nmf.read_onsets(tmp .. "/mix/onsets/kick.csv"),
          tessera.nmf.read_onsets(tmp .. "/mix/onsets/hat.csv") },
        { p = m.p, k = 3, after = 0.7 }):totable()
      local H = m.H:totable()
      for i = 1, 2 do
        for j = 1, m.p do if A[i][j] == 0 then assert.equal(0, H[i][j]) end end
      end
      out, ok = helpers.run(table.concat({ q(bin), "decompose", q(tmp .. "/mix/mix.wav"), "-o",
        q(tmp .. "/out"), "--template", q(tmp .. "/none.wav"), "2>&1" }, " "))
      assert.is_falsy(ok)
      assert.equal("tessera: tessera.nmf.templates: cannot open '" .. tmp .. "/none.wav': No such "
        .. "file or directory\n", out)
    end)

    it("a recipe's source takes templates and onsets", function()
      short_mix()
      helpers.write_file(tmp .. "/mix/r.lua", [[
return {
  duration = 2,
  sources = {
    drums = { file = "mix.wav", k = 3, loss = "kl", templates = { "]] .. KICK .. [[" },
              onsets = { { 0, 1 }, { 0.25, 0.75, 1.25, 1.75 } }, onset_after = { 0.7, 0.21 } },
  },
  layers = { { W = "drums:1" } },
}]])
      local summary = tessera.mosaic.render(tmp .. "/mix/r.lua", { out = tmp .. "/r.wav" })
      assert.is_truthy(summary)
      assert.is_true(helpers.exists(tmp .. "/r.wav"))
      helpers.write_file(tmp .. "/mix/bad.lua", [[
return { sources = { d = { file = "mix.wav", k = 2, templates = { "/etc/passwd" } } },
         layers = { { W = "d:1" } } }]])
      assert.equal("tessera.mosaic: " .. tmp .. "/mix/bad.lua: source 'd': key 'templates': "
        .. "'/etc/passwd' is outside the folders a recipe may read (its own, " .. helpers.samples
        .. " and those given with --allow)",
        message(function() return tessera.mosaic.render(tmp .. "/mix/bad.lua", { out = tmp .. "/b.wav" }) end))
    end)
  end)
  it("reads a recipe source's allowed regions from a file (allowed_H = 'mask.npy')", function()
    local dir = helpers.tmpdir()
    local restore = helpers.use_cache(dir)
    finally(function() restore(); helpers.rmtree(dir) end) -- busted keeps one finally per test
    local amen = SAMPLES .. "loop_amen.flac"
    local frames = select(2, tessera.stft(tessera.audio.load(amen, { sr = 22050, mono = true })):shape())
    local rows = {}
    for j = 1, frames do rows[1] = rows[1] or {}; rows[1][j] = j <= frames // 2 and 0 or 1 end
    tessera.matrix.from(rows):save(dir .. "/mask.npy")
    local function sources(extra)
      local src = { file = amen, k = 3, max_iter = 20, loss = "kl", allowed_H = dir .. "/mask.npy" }
      for key, v in pairs(extra or {}) do src[key] = v end
      return helpers.recipe_sources({ sources = { a = src }, layers = { { W = "a:1" } } }, dir)
    end
    local m = sources():model("a")
    local h = m.H:totable()
    for j = 1, frames // 2 do assert.equal(0, h[1][j]) end
    local later = 0
    for j = frames // 2 + 1, frames do later = later + h[1][j] end
    assert.is_true(later > 0)
    local function refused(extra, expected, build)
      local ok, err = pcall(function()
        local built = sources(extra)
        if build then return built:model("a") end
      end)
      assert.is_false(ok)
      assert.matches(expected, tostring(err), 1, true)
    end
    refused({ solver = "cd", loss = "euclidean" }, "key 'allowed_H' needs solver 'mu'")
    refused({ onsets = { { 0 } } }, "keys 'onsets' and 'allowed_H' cannot both be given")
    refused({ allowed_H = dir .. "/mask.txt" }, "key 'allowed_H': '" .. dir .. "/mask.txt' must end in .npy or .csv")
    refused({ duration = 1 }, ("key 'allowed_H': the file holds 1 x %d, expected m x 44"):format(frames), true)
  end)
end)
