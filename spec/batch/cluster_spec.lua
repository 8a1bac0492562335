-- Specs for the pieces of the cluster paths that run without a cluster (`make test-cluster`
-- runs the whole on a one-node Slurm and over ssh): scripts/batch-equal.lua, which decides
-- whether two batch outputs are the same file for file, and examples/batch_slurm.sh as an
-- array task (run here with the variables Slurm sets) and as the submitter (with an sbatch
-- that records its arguments: what it is given is what a real sbatch would be given).
local helpers = require "helpers"
local fixtures = require "batch_fixtures"
local uv = require "luv"

local q = fixtures.q
local HOST = fixtures.HOST
local spit = fixtures.spit
local tessera_cli = fixtures.tessera_cli
local loops_folder = fixtures.loops_folder

local ROOT = assert(uv.fs_realpath(helpers.root))
local EQUAL = ROOT .. "/scripts/batch-equal.lua"
local SLURM = ROOT .. "/examples/batch_slurm.sh"

local function batch_equal(a, b)
  return tessera_cli(q(EQUAL) .. " " .. q(a) .. " " .. q(b))
end

local function copy_tree(from, to)
  assert(os.execute("cp -a " .. q(from) .. " " .. q(to)))
end

local function edit(path, from, to)
  local text = assert(helpers.read_file(path))
  local changed, n = text:gsub(from, to, 1)
  assert(n == 1, "no '" .. from .. "' in " .. path)
  spit(path, changed)
end

describe("the cluster paths", function()
  describe("scripts/batch-equal.lua", function()
    local dir, one, two
    setup(function()
      dir = helpers.tmpdir()
      loops_folder(dir .. "/in")
      spit(dir .. "/in/corrupt.wav", "RIFF\0\0\0\0WAVEjunk" .. string.rep("\1\2\3", 300))
      one, two = dir .. "/one", dir .. "/two"
      -- One worker, then two: the same work in another order and other processes.
      for _, run in ipairs({ { one, 1 }, { two, 2 } }) do
        local _, err, code = tessera_cli("batch " .. q(dir .. "/in") .. " -o " .. q(run[1])
          .. " -k 2 --iter 10 --threads 1 --progress none -j " .. run[2])
        assert.equal(1, code, err)
      end
    end)
    teardown(function() helpers.rmtree(dir) end)

    -- A copy of the second run, changed by fn, compared with the first.
    local function changed(name, fn)
      local other = dir .. "/" .. name
      copy_tree(two, other)
      fn(other)
      return batch_equal(one, other)
    end

    it("finds two runs of a collection the same, timings aside", function()
      local out, err, code = batch_equal(one, two)
      assert.equal(0, code, err)
      assert.equal("batch-equal: the same 4 rows (3 ok, 1 failed); 6 files byte-equal, 6 JSON files "
        .. "equal but for timings, 0 WAVs sample-equal\n", out)
      -- A fit's time in model.json and the stamp's figures of the run are timings.
      local out2, err2, code2 = changed("timed", function(other)
        edit(other .. "/drums/amen.flac/model.json", '"seconds":[%d.e-]+', '"seconds":12.5')
        edit(other .. "/drums/amen.flac/stamp.json", '"peak_memory":%d+', '"peak_memory":1')
      end)
      assert.equal(0, code2, err2)
      assert.matches("^batch%-equal: the same 4 rows", out2)
    end)

    it("names a factor file that differs by one byte", function()
      local _, err, code = changed("flipped", function(other)
        local path = other .. "/drums/breakbeat.flac/H.npy"
        local bytes = assert(helpers.read_file(path))
        local last = bytes:byte(-1)
        spit(path, bytes:sub(1, -2) .. string.char(last ~ 1))
      end)
      assert.equal(1, code)
      assert.matches("\n%- drums/breakbeat.flac/H.npy differs %(%d+ bytes against %d+%)\n", err)
      assert.is_nil(err:find("W.npy", 1, true))
    end)

    it("names the keys of a model or a stamp that differ, and a row of the table", function()
      local _, err, code = changed("other-loss", function(other)
        edit(other .. "/other/industrial.flac/model.json", '"k":2,"loss":(%d)', '"k":2,"loss":9%1')
        edit(other .. "/other/industrial.flac/stamp.json", '"iterations":10', '"iterations":11')
        edit(other .. "/results.csv", ",10,", ",11,")
      end)
      assert.equal(1, code)
      assert.matches("%- results.csv line 3 differs %(seconds aside%):\n  [^\n]*/one: drums/amen.flac,"
        .. "[%d.]+,2,[%d.]+,10,,ok,\n  [^\n]*: drums/amen.flac,[%d.]+,2,[%d.]+,11,,ok,\n", err)
      assert.matches("%- other/industrial.flac/model.json differs %(timings aside%) in loss\n", err)
      assert.matches("%- other/industrial.flac/stamp.json differs %(timings aside%) in "
        .. "row.iterations\n", err)
    end)

    it("fails a failed file with an output folder, and a folder missing on one side", function()
      local _, err, code = changed("odd-folders", function(other)
        assert(os.execute("mkdir " .. q(other .. "/corrupt.wav")))
        helpers.rmtree(other .. "/drums/amen.flac")
      end)
      assert.equal(1, code)
      assert.matches("%- corrupt.wav is failed but has an output folder in [^\n]*/odd%-folders\n", err)
      assert.matches("%- drums/amen.flac: an output folder in [^\n]*/one only\n", err)
    end)
  end)

  describe("examples/batch_slurm.sh", function()
    it("runs its shard as an array task: one worker per core given, one thread each", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      loops_folder(dir .. "/in")
      local out, ok = helpers.run(string.format("SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_COUNT=2 "
        .. "SLURM_CPUS_PER_TASK=1 COLLECTION=%s OUT=%s TESSERA=%s OPTIONS='-k 2 --iter 10' %s 2>&1",
        q(dir .. "/in"), q(dir .. "/out"), q(HOST), q(SLURM)))
      assert.is_true(ok, out)
      -- The sorted inputs are amen, breakbeat, industrial: shard 2 of 2 is breakbeat alone.
      assert.matches("batch: 1 inputs %(shard 2 of 2%): 1 ok, 0 skipped, 0 failed in [%d.]+ s "
        .. "%(1 worker x 1 thread%)", out)
      assert.same({ "drums", "results.shard-2-of-2.csv", "results.shard-2-of-2.json" },
        helpers.listdir(dir .. "/out"))
      assert.same({ "breakbeat.flac" }, helpers.listdir(dir .. "/out/drums"))
    end)

    it("submits itself as the array with the sbatch options it is given, then the merge", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      assert(os.execute("mkdir " .. q(dir .. "/bin")))
      -- An sbatch that records its arguments, one call a line, and answers job 41, then 42.
      spit(dir .. "/bin/sbatch", string.format([[#!/bin/sh
n=$(( $(cat %s/calls 2>/dev/null | wc -l) + 41 ))
echo "$*" >>%s/calls
echo "$n;cluster"
]], dir, dir))
      assert(os.execute("chmod +x " .. q(dir .. "/bin/sbatch")))
      local out, ok = helpers.run(string.format("cd %s && PATH=%s:$PATH COLLECTION=/data OUT=/out "
        .. "TESSERA=/opt/tessera %s --array=1-4 --cpus-per-task=2 2>&1", q(dir), q(dir .. "/bin"),
        q(SLURM)))
      assert.is_true(ok, out)
      assert.equal("submitted array job 41 and merge job 42 into /out/results.csv\n", out)
      local calls = {}
      for line in assert(helpers.read_file(dir .. "/calls")):gmatch("[^\n]+") do
        calls[#calls + 1] = line
      end
      assert.same({
        "--parsable --export=ALL --array=1-4 --cpus-per-task=2 " .. SLURM,
        "--parsable --dependency=afterany:41 --job-name=tessera-merge --export=ALL "
          .. "--output=tessera-merge-%j.log --wrap \"/opt/tessera\" batch-merge "
          .. "\"/out\"/results.shard-*-of-*.csv -o \"/out/results\"",
      }, calls)
    end)
  end)
end)
