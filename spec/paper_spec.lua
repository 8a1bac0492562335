-- Specs for examples/paper.lua (make demo): the report of the study's reproduction is
-- complete, opens in a real browser with every picture and player working, says what its
-- figures show with numbers that a recomputation here from the factors it saved agrees
-- with, and a second run takes every decomposition from the cache.
local helpers = require "helpers"
local tessera = require "tessera"

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

local function pearson(x, y)
  local n, mx, my = #x, 0, 0
  for t = 1, n do mx, my = mx + x[t], my + y[t] end
  mx, my = mx / n, my / n
  local sxy, sxx, syy = 0, 0, 0
  for t = 1, n do
    sxy = sxy + (x[t] - mx) * (y[t] - my)
    sxx, syy = sxx + (x[t] - mx) ^ 2, syy + (y[t] - my) ^ 2
  end
  return sxy / math.sqrt(sxx * syy)
end

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
    -- 11 fits: figure 1's k = 4 coordinate descent is the one figures 4 and 5 show.
    assert.truthy(lines[#lines - 1]:match("^11 decompositions computed, 1 from the cache"), lines[#lines - 1])
    local html = helpers.read_file(dir .. "/index.html")
    for _, figure in ipairs({ "figure1-k4-k6.png", "figure2-w-loop-garzul.png", "figure3-h-loop-garzul.png",
                              "figure4-w-loop-amen-full.png", "figure5-h-loop-amen-full.png",
                              "figure1-groups.png", "loss-curves.png", "study-code-loss.svg",
                              "mosaic-spectrogram.png" }) do
      assert.truthy(html:find('src="assets/' .. figure .. '"', 1, true), figure)
    end
    -- 2 originals, 2 clips x 3 methods x (4 components + their sum), 1 mosaic
    local players = select(2, html:gsub("<audio ", ""))
    assert.equal(2 + 2 * 3 * 5 + 1, players)
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

  it("opens in headless Chromium with every image decoded and every audio playable", function()
    local result, why = helpers.browser_selfcheck(dir .. "/index.html")
    assert.truthy(result, "the page's self-check did not run: " .. tostring(why))
    assert.equal(10, #result.images)
    for _, img in ipairs(result.images) do assert.is_true(img.width > 0, img.src) end
    assert.equal(33, #result.audio)
    for _, a in ipairs(result.audio) do assert.near(10, a.duration, 0.01, a.src) end
  end)

  it("takes every decomposition from the cache the second time", function()
    local lines = run_paper(dir, cache_dir)
    assert.truthy(lines[#lines - 1]:match("^0 decompositions computed, 12 from the cache"), lines[#lines - 1])
  end)
end)
