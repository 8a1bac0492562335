-- tessera.score.apply: a list of score edits run on an activation row, in the form a recipe
-- writes them (a layer's `pattern = {...}`). score.check reads such a list once (at load
-- time, with errors naming the op); score.apply runs it on a row, cheaply enough to run on
-- every re-render of live mode.
--
-- AN OP is a table whose first value names it; its main parameters may follow in order or
-- be given by name (not both), the others by name:
--
--   { "events", threshold = 0.1, min_gap = 3, strength = 0 }  -- how a row becomes events
--   { "quantize", grid = "1/16", swing = 0, amount = 1, phase = <tempo> }
--   { "shift", "1/16" }                      -- by (any sign); wrap = true turns the loop
--   { "gate", 2, bar = "1", phase = <tempo> }        -- n: the strongest n of every bar
--   { "mute", { 2, 4 }, grid = "1/16", bar = "1", phase = <tempo> }   -- steps, 1-based
--   { "reverse", step = 1 }
--   { "euclidean", 3, 8, 0, step = "1/16", strength = 1, mode = "replace", phase = <tempo> }
--   { "pattern", "x..x..x.", step = "1/16", strength = 1, mode = "replace", phase = <tempo> }
--   { "probability", 0.7, seed = <ctx.seed or 0> }
--   { "loop", "1" }                           -- period: repeat its first period
--   { "smooth", 3 }                           -- width: odd, frames
--   { "render", "impulse", span = 64 }        -- shape "row" (default) or "impulse"
--
-- Positional order: events -, quantize grid, shift by, gate n, mute steps, reverse -,
-- euclidean k n rotate, pattern pattern, probability p, loop period, smooth width, render
-- shape.
-- DURATIONS (grid, bar, step, phase, by, period) are frames (a number, fractional allowed)
-- or strings: a note value "1/16", "1/8", "3/16", "1/4" (a beat), "1" (a 4/4 bar), "2" (two
-- bars), which needs ctx.tempo (score.tempo's result), or seconds "0.5s", which need sr and
-- hop (ctx.sr and ctx.hop, or ctx.tempo's). phase defaults to ctx.tempo.phase (else 0),
-- grid and step to "1/16", bar to "1".
--
-- HOW A LIST RUNS: the row is the state to begin with. An op on events (quantize, shift,
-- gate, mute, reverse, euclidean, pattern, probability, loop) first picks the row's events
-- (score.events, with the options of the last "events" op, else the defaults); an op on the
-- row (smooth, events) first renders events back into a row (score.render with the shapes
-- of the row they were picked from, cut at all its events, so a removed note's start is
-- not carried by the note before it). What remains at the end is rendered likewise. An
-- empty list gives the row back as it is. euclidean and pattern in mode "replace" put
-- their onsets in place of the events: each a copy of the strongest event (its origin,
-- strength x its strength); in mode "mask" they keep the events on their onsets (an event
-- belongs to its nearest step).
local args = require "tessera.args"
local core = require "tessera.core"
local score = require "tessera.score"

local getmetatable, ipairs, pairs, setmetatable, tonumber, type = getmetatable, ipairs, pairs,
  setmetatable, tonumber, type
local format = string.format
local concat, sort = table.concat, table.sort

local M = {}

-- name -> { positional parameter names, every parameter name }
local OPS = {
  events = { {}, { "threshold", "min_gap", "strength" } },
  quantize = { { "grid" }, { "grid", "swing", "amount", "phase" } },
  shift = { { "by" }, { "by", "wrap" } },
  gate = { { "n" }, { "n", "bar", "phase" } },
  mute = { { "steps" }, { "steps", "grid", "bar", "phase" } },
  reverse = { {}, { "step" } },
  euclidean = { { "k", "n", "rotate" }, { "k", "n", "rotate", "step", "strength", "mode", "phase" } },
  pattern = { { "pattern" }, { "pattern", "step", "strength", "mode", "phase" } },
  probability = { { "p" }, { "p", "seed" } },
  loop = { { "period" }, { "period" } },
  smooth = { { "width" }, { "width" } },
  render = { { "shape" }, { "shape", "span" } },
}
local OP_NAMES = {}
for name in pairs(OPS) do OP_NAMES[#OP_NAMES + 1] = name end
sort(OP_NAMES)

local REQUIRED = { gate = { "n" }, mute = { "steps" }, euclidean = { "k", "n" },
  pattern = { "pattern" }, probability = { "p" }, loop = { "period" }, smooth = { "width" },
  shift = { "by" } }

-- ---- durations --------------------------------------------------------------------------------

-- A duration's syntax: a number, "n/d" or "n" (whole notes), "Xs" (seconds); signed only
-- where `signed`. Returns the value itself (resolved later against ctx) or raises.
local function check_duration(who, name, v, signed)
  if type(v) == "number" then
    if signed then return args.finite(who, name, v) end
    return args.positive(who, name, v)
  end
  if type(v) == "string" then
    local sign, n, d = v:match("^%s*([-+]?)(%d+)/(%d+)%s*$")
    if not n then sign, n = v:match("^%s*([-+]?)(%d+)%s*$") end
    local seconds = not n and v:match("^%s*([-+]?%d*%.?%d+)s%s*$")
    local ok = (n and (d == nil or tonumber(d) > 0) and tonumber(n) > 0)
      or (seconds and tonumber(seconds) ~= 0)
    if ok and (signed or (sign ~= "-" and not (seconds and tonumber(seconds) < 0))) then return v end
  end
  args.fail(who, "%s must be %s, a note value (\"1/16\", \"1/4\", \"1\" a bar) or seconds (\"0.5s\"), "
    .. "got %s", name, signed and "frames (a number)" or "frames (a number > 0)", args.show(v))
end

-- M.frames(value, ctx [, name]) -> frames: a duration (see above) resolved with ctx.tempo
-- (its period, frames per beat) or sr and hop.
function M.frames(value, ctx, name, who)
  who = who or "tessera.score.frames"
  name = name or "value"
  if type(value) == "number" then return value end
  check_duration(who, name, value, true)
  local s = value:gsub("%s", "")
  local seconds = s:match("^([-+]?%d*%.?%d+)s$")
  if seconds then
    local tempo = ctx and ctx.tempo
    local sr = ctx and ctx.sr or tempo and tempo.sr
    local hop = ctx and ctx.hop or tempo and tempo.hop
    if not (sr and hop) then
      args.fail(who, "%s %s is in seconds and needs sr and hop (ctx.sr and ctx.hop, or ctx.tempo)",
        name, args.show(value))
    end
    return tonumber(seconds) * sr / hop
  end
  local sign, n, d = s:match("^([-+]?)(%d+)/?(%d*)$")
  local tempo = ctx and ctx.tempo
  if not (tempo and tempo.period) then
    args.fail(who, "%s %s is a note value and needs a tempo (ctx.tempo, from score.tempo)", name,
      args.show(value))
  end
  local whole = tonumber(n) / (d ~= "" and tonumber(d) or 1)
  return (sign == "-" and -1 or 1) * whole * 4 * tempo.period
end

-- ---- checking a list ---------------------------------------------------------------------------

local Plan = {}

local function check_value(who, op, key, v)
  local name = op
  if key == "grid" or key == "bar" or key == "step" or key == "period" then
    return check_duration(who, key, v, false)
  elseif key == "phase" or key == "by" then
    return check_duration(who, key, v, true)
  elseif key == "threshold" or key == "swing" or key == "amount" or key == "p" then
    return args.unit(who, key, v)
  elseif key == "min_gap" or key == "strength" then
    return args.nonnegative(who, key, v)
  elseif key == "n" then
    return args.integer(who, key, v, name == "euclidean" and 1 or 0)
  elseif key == "k" then
    return args.integer(who, key, v, 0)
  elseif key == "rotate" or key == "seed" then
    return args.integer(who, key, v, math.mininteger)
  elseif key == "span" then
    return args.integer(who, key, v, 0)
  elseif key == "width" then
    local w = args.integer(who, key, v, 1)
    if w % 2 == 0 then args.fail(who, "width must be an odd integer >= 1, got %s", args.show(v)) end
    return w
  elseif key == "wrap" then
    return args.boolean(who, key, v)
  elseif key == "mode" then
    if v ~= "replace" and v ~= "mask" then
      args.fail(who, "mode must be 'replace' or 'mask', got %s%s", args.show(v),
        args.did_you_mean(v, { "replace", "mask" }))
    end
    return v
  elseif key == "shape" then
    if v ~= "row" and v ~= "impulse" then
      args.fail(who, "shape must be 'row' or 'impulse', got %s%s", args.show(v),
        args.did_you_mean(v, { "row", "impulse" }))
    end
    return v
  elseif key == "steps" then
    if type(v) ~= "table" then args.fail(who, "steps must be a list of step numbers, got %s", args.show(v)) end
    local steps = {}
    for i, s in ipairs(v) do steps[i] = args.integer(who, format("steps[%d]", i), s, 1) end
    return steps
  elseif key == "pattern" then
    score.pattern_list(who, v)
    return v
  end
  error("unreachable: " .. key)
end

-- One op descriptor checked into { name = , <parameter> = value, ... }.
local function check_op(who, i, op)
  if type(op) ~= "table" then
    args.fail(who, "op %d must be a table like {\"quantize\", grid = 4}, got %s", i, args.show(op))
  end
  local name = op[1]
  if type(name) ~= "string" or not OPS[name] then
    args.fail(who, "op %d: unknown op %s (valid: %s)%s", i, args.show(name), concat(OP_NAMES, ", "),
      args.did_you_mean(name, OP_NAMES))
  end
  local where = format("%s: op %d (%s)", who, i, name)
  local positional, keys = OPS[name][1], OPS[name][2]
  local known = {}
  for _, key in ipairs(keys) do known[key] = true end
  local checked = { name = name }
  local count = 0
  for key in pairs(op) do
    if type(key) == "number" and math.type(key) == "integer" and key >= 1 then
      count = math.max(count, key)
    elseif not known[key] then
      local names = {}
      for j, k in ipairs(keys) do names[j] = k end
      sort(names)
      args.fail(where, "unknown key %s (valid: %s)%s", args.show(key), concat(names, ", "),
        args.did_you_mean(key, names))
    end
  end
  if count - 1 > #positional then
    args.fail(where, "%d values after the name, but %s takes at most %d (%s)", count - 1, name,
      #positional, #positional > 0 and concat(positional, ", ") or "none")
  end
  for j = 2, count do
    local key = positional[j - 1]
    if op[j] ~= nil then
      if op[key] ~= nil then args.fail(where, "%s is given twice (value %d and %s =)", key, j, key) end
      checked[key] = check_value(where, name, key, op[j])
    end
  end
  for _, key in ipairs(keys) do
    if op[key] ~= nil then checked[key] = check_value(where, name, key, op[key]) end
  end
  for _, key in ipairs(REQUIRED[name] or {}) do
    if checked[key] == nil then args.fail(where, "%s is missing", key) end
  end
  if name == "euclidean" and checked.k > checked.n then
    args.fail(where, "k must be an integer in 0..%d (n), got %d", checked.n, checked.k)
  end
  return checked
end

-- M.check(ops [, who]) -> a checked list (a plan score.apply takes as is). Raises
-- "<who>: op <i> (<name>): ..." for the first problem; who defaults to tessera.score.check.
function M.check(ops, who)
  who = who or "tessera.score.check"
  if getmetatable(ops) == Plan then return ops end
  if type(ops) ~= "table" then
    args.fail(who, "ops must be a list of ops like {{\"quantize\", grid = 4}}, got %s", args.show(ops))
  end
  local plan = {}
  for key in pairs(ops) do
    if math.type(key) ~= "integer" or key < 1 or key > #ops then
      args.fail(who, "ops must be a list (1, 2, ...), found the key %s", args.show(key))
    end
  end
  for i, op in ipairs(ops) do plan[i] = check_op(who, i, op) end
  return setmetatable(plan, Plan)
end

-- ---- running a list ----------------------------------------------------------------------------

local function check_ctx(who, ctx)
  local c = args.options(who, ctx, { "length", "tempo", "seed", "sr", "hop" })
  if c.length ~= nil then c.length = args.integer(who, "ctx.length", c.length, 1) end
  if c.seed ~= nil then c.seed = args.integer(who, "ctx.seed", c.seed, math.mininteger) end
  if c.sr ~= nil then args.integer(who, "ctx.sr", c.sr, 1) end
  if c.hop ~= nil then args.integer(who, "ctx.hop", c.hop, 1) end
  local t = c.tempo
  if t ~= nil then
    if type(t) ~= "table" then
      args.fail(who, "ctx.tempo must be a table with period (as score.tempo gives), got %s", args.show(t))
    end
    args.positive(who, "ctx.tempo.period", t.period)
    if t.phase ~= nil then args.finite(who, "ctx.tempo.phase", t.phase) end
  end
  return c
end

-- The state of a running list: a row (x, a list of values) or events (with the row and
-- cuts their shapes come from).
local function new_state(x, length)
  return { x = x, length = length, pick = score.event_options("tessera.score.apply"),
           render = { span = score.defaults.span } }
end

local function to_events(st)
  if st.events then return st.events end
  st.events = score.pick(st.x, st.pick)
  st.shape_x, st.cuts = st.x, st.events
  return st.events
end

local function to_row(st, shape, span)
  if not st.events then return st.x end
  local r = { span = span or st.render.span }
  if shape ~= "impulse" then r.x, r.cuts = st.shape_x, score.cut_frames(st.cuts) end
  st.x = score.render_values(st.events, st.length, r)
  st.events = nil
  return st.x
end

-- The strongest event (the earliest of equals), or nil.
local function strongest(events)
  local best
  for _, e in ipairs(events) do
    if not best or e.strength > best.strength then best = e end
  end
  return best
end

-- euclidean and pattern: onsets (a list of booleans) every `step` frames from phase.
local function place_pattern(st, onsets, op, step, phase)
  local events = to_events(st)
  local n = #onsets
  if (op.mode or "replace") == "mask" then
    local out = {}
    for _, e in ipairs(events) do
      if onsets[math.floor((e.frame - phase) / step + 0.5) % n + 1] then out[#out + 1] = e end
    end
    return out
  end
  local top = strongest(events)
  if not top then return {} end
  local s = (op.strength or 1) * top.strength
  -- from the first step at or before frame 0, so a phase > 0 still fills the start
  local first = phase - math.ceil(phase / (n * step)) * n * step
  local out = {}
  for _, e in ipairs(score.pattern_events(onsets, { step = step, length = st.length,
      strength = s, phase = first, origin = top.origin })) do
    if e.frame >= 0 then out[#out + 1] = e end
  end
  return out
end

local RUN = {}

function RUN.events(st, op)
  to_row(st)
  st.pick = { threshold = op.threshold or score.defaults.threshold,
              min_gap = op.min_gap or score.defaults.min_gap,
              strength = op.strength or score.defaults.strength }
  to_events(st)
end

function RUN.quantize(st, op, d)
  st.events = score.quantize(to_events(st), { grid = d("grid", "1/16"), swing = op.swing,
    amount = op.amount, phase = d("phase") })
end

function RUN.shift(st, op, d)
  st.events = score.shift(to_events(st), d("by"), op.wrap and st.length or nil)
end

function RUN.gate(st, op, d)
  st.events = score.gate(to_events(st), { n = op.n, bar = d("bar", "1"), phase = d("phase") })
end

function RUN.mute(st, op, d, where)
  local grid, bar = d("grid", "1/16"), d("bar", "1")
  local n = score.steps_per_bar(where, bar, grid)
  for i, s in ipairs(op.steps) do args.integer(where, format("steps[%d]", i), s, 1, n) end
  st.events = score.mute(to_events(st), { steps = op.steps, grid = grid, bar = bar, phase = d("phase") })
end

function RUN.reverse(st, _, d)
  st.events = score.reverse(to_events(st), st.length, d("step", 1))
end

function RUN.euclidean(st, op, d)
  local onsets = score.euclidean(op.k, op.n, op.rotate)
  st.events = place_pattern(st, onsets, op, d("step", "1/16"), d("phase"))
end

function RUN.pattern(st, op, d)
  local onsets = score.pattern_list("tessera.score.apply", op.pattern)
  st.events = place_pattern(st, onsets, op, d("step", "1/16"), d("phase"))
end

function RUN.probability(st, op, _, _, ctx)
  st.events = score.probability(to_events(st), op.p, op.seed or ctx.seed or 0)
end

function RUN.loop(st, _, d)
  st.events = score.loop(to_events(st), d("period"), st.length)
end

function RUN.smooth(st, op)
  local x = to_row(st)
  st.x = score.smooth(x, op.width):totable()[1]
end

function RUN.render(st, op)
  to_row(st, op.shape, op.span)
end

-- M.apply(row, ops [, ctx]) -> a 1 x length Matrix: ops (a list as above, or score.check's
-- plan) run on row (a 1 x p Matrix or a list of numbers). ctx: length (frames of the
-- result, default p: a row state is cut or padded with zeros), tempo (score.tempo's
-- result: note values and default phases), seed (probability's default, 0), sr and hop
-- (durations in seconds).
function M.apply(row, ops, ctx)
  local who = "tessera.score.apply"
  local x = args.row(who, row)
  local plan = M.check(ops, who)
  local c = check_ctx(who, ctx)
  local length = c.length or #x
  local st = new_state(x, length)
  for i, op in ipairs(plan) do
    local where = format("%s: op %d (%s)", who, i, op.name)
    local function d(key, default)
      local v = op[key]
      if v == nil then
        if key == "phase" then return c.tempo and c.tempo.phase or 0 end
        v = default
      end
      local f = M.frames(v, c, key, where)
      if key ~= "phase" and key ~= "by" and f <= 0 then
        args.fail(where, "%s must be > 0 frames, got %s", key, args.show(f))
      end
      return f
    end
    RUN[op.name](st, op, d, where, c)
  end
  local y = to_row(st)
  local out = {}
  for j = 1, length do out[j] = y[j] or 0 end
  return core.matrix.from({ out })
end

return M
