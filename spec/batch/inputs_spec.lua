-- Specs for tessera.batch.inputs: folders and manifests listed, shards dealt.
local batch = require "tessera.batch"
local helpers = require "helpers"
local uv = require "luv"
local fixtures = require "batch_fixtures"

local q = fixtures.q
local SAMPLES = fixtures.SAMPLES
local spit = fixtures.spit
local copy = fixtures.copy
local loops_folder = fixtures.loops_folder

describe("tessera.batch", function()
  describe("inputs()", function()
    it("lists a folder's audio files recursively, sorted, not hidden or other files", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      loops_folder(dir)
      assert(os.execute("mkdir -p " .. q(dir .. "/out/x")))
      copy(SAMPLES .. "/loop_amen.flac", dir .. "/out/x/inside.flac")
      local list = batch.inputs(dir, { exclude = uv.fs_realpath(dir .. "/out") })
      assert.same({
        { file = "drums/amen.flac", path = dir .. "/drums/amen.flac", out = "drums/amen.flac" },
        { file = "drums/breakbeat.flac", path = dir .. "/drums/breakbeat.flac",
          out = "drums/breakbeat.flac" },
        { file = "other/industrial.flac", path = dir .. "/other/industrial.flac",
          out = "other/industrial.flac" },
      }, list)
      -- Without the exclusion the output folder's files are inputs too.
      assert.equal(4, #batch.inputs(dir .. "/"))
    end)

    it("reads a manifest: paths relative to it, comments, duplicates, '..' kept inside", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      assert(os.execute("mkdir -p " .. q(dir .. "/lists")))
      spit(dir .. "/lists/files.txt", table.concat({
        "# the study's loops", "", "  ../b.wav  ", SAMPLES .. "/loop_amen.flac", "a.flac",
        "../b.wav", "./c/./d.ogg",
      }, "\n") .. "\n")
      assert.same({
        { file = "../b.wav", path = dir .. "/lists/../b.wav", out = "_up/b.wav" },
        { file = "./c/./d.ogg", path = dir .. "/lists/./c/./d.ogg", out = "c/d.ogg" },
        { file = SAMPLES .. "/loop_amen.flac", path = SAMPLES .. "/loop_amen.flac",
          out = SAMPLES:sub(2) .. "/loop_amen.flac" },
        { file = "a.flac", path = dir .. "/lists/a.flac", out = "a.flac" },
      }, batch.inputs(dir .. "/lists/files.txt"))
    end)

    it("refuses two inputs that would share an output folder", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      spit(dir .. "/files.txt", "x/../a.wav\n_up/a.wav\n../a.wav\n")
      assert.has_error(function() batch.inputs(dir .. "/files.txt") end,
        "tessera.batch: '../a.wav' and '_up/a.wav' would share the output folder '_up/a.wav'")
    end)

    it("reports a source that does not exist", function()
      assert.has_error(function() batch.inputs("/nonexistent/loops") end,
        "tessera.batch: cannot open '/nonexistent/loops': No such file or directory")
      assert.has_error(function() batch.inputs("") end,
        "bad argument #1 to 'inputs' (path expected, got an empty string)")
    end)
  end)

  describe("shard() and parse_shard()", function()
    it("deals the inputs round-robin into disjoint slices that cover them all", function()
      local list = {}
      for i = 1, 10 do list[i] = i end
      assert.same({ 1, 4, 7, 10 }, batch.shard(list, 1, 3))
      assert.same({ 2, 5, 8 }, batch.shard(list, 2, 3))
      assert.same({ 3, 6, 9 }, batch.shard(list, 3, 3))
      assert.same(list, batch.shard(list, 1, 1))
      assert.same({}, batch.shard({ 1, 2 }, 3, 4))
    end)

    it("parses I/N with I in 1..N", function()
      assert.same({ 2, 8 }, { batch.parse_shard("2/8") })
      assert.same({ 1, 1 }, { batch.parse_shard(" 1 / 1 ") })
      for _, bad in ipairs({ "0/4", "5/4", "1/0", "a/b", "3", "-1/2" }) do
        assert.has_error(function() batch.parse_shard(bad) end,
          "tessera.batch: bad shard '" .. bad .. "' (expected I/N with 1 <= I <= N, e.g. 1/4)")
      end
      assert.has_error(function() batch.shard({}, 0, 2) end,
        "bad argument #2 to 'shard' (index must be an integer in 1..2, got 0)")
      assert.has_error(function() batch.shard({}, 1, 0) end,
        "bad argument #3 to 'shard' (count must be an integer >= 1, got 0)")
    end)
  end)
end)
