-- bench/bench.lua: tessera's side of `make bench` (scripts/bench.sh drives it).
--
--   bench.lua prepare DIR
--       builds V for each case from a real loop (tiled to the case's length, STFT n_fft
--       2048, hop 512, magnitude) and one shared random init (fixed seed) per k; writes
--       DIR/V_<case>.npy, DIR/W0_<case>_<k>.npy, DIR/H0_<case>_<k>.npy and prints one JSON
--       line per case with its shape.
--   bench.lua serve DIR CASE ALGO K
--       the tessera side of one job, driven by bench/sk_bench.py over stdin/stdout so that
--       its fits interleave with scikit-learn's: reads a line with an iteration count N,
--       fits tessera.nmf on those files (init "custom", tol 0, N iterations, every = N) and prints
--       {"seconds": m.seconds}; on the line "done" prints the peak resident memory and the
--       last fit's ‖V − WH‖², and exits. A process of its own per job, so that its peak
--       memory is this job's.
--   bench.lua sizes DIR
--       prints the cases' shapes as NxP words (the floor program's arguments).
--   bench.lua report DIR
--       joins DIR/{prepare,floor,tessera,sklearn}.jsonl into the tables of bench/results.md
--       (written through a temporary name) and prints them.
local tessera = require "tessera"
local cjson = require "cjson"

local LOOP = "/usr/share/sonic-pi/samples/loop_amen.flac"
local SR, N_FFT, HOP = 22050, 2048, 512
local SEED = 20240601

-- Keep in step with the job list in scripts/bench.sh.
local CASES = {
  { name = "10s", seconds = 10, label = "10 s (loop_amen tiled)" },
  { name = "3min", seconds = 180, label = "3 min (loop_amen tiled)" },
}
local KS = { 4, 16 }

-- What each algorithm means on each side.
local ALGOS = {
  ["mu-euc"] = {
    label = "MU Euclidean", opts = { solver = "mu", loss = "euclidean", order = "WH" },
  },
  ["mu-kl"] = { label = "MU KL", opts = { solver = "mu", loss = "kl", order = "WH" } },
  cd = { label = "CD Euclidean", opts = { solver = "cd", loss = "euclidean" } },
}
local ALGO_ORDER = { "mu-euc", "mu-kl", "cd" }

-- Targets from the issue, set at k = 4: sklearn/tessera at least this. At k = 16 the issue
-- sets none; tessera must still not be slower than scikit-learn there.
local TARGETS = {
  ["10s"] = { ["mu-kl"] = 5, ["mu-euc"] = 3 },
  ["3min"] = { ["mu-kl"] = 15, ["mu-euc"] = 3, cd = 4 },
}

local function path(dir, name) return dir .. "/" .. name end

local function emit(t) io.write(cjson.encode(t), "\n") io.stdout:flush() end

local function prepare(dir)
  local loop = tessera.audio.load(LOOP, { sr = SR })
  for _, case in ipairs(CASES) do
    local a = loop:tile(case.seconds * SR)
    local V = tessera.stft(a, { n_fft = N_FFT, hop = HOP }):magnitude()
    local n, p = V:shape()
    V:save(path(dir, "V_" .. case.name .. ".npy"))
    for _, k in ipairs(KS) do
      -- scikit-learn's 'random' init (|N(0,1)| * sqrt(mean(V)/k)), seeded, shared by both.
      local m = tessera.nmf(V, { k = k, init = "random", seed = SEED, max_iter = 0 })
      m.W:save(path(dir, ("W0_%s_%d.npy"):format(case.name, k)))
      m.H:save(path(dir, ("H0_%s_%d.npy"):format(case.name, k)))
    end
    emit { case = case.name, label = case.label, n = n, p = p, v_bytes = 4 * n * p }
  end
end

-- Peak resident set of this process so far (VmHWM), in bytes; nil off Linux.
local function peak_rss()
  local f = io.open("/proc/self/status", "r")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  local kb = text:match("VmHWM:%s*(%d+)%s*kB")
  return kb and tonumber(kb) * 1024 or nil
end

local function serve(dir, case, algo, k)
  local spec = assert(ALGOS[algo], "unknown algorithm " .. tostring(algo))
  local V = tessera.matrix.load(path(dir, "V_" .. case .. ".npy"))
  local W0 = tessera.matrix.load(path(dir, ("W0_%s_%d.npy"):format(case, k)))
  local H0 = tessera.matrix.load(path(dir, ("H0_%s_%d.npy"):format(case, k)))
  local model
  for line in io.lines() do
    if line == "done" then break end
    local count = assert(math.tointeger(tonumber(line)), "bad iteration count " .. line)
    -- every = count: no objective between the first and the last, as scikit-learn's MU
    -- computes none with tol = 0 (its CD only its cheap violation): the same work.
    local opts = { k = k, init = "custom", W = W0, H = H0, max_iter = count, tol = 0,
                   every = count, progress = false }
    for key, value in pairs(spec.opts) do opts[key] = value end
    model = nil -- luacheck: ignore 311 (dropped so that collectgarbage frees the last fit)
    collectgarbage()
    model = tessera.nmf(V, opts)
    assert(model.iterations == count, "the fit stopped early")
    emit { seconds = model.seconds }
  end
  local rss = peak_rss() -- before the check below allocates its own n x p matrices
  local R = V - model.W * model.H
  emit { peak_rss_bytes = rss, euclidean = R:hadamard(R):sum() }
end

local function read_jsonl(file)
  local out = {}
  local f = assert(io.open(file, "r"))
  for line in f:lines() do
    if line:match("^%s*{") then out[#out + 1] = cjson.decode(line) end
  end
  f:close()
  return out
end

-- Work of one iteration (bench/README.md): fused multiply-adds, float divisions, and bytes
-- of V that must come from memory (one read: every update depends on all of V).
local function work(algo, n, p, k)
  local np, s = n * p, (n + p) * k
  if algo == "mu-euc" then
    return { fma = 2 * np * k + 2 * s * k + s, div = s, bytes = 4 * np }
  elseif algo == "mu-kl" then
    return { fma = 4 * np * k + s, div = 2 * np + s, bytes = 4 * np }
  else
    return { fma = 2 * np * k + 3 * s * k, div = s, bytes = 4 * np }
  end
end

-- Multiply-adds one division displaces (floor.c measures it; 0 in an older floor.jsonl).
local function div_fma_slots(floor) return floor.div_fma_slots or 0 end

local function fmt_s(x)
  if x == nil then return "n/a" end
  if x >= 1 then return ("%.2f s"):format(x) end
  if x >= 1e-3 then return ("%.2f ms"):format(x * 1e3) end
  return ("%.0f µs"):format(x * 1e6)
end

local function fmt_mb(b) return b and ("%.1f MB"):format(b / 2 ^ 20) or "n/a" end

local function report(dir)
  local shapes, floor = {}, read_jsonl(path(dir, "floor.jsonl"))[1]
  for _, r in ipairs(read_jsonl(path(dir, "prepare.jsonl"))) do shapes[r.case] = r end
  local function index(rows)
    local t = {}
    for _, r in ipairs(rows) do
      if r.case then t[("%s/%s/%d"):format(r.case, r.algo, r.k)] = r end
    end
    return t
  end
  local ts = index(read_jsonl(path(dir, "tessera.jsonl")))
  local skrows = read_jsonl(path(dir, "sklearn.jsonl"))
  local sk, config = index(skrows), skrows[1] and skrows[1].config or {}
  local meta = read_jsonl(path(dir, "meta.jsonl"))[1] or {}

  local out = {}
  local function put(fmt, ...) out[#out + 1] = fmt:format(...) end
  put("# tessera benchmark: NMF seconds per iteration against scikit-learn")
  put("")
  put("Written by `make bench` (scripts/bench.sh) on %s. One run: this machine's floor,", meta.date or "?")
  put("then tessera and scikit-learn fit by fit, alternately. Both peers get the same V")
  put("(float32), the same initial W0, H0 (random init, seed %d) through init 'custom', tol 0", SEED)
  put("and the same iteration counts; tessera checks no objective between the first and the")
  put("last (`every = N`), as scikit-learn's MU computes none with tol 0. Each peer fits 1 and")
  put("N iterations, reps times, and keeps the")
  put("best time T(1), T(N) (tessera: the fit's own `m.seconds`; scikit-learn:")
  put("`non_negative_factorization` wall time). **Marginal s/iter** = (T(N) − T(1)) / (N − 1):")
  put("the cost of one more iteration, what a fit costs besides its iterations (checks, the")
  put("initial and final objective, scratch) left out on both sides; **whole-fit s/iter** =")
  put("T(N) / N, that cost included. Speed-ups and the targets use the marginal figures. MU")
  put("runs in scikit-learn's order (W then H, tessera `order=\"WH\"`). The floor and its")
  put("formulas are explained in bench/README.md.")
  put("")
  put("- machine: %s, %s cores; %s; load average at the start %s (other work on the machine",
      meta.cpu or "?", meta.cores or "?", meta.kernel or "", meta.load or "?")
  put("  slows both peers and the floor, unevenly: compare runs made in the same conditions)")
  put("- floor (bench/floor.c, best of %d threads and 1): %.1f G fused multiply-add/s, "
      .. "%.2f G divides/s, a division displaces %.2f multiply-adds",
      floor.threads, floor.fma_per_s / 1e9, floor.div_per_s / 1e9, div_fma_slots(floor))
  local env = meta.openblas_env
  if not (env and env:match("%S")) then env = "none set" end
  put("- tessera %s; OpenBLAS variables in the environment (both peers): %s", tessera.version, env)
  put("- scikit-learn %s, numpy %s", config.sklearn or "?", config.numpy or "?")
  if type(config.threadpoolctl) == "table" then
    for _, d in ipairs(config.threadpoolctl) do
      local parts = {}
      for _, key in ipairs { "internal_api", "version", "threading_layer", "architecture",
                             "num_threads", "filepath" } do
        local v = d[key]
        if v ~= nil and v ~= cjson.null then
          if math.type(v) == "float" and v == math.floor(v) then v = math.tointeger(v) end
          parts[#parts + 1] = ("%s %s"):format(key, tostring(v))
        end
      end
      put("  - threadpoolctl: %s", table.concat(parts, ", "))
    end
  end
  if config.show_config then
    put("  - numpy.show_config(): %s", table.concat(config.show_config, "; "))
  end
  put("")

  local verdicts = {}
  for _, case in ipairs(CASES) do
    local sh = shapes[case.name]
    local bw = floor.read_bytes_per_s[("%dx%d"):format(sh.n, sh.p)]
    put("## %s: V %d x %d (%s)", case.label, sh.n, sh.p, fmt_mb(sh.v_bytes))
    put("")
    put("Floor inputs: reading V at %.1f GB/s (%s per read).", bw / 1e9, fmt_s(sh.v_bytes / bw))
    put("")
    local head = { "algorithm", "k", "N x reps", "tessera marginal s/iter",
                   "scikit-learn marginal s/iter", "sklearn/tessera", "floor s/iter",
                   "tessera/floor", "whole-fit s/iter tessera / sklearn (ratio)",
                   "1-iteration fit tessera / sklearn", "tessera peak RSS",
                   "final ‖V−WH‖² tessera / sklearn" }
    put("| %s |", table.concat(head, " | "))
    put("|%s", string.rep(" --- |", #head))
    for _, algo in ipairs(ALGO_ORDER) do
      for _, k in ipairs(KS) do
        local key = ("%s/%s/%d"):format(case.name, algo, k)
        local t, s = ts[key], sk[key]
        local w = work(algo, sh.n, sh.p, k)
        local fl = math.max(w.bytes / bw,
                            (w.fma + w.div * div_fma_slots(floor)) / floor.fma_per_s,
                            w.div / floor.div_per_s)
        local ratio = (t and s) and s.s_marginal / t.s_marginal or nil
        local whole = (t and s) and s.s_per_iter / t.s_per_iter or nil
        put("| %s | %d | %s | %s | %s | %s | %s | %s | %s / %s (%s) | %s / %s | %s | %s |",
            ALGOS[algo].label, k, t and ("%d x %d"):format(t.iters, t.reps) or "n/a",
            fmt_s(t and t.s_marginal), fmt_s(s and s.s_marginal),
            ratio and ("%.1fx"):format(ratio) or "n/a", fmt_s(fl),
            t and ("%.1f"):format(t.s_marginal / fl) or "n/a",
            fmt_s(t and t.s_per_iter), fmt_s(s and s.s_per_iter),
            whole and ("%.1fx"):format(whole) or "n/a",
            fmt_s(t and t.s_one_iter_fit), fmt_s(s and s.s_one_iter_fit),
            fmt_mb(t and t.peak_rss_bytes),
            (t and s) and ("%.6g / %.6g"):format(t.euclidean, s.euclidean) or "n/a")
        local target = k == 4 and TARGETS[case.name][algo] or nil
        local ratios = ("%s marginal, %s whole fit"):format(
          ratio and ("%.1fx"):format(ratio) or "n/a", whole and ("%.1fx"):format(whole) or "n/a")
        verdicts[#verdicts + 1] = {
          text = ("%s %s k=%d: %s (%s)"):format(ALGOS[algo].label, case.label, k, ratios,
            target and ("target >= %gx"):format(target) or "no target: not slower than scikit-learn"),
          met = ratio ~= nil and ratio >= (target or 1),
        }
      end
    end
    put("")
  end
  put("## Targets")
  put("")
  put("scikit-learn's marginal s/iter divided by tessera's: k = 4 against the issue's targets,")
  put("k = 16 (no target in the issue) against 1x: tessera not slower.")
  put("")
  for _, v in ipairs(verdicts) do put("- %s %s", v.met and "MET" or "NOT MET", v.text) end
  put("")

  local text = table.concat(out, "\n")
  io.write(text)
  local target = "bench/results.md"
  local tmp = target .. ".tmp"
  local f = assert(io.open(tmp, "w"))
  assert(f:write(text))
  assert(f:close())
  assert(os.rename(tmp, target))
  io.write(("\nwritten to %s\n"):format(target))
end

local mode = arg[1]
if mode == "prepare" then
  prepare(assert(arg[2], "usage: bench.lua prepare DIR"))
elseif mode == "serve" then
  local dir, case, algo, k = arg[2], arg[3], arg[4], tonumber(arg[5])
  assert(dir and case and algo and k, "usage: bench.lua serve DIR CASE ALGO K")
  serve(dir, case, algo, math.tointeger(k))
elseif mode == "sizes" then
  local out = {}
  local dir = assert(arg[2], "usage: bench.lua sizes DIR")
  for _, r in ipairs(read_jsonl(path(dir, "prepare.jsonl"))) do
    out[#out + 1] = ("%dx%d"):format(r.n, r.p)
  end
  print(table.concat(out, " "))
elseif mode == "report" then
  report(assert(arg[2], "usage: bench.lua report DIR"))
else
  io.stderr:write("usage: bench.lua prepare DIR | serve DIR CASE ALGO K | sizes DIR | report DIR\n")
  os.exit(2)
end
