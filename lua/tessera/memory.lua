-- tessera.memory: the max_memory option of tessera.nmf and tessera.stft. It sets the cap
-- that every C allocation checks (as TESSERA_MAX_MEMORY does for the whole process) for the
-- length of one call, and puts the previous cap back however the call ends.
local util = require("tessera.core").util

local error, math_type, pairs, pcall, tostring, type = error, math.type, pairs, pcall, tostring, type
local pack, unpack = table.pack, table.unpack
local format = string.format

local memory = {}

-- Returns opts without max_memory (the same table when it has none) and the cap, or nil.
-- A cap that is not a positive integer is an argument error of `who`, raised at `level`.
function memory.split(opts, who, arg, level)
  if type(opts) ~= "table" or opts.max_memory == nil then return opts, nil end
  local cap = opts.max_memory
  if math_type(cap) ~= "integer" or cap < 1 then
    error(format("bad argument #%d to '%s' (max_memory must be a positive integer, got %s)",
                 arg, who, tostring(cap)), level + 1)
  end
  local rest = {}
  for key, v in pairs(opts) do
    if key ~= "max_memory" then rest[key] = v end
  end
  return rest, cap
end

-- fn(...) with the allocation cap set to `cap` bytes; returns what fn returns.
function memory.capped(cap, fn, ...)
  local previous = util.memory_cap()
  util.memory_cap(cap)
  local result = pack(pcall(fn, ...))
  util.memory_cap(previous)
  if not result[1] then error(result[2], 0) end
  return unpack(result, 2, result.n)
end

return memory
