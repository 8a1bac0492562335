-- tessera.memory: the max_memory option of tessera.nmf and tessera.stft. For the length of one
-- call it sets a ceiling on the process's live bytes (Lua's heap with every matrix and audio
-- in it, and the kernels' buffers) at what is live when the call starts plus max_memory, so
-- the call may hold at most max_memory more; TESSERA_MAX_MEMORY caps the whole process the
-- same way. The previous ceiling is put back however the call ends.
local util = require("tessera.core").util

local error, math_type, pairs, tostring, type = error, math.type, pairs, tostring, type
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

-- fn(...) allowed to hold at most `cap` more bytes than are live now; returns what fn returns.
-- The ceiling is set and put back in C (util.capped), so that nothing run in Lua between
-- fn's end and the restoring can fail for want of the memory fn used up.
function memory.capped(cap, fn, ...)
  return util.capped(cap, fn, ...)
end

return memory
