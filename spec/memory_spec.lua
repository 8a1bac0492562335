-- The one allocation path (csrc/lua/l_memory.c, csrc/memory.c): the data of every Matrix,
-- Audio and Spectrogram is part of Lua's heap, so the collector counts it, and the memory
-- cap limits everything the process holds, not one allocation at a time.
local helpers = require "helpers"
local tessera = require "tessera"
local util = tessera.core.util

local SAMPLES = helpers.samples

-- Runs Lua code in a fresh lua5.4 with the built library and `env` (a shell prefix);
-- returns its output (stdout and stderr) and whether it exited 0.
local function child(env, code)
  local prefix = "package.path = 'lua/?.lua;lua/?/init.lua;' .. package.path\n"
    .. "package.cpath = 'lua/?.so;' .. package.cpath\n"
  local p = assert(io.popen("cd " .. helpers.shell_quote(helpers.root) .. " && " .. env
    .. " lua5.4 -e " .. helpers.shell_quote(prefix .. code) .. " 2>&1"))
  local out = p:read("a")
  local ok = p:close()
  return out, ok
end

describe("memory", function()
  describe("the collector", function()
    it("counts every byte of a Matrix, an Audio and a Spectrogram", function()
      collectgarbage()
      collectgarbage("stop") -- no step frees garbage between two counts
      finally(function() collectgarbage("restart") end)
      local before = collectgarbage("count") * 1024
      local M = tessera.matrix.new(1000, 500)
      local after_matrix = collectgarbage("count") * 1024
      assert.is_true(after_matrix - before >= 1000 * 500 * 4, after_matrix - before)
      local a = tessera.audio.load(SAMPLES .. "/loop_amen.flac", { sr = 22050 })
      local after_audio = collectgarbage("count") * 1024
      assert.is_true(after_audio - after_matrix >= #a * 4, after_audio - after_matrix)
      local S = tessera.stft(a)
      local bins, frames = S:shape()
      local after_S = collectgarbage("count") * 1024
      assert.is_true(after_S - after_audio >= bins * frames * 8, after_S - after_audio)
      -- and the live count is Lua's heap (plus kernel scratch, none between calls)
      assert.equal(collectgarbage("count") * 1024, util.memory_in_use())
      assert.equal(1000, M:shape())
    end)

    it("collects garbage matrices in time: 2 GB made in a loop never hold more than a few", function()
      collectgarbage()
      local base, peak = util.memory_in_use(), 0
      for _ = 1, 100 do
        local M = tessera.matrix.new(5000, 1000, 1) -- 20 MB, garbage at once
        assert.equal(5000, M:shape())
        peak = math.max(peak, util.memory_in_use() - base)
      end
      -- Before the data was in Lua's heap, this held all 2 GB until a collection that the
      -- collector, seeing a few bytes per matrix, never ran.
      assert.is_true(peak < 200e6, ("peak %.0f MB"):format(peak / 1e6))
    end)

    it("lets go of a closed matrix's data at the next collection", function()
      collectgarbage()
      local base = util.memory_in_use()
      local M = tessera.matrix.new(2000, 1000, 1)
      local V = M:col(3)
      assert.is_true(util.memory_in_use() - base >= 8e6)
      getmetatable(M).__close(M)
      collectgarbage()
      assert.is_true(util.memory_in_use() - base < 1e6, util.memory_in_use() - base)
      assert.has_error(function() M:sum() end, "calling 'sum' on bad self (matrix has been freed)")
      assert.has_error(function() V:sum() end,
        "calling 'sum' on bad self (matrix has been freed: the matrix it views was closed)")
    end)

    it("keeps a view's data alive after its parent is garbage", function()
      local V = tessera.matrix.new(1000, 10, 2.5):col(7)
      collectgarbage()
      collectgarbage()
      assert.equal(2500, V:sum())
    end)
  end)

  describe("the cap (TESSERA_MAX_MEMORY)", function()
    it("limits what the process holds in total, and garbage does not count", function()
      local out, ok = child("TESSERA_MAX_MEMORY=35M", [[
        local matrix = require("tessera").matrix
        local held = {}
        for i = 1, 3 do held[i] = matrix.new(1000, 2500, 1) end -- 3 x 10 MB held
        print(select(2, pcall(matrix.new, 1000, 2500))) -- a fourth does not fit
        held = nil
        for _ = 1, 50 do assert(matrix.new(1000, 2500, 1)) end -- 500 MB of garbage
        print("garbage ok")
      ]])
      assert.is_true(ok, out)
      assert.matches("^tessera.matrix.new: a 1000 x 2500 matrix needs 10.0 MB, more than the "
        .. "[%d.]+ MB the memory cap %(36.7 MB%) leaves free\ngarbage ok\n$", out)
    end)

    it("counts kernel scratch and Lua values against the same cap", function()
      -- The cap leaves a few tens of kB free after the Lua values: less than the fit needs.
      local out, ok = child("TESSERA_MAX_MEMORY=24.05M", [[
        local tessera = require("tessera")
        local _ = tessera.nmf -- its modules loaded first: the point is the fit's scratch
        local V = tessera.matrix.new(1025, 2000, 1) -- 8.2 MB
        local t = {}
        for i = 1, 600000 do t[i] = i * 0.5 end -- about 10 MB of Lua values
        print(select(2, pcall(tessera.nmf, V, { k = 20, max_iter = 2 })))
        t = nil
        collectgarbage()
        print(tessera.nmf(V, { k = 20, max_iter = 2 }).k)
      ]])
      assert.is_true(ok, out)
      assert.matches("tessera.nmf: .* more than the [%d.]+ [kM]B the memory cap %(25.2 MB%) "
        .. "leaves free\n20\n$", out)
    end)

    it("refuses a value that is not a size, naming it", function()
      for _, bad in ipairs { "abc", "-5", "1e99", "12 MB", "5X" } do
        local out, ok = child("TESSERA_MAX_MEMORY=" .. helpers.shell_quote(bad),
          "require 'tessera'")
        assert.is_falsy(ok, bad)
        assert.truthy(out:find("TESSERA_MAX_MEMORY must be a size such as 512M, 2G or 1048576, "
          .. "got '" .. bad .. "'", 1, true), out)
      end
      local out, ok = child("TESSERA_MAX_MEMORY=0", "print(require('tessera').core.util.memory_cap())")
      assert.is_true(ok, out)
      assert.equal("0\n", out)
      out = child("TESSERA_MAX_MEMORY=1.5G", "print(require('tessera').core.util.memory_cap())")
      assert.equal(tostring(math.floor(1.5 * 1024 ^ 3)) .. "\n", out)
    end)

    it("parses sizes one way", function()
      assert.equal(512 * 1024 ^ 2, util.parse_size("512M"))
      assert.equal(100 * 1024, util.parse_size("100k"))
      assert.equal(4096, util.parse_size("4096"))
      assert.equal(2 * 1024 ^ 3, util.parse_size("2GB"))
      assert.is_nil(util.parse_size("two"))
      assert.is_nil(util.parse_size("-1M"))
    end)
  end)

  describe("max_memory", function()
    it("is a budget for one call on top of what is live, put back however the call ends", function()
      local held = tessera.matrix.new(2000, 2000, 1) -- 16 MB live before the call
      local V = tessera.matrix.new(1000, 1000, 1)
      local m = tessera.nmf(V, { k = 4, max_iter = 1, max_memory = 1024 * 1024 })
      assert.equal(4, m.k)
      assert.has_error(function() tessera.nmf(V, { k = 400, max_iter = 1, max_memory = 1024 * 1024 }) end,
        "tessera.nmf: a 1000 x 400 matrix needs 1.6 MB, more than its memory budget (1.0 MB)")
      assert.same({ 0, 0 }, { util.memory_ceiling() })
      assert.equal(4e6, held:sum())
    end)
  end)

  describe("sizes in messages", function()
    it("are printed with the unit that shows them (core.util.format_bytes, tsr_format_bytes)", function()
      local fb = util.format_bytes
      assert.same({ "0 bytes", "1 byte", "512 bytes", "1.5 kB", "999.9 kB", "12.5 MB", "1.20 GB", "4.0 TB" },
        { fb(0), fb(1), fb(512), fb(1500), fb(999900), fb(12.5e6), fb(1.2e9), fb(4e12) })
    end)

    it("show a small cap and a small recipe budget in bytes or kB, never as 0.0 MB", function()
      local a = tessera.audio.load("/usr/share/sonic-pi/samples/loop_amen.flac", { sr = 22050 })
      local ok, err = pcall(tessera.stft, a, { max_memory = 2000 })
      assert.is_false(ok)
      assert.matches("tessera%.stft: a 1025 x 76 spectrogram needs 623%.3 kB, more than its memory budget "
        .. "%(2%.0 kB%)$", err)
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      helpers.write_file(dir .. "/r.lua", "local t = {} for i = 1, 1e6 do t[i] = {} end return t")
      ok, err = pcall(tessera.mosaic.load, dir .. "/r.lua", { memory = 300000, instructions = 0 })
      assert.is_false(ok)
      assert.equal("tessera.mosaic: the recipe exceeded its memory budget (300.0 kB)", err)
    end)
  end)
end)
