-- Specs for tessera.score: events picked from rows whose peaks are known (impulse trains,
-- clicks and thumps decomposed by NMF), every edit checked against what it promises (on a
-- grid, the strongest n, the Bjorklund patterns of Toussaint's table, reproducible draws),
-- rendering that gives a row back, tempo on real loops whose tempo follows from their
-- length, and score.apply as a recipe will call it.
local tessera = require "tessera"
local helpers = require "helpers"
local score = require "tessera.score"

local matrix = tessera.matrix
local abs, floor, exp = math.abs, math.floor, math.exp
local fmt = string.format
local SR, HOP = 22050, 512

-- Messages asserted below: docs/bad-input.md's SO rows must be among them.
local asserted = {}
local function refuses(fn, msg)
  assert.equal(msg, helpers.error_message(fn))
  asserted[msg] = true
end

-- A row of p frames with a decaying bump of height h at each frame of `peaks` ({frame, h}).
local function bumps(p, peaks, decay)
  local x = {}
  for j = 1, p do x[j] = 0 end
  for _, pk in ipairs(peaks) do
    for d = 0, p do
      local j = pk[1] + d + 1
      if j > p then break end
      x[j] = x[j] + pk[2] * exp(-d / (decay or 2))
    end
  end
  return x
end

local function frames_of(events)
  local t = {}
  for i, e in ipairs(events) do t[i] = e.frame end
  return t
end

local function as_string(pattern)
  local t = {}
  for i, v in ipairs(pattern) do t[i] = v and "x" or "." end
  return table.concat(t)
end

local function deep_copy(t)
  if type(t) ~= "table" then return t end
  local c = {}
  for k, v in pairs(t) do c[k] = deep_copy(v) end
  return c
end

-- A deterministic event list: n events at pseudo-random fractional frames in 0..p.
local function scattered(n, p, seed)
  local u = require("tessera.random").generator(seed, "spec")
  local ev = {}
  for i = 1, n do ev[i] = { frame = u() * p, strength = 0.1 + u(), origin = i } end
  table.sort(ev, function(a, b) return a.frame < b.frame end)
  return ev
end

describe("tessera.score", function()
  describe("events()", function()
    it("finds the peaks of an impulse train with decays, at their frames and heights", function()
      local peaks = {}
      for f = 5, 95, 10 do peaks[#peaks + 1] = { f, 1 + (f % 3) / 4 } end
      local x = bumps(100, peaks)
      local ev = score.events(matrix.from({ x }))
      assert.equal(#peaks, #ev)
      for i, e in ipairs(ev) do
        assert.equal(peaks[i][1], e.frame)
        assert.equal(e.frame, e.origin)
        assert.near(x[peaks[i][1] + 1], e.strength, 1e-6)
      end
      -- a list of numbers works the same as a 1 x p Matrix
      assert.same(frames_of(ev), frames_of(score.events(x)))
    end)

    it("keeps peaks above threshold x the row's top and the absolute strength", function()
      local x = bumps(60, { { 5, 1 }, { 20, 0.3 }, { 35, 0.05 }, { 50, 0.6 } })
      assert.same({ 5, 20, 35, 50 }, frames_of(score.events(x, { threshold = 0 })))
      assert.same({ 5, 20, 50 }, frames_of(score.events(x)))            -- 0.1 of the top
      assert.same({ 5, 50 }, frames_of(score.events(x, { threshold = 0.5 })))
      assert.same({ 5 }, frames_of(score.events(x, { threshold = 0, strength = 0.7 })))
    end)

    it("keeps the stronger of peaks closer than min_gap frames", function()
      local x = { 0, 1, 0, 2, 0, 0, 0, 3, 0, 0, 1, 0 }
      assert.same({ 1, 3, 7, 10 }, frames_of(score.events(x, { min_gap = 2 })))
      assert.same({ 3, 7, 10 }, frames_of(score.events(x, { min_gap = 3 })))
      assert.same({ 3, 7 }, frames_of(score.events(x, { min_gap = 4 })))
      assert.same({ 1, 7 }, frames_of(score.events(x, { min_gap = 5 }))) -- 1 is 6 from 7
      -- of two equal peaks the earlier stays
      assert.same({ 1 }, frames_of(score.events({ 0, 1, 0, 1, 0 }, { min_gap = 3 })))
    end)

    it("counts a plateau once at its first frame, the ends too, and nothing in zeros", function()
      assert.same({ 0, 3, 8 }, frames_of(score.events({ 5, 1, 1, 4, 4, 4, 1, 0, 3 }, { min_gap = 1 })))
      assert.same({}, score.events({ 0, 0, 0, 0 }))
      assert.same({ 4 }, frames_of(score.events({ 1, 2, 2, 3, 9 }, { threshold = 1 })))
    end)

    it("finds clicks and thumps of a mix, decomposed by NMF, within a frame of their times", function()
      local n = SR * 6
      local x = {}
      for i = 1, n do x[i] = 0 end
      local noise = helpers.noise(n, 7)
      local clicks, thumps = {}, {}
      for i = 0, 11 do clicks[#clicks + 1] = 0.25 + i * 0.5 end
      for i = 0, 10 do thumps[#thumps + 1] = 0.5 + i * 0.5 + 0.013 * (i % 3) end
      for _, t in ipairs(clicks) do
        local s0 = floor(t * SR)
        for j = 0, 110 do x[s0 + j + 1] = x[s0 + j + 1] + noise[s0 + j + 1] * exp(-j / 25) end
      end
      for _, t in ipairs(thumps) do
        local s0 = floor(t * SR)
        for j = 0, 2000 do
          x[s0 + j + 1] = x[s0 + j + 1] + 0.8 * math.sin(2 * math.pi * 110 * j / SR) * exp(-j / 400)
        end
      end
      local V = tessera.stft(tessera.audio.from(x, SR), { magnitude = true })
      local m = tessera.nmf(V, { k = 2, loss = "kl", seed = 0, max_iter = 200 })
      local found = {}
      for i = 1, 2 do
        local ev = score.events(m.H:row(i), { threshold = 0.3 })
        local truth = #ev == #clicks and clicks or thumps
        assert.equal(#truth, #ev)
        for j, e in ipairs(ev) do
          local want = truth[j] * SR / HOP
          assert.is_true(abs(e.frame - want) <= 1, fmt("row %d event %d: frame %d for %.2f", i, j, e.frame, want))
        end
        found[truth] = true
      end
      assert.is_true(found[clicks] and found[thumps])
    end)

    it("refuses bad rows and options", function()
      refuses(function() score.events(matrix.new(2, 5)) end,
        "tessera.score.events: the row must be 1 x p (use H:row(i)), got a 2 x 5 Matrix")
      refuses(function() score.events({}) end, "tessera.score.events: the row is empty")
      refuses(function() score.events({ 1, 0 / 0 }) end, "tessera.score.events: value 2 of the row is nan")
      refuses(function() score.events("x") end,
        "tessera.score.events: the row must be a 1 x p Matrix or a list of numbers, got 'x'")
      refuses(function() score.events({ 1 }, { threshold = 2 }) end,
        "tessera.score.events: threshold must be a number in [0, 1], got 2")
      refuses(function() score.events({ 1 }, { min_gap = -1 }) end,
        "tessera.score.events: min_gap must be a number >= 0, got -1")
      refuses(function() score.events({ 1 }, { treshold = 0.2 }) end,
        "tessera.score.events: unknown option 'treshold' (valid: min_gap, strength, threshold); "
          .. "did you mean 'threshold'?")
      refuses(function() score.events({ 1 }, 0.2) end, "tessera.score.events: options must be a table, got 0.2")
    end)
  end)

  describe("quantize()", function()
    it("puts every onset on the grid, and the odd steps late by swing x grid / 2", function()
      local ev = scattered(60, 400, 1)
      for _, case in ipairs({ { 4, 0, 0 }, { 4.7, 0, 1.3 }, { 6, 0.5, 0 }, { 5.25, 1, 2 } }) do
        local grid, swing, phase = case[1], case[2], case[3]
        local q = score.quantize(ev, { grid = grid, swing = swing, phase = phase })
        assert.is_true(#q > 0 and #q <= #ev)
        for _, e in ipairs(q) do
          local i = floor((e.frame - phase) / grid + 0.5)
          local on = phase + i * grid + (i % 2 == 1 and swing * grid / 2 or 0)
          if abs(on - e.frame) > 1e-9 then -- a swung odd step: i was rounded past it
            i = i - 1
            on = phase + i * grid + (i % 2 == 1 and swing * grid / 2 or 0)
          end
          assert.near(on, e.frame, 1e-9)
        end
      end
    end)

    it("moves each event to its nearest grid point and merges events that meet there", function()
      local ev = { { frame = 1.9, strength = 1, origin = 2 }, { frame = 2.2, strength = 3, origin = 3 },
                   { frame = 6.1, strength = 2, origin = 6 } }
      local q = score.quantize(ev, { grid = 4 })
      assert.same({ { frame = 0, strength = 1, origin = 2 }, { frame = 4, strength = 3, origin = 3 },
                    { frame = 8, strength = 2, origin = 6 } }, q)
      -- 1.9 and 2.2 both go to 2 on a grid of 2: the stronger stays
      assert.same({ { frame = 2, strength = 3, origin = 3 }, { frame = 6, strength = 2, origin = 6 } },
        score.quantize(ev, { grid = 2 }))
      -- amount 0.5 goes half way, and merges nothing
      local half = score.quantize(ev, { grid = 2, amount = 0.5 })
      assert.same({ 1.95, 2.1, 6.05 }, frames_of(half))
    end)

    it("returns new events and leaves the input as it was", function()
      local ev = scattered(20, 100, 2)
      local before = deep_copy(ev)
      local q = score.quantize(ev, { grid = 3 })
      assert.same(before, ev)
      for i = 1, #q do for j = 1, #ev do assert.are_not.equal(q[i], ev[j]) end end
    end)

    it("refuses a bad grid", function()
      refuses(function() score.quantize({}, { grid = -1 }) end,
        "tessera.score.quantize: grid must be a number > 0, got -1")
      refuses(function() score.quantize({}, {}) end,
        "tessera.score.quantize: grid is missing (frames per step, a number > 0)")
      refuses(function() score.quantize({}, { grid = 4, swing = 1.5 }) end,
        "tessera.score.quantize: swing must be a number in [0, 1], got 1.5")
      refuses(function() score.quantize({ { frame = "a", strength = 1 } }, { grid = 4 }) end,
        "tessera.score.quantize: event 1: frame must be a finite number, got 'a'")
      refuses(function() score.quantize({ { frame = 1, strength = -1 } }, { grid = 4 }) end,
        "tessera.score.quantize: event 1: strength must be a number >= 0, got -1")
      refuses(function() score.quantize({ { frame = 1, strength = 1, origin = 1.5 } }, { grid = 4 }) end,
        "tessera.score.quantize: event 1: origin must be nil or an integer frame >= 0, got 1.5")
      refuses(function() score.quantize(5, { grid = 4 }) end,
        "tessera.score.quantize: events must be a list of events {frame=, strength=, origin=}, got 5")
    end)
  end)

  describe("shift(), reverse(), loop()", function()
    local ev = { { frame = 0, strength = 1, origin = 0 }, { frame = 3, strength = 2, origin = 3 },
                 { frame = 6, strength = 1, origin = 6 } }

    it("shifts by frames, and turns the loop with a length", function()
      assert.same({ 2.5, 5.5, 8.5 }, frames_of(score.shift(ev, 2.5)))
      assert.same({ -1, 2, 5 }, frames_of(score.shift(ev, -1)))
      assert.same({ 1, 4, 7 }, frames_of(score.shift(ev, 9, 8)))
      assert.same({ 2, 5, 7 }, frames_of(score.shift(ev, -1, 8)))
    end)

    it("reverses a pattern: x..x..x. read from its end, on its grid with step", function()
      local p = score.pattern_events("x..x..x.", { step = 4 })
      local r = score.reverse(p, 32, 4)
      assert.same({ 4, 16, 28 }, frames_of(r)) -- .x..x..x
      assert.same({ 1, 4, 7 }, frames_of(score.reverse(ev, 8)))
      assert.same(ev, score.reverse(score.reverse(ev, 8), 8))
    end)

    it("loops the first period over the length", function()
      assert.same({ 0, 3, 5, 8, 10, 13 }, frames_of(score.loop(ev, 5, 15)))
      assert.same({ 0, 3, 6, 10, 13, 16 }, frames_of(score.loop(ev, 10, 17)))
    end)

    it("refuses bad numbers", function()
      refuses(function() score.shift(ev, 0 / 0) end, "tessera.score.shift: frames must be a finite number, got nan")
      refuses(function() score.reverse(ev, 0) end, "tessera.score.reverse: length must be a number > 0, got 0")
      refuses(function() score.loop(ev, 4, -1) end, "tessera.score.loop: length must be a number > 0, got -1")
    end)
  end)

  describe("gate() and mute()", function()
    it("keeps the strongest n of every bar", function()
      local ev = {}
      local heights = { 3, 1, 4, 1, 5, 9, 2, 6 }
      for i, h in ipairs(heights) do ev[i] = { frame = (i - 1) * 4, strength = h, origin = (i - 1) * 4 } end
      assert.same({ 0, 8, 20, 28 }, frames_of(score.gate(ev, { n = 2, bar = 16 })))
      assert.same({ 8, 20 }, frames_of(score.gate(ev, { n = 1, bar = 16 })))
      -- bars from phase 4: [-12, 4) [4, 20) [20, 36)
      assert.same({ 0, 16, 20 }, frames_of(score.gate(ev, { n = 1, bar = 16, phase = 4 })))
      assert.same({}, score.gate(ev, { n = 0, bar = 16 }))
      assert.equal(8, #score.gate(ev, { n = 5, bar = 16 }))
    end)

    it("mutes steps of every bar, an event counting on its nearest step", function()
      local ev = score.pattern_events("xxxxxxxx", { step = 2, length = 32 })
      local kept = score.mute(ev, { steps = { 2, 4 }, grid = 2, bar = 8 })
      assert.same({ 0, 4, 8, 12, 16, 20, 24, 28 }, frames_of(kept))
      local late = score.shift(ev, 0.6)
      assert.same(frames_of(score.shift(kept, 0.6)),
        frames_of(score.mute(late, { steps = { 2, 4 }, grid = 2, bar = 8 })))
    end)

    it("refuses bad bars and steps", function()
      refuses(function() score.gate({}, { n = -1, bar = 16 }) end,
        "tessera.score.gate: n must be an integer >= 0, got -1")
      refuses(function() score.gate({}, { n = 1 }) end,
        "tessera.score.gate: bar is missing (frames per bar, a number > 0)")
      refuses(function() score.mute({}, { steps = { 1 }, grid = 3, bar = 16 }) end,
        "tessera.score.mute: bar (16 frames) must hold a whole number of grid steps (3 frames), got 5.33333")
      refuses(function() score.mute({}, { steps = { 9 }, grid = 2, bar = 16 }) end,
        "tessera.score.mute: steps[1] must be an integer in 1..8, got 9")
    end)
  end)

  describe("euclidean() and pattern_events()", function()
    it("gives Bjorklund's patterns, as in Toussaint's table", function()
      -- Toussaint, "The Euclidean algorithm generates traditional musical rhythms" (2005)
      local table_ = {
        { 2, 5, "x.x.." }, { 3, 5, "x.x.x" }, { 3, 7, "x.x.x.." }, { 3, 8, "x..x..x." },
        { 4, 7, "x.x.x.x" }, { 4, 9, "x.x.x.x.." }, { 4, 11, "x..x..x..x." },
        { 5, 7, "x.xx.xx" }, { 5, 8, "x.xx.xx." }, { 5, 9, "x.x.x.x.x" }, { 5, 11, "x.x.x.x.x.." },
        { 5, 12, "x..x.x..x.x." }, { 5, 13, "x..x.x..x.x.." }, { 7, 12, "x.xx.x.xx.x." },
        { 7, 16, "x..x.x.x..x.x.x." }, { 9, 16, "x.xx.x.x.xx.x.x." },
        { 11, 24, "x..x.x.x.x.x..x.x.x.x.x." }, { 13, 24, "x.xx.x.x.x.x.xx.x.x.x.x." },
        -- the paper prints E(5,16) with one rest too many (17 steps); the rhythm is
        { 5, 16, "x..x..x..x..x..." },
      }
      for _, c in ipairs(table_) do
        assert.equal(c[3], as_string(score.euclidean(c[1], c[2])), fmt("E(%d,%d)", c[1], c[2]))
      end
      -- where all steps but one are onsets the paper draws the necklace turned to start with
      -- x.; the algorithm ends on the rest: the same necklace, turned
      for _, c in ipairs({ { 2, 3, "x.x", 1 }, { 3, 4, "x.xx", 2 }, { 5, 6, "x.xxxx", 4 }, { 7, 8, "x.xxxxxx", 6 } }) do
        assert.equal(c[3], as_string(score.euclidean(c[1], c[2], c[4])))
      end
      assert.equal("....", as_string(score.euclidean(0, 4)))
      assert.equal("xxxx", as_string(score.euclidean(4, 4)))
    end)

    it("rotates left: the pattern starts `rotate` steps later", function()
      assert.equal("..x..x.x", as_string(score.euclidean(3, 8, 1)))
      assert.equal(".x..x..x", as_string(score.euclidean(3, 8, -1)))
      assert.equal("x..x..x.", as_string(score.euclidean(3, 8, 8)))
    end)

    it("makes events from a step string or a list, repeated over a length", function()
      assert.same({ { frame = 0, strength = 1 }, { frame = 12, strength = 1 }, { frame = 24, strength = 1 } },
        score.pattern_events("x..x..x.", { step = 4 }))
      assert.same({ 2, 14, 26, 34, 46 },
        frames_of(score.pattern_events("x..|x..x.", { step = 4, length = 50, phase = 2 })))
      local ev = score.pattern_events(score.euclidean(3, 8), { step = 2.5, strength = 0.5, origin = 7 })
      assert.same({ { frame = 0, strength = 0.5, origin = 7 }, { frame = 7.5, strength = 0.5, origin = 7 },
                    { frame = 15, strength = 0.5, origin = 7 } }, ev)
      assert.same({ 0, 2 }, frames_of(score.pattern_events({ 1, 0, true, false }, { step = 1 })))
    end)

    it("refuses bad patterns", function()
      refuses(function() score.euclidean(9, 8) end, "tessera.score.euclidean: k must be an integer in 0..8, got 9")
      refuses(function() score.euclidean(3, 0) end, "tessera.score.euclidean: n must be an integer >= 1, got 0")
      refuses(function() score.pattern_events("x..o", { step = 4 }) end,
        "tessera.score.pattern_events: key 'pattern': unexpected 'o' at position 4 of 'x..o' (x is a hit; "
        .. "'.' or '-' a rest; '|' and spaces separate)")
      refuses(function() score.pattern_events({ 1, 2 }, { step = 4 }) end,
        "tessera.score.pattern_events: pattern step 2 must be true, false, 1 or 0, got 2")
      refuses(function() score.pattern_events("x.", {}) end,
        "tessera.score.pattern_events: step is missing (frames per step, a number > 0)")
    end)
  end)

  describe("probability()", function()
    local ev = scattered(400, 4000, 3)

    it("keeps the same events for a seed, other ones for another seed, about p of them", function()
      local a, b = score.probability(ev, 0.7, 1), score.probability(ev, 0.7, 1)
      assert.same(a, b)
      local c = score.probability(ev, 0.7, 2)
      assert.are_not.same(a, c)
      for _, kept in ipairs({ a, c }) do assert.is_true(abs(#kept / #ev - 0.7) < 0.07, tostring(#kept)) end
      assert.equal(#ev, #score.probability(ev, 1, 5))
      assert.equal(0, #score.probability(ev, 0, 5))
    end)

    it("draws for each event from its frame: removing others keeps its fate", function()
      local half = {}
      for i = 1, #ev, 2 do half[#half + 1] = ev[i] end
      local kept = {}
      for _, e in ipairs(score.probability(ev, 0.5, 9)) do kept[e.frame] = true end
      for _, e in ipairs(score.probability(half, 0.5, 9)) do assert.is_true(kept[e.frame]) end
    end)

    it("needs a seed and a p in [0, 1]", function()
      refuses(function() score.probability(ev, 0.5) end, "tessera.score.probability: seed is missing (an integer)")
      refuses(function() score.probability(ev, 1.5, 1) end,
        "tessera.score.probability: p must be a number in [0, 1], got 1.5")
      refuses(function() score.probability(ev, 0.5, 1.5) end,
        "tessera.score.probability: seed must be an integer >= " .. math.mininteger .. ", got 1.5")
    end)
  end)

  describe("smooth()", function()
    it("averages over a centred window, over the frames there are at the ends", function()
      local y = score.smooth({ 0, 0, 3, 0, 0, 6 }, 3):totable()[1]
      local want = { 0, 1, 1, 1, 2, 3 }
      for j = 1, 6 do assert.near(want[j], y[j], 1e-6) end
      assert.same({ { 2, 2, 2, 2 } }, score.smooth({ 2, 2, 2, 2 }, 5):totable())
      local H = matrix.from({ { 1, 2, 3 }, { 4, 4, 4 } })
      assert.same({ { 1.5, 2, 2.5 }, { 4, 4, 4 } }, score.smooth(H, 3):totable())
      assert.same(H:totable(), score.smooth(H, 1):totable())
    end)

    it("refuses an even width", function()
      refuses(function() score.smooth({ 1, 2 }, 4) end,
        "tessera.score.smooth: width must be an odd integer >= 1, got 4")
    end)
  end)

  describe("render()", function()
    it("puts impulses at their frames, a fractional one split between two frames", function()
      local ev = { { frame = 1, strength = 2 }, { frame = 3.25, strength = 1 }, { frame = 9, strength = 5 },
                   { frame = -1, strength = 5 } }
      local y = score.render(ev, 6):totable()[1]
      local want = { 0, 2, 0, 0.75, 0.25, 0 }
      for j = 1, 6 do assert.near(want[j], y[j], 1e-6) end
    end)

    it("gives the row back from its own events and shapes", function()
      local x = bumps(80, { { 3, 1 }, { 17, 0.4 }, { 30, 2 }, { 52, 0.7 }, { 66, 1.5 } }, 3)
      for _, threshold in ipairs({ 0, 0.1, 0.5 }) do
        local ev = score.events(x, { threshold = threshold })
        local y = score.render(ev, 80, { shape = x, cuts = ev }):totable()[1]
        -- from the first event's rise (a frame before its peak) on
        for j = ev[1].frame, 80 do assert.near(x[j], y[j], 1e-5, fmt("threshold %g, frame %d", threshold, j - 1)) end
      end
    end)

    it("copies a shape scaled to the event's strength, moved to its frame; shapes add", function()
      local x = bumps(40, { { 5, 2 }, { 25, 1 } }, 2)
      local ev = { { frame = 12, strength = 1, origin = 5 }, { frame = 14, strength = 4, origin = 25 } }
      local y = score.render(ev, 40, { shape = x }):totable()[1]
      -- the first shape spans frames 4 (its rise) to 23 (before the second's rise), the second
      -- frames 24 to the end
      for j = 0, 39 do
        local want = 0
        local s1 = j - 12 + 5
        if s1 >= 4 and s1 <= 23 then want = want + x[s1 + 1] * 1 / x[6] end
        local s2 = j - 14 + 25
        if s2 >= 24 and s2 <= 39 then want = want + x[s2 + 1] * 4 / x[26] end
        assert.near(want, y[j + 1], 1e-5, "frame " .. j)
      end
    end)

    it("cuts shapes where the row's events were, so a removed note is not carried", function()
      local x = bumps(60, { { 10, 1 }, { 20, 1 }, { 30, 1 } }, 4)
      local ev = score.events(x)
      local kept = { ev[1] } -- the notes at 20 and 30 muted
      local y = score.render(kept, 60, { shape = x, cuts = ev }):totable()[1]
      for j = 20, 59 do assert.equal(0, y[j + 1]) end
      -- cut only by the kept one, its shape runs on (span) through the others
      local z = score.render(kept, 60, { shape = x, cuts = kept, span = 40 }):totable()[1]
      assert.near(x[21], z[21], 1e-6)
    end)

    it("uses the strongest shape for an event without origin", function()
      local x = bumps(30, { { 5, 1 }, { 15, 3 } }, 1)
      local y = score.render({ { frame = 2, strength = 3 } }, 30, { shape = x }):totable()[1]
      assert.near(3, y[3], 1e-6)
      assert.near(x[17] * 3 / x[16], y[4], 1e-6)
    end)

    it("refuses bad shapes", function()
      refuses(function() score.render({}, 0) end, "tessera.score.render: length must be an integer >= 1, got 0")
      refuses(function() score.render({}, 5, { shape = "bump" }) end,
        "tessera.score.render: shape must be \"impulse\" or a row (1 x p Matrix or list), got 'bump'")
      refuses(function() score.render({}, 5, { cuts = {} }) end,
        "tessera.score.render: cuts are for shape = a row, not for impulses")
    end)
  end)

  describe("tempo()", function()
    -- An H of impulse trains: a kick every `period` frames from `phase`, hats on every 16th.
    local function pulse(p, period, phase)
      local rows = { {}, {} }
      for j = 1, p do rows[1][j], rows[2][j] = 0, 0 end
      local function add(row, t, h)
        local i = floor(t)
        if i + 2 <= p then
          row[i + 1] = row[i + 1] + h * (1 - (t - i))
          row[i + 2] = row[i + 2] + h * (t - i)
        end
      end
      for b = 0, p / period do
        add(rows[1], phase + b * period, 1)
        for q = 0, 3 do add(rows[2], phase + (b + q / 4) * period, 0.5) end
      end
      return matrix.from(rows)
    end

    it("finds the beat and phase of impulse trains to a fraction of a frame", function()
      for _, case in ipairs({ { 120, 3 }, { 97, 10.5 }, { 136.88, 0 }, { 174, 2 } }) do
        local bpm, phase = case[1], case[2]
        local period = 60 * SR / HOP / bpm
        local t = score.tempo(pulse(430, period, phase), { sr = SR, hop = HOP, max_bpm = 200 })
        local want = bpm > 169.7 and bpm / 2 or bpm -- the octave rule, with the default range
        assert.is_true(abs(t.bpm / want - 1) < 0.005, fmt("%g: %g", bpm, t.bpm))
        assert.near(t.period / 4, t.step, 1e-12)
        assert.near(4 * t.period, t.bar, 1e-12)
        local off = (phase - t.phase) % (60 * SR / HOP / want)
        off = math.min(off, 60 * SR / HOP / want - off)
        if want == bpm then assert.is_true(off < 0.6, fmt("%g: phase %g for %g", bpm, t.phase, phase)) end
      end
    end)

    it("reports the octave nearest prior_bpm inside the range (the octave rule)", function()
      local H = pulse(430, 60 * SR / HOP / 174, 0)
      assert.is_true(abs(score.tempo(H).bpm / 87 - 1) < 0.01)
      assert.is_true(abs(score.tempo(H, { min_bpm = 150 }).bpm / 174 - 1) < 0.01)
      assert.is_true(abs(score.tempo(H, { prior_bpm = 170 }).bpm / 174 - 1) < 0.01)
    end)

    it("gets real loops' tempo within 1% from their NMF activations (k = 4, 6, 8)", function()
      -- Each loop lasts a whole number of beats: 4 (amen 1.753 s: 136.9 BPM; breakbeat
      -- 1.905 s: 126; perc1, mehackit1 and electric 2.474 s: 97), 2 (industrial 0.884 s:
      -- 135.8) or 16 (compus 6.486 s: 148; mika 8.000 s and safari 8.005 s: 120; amen_full
      -- 6.857 s: 140; tabla 10.674 s: 89.9): round tempos nearly all, as loops are made.
      local loops = { loop_amen = 4, loop_breakbeat = 4, loop_perc1 = 4, loop_mehackit1 = 4,
                      loop_electric = 4, loop_industrial = 2, loop_compus = 16, loop_mika = 16,
                      loop_safari = 16, loop_amen_full = 16, loop_tabla = 16 }
      local names = {}
      for name in pairs(loops) do names[#names + 1] = name end
      table.sort(names)
      for _, name in ipairs(names) do
        local a = tessera.audio.load(helpers.samples .. "/" .. name .. ".flac", { sr = SR })
        local truth = loops[name] * 60 / a:duration()
        local reps = math.ceil(10 / a:duration())
        local V = tessera.stft(a:tile(floor(reps * a:duration() * SR + 0.5)), { magnitude = true })
        for _, k in ipairs({ 4, 6, 8 }) do
          local m = tessera.nmf(V, { k = k, loss = "kl", seed = 0, max_iter = 200 })
          local t = score.tempo(m.H, { sr = SR, hop = HOP })
          assert.is_true(abs(t.bpm / truth - 1) < 0.01, fmt("%s k=%d: %.2f BPM for %.2f", name, k, t.bpm, truth))
        end
      end
    end)

    it("refuses what holds no tempo", function()
      refuses(function() score.tempo({ 1, 2 }) end,
        "tessera.score.tempo: H must be a k x p Matrix of activations, got table")
      refuses(function() score.tempo(matrix.new(2, 100, 1)) end,
        "tessera.score.tempo: H has no onsets (no row ever rises)")
      refuses(function() score.tempo(matrix.new(1, 20, 1)) end,
        "tessera.score.tempo: 20 frames are too few for a beat between 60 and 200 BPM (12.9 to 43.1 "
        .. "frames; twice that is needed)")
      refuses(function() score.tempo(matrix.new(1, 200, 1), { min_bpm = 150, max_bpm = 100 }) end,
        "tessera.score.tempo: min_bpm (150) must be below max_bpm (100)")
      refuses(function() score.tempo(matrix.new(1, 200, 1), { bpm = 100 }) end,
        "tessera.score.tempo: unknown option 'bpm' (valid: hop, max_bpm, min_bpm, prior_bpm, sr)")
    end)
  end)

  describe("apply()", function()
    local x = bumps(430, (function()
      local peaks = {}
      for f = 2, 420, 9 do peaks[#peaks + 1] = { f, 0.5 + (f * 7 % 11) / 11 } end
      return peaks
    end)(), 2)
    local row = matrix.from({ x })
    local tempo = { period = 18, phase = 2, sr = SR, hop = HOP }

    it("gives the row back for an empty list", function()
      assert.same(row:totable(), score.apply(row, {}):totable())
    end)

    it("does what the functions do, on the row's events, rendered with its shapes", function()
      local ev = score.events(x)
      local by_hand = score.gate(score.quantize(ev, { grid = 4.5, swing = 0.2, phase = 2 }),
        { n = 2, bar = 72, phase = 2 })
      local want = score.render(by_hand, 430, { shape = x, cuts = ev })
      local got = score.apply(row, { { "quantize", grid = "1/16", swing = 0.2 }, { "gate", 2 } }, { tempo = tempo })
      assert.same(want:totable(), got:totable())
      -- positional and named parameters are the same op; frames and note values too
      local named = score.apply(row, { { "quantize", grid = 4.5, swing = 0.2, phase = 2 },
        { "gate", n = 2, bar = 72 } }, { tempo = tempo })
      assert.same(want:totable(), named:totable())
    end)

    it("runs the whole vocabulary, and is reproducible for a seed", function()
      local ops = { { "events", threshold = 0.2, min_gap = 2 }, { "smooth", 3 }, { "quantize", "1/16", swing = 0.3 },
        { "shift", "1/32", wrap = true }, { "mute", { 2, 4 } }, { "reverse", step = "1/16" },
        { "probability", 0.7 }, { "loop", "1" }, { "gate", 3, bar = "1/2" } }
      local a = score.apply(row, ops, { tempo = tempo, seed = 4 })
      local b = score.apply(row, score.check(ops), { tempo = tempo, seed = 4 })
      assert.same(a:totable(), b:totable())
      assert.are_not.same(a:totable(), score.apply(row, ops, { tempo = tempo, seed = 5 }):totable())
      assert.equal(430, select(2, a:shape()))
    end)

    it("plays a euclidean rhythm with the row's strongest note, or masks the row with it", function()
      local y = score.apply(row, { { "euclidean", 3, 8, step = 4 }, { "render", "impulse" } }, { length = 64 })
      local top = 0
      for _, e in ipairs(score.events(x)) do top = math.max(top, e.strength) end
      local want = {}
      for j = 1, 64 do want[j] = 0 end
      for _, f in ipairs({ 0, 12, 24, 32, 44, 56 }) do want[f + 1] = top end
      local got = y:totable()[1]
      for j = 1, 64 do assert.near(want[j], got[j], 1e-6) end
      local masked = score.apply(row, { { "pattern", "x...", step = 9, mode = "mask", phase = 2 },
        { "render", "impulse" } })
      local frames = {}
      for j, v in ipairs(masked:totable()[1]) do if v > 0 then frames[#frames + 1] = j - 1 end end
      for _, f in ipairs(frames) do assert.equal(2, f % 36) end
      assert.is_true(#frames >= 10)
    end)

    it("runs in well under a millisecond per op on a 10-s row", function()
      local ops = score.check({ { "quantize", "1/16", swing = 0.2 }, { "gate", 2, bar = "1" },
        { "euclidean", 3, 8, step = "1/8", mode = "mask" }, { "probability", 0.7, seed = 1 }, { "reverse" },
        { "smooth", 3 } })
      local t0 = os.clock()
      for _ = 1, 20 do score.apply(row, ops, { tempo = tempo }) end
      local ms = (os.clock() - t0) / 20 * 1000
      assert.is_true(ms < 20, fmt("%.2f ms", ms))
    end)

    it("checks every op and key, naming the op", function()
      refuses(function() score.apply(row, { { "quantise", 4 } }) end,
        "tessera.score.apply: op 1: unknown op 'quantise' (valid: euclidean, events, gate, loop, mute, pattern, "
        .. "probability, quantize, render, reverse, shift, smooth); did you mean 'quantize'?")
      refuses(function() score.apply(row, { "quantize" }) end,
        "tessera.score.apply: op 1 must be a table like {\"quantize\", grid = 4}, got 'quantize'")
      refuses(function() score.apply(row, { { "quantize" }, { "gate", 0.5 } }) end,
        "tessera.score.apply: op 2 (gate): n must be an integer >= 0, got 0.5")
      refuses(function() score.apply(row, { { "gate", 2, bars = 4 } }) end,
        "tessera.score.apply: op 1 (gate): unknown key 'bars' (valid: bar, n, phase); did you mean 'bar'?")
      refuses(function() score.apply(row, { { "gate", 2, n = 2 } }) end,
        "tessera.score.apply: op 1 (gate): n is given twice (value 2 and n =)")
      refuses(function() score.apply(row, { { "gate", 2, 3 } }) end,
        "tessera.score.apply: op 1 (gate): 2 values after the name, but gate takes at most 1 (n)")
      refuses(function() score.apply(row, { { "gate", bar = 4 } }) end,
        "tessera.score.apply: op 1 (gate): n is missing")
      refuses(function() score.apply(row, { { "quantize", "1/0" } }) end,
        "tessera.score.apply: op 1 (quantize): grid must be frames (a number > 0), a note value (\"1/16\", "
        .. "\"1/4\", \"1\" a bar) or seconds (\"0.5s\"), got '1/0'")
      refuses(function() score.apply(row, { { "quantize" } }) end,
        "tessera.score.apply: op 1 (quantize): grid '1/16' is a note value and needs a tempo (ctx.tempo, "
        .. "from score.tempo)")
      refuses(function() score.apply(row, { { "shift", "0.1s" } }) end,
        "tessera.score.apply: op 1 (shift): by '0.1s' is in seconds and needs sr and hop (ctx.sr and ctx.hop, "
        .. "or ctx.tempo)")
      refuses(function() score.apply(row, { { "euclidean", 9, 8, step = 2 } }) end,
        "tessera.score.apply: op 1 (euclidean): k must be an integer in 0..8 (n), got 9")
      refuses(function() score.apply(row, { { "smooth", 2 } }) end,
        "tessera.score.apply: op 1 (smooth): width must be an odd integer >= 1, got 2")
      refuses(function() score.apply(row, { { "mute", { 17 } } }, { tempo = tempo }) end,
        "tessera.score.apply: op 1 (mute): steps[1] must be an integer in 1..16, got 17")
      refuses(function() score.apply(row, { { "render", "gauss" } }) end,
        "tessera.score.apply: op 1 (render): shape must be 'row' or 'impulse', got 'gauss'")
      refuses(function() score.apply(row, { { "events" } }, { temp = 1 }) end,
        "tessera.score.apply: unknown option 'temp' (valid: hop, length, seed, sr, tempo); did you mean 'tempo'?")
      refuses(function() score.apply(row, { { "events" } }, { tempo = { bpm = 120 } }) end,
        "tessera.score.apply: ctx.tempo.period must be a number > 0, got nil")
      refuses(function() score.apply(row, { x = 1 }) end,
        "tessera.score.apply: ops must be a list (1, 2, ...), found the key 'x'")
      refuses(function() score.check({ { "gate" } }, "recipe.lua: layer 2: pattern") end,
        "recipe.lua: layer 2: pattern: op 1 (gate): n is missing")
    end)

    it("turns note values and seconds into frames", function()
      assert.equal(4.5, score.frames("1/16", { tempo = tempo }))
      assert.equal(72, score.frames("1", { tempo = tempo }))
      assert.equal(-13.5, score.frames("-3/16", { tempo = tempo }))
      assert.near(0.5 * SR / HOP, score.frames("0.5s", { sr = SR, hop = HOP }), 1e-9)
      assert.equal(7, score.frames(7))
    end)
  end)

  it("lists its errors in docs/bad-input.md (the SO rows), each as asserted", function()
    local doc = assert(helpers.read_file(helpers.root .. "/docs/bad-input.md"))
    local n = 0
    for line in doc:gmatch("\n(| SO%d+ |[^\n]*)") do
      local msg = line:match("| `([^`]*)` |$")
      assert.truthy(msg and asserted[msg:gsub("\\|", "|")], line)
      n = n + 1
    end
    assert.is_true(n >= 8, tostring(n))
  end)
end)
