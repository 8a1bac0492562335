-- tessera.args: checking the arguments and options of the Lua library (tessera.score,
-- tessera.midi). A failed check raises "<who>: <what> must be <rule>, got <value>" with no
-- position (as tessera.crosssynth does), so that a recipe or the CLI can pass it on as is.
--
--   local o = args.options(WHO, opts, { "grid", "swing" })   -- a copy; unknown keys refused
--   local grid = args.positive(WHO, "grid", o.grid)
local core = require "tessera.core"

local error, ipairs, pairs, tostring, type = error, ipairs, pairs, tostring, type
local floor, huge, math_type, tointeger = math.floor, math.huge, math.type, math.tointeger
local format = string.format
local concat, sort = table.concat, table.sort

local args = {}

-- A value as a message shows it: numbers as Lua prints them, strings quoted, a Matrix with
-- its shape, anything else by its type.
function args.show(v)
  if type(v) == "number" then return v ~= v and "nan" or tostring(v) end
  if type(v) == "string" then return format("'%s'", v) end
  if core.type(v) == "Matrix" then return format("a %d x %d Matrix", v:shape()) end
  return core.type(v) or type(v)
end
local show = args.show

-- args.did_you_mean(name, names) -> "; did you mean 'x'?" when x, one of the list names,
-- is what name misspells, else "": the tail of every message that refuses a name (an
-- option key, a loss, a window, a phase method), from the one helper the bindings and the
-- command line use too (tsr_closest_name in csrc/names.c).
function args.did_you_mean(name, names)
  if type(name) ~= "string" then return "" end
  local close = core.util.closest(name, names)
  return close and format("; did you mean '%s'?", close) or ""
end
local did_you_mean = args.did_you_mean

function args.fail(who, fmt, ...)
  error(who .. ": " .. format(fmt, ...), 0)
end
local fail = args.fail

-- opts (nil: none) checked against the list of valid keys; returns a shallow copy.
function args.options(who, opts, valid)
  if opts == nil then return {} end
  if type(opts) ~= "table" then fail(who, "options must be a table, got %s", show(opts)) end
  local known = {}
  for _, key in ipairs(valid) do known[key] = true end
  local copy, unknown = {}, {}
  for key, v in pairs(opts) do
    if known[key] then copy[key] = v else unknown[#unknown + 1] = tostring(key) end
  end
  if #unknown > 0 then
    sort(unknown)
    local names = {}
    for i, key in ipairs(valid) do names[i] = key end
    sort(names)
    fail(who, "unknown option '%s' (valid: %s)%s", unknown[1], concat(names, ", "),
         did_you_mean(unknown[1], names))
  end
  return copy
end

local function finite(v)
  return type(v) == "number" and v == v and v ~= huge and v ~= -huge
end
args.is_finite = finite

function args.finite(who, name, v)
  if not finite(v) then fail(who, "%s must be a finite number, got %s", name, show(v)) end
  return v
end

function args.positive(who, name, v)
  if not finite(v) or v <= 0 then fail(who, "%s must be a number > 0, got %s", name, show(v)) end
  return v
end

function args.nonnegative(who, name, v)
  if not finite(v) or v < 0 then fail(who, "%s must be a number >= 0, got %s", name, show(v)) end
  return v
end

-- A number in [0, 1] (a probability, a relative threshold, a swing).
function args.unit(who, name, v)
  if not finite(v) or v < 0 or v > 1 then
    fail(who, "%s must be a number in [0, 1], got %s", name, show(v))
  end
  return v
end

-- An integer (a float with an integral value is taken) >= lo, and <= hi when hi is given.
function args.integer(who, name, v, lo, hi)
  local i = finite(v) and v == floor(v) and tointeger(v) or nil
  if i == nil or i < lo or (hi and i > hi) then
    if hi then fail(who, "%s must be an integer in %d..%d, got %s", name, lo, hi, show(v)) end
    fail(who, "%s must be an integer >= %d, got %s", name, lo, show(v))
  end
  return i
end

function args.boolean(who, name, v)
  if type(v) ~= "boolean" then fail(who, "%s must be true or false, got %s", name, show(v)) end
  return v
end

function args.string(who, name, v)
  if type(v) ~= "string" then fail(who, "%s must be a string, got %s", name, show(v)) end
  return v
end

-- The values of an activation row as a Lua list: a 1 x p Matrix (H:row(i)) or a list of
-- finite numbers.
function args.row(who, row, name)
  name = name or "the row"
  local x
  if core.type(row) == "Matrix" then
    local r, c = row:shape()
    if r ~= 1 then fail(who, "%s must be 1 x p (use H:row(i)), got %s", name, show(row)) end
    if c == 0 then fail(who, "%s is empty", name) end
    x = row:totable()[1]
  elseif type(row) == "table" and math_type(#row) == "integer" then
    x = row
    if #x == 0 then fail(who, "%s is empty", name) end
  else
    fail(who, "%s must be a 1 x p Matrix or a list of numbers, got %s", name, show(row))
  end
  for j = 1, #x do
    if not finite(x[j]) then fail(who, "value %d of %s is %s", j, name, show(x[j])) end
  end
  return x
end

return args
