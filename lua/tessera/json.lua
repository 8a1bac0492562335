-- tessera.json: JSON that keeps every double exactly (lua-cjson writes at most 14
-- significant digits, which would not read back a loss as it was computed), with sorted
-- keys so that equal values give equal text; and decoding with null as nil.
--
--   local json = require "tessera.json"
--   json.encode({ loss = 0.1 + 0.2, k = 4 })   -- {"k":4,"loss":0.30000000000000004}
--   json.decode('{"k":4.0,"x":null}')          -- { k = 4 } (whole numbers as integers)
local cjson = require "cjson"

local ipairs, pairs, tostring, type = ipairs, pairs, tostring, type
local math_type, tointeger, huge = math.type, math.tointeger, math.huge
local concat, sort = table.concat, table.sort
local format = string.format

local json = {}

local escapes = { ['"'] = '\\"', ["\\"] = "\\\\" }

local function quote(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or format("\\u%04x", c:byte())
  end) .. '"'
end

-- json.encode(v) -> text. Integers as integers, floats with 17 significant digits (NaN and
-- infinities, which JSON lacks, as null), a table with a first element as an array, any
-- other table as an object with its keys (as strings) sorted; anything else is null.
function json.encode(v)
  local t = type(v)
  if t == "boolean" then return tostring(v)
  elseif t == "number" then
    if math_type(v) == "integer" then return format("%d", v) end
    if v ~= v or v == huge or v == -huge then return "null" end
    return format("%.17g", v)
  elseif t == "string" then
    return quote(v)
  elseif t == "table" then
    local parts = {}
    if v[1] ~= nil then
      for i, x in ipairs(v) do parts[i] = json.encode(x) end
      return "[" .. concat(parts, ",") .. "]"
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    sort(keys)
    for i, k in ipairs(keys) do parts[i] = quote(k) .. ":" .. json.encode(v[k]) end
    return "{" .. concat(parts, ",") .. "}"
  end
  return "null"
end

-- A decoded value with JSON null as nil and whole floats as integers (cjson reads every
-- number as a float).
local function denull(v)
  if v == cjson.null then return nil end
  if type(v) == "table" then
    for k, x in pairs(v) do v[k] = denull(x) end
  elseif math_type(v) == "float" and tointeger(v) then
    return tointeger(v)
  end
  return v
end

-- json.decode(text) -> the value (cjson.decode, then null as nil and whole numbers as
-- integers). Raises cjson's error on text that is not JSON.
function json.decode(text)
  return denull(cjson.decode(text))
end

return json
