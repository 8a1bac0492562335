-- tessera.mixture.onsets: when a stem's sound starts. Three ways to say it (exactly one per
-- stem), then optional seeded humanising:
--
--   onsets  = { 0, 0.5, 1.25 }              -- seconds, in any order
--   pattern = "x...x...|x.x.x...", bpm = 120 -- a step string: x a hit, . or - a rest,
--                                            -- | and spaces only for the eye; a step is a
--                                            -- sixteenth (steps_per_beat = 4) or `step` s;
--                                            -- repeated to the end unless loop = false
--   every   = 0.5, offset = 0.25, count = 8   -- a regular pulse (count: at most that many)
--
--   jitter = 0.01      -- each onset moved by a uniform amount in [-0.01, 0.01] s
--   gain_jitter = 3    -- each hit's level moved by a uniform amount in [-3, 3] dB
--
-- The random numbers come from splitmix64 written in Lua (math.random's generator and
-- seeding are the interpreter's business), one stream per stem seeded by the mixture's
-- seed and the stem's name, so adding a stem leaves the others' onsets as they were.
local ipairs = ipairs
local floor = math.floor
local format = string.format
local sort = table.sort

local rng = require "tessera.random"

local onsets = {}

-- onsets.generator(seed, name): tessera.random.generator (splitmix64, one stream per name).
onsets.generator = rng.generator

-- ---- the three forms -----------------------------------------------------------------

local PATTERN_HELP = "x is a hit; '.' or '-' a rest; '|' and spaces separate"

-- The hits of a step string, as 0-based step numbers, and the number of steps. Raises
-- `fail("pattern ...")` naming the position (1-based, in characters) of a bad character.
function onsets.parse_pattern(text, fail)
  local hits, steps = {}, 0
  for i = 1, #text do
    local c = text:sub(i, i)
    if c == "x" or c == "X" then
      hits[#hits + 1] = steps
      steps = steps + 1
    elseif c == "." or c == "-" then
      steps = steps + 1
    elseif not c:match("[|%s]") then
      fail(format("key 'pattern': unexpected '%s' at position %d of '%s' (%s)", c, i, text,
        PATTERN_HELP))
    end
  end
  if steps == 0 then
    fail(format("key 'pattern': '%s' has no steps (%s)", text, PATTERN_HELP))
  end
  return hits, steps
end

-- Times of a pattern: its hits from `offset` on, one step every `step` seconds, the
-- pattern repeated while it fits before `duration` (once when loop is false).
local function pattern_times(stem, duration, fail)
  local hits, steps = onsets.parse_pattern(stem.pattern, fail)
  local times = {}
  local rep = 0
  repeat
    for _, h in ipairs(hits) do
      local t = stem.offset + (rep * steps + h) * stem.step
      if t < duration then times[#times + 1] = t end
    end
    rep = rep + 1
  until not stem.loop or stem.offset + rep * steps * stem.step >= duration
  return times
end

-- Times of a pulse: offset + i * every (computed, not accumulated), before duration.
local function pulse_times(stem, duration)
  local times = {}
  local i = 0
  while true do
    local t = stem.offset + i * stem.every
    if t >= duration or (stem.count and i >= stem.count) then break end
    times[#times + 1] = t
    i = i + 1
  end
  return times
end

-- onsets.times(stem, duration, fail) -> the requested onset times (seconds, before any
-- jitter) of a checked stem. A listed onset at or beyond the end is an error; a pattern or
-- pulse simply stops there.
function onsets.times(stem, duration, fail)
  if stem.onsets then
    for i, t in ipairs(stem.onsets) do
      if t >= duration then
        fail(format("onset %d (%.17g s) is beyond the mix's end (%.17g s)", i, t, duration))
      end
    end
    return stem.onsets
  end
  if stem.pattern then return pattern_times(stem, duration, fail) end
  return pulse_times(stem, duration)
end

-- onsets.place(stem, times, frames, sr, random, fail) -> a list of {time, sample, gain} sorted by
-- time: each time jittered (clamped to the mix), snapped to the nearest sample (0-based),
-- with its linear gain (the stem's, moved by gain_jitter dB). Two draws per onset, always,
-- so turning one kind of jitter on does not change the other's numbers.
function onsets.place(stem, times, frames, sr, random, fail)
  local list = {}
  for i, t in ipairs(times) do
    local dt = (2 * random() - 1) * stem.jitter
    local db = (2 * random() - 1) * stem.gain_jitter
    if stem.jitter > 0 then
      t = t + dt
      if t < 0 then t = 0 end
      if t > (frames - 1) / sr then t = (frames - 1) / sr end
    end
    local sample = floor(t * sr + 0.5)
    if sample >= frames then
      fail(format("onset %d (%.17g s) falls after the mix's last sample (%.17g s)", i, t,
        (frames - 1) / sr))
    end
    local gain = stem.gain
    if stem.gain_jitter > 0 then gain = gain * 10 ^ (db / 20) end
    list[#list + 1] = { time = t, sample = sample, gain = gain }
  end
  sort(list, function(a, b)
    if a.time ~= b.time then return a.time < b.time end
    return a.gain < b.gain
  end)
  return list
end


return onsets
