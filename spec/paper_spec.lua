-- Specs for examples/paper.lua (make demo): the report of the study's reproduction is
-- complete, opens in a real browser with every picture and player working, says what its
-- figures show with numbers that a recomputation here from the factors it saved agrees
-- with, and a second run takes every decomposition from the cache.
local helpers = require "helpers"
local tessera = require "tessera"
local compare = require "tessera.compare"
local json = require "tessera.json"

local SR, HOP = 22050, 512
local CLIPS = { "loop_amen_full", "loop_garzul" }
local METHODS = { cd = "Coordinate descent", euclidean = "Euclidean MU", kl = "KL MU" }

local function run_paper(outdir, cache_dir)
  local cmd = string.format("cd %s && TESSERA_CACHE_DIR=%s bin/tessera examples/paper.lua %s %s %s 2>&1",
    helpers.shell_quote(helpers.root), helpers.shell_quote(cache_dir),
    helpers.shell_quote(helpers.samples .. "/loop_amen_full.flac"),
    helpers.shell_quote(helpers.samples .. "/loop_garzul.flac"), helpers.shell_quote(outdir))
  local out, ok = helpers.run(cmd)
  assert(ok, out)
  local lines = {}
  for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
  return lines
end

-- The report's text without tags, entities decoded and spaces collapsed.
local function plain(html)
  local text = html:gsub("<[^>]+>", " "):gsub("&quot;", '"'):gsub("&#39;", "'"):gsub("&lt;", "<")
                   :gsub("&gt;", ">"):gsub("&amp;", "&"):gsub("%s+", " ")
  return text
end

-- The body rows of the first HTML table after `marker` (a piece of its header, e.g.
-- "<th>row</th>"): lists of cell texts.
local function table_rows(html, marker)
  local start = assert(html:find(marker, 1, true), "no table with " .. marker)
  local body = html:match("<tbody>(.-)</tbody>", start)
  local rows = {}
  for tr in body:gmatch("<tr>(.-)</tr>") do
    local row = {}
    for td in tr:gmatch("<td[^>]*>(.-)</td>") do row[#row + 1] = td end
    rows[#rows + 1] = row
  end
  return rows
end

local function factors(dir, name)
  return tessera.nmf.load(dir .. "/factors/" .. name)
end

local pearson = helpers.pearson

local function median(list)
  table.sort(list)
  local n = #list
  return n % 2 == 1 and list[(n + 1) // 2] or (list[n // 2] + list[n // 2 + 1]) / 2
end

describe("examples/paper.lua", function()
  local dir, cache_dir
  setup(function()
    dir, cache_dir = helpers.tmpdir(), helpers.tmpdir()
  end)
  teardown(function()
    helpers.rmtree(dir)
    helpers.rmtree(cache_dir)
  end)

  it("writes a report with every figure and a player for every component", function()
    local lines = run_paper(dir, cache_dir)
    assert.equal(dir .. "/index.html", lines[#lines])
    -- 11 fits (figure 1's k = 4 coordinate descent is the one figures 4 and 5 show) and 24
    -- of the separation grid.
    assert.truthy(lines[#lines - 1]:match("^35 decompositions computed, 1 from the cache"), lines[#lines - 1])
    local html = helpers.read_file(dir .. "/index.html")
    for _, figure in ipairs({ "figure1-k4-k6.png", "figure2-w-loop-garzul.png", "figure3-h-loop-garzul.png",
                              "figure4-w-loop-amen-full.png", "figure5-h-loop-amen-full.png",
                              "figure1-groups.png", "loss-curves.png", "study-code-loss.svg",
                              "mosaic-spectrogram.png", "music-pitch-glide.png", "music-morph.png",
                              "music-pattern.png", "music-stereo-image.png" }) do
      assert.truthy(html:find('src="assets/' .. figure .. '"', 1, true), figure)
    end
    -- 2 originals, 2 clips x 3 methods x (4 components + their sum), 1 mosaic; Making music:
    -- 4 recipes, the MIDI groove and Griffin-Lim from two starts
    local players = select(2, html:gsub("<audio ", ""))
    assert.equal(2 + 2 * 3 * 5 + 1 + 7, players)
    -- The study's simultaneous updates raise the loss often; Lee-Seung's never do.
    for clip in ("loop_amen_full loop_garzul"):gmatch("%S+") do
      local study = html:match("<td>" .. clip
        .. "</td><td>The study&#39;s Euclidean code</td><td class=\"num\">(%d+)</td>")
      local lee = html:match("<td>" .. clip .. "</td><td>Lee%-Seung alternating</td><td class=\"num\">(%d+)</td>")
      assert.is_true(tonumber(study) > 100, clip .. " study code rises: " .. tostring(study))
      assert.equal("0", lee)
    end
  end)

  it("says how many rows repeat every 30 columns, as the saved factors have it", function()
    local html = helpers.read_file(dir .. "/index.html")
    local text = plain(html)
    local near, counted, tolerance = text:match("The study's \"every 30 columns\" holds for (%d+) of (%d+) rows "
      .. "%(within ±(%d+) frames%)")
    assert.truthy(near, "no sentence on 'every 30 columns'")
    assert.equal("2", tolerance)
    -- Every row's period from the saved H, against the table and the count.
    local table_periods = {}
    for _, row in ipairs(table_rows(html, "<th>row</th><th>period (frames)</th>")) do
      table_periods[row[1] .. "/" .. row[2] .. "/" .. row[3]] = row[4]
    end
    local expected_near, rows, beats_near = 0, 0, 0
    for _, clip in ipairs(CLIPS) do
      local count, mode = {}, nil
      for id, name in pairs(METHODS) do
        local m = factors(dir, clip .. "-" .. id)
        for i = 1, m.k do
          local lag = m.H:row(i):max() > 0 and tessera.analysis.period(m.H:row(i), SR, HOP) or nil
          rows = rows + 1
          assert.equal(lag and tostring(lag) or "-", table_periods[clip .. "/" .. name .. "/" .. i],
                       clip .. " " .. id .. " " .. i)
          if lag and math.abs(lag - 30) <= 2 then expected_near = expected_near + 1 end
          if lag then
            count[lag] = (count[lag] or 0) + 1
            if not mode or count[lag] > count[mode] or (count[lag] == count[mode] and lag < mode) then
              mode = lag
            end
          end
        end
        local beat = tessera.analysis.tempo(m.H, SR, HOP).frames
        if math.abs(beat - 30) <= 2 then beats_near = beats_near + 1 end
      end
      assert.truthy(text:find(string.format("in %s, %d of 12 rows repeat every %d frames", clip, count[mode], mode),
                              1, true), clip .. ": the most common period")
    end
    assert.equal(24, rows)
    assert.equal(tostring(rows), counted)
    assert.equal(tostring(expected_near), near)
    assert.truthy(text:find(string.format("and for the beat of %d of the 6 decompositions' tempos", beats_near),
                            1, true))
  end)

  it("draws the study's loss as even and odd iterations, close-ups, and legends clear of the data", function()
    local svg = helpers.read_file(dir .. "/assets/study-code-loss.svg")
    local boxes = helpers.svg_boxes(svg)
    assert.equal(4, #boxes)
    for _, label in ipairs({ "study's code, even iterations", "study's code, odd iterations",
                             "study's code, every iteration", "Lee-Seung (H then W)" }) do
      local at = helpers.svg_text_positions(svg, label)
      assert.is_true(#at >= 2, label .. " appears " .. #at .. " times")
      for _, p in ipairs(at) do
        for _, b in ipairs(boxes) do
          assert.is_false(p.x > b.x1 and p.x < b.x2 and p.y > b.y1 and p.y < b.y2,
                          label .. " is drawn over the data")
        end
      end
    end
    assert.equal(2, #helpers.svg_text_positions(svg, "loop_amen_full, the last 40 iterations")
                    + #helpers.svg_text_positions(svg, "loop_garzul, the last 40 iterations"))
    -- The stated ratio of each odd iteration's loss to the even one's before it.
    local text = plain(helpers.read_file(dir .. "/index.html"))
    local even_stated = {}
    for _, clip in ipairs(CLIPS) do
      local pattern = "multiplies the loss by a median of [^;]-([%d.]+) %(" .. clip:gsub("%p", "%%%0") .. "%)"
      local stated = text:match(pattern)
      assert.truthy(stated, clip .. ": no stated ratio")
      local history, odd, even = factors(dir, clip .. "-study").history, {}, {}
      for i = 2, #history do
        local ratios = history[i].iteration % 2 == 1 and odd or even
        ratios[#ratios + 1] = history[i].loss / history[i - 1].loss
      end
      assert.equal(1000, #history - 1)
      assert.equal(string.format("%.3g", median(odd)), stated)
      -- The even ratios, in the clips' order, after "the even iteration after it by".
      even_stated[#even_stated + 1] = string.format("%.3g", median(even))
    end
    assert.truthy(text:find("and the even iteration after it by " .. table.concat(even_stated, " and "), 1, true),
                  "the even iterations' ratios " .. table.concat(even_stated, ", "))
  end)

  it("compares each k = 4 row with the sum of the k = 6 rows grouped with it", function()
    local html = helpers.read_file(dir .. "/index.html")
    local k4, k6 = factors(dir, "loop_amen_full-cd-k4"), factors(dir, "loop_amen_full-cd-k6")
    local H4, H6, W6 = k4.H:totable(), k6.H:totable(), k6.W:totable()
    local r = {}
    for i = 1, 4 do
      r[i] = {}
      for j = 1, 6 do r[i][j] = pearson(H4[i], H6[j]) end
    end
    -- One-to-one: the best of every injective pairing of the 4 rows with 4 of the 6.
    local best_total, best_pairs = -math.huge, nil
    local function search(i, used, chosen, total)
      if i > 4 then
        if total > best_total then best_total, best_pairs = total, { table.unpack(chosen) } end
        return
      end
      for j = 1, 6 do
        if not used[j] then
          used[j], chosen[i] = true, j
          search(i + 1, used, chosen, total + r[i][j])
          used[j] = nil
        end
      end
    end
    search(1, {}, {}, 0)
    -- Grouped: each k = 6 row to its best-correlated k = 4 row; the members' H weighted by
    -- the L1 norms of their W columns.
    local members = { {}, {}, {}, {} }
    for j = 1, 6 do
      local target = 1
      for i = 2, 4 do if r[i][j] > r[target][j] then target = i end end
      members[target][#members[target] + 1] = j
    end
    local l1 = {}
    for j = 1, 6 do
      l1[j] = 0
      for f = 1, #W6 do l1[j] = l1[j] + W6[f][j] end
    end
    local rows, split = table_rows(html, "<th>k = 4 row</th>"), 0
    assert.equal(4, #rows)
    for i, row in ipairs(rows) do
      assert.equal(tostring(i), row[1])
      assert.equal(tostring(best_pairs[i]), row[2])
      assert.near(r[i][best_pairs[i]], tonumber(row[3]), 1e-3)
      assert.equal(#members[i] > 0 and table.concat(members[i], "+") or "none", row[4])
      if #members[i] > 0 then
        local sum = {}
        for t = 1, k6.p do
          sum[t] = 0
          for _, j in ipairs(members[i]) do sum[t] = sum[t] + l1[j] * H6[j][t] end
        end
        assert.near(pearson(H4[i], sum), tonumber(row[5]), 1e-3)
      end
      if #members[i] >= 2 then split = split + 1 end
    end
    assert.truthy(plain(html):find(
      string.format("Given every k = 6 row, %d of the 4 k = 4 rows take two or more", split), 1, true))
  end)

  it("answers the study's three claims with numbers a recomputation agrees with", function()
    local text = plain(helpers.read_file(dir .. "/index.html"))
    local sep = dir .. "/separation/"
    local results = json.decode(helpers.read_file(sep .. "results.json"))
    local methods, seeds = results.methods, results.seeds
    assert.same({ "cd", "mu-euclidean", "mu-kl", "study" }, methods)
    assert.same({ 4, 6 }, results.ks)
    assert.same({ "kick", "snare", "hat", "bass" }, results.stems)

    -- The rhythm: the median of the first clip's tempos, kick on the beats, hats on eighths.
    local tempos = {}
    for _, row in ipairs(table_rows(helpers.read_file(dir .. "/index.html"), "<th>tempo (BPM)</th>")) do
      if row[1] == CLIPS[1] then tempos[#tempos + 1] = tonumber(row[3]) end
    end
    local bpm = median(tempos)
    assert.truthy(text:find(string.format("%s's tempo is %.2f BPM, the median", CLIPS[1], bpm), 1, true))
    for stem, beats in pairs({ kick = 1, hat = 0.5 }) do
      local times = {}
      for line in helpers.read_file(sep .. "mixture/onsets/" .. stem .. ".csv"):gmatch("\n([%d.e-]+),") do
        times[#times + 1] = tonumber(line)
      end
      assert.is_true(#times >= 8, stem)
      for i = 2, #times do assert.near(beats * 60 / bpm, times[i] - times[i - 1], 1 / SR, stem) end
    end

    -- The best estimates' SI-SDR, from the saved audio.
    for _, b in ipairs(results.best) do
      local est = tessera.audio.load(sep .. "estimates/" .. b.stem .. ".wav")
      local ref = tessera.audio.load(sep .. "mixture/stems/" .. b.stem .. ".wav")
      assert.near(b.si_sdr, tessera.eval.si_sdr(est, ref), 1e-3, b.stem)
    end

    -- Per fit: its stems' scores; statistics over the seeds (std with n - 1).
    local fits = {}
    for _, r in ipairs(results.rows) do
      local key = r.method .. "/" .. r.k .. "/" .. r.seed
      fits[key] = fits[key] or { loss = r.loss, scores = {} }
      fits[key].scores[#fits[key].scores + 1] = r.si_sdr
    end
    local function spread(values)
      local m, ss = 0, 0
      for _, v in ipairs(values) do m = m + v / #values end
      for _, v in ipairs(values) do ss = ss + (v - m) ^ 2 end
      return { mean = m, std = math.sqrt(ss / (#values - 1)) }
    end
    local function per_fit(method, k, f)
      local values = {}
      for i, seed in ipairs(seeds) do values[i] = f(fits[method .. "/" .. k .. "/" .. seed].scores, seed) end
      return spread(values)
    end
    local function apart(a, b) return math.abs(a.mean - b.mean) > math.max(a.std, b.std) end
    local function pm(x, digits)
      local f = "%." .. (digits or 2) .. "f"
      return string.format(f .. " ± " .. f, x.mean, x.std)
    end
    local function verdict(stat, target)
      local above, below = 0, 0
      for _, m in ipairs(methods) do
        if m ~= target and apart(stat[target], stat[m]) then
          if stat[target].mean > stat[m].mean then above = above + 1 else below = below + 1 end
        end
      end
      return below > 0 and "refutes" or above == #methods - 1 and "supports" or "does not decide"
    end

    -- Claim 1: k = 4 against k = 6, mean over stems.
    local mean = function(v) return spread(v).mean end
    local four, six = 0, 0
    for _, m in ipairs(methods) do
      local a, b = per_fit(m, 4, mean), per_fit(m, 6, mean)
      local which = not apart(a, b) and "within the spread" or a.mean > b.mean and "k = 4 better" or "k = 6 better"
      if which == "k = 4 better" then four = four + 1 elseif which == "k = 6 better" then six = six + 1 end
      local stated = string.format("%s %s against %s dB (%s)", m, pm(a), pm(b), which)
      assert.truthy(text:find(stated, 1, true), stated)
    end
    local v1 = four > six and "supports" or six > four and "refutes" or "does not decide"
    assert.truthy(text:find("k = 4 or 6: the comparison " .. v1 .. " the study's choice of k = 4", 1, true), v1)
    assert.truthy(text:find(string.format("k = 4 is better beyond the spread over seeds for %d of the 4 " ..
      "methods, k = 6 for %d.", four, six), 1, true))

    -- Claim 2: coordinate descent's best stem less its worst, at k = 4.
    local uneven, listed = {}, {}
    for _, m in ipairs(methods) do
      uneven[m] = per_fit(m, 4, function(v) return math.max(table.unpack(v)) - math.min(table.unpack(v)) end)
      listed[#listed + 1] = m .. " " .. pm(uneven[m])
    end
    assert.truthy(text:find("musical instruments\": the comparison " .. verdict(uneven, "cd") .. " it.", 1, true))
    assert.truthy(text:find(table.concat(listed, ", ") .. " dB (mean", 1, true), table.concat(listed, ", "))

    -- Claim 3: every k = 4 fit again, from the saved mix with compare's options: the same
    -- loss as the rows', and the entropy of its components' shares of W H, by hand.
    local mix = tessera.audio.load(sep .. "mixture/mix.wav")
    local V = tessera.stft(mix, { n_fft = results.options.n_fft, hop = results.options.hop }):magnitude()
    local presets = {}
    for _, p in ipairs(compare.methods) do presets[p.name] = p.opts end
    local even, shown = {}, {}
    for _, m in ipairs(methods) do
      even[m] = per_fit(m, 4, function(_, seed)
        local opts = { k = 4, seed = seed, max_iter = results.options.max_iter, tol = results.options.tol,
                       progress = false, threads = 1 }
        for key, v in pairs(presets[m]) do opts[key] = v end
        local model = tessera.nmf(V, opts)
        assert.near(fits[m .. "/4/" .. seed].loss, model.loss, 1e-6 * model.loss, m .. " seed " .. seed)
        local W, H, mass, total, e = model.W:totable(), model.H:totable(), {}, 0, 0
        for i = 1, 4 do
          local wl1, hl1 = 0, 0
          for f = 1, #W do wl1 = wl1 + W[f][i] end
          for t = 1, #H[i] do hl1 = hl1 + H[i][t] end
          mass[i] = wl1 * hl1
          total = total + mass[i]
        end
        for i = 1, 4 do
          local share = mass[i] / total
          if share > 0 then e = e - share * math.log(share) end
        end
        return e / math.log(4)
      end)
      shown[#shown + 1] = m .. " " .. pm(even[m], 3)
    end
    assert.truthy(text:find("across components\": the comparison " .. verdict(even, "mu-kl") .. " it.", 1, true))
    assert.truthy(text:find("it is " .. table.concat(shown, ", ") .. ";", 1, true), table.concat(shown, ", "))
  end)

  it("makes music: each recipe heard and measured, MIDI out and in, Griffin-Lim from PGHI", function()
    local text = plain(helpers.read_file(dir .. "/index.html"))
    assert.truthy(text:find("Making music", 1, true))
    local from, to = text:match("The spectral centroid moves from (%d+) Hz in the first tenth to (%d+) Hz")
    assert.is_true(tonumber(to) > 2 * tonumber(from), tostring(from) .. " -> " .. tostring(to))
    assert.truthy(text:find("2 channels at 44100 Hz", 1, true))
    local notes = tonumber(text:match("amen%.mid: %d+ tracks %(tempo, then one per component%), (%d+) notes"))
    assert.is_true(notes and notes > 0, tostring(notes))
    local rows = table_rows(helpers.read_file(dir .. "/index.html"), "<th>after 32 iterations</th>")
    assert.equal("random", rows[1][1])
    assert.equal("pghi", rows[2][1])
    assert.is_true(tonumber(rows[2][3]) < tonumber(rows[1][3]), rows[2][3] .. " vs " .. rows[1][3])
  end)

  it("opens in headless Chromium with every image decoded and every audio playable", function()
    local result, why = helpers.browser_selfcheck(dir .. "/index.html")
    assert.truthy(result, "the page's self-check did not run: " .. tostring(why))
    assert.equal(18, #result.images)
    for _, img in ipairs(result.images) do assert.is_true(img.width > 0, img.src) end
    assert.equal(40, #result.audio)
    -- The study's clips are 10 s; Making music's renders their recipes' lengths.
    local seconds = { ["pitch-glide-"] = 7, ["morph-"] = 8, ["pattern-"] = 7, ["stereo-image-"] = 7,
                      ["groove-"] = 9.6, ["garzul-32-"] = 6 }
    for _, a in ipairs(result.audio) do
      local want = 10
      for prefix, s in pairs(seconds) do
        if a.src:find("assets/" .. prefix, 1, true) then want = s end
      end
      assert.near(want, a.duration, 0.01, a.src)
    end
  end)

  it("takes every decomposition from the cache the second time", function()
    local lines = run_paper(dir, cache_dir)
    assert.truthy(lines[#lines - 1]:match("^0 decompositions computed, 36 from the cache"), lines[#lines - 1])
  end)
end)
