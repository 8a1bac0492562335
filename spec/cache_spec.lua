-- Specs of tessera.cache: where it lives, how keys are made, hits and misses, atomic
-- entries, and corrupt entries detected (checksums) and recomputed.
local tessera = require "tessera"
local helpers = require "helpers"
local cache = require "tessera.cache"

local format = string.format

local function shell(cmd)
  local _, ok = helpers.run(cmd)
  assert(ok, cmd)
end

-- The entry folders in the cache root (names of 64 hex digits).
local function entries(root)
  local list = {}
  for _, name in ipairs(helpers.listdir(root)) do
    if name:match("^%x+$") and #name == 64 then list[#list + 1] = name end
  end
  return list
end

local function same_matrix(A, B)
  local n, k = A:shape()
  local n2, k2 = B:shape()
  if n ~= n2 or k ~= k2 then return false end
  for j = 1, k do
    for i = 1, n do
      if A:get(i, j) ~= B:get(i, j) then return false end
    end
  end
  return true
end

local V
local function small_V()
  if V == nil then
    local a = tessera.audio.load(helpers.samples .. "/loop_amen.flac", { sr = 22050, duration = 1 })
    V = tessera.stft(a, { n_fft = 512, hop = 256 }):magnitude()
  end
  return V
end

local root, saved_root
before_each(function()
  saved_root = cache.root
  root = helpers.tmpdir()
  cache.root = root .. "/cache"
  cache.reset_stats()
end)
after_each(function()
  cache.root = saved_root
  helpers.rmtree(root)
end)

describe("tessera.cache", function()
  describe("dir()", function()
    it("takes cache.root first, then TESSERA_CACHE_DIR, XDG_CACHE_HOME and HOME", function()
      assert.equal(root .. "/cache", cache.dir())
      local lua = format("cd %s && LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='lua/?.so;;' ",
        helpers.shell_quote(helpers.root))
      local code = " lua5.4 -e 'io.write(require(\"tessera.cache\").dir())'"
      local out = helpers.run(lua .. "TESSERA_CACHE_DIR=/x/t XDG_CACHE_HOME=/x/xdg HOME=/x/h" .. code)
      assert.equal("/x/t", out)
      out = helpers.run(lua .. "TESSERA_CACHE_DIR= XDG_CACHE_HOME=/x/xdg HOME=/x/h" .. code)
      assert.equal("/x/xdg/tessera", out)
      out = helpers.run(lua .. "env -u TESSERA_CACHE_DIR -u XDG_CACHE_HOME HOME=/x/h" .. code)
      assert.equal("/x/h/.cache/tessera", out)
    end)

    it("refuses a cache.root that is not a non-empty string", function()
      cache.root = ""
      assert.has_error(function() cache.dir() end,
        "tessera.cache: cache.root must be a non-empty string, got string")
      cache.root = 3
      assert.has_error(function() cache.dir() end,
        "tessera.cache: cache.root must be a non-empty string, got number")
    end)
  end)

  describe("SHA-256 (the keys' and checksums' hash)", function()
    it("equals Python's hashlib on every length around the block size, on both code paths", function()
      -- Lengths 0..200 and some large ones cross the 56-byte padding edge, whole 64-byte
      -- blocks hashed straight from the input, and partial ones; the child process runs the
      -- plain rounds (TESSERA_SIMD=generic), this one the SHA extensions where the CPU has them.
      local lengths = {}
      for len = 0, 200 do lengths[#lengths + 1] = len end
      for _, len in ipairs({ 1000, 4095, 4096, 65537, 1000003 }) do lengths[#lengths + 1] = len end
      local code = [[
        local util = require("tessera").core.util
        for _, len in ipairs({%s}) do
          local bytes = {}
          for i = 1, len do bytes[i] = string.char((i * 131 + len * 7) %% 256) end
          io.write(util.sha256(table.concat(bytes)), "\n")
        end]]
      code = format(code, table.concat(lengths, ","))
      local ours = helpers.run("bin/tessera -e " .. helpers.shell_quote(code))
      local plain = helpers.run("TESSERA_SIMD=generic bin/tessera -e " .. helpers.shell_quote(code))
      local reference = helpers.python(format([[
import hashlib
for n in [%s]:
    print(hashlib.sha256(bytes((i * 131 + n * 7) %% 256 for i in range(1, n + 1))).hexdigest())
]], table.concat(lengths, ",")))
      assert.equal(#lengths * 65, #reference)
      assert.equal(reference, ours)
      assert.equal(reference, plain)
    end)
  end)

  describe("key()", function()
    it("depends on the values, not on the order of a table's keys", function()
      local a = cache.key { "src", { k = 4, loss = "kl", seed = 0 } }
      local b = cache.key { "src", { seed = 0, loss = "kl", k = 4 } }
      assert.equal(a, b)
      assert.matches("^%x+$", a)
      assert.equal(64, #a)
      assert.not_equal(a, cache.key { "src", { k = 5, loss = "kl", seed = 0 } })
      assert.not_equal(a, cache.key { "src", { k = 4, loss = "kl", seed = 0, max_iter = 10 } })
      assert.not_equal(cache.key { 0.1 }, cache.key { 0.1 + 1e-16 * 3 })
    end)

    it("writes values canonically and refuses functions", function()
      assert.equal('{[1]="a",[2]=0.5,[3]=true,["x"]={[1]=3}}',
        cache.canonical { "a", 0.5, true, x = { 3 } })
      assert.has_error(function() cache.key { print } end,
        "tessera.cache: cannot make a key from a function value")
    end)
  end)

  describe("model()", function()
    local parts = { "spec", "amen 1 s", { k = 3, max_iter = 20 } }
    local function compute()
      return tessera.nmf(small_V(), { k = 3, max_iter = 20, seed = 1 }), { length = 22050 }
    end

    it("computes on a miss, stores the entry, and loads it on a hit", function()
      local calls = 0
      local counted = function()
        calls = calls + 1
        return compute()
      end
      local m1, hit1, meta1 = cache.model(parts, counted)
      assert.is_false(hit1)
      assert.same({ length = 22050 }, meta1)
      local m2, hit2, meta2 = cache.model(parts, counted)
      assert.is_true(hit2)
      assert.equal(1, calls)
      assert.same({ length = 22050 }, meta2)
      assert.is_true(same_matrix(m1.W, m2.W) and same_matrix(m1.H, m2.H))
      assert.same({ hits = 1, misses = 1, corrupt = 0, writes = 1 }, cache.stats)
      local list = entries(cache.root)
      assert.equal(1, #list)
      assert.equal(cache.key(parts), list[1])
      table.sort(list)
      local files = helpers.listdir(cache.root .. "/" .. list[1])
      table.sort(files)
      assert.same({ "H.npy", "W.npy", "manifest.json", "meta.json", "model.json" }, files)
    end)

    it("detects a corrupt entry by its checksums and recomputes it", function()
      local m1 = cache.model(parts, compute)
      local dir = cache.root .. "/" .. cache.key(parts)
      -- flip one byte in the middle of W.npy (same size: only the checksum tells)
      local f = assert(io.open(dir .. "/W.npy", "r+b"))
      local size = f:seek("end")
      f:seek("set", size // 2)
      local byte = f:read(1)
      f:seek("set", size // 2)
      f:write(string.char((byte:byte() + 1) % 256))
      f:close()
      local m2, hit = cache.model(parts, compute)
      assert.is_false(hit)
      assert.equal(1, cache.stats.corrupt)
      assert.is_true(same_matrix(m1.W, m2.W))
      -- the recomputed entry is whole again
      local _, hit3 = cache.model(parts, compute)
      assert.is_true(hit3)
    end)

    it("recomputes an entry with a truncated file, a missing file or no manifest", function()
      cache.model(parts, compute)
      local dir = cache.root .. "/" .. cache.key(parts)
      shell("truncate -s 10 " .. helpers.shell_quote(dir .. "/H.npy"))
      local _, hit = cache.model(parts, compute)
      assert.is_false(hit)
      os.remove(dir .. "/model.json")
      _, hit = cache.model(parts, compute)
      assert.is_false(hit)
      os.remove(dir .. "/manifest.json")
      _, hit = cache.model(parts, compute)
      assert.is_false(hit)
      assert.equal(3, cache.stats.corrupt)
      _, hit = cache.model(parts, compute)
      assert.is_true(hit)
    end)

    it("leaves no entry and no temporary folder when the computation fails", function()
      assert.has_error(function()
        cache.model(parts, function() error("no luck", 0) end)
      end, "no luck")
      assert.same({}, helpers.listdir(cache.root))
      -- and when writing the entry fails half-way: a warning (on stderr), and the value as
      -- computed, since a cache that cannot be written must not fail the work (issue 15)
      local value, hit = cache.get(parts, compute, function(_, dir)
        local f = assert(io.open(dir .. "/half", "w"))
        f:write("x")
        f:close()
        error("disk full", 0)
      end, function() end)
      assert.is_truthy(value)
      assert.is_false(hit)
      assert.same({}, helpers.listdir(cache.root))
    end)

    it("keeps an entry another process stored first", function()
      local key = cache.key(parts)
      cache.model(parts, compute)
      local dir = cache.root .. "/" .. key
      local before = helpers.read_file(dir .. "/manifest.json")
      -- a second store of the same key finds the folder taken: it keeps the valid one
      assert.equal(dir, cache.store(key, function(tmp) compute():save(tmp) end))
      assert.equal(before, helpers.read_file(dir .. "/manifest.json"))
      assert.equal(1, #helpers.listdir(cache.root))
    end)
  end)

  describe("audio()", function()
    it("keeps decoded audio bit for bit", function()
      local parts = { "audio", "amen", 16000 }
      local a = tessera.audio.load(helpers.samples .. "/loop_amen.flac", { sr = 16000, duration = 0.5 })
      local a1, hit1 = cache.audio(parts, function() return a end)
      local a2, hit2 = cache.audio(parts, function() error("not called", 0) end)
      assert.is_false(hit1)
      assert.is_true(hit2)
      assert.equal(a1, a)
      assert.equal(#a, #a2)
      assert.equal(16000, a2.sr)
      for i = 1, #a, 97 do assert.equal(a:get(i), a2:get(i)) end
    end)
  end)
end)
