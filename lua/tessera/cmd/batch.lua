-- `tessera batch (DIR | MANIFEST.txt) -o OUTDIR`: the decomposition of every audio file of
-- a folder or a manifest (or a user script run on each), by worker processes, resumable and
-- shardable; see tessera.batch. Exit status: 0 when every input succeeded, else the number
-- of failed (or timed-out) inputs (at most 125); 130 when interrupted.
local format = string.format

local function size_text(text)
  if not tostring(text):match("^%d+%.?%d*[kKmMgG]?$") then return nil end
  return text
end

return {
  name = "batch",
  help = "decompose every audio file of a folder or a manifest, in parallel, resumably",
  setup = function(parser)
    parser:argument("input", "A folder (searched recursively for .wav, .flac, .ogg, ... files) "
      .. "or a manifest: a text file with one path per line (relative to the manifest).")
    parser:option("-o --out", "Output folder: one folder per input (named after its path, e.g. "
      .. "OUT/drums/amen.flac/) and results.csv / results.json.")
      :args(1):count(1)
    require("tessera.batch.options").setup(parser)
    parser:flag("--audio", "Also write one WAV per component and their sum, as decompose does.")
    parser:flag("--figures", "Also draw W.png and H.png (gnuplot).")
    parser:option("--script", "A Lua file returning function(file, out, options), run on each "
      .. "input instead of the decomposition; it writes into the folder out and may return "
      .. "{duration =, k =, loss =, iterations =} for the table.")
    parser:option("-j --jobs", "Worker processes (default: the number of cores, at most one "
      .. "per input).")
      :convert(math.tointeger)
    parser:option("--threads", "Threads per worker (default: cores / workers, at least 1: one "
      .. "input gets every core).")
      :convert(math.tointeger)
    parser:option("--shard", "I/N: process only the I-th of N slices (I = 1..N) of the sorted "
      .. "inputs, the inputs at positions I, I+N, I+2N, ...; the table is then "
      .. "results.shard-I-of-N.csv/.json (join them with batch-merge).")
    parser:option("--max-memory", "Memory cap of each worker (TESSERA_MAX_MEMORY, e.g. 512M): "
      .. "an input that needs more fails."):convert(size_text)
    parser:option("--timeout", "Seconds a worker may spend on one input (default: no limit): "
      .. "past it the worker and what it started are killed, the input is recorded with "
      .. "status timeout (a failure) and its partial outputs removed, and a new worker goes "
      .. "on."):convert(tonumber)
    parser:option("--progress", "bar (a terminal's default), lines (one per file; the default "
      .. "otherwise) or none.")
      :choices { "bar", "lines", "none" }
    parser:epilog("Inputs whose output folder holds a stamp matching the input's content, the "
      .. "options and the tessera version are skipped, so an interrupted batch continues where "
      .. "it stopped. Exit status: 0 when every input succeeded (or was skipped), else the "
      .. "number of failed or timed-out inputs, at most 125; 130 when interrupted.")
  end,
  run = function(args)
    local batch = require "tessera.batch"
    local shard
    if args.shard then shard = { batch.parse_shard(args.shard) } end
    local o = require("tessera.batch.options").from_args(args, "batch")
    o.audio, o.figures = args.audio, args.figures
    local summary = batch.run {
      source = args.input,
      out = args.out,
      options = o,
      script = args.script,
      jobs = args.jobs,
      threads = args.threads,
      shard = shard,
      max_memory = args.max_memory,
      timeout = args.timeout,
      progress = args.progress,
    }
    for _, e in ipairs(summary.worker_errors) do io.stderr:write("batch: ", e, "\n") end
    local shard_text = shard and format(" (shard %d of %d)", shard[1], shard[2]) or ""
    local workers = math.min(summary.jobs, math.max(summary.total, 1))
    local timed_out = summary.timed_out > 0
      and format(" (%d timed out)", summary.timed_out) or ""
    io.stderr:write(format("batch: %d inputs%s: %d ok, %d skipped, %d failed%s in %.1f s "
      .. "(%d worker%s x %d thread%s); results in %s\n", summary.total, shard_text, summary.ok,
      summary.skipped, summary.failed, timed_out, summary.seconds, workers,
      workers == 1 and "" or "s", summary.threads, summary.threads == 1 and "" or "s",
      summary.csv))
    if summary.interrupted then
      io.stderr:write(format("batch: interrupted (%s) after %d of %d inputs; run the same "
        .. "command again to continue\n", summary.interrupted, #summary.rows, summary.total))
      return 130
    end
    return math.min(summary.failed, 125)
  end,
}
