-- tessera.score.tempo: the beat and the 16th-note grid of a decomposition, from the
-- components' onsets (what score.quantize, gate and mute need in frames). Unlike
-- tessera.analysis.tempo, which reports the strongest period as it is (for a breakbeat the
-- two-beat kick-snare cycle), this one picks the beat a musician would count (see the rule
-- below) and the grid's phase.
local args = require "tessera.args"
local core = require "tessera.core"

local ipairs = ipairs
local ceil, floor, log, max, min = math.ceil, math.floor, math.log, math.max, math.min

local M = {}

local WHO = "tessera.score.tempo"
-- A beat of L frames is scored by the autocorrelation at its 16th and 8th notes and at 1 to 4
-- beats (a bar).
local FACTORS = { 1 / 4, 1 / 2, 1, 2, 3, 4 }
local FINE = 8 -- lags are searched in eighths of a frame

-- The onset envelope: each row's rises (x[j] - x[j-1] where positive), scaled so that the
-- row's largest rise is 1 (a quiet hi-hat counts as much as a loud kick), summed.
local function envelope(rows, p)
  local o = {}
  for j = 1, p do o[j] = 0 end
  local any = false
  for _, x in ipairs(rows) do
    local top = 0
    for j = 2, p do
      local d = x[j] - x[j - 1]
      if d > top then top = d end
    end
    if top > 0 then
      any = true
      for j = 2, p do
        local d = x[j] - x[j - 1]
        if d > 0 then o[j] = o[j] + d / top end
      end
    end
  end
  return o, any
end

-- The envelope's autocorrelation at lags 0..last, mean removed, each lag's sum divided by
-- the number of products in it (so long lags are not favoured less), R[0] = 1.
local function autocorrelation(o, last)
  local p, mean = #o, 0
  for j = 1, p do mean = mean + o[j] end
  mean = mean / p
  local x, energy = {}, 0
  for j = 1, p do
    x[j] = o[j] - mean
    energy = energy + x[j] * x[j]
  end
  local R = { [0] = 1 }
  for lag = 1, last do
    local s = 0
    for j = 1, p - lag do s = s + x[j] * x[j + lag] end
    R[lag] = energy > 0 and s / (p - lag) / (energy / p) or 0
  end
  return R
end

-- The envelope smoothed by the binomial kernel 1 4 6 4 1 (a Gaussian of one frame): an
-- onset that falls between two frames then correlates with its neighbours' as it should.
local function smoothed(o)
  local p, y = #o, {}
  local kernel = { 1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16 }
  for j = 1, p do
    local s = 0
    for d = -2, 2 do s = s + (o[j + d] or 0) * kernel[d + 3] end
    y[j] = s
  end
  return y
end

-- R at a fractional lag, linearly interpolated.
local function at_lag(R, t)
  local i = floor(t)
  local f = t - i
  return R[i] + f * ((R[i + 1] or R[i]) - R[i])
end

-- The vertex of the parabola through (-1, a), (0, b), (1, c): the peak's offset.
local function vertex(a, b, c)
  local d = a - 2 * b + c
  if d >= 0 then return 0 end
  return max(-0.5, min(0.5, 0.5 * (a - c) / d))
end

local function options(opts)
  local o = args.options(WHO, opts, { "sr", "hop", "min_bpm", "max_bpm", "prior_bpm" })
  local r = {
    sr = o.sr == nil and 22050 or args.integer(WHO, "sr", o.sr, 1),
    hop = o.hop == nil and 512 or args.integer(WHO, "hop", o.hop, 1),
    min_bpm = o.min_bpm == nil and 60 or args.positive(WHO, "min_bpm", o.min_bpm),
    max_bpm = o.max_bpm == nil and 200 or args.positive(WHO, "max_bpm", o.max_bpm),
    prior_bpm = o.prior_bpm == nil and 120 or args.positive(WHO, "prior_bpm", o.prior_bpm),
  }
  if r.min_bpm >= r.max_bpm then
    args.fail(WHO, "min_bpm (%g) must be below max_bpm (%g)", r.min_bpm, r.max_bpm)
  end
  return r
end

-- The octave of bpm (bpm * 2^n) inside [lo, hi] nearest prior on a log scale.
local function octave_of(bpm, lo, hi, prior)
  local best, best_d = bpm, math.huge
  for n = -8, 8 do
    local b = bpm * 2 ^ n
    if b >= lo * (1 - 1e-9) and b <= hi * (1 + 1e-9) then
      local d = math.abs(log(b / prior))
      if d < best_d then best, best_d = b, d end
    end
  end
  return best
end

-- The envelope at a fractional frame t (0-based), linearly interpolated; 0 outside.
local function at(o, t)
  local i = floor(t)
  local f = t - i
  local a, b = o[i + 1] or 0, o[i + 2] or 0
  return a + f * (b - a)
end

-- The grid's phase in [0, period): where a comb of one tooth per beat collects the most
-- onset strength, searched in quarter frames.
local function beat_phase(o, period)
  local p = #o
  local best, best_s = 0, -1
  for q = 0, ceil(period * 4) - 1 do
    local phi = q / 4
    if phi >= period then break end
    local s, t = 0, phi
    while t <= p - 1 do
      s = s + at(o, t)
      t = t + period
    end
    if s > best_s + 1e-12 then best, best_s = phi, s end
  end
  return best
end

-- score.tempo(H [, opts]) -> { bpm =, period = frames per beat, step = frames per 16th
-- (period / 4), bar = frames per 4/4 bar (4 periods), phase = the frame (0..period) of the
-- first beat: the grid is phase + i * step, strength = the autocorrelation score of the
-- chosen period (about 1 for a strictly periodic pattern), sr =, hop = }.
-- H: a k x p Matrix of activations (a 1 x p row works too). opts: sr (22050) and hop
-- (512) of the STFT, min_bpm (60), max_bpm (200), prior_bpm (120).
-- How: the rows' onset envelopes (rises, each row scaled to a largest rise of 1) are
-- summed and smoothed by a Gaussian of one frame; the sum's autocorrelation R (mean
-- removed, each lag's sum divided by its number of products) is interpolated linearly
-- between lags. Every lag L in eighths of a frame whose tempo lies in [min_bpm, max_bpm]
-- scores the mean of R(L/4), R(L/2), R(L), R(2L), R(3L), R(4L) (those up to half the
-- frames): a beat is periodic, and so are its bar and its 8th and 16th notes, which a
-- period of 3/4 or 2/3 of the beat does not have (scoring L alone, or its multiples alone,
-- took those on synthetic and real loops). The best lag is refined to a fraction of an
-- eighth by a parabola through the scores around it. (Searching whole lags only favoured
-- periods near a whole number of frames: loop_electric came out 4/3 too fast.)
-- THE OCTAVE RULE: the autocorrelation cannot tell a beat from two beats (a
-- breakbeat's kick-snare cycle repeats every two beats and scores best), so the reported
-- bpm is the octave of the estimate (x 2^n) inside [min_bpm, max_bpm] nearest prior_bpm
-- on a log scale: with the defaults, within 84.9..169.7 BPM. Narrow the range (or move
-- the prior) to get another octave, e.g. min_bpm = 150 for drum and bass at 174.
-- Raises for H without frames, with no row that rises, or too short for the range.
function M.tempo(H, opts)
  if core.type(H) ~= "Matrix" then
    args.fail(WHO, "H must be a k x p Matrix of activations, got %s", args.show(H))
  end
  local o = options(opts)
  local k, p = H:shape()
  if k == 0 or p == 0 then args.fail(WHO, "H is empty (%d x %d)", k, p) end
  local rate = o.sr / o.hop
  local lo, hi = 60 * rate / o.max_bpm, 60 * rate / o.min_bpm -- lags in frames
  local first, last = ceil(max(1, lo) * FINE), floor(min(hi, (p - 1) // 2 - 1) * FINE)
  if first > last then
    args.fail(WHO, "%d frames are too few for a beat between %g and %g BPM (%.1f to %.1f "
      .. "frames; twice that is needed)", p, o.min_bpm, o.max_bpm, lo, hi)
  end
  local rows = H:totable()
  for i, x in ipairs(rows) do args.row(WHO, x, "row " .. i .. " of H") end
  local env, any = envelope(rows, p)
  if not any then args.fail(WHO, "H has no onsets (no row ever rises)") end
  env = smoothed(env)
  local R = autocorrelation(env, min(p - 1, 4 * last // FINE + 2))
  local half = (p - 1) / 2
  local function S(lag) -- the mean of R at the lag's FACTORS that fit in half the frames
    local s, n = 0, 0
    for _, m in ipairs(FACTORS) do
      if m <= 1 or m * lag <= half then s, n = s + at_lag(R, m * lag), n + 1 end
    end
    return s / n
  end
  local best, best_s
  for q = first, last do
    local s = S(q / FINE)
    if not best_s or s > best_s then best, best_s = q / FINE, s end
  end
  local period = best + vertex(S(best - 1 / FINE), best_s, S(best + 1 / FINE)) / FINE
  local bpm = octave_of(60 * rate / period, o.min_bpm, o.max_bpm, o.prior_bpm)
  period = 60 * rate / bpm
  return { bpm = bpm, period = period, step = period / 4, bar = 4 * period,
           phase = beat_phase(env, period), strength = best_s, sr = o.sr, hop = o.hop }
end

return M
