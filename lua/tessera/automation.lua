--- tessera.automation: a value that moves over a render's frames, written as recipes write
-- it: a number (held), a ramp { from = a, to = b, shape = "linear" | "smooth" } across the
-- whole output, or breakpoints { {seconds, value}, ... } (straight lines between them, the
-- first and last values held before and after). tessera.pitch's glides, tessera.morph's
-- curves and the recipe keys pitch and morph read it.
-- @module tessera.automation
local format = string.format
local did_you_mean = require("tessera.args").did_you_mean
local getmetatable, ipairs, pairs, type = getmetatable, ipairs, pairs, type

local automation = {}

local function finite(v) return type(v) == "number" and v == v and v > -math.huge and v < math.huge end

local function within(v, lo, hi) return finite(v) and v >= lo and v <= hi end

local shapes = { linear = function(x) return x end,
                 smooth = function(x) return x * x * (3 - 2 * x) end }

--- automation.problem(spec, lo, hi) -> nil when spec is a valid automation of values in
-- [lo, hi], else what is wrong with it (a phrase for "key 'pitch' ...").
-- @param spec a number, {from, to, shape}, or breakpoints {{t, v}, ...}
-- @number lo the lowest value allowed
-- @number hi the highest value allowed
-- @treturn string|nil what is wrong, or nil
-- @raise never (it reports).
-- @usage assert(not tessera.automation.problem({from = 0, to = 12}, -48, 48))
function automation.problem(spec, lo, hi)
  local range = format("in %g..%g", lo, hi)
  if type(spec) == "number" then
    return not within(spec, lo, hi) and format("must be a number %s, got %g", range, spec) or nil
  end
  if type(spec) ~= "table" or getmetatable(spec) ~= nil then
    return format("must be a number, a ramp {from =, to =} or a list of {seconds, value}, got %s",
      type(spec))
  end
  if spec.from ~= nil or spec.to ~= nil or spec.shape ~= nil then
    for key in pairs(spec) do
      if key ~= "from" and key ~= "to" and key ~= "shape" then
        return format("has key %s; a ramp takes from, to and shape", type(key) == "string"
          and "'" .. key .. "'" or type(key))
      end
    end
    for _, key in ipairs { "from", "to" } do
      if not within(spec[key], lo, hi) then
        return format("'%s' must be a number %s", key, range)
      end
    end
    if spec.shape ~= nil and not shapes[spec.shape] then
      return "'shape' must be 'linear' or 'smooth'" .. did_you_mean(spec.shape, { "linear", "smooth" })
    end
    return nil
  end
  if #spec == 0 then return "must not be empty" end
  local last = -math.huge
  for k, point in pairs(spec) do
    if math.type(k) ~= "integer" or k < 1 or k > #spec then
      return "must be a list of {seconds, value} breakpoints"
    end
    if type(point) ~= "table" or getmetatable(point) ~= nil or #point ~= 2 then
      return format("breakpoint %d must be {seconds, value}", k)
    end
  end
  for i, point in ipairs(spec) do
    local at, v = point[1], point[2]
    if not finite(at) or at < 0 then
      return format("breakpoint %d: its time must be a number of seconds >= 0", i)
    end
    if at < last then return format("breakpoint %d comes before breakpoint %d", i, i - 1) end
    if not within(v, lo, hi) then return format("breakpoint %d: its value must be %s", i, range) end
    last = at
  end
  return nil
end

--- automation.values(spec, frames, sr, hop) -> the value at each of `frames` frames (frame j
-- at j hop / sr seconds; a ramp runs from the first frame to the last). spec must be valid.
-- @param spec a valid automation
-- @int frames the frames
-- @int sr sample rate
-- @int hop hop
-- @treturn table one value per frame
-- @raise when spec is not valid.
-- @usage local glide = tessera.automation.values({from = 0, to = 12}, 100, 22050, 512)
function automation.values(spec, frames, sr, hop)
  local out = {}
  if type(spec) == "number" then
    for j = 1, frames do out[j] = spec end
  elseif spec.from ~= nil then
    local shape = shapes[spec.shape or "linear"]
    local span = frames > 1 and frames - 1 or 1
    for j = 1, frames do out[j] = spec.from + (spec.to - spec.from) * shape((j - 1) / span) end
  else
    local n, i = #spec, 1
    for j = 1, frames do
      local at = (j - 1) * hop / sr
      while i < n and spec[i + 1][1] <= at do i = i + 1 end
      local a, b = spec[i], spec[i + 1]
      if at <= a[1] or b == nil then
        out[j] = a[2]
      else
        out[j] = a[2] + (b[2] - a[2]) * (at - a[1]) / (b[1] - a[1])
      end
    end
  end
  return out
end

-- Errors leave the public functions at the caller's line (lua/tessera/entry.lua).
return require("tessera.entry").export(automation)
