--- tessera.analysis: what the activations say about time. An NMF activation row (a row of
-- H) of a drum or a riff rises every time its sound plays, so its autocorrelation peaks at
-- the sound's period; the rows together give the tempo.
--
--   local m = tessera.nmf(V, { k = 4 })
--   local frames, seconds, strength = tessera.analysis.period(m.H:row(1), 22050, 512)
--   local t = tessera.analysis.tempo(m.H, 22050, 512)   -- t.bpm, t.strength, t.candidates
--
-- A row is a 1 x p Matrix (H:row(i)) or a list of numbers; sr is the sample rate and hop
-- the STFT hop the activations were computed with, so a frame lasts hop / sr seconds.
-- @module tessera.analysis
local core = require "tessera.core"
local did_you_mean = require("tessera.args").did_you_mean

local error, ipairs, pairs, tostring, type = error, ipairs, pairs, tostring, type
local exp, floor, huge, log, math_type = math.exp, math.floor, math.huge, math.log, math.type
local format = string.format
local sort = table.sort

local analysis = {}

-- ---- arguments -----------------------------------------------------------------------

local function argerror(n, fn, msg)
  error(format("bad argument #%d to '%s' (%s)", n, fn, msg), 3)
end

local function shown(v)
  if type(v) == "number" or type(v) == "string" then return tostring(v) end
  return core.type(v) or type(v)
end

-- sr and hop: positive integers, as the STFT takes them.
local function check_geometry(fn, sr, hop, first)
  if math_type(sr) ~= "integer" and not (type(sr) == "number" and sr == floor(sr)) or sr <= 0
      or sr ~= sr or sr == huge then
    argerror(first, fn, "sr must be a positive integer, got " .. shown(sr))
  end
  if math_type(hop) ~= "integer" and not (type(hop) == "number" and hop == floor(hop)) or hop <= 0
      or hop ~= hop or hop == huge then
    argerror(first + 1, fn, "hop must be a positive integer, got " .. shown(hop))
  end
end

-- The values of a row argument as a Lua list (numbers, finite).
local function values_of(fn, row)
  local x
  if core.type(row) == "Matrix" then
    local r, c = row:shape()
    if r ~= 1 and c ~= 1 then
      argerror(1, fn, format("a row must be 1 x p (use H:row(i)), got %d x %d", r, c))
    end
    x = r == 1 and row:totable()[1] or row:T():totable()[1]
  elseif type(row) == "table" then
    x = row
    for j, v in ipairs(x) do
      if type(v) ~= "number" then
        argerror(1, fn, format("value %d of the row is a %s, not a number", j, type(v)))
      end
    end
  else
    argerror(1, fn, "a row (1 x p Matrix or list of numbers) expected, got " .. shown(row))
  end
  if x == nil or #x == 0 then argerror(1, fn, "the row is empty") end
  for j, v in ipairs(x) do
    if v ~= v or v == huge or v == -huge then
      argerror(1, fn, format("value %d of the row is %s", j, tostring(v)))
    end
  end
  return x
end

-- ---- autocorrelation -----------------------------------------------------------------

-- The row less its mean, and the energy of that (0 for a constant row).
local function centred(values)
  local p = #values
  local x, mean = {}, 0
  for j = 1, p do
    x[j] = values[j]
    mean = mean + x[j]
  end
  mean = mean / p
  local energy = 0
  for j = 1, p do
    x[j] = x[j] - mean
    energy = energy + x[j] * x[j]
  end
  return x, energy
end

-- Sums s[lag] = sum_j x[j] x[j + lag] for lag = 1..max_lag (not normalised).
local function lagged_sums(x, max_lag)
  local p = #x
  local s = {}
  for lag = 1, max_lag do
    local acc = 0
    for j = 1, p - lag do acc = acc + x[j] * x[j + lag] end
    s[lag] = acc
  end
  return s
end

--- analysis.period(row, sr, hop) -> frames, seconds, strength, or nil when the row has no
-- peak: the lag (in frames, at least 2, at most half the row) with the highest normalised
-- autocorrelation of the mean-removed row that is also a local peak, that lag in seconds
-- (lag * hop / sr), and the autocorrelation there (1 for a perfectly periodic row). A row
-- of zeros is an error: it was never active, so it has no period to ask about.
-- @tparam Matrix|table row an activation row (1 x p Matrix or a list)
-- @int sr sample rate
-- @int hop hop
-- @treturn number the period in seconds
-- @treturn number the autocorrelation there
-- @raise a row of zeros; bad sr or hop.
-- @usage local seconds, r = tessera.analysis.period(m.H:row(1), 22050, 512)
function analysis.period(row, sr, hop)
  local values = values_of("period", row)
  check_geometry("period", sr, hop, 2)
  local any = false
  for _, v in ipairs(values) do any = any or v ~= 0 end
  if not any then argerror(1, "period", format("the row is all zeros (%d frames)", #values)) end
  local x, energy = centred(values)
  if energy <= 0 then return nil end
  local p = #x
  local s = lagged_sums(x, p // 2 + 1)
  local r = {}
  for lag = 1, p // 2 + 1 do r[lag] = s[lag] / energy end
  local best, best_r
  for lag = 2, p // 2 do
    if r[lag] > r[lag - 1] and r[lag] >= r[lag + 1] and (not best_r or r[lag] > best_r) then
      best, best_r = lag, r[lag]
    end
  end
  if not best then return nil end
  return best, best * hop / sr, best_r
end

-- ---- tempo ---------------------------------------------------------------------------

local tempo_options = { min_bpm = true, max_bpm = true, prior_bpm = true, prior_octaves = true,
                        onsets = true }

local function tempo_opts(opts)
  local o = { min_bpm = 40, max_bpm = 240, prior_bpm = 120, prior_octaves = 1, onsets = true }
  if opts == nil then return o end
  if type(opts) ~= "table" then argerror(4, "tempo", "options table expected, got " .. shown(opts)) end
  for k, v in pairs(opts) do
    if not tempo_options[k] then
      local names = { "max_bpm", "min_bpm", "onsets", "prior_bpm", "prior_octaves" }
      argerror(4, "tempo", format("unknown option '%s' (valid: %s)%s", tostring(k),
        table.concat(names, ", "), did_you_mean(k, names)))
    end
    if k == "onsets" then
      if type(v) ~= "boolean" then argerror(4, "tempo", "onsets must be a boolean, got " .. shown(v)) end
    elseif type(v) ~= "number" or v ~= v or v <= 0 or v == huge then
      argerror(4, "tempo", format("%s must be a number > 0, got %s", k, shown(v)))
    end
    o[k] = v
  end
  if o.min_bpm >= o.max_bpm then
    argerror(4, "tempo", format("min_bpm (%g) must be below max_bpm (%g)", o.min_bpm, o.max_bpm))
  end
  return o
end

-- How much a row rises from each frame to the next (0 where it falls): the onsets of its
-- sound, whose period is the beat's even when the sound lingers.
local function rises(x)
  local d = { 0 }
  for j = 2, #x do
    local v = x[j] - x[j - 1]
    d[j] = v > 0 and v or 0
  end
  return d
end

-- The vertex of the parabola through (-1, a), (0, b), (1, c): the peak's offset in -0.5..0.5.
local function vertex(a, b, c)
  local d = a - 2 * b + c
  if d >= 0 then return 0 end
  local v = 0.5 * (a - c) / d
  if v > 0.5 then return 0.5 elseif v < -0.5 then return -0.5 end
  return v
end

--- analysis.tempo(H, sr, hop [, opts]) -> a table describing the tempo of the activations
-- H (k x p, one row per component):
--   bpm        the estimate (beats per minute)
--   frames     its beat period in frames (fractional: the peak refined by a parabola)
--   seconds    that period in seconds
--   strength   the combined autocorrelation at the chosen lag (1: perfectly periodic)
--   candidates every local peak of the combined autocorrelation inside the range, best
--              first by score: { bpm =, frames =, strength =, score = }
--   weights    each row's share of the activations' energy (its weight below)
-- How: each row becomes its rises (x[j] - x[j-1] where positive: the onsets of its sound;
-- opts.onsets = false keeps the row as it is) and is mean-removed; its lagged products are
-- summed and the sums of all rows are divided by the rows' total energy: the rows'
-- normalised autocorrelations weighted by their energy (a loud drum row counts more than a
-- faint one). The lags
-- between 60/max_bpm and 60/min_bpm seconds (opts min_bpm 40, max_bpm 240) are searched
-- for local peaks. A beat's autocorrelation also peaks at twice and half its period (the
-- octave ambiguity), so each peak's strength is multiplied by a log-normal prior centred
-- on prior_bpm (120) with prior_octaves (1) octaves of spread, as librosa's tempo does:
-- between a peak and its octave the one nearer 120 BPM wins unless it is clearly weaker.
-- The candidates show the other octaves and their strengths. A beat with no periodicity of
-- its own is not found: in a breakbeat (the amen, loop_breakbeat) the kick-snare cycle
-- repeats every two beats while single beats differ, so the estimate is the half-bar, half
-- the notated tempo, to within a fraction of a percent. Raises for an H without
-- frames or with no energy, a range that holds no lag, or bad sr/hop.
-- @tparam Matrix H activations (k x p)
-- @int sr sample rate
-- @int hop hop
-- @tab[opt] opts `min_bpm`, `max_bpm`: the range searched
-- @treturn table {bpm, period, ...}
-- @raise an H without frames or energy; a range that holds no lag; bad sr or hop.
-- @usage print(tessera.analysis.tempo(m.H, 22050, 512).bpm)
function analysis.tempo(H, sr, hop, opts)
  if core.type(H) ~= "Matrix" then argerror(1, "tempo", "Matrix expected, got " .. shown(H)) end
  check_geometry("tempo", sr, hop, 2)
  local o = tempo_opts(opts)
  local k, p = H:shape()
  if k == 0 or p == 0 then argerror(1, "tempo", format("H is empty (%d x %d)", k, p)) end
  local rate = sr / hop -- frames per second
  local lo = 60 * rate / o.max_bpm
  local hi = 60 * rate / o.min_bpm
  local first, last = math.max(2, floor(lo)), math.min(p - 2, math.ceil(hi))
  if first > last then
    argerror(1, "tempo", format("%d frames cannot hold a beat between %g and %g BPM "
      .. "(lags %.1f..%.1f frames)", p, o.min_bpm, o.max_bpm, lo, hi))
  end
  local rows = H:totable()
  local total, sums, energies = 0, {}, {}
  for i = 1, k do
    local x, energy = centred(o.onsets and rises(rows[i]) or rows[i])
    energies[i] = energy
    total = total + energy
    if energy > 0 then
      local s = lagged_sums(x, last + 1)
      for lag = 1, last + 1 do sums[lag] = (sums[lag] or 0) + s[lag] end
    end
  end
  if total <= 0 then argerror(1, "tempo", "H has no varying activation (every row is constant)") end
  local R = { [0] = 1 }
  for lag = 1, last + 1 do R[lag] = sums[lag] / total end
  local weights = {}
  for i = 1, k do weights[i] = energies[i] / total end
  local candidates = {}
  for lag = first, last do
    if R[lag] > R[lag - 1] and R[lag] >= R[lag + 1] and R[lag] > 0 then
      local frames = lag + vertex(R[lag - 1], R[lag], R[lag + 1])
      local bpm = 60 * rate / frames
      if bpm >= o.min_bpm and bpm <= o.max_bpm then
        local octaves = log(bpm / o.prior_bpm, 2) / o.prior_octaves
        candidates[#candidates + 1] = { bpm = bpm, frames = frames, strength = R[lag],
                                        score = R[lag] * exp(-0.5 * octaves * octaves) }
      end
    end
  end
  if #candidates == 0 then
    error(format("tessera.analysis.tempo: the activations have no periodic peak between %g "
      .. "and %g BPM", o.min_bpm, o.max_bpm), 2)
  end
  sort(candidates, function(a, b) return a.score > b.score end)
  local best = candidates[1]
  return { bpm = best.bpm, frames = best.frames, seconds = best.frames / rate,
           strength = best.strength, candidates = candidates, weights = weights }
end

-- Errors leave the public functions at the caller's line (lua/tessera/entry.lua).
return require("tessera.entry").export(analysis)
