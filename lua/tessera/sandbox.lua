-- tessera.sandbox: the restricted environment recipes run in. A recipe is data-like Lua
-- written by someone else: it gets pure Lua (string, table, math, utf8, coroutine, a few
-- os clock functions) and the tessera API, but no os.execute, io, require, debug, loading
-- of bytecode, or file access outside its own folder (reads) and the paths the caller
-- allows (writes). It runs under a CPU budget (VM instructions, counted by a hook) and a
-- memory budget (its Lua heap and the tessera buffers it makes, counted by the allocator),
-- both enforced in C (tessera.core.sandbox) and configurable per environment.
--
--   local env = sandbox.env("/path/to/recipes", { writable = { "/path/to/out.wav" },
--                                                 memory = 64e6, instructions = 1e8 })
--   local ok, value = sandbox.run("/path/to/recipes/swap.lua", env)
local core = require "tessera.core"
local fs = require "tessera.fs"

local error, ipairs, pairs, pcall, select, setmetatable, getmetatable, tostring, type =
  error, ipairs, pairs, pcall, select, setmetatable, getmetatable, tostring, type
local load, next, rawget, rawlen, rawset = load, next, rawget, rawlen, rawset
local pack, unpack = table.pack, table.unpack
local budget = core.sandbox
local format = string.format
local concat = table.concat

local sandbox = {}

-- Parses a byte count: a number, or a string with an optional K/M/G suffix (powers of 1024).
local function parse_bytes(text)
  local n, unit = tostring(text):match("^%s*([%d%.]+)%s*([kKmMgG]?)%s*$")
  n = tonumber(n)
  if not n then return nil end
  local scale = ({ [""] = 1, k = 1024, m = 1024 ^ 2, g = 1024 ^ 3 })[unit:lower()]
  return math.floor(n * scale)
end

-- The budgets an environment gets unless its options say otherwise: TESSERA_RECIPE_MEMORY
-- (bytes, K/M/G suffix) and TESSERA_RECIPE_INSTRUCTIONS, else 512 MiB and 10^9 instructions
-- (a few seconds of Lua: a recipe only builds a table; rendering runs outside the box).
-- 0 means unlimited.
sandbox.defaults = {
  memory = parse_bytes(os.getenv("TESSERA_RECIPE_MEMORY") or "") or 512 * 1024 * 1024,
  instructions = math.tointeger(tonumber(os.getenv("TESSERA_RECIPE_INSTRUCTIONS") or "")) or
    1000000000,
}

-- The wall-clock limit of a whole render (the recipe and the work it asks for), in
-- seconds: TESSERA_RECIPE_SECONDS, else 60; 0 means none. A value that is not a number
-- >= 0 is an error, not "no limit".
function sandbox.default_seconds()
  local text = os.getenv("TESSERA_RECIPE_SECONDS")
  if text == nil or text == "" then return 60 end
  local v = tonumber(text)
  if v == nil or v ~= v or v < 0 or v > 1e6 then
    error(format("TESSERA_RECIPE_SECONDS must be a number of seconds in 0..1e6, got '%s'", text), 0)
  end
  return v
end

-- sandbox.check_seconds(v, who) -> v, or the default when v is nil; raises "<who>:
-- seconds must be a number in 0..1e6, got x" otherwise.
function sandbox.check_seconds(v, who)
  if v == nil then return sandbox.default_seconds() end
  if type(v) ~= "number" or v ~= v or v < 0 or v > 1e6 then
    error(format("%s: seconds must be a number in 0..1e6 (0: no limit), got %s", who,
      type(v) == "number" and tostring(v) or type(v)), 0)
  end
  return v
end

-- sandbox.timed(seconds, fn, ...) -> what fn returns: fn with a wall-clock limit (see
-- tessera.core.sandbox.timed); past it, "the recipe exceeded its time limit (N s)" is
-- raised, the files being written are not committed and C work that polls the interrupt
-- flag stops. seconds nil: the default; 0: none.
function sandbox.timed(seconds, fn, ...)
  seconds = sandbox.check_seconds(seconds, "tessera.sandbox.timed")
  local res = pack(budget.timed(seconds, fn, ...))
  if not res[1] then error(res[2], 0) end
  return unpack(res, 2, res.n)
end

-- Each environment's confinement (root folder, writable paths), out of the recipe's reach.
local boxes = setmetatable({}, { __mode = "k" })

-- ---- the environment -----------------------------------------------------------------

local function copy(t, except)
  local c = {}
  for k, v in pairs(t) do
    if not (except and except[k]) then c[k] = v end
  end
  return c
end

-- A read path for code in the sandbox: resolved against root, refused outside it.
local function readable(box, path, who)
  if type(path) ~= "string" then
    error(format("%s: path must be a string, got %s", who, type(path)), 3)
  end
  local full = fs.resolve(path, box.root)
  if not fs.inside(box.root, full) then
    error(format("%s: '%s' is outside the recipe's folder '%s' (recipes may only read there)",
      who, path, box.root), 3)
  end
  local real = fs.realpath(full) -- links resolved: they must stay inside too
  if not fs.inside(box.real_root, real) then
    error(format("%s: '%s' leads outside the recipe's folder '%s' (a link to '%s'; recipes " ..
      "may only read there)", who, path, box.root, real), 3)
  end
  return real
end

-- A write path: only the ones the caller allowed.
local function writable(box, path, who)
  if type(path) ~= "string" then
    error(format("%s: path must be a string, got %s", who, type(path)), 3)
  end
  local full = fs.resolve(path, box.root)
  if not box.writable[full] then
    error(format("%s: a recipe may not write '%s'", who, path), 3)
  end
  return full
end

-- Text chunks only: a precompiled (bytecode) chunk could break out of any environment.
local function text_chunk(chunk, who)
  if type(chunk) == "string" and chunk:sub(1, 1) == "\27" then
    error(who .. ": binary chunks are not allowed in a recipe", 3)
  end
end

-- Charges iterative C work on V (a Matrix or Spectrogram, n x p) to the CPU budget before
-- it runs: n * p * k * iterations * per instruction-equivalents (no hook sees C loops, so
-- a fit with max_iter = 2^31 - 1 would otherwise run past every budget).
local function charge_work(V, k, iterations, per)
  local kind = core.type(V)
  if kind ~= "Matrix" and kind ~= "Spectrogram" then return end
  local n, p = V:shape()
  k, iterations = tonumber(k), tonumber(iterations)
  if k == nil or iterations == nil or not (k > 0 and iterations > 0) then return end
  budget.charge(n * p * k * iterations * per)
end

-- The tessera API as a recipe sees it: the same functions, with the ones that open files
-- confined to the recipe's folder. Methods that write (Audio:save, Matrix:save) are
-- guarded while the recipe runs (see sandbox.run).
local function tessera_api(box)
  local tessera = require "tessera"
  local matrix, audio, spectrogram = tessera.matrix, tessera.audio, tessera.spectrogram
  local api = {
    version = tessera.version,
    stft = tessera.stft,
    -- Iterative C work is charged to the CPU budget before it starts (see charge_work).
    griffinlim = function(V, like, opts)
      charge_work(V, 1, type(opts) == "table" and opts.iter or 32, 8)
      return tessera.griffinlim(V, like, opts)
    end,
    pghi = tessera.pghi, -- one pass, like stft
    matrix = {
      new = matrix.new,
      from = matrix.from,
      load = function(path)
        return matrix.load(readable(box, path, "tessera.matrix.load"))
      end,
    },
    audio = {
      new = audio.new,
      from = audio.from,
      load = function(path, opts)
        return audio.load(readable(box, path, "tessera.audio.load"), opts)
      end,
    },
    spectrogram = {
      from_polar = spectrogram.from_polar,
      fft_frequencies = spectrogram.fft_frequencies,
      frame_count = spectrogram.frame_count,
      windows = copy(spectrogram.windows),
    },
  }
  -- NMF is computing, not file access; its loader reads files, so it is confined too.
  local ok, nmf = pcall(require, "tessera.nmf")
  if ok then
    api.nmf = setmetatable({
      load = function(dir) return nmf.load(readable(box, dir, "tessera.nmf.load")) end,
    }, { __call = function(_, V, opts, ...)
      if type(opts) == "table" then charge_work(V, opts.k, opts.max_iter or 200, 1 / 16) end
      return nmf(V, opts, ...)
    end })
    api.nmfd = setmetatable({ load = api.nmf.load }, { __call = function(_, V, opts, ...)
      if type(opts) == "table" and math.type(opts.T) == "integer" and math.type(opts.k) == "integer" then
        charge_work(V, opts.k * opts.T, opts.max_iter or 200, 1 / 16)
      end
      return require("tessera.nmfd")(V, opts, ...)
    end })
  end
  return api
end

-- ---- C loops no hook sees ------------------------------------------------------------

-- Lua's pattern matcher backtracks in C, where the count hook cannot reach it: a pattern
-- with q items that repeat (*, +, - or a back-reference, %b) tries up to n^q ways on a
-- subject of n bytes, times n start positions unless anchored (^), and each ? doubles it.
-- A recipe may run a match only when that bound is below MATCH_STEPS; most patterns on
-- the short strings a recipe handles are far below it.
local MATCH_STEPS = 1e8

-- Where the single-character class starting at i in pattern p ends (the index after it).
local function class_end(p, i)
  local c = p:sub(i, i)
  if c == "%" then return i + 2 end
  if c ~= "[" then return i + 1 end
  local j = i + 1
  if p:sub(j, j) == "^" then j = j + 1 end
  repeat -- the first ']' is a member; stop at the next (or the end)
    if p:sub(j, j) == "%" then j = j + 1 end
    j = j + 1
  until j > #p or p:sub(j, j) == "]"
  return j + 1
end

-- The exponents of the bound: repeating items (one more when not anchored) and optional ones.
local function pattern_exponents(p)
  local i, n, reps, opts = 1, #p, 0, 0
  if p:sub(1, 1) == "^" then i = 2 else reps = 1 end
  while i <= n do
    local c, d = p:sub(i, i), p:sub(i + 1, i + 1)
    if c == "(" or c == ")" then
      i = i + 1
    elseif c == "%" and d == "b" then
      reps, i = reps + 1, i + 4
    elseif c == "%" and d == "f" then
      i = class_end(p, i + 2)
    elseif c == "%" and d:match("^%d$") then
      reps, i = reps + 1, i + 2
    else
      i = class_end(p, i)
      local q = p:sub(i, i)
      if q == "*" or q == "+" or q == "-" then
        reps, i = reps + 1, i + 1
      elseif q == "?" then
        opts, i = opts + 1, i + 1
      end
    end
  end
  return reps, opts
end

local function check_match(who, s, p)
  if type(p) ~= "string" or (type(s) ~= "string" and type(s) ~= "number") then return end
  local n = #tostring(s)
  if n < 2 then return end
  local reps, opts = pattern_exponents(p)
  if reps * math.log(n) + opts * math.log(2) > math.log(MATCH_STEPS) then
    error(format("%s: the pattern '%s' on %d bytes could backtrack too long for a recipe " ..
      "(%d repeated items; use a shorter subject or a simpler pattern)", who,
      #p <= 40 and p or p:sub(1, 40) .. "...", n, reps), 3)
  end
end

-- The string library a recipe gets (also behind its strings' methods, see
-- tessera.core.sandbox.call): the host's, without dump, with matching bounded.
local function string_library()
  local lib = copy(string, { dump = true })
  local find, match, gmatch, gsub = string.find, string.match, string.gmatch, string.gsub
  lib.find = function(s, p, init, plain_find)
    if not plain_find then check_match("string.find", s, p) end
    return find(s, p, init, plain_find)
  end
  lib.match = function(s, p, ...)
    check_match("string.match", s, p)
    return match(s, p, ...)
  end
  lib.gmatch = function(s, p, ...)
    check_match("string.gmatch", s, p)
    return gmatch(s, p, ...)
  end
  lib.gsub = function(s, p, ...)
    check_match("string.gsub", s, p)
    return gsub(s, p, ...)
  end
  return lib
end

-- The table library: the loops that run in C are charged to the CPU budget first.
local function table_library()
  local lib = copy(table)
  local move, sort, concat_ = table.move, table.sort, table.concat
  local function span(i, j)
    i, j = tonumber(i), tonumber(j) -- as the library reads them
    if i == nil or j == nil or j < i then return 0 end
    return j - i + 1.0
  end
  lib.move = function(a1, f, e, t, a2)
    budget.charge(span(f, e))
    return move(a1, f, e, t, a2)
  end
  lib.sort = function(t, comp)
    local n = type(t) == "table" and rawlen(t) or 0
    if n > 1 then budget.charge(n * math.log(n, 2)) end
    return sort(t, comp)
  end
  lib.concat = function(t, sep, i, j)
    budget.charge(span(i or 1, j or (type(t) == "table" and rawlen(t) or 0)))
    return concat_(t, sep, i, j)
  end
  return lib
end

-- A budget option: nil (the default), or an integer >= 0.
local function limit(opts, key)
  local v = opts[key]
  if v == nil then return sandbox.defaults[key] end
  if math.type(v) == "float" and v == math.floor(v) and v >= 0 and v < 2 ^ 62 then
    v = math.tointeger(v)
  end
  if math.type(v) ~= "integer" or v < 0 then
    error(format("bad argument #2 to 'env' (%s must be an integer >= 0, got %s)", key,
      type(v) == "number" and tostring(v) or type(v)), 3)
  end
  return v
end

-- sandbox.env(root [, opts]) -> env: a fresh global table for code whose folder is root
-- (absolute). Each call makes new tables, so recipes cannot reach each other or the host's
-- libraries. opts: writable = {paths}, memory = bytes, instructions = count (the budgets;
-- default sandbox.defaults, 0 unlimited).
function sandbox.env(root, opts)
  if type(root) ~= "string" or root:sub(1, 1) ~= "/" then
    error(format("bad argument #1 to 'env' (root must be an absolute path, got %s)",
      type(root) == "string" and "'" .. root .. "'" or type(root)), 2)
  end
  opts = opts or {}
  local box = { root = fs.resolve(root), real_root = fs.realpath(root), writable = {},
                limits = { memory = limit(opts, "memory"), instructions = limit(opts, "instructions") } }
  for _, path in ipairs(opts.writable or {}) do box.writable[fs.resolve(path, box.root)] = true end

  local env = {
    _VERSION = _VERSION,
    assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
    pcall = pcall, select = select, tonumber = tonumber, tostring = tostring, type = type,
    xpcall = xpcall, rawequal = rawequal, rawlen = rawlen, rawget = rawget, rawset = rawset,
    print = print,
    string = string_library(),
    table = table_library(),
    math = copy(math),
    utf8 = copy(utf8),
    coroutine = copy(coroutine),
    os = { time = os.time, clock = os.clock, date = os.date, difftime = os.difftime },
  }
  env._G = env
  -- Strings' methods while the recipe runs: a copy of its own, out of its reach, so that a
  -- recipe that replaces string.sub in its table cannot change what the host's checks
  -- (fs.inside, run inside the budget) compute with s:sub.
  box.limits.strings = string_library()
  -- A recipe's own pcall must not swallow an exceeded budget.
  local function rethrow(...)
    local why = budget.exceeded()
    if why then error(why, 0) end
    return ...
  end
  env.pcall = function(...) return rethrow(pcall(...)) end
  -- xpcall's handler runs as an ordinary call once the error is caught, never as Lua's
  -- message handler: Lua runs that with hooks off when the error comes from a hook (an
  -- exceeded budget), so a handler that loops would loop beyond every budget.
  env.xpcall = function(f, handler, ...)
    if type(handler) ~= "function" then
      error(format("bad argument #2 to 'xpcall' (function expected, got %s)", type(handler)), 2)
    end
    local res = pack(rethrow(pcall(f, ...)))
    if res[1] then return unpack(res, 1, res.n) end
    return false, select(2, rethrow(pcall(handler, res[2])))
  end
  -- Hooks are per coroutine: each one the recipe makes gets the instruction count.
  env.coroutine.create = function(f)
    local co = coroutine.create(f)
    budget.arm(co)
    return co
  end
  env.coroutine.wrap = function(f)
    local co = env.coroutine.create(f)
    return function(...)
      local res = table.pack(coroutine.resume(co, ...))
      if not res[1] then error(res[2], 0) end
      return table.unpack(res, 2, res.n)
    end
  end
  -- No finalizers: a __gc would run later, in the host, outside every budget.
  env.setmetatable = function(t, mt)
    if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
      error("setmetatable: __gc metamethods are not allowed in a recipe", 2)
    end
    local current = type(t) == "table" and debug.getmetatable(t)
    if current and rawget(current, "__metatable") ~= nil then
      error("cannot change a protected metatable", 2) -- as setmetatable says, at the caller
    end
    return setmetatable(t, mt)
  end
  -- Only tables' metatables: the string metatable is shared with the host.
  env.getmetatable = function(value)
    if type(value) ~= "table" then return nil end
    return getmetatable(value)
  end
  env.load = function(chunk, name, mode, chunk_env)
    if mode ~= nil and mode ~= "t" then
      error(format("load: mode must be 't' in a recipe, got '%s'", tostring(mode)), 2)
    end
    text_chunk(chunk, "load")
    if type(chunk) == "function" then
      -- Pieces from a reader function: gather them, so the first byte can be checked.
      local pieces = {}
      for piece in chunk do
        if piece == "" then break end
        pieces[#pieces + 1] = piece
      end
      chunk = concat(pieces)
      text_chunk(chunk, "load")
    end
    if chunk_env == nil then chunk_env = env end
    return load(chunk, name, "t", chunk_env)
  end
  env.loadfile = function(path, mode, chunk_env)
    if mode ~= nil and mode ~= "t" then
      error(format("loadfile: mode must be 't' in a recipe, got '%s'", tostring(mode)), 2)
    end
    local full = readable(box, path, "loadfile")
    if chunk_env == nil then chunk_env = env end
    return loadfile(full, "t", chunk_env)
  end
  env.dofile = function(path)
    local full = readable(box, path, "dofile")
    local chunk, err = loadfile(full, "t", env)
    if not chunk then error(err, 2) end
    return chunk()
  end
  env.tessera = tessera_api(box)
  boxes[env] = box
  return env
end

-- ---- what crosses back ---------------------------------------------------------------

-- How a key reads in a path: .name for identifiers, [3] or ["a b"] otherwise.
local function key_path(k)
  if type(k) == "string" and k:match("^[%a_][%w_]*$") and #k <= 40 then return "." .. k end
  if type(k) == "string" then return format("[%q]", #k <= 40 and k or k:sub(1, 40) .. "...") end
  return format("[%s]", tostring(k)) -- a number or a boolean: no metamethod runs
end

local MAX_DEPTH = 64

-- A copy of v made only of data the host can read without running recipe code: nil,
-- booleans, numbers, strings, tessera's own Matrix/Audio/Spectrogram (their metatables are
-- the host's and out of a recipe's reach) and tables without metatables whose keys are
-- strings, numbers or booleans. Read with next and rawget only, so no metamethod runs; a
-- table reached twice is copied once (a cycle is refused). Runs inside the budgets.
local function plain(v, where, depth, copies)
  local t = type(v)
  if t == "nil" or t == "boolean" or t == "number" or t == "string" then return v end
  if t == "userdata" and core.type(v) then return v end
  if t ~= "table" then
    error(format("the recipe's result: %s is a %s (a recipe gives back data: plain tables, " ..
      "strings, numbers and booleans)", where, t), 0)
  end
  if debug.getmetatable(v) ~= nil then
    error(format("the recipe's result: %s is a table with a metatable (a recipe gives back " ..
      "plain tables)", where), 0)
  end
  local done = copies[v]
  if done == false then error(format("the recipe's result: %s contains itself", where), 0) end
  if done then return done end
  if depth >= MAX_DEPTH then
    error(format("the recipe's result: %s is nested more than %d tables deep", where, MAX_DEPTH), 0)
  end
  copies[v] = false -- being copied: meeting it again is a cycle
  local c = {}
  for k, x in next, v do
    local kt = type(k)
    if kt ~= "string" and kt ~= "number" and kt ~= "boolean" then
      error(format("the recipe's result: %s has a key that is a %s (keys must be strings, " ..
        "numbers or booleans)", where, kt), 0)
    end
    rawset(c, k, plain(x, where .. key_path(k), depth + 1, copies))
  end
  copies[v] = c
  return c
end
sandbox.plain = function(v, where) return plain(v, where or "the value", 0, {}) end

-- The values fn returns, each made plain (see plain) while the budgets are in force.
local function plain_results(fn, ...)
  local res = pack(fn(...))
  local copies = {}
  for i = 1, res.n do
    res[i] = plain(res[i], res.n == 1 and "the value" or format("value %d", i), 0, copies)
  end
  return unpack(res, 1, res.n)
end

-- ---- running -------------------------------------------------------------------------

-- Guards the writing methods while fn runs: Matrix, Audio and NMF Model `save` go through
-- writable(). Restored afterwards, error or not.
local function guarded(box, fn, ...)
  local mts = {
    { sample = core.matrix.new(1, 1), who = "tessera.matrix.save" },
    { sample = core.audio.new(1, 8000), who = "tessera.audio.save" },
  }
  for _, m in ipairs(mts) do
    m.mt = debug.getmetatable(m.sample)
    m.index = rawget(m.mt, "__index")
    m.save = m.sample.save
  end
  for _, m in ipairs(mts) do
    local index, save, who = m.index, m.save, m.who
    local guard = function(self, path, ...)
      return save(self, writable(box, path, who), ...)
    end
    rawset(m.mt, "__index", function(self, key)
      if key == "save" then return guard end
      if type(index) == "table" then return index[key] end
      return index(self, key)
    end)
  end
  -- NMF models are Lua tables: their save (a folder of files) is swapped the same way.
  local nmf = package.loaded["tessera.nmf"]
  local model_save = nmf and nmf.Model.save
  if model_save then
    nmf.Model.save = function(self, dir, ...)
      return model_save(self, writable(box, dir, "tessera.nmf.save"), ...)
    end
  end
  local results = table.pack(budget.call(box.limits, fn, ...)) -- box.limits.strings: see env
  for _, m in ipairs(mts) do rawset(m.mt, "__index", m.index) end
  if model_save then nmf.Model.save = model_save end
  return table.unpack(results, 1, results.n)
end

-- The largest recipe file run reads: recipes are a page or two of Lua.
sandbox.max_size = 1024 * 1024

-- sandbox.run(path, env [, chunkname]) -> true, values... | false, message: loads the
-- text file at path in env and calls it, with the writing methods guarded. chunkname
-- (default "@" .. path) is how error positions name the file. What crosses back is made
-- inside the budgets: the values plain data (see plain), an error a plain string.
function sandbox.run(path, env, chunkname)
  local box = boxes[env]
  if box == nil then error("bad argument #2 to 'run' (an environment from sandbox.env expected)", 2) end
  local full = fs.resolve(path, box.root)
  local regular, bad = core.util.check_file(full) -- a FIFO would block the open below
  if not regular then return false, bad end
  local f, why = io.open(full, "rb")
  if not f then return false, "cannot open " .. why end
  local size = f:seek("end")
  if size > sandbox.max_size then
    f:close()
    return false, format("the recipe is too large (%d bytes, at most %d)", size, sandbox.max_size)
  end
  f:seek("set")
  local text = f:read("a")
  f:close()
  if text:sub(1, 1) == "\27" then return false, "binary chunks are not allowed in a recipe" end
  local chunk, err = load(text, chunkname or "@" .. path, "t", env)
  if not chunk then return false, err end
  return guarded(box, plain_results, chunk)
end

-- sandbox.call(env, fn, ...) -> true, values... | false, message: calls fn (from code
-- loaded in env) under the same guards, its values made plain as run's are.
function sandbox.call(env, fn, ...)
  local box = boxes[env]
  if box == nil then error("bad argument #1 to 'call' (an environment from sandbox.env expected)", 2) end
  return guarded(box, plain_results, fn, ...)
end

return sandbox
