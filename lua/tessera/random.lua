-- tessera.random: seeded random numbers that are the same on every build and platform
-- (math.random's generator and seeding are not part of Lua's contract): splitmix64, written
-- in Lua, whose 64-bit integers wrap as the algorithm needs.
--
--   local uniform = random.generator(seed, "kick")   -- one stream per (seed, name)
--   local x = uniform()                              -- in [0, 1)
local random = {}

-- splitmix64 bit for bit: the next state and the output.
local function splitmix64(state)
  state = state + 0x9E3779B97F4A7C15
  local z = state
  z = (z ~ (z >> 30)) * 0xBF58476D1CE4E5B9
  z = (z ~ (z >> 27)) * 0x94D049BB133111EB
  return state, z ~ (z >> 31)
end

-- FNV-1a of a string, 64-bit: a name as a number.
local function fnv1a(s)
  local h = 0xcbf29ce484222325
  for i = 1, #s do h = (h ~ s:byte(i)) * 0x100000001b3 end
  return h
end

-- random.generator(seed, name) -> a function returning uniform numbers in [0, 1): the
-- stream of an integer seed and a name (so that streams of different names do not move
-- when one more is drawn from).
function random.generator(seed, name)
  local state = select(2, splitmix64(seed ~ fnv1a(name or "")))
  return function()
    local z
    state, z = splitmix64(state)
    return (z >> 11) * 0x1p-53
  end
end

return random
