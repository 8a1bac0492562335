-- bench/batch_bench.lua: throughput of `tessera batch` end to end against the equivalent
-- Python pipeline (bench/batch_bench.py), and the STFT alone against scipy.signal.stft.
-- Run from the repository root by scripts/bench.sh (`make bench`):
--
--   bin/tessera bench/batch_bench.lua >> bench/results.md
--
-- The folder is every loop_*.flac of sonic-pi-samples (linked into a temporary folder).
-- Each file: decode, mono, resample to 22050 Hz, STFT 2048/512, magnitude, KL-NMF with MU,
-- k = 8, 200 iterations (tol 0), W and H saved. tessera: `tessera batch --jobs 2 --threads 1
-- --resample poly --tol 0 --every 200` (batch's default resampling: scipy.signal.resample_poly's
-- filter, the same samples as the Python side; the objective only at the end, as scikit-learn's
-- MU computes none with tol 0, which make bench's fits do too); Python:
-- multiprocessing.Pool(2), one BLAS thread per worker. Both timed as whole commands (process
-- start, imports and worker start-up included), alternately, best of ROUNDS
-- (BATCH_BENCH_ROUNDS, default 3). Progress goes to stderr, the Markdown section to stdout.
local tessera = require "tessera"
local batch = require "tessera.batch"
local cjson = require "cjson"
local uv = require "luv"

local util = tessera.core.util
local fmt = string.format

local HOST = uv.exepath()
local PY = "/usr/bin/python3"
local SAMPLES = "/usr/share/sonic-pi/samples"
local ROUNDS = math.tointeger(tonumber(os.getenv("BATCH_BENCH_ROUNDS") or "3")) or 3
local STFT_REPS = 7
local SR, N_FFT, HOP, K, ITERS, WORKERS = 22050, 2048, 512, 8, 200, 2
local RESAMPLE = "poly"
-- What the table calls each --resample quality.
local RESAMPLERS = {
  poly = "the polyphase FIR of scipy.signal.resample_poly",
  best = "libsamplerate best-quality sinc",
  medium = "libsamplerate medium-quality sinc",
  fast = "libsamplerate fastest sinc",
}
local MB = 1024 * 1024

local function q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function log(...)
  io.stderr:write("batch bench: ", fmt(...), "\n")
  io.stderr:flush()
end

local function sh(cmd)
  local ok = os.execute(cmd)
  if not ok then error("batch bench: failed: " .. cmd, 0) end
end

local function capture(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local ok = p:close()
  if not ok then error("batch bench: failed: " .. cmd, 0) end
  return out
end

local function loadavg()
  local f = io.open("/proc/loadavg")
  local text = f and f:read("l") or "?"
  if f then f:close() end
  return text:match("^(%S+ %S+ %S+)") or text
end

local function run(work)
  -- The folder of loops.
  local loops = work .. "/loops"
  sh("mkdir -p " .. q(loops))
  local req = assert(uv.fs_scandir(SAMPLES))
  local names = {}
  while true do
    local name = uv.fs_scandir_next(req)
    if not name then break end
    if name:match("^loop_.*%.flac$") then names[#names + 1] = name end
  end
  table.sort(names)
  assert(#names > 0, "no loop_*.flac in " .. SAMPLES)
  for _, name in ipairs(names) do
    assert(uv.fs_symlink(SAMPLES .. "/" .. name, loops .. "/" .. name))
  end
  local load_start = loadavg()
  log("%d loops; %d rounds of tessera batch and the Python pipeline", #names, ROUNDS)

  local best_t, best_py = math.huge, math.huge
  local rows, py
  for round = 1, ROUNDS do
    local out = work .. "/tessera"
    sh("rm -rf " .. q(out))
    local t0 = util.now()
    sh(fmt("%s batch %s -o %s --jobs %d --threads 1 -k %d --loss kl --solver mu --iter %d "
      .. "--tol 0 --every %d --sr %d --resample %s --n-fft %d --hop %d --progress none 2>%s",
      q(HOST), q(loops), q(out), WORKERS, K, ITERS, ITERS, SR, RESAMPLE, N_FFT, HOP,
      q(work .. "/batch.log")))
    local t = util.now() - t0
    local these = batch.read_table(out .. "/results.json")
    assert(#these == #names, "tessera batch did not process every loop")
    for _, r in ipairs(these) do
      assert(r.status == "ok" and r.iterations == ITERS, r.file .. ": " .. tostring(r.error))
    end
    if t < best_t then best_t, rows = t, these end

    local pyout = work .. "/python"
    sh("rm -rf " .. q(pyout))
    t0 = util.now()
    local text = capture(fmt("%s bench/batch_bench.py pipeline %s %s %d", PY, q(loops), q(pyout),
      WORKERS))
    local tp = util.now() - t0
    local result = cjson.decode(text)
    assert(result.files == #names, "the Python pipeline did not process every loop")
    if tp < best_py then best_py, py = tp, result end
    log("round %d: tessera %.2f s, Python %.2f s", round, t, tp)
  end

  -- Memory: each worker's peak against 2 x the largest file's spectrogram + 64 MB.
  local peak, longest = 0, 0
  local stages = { load = 0, stft = 0, nmf = 0, save = 0 }
  for _, r in ipairs(rows) do
    peak = math.max(peak, r.peak_memory or 0)
    longest = math.max(longest, r.duration)
    for k in pairs(stages) do stages[k] = stages[k] + r.stages[k] end
  end
  local frames = 1 + math.floor(math.floor(longest * SR + 0.5) / HOP)
  local spectrogram = (N_FFT // 2 + 1) * frames * 8 -- complex float32, as tessera holds it
  local mem_target = 2 * spectrogram + 64 * MB

  -- The STFT alone on 3 minutes (loop_amen tiled), best of STFT_REPS each.
  log("STFT of 3 minutes, best of %d", STFT_REPS)
  local amen = tessera.audio.load(SAMPLES .. "/loop_amen.flac", { sr = SR, mono = true })
  local long = amen:tile(180 * SR)
  local wav = work .. "/3min.wav"
  long:save(wav, { subtype = "float" })
  local best_stft = math.huge
  local shape
  for _ = 1, STFT_REPS do
    local t0 = util.now()
    -- One thread, as scipy; the magnitude straight from the frames' spectra.
    local V = tessera.stft(long, { n_fft = N_FFT, hop = HOP, magnitude = true, threads = 1 })
    best_stft = math.min(best_stft, util.now() - t0)
    shape = { V:shape() }
    V = nil -- luacheck: ignore 311
    collectgarbage()
  end
  local scipy = cjson.decode(capture(fmt("%s bench/batch_bench.py stft %s %d", PY, q(wav),
    STFT_REPS)))

  -- The report.
  local n = #names
  local rate_t, rate_py = n / best_t, n / best_py
  local ratio = rate_t / rate_py
  local stft_ratio = scipy.seconds / best_stft
  local function met(ok) return ok and "MET" or "NOT MET" end
  local function stage_text(s)
    return fmt("%.2f / %.2f / %.2f / %.2f s", s.load, s.stft, s.nmf, s.save)
  end
  local py_peak = 0
  for _, p in ipairs(py.worker_peaks) do py_peak = math.max(py_peak, p) end
  local lines = {
    "",
    "## Batch throughput end to end (bench/batch_bench.lua)",
    "",
    fmt("%d loops (every loop_*.flac of sonic-pi-samples, %.1f s of audio in all, the longest "
      .. "%.1f s): decode, mono, resample to %d Hz, STFT %d/%d, magnitude, KL-NMF (MU, k = %d, "
      .. "%d iterations, tol 0), W and H saved. Both pipelines use %d worker processes with one "
      .. "thread each, and are timed as whole commands (start-up and imports included), "
      .. "alternately, best of %d rounds. Load average at the start: %s.", n,
      (function() local s = 0 for _, r in ipairs(rows) do s = s + r.duration end return s end)(),
      longest, SR, N_FFT, HOP, K, ITERS, WORKERS, ROUNDS, load_start),
    "",
    "| pipeline | wall time | files/s | per-file stages summed: load+resample / STFT / NMF / save "
      .. "| peak memory per worker |",
    "| --- | --- | --- | --- | --- |",
    fmt("| `tessera batch --jobs %d --threads 1 --resample %s --tol 0 --every %d` (libsndfile, "
      .. "%s, FFTW, tessera.nmf) | %.2f s | %.2f | %s | %.1f MB |", WORKERS, RESAMPLE, ITERS,
      RESAMPLERS[RESAMPLE], best_t, rate_t, stage_text(stages), peak / MB),
    fmt("| Python: soundfile, scipy.signal.resample_poly, scipy.signal.stft, scikit-learn NMF, "
      .. "np.save; Pool(%d) | %.2f s | %.2f | %s | %.1f MB |", WORKERS, best_py, rate_py,
      stage_text(py.stages), py_peak / MB),
    "",
    fmt("- %s throughput: tessera %.1fx the Python pipeline's files per second (target >= 5x)",
      met(ratio >= 5), ratio),
    fmt("- %s peak memory per worker: %.1f MB, under 2 x the largest spectrogram (%d x %d "
      .. "complex, %.1f MB) + 64 MB = %.1f MB", met(peak < mem_target), peak / MB,
      N_FFT // 2 + 1, frames, spectrogram / MB, mem_target / MB),
    "",
    fmt("STFT alone of 3 minutes (loop_amen tiled, %d Hz, %d/%d, V %d x %d), best of %d:",
      SR, N_FFT, HOP, shape[1], shape[2], STFT_REPS),
    "",
    "| | seconds |",
    "| --- | --- |",
    fmt("| `tessera.stft(a, { magnitude = true, threads = 1 })` | %.1f ms |", best_stft * 1e3),
    fmt("| `np.abs(scipy.signal.stft(y, ...)[2])` | %.1f ms |", scipy.seconds * 1e3),
    "",
    fmt("- %s STFT with magnitude: tessera %.1fx faster than scipy (target >= 8x)",
      met(stft_ratio >= 8), stft_ratio),
  }
  io.write(table.concat(lines, "\n"), "\n")
end

local work = capture("mktemp -d \"${TMPDIR:-/tmp}/tessera-batch-bench.XXXXXX\""):gsub("%s+$", "")
local ok, err = pcall(run, work)
os.execute("rm -rf " .. q(work))
if not ok then error(err, 0) end
