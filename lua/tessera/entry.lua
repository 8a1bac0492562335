-- tessera.entry: errors from the Lua library located at the caller's line. A check deep in
-- the library (or in a C binding the library calls) would otherwise name the library's
-- file ("lua/tessera/nmf.lua:182: bad argument #2 to 'nmf' ...") or no place at all; a
-- user wants the line of their own script that made the call. Each module hands its public
-- functions to entry.export once, and every error leaving one of them towards code outside
-- the library gets that code's position:
--
--   script.lua:4: bad argument #2 to 'nmf' (unknown option 'lose' (valid: ...); did you
--   mean 'loss'?)
--
-- Called from inside the library, a public function raises as it always did (the library's
-- own pcalls see the same messages), and its caller's public function locates the error
-- when it leaves the library. Called by a C function (pcall(t.nmf, ...)), it raises as it
-- always did too, as Lua's own functions give no position there. C functions are not
-- wrapped: called from a script, Lua already gives their errors the script's position.
-- With --debug or TESSERA_DEBUG, errors are left as raised, so the traceback shows where
-- they came from.
local error, getinfo, getmetatable, pairs, pcall, rawget, setmetatable, type =
  error, debug.getinfo, getmetatable, pairs, pcall, rawget, setmetatable, type

local entry = {}

-- The folder of the library's files as their chunk names give it ("@/x/lua/tessera/").
local source = getinfo(1, "S").source
local ROOT = source:match("^(@.*/)entry%.lua$") or source:match("^(@)entry%.lua$") or "@"

local function in_library(src)
  return src:sub(1, #ROOT) == ROOT
end
entry.in_library = in_library

-- Whether errors keep their place (a traceback is wanted instead).
local function debugging()
  if package.preload["tessera.host"] then return require("tessera.host").debug end
  local v = os.getenv("TESSERA_DEBUG")
  return v ~= nil and v ~= "" and v ~= "0"
end
local DEBUG = debugging()

-- The function that called the one at stack level `level` (as a caller of getinfo counts):
-- its debug info when it is a Lua function, nil when it is a C function (pcall, table.sort:
-- Lua gives no position there either) or there is none.
local function lua_caller(level)
  local info = getinfo(level + 1, "Sl")
  if info == nil or info.what == "C" then return nil end
  return info
end

-- The position prefix "chunk:line: " at the start of msg, or nil. A chunk name is a path
-- without ": " in it, or Lua's [string "..."].
local function position_of(msg)
  local chunk, rest = msg:match('^(%[string ".-"%]):%d+: ()')
  if chunk then return chunk, rest end
  chunk, rest = msg:match("^([^\n]-):%d+: ()")
  if chunk and not chunk:find(": ", 1, true) then return chunk, rest end
  return nil
end

-- Whether a chunk name as an error message shows it (Lua's short_src: the path, or
-- "..." and its tail when long) is one of the library's files.
local LIB = ROOT:sub(2)
local function library_chunk(chunk)
  if chunk:sub(1, #LIB) == LIB then return chunk:sub(#LIB + 1):match("^[%w_/]+%.lua$") ~= nil end
  if chunk:sub(1, 3) ~= "..." then return false end
  local c = chunk:sub(4)
  for k = 1, #LIB do
    local tail = LIB:sub(k)
    if c:sub(1, #tail) == tail then return c:sub(#tail + 1):match("^[%w_/]+%.lua$") ~= nil end
  end
  return false
end

-- msg placed at info's line: a position in the library replaced by the caller's, and one
-- added to the library's own messages raised without ("tessera.mosaic: ...", "bad argument
-- ..."). Anything else is kept as it was raised: a position elsewhere (the user's callback,
-- a recipe's line), a message of the user's own with none.
local function relocate(msg, info)
  if type(msg) ~= "string" or info.currentline <= 0 then return msg end
  local chunk, rest = position_of(msg)
  if chunk then
    if not library_chunk(chunk) then return msg end
    msg = msg:sub(rest)
  elseif not (msg:find("^tessera") or msg:find("^bad argument #")) then
    return msg
  end
  return info.short_src .. ":" .. info.currentline .. ": " .. msg
end

local function finish(info, ok, ...)
  if ok then return ... end
  error(relocate((...), info), 0)
end

local wrapped = setmetatable({}, { __mode = "k" }) -- the wrappers made, so none is wrapped twice

-- entry.wrap(fn) -> a function that calls fn and locates its errors at its caller's line
-- when that caller is outside the library (fn itself when debugging).
function entry.wrap(fn)
  if DEBUG or wrapped[fn] then return fn end
  local function located(...)
    local info = lua_caller(2)
    if info == nil or in_library(info.source) then return fn(...) end
    return finish(info, pcall(fn, ...))
  end
  wrapped[located] = true
  return located
end

-- entry.export(t [, names]) -> t: its Lua functions (those listed, or every one) replaced by
-- located ones, and its __call too when t is a callable module. Not recursive: nested
-- tables that hold functions are exported themselves.
function entry.export(t, names)
  if DEBUG then return t end
  local function wrap_field(key)
    local v = rawget(t, key)
    if type(v) == "function" and getinfo(v, "S").what ~= "C" then t[key] = entry.wrap(v) end
  end
  if names then
    for i = 1, #names do wrap_field(names[i]) end
  else
    local keys = {}
    for key in pairs(t) do keys[#keys + 1] = key end
    for i = 1, #keys do wrap_field(keys[i]) end
  end
  local mt = getmetatable(t)
  if type(mt) == "table" and type(rawget(mt, "__call")) == "function" then
    mt.__call = entry.wrap(mt.__call)
  end
  return t
end

return entry
