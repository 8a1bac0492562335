-- tessera.compare: the grid, the grouping of components into stems, the scores against a
-- direct recomputation, the files (CSV, JSON, report) and every bad input.
local helpers = require "helpers"
local tessera = require "tessera"
local compare = require "tessera.compare"
local group = require "tessera.compare.group"
local cache = require "tessera.cache"
local json = require "tessera.json"

local S = helpers.samples .. "/"
local huge = math.huge

local function message(fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected an error")
  return (tostring(err):gsub("^[^:\n]+%.lua:%d+: ", ""))
end

-- Kick and hi-hat: an easy mixture. Drums: four stems.
local function two_stems()
  return tessera.mixture { duration = 3, sr = 22050, seed = 1, bpm = 120, stems = {
    { name = "kick", file = S .. "drum_bass_hard.flac", pattern = "x...x...|x.x.x..." },
    { name = "hat", file = S .. "drum_cymbal_closed.flac", every = 0.25, offset = 0.125, gain = 0.5 },
  } }
end
local function four_stems()
  return tessera.mixture { duration = 3, sr = 22050, seed = 2, bpm = 120, stems = {
    { name = "kick", file = S .. "drum_bass_hard.flac", pattern = "x...x...|x.x.x..." },
    { name = "snare", file = S .. "drum_snare_hard.flac", pattern = "....x.......x..." },
    { name = "hat", file = S .. "drum_cymbal_closed.flac", every = 0.25, offset = 0.125, gain = 0.5 },
    { name = "bass", file = S .. "bass_hit_c.flac", pattern = "x.......x..x...." },
  } }
end

describe("tessera.compare", function()
  local tmp
  setup(function()
    tmp = helpers.tmpdir()
    cache.root = tmp .. "/cache"
  end)
  teardown(function()
    cache.root = nil
    helpers.rmtree(tmp)
  end)

  describe("compare()", function()
    local mix, result
    local GRID = { methods = { "mu-kl", "cd" }, ks = { 2, 5 }, seeds = { 1, 2 }, progress = false }
    setup(function()
      mix = four_stems()
      result = compare(mix, nil, GRID)
    end)

    it("scores every stem of every fit, in grid order", function()
      assert.same({ "kick", "snare", "hat", "bass" }, result.stems)
      assert.equal(2 * 2 * 2 * 4, #result.rows)
      local i = 0
      for _, method in ipairs(GRID.methods) do
        for _, k in ipairs(GRID.ks) do
          for _, seed in ipairs(GRID.seeds) do
            local used = {}
            for j, stem in ipairs(result.stems) do
              i = i + 1
              local r = result.rows[i]
              assert.same({ method, k, seed, stem, j }, { r.method, r.k, r.seed, r.stem, r.stem_index })
              assert.is_number(r.si_sdr)
              assert.is_true(r.si_sdr == r.si_sdr)
              if #r.components == 0 then assert.equal(-huge, r.si_sdr) end
              for _, c in ipairs(r.components) do
                assert.is_nil(used[c], "component in two stems")
                used[c] = true
              end
            end
            for c = 1, k do assert.is_true(used[c], "component " .. c .. " in no stem") end
          end
        end
      end
    end)

    it("gives every stem a component when k >= the number of stems", function()
      for _, r in ipairs(result.rows) do
        if r.k >= 4 then assert.is_true(#r.components >= 1, r.method .. " k " .. r.k .. " " .. r.stem) end
      end
    end)

    it("has a best row per stem equal to a recomputation from the rows", function()
      for j, stem in ipairs(result.stems) do
        local cells = {}
        for _, r in ipairs(result.rows) do
          if r.stem == stem then
            local key = r.method .. "/" .. r.k
            cells[key] = cells[key] or { method = r.method, k = r.k, v = {} }
            table.insert(cells[key].v, r.si_sdr)
          end
        end
        local best
        for _, method in ipairs(GRID.methods) do
          for _, k in ipairs(GRID.ks) do
            local c = cells[method .. "/" .. k]
            local mean = (c.v[1] + c.v[2]) / 2
            if not best or mean > best.mean then
              best = { method = method, k = k, mean = mean, min = math.min(c.v[1], c.v[2]),
                       max = math.max(c.v[1], c.v[2]) }
              best.std = mean > -huge and math.abs(c.v[1] - c.v[2]) / math.sqrt(2) or nil
            end
          end
        end
        local b = result.best[j]
        assert.equal(stem, b.stem)
        assert.same({ best.method, best.k }, { b.method, b.k })
        assert.near(best.mean, b.mean, 1e-12)
        assert.equal(best.min, b.min)
        assert.equal(best.max, b.max)
        if best.std then assert.near(best.std, b.std, 1e-12) end
        assert.equal(best.max, b.si_sdr)
      end
    end)

    it("writes estimates whose SI-SDR, recomputed by tessera.eval, is the reported one", function()
      local dir = tmp .. "/out"
      compare.write(result, dir)
      for j, b in ipairs(result.best) do
        local est = tessera.audio.load(dir .. "/estimates/" .. b.stem .. ".wav")
        if b.si_sdr > -huge then
          assert.near(b.si_sdr, tessera.eval.si_sdr(est, mix.stems[j].audio), 1e-9)
        else
          assert.equal(0, est:peak())
        end
      end
    end)

    it("writes CSV and JSON that read back as the same numbers", function()
      local dir = tmp .. "/out"
      local doc = json.decode(assert(helpers.read_file(dir .. "/results.json")))
      assert.equal("tessera.compare/1", doc.format)
      assert.equal(#result.rows, #doc.rows)
      local lines = {}
      for line in assert(helpers.read_file(dir .. "/results.csv")):gmatch("([^\r\n]+)") do
        lines[#lines + 1] = line
      end
      assert.equal("method,k,seed,stem,si_sdr,sdr,sir,sar,components,iterations,loss,fit_seconds,cached", lines[1])
      for i, r in ipairs(result.rows) do
        local d = doc.rows[i]
        assert.same({ r.method, r.k, r.seed, r.stem }, { d.method, d.k, d.seed, d.stem })
        assert.equal(r.si_sdr, d.si_sdr == nil and -huge or d.si_sdr)
        assert.same(r.components, d.components)
        local f = {}
        for field in (lines[i + 1] .. ","):gmatch("([^,]*),") do f[#f + 1] = field end
        assert.same({ r.method, tostring(r.k), tostring(r.seed), r.stem }, { f[1], f[2], f[3], f[4] })
        assert.equal(r.si_sdr, f[5] == "-inf" and -huge or tonumber(f[5]))
        assert.equal(table.concat(r.components, " "), f[9])
      end
      for j, b in ipairs(result.best) do
        local d = doc.best[j]
        assert.same({ b.stem, b.method, b.k, b.seed }, { d.stem, d.method, d.k, d.seed })
        assert.equal(b.mean, d.mean == nil and -huge or d.mean)
      end
    end)

    it("writes a report with a heatmap and players per stem", function()
      local html = assert(helpers.read_file(tmp .. "/out/index.html"))
      for _, stem in ipairs(result.stems) do
        assert.is_truthy(html:find('alt="SI-SDR heatmap: ' .. stem .. '"', 1, true), stem)
        assert.is_truthy(helpers.exists(tmp .. "/out/assets/heatmap-" .. stem .. ".png"), stem)
        local b
        for _, x in ipairs(result.best) do if x.stem == stem then b = x end end
        local estimate = ('<div class="label">%s <span class="method">%s, k %d, seed %d</span>')
          :format(stem, b.method, b.k, b.seed)
        assert.is_truthy(html:find(estimate, 1, true), stem)
        assert.is_truthy(html:find('<div class="label">' .. stem .. ' <span class="method">reference</span>',
          1, true), stem)
      end
      local _, players = html:gsub("<audio ", "")
      assert.equal(1 + 2 * #result.stems, players)
    end)

    it("reuses the cached fits: a second run fits nothing and gives the same rows", function()
      local again = compare(mix, nil, GRID)
      assert.equal(0, again.cache.misses)
      assert.is_true(again.cache.hits >= 8)
      for i, r in ipairs(result.rows) do
        assert.equal(r.si_sdr, again.rows[i].si_sdr)
        assert.is_true(again.rows[i].cached)
      end
    end)
    it("hands on_fit each fitted model, the one its rows were scored from", function()
      local calls = {}
      local again = compare(mix, nil, { methods = GRID.methods, ks = GRID.ks, seeds = GRID.seeds,
        progress = false, on_fit = function(done, total, method, k, seed, model)
          calls[#calls + 1] = { done = done, total = total, method = method, k = k, seed = seed, model = model }
        end })
      assert.equal(8, #calls)
      for i, c in ipairs(calls) do
        local row = again.rows[(i - 1) * #again.stems + 1]
        assert.same({ i, 8, row.method, row.k, row.seed }, { c.done, c.total, c.method, c.k, c.seed })
        assert.equal(row.k, select(2, c.model.W:shape()))
        assert.equal(row.k, c.model.k)
        assert.equal(row.loss, c.model.loss)
      end
    end)
  end)

  it("splits the mix: the stems' estimates of one fit add up to the mix", function()
    local mix = four_stems()
    local r = compare(mix, nil, { methods = { "mu-euclidean" }, ks = { 6 }, seeds = { 1 },
                                  progress = false, cache = false })
    local sum = tessera.audio.new(mix.frames, mix.sr)
    for _, b in ipairs(r.best) do sum = sum:mix(r.estimates[b.stem]) end
    local err = sum:mix(mix.mix, -1)
    assert.is_true(err:peak() < 1e-4 * mix.mix:peak(), "peak error " .. err:peak())
  end)

  it("separates an easy mixture: kick and hi-hat well above 0 dB", function()
    local r = compare(two_stems(), nil, { methods = { "mu-kl", "is" }, ks = { 2, 4 }, seeds = { 1, 2 },
                                          progress = false })
    assert.equal("kick", r.best[1].stem)
    assert.is_true(r.best[1].mean > 15, "kick " .. r.best[1].mean)
    assert.is_true(r.best[2].mean > 3, "hat " .. r.best[2].mean)
  end)

  it("gives a stem with no component an all-zero estimate and -inf", function()
    local r = compare(two_stems(), nil, { methods = { "cd" }, ks = { 1 }, seeds = { 1 },
                                          progress = false, cache = false })
    local empty = r.rows[1].si_sdr == -huge and r.rows[1] or r.rows[2]
    assert.equal(-huge, empty.si_sdr)
    assert.same({}, empty.components)
    assert.equal(0, r.estimates[empty.stem]:peak())
    assert.is_nil(r.best[empty.stem_index].std)
  end)

  it("computes BSS Eval scores with bss = true, as tessera.eval.bss does", function()
    local mix = two_stems()
    local r = compare(mix, nil, { methods = { "mu-kl" }, ks = { 2 }, seeds = { 1 }, bss = true,
                                  progress = false })
    local ests = { r.estimates.kick, r.estimates.hat }
    local _, scores = tessera.eval.bss(ests, { mix.stems[1].audio, mix.stems[2].audio })
    for j = 1, 2 do
      assert.near(scores.sdr[j][j], r.rows[j].sdr, 1e-9)
      assert.near(scores.sir[j][j], r.rows[j].sir, 1e-9)
      assert.near(scores.sar[j][j], r.rows[j].sar, 1e-9)
    end
  end)

  describe("group.assign()", function()
    it("gives each stem one component by the Hungarian assignment, then the rest by share", function()
      -- component 1 is mostly stem 1, but 2 is even more so and 3 is stem 2's only good one
      local E = { { 8, 2 }, { 9, 1 }, { 6, 4 } }
      local groups, owner = group.assign(E, 2)
      assert.same({ { 1, 2 }, { 3 } }, groups)
      assert.same({ 1, 1, 2 }, owner)
    end)
    it("leaves stems empty when k is smaller", function()
      local groups = group.assign({ { 1, 5, 2 } }, 3)
      assert.same({ {}, { 1 }, {} }, groups)
    end)
  end)

  describe("bad input", function()
    local a = tessera.audio.from({ 0.5, -0.25, 0.125, 0.2 }, 22050)
    local b = tessera.audio.from({ 0.1, 0.2, -0.3, 0.4 }, 22050)
    local cases = {
      { function() return compare(a, { tessera.audio.from({ 1, 2 }, 22050) }) end,
        "tessera.compare: reference 1 has 2 samples but the mix has 4 (the signals must have the same length)" },
      { function() return compare(a, { b, tessera.audio.from({ 1, 2, 3, 4 }, 44100) }) end,
        "tessera.compare: reference 2 is at 44100 Hz but the mix is at 22050 Hz (resample one of them)" },
      { function() return compare(a, { b, tessera.audio.new(4, 22050) }) end,
        "tessera.compare: reference 2 is silent (every sample is zero)" },
      { function() return compare(a, { b }, { methods = { "cd", "nmf" } }) end,
        "tessera.compare: unknown method 'nmf' (valid: cd, mu-euclidean, mu-kl, is, beta-0.5, study)" },
      { function() return compare(a, { b }, { ks = { 2, 0 } }) end,
        "tessera.compare: ks[2] must be an integer >= 1, got 0" },
      { function() return compare(a, { b }, { ks = { 2, 2.5 } }) end,
        "tessera.compare: ks[2] must be an integer, got 2.5" },
      { function() return compare(a, { b }, { ks = {} }) end,
        "tessera.compare: ks must be a non-empty list of integers, got table" },
      { function() return compare(a, { b }, { k = 4 }) end,
        "tessera.compare: unknown option 'k' (valid: bss, cache, hop, ks, max_iter, methods, n_fft, "
          .. "names, on_fit, progress, seeds, tol)" },
      { function() return compare(a, {}) end, "tessera.compare: the list of references is empty" },
      { function() return compare(tessera.audio.new(4, 22050), { b }) end,
        "tessera.compare: the mix is silent (every sample is zero)" },
      { function() return compare(a, { tmp .. "/none.wav" }) end,
        "tessera.audio.load: cannot open '" .. tmp .. "/none.wav': No such file or directory" },
      { function() return compare(a, { tessera.audio.new(4, 22050, 2) }) end,
        "tessera.compare: reference 1 has 2 channels (mix it down with a:mono())" },
    }
    for i, c in ipairs(cases) do
      it("case " .. i .. ": " .. c[2]:sub(19, 60), function()
        assert.equal(c[2], message(c[1]))
      end)
    end

    it("names the file of a reference given as a path", function()
      local path = tmp .. "/short.wav"
      tessera.audio.from({ 1, 2 }, 22050):save(path)
      assert.equal("tessera.compare: reference 1 ('" .. path .. "') has 2 samples but the mix has 4 "
        .. "(the signals must have the same length)", message(function() return compare(a, { path }) end))
    end)
  end)

  describe("bin/tessera compare", function()
    local bin = helpers.root .. "/bin/tessera"
    it("runs on a `tessera mix` folder and writes the report", function()
      local m = two_stems()
      tessera.mixture.write(m, tmp .. "/mixdir")
      local out = tmp .. "/cli"
      local text, ok = helpers.run(("TESSERA_CACHE_DIR=%s %s compare %s -k 2 --seeds 1 --methods mu-kl -o %s")
        :format(helpers.shell_quote(tmp .. "/cache"), bin, helpers.shell_quote(tmp .. "/mixdir"),
                helpers.shell_quote(out)))
      assert.is_true(ok, text)
      assert.is_truthy(text:find("kick%s+mu%-kl%s+2"), text)
      assert.is_truthy(helpers.exists(out .. "/index.html"))
      assert.is_truthy(helpers.exists(out .. "/results.csv"))
    end)
    it("says what is wrong with one line and status 1", function()
      local text, ok = helpers.run(("%s compare %s --refs %s --methods foo 2>&1"):format(bin,
        S .. "drum_bass_hard.flac", S .. "drum_bass_hard.flac"))
      assert.is_falsy(ok)
      assert.equal("tessera: tessera.compare: unknown method 'foo' (valid: cd, mu-euclidean, mu-kl, is, "
        .. "beta-0.5, study)\n", text)
    end)
  end)
end)
