-- `tessera batch-merge TABLE... -o MERGED`: joins the results tables of batch shards (CSV
-- or JSON) into one, sorted by file; a file found in two tables with different results is
-- an error naming both.
local format = string.format

return {
  name = "batch-merge",
  help = "join the results tables of batch shards into one",
  setup = function(parser)
    parser:argument("tables", "Results tables (results.shard-I-of-N.csv or .json).")
      :args("+")
    parser:option("-o --out", "The merged table: OUT.csv and OUT.json are written (a .csv or "
      .. ".json ending is replaced)."):args(1):count(1)
  end,
  run = function(args)
    local batch = require "tessera.batch"
    local base = args.out:gsub("%.[cC][sS][vV]$", ""):gsub("%.[jJ][sS][oO][nN]$", "")
    local rows = batch.merge(args.tables)
    batch.write_table(rows, base .. ".csv", base .. ".json")
    local counts = { ok = 0, skipped = 0, failed = 0 }
    for _, r in ipairs(rows) do
      local status = r.status == "timeout" and "failed" or r.status -- timeouts are failures
      counts[status] = (counts[status] or 0) + 1
    end
    io.write(format("merged %d tables: %d files (%d ok, %d skipped, %d failed) into %s.csv and "
      .. "%s.json\n", #args.tables, #rows, counts.ok, counts.skipped, counts.failed, base, base))
  end,
}
