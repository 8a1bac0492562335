-- Specs for tessera.batch.run, .pool and .worker and the `tessera batch` / `tessera
-- batch-merge` commands: whole batches run by the host on short sonic-pi loops and bad
-- files (corrupt, empty, silent, too long for the memory cap): per-file outputs equal to a
-- direct tessera.nmf, the table, resuming, an interrupted batch continued, a crashing
-- worker, inputs past --timeout, --jobs 2 = --jobs 1, and two shards run at once by GNU
-- parallel merging into the single run's table.
local batch = require "tessera.batch"
local cjson = require "cjson"
local helpers = require "helpers"
local tessera = require "tessera"
local uv = require "luv"
local fixtures = require "batch_fixtures"

local q = fixtures.q
local SAMPLES = fixtures.SAMPLES
local HOST = fixtures.HOST
local spit = fixtures.spit
local tessera_cli = fixtures.tessera_cli
local copy = fixtures.copy
local by_file = fixtures.by_file
local without_timings = fixtures.without_timings
local loops_folder = fixtures.loops_folder
local bad_files = fixtures.bad_files
local FAST = fixtures.FAST
local LOOPS = fixtures.LOOPS

describe("tessera.batch", function()
  describe("tessera batch", function()
    it("decomposes each file into its own folder, records bad files and goes on", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      loops_folder(dir .. "/in")
      bad_files(dir .. "/in")
      local out = dir .. "/out"
      local _, err, code = tessera_cli("batch " .. q(dir .. "/in") .. " -o " .. q(out) .. " "
        .. FAST .. " -k 2 --every 5 --max-memory 12M -j 2")
      assert.equal(4, code) -- the number of failed files
      assert.matches("batch: 7 inputs: 3 ok, 0 skipped, 4 failed in [%d.]+ s %(2 workers x 1 "
        .. "thread%); results in " .. out:gsub("%p", "%%%0") .. "/results.csv\n$", err)
      assert.is_nil(err:find("worker %d+ exited")) -- every worker ended cleanly
      local rows = by_file(batch.read_table(out .. "/results.csv"))
      -- The JSON table holds the same rows, with full precision.
      local json = by_file(batch.read_table(out .. "/results.json"))
      for file, row in pairs(rows) do
        for _, c in ipairs({ "file", "k", "loss", "iterations", "status", "error" }) do
          assert.equal(row[c], json[file][c])
        end
        assert.near(row.duration or 0, json[file].duration or 0, 1e-6)
      end

      for _, name in ipairs(LOOPS) do
        local row = rows[name]
        assert.equal("ok", row.status)
        assert.equal(2, row.k)
        assert.equal(10, row.iterations)
        -- The same work done by tessera.nmf in a process with one OpenBLAS thread (the init's
        -- SVD follows OPENBLAS_NUM_THREADS, which a worker sets) gives the same bytes.
        local ref = dir .. "/ref"
        local chunk = string.format([[
          local tessera = require "tessera"
          local a = tessera.audio.load(%q, { sr = 22050, mono = true, quality = "poly" })
          local m = tessera.nmf(tessera.stft(a):magnitude(), { k = 2, max_iter = 10,
            every = 5, threads = 1, progress = false, tol_rule = "last" })
          m:normalize("sum"):sort("centroid")
          m:save(%q)
          print(string.format("%%.17g %%.17g", a:duration(), m.loss))]], dir .. "/in/" .. name, ref)
        local printed, _, status = tessera_cli("-e " .. q(chunk),
          "OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 ")
        assert.equal(0, status)
        local duration, loss = printed:match("^(%S+) (%S+)\n$")
        assert.near(tonumber(duration), row.duration, 1e-6)
        assert.equal(tonumber(loss), row.loss)
        for _, f in ipairs({ "W.npy", "H.npy" }) do
          assert.equal(helpers.read_file(ref .. "/" .. f),
            helpers.read_file(out .. "/" .. name .. "/" .. f))
        end
        local model = cjson.decode(helpers.read_file(out .. "/" .. name .. "/model.json"))
        assert.near(row.loss, model.loss, 1e-9 * row.loss)
        local checked = {} -- --every 5: the objective at 0, 5 and 10 only
        for _, h in ipairs(model.history) do checked[#checked + 1] = h.iteration end
        assert.same({ 0, 5, 10 }, checked)
        local stamp = cjson.decode(helpers.read_file(out .. "/" .. name .. "/stamp.json"))
        assert.equal(tessera.core.util.sha256_file(dir .. "/in/" .. name), stamp.input_sha256)
        assert.same({ "H.npy", "W.npy", "model.json", "stamp.json" },
          helpers.listdir(out .. "/" .. name))
      end
      assert.equal("failed", rows["bad/corrupt.wav"].status)
      assert.matches("^tessera.audio.load: cannot decode '.*/bad/corrupt.wav': ",
        rows["bad/corrupt.wav"].error)
      assert.equal("tessera.audio.load: '" .. dir .. "/in/bad/empty.wav' is empty (0 bytes)",
        rows["bad/empty.wav"].error)
      assert.equal("tessera.batch: '" .. dir .. "/in/bad/silent.wav' is silent (every sample "
        .. "is 0)", rows["bad/silent.wav"].error)
      assert.equal("failed", rows["bad/long.wav"].status)
      assert.matches("needs [%d.]+ MB, more than .*the memory cap %(12.6 MB%)", rows["bad/long.wav"].error)
      -- Failed inputs leave no folder behind, not even a temporary one.
      assert.same({}, helpers.listdir(out .. "/bad"))
      -- One line per file when stderr is not a terminal.
      assert.equal(7, select(2, err:gsub("batch: %[%d/7%] ", "")))
      assert.matches("batch: %[%d/7%] ok drums/amen.flac %(1.75 s of audio, k 2, loss [%d.e+]+, "
        .. "10 iterations, [%d.]+ s%)\n", err)
    end)

    it("skips what is done on a second run, and redoes what changed", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      loops_folder(dir .. "/in")
      local out = dir .. "/out"
      local cmd = "batch " .. q(dir .. "/in") .. " -o " .. q(out) .. " " .. FAST .. " -k 2"
      local _, err1, code1 = tessera_cli(cmd)
      assert.equal(0, code1, err1)
      local first = batch.read_table(out .. "/results.csv")
      local W = helpers.read_file(out .. "/drums/amen.flac/W.npy")
      local _, err2, code2 = tessera_cli(cmd)
      assert.equal(0, code2)
      assert.matches("3 inputs: 0 ok, 3 skipped, 0 failed", err2)
      local second = batch.read_table(out .. "/results.csv")
      for i, r in ipairs(second) do
        assert.equal("skipped", r.status)
        r.status = "ok"
        assert.same(first[i], r) -- the stored figures, timing included
      end
      -- A changed input is redone, the others are not.
      copy(SAMPLES .. "/loop_garzul.flac", dir .. "/in/drums/amen.flac")
      local _, err3 = tessera_cli(cmd)
      assert.matches("3 inputs: 1 ok, 2 skipped, 0 failed", err3)
      assert.not_equal(W, helpers.read_file(out .. "/drums/amen.flac/W.npy"))
      -- Other options redo everything.
      local _, err4 = tessera_cli(cmd .. " --seed 1")
      assert.matches("3 inputs: 3 ok, 0 skipped, 0 failed", err4)
      -- A damaged output is redone.
      spit(out .. "/other/industrial.flac/H.npy", "broken")
      local _, err5 = tessera_cli(cmd .. " --seed 1")
      assert.matches("3 inputs: 1 ok, 2 skipped, 0 failed", err5)
      -- So does another resampling quality (the loops are at 44.1 kHz), with other W.
      local W1 = helpers.read_file(out .. "/drums/amen.flac/W.npy")
      local _, err6 = tessera_cli(cmd .. " --seed 1 --resample best")
      assert.matches("3 inputs: 3 ok, 0 skipped, 0 failed", err6)
      assert.not_equal(W1, helpers.read_file(out .. "/drums/amen.flac/W.npy"))
      local stamp = cjson.decode(helpers.read_file(out .. "/drums/amen.flac/stamp.json"))
      assert.equal("best", stamp.options.resample)
    end)

    it("hands the largest files out first, so that none is left alone at the end", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      loops_folder(dir .. "/in")
      copy(SAMPLES .. "/loop_tabla.flac", dir .. "/in/other/tabla.flac") -- last by path
      local files = { "drums/amen.flac", "drums/breakbeat.flac", "other/industrial.flac",
                      "other/tabla.flac" }
      local size = {}
      for _, f in ipairs(files) do size[f] = uv.fs_stat(dir .. "/in/" .. f).size end
      table.sort(files, function(a, b) return size[a] > size[b] end)
      assert.equal("other/tabla.flac", files[1])
      local _, err, code = tessera_cli("batch " .. q(dir .. "/in") .. " -o " .. q(dir .. "/out")
        .. " " .. FAST .. " -k 2 -j 1")
      assert.equal(0, code, err)
      local seen = {}
      for file in err:gmatch("%[%d/4%] ok (%S+)") do seen[#seen + 1] = file end
      assert.same(files, seen)
    end)

    it("continues an interrupted batch where it stopped", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      loops_folder(dir .. "/in")
      copy(SAMPLES .. "/loop_amen.flac", dir .. "/in/other/z.flac")
      -- The script interrupts the batch (SIGINT to the coordinator) on industrial, once:
      -- workers take the largest files first, so it comes last, after the other three.
      spit(dir .. "/interrupt-once", "")
      spit(dir .. "/work.lua", string.format([[
local uv = require "luv"
return function(file, out, options)
  local a = require("tessera").audio.load(file, { sr = options.sr })
  if file:match("industrial") and os.remove(%q) then
    uv.kill(uv.os_getppid(), "sigint")
    uv.sleep(5000) -- ended by the coordinator before this is over
  end
  local f = assert(io.open(out .. "/peak.txt", "w"))
  f:write(string.format("%%.9g\n", a:peak()))
  f:close()
  return { duration = a:duration() }
end
]], dir .. "/interrupt-once"))
      local out = dir .. "/out"
      local cmd = "batch " .. q(dir .. "/in") .. " -o " .. q(out) .. " --script "
        .. q(dir .. "/work.lua") .. " -j 1 --progress lines"
      local _, err, code = tessera_cli(cmd)
      assert.equal(130, code)
      assert.matches("batch: interrupted %(SIGINT%) after 3 of 4 inputs; run the same command "
        .. "again to continue\n$", err)
      assert.matches("%[3/4%] ok [^\n]+\nbatch: 4 inputs", err) -- the three others first
      local rows = batch.read_table(out .. "/results.csv")
      assert.same({ "drums/amen.flac", "drums/breakbeat.flac", "other/z.flac" },
                  { rows[1].file, rows[2].file, rows[3].file })
      assert.equal(3, #rows)
      assert.truthy(helpers.exists(out .. "/drums/amen.flac/peak.txt"))
      assert.falsy(helpers.exists(out .. "/other/industrial.flac/peak.txt"))
      local _, err2, code2 = tessera_cli(cmd)
      assert.equal(0, code2, err2)
      assert.matches("4 inputs: 1 ok, 3 skipped, 0 failed", err2)
      rows = by_file(batch.read_table(out .. "/results.json"))
      assert.equal("ok", rows["other/industrial.flac"].status)
      assert.near(0.883764, rows["other/industrial.flac"].duration, 1e-6)
      assert.same({ "peak.txt", "stamp.json" }, helpers.listdir(out .. "/other/industrial.flac"))
      assert.same({ "industrial.flac", "z.flac" }, helpers.listdir(out .. "/other"))
    end)

    it("records a file that takes its worker down and goes on with a new worker", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      loops_folder(dir .. "/in")
      spit(dir .. "/crash.lua", [[
local uv = require "luv"
return function(file, out)
  if file:match("breakbeat") then
    io.stderr:write("about to crash\n")
    uv.kill(uv.os_getpid(), "sigkill")
  end
  if file:match("industrial") then error("no industrial today") end
  return { k = 1 }
end
]])
      local _, err, code = tessera_cli("batch " .. q(dir .. "/in") .. " -o " .. q(dir .. "/out")
        .. " --script " .. q(dir .. "/crash.lua") .. " -j 1 --progress lines")
      assert.equal(2, code)
      local rows = by_file(batch.read_table(dir .. "/out/results.csv"))
      assert.equal("ok", rows["drums/amen.flac"].status)
      assert.equal(1, rows["drums/amen.flac"].k)
      assert.equal("worker killed by signal 9 (SIGKILL): about to crash",
        rows["drums/breakbeat.flac"].error)
      assert.equal("no industrial today", rows["other/industrial.flac"].error)
      assert.matches("about to crash\n", err) -- a worker's stderr is passed on
    end)

    it("kills a worker past --timeout, records its input, goes on, and resumes it later", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      loops_folder(dir .. "/in")
      copy(SAMPLES .. "/loop_amen.flac", dir .. "/in/other/z.flac")
      -- While the file "hang" exists, the script never finishes breakbeat (a Lua loop, after
      -- half a W.npy) nor industrial (a child process that sleeps).
      spit(dir .. "/hang", "")
      spit(dir .. "/work.lua", string.format([[
local hang, pidfile = %q, %q
local function exists(path)
  local f = io.open(path)
  if f then f:close() end
  return f ~= nil
end
return function(file, out)
  local f = assert(io.open(out .. "/W.npy", "wb"))
  f:write("\147NUMPY")
  f:flush()
  if exists(hang) and file:match("breakbeat") then
    while true do end
  end
  if exists(hang) and file:match("industrial") then
    os.execute("sleep 300 & echo $! > " .. pidfile .. "; wait")
  end
  f:write(" and the rest")
  f:close()
  return { k = 1 }
end
]], dir .. "/hang", dir .. "/sleep.pid"))
      local out = dir .. "/out"
      local cmd = "batch " .. q(dir .. "/in") .. " -o " .. q(out) .. " --script "
        .. q(dir .. "/work.lua") .. " -j 1 --timeout 1 --progress lines"
      local _, err, code = tessera_cli(cmd)
      assert.equal(2, code, err) -- timeouts count as failures
      assert.matches("batch: 4 inputs: 2 ok, 0 skipped, 2 failed %(2 timed out%) in ", err)
      local rows = by_file(batch.read_table(out .. "/results.json"))
      local message = "timed out after 1 s (the per-file timeout): its worker was killed"
      for _, name in ipairs({ "drums/breakbeat.flac", "other/industrial.flac" }) do
        assert.same({ "timeout", message }, { rows[name].status, rows[name].error })
        assert.matches("batch: %[%d/4%] timeout " .. name:gsub("%p", "%%%0") .. ": "
          .. message:gsub("%p", "%%%0") .. "\n", err)
      end
      -- the inputs after them were done by new workers
      for _, name in ipairs({ "drums/amen.flac", "other/z.flac" }) do
        assert.same({ "ok", 1 }, { rows[name].status, rows[name].k })
      end
      -- nothing half written stays: no folder, no hidden temporary, for either
      assert.same({ "amen.flac" }, helpers.listdir(out .. "/drums"))
      assert.same({ "z.flac" }, helpers.listdir(out .. "/other"))
      -- the sleeping child was killed with its worker (gone, or a zombie left to init)
      local pid = assert(helpers.read_file(dir .. "/sleep.pid")):match("%d+")
      local stat = helpers.read_file("/proc/" .. pid .. "/stat")
      assert.is_true(stat == nil or stat:match("^%d+ %b() (%a)") == "Z", stat)
      -- Without the hang, the same command does the two that timed out and skips the rest.
      os.remove(dir .. "/hang")
      local _, err2, code2 = tessera_cli(cmd)
      assert.equal(0, code2, err2)
      assert.matches("batch: 4 inputs: 2 ok, 2 skipped, 0 failed in ", err2)
      rows = by_file(batch.read_table(out .. "/results.json"))
      for _, name in ipairs({ "drums/breakbeat.flac", "other/industrial.flac" }) do
        assert.equal("ok", rows[name].status)
        assert.equal("\147NUMPY and the rest", helpers.read_file(out .. "/" .. name .. "/W.npy"))
      end
    end)

    it("gives the same results with 2 workers as with 1 (one thread each)", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      loops_folder(dir .. "/in")
      local base = "batch " .. q(dir .. "/in") .. " " .. FAST .. " -k 3 --audio -o "
      local _, err1, c1 = tessera_cli(base .. q(dir .. "/one") .. " -j 1")
      local _, err2, c2 = tessera_cli(base .. q(dir .. "/two") .. " -j 2")
      assert.equal(0, c1, err1)
      assert.equal(0, c2, err2)
      assert.matches("%(1 worker x 1 thread%)", err1)
      assert.matches("%(2 workers x 1 thread%)", err2)
      assert.same(without_timings(batch.read_table(dir .. "/one/results.json")),
        without_timings(batch.read_table(dir .. "/two/results.json")))
      for _, name in ipairs(LOOPS) do
        local files = helpers.listdir(dir .. "/one/" .. name)
        assert.same({ "H.npy", "W.npy", "component_1.wav", "component_2.wav", "component_3.wav",
          "model.json", "stamp.json", "sum.wav" }, files)
        for _, f in ipairs({ "W.npy", "H.npy" }) do
          assert.equal(helpers.read_file(dir .. "/one/" .. name .. "/" .. f),
            helpers.read_file(dir .. "/two/" .. name .. "/" .. f))
        end
        -- The WAVs' samples (a float WAV's PEAK chunk holds the time it was written).
        for _, f in ipairs({ "component_1.wav", "sum.wav" }) do
          assert.same(tessera.audio.load(dir .. "/one/" .. name .. "/" .. f):totable(),
            tessera.audio.load(dir .. "/two/" .. name .. "/" .. f):totable())
        end
      end
    end)

    it("runs two shards at once with GNU parallel, merged into the single run's table", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      loops_folder(dir .. "/in")
      bad_files(dir .. "/in")
      local opts = " --iter 10 --threads 1 -k 2 -j 1 --progress none"
      local _, err, code = tessera_cli("batch " .. q(dir .. "/in") .. " -o " .. q(dir .. "/single")
        .. opts)
      assert.equal(3, code, err) -- no memory cap here: long.wav succeeds
      local out, perr, pcode = helpers.run(string.format(
        "parallel --will-cite --jobs 2 %s batch %s -o %s %s --shard {}/2 ::: 1 2 2>&1",
        q(HOST), q(dir .. "/in"), q(dir .. "/sharded"), opts))
      -- Both shards have failed files, and parallel's status is the number of failed jobs.
      assert.equal(2, pcode, out .. tostring(perr))
      assert.same({ "results.shard-1-of-2.csv", "results.shard-1-of-2.json",
        "results.shard-2-of-2.csv", "results.shard-2-of-2.json" },
        (function()
          local t = {}
          for _, n in ipairs(helpers.listdir(dir .. "/sharded")) do
            if n:match("^results") then t[#t + 1] = n end
          end
          return t
        end)())
      local shard1 = batch.read_table(dir .. "/sharded/results.shard-1-of-2.csv")
      local shard2 = batch.read_table(dir .. "/sharded/results.shard-2-of-2.csv")
      assert.equal(4, #shard1)
      assert.equal(3, #shard2)
      local mout, merr, mcode = tessera_cli("batch-merge "
        .. q(dir .. "/sharded/results.shard-1-of-2.csv") .. " "
        .. q(dir .. "/sharded/results.shard-2-of-2.csv") .. " -o " .. q(dir .. "/merged.csv"))
      assert.equal(0, mcode, merr)
      assert.equal(string.format("merged 2 tables: 7 files (4 ok, 0 skipped, 3 failed) into "
        .. "%s/merged.csv and %s/merged.json\n", dir, dir), mout)
      assert.same(without_timings(batch.read_table(dir .. "/single/results.csv")),
        without_timings(batch.read_table(dir .. "/merged.csv")))
      -- The JSON tables, merged, keep every digit.
      local _, jerr, jcode = tessera_cli("batch-merge "
        .. q(dir .. "/sharded/results.shard-2-of-2.json") .. " "
        .. q(dir .. "/sharded/results.shard-1-of-2.json") .. " -o " .. q(dir .. "/mergedj"))
      assert.equal(0, jcode, jerr)
      assert.same(without_timings(batch.read_table(dir .. "/single/results.json")),
        without_timings(batch.read_table(dir .. "/mergedj.json")))
      -- A shard's table given twice is fine; a table of other results conflicts.
      local _, _, twice = tessera_cli("batch-merge "
        .. q(dir .. "/sharded/results.shard-1-of-2.csv") .. " "
        .. q(dir .. "/sharded/results.shard-1-of-2.json") .. " -o " .. q(dir .. "/m2"))
      assert.equal(0, twice)
      local _, other_err = tessera_cli("batch " .. q(dir .. "/in") .. " -o " .. q(dir .. "/other")
        .. opts .. " --hop 256 --shard 1/2")
      assert.matches("4 inputs %(shard 1 of 2%): 3 ok, 0 skipped, 1 failed", other_err)
      local _, cerr, ccode = tessera_cli("batch-merge " .. q(dir .. "/single/results.csv") .. " "
        .. q(dir .. "/other/results.shard-1-of-2.csv") .. " -o " .. q(dir .. "/m3"))
      assert.equal(1, ccode)
      assert.matches("^tessera: tessera.batch: 'bad/long.wav' is in '.*/single/results.csv' "
        .. "%(ok, loss [%d.e+]+%) and in '.*/other/results.shard%-1%-of%-2.csv' %(ok, loss "
        .. "[%d.e+]+%)\n$", cerr)
    end)

    it("takes a manifest, and never takes its own outputs for inputs", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      loops_folder(dir .. "/in")
      spit(dir .. "/in/list.txt", "# two of them\nother/industrial.flac\n../missing.wav\n")
      local _, err, code = tessera_cli("batch " .. q(dir .. "/in/list.txt") .. " -o "
        .. q(dir .. "/in/out") .. " " .. FAST .. " -k 2 --audio")
      assert.equal(1, code)
      local rows = batch.read_table(dir .. "/in/out/results.csv")
      assert.same({ "../missing.wav", "other/industrial.flac" }, { rows[1].file, rows[2].file })
      assert.equal("tessera.batch: cannot open '" .. dir .. "/in/../missing.wav': No such file "
        .. "or directory", rows[1].error)
      assert.equal("ok", rows[2].status)
      assert.truthy(helpers.exists(dir .. "/in/out/other/industrial.flac/sum.wav"))
      assert.matches("batch: %[%d/2%] failed %.%./missing.wav", err)
      -- The folder itself, with the outputs inside it: the same three loops, no WAV of theirs.
      _, err, code = tessera_cli("batch " .. q(dir .. "/in") .. " -o " .. q(dir .. "/in/out")
        .. " " .. FAST .. " -k 2 --audio")
      assert.equal(0, code, err)
      assert.matches("3 inputs: 2 ok, 1 skipped, 0 failed", err)
    end)

    it("reports what stops a batch before it starts", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      assert(os.execute("mkdir -p " .. q(dir .. "/empty")))
      local _, err, code = tessera_cli("batch " .. q(dir .. "/empty") .. " -o " .. q(dir .. "/out"))
      assert.equal(1, code)
      assert.equal("tessera: tessera.batch: no audio files in '" .. dir .. "/empty' (looked for "
        .. ".aif, .aifc, .aiff, .au, .caf, .flac, .mp3, .oga, .ogg, .opus, .rf64, .snd, .w64, "
        .. ".wav, .wave)\n", err)
      _, err, code = tessera_cli("batch " .. q(dir .. "/empty") .. " -o " .. q(dir .. "/out")
        .. " --shard 3/2")
      assert.equal(1, code)
      assert.equal("tessera: tessera.batch: bad shard '3/2' (expected I/N with 1 <= I <= N, "
        .. "e.g. 1/4)\n", err)
      _, err, code = tessera_cli("batch " .. q(dir .. "/nothing") .. " -o " .. q(dir .. "/out"))
      assert.equal(1, code)
      assert.equal("tessera: tessera.batch: cannot open '" .. dir .. "/nothing': No such file or "
        .. "directory\n", err)
      spit(dir .. "/bad.lua", "return 42")
      _, err, code = tessera_cli("batch " .. q(dir .. "/empty") .. " -o " .. q(dir .. "/out")
        .. " --script " .. q(dir .. "/bad.lua"))
      assert.equal(1, code)
      assert.equal("tessera: tessera.batch: script '" .. uv.fs_realpath(dir .. "/bad.lua")
        .. "' must return a function(file, out, options), got number\n", err)
      _, err, code = tessera_cli("batch " .. q(dir .. "/empty") .. " -o " .. q(dir .. "/out")
        .. " -k 0")
      assert.equal(1, code)
      assert.equal("tessera: batch: -k must be a positive integer, got 0\n", err)
      _, err, code = tessera_cli("batch " .. q(dir .. "/empty") .. " -o " .. q(dir .. "/out")
        .. " --timeout 0")
      assert.equal(1, code)
      assert.equal("tessera: tessera.batch: timeout must be a number of seconds > 0, got 0\n", err)
      for _, bad in ipairs({ -1, "1", 0 / 0, math.huge }) do
        assert.has_error(function()
          batch.run { source = dir .. "/empty", out = dir .. "/out", timeout = bad }
        end, "tessera.batch: timeout must be a number of seconds > 0, got " .. tostring(bad))
      end
    end)
  end)
end)
