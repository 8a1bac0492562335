--- tessera.score: H as an editable score. An activation row (H:row(i)) rises every time its
-- component sounds; its peaks are the component's notes. score.events picks them, the
-- operations below edit the list as a drum machine edits a pattern, and score.render puts
-- a list back into a row, each event a copy of the row's own shape around the peak it came
-- from. score.apply runs a list of such edits on a row (the form a recipe writes).
--
--   local ev = score.events(H:row(1), { threshold = 0.2 })
--   ev = score.quantize(ev, { grid = 4.7, swing = 0.3 })
--   local row = score.render(ev, 430, { shape = H:row(1) })
--   local t = score.tempo(H, { sr = 22050, hop = 512 })        -- t.bpm, t.step, t.phase
--   local edited = score.apply(H:row(1), { { "quantize" }, { "gate", 2 } }, { tempo = t })
--
-- AN EVENT is a table { frame = f, strength = s, origin = o }: f the 0-based STFT frame of
-- its peak (seconds = f * hop / sr; fractional once edited), s its peak's height, o the
-- frame of the peak in the row it was picked from (nil for events made from a pattern).
-- An event list is a plain list of events in order of frame. Every operation returns a new
-- list of new events and leaves its input as it was. Frames may leave 0..length-1 after a
-- shift; render keeps only what lands inside.
-- Steps of a bar are numbered from 1 (step 1 is the bar's first), as a pattern's characters.
-- @module tessera.score
local args = require "tessera.args"
local core = require "tessera.core"
local mixture_onsets = require "tessera.mixture.onsets"
local random = require "tessera.random"

local ipairs, require, type = ipairs, require, type
local floor, huge, max, min = math.floor, math.huge, math.max, math.min
local format = string.format
local sort = table.sort

local score = {}

score.defaults = { threshold = 0.1, min_gap = 3, strength = 0, span = 64 }

local function who_of(fn) return "tessera.score." .. fn end

-- ---- event lists -------------------------------------------------------------------------

local function before(a, b)
  if a.frame ~= b.frame then return a.frame < b.frame end
  if a.strength ~= b.strength then return a.strength > b.strength end
  return (a.origin or -1) < (b.origin or -1)
end

local function sorted(list)
  sort(list, before)
  return list
end

local function moved(e, frame)
  return { frame = frame, strength = e.strength, origin = e.origin }
end

-- An event list checked: a list of tables with a finite frame, a strength >= 0 and an
-- origin that is nil or an integer frame >= 0.
local function check_events(who, events)
  if type(events) ~= "table" then
    args.fail(who, "events must be a list of events {frame=, strength=, origin=}, got %s",
      args.show(events))
  end
  for i, e in ipairs(events) do
    if type(e) ~= "table" then args.fail(who, "event %d must be a table, got %s", i, args.show(e)) end
    if not args.is_finite(e.frame) then
      args.fail(who, "event %d: frame must be a finite number, got %s", i, args.show(e.frame))
    end
    if not args.is_finite(e.strength) or e.strength < 0 then
      args.fail(who, "event %d: strength must be a number >= 0, got %s", i, args.show(e.strength))
    end
    local o = e.origin
    if o ~= nil and not (math.type(o) == "integer" and o >= 0) then
      args.fail(who, "event %d: origin must be nil or an integer frame >= 0, got %s", i, args.show(o))
    end
  end
  return events
end
--- Checks an events list (each {frame =, value =}), raising for a bad one.
-- @function check_events
-- @tparam table events a list of {frame =, value =, ...}
-- @string[opt] who what errors start with
-- @return events
-- @raise bad arguments, naming the argument and the value.
-- @usage tessera.score.check_events(ev)
score.check_events = check_events

-- ---- peak picking --------------------------------------------------------------------------

local function event_options(who, opts)
  local o = args.options(who, opts, { "threshold", "min_gap", "strength" })
  local d = score.defaults
  return {
    threshold = o.threshold == nil and d.threshold or args.unit(who, "threshold", o.threshold),
    min_gap = o.min_gap == nil and d.min_gap or args.nonnegative(who, "min_gap", o.min_gap),
    strength = o.strength == nil and d.strength or args.nonnegative(who, "strength", o.strength),
  }
end
--- Checks and completes the options of @{events} with score.defaults.
-- @function event_options
-- @tab[opt] opts events' options
-- @string[opt] who what errors start with
-- @return table the options with defaults
-- @raise bad arguments, naming the argument and the value.
-- @usage local o = tessera.score.event_options({threshold = 0.2})
score.event_options = event_options

-- The 1-based indices of x's local maxima: a frame higher than the one before it (or the
-- first frame) and not lower than the ones after it up to the first that differs (a plateau
-- counts once, at its first frame).
local function local_maxima(x)
  local peaks, p, j = {}, #x, 1
  while j <= p do
    local k = j
    while k < p and x[k + 1] == x[j] do k = k + 1 end
    local left = j > 1 and x[j - 1] or -huge
    local right = k < p and x[k + 1] or -huge
    if x[j] > left and x[j] > right then peaks[#peaks + 1] = j end
    j = k + 1
  end
  return peaks
end

-- Events of the row values x with checked options o (see score.events).
local function pick(x, o)
  local top = 0
  for j = 1, #x do if x[j] > top then top = x[j] end end
  local floor_height = max(o.threshold * top, o.strength)
  local candidates = {}
  for _, j in ipairs(local_maxima(x)) do
    if x[j] > 0 and x[j] >= floor_height then candidates[#candidates + 1] = j end
  end
  -- The strongest first (the earlier of equals); a peak within min_gap of a kept one goes.
  sort(candidates, function(a, b)
    if x[a] ~= x[b] then return x[a] > x[b] end
    return a < b
  end)
  local taken, events = {}, {}
  local reach = o.min_gap > 0 and math.ceil(o.min_gap) - 1 or 0
  for _, j in ipairs(candidates) do
    local free = true
    for d = 1, reach do
      local near = taken[j - d] or taken[j + d]
      if near and d < o.min_gap then free = false break end
    end
    if free then
      taken[j] = true
      events[#events + 1] = { frame = j - 1, strength = x[j], origin = j - 1 }
    end
  end
  return sorted(events)
end
--- The peaks of a list of values, as @{events} picks them.
-- @function pick
-- @tparam table values numbers
-- @tab opts events' options
-- @return table events
-- @raise bad arguments, naming the argument and the value.
-- @usage local ev = tessera.score.pick(values, tessera.score.defaults)
score.pick = pick

--- score.events(row [, opts]) -> event list: the row's local maxima that reach
-- threshold x the row's highest value (opts.threshold, default 0.1) and the absolute height
-- opts.strength (default 0), thinned so that no two are closer than opts.min_gap frames
-- (default 3: the stronger stays, the earlier of two equal ones). row: a 1 x p Matrix
-- (H:row(i)) or a list of numbers. A row of zeros has no events.
-- @tparam Matrix|table row an activation row (1 x p) or a list
-- @tab[opt] opts threshold (0.1), min_gap (3), strength (0), span (64)
-- @return table events
-- @raise bad arguments, naming the argument and the value.
-- @usage local ev = tessera.score.events(m.H:row(1))
function score.events(row, opts)
  local who = who_of("events")
  local x = args.row(who, row)
  return pick(x, event_options(who, opts))
end

-- ---- operations on event lists ------------------------------------------------------------

-- The frame of grid point i: phase + i * grid, the odd points delayed by swing * grid / 2.
local function grid_point(i, grid, swing, phase)
  local t = phase + i * grid
  if i % 2 == 1 then t = t + swing * grid / 2 end
  return t
end

-- The grid point nearest f (the earlier of two as near).
local function nearest_point(f, grid, swing, phase)
  local i0 = floor((f - phase) / grid)
  local best, best_d
  for i = i0 - 1, i0 + 2 do
    local t = grid_point(i, grid, swing, phase)
    local d = math.abs(t - f)
    if not best_d or d < best_d then best, best_d = t, d end
  end
  return best
end

--- score.quantize(events, opts) -> events moved to the grid: opts.grid (frames per step,
-- > 0, fractional allowed), opts.phase (the frame of grid point 0, default 0), opts.swing
-- (0..1, default 0: every second grid point, the odd ones counted from phase, is delayed
-- by swing * grid / 2; 1/3 is a triplet feel, 1 the 75% of a drum machine's swing),
-- opts.amount (0..1, default 1: how far each event moves towards its grid point). With
-- amount 1 every event lands on a grid point, and events landing on one point become one
-- (the strongest).
-- @tparam table events a list of {frame =, value =, ...}
-- @tab opts grid (frames, required), amount (1), swing (0), phase (0)
-- @return table events
-- @raise bad arguments, naming the argument and the value.
-- @usage local q = tessera.score.quantize(ev, {grid = 11})
function score.quantize(events, opts)
  local who = who_of("quantize")
  check_events(who, events)
  local o = args.options(who, opts, { "grid", "swing", "phase", "amount" })
  if o.grid == nil then args.fail(who, "grid is missing (frames per step, a number > 0)") end
  local grid = args.positive(who, "grid", o.grid)
  local swing = o.swing == nil and 0 or args.unit(who, "swing", o.swing)
  local phase = o.phase == nil and 0 or args.finite(who, "phase", o.phase)
  local amount = o.amount == nil and 1 or args.unit(who, "amount", o.amount)
  local out = {}
  for i, e in ipairs(events) do
    local target = nearest_point(e.frame, grid, swing, phase)
    out[i] = moved(e, amount == 1 and target or e.frame + amount * (target - e.frame))
  end
  sorted(out)
  if amount < 1 then return out end
  local merged = {}
  for _, e in ipairs(out) do
    local last = merged[#merged]
    if not (last and last.frame == e.frame) then merged[#merged + 1] = e end
  end
  return merged
end

--- score.shift(events, frames [, length]) -> events moved by frames (positive: later);
-- with length, wrapped around into 0..length (a loop turned).
-- @tparam table events a list of {frame =, value =, ...}
-- @number frames the shift
-- @int[opt] length wrap into 0..length
-- @return table events
-- @raise bad arguments, naming the argument and the value.
-- @usage local later = tessera.score.shift(ev, 4)
function score.shift(events, frames, length)
  local who = who_of("shift")
  check_events(who, events)
  args.finite(who, "frames", frames)
  if length ~= nil then args.positive(who, "length", length) end
  local out = {}
  for i, e in ipairs(events) do
    local f = e.frame + frames
    if length then f = f % length end
    out[i] = moved(e, f)
  end
  return sorted(out)
end

-- Which bar an event is in: bars of `bar` frames from phase.
local function bar_index(f, bar, phase) return floor((f - phase) / bar) end

--- score.gate(events, opts) -> the strongest opts.n events (an integer >= 0) of every bar of
-- opts.bar frames counted from opts.phase (default 0); of equal ones the earlier stays.
-- @tparam table events a list of {frame =, value =, ...}
-- @tab opts n (required), bar (required), phase (0)
-- @return table events
-- @raise bad arguments, naming the argument and the value.
-- @usage local two = tessera.score.gate(ev, {n = 2, bar = 172})
function score.gate(events, opts)
  local who = who_of("gate")
  check_events(who, events)
  local o = args.options(who, opts, { "n", "bar", "phase" })
  if o.n == nil then args.fail(who, "n is missing (the events to keep per bar)") end
  if o.bar == nil then args.fail(who, "bar is missing (frames per bar, a number > 0)") end
  local n = args.integer(who, "n", o.n, 0)
  local bar = args.positive(who, "bar", o.bar)
  local phase = o.phase == nil and 0 or args.finite(who, "phase", o.phase)
  local bars, order = {}, {}
  for i, e in ipairs(events) do
    local b = bar_index(e.frame, bar, phase)
    if not bars[b] then bars[b] = {} order[#order + 1] = b end
    local list = bars[b]
    list[#list + 1] = i
  end
  local out = {}
  for _, b in ipairs(order) do
    local list = bars[b]
    sort(list, function(i, j)
      local a, c = events[i], events[j]
      if a.strength ~= c.strength then return a.strength > c.strength end
      if a.frame ~= c.frame then return a.frame < c.frame end
      return i < j
    end)
    for r = 1, min(n, #list) do out[#out + 1] = moved(events[list[r]], events[list[r]].frame) end
  end
  return sorted(out)
end

--- score.reverse(events, length [, step]) -> the pattern played backwards: frame f goes to
-- length - step - f (step default 1: the row's frames reversed, as a pattern string read
-- from its end; with step = the grid, events on the grid stay on it).
-- @tparam table events a list of {frame =, value =, ...}
-- @int length the row's frames
-- @int[opt=1] step the grid
-- @return table events
-- @raise bad arguments, naming the argument and the value.
-- @usage local back = tessera.score.reverse(ev, 344)
function score.reverse(events, length, step)
  local who = who_of("reverse")
  check_events(who, events)
  args.positive(who, "length", length)
  step = step == nil and 1 or args.positive(who, "step", step)
  local out = {}
  for i, e in ipairs(events) do out[i] = moved(e, length - step - e.frame) end
  return sorted(out)
end

-- The number of grid steps in a bar, which must be whole.
local function steps_per_bar(who, bar, grid)
  local n = bar / grid
  local whole = floor(n + 0.5)
  if whole < 1 or math.abs(n - whole) > 1e-6 * n then
    args.fail(who, "bar (%s frames) must hold a whole number of grid steps (%s frames), got %s",
      format("%g", bar), format("%g", grid), format("%g", n))
  end
  return whole
end
--- Steps in a bar: opts.bar / opts.grid, checked to be whole.
-- @function steps_per_bar
-- @tab opts grid and bar in frames
-- @string[opt] who what errors start with
-- @return int the steps
-- @raise bad arguments, naming the argument and the value.
-- @usage local n = tessera.score.steps_per_bar({grid = 11, bar = 176})
score.steps_per_bar = steps_per_bar

-- The step (1..n) of the bar an event is nearest to.
local function step_of(f, grid, phase, n) return floor((f - phase) / grid + 0.5) % n + 1 end

--- score.mute(events, opts) -> the events not on the muted steps: opts.steps (a list of step
-- numbers, 1 = a bar's first), opts.grid (frames per step), opts.bar (frames per bar, a
-- whole number of steps), opts.phase (default 0). An event belongs to its nearest step.
-- @tparam table events a list of {frame =, value =, ...}
-- @tab opts steps (a list, 1 = a bar's first), grid, bar, phase (0)
-- @return table events
-- @raise bad arguments, naming the argument and the value.
-- @usage local ev2 = tessera.score.mute(ev, {steps = {1}, grid = 11, bar = 176})
function score.mute(events, opts)
  local who = who_of("mute")
  check_events(who, events)
  local o = args.options(who, opts, { "steps", "grid", "bar", "phase" })
  if o.grid == nil then args.fail(who, "grid is missing (frames per step, a number > 0)") end
  if o.bar == nil then args.fail(who, "bar is missing (frames per bar, a number > 0)") end
  local grid = args.positive(who, "grid", o.grid)
  local bar = args.positive(who, "bar", o.bar)
  local phase = o.phase == nil and 0 or args.finite(who, "phase", o.phase)
  local n = steps_per_bar(who, bar, grid)
  if type(o.steps) ~= "table" then
    args.fail(who, "steps must be a list of step numbers (1..%d), got %s", n, args.show(o.steps))
  end
  local muted = {}
  for i, s in ipairs(o.steps) do muted[args.integer(who, format("steps[%d]", i), s, 1, n)] = true end
  local out = {}
  for _, e in ipairs(events) do
    if not muted[step_of(e.frame, grid, phase, n)] then out[#out + 1] = moved(e, e.frame) end
  end
  return out
end

--- score.probability(events, p, seed) -> each event kept with probability p (0..1). Each
-- event's draw depends only on the seed (an integer) and its frame, so the same seed keeps
-- the same events, and editing some events leaves the draws of the others as they were.
-- @tparam table events a list of {frame =, value =, ...}
-- @number p the chance each event stays, 0..1
-- @int[opt=0] seed the seed
-- @return table events
-- @raise bad arguments, naming the argument and the value.
-- @usage local some = tessera.score.probability(ev, 0.5, 1)
function score.probability(events, p, seed)
  local who = who_of("probability")
  check_events(who, events)
  args.unit(who, "p", p)
  if seed == nil then args.fail(who, "seed is missing (an integer)") end
  seed = args.integer(who, "seed", seed, math.mininteger)
  local out, seen = {}, {}
  for _, e in ipairs(events) do
    local key = format("%.17g", e.frame)
    seen[key] = (seen[key] or 0) + 1 -- two events on one frame draw apart
    local u = random.generator(seed, format("probability %s %d", key, seen[key]))()
    if u < p then out[#out + 1] = moved(e, e.frame) end
  end
  return out
end

--- score.loop(events, period, length) -> the events in 0 <= frame < period repeated every
-- period frames while they start before length.
-- @tparam table events a list of {frame =, value =, ...}
-- @number period frames
-- @number length frames
-- @return table events
-- @raise bad arguments, naming the argument and the value.
-- @usage local looped = tessera.score.loop(ev, 172, 1000)
function score.loop(events, period, length)
  local who = who_of("loop")
  check_events(who, events)
  args.positive(who, "period", period)
  args.positive(who, "length", length)
  local out = {}
  for _, e in ipairs(events) do
    if e.frame >= 0 and e.frame < period then
      local f, r = e.frame, 0
      while f < length do
        out[#out + 1] = moved(e, f)
        r = r + 1
        f = e.frame + r * period
      end
    end
  end
  return sorted(out)
end

-- ---- patterns -------------------------------------------------------------------------------

--- score.euclidean(k, n [, rotate]) -> a list of n booleans with k true spread as evenly as
-- they go, by Bjorklund's algorithm (Toussaint 2005): euclidean(3, 8) is x..x..x. . rotate
-- (default 0) starts the pattern that many steps later (a left turn: euclidean(3, 8, 1) is
-- ..x..x.x).
-- @int k onsets
-- @int n steps
-- @int[opt=0] rotate steps of rotation
-- @return string a pattern of x and .
-- @raise bad arguments, naming the argument and the value.
-- @usage print(tessera.score.euclidean(3, 8))   --> x..x..x.
function score.euclidean(k, n, rotate)
  local who = who_of("euclidean")
  n = args.integer(who, "n", n, 1)
  k = args.integer(who, "k", k, 0, n)
  rotate = rotate == nil and 0 or args.integer(who, "rotate", rotate, math.mininteger)
  -- Bjorklund: k groups {1} and n - k groups {0}; the remainder groups are appended one
  -- to each of the first groups until at most one remainder group is left.
  local front, back = {}, {}
  for i = 1, k do front[i] = { true } end
  for i = 1, n - k do back[i] = { false } end
  if k == 0 then front, back = back, {} end
  while #back > 1 do
    local pairs_made = min(#front, #back)
    local new_front, new_back = {}, {}
    for i = 1, pairs_made do
      local g = {}
      for _, v in ipairs(front[i]) do g[#g + 1] = v end
      for _, v in ipairs(back[i]) do g[#g + 1] = v end
      new_front[i] = g
    end
    -- what was not paired (of front or back) is the next remainder
    for i = pairs_made + 1, #front do new_back[#new_back + 1] = front[i] end
    for i = pairs_made + 1, #back do new_back[#new_back + 1] = back[i] end
    front, back = new_front, new_back
  end
  local flat = {}
  for _, list in ipairs({ front, back }) do
    for _, g in ipairs(list) do
      for _, v in ipairs(g) do flat[#flat + 1] = v end
    end
  end
  local out = {}
  for i = 1, n do out[i] = flat[(i - 1 + rotate) % n + 1] end
  return out
end

-- A pattern as a list of booleans: a step string as tessera.mixture reads it ("x..x..x.":
-- x a hit, . or - a rest, | and spaces only for the eye) or a list of booleans or 0/1.
local function pattern_list(who, pattern)
  local out = {}
  if type(pattern) == "string" then
    local hits, steps = mixture_onsets.parse_pattern(pattern, function(msg) args.fail(who, "%s", msg) end)
    for i = 1, steps do out[i] = false end
    for _, h in ipairs(hits) do out[h + 1] = true end
  elseif type(pattern) == "table" then
    for i, v in ipairs(pattern) do
      if v == true or v == 1 then out[i] = true
      elseif v == false or v == 0 then out[i] = false
      else
        args.fail(who, "pattern step %d must be true, false, 1 or 0, got %s", i, args.show(v))
      end
    end
    if #out == 0 then args.fail(who, "pattern is empty") end
  else
    args.fail(who, "pattern must be a step string like \"x..x..x.\" or a list of booleans, got %s",
      args.show(pattern))
  end
  return out
end
--- A pattern (a string of x and . or a list of steps) as a list of booleans.
-- @function pattern_list
-- @param pattern a string or a list
-- @string[opt] who what errors start with
-- @return table booleans
-- @raise bad arguments, naming the argument and the value.
-- @usage local l = tessera.score.pattern_list("x..x")
score.pattern_list = pattern_list

--- score.pattern_events(pattern, opts) -> events on the pattern's onsets: step i (1-based)
-- at frame phase + (i - 1) * step. opts: step (frames per step, required), length (frames:
-- the pattern repeats while its events start before it; default: once), strength (default
-- 1), phase (default 0), origin (the frame of the row's peak whose shape render should
-- copy; default nil: the row's strongest peak).
-- @param pattern a string of x and . or a list
-- @tab opts grid (required), length, value (1), phase (0), origin
-- @return table events
-- @raise bad arguments, naming the argument and the value.
-- @usage local ev = tessera.score.pattern_events("x...x...", {grid = 11, length = 344})
function score.pattern_events(pattern, opts)
  local who = who_of("pattern_events")
  local steps = pattern_list(who, pattern)
  local o = args.options(who, opts, { "step", "length", "strength", "phase", "origin" })
  if o.step == nil then args.fail(who, "step is missing (frames per step, a number > 0)") end
  local step = args.positive(who, "step", o.step)
  local length = o.length ~= nil and args.positive(who, "length", o.length) or nil
  local strength = o.strength == nil and 1 or args.nonnegative(who, "strength", o.strength)
  local phase = o.phase == nil and 0 or args.finite(who, "phase", o.phase)
  local origin = o.origin ~= nil and args.integer(who, "origin", o.origin, 0) or nil
  local out, n = {}, #steps
  local r = 0
  repeat
    for i = 1, n do
      local f = phase + (r * n + i - 1) * step
      if length and f >= length then return out end
      if steps[i] then out[#out + 1] = { frame = f, strength = strength, origin = origin } end
    end
    r = r + 1
  until not length
  return out
end

-- ---- rows -----------------------------------------------------------------------------------

--- score.smooth(row, width) -> a Matrix of row's shape: every row (a 1 x p or k x p Matrix,
-- or a list of numbers) averaged over a centred window of width frames (an odd integer;
-- 1 leaves it as it is). At the ends the window holds only the frames there are, so a
-- constant row stays constant.
-- @tparam table row numbers
-- @int width the window in frames (1: unchanged)
-- @return table numbers
-- @raise bad arguments, naming the argument and the value.
-- @usage local s = tessera.score.smooth(values, 5)
function score.smooth(row, width)
  local who = who_of("smooth")
  local rows
  if core.type(row) == "Matrix" then
    local r, c = row:shape()
    if r == 0 or c == 0 then args.fail(who, "the row is empty (%d x %d)", r, c) end
    rows = row:totable()
    for i = 1, r do args.row(who, rows[i], format("row %d", i)) end
  else
    rows = { args.row(who, row) }
  end
  local w = args.integer(who, "width", width, 1)
  if w % 2 == 0 then args.fail(who, "width must be an odd integer >= 1, got %s", args.show(width)) end
  local half = w // 2
  local out = {}
  for i, x in ipairs(rows) do
    local p, y = #x, {}
    local sum, lo, hi = 0, 1, 0 -- the window x[lo..hi]
    for j = 1, p do
      while hi < min(p, j + half) do hi = hi + 1 sum = sum + x[hi] end
      while lo < j - half do sum = sum - x[lo] lo = lo + 1 end
      y[j] = sum / (hi - lo + 1)
    end
    out[i] = y
  end
  return core.matrix.from(out)
end

-- The frames (0-based, ascending) of the cuts that part a row into shapes.
local function cut_frames(events)
  local seen, frames = {}, {}
  for _, e in ipairs(events) do
    if e.origin and not seen[e.origin] then
      seen[e.origin] = true
      frames[#frames + 1] = e.origin
    end
  end
  sort(frames)
  return frames
end
--- The shape of a row around a peak: the frames render copies for an event.
-- @function cut_frames
-- @tparam table row numbers
-- @int frame the peak
-- @int span frames either side
-- @return table numbers
-- @raise bad arguments, naming the argument and the value.
-- @usage local shape = tessera.score.cut_frames(values, 12, 64)
score.cut_frames = cut_frames

-- The shapes of a row: x (values, 1-based) cut at the frames of `cuts`. shape(o) gives the
-- 0-based frames first..last copied for a peak at o: from the lowest point before it (down
-- its rise, not back past the cut before) to the frame before the next cut's rise, at most
-- span frames after o.
local function shapes_of(x, cuts, span)
  local p = #x
  local function rise_start(o, floor_frame)
    local s = o
    while s - 1 > floor_frame and s - 1 >= 0 and x[s] < x[s + 1] and o - s < span do s = s - 1 end
    return s
  end
  local starts = {}
  for i, c in ipairs(cuts) do starts[i] = rise_start(c, i > 1 and cuts[i - 1] or -1) end
  local strongest
  for _, c in ipairs(cuts) do
    if c < p and (not strongest or x[c + 1] > x[strongest + 1]) then strongest = c end
  end
  local cache = {}
  local function shape(o)
    local s = cache[o]
    if s then return s[1], s[2] end
    -- the cuts before and after o (o itself is usually one of them)
    local lo, hi = 1, #cuts
    local prev = -1
    while lo <= hi do
      local mid = (lo + hi) // 2
      if cuts[mid] < o then prev = cuts[mid] lo = mid + 1 else hi = mid - 1 end
    end
    local next_i = lo
    if cuts[next_i] == o then next_i = next_i + 1 end
    local first = rise_start(o, prev)
    local last = min(p - 1, o + span)
    if cuts[next_i] then last = min(last, max(o, starts[next_i] - 1)) end
    cache[o] = { first, last }
    return first, last
  end
  return shape, strongest
end

local function render_options(who, opts)
  local o = args.options(who, opts, { "shape", "cuts", "span" })
  local r = { span = o.span == nil and score.defaults.span or args.integer(who, "span", o.span, 0) }
  if o.shape == nil or o.shape == "impulse" then
    if o.cuts ~= nil then args.fail(who, "cuts are for shape = a row, not for impulses") end
    return r
  end
  if type(o.shape) == "string" then
    args.fail(who, "shape must be \"impulse\" or a row (1 x p Matrix or list), got %s", args.show(o.shape))
  end
  r.x = args.row(who, o.shape, "shape")
  local cuts = o.cuts == nil and pick(r.x, event_options(who)) or check_events(who, o.cuts)
  r.cuts = cut_frames(cuts)
  return r
end

-- Adds v at a fractional frame t of y (0-based frames 0..#y-1), split between the two
-- frames around it.
local function place(y, length, t, v)
  local i = floor(t)
  local f = t - i
  if i >= 0 and i < length then y[i + 1] = y[i + 1] + v * (1 - f) end
  if f > 0 and i + 1 >= 0 and i + 1 < length then y[i + 2] = y[i + 2] + v * f end
end

-- Rendering with checked options (see score.render); returns the values as a list.
local function render_values(events, length, r)
  local y = {}
  for j = 1, length do y[j] = 0 end
  local shape, strongest
  if r.x then shape, strongest = shapes_of(r.x, r.cuts, r.span) end
  for _, e in ipairs(events) do
    local o = e.origin
    if shape and o == nil then o = strongest end
    if shape and o and o < #r.x and r.x[o + 1] > 0 then
      local first, last = shape(o)
      local scale = e.strength / r.x[o + 1]
      for s = first, last do place(y, length, e.frame + (s - o), r.x[s + 1] * scale) end
    else
      place(y, length, e.frame, e.strength)
    end
  end
  return y
end
--- @{render}'s core: events as a list of values (not a Matrix).
-- @function render_values
-- @tparam table events a list of {frame =, value =, ...}
-- @int length frames
-- @tab[opt] opts render's options
-- @return table numbers
-- @raise bad arguments, naming the argument and the value.
-- @usage local xs = tessera.score.render_values(ev, 344)
score.render_values = render_values
--- Checks the options of @{render}.
-- @function render_options
-- @tab[opt] opts render's options
-- @string[opt] who what errors start with
-- @return table the options
-- @raise bad arguments, naming the argument and the value.
-- @usage tessera.score.render_options({shape = row})
score.render_options = render_options

--- score.render(events, length [, opts]) -> a 1 x length Matrix holding the events.
-- opts.shape "impulse" (default): each event an impulse of its strength at its frame. A
-- row (1 x p Matrix or list; the row the events came from): each event a copy of that row
-- around its origin, scaled so its peak has the event's strength: from the lowest point
-- before the peak to just before the next cut's rise, at most opts.span frames (default
-- 64) after the peak. The cuts are the origins of opts.cuts (an event list; default
-- score.events(shape) with default options): pass the row's events before editing, so a
-- kept note does not carry the start of one that was removed. An event without an origin
-- takes the shape of the strongest cut, one whose origin is outside the row or on a zero
-- is an impulse. A fractional frame is split between the two frames around it (linear
-- interpolation); overlapping shapes add; what lands outside 0..length-1 is dropped.
-- @tparam table events a list of {frame =, value =, ...}
-- @int length frames
-- @tab[opt] opts shape (a row to copy around each event), span
-- @return Matrix a 1 x length row
-- @raise bad arguments, naming the argument and the value.
-- @usage local row = tessera.score.render(ev, m.p)
function score.render(events, length, opts)
  local who = who_of("render")
  check_events(who, events)
  length = args.integer(who, "length", length, 1)
  local r = render_options(who, opts)
  return core.matrix.from({ render_values(events, length, r) })
end

-- ---- tempo and ops lists, in their own files ------------------------------------------------

--- The tempo of activations (lua/tessera/score_tempo.lua).
-- @tparam Matrix H activations
-- @tab opts sr, hop, min_bpm, max_bpm
-- @return table {bpm, ...}
-- @raise bad arguments, naming the argument and the value.
-- @usage local t = tessera.score.tempo(m.H, {sr = 22050, hop = 512})
function score.tempo(H, opts) return require("tessera.score_tempo").tempo(H, opts) end
--- A duration (seconds, "1/16" of a bar, or frames) in frames (lua/tessera/score_apply.lua).
-- @param value the duration
-- @tab ctx sr, hop, bpm
-- @string name the key, for errors
-- @return number frames
-- @raise bad arguments, naming the argument and the value.
-- @usage local f = tessera.score.frames("1/16", {sr = 22050, hop = 512, bpm = 120}, "grid")
function score.frames(value, ctx, name) return require("tessera.score_apply").frames(value, ctx, name) end
--- Checks a list of score operations ({"quantize", grid = ...}, ...).
-- @tab ops the operations
-- @string who what errors start with
-- @return table the operations
-- @raise bad arguments, naming the argument and the value.
-- @usage tessera.score.check({{"gate", 2}}, "pattern")
function score.check(ops, who) return require("tessera.score_apply").check(ops, who) end
--- Applies score operations to an activation row (a layer's `pattern`).
-- @tparam Matrix|table row the row
-- @tab ops the operations
-- @tab ctx sr, hop, bpm
-- @return table the new row
-- @raise bad arguments, naming the argument and the value.
-- @usage local r = tessera.score.apply(m.H:row(1), {{"quantize", grid = "1/16"}}, ctx)
function score.apply(row, ops, ctx) return require("tessera.score_apply").apply(row, ops, ctx) end

-- Errors leave the public functions at the caller's line (lua/tessera/entry.lua).
return require("tessera.entry").export(score)
