-- Specs for tessera.batch.results: the results tables written, read back and merged.
local batch = require "tessera.batch"
local helpers = require "helpers"
local fixtures = require "batch_fixtures"

local spit = fixtures.spit

describe("tessera.batch", function()
  describe("write_table(), read_table() and merge()", function()
    local rows = {
      { file = "b, \"quoted\".wav", status = "failed", seconds = 0.25,
        error = "tessera.audio.load: cannot decode 'b': format not recognised\nsecond line" },
      { file = "a.flac", duration = 1.7533333333333334, k = 8, loss = 13447.123456789012,
        iterations = 200, seconds = 0.1234, status = "ok" },
    }

    it("round-trips a table through CSV and JSON, sorted by file", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      batch.write_table(rows, dir .. "/t.csv", dir .. "/t.json")
      local csv = helpers.read_file(dir .. "/t.csv")
      assert.equal("file,duration,k,loss,iterations,seconds,status,error\r\n"
        .. "a.flac,1.753333,8," .. string.format("%.17g", rows[2].loss) .. ",200,0.123,ok,\r\n"
        .. "\"b, \"\"quoted\"\".wav\",,,,,0.250,failed,\"tessera.audio.load: cannot decode "
        .. "'b': format not recognised\nsecond line\"\r\n", csv)
      local back = batch.read_table(dir .. "/t.csv")
      assert.same({ file = "a.flac", duration = 1.753333, k = 8, loss = 13447.123456789012,
        iterations = 200, seconds = 0.123, status = "ok" }, back[1])
      assert.equal(rows[1].error, back[2].error)
      assert.equal(rows[1].file, back[2].file)
      local json = batch.read_table(dir .. "/t.json")
      assert.same(rows[2], json[1])
      assert.same(rows[1], json[2])
      -- Written atomically: nothing but the two tables in the folder.
      assert.same({ "t.csv", "t.json" }, helpers.listdir(dir))
    end)

    it("merges shard tables, keeps a repeated identical result once, refuses conflicts", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      batch.write_table({ rows[2] }, dir .. "/1.csv", dir .. "/1.json")
      batch.write_table({ rows[1] }, dir .. "/2.csv")
      local again = {}
      for k, v in pairs(rows[2]) do again[k] = v end
      again.status, again.seconds = "skipped", 9
      batch.write_table({ again }, dir .. "/3.csv")
      local merged = batch.merge({ dir .. "/2.csv", dir .. "/1.json", dir .. "/3.csv" })
      assert.equal(2, #merged)
      assert.equal("a.flac", merged[1].file)
      assert.equal("ok", merged[1].status)
      assert.equal(rows[1].file, merged[2].file)
      local other = {}
      for k, v in pairs(rows[2]) do other[k] = v end
      other.loss = 1.5
      batch.write_table({ other }, dir .. "/4.csv")
      assert.has_error(function() batch.merge({ dir .. "/1.csv", dir .. "/4.csv" }) end,
        string.format("tessera.batch: 'a.flac' is in '%s/1.csv' (ok, loss 13447.1235) and in "
          .. "'%s/4.csv' (ok, loss 1.5)", dir, dir))
    end)

    it("reports files that are not results tables", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      spit(dir .. "/x.csv", "file,k\nx,1\n")
      spit(dir .. "/x.json", "{\"file\": 1}")
      assert.has_error(function() batch.read_table(dir .. "/x.csv") end,
        "tessera.batch: '" .. dir .. "/x.csv' is not a results table (no column 'duration')")
      assert.has_error(function() batch.read_table(dir .. "/x.json") end,
        "tessera.batch: '" .. dir .. "/x.json' is not a results table (a JSON array of rows "
        .. "expected)")
      assert.has_error(function() batch.read_table(dir .. "/none.csv") end,
        "tessera.batch: cannot open '" .. dir .. "/none.csv': No such file or directory")
      assert.has_error(function() batch.merge({}) end,
        "bad argument #1 to 'merge' (a non-empty list of tables expected)")
    end)
  end)
end)
