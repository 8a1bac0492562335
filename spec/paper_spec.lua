-- Specs for examples/paper.lua (make demo): the report of the study's reproduction is
-- complete, opens in a real browser with every picture and player working, and a second
-- run takes every decomposition from the cache.
local helpers = require "helpers"

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
                              "loss-curves.png", "study-code-loss.png", "mosaic-spectrogram.png" }) do
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

  it("opens in headless Chromium with every image decoded and every audio playable", function()
    local result, why = helpers.browser_selfcheck(dir .. "/index.html")
    assert.truthy(result, "the page's self-check did not run: " .. tostring(why))
    assert.equal(9, #result.images)
    for _, img in ipairs(result.images) do assert.is_true(img.width > 0, img.src) end
    assert.equal(33, #result.audio)
    for _, a in ipairs(result.audio) do assert.near(10, a.duration, 0.01, a.src) end
  end)

  it("takes every decomposition from the cache the second time", function()
    local lines = run_paper(dir, cache_dir)
    assert.truthy(lines[#lines - 1]:match("^0 decompositions computed, 12 from the cache"), lines[#lines - 1])
  end)
end)
