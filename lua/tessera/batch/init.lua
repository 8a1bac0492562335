-- tessera.batch: one decomposition (or one user script) per file of a folder or a manifest,
-- run by worker processes, resumable, sharded across machines, with a results table.
--
--   local batch = require "tessera.batch"
--   local inputs = batch.inputs("loops/")                  -- sorted {file, path, out}
--   local mine = batch.shard(inputs, 2, 4)                  -- every 4th input from the 2nd
--   local summary = batch.run { source = "loops/", out = "out", jobs = 2,
--                               options = { k = 8, loss = "kl", iter = 200 } }
--   batch.write_table(batch.merge { "a.csv", "b.csv" }, "all.csv", "all.json")
--
-- The coordinator (batch.run) lists and shards the inputs, then hands them one at a time to
-- worker processes (the bin/tessera host running batch.worker(), spawned through luv) over a
-- pipe, and reads one JSON result line per input from another. Processes, not threads: a
-- file that crashes the decoder takes its own worker down, which is recorded as that file's
-- failure and replaced, and memory goes back to the system between runs. Each worker gets
-- OPENBLAS_NUM_THREADS / OMP_NUM_THREADS and the NMF `threads` option so that
-- workers x threads <= cores; by default there are no more workers than inputs, so one input
-- gets every core.
--
-- Each input's outputs are built in a hidden folder beside their place and renamed into
-- place, with a stamp (SHA-256 of the input's bytes, the options, the script and the tessera
-- version) written last; an input whose folder holds a matching stamp is skipped, so an
-- interrupted batch continues where it stopped.
--
-- The parts, one concern each: tessera.batch.inputs (folders, manifests, shards),
-- .options (the built-in work, the decomposition `tessera decompose` shares, its options and
-- their check), .worker (the work on one input,
-- inside a worker), .pool (the worker processes, signals, timeouts), .progress (what the
-- user sees), .results (the results tables, read back and merged) and .run (the
-- coordinator). This table is their public face.
local json = require "tessera.json"
local inputs = require "tessera.batch.inputs"
local options = require "tessera.batch.options"
local results = require "tessera.batch.results"
local run = require "tessera.batch.run"
local worker = require "tessera.batch.worker"

return {
  COLUMNS = results.COLUMNS,       -- the results table's columns, in order
  EXTENSIONS = inputs.EXTENSIONS,  -- what a folder's audio files end in
  DEFAULTS = options.DEFAULTS,     -- the built-in work's options
  inputs = inputs.list,
  parse_shard = inputs.parse_shard,
  shard = inputs.shard,
  options = options.check,
  process = worker.process,
  worker = worker.loop,
  csv = results.csv,
  json_table = results.json_table,
  write_table = results.write_table,
  read_table = results.read_table,
  merge = results.merge,
  host = run.host,
  cores = run.cores,
  run = run.run,
  json = json.encode,
}
