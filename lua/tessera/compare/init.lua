--- tessera.compare: which NMF method separates a known mixture best. A grid of methods x k x
-- seeds is fitted on the mix's magnitude spectrogram; each fit's components are grouped
-- into stems (tessera.compare.group: by the energy the references' ideal ratio masks give
-- each component, one component per stem by the Hungarian assignment first), each stem's
-- estimate is the Wiener-masked mix of its components (m:audio(group, X, {method =
-- "wiener"}), so the estimates add up to the mix), and each estimate is scored against its
-- reference by SI-SDR (tessera.eval.si_sdr) and, with bss = true, BSS Eval's SDR, SIR, SAR.
--
--   local compare = require "tessera.compare"
--   local r = compare(tessera.mixture { ... })          -- or compare(mix, {ref1, ref2, ...})
--   for _, b in ipairs(r.best) do print(b.stem, b.method, b.k, b.mean) end
--   compare.write(r, "out/compare")                       -- results.csv/.json, index.html
--
-- mix: an Audio (mono) or a file path, or a tessera.mixture result (its stems are then the
-- references, its names the stems' names). refs: a list of Audio or paths, every one at the
-- mix's rate and length, finite and not silent. Options (an unknown key is an error):
--   methods  list of names from compare.methods (default: all six, in their order)
--   ks       list of integers >= 1 (default {2, 3, 4, 6, 8, 12})
--   seeds    list of integers (default {1, 2, 3}); every method starts from a seeded
--            random start, so seeds differ for every method
--   n_fft, hop (1024, 256); max_iter (200); tol (1e-4)
--   bss      true: also SDR, SIR, SAR (mir_eval's bss_eval_sources, slower)
--   names    the stems' names (default: the mixture's, the files' names, or stem1, ...)
--   cache    false: fit everything anew (default: fits are kept in tessera.cache, so a
--            second run, e.g. with bss = true, fits nothing)
--   progress false: no progress line (default: one on stderr when it is a terminal)
--   on_fit   function(done, total, method, k, seed, model) called after each fit (model:
--            the fitted tessera.nmf Model, for measures of the factors themselves)
--
-- The result:
--   { stems = {names}, sr =, frames =, methods = {names}, ks =, seeds =, options = {...},
--     rows = { {method =, k =, seed =, stem = name, stem_index =, si_sdr = dB (-inf when no
--               component went to the stem), sdr =, sir =, sar = (bss only),
--               components = {i, ...}, iterations =, loss =, fit_seconds =, cached =}, ... }
--               in grid order (method, k, seed, stem),
--     summary = { {method =, k =, stem =, n = seeds, mean =, min =, max =, std =}, ... },
--     best = { {stem =, method =, k =, mean =, min =, max =, std =, n =, seed = the best
--               seed's, si_sdr = its score, components =}, ... } one per stem: the method
--               and k with the largest mean SI-SDR over seeds,
--     estimates = { [stem] = Audio } for those best rows, references = { [stem] = Audio },
--     mix = Audio, seconds = wall time, fits = count, cache = {hits =, misses =} }
-- @module tessera.compare
local core = require "tessera.core"
local did_you_mean = require("tessera.args").did_you_mean
local audio = require "tessera.audio"
local cache = require "tessera.cache"
local eval = require "tessera.eval"
local group = require "tessera.compare.group"
local nmf = require "tessera.nmf"

local error, ipairs, pairs, pcall, setmetatable, tostring, type =
  error, ipairs, pairs, pcall, setmetatable, tostring, type
local io, math, string, table = io, math, string, table
local fmt = string.format
local huge, math_type, sqrt = math.huge, math.type, math.sqrt
local now, sha256 = core.util.now, core.util.sha256

local compare = {}

-- The methods, in their default order. opts are tessera.nmf's; floor (IS only) lifts V by
-- that fraction of its largest value, since the Itakura-Saito divergence of a zero bin is
-- infinite and the fit would diverge on the silent bins of a real spectrogram.
compare.methods = {
  { name = "cd", about = "coordinate descent, Euclidean (scikit-learn's default solver)",
    opts = { loss = "euclidean", solver = "cd", init = "random" } },
  { name = "mu-euclidean", about = "multiplicative updates, Euclidean, H then W (Lee-Seung)",
    opts = { loss = "euclidean", solver = "mu", order = "HW", init = "random" } },
  { name = "mu-kl", about = "multiplicative updates, generalised KL divergence (Lee-Seung)",
    opts = { loss = "kl", solver = "mu", order = "HW", init = "random" } },
  { name = "is", about = "multiplicative updates, Itakura-Saito divergence (V floored at 1e-6 of its peak)",
    opts = { loss = "is", solver = "mu", order = "HW", init = "random" }, floor = 1e-6 },
  { name = "beta-0.5", about = "multiplicative updates, beta-divergence with beta = 0.5",
    opts = { loss = 0.5, solver = "mu", order = "HW", init = "random" } },
  { name = "study", about = "the study's code: Euclidean MU, both factors from the previous iterate, uniform start",
    opts = { loss = "euclidean", solver = "mu", order = "simultaneous", init = "uniform" } },
}
local by_name = {}
for _, m in ipairs(compare.methods) do by_name[m.name] = m end

local DEFAULTS = { ks = { 2, 3, 4, 6, 8, 12 }, seeds = { 1, 2, 3 }, n_fft = 1024, hop = 256,
                   max_iter = 200, tol = 1e-4 }
local OPTION_KEYS = { "bss", "cache", "hop", "ks", "max_iter", "methods", "n_fft", "names",
                      "on_fit", "progress", "seeds", "tol" }

local function fail(msg, ...)
  error("tessera.compare: " .. fmt(msg, ...), 0)
end

local function show(v)
  if type(v) == "string" then return "'" .. v .. "'" end
  if type(v) == "number" then return tostring(v) end
  return type(v)
end

-- ---- inputs ---------------------------------------------------------------------------

-- "reference 2 ('snare.wav')" or "the mix".
local function label(s)
  if s.path then return fmt("%s ('%s')", s.what, s.path) end
  return s.what
end

local function signal(v, what)
  local s = { what = what }
  if type(v) == "string" then
    s.path = v
    s.audio = audio.load(v)
  elseif core.type(v) == "Audio" then
    s.audio = v
    if v.channels ~= 1 then
      fail("%s has %d channels (mix it down with a:mono())", label(s), v.channels)
    end
  else
    fail("%s must be an Audio or a file path, got %s", what, core.type(v) or type(v))
  end
  return s
end

-- The stems' names: given, the mixture's, the files' names, else stem1, stem2, ...
local function stem_names(refs, given)
  local names, seen = {}, {}
  for j, s in ipairs(refs) do
    local name = given and given[j]
    if name == nil and s.path then name = s.path:match("([^/]+)$"):gsub("%.[^.]*$", "") end
    if name == nil then name = "stem" .. j end
    if type(name) ~= "string" or not name:match("^[%w_.-]+$") then
      fail("stem %d: the name must be a word of letters, digits, '_', '-' and '.', got %s", j, show(name))
    end
    if seen[name] then name = name .. "-" .. j end
    seen[name] = true
    names[j] = name
  end
  return names
end

-- Same rate and length as the mix, finite, not silent.
local function check_signals(mix, refs)
  for _, s in ipairs(refs) do
    local a = s.audio
    if a.sr ~= mix.audio.sr then
      fail("%s is at %d Hz but the mix is at %d Hz (resample one of them)", label(s), a.sr, mix.audio.sr)
    end
    if #a ~= #mix.audio then
      fail("%s has %d samples but the mix has %d (the signals must have the same length)",
        label(s), #a, #mix.audio)
    end
  end
  for _, s in ipairs({ mix, table.unpack(refs) }) do
    local energy, frame, _, value = core.eval.scan(s.audio)
    if not energy then fail("%s holds %s at sample %d", label(s), tostring(value), frame) end
    if energy == 0 then fail("%s is silent (every sample is zero)", label(s)) end
  end
end

local function inputs(mix, refs, given_names)
  if type(mix) == "table" and core.type(mix) == nil and mix.mix and mix.stems then
    if refs ~= nil then fail("give the references or a tessera.mixture result, not both") end
    refs = {}
    for j, s in ipairs(mix.stems) do refs[j] = s.audio end
    given_names = given_names or mix.names
    mix = mix.mix
  end
  local m = signal(mix, "the mix")
  if type(refs) ~= "table" or core.type(refs) then
    fail("refs must be a list of references (Audio or file paths), got %s", core.type(refs) or type(refs))
  end
  if #refs == 0 then fail("the list of references is empty") end
  local list = {}
  for j, r in ipairs(refs) do list[j] = signal(r, "reference " .. j) end
  check_signals(m, list)
  return m, list, stem_names(list, given_names)
end

-- ---- options --------------------------------------------------------------------------

local function integer_list(v, key, min)
  if type(v) ~= "table" or #v == 0 then fail("%s must be a non-empty list of integers, got %s", key, show(v)) end
  local seen = {}
  for i, x in ipairs(v) do
    if math_type(x) ~= "integer" and not (type(x) == "number" and x == math.floor(x)) then
      fail("%s[%d] must be an integer, got %s", key, i, show(x))
    end
    x = math.tointeger(x)
    if min and x < min then fail("%s[%d] must be an integer >= %d, got %d", key, i, min, x) end
    if seen[x] then fail("%s lists %d twice", key, x) end
    seen[x] = true
    v[i] = x
  end
  return v
end

local function copy_list(t)
  local c = {}
  for i, v in ipairs(t) do c[i] = v end
  return c
end

local function options(opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then fail("options must be a table, got %s", type(opts)) end
  local valid = {}
  for _, key in ipairs(OPTION_KEYS) do valid[key] = true end
  for key in pairs(opts) do
    if not valid[key] then
      fail("unknown option '%s' (valid: %s)%s", tostring(key), table.concat(OPTION_KEYS, ", "),
        did_you_mean(key, OPTION_KEYS))
    end
  end
  local o = {}
  local names = {}
  for i, m in ipairs(compare.methods) do names[i] = m.name end
  o.methods = copy_list(opts.methods or names)
  if #o.methods == 0 then fail("methods must be a non-empty list of names") end
  local seen = {}
  for i, name in ipairs(o.methods) do
    if not by_name[name] then
      fail("unknown method %s (valid: %s)%s", show(name), table.concat(names, ", "),
        did_you_mean(name, names))
    end
    if seen[name] then fail("methods lists '%s' twice", name) end
    seen[name] = i
  end
  o.ks = integer_list(copy_list(opts.ks or DEFAULTS.ks), "ks", 1)
  o.seeds = integer_list(copy_list(opts.seeds or DEFAULTS.seeds), "seeds", 0)
  for _, key in ipairs({ "n_fft", "hop", "max_iter" }) do
    local v = opts[key] == nil and DEFAULTS[key] or opts[key]
    if math_type(v) ~= "integer" or v < 1 then fail("%s must be an integer >= 1, got %s", key, show(v)) end
    o[key] = v
  end
  o.tol = opts.tol == nil and DEFAULTS.tol or opts.tol
  local tol_ok = type(o.tol) == "number" and o.tol >= 0 and o.tol < huge -- NaN fails too
  if not tol_ok then fail("tol must be a finite number >= 0, got %s", show(o.tol)) end
  o.bss = opts.bss == true
  o.cache = opts.cache ~= false
  o.progress = opts.progress ~= false
  if opts.on_fit ~= nil and type(opts.on_fit) ~= "function" then
    fail("on_fit must be a function, got %s", type(opts.on_fit))
  end
  o.on_fit = opts.on_fit
  return o
end

-- ---- the grid -------------------------------------------------------------------------

-- The digest of an Audio's samples, for cache keys.
local function digest(a)
  local samples = a:totable()
  local parts = {}
  local pack = string.pack
  for i = 1, #samples, 4096 do
    parts[#parts + 1] = pack("<" .. string.rep("f", math.min(4096, #samples - i + 1)),
      table.unpack(samples, i, math.min(i + 4095, #samples)))
  end
  return sha256(a.sr .. ":" .. table.concat(parts))
end

-- One fit of the grid, from the cache when it holds it.
local function fit(run, method, k, seed)
  local preset = by_name[method]
  local opts = { k = k, seed = seed, max_iter = run.options.max_iter, tol = run.options.tol,
                 progress = false, threads = 1 }
  for key, v in pairs(preset.opts) do opts[key] = v end
  local V = run.V
  if preset.floor then
    run.floored = run.floored or {}
    V = run.floored[preset.floor]
    if not V then
      local n, p = run.V:shape()
      V = run.V + core.matrix.new(n, p, run.V:max() * preset.floor)
      run.floored[preset.floor] = V
    end
  end
  local function compute()
    local m = nmf(V, opts)
    return m, { seconds = m.seconds }
  end
  if not run.options.cache then return compute(), false end
  local parts = { "tessera.compare/1", run.digest, { n_fft = run.options.n_fft, hop = run.options.hop },
                  opts, preset.floor or false }
  local m, hit = cache.model(parts, compute)
  return m, hit
end

local function score_stems(run, m, groups)
  local ests = {}
  for j in ipairs(run.refs) do
    if #groups[j] > 0 then
      ests[j] = m:audio(groups[j], run.X, { method = "wiener" })
    else
      ests[j] = audio.new(run.frames, run.sr)
    end
  end
  local scores = {}
  for j, ref in ipairs(run.refs) do
    scores[j] = { si_sdr = #groups[j] > 0 and eval.si_sdr(ests[j], ref) or -huge }
  end
  if run.options.bss then
    local list, index = {}, {}
    for j in ipairs(run.refs) do
      if #groups[j] > 0 then list[#list + 1] = ests[j]; index[#list] = j end
    end
    for j in ipairs(run.refs) do scores[j].sdr, scores[j].sir, scores[j].sar = -huge, -huge, -huge end
    if #list > 0 then
      local _, s = eval.bss(list, run.refs)
      for i, j in ipairs(index) do
        scores[j].sdr, scores[j].sir, scores[j].sar = s.sdr[i][j], s.sir[i][j], s.sar[i][j]
      end
    end
  end
  return ests, scores
end

-- The progress line: "compare: 17/90 fits (mu-kl, k 6, seed 2), 4.1 s, ETA 12 s".
local function progress_line(enabled)
  if not enabled then return nil end
  local ok, uv = pcall(require, "luv")
  if not ok or uv.guess_handle(2) ~= "tty" then return nil end
  local start = now()
  return {
    show = function(done, total, method, k, seed)
      local elapsed = now() - start
      io.stderr:write(fmt("\rcompare: %d/%d fits (%s, k %d, seed %d), %.1f s, ETA %.0f s\27[K",
        done, total, method, k, seed, elapsed, elapsed / done * (total - done)))
      io.stderr:flush()
    end,
    clear = function()
      io.stderr:write("\r\27[K")
      io.stderr:flush()
    end,
  }
end

-- ---- summaries ------------------------------------------------------------------------

-- mean, min, max, std (n - 1 in the denominator; 0 for one value) of a list; -inf in the
-- list makes the mean and min -inf and the std nil.
local function stats(values)
  local n, sum, lo, hi = #values, 0, huge, -huge
  for _, v in ipairs(values) do
    sum = sum + v
    if v < lo then lo = v end
    if v > hi then hi = v end
  end
  local mean = sum / n
  if lo == -huge then return -huge, lo, hi, nil end
  local ss = 0
  for _, v in ipairs(values) do ss = ss + (v - mean) ^ 2 end
  return mean, lo, hi, n > 1 and sqrt(ss / (n - 1)) or 0.0
end

--- compare.summarize(rows, stems) -> summary, best (the result's fields) from the rows alone.
-- @tab rows the result's rows
-- @tab stems the stems' names
-- @return table summary, then best
-- @raise bad arguments or options, naming the key and the value.
-- @usage local summary, best = tessera.compare.summarize(r.rows, r.stems)
function compare.summarize(rows, stems)
  local cells, order = {}, {}
  for _, r in ipairs(rows) do
    local key = r.method .. "\0" .. r.k .. "\0" .. r.stem
    local c = cells[key]
    if not c then
      c = { method = r.method, k = r.k, stem = r.stem, values = {}, rows = {} }
      cells[key] = c
      order[#order + 1] = c
    end
    c.values[#c.values + 1] = r.si_sdr
    c.rows[#c.rows + 1] = r
  end
  local summary, best = {}, {}
  for _, c in ipairs(order) do
    local mean, lo, hi, std = stats(c.values)
    local s = { method = c.method, k = c.k, stem = c.stem, n = #c.values, mean = mean, min = lo,
                max = hi, std = std }
    summary[#summary + 1] = s
    local b = best[c.stem]
    if not b or mean > b.mean then
      local top = c.rows[1]
      for _, r in ipairs(c.rows) do
        if r.si_sdr > top.si_sdr then top = r end
      end
      best[c.stem] = { stem = c.stem, method = c.method, k = c.k, mean = mean, min = lo, max = hi,
                       std = std, n = #c.values, seed = top.seed, si_sdr = top.si_sdr,
                       components = top.components }
    end
  end
  local list = {}
  for j, name in ipairs(stems) do list[j] = best[name] end
  return summary, list
end

-- ---- the run --------------------------------------------------------------------------

local function prepare(mix, refs, names, o)
  local stft_opts = { n_fft = o.n_fft, hop = o.hop }
  local run = { options = o, mix = mix.audio, sr = mix.audio.sr, frames = #mix.audio,
                names = names, refs = {} }
  run.X = core.stft(mix.audio, stft_opts)
  run.V = run.X:magnitude()
  local R = {}
  for j, s in ipairs(refs) do
    run.refs[j] = s.audio
    R[j] = core.stft(s.audio, stft_opts)
  end
  run.Z = group.weights(run.X, R)
  if o.cache then run.digest = digest(mix.audio) end
  return run
end

local function paths_of(signals)
  local paths = {}
  for j, s in ipairs(signals) do paths[j] = s.path or false end
  return paths
end

-- compare(mix, refs, opts) -> result (see the top of this file)
local function run_compare(mix, refs, opts)
  local o = options(opts)
  local m, list, names = inputs(mix, refs, opts and opts.names)
  local started = now()
  local run = prepare(m, list, names, o)
  local stats0 = { hits = cache.stats.hits, misses = cache.stats.misses }
  local total = #o.methods * #o.ks * #o.seeds
  local line = progress_line(o.progress)
  local rows, bests, done = {}, {}, 0
  local ok, err = pcall(function()
    for _, method in ipairs(o.methods) do
      for _, k in ipairs(o.ks) do
        for _, seed in ipairs(o.seeds) do
          local model, hit = fit(run, method, k, seed)
          local groups = group.assign(group.energies(model.W, model.H, run.Z), #names)
          local ests, scores = score_stems(run, model, groups)
          for j, name in ipairs(names) do
            local row = { method = method, k = k, seed = seed, stem = name, stem_index = j,
                          components = groups[j], iterations = model.iterations,
                          loss = model.loss, fit_seconds = model.seconds, cached = hit }
            for key, v in pairs(scores[j]) do row[key] = v end
            rows[#rows + 1] = row
            local b = bests[name]
            if not b or row.si_sdr > b.row.si_sdr then bests[name] = { row = row, audio = ests[j] } end
          end
          done = done + 1
          if line then line.show(done, total, method, k, seed) end
          if o.on_fit then o.on_fit(done, total, method, k, seed, model) end
        end
      end
    end
  end)
  if line then line.clear() end
  if not ok then error(err, 0) end
  local summary, best = compare.summarize(rows, names)
  -- The players hold the best configuration's best seed: refit (from the cache) when the
  -- best single row lies in another configuration.
  local estimates, references = {}, {}
  for j, b in ipairs(best) do
    references[b.stem] = run.refs[j]
    local kept = bests[b.stem]
    if kept.row.method == b.method and kept.row.k == b.k and kept.row.seed == b.seed then
      estimates[b.stem] = kept.audio
    else
      local model = fit(run, b.method, b.k, b.seed)
      local groups = group.assign(group.energies(model.W, model.H, run.Z), #names)
      estimates[b.stem] = #groups[j] > 0 and model:audio(groups[j], run.X, { method = "wiener" })
        or audio.new(run.frames, run.sr)
    end
  end
  local settings = { n_fft = o.n_fft, hop = o.hop, max_iter = o.max_iter, tol = o.tol, bss = o.bss }
  return {
    stems = names, sr = run.sr, frames = run.frames, methods = o.methods, ks = o.ks,
    seeds = o.seeds, options = settings, rows = rows, summary = summary, best = best,
    estimates = estimates, references = references, mix = run.mix, mix_path = m.path,
    reference_paths = paths_of(list),
    seconds = now() - started, fits = total,
    cache = { hits = cache.stats.hits - stats0.hits, misses = cache.stats.misses - stats0.misses },
  }
end

--- The same as calling the module: see @{compare}.
-- @function run
-- @param mix an Audio, a path or a mixture result
-- @tparam[opt] table refs the references
-- @tab[opt] opts the options
-- @return table the result
-- @raise bad arguments or options, naming the key and the value.
-- @usage local r = tessera.compare.run(mix)
compare.run = run_compare

-- Writing the results (CSV, JSON, the HTML report) lives in tessera.compare.output.
local output = require "tessera.compare.output"
--- tessera.compare(mix [, refs] [, opts]) -> result: the grid of methods x k x seeds,
-- scored (see the module's description for the options and the result).
-- @function compare
-- @param mix an Audio (mono), a path, or a tessera.mixture result
-- @tparam[opt] table refs a list of Audio or paths
-- @tab[opt] opts methods, ks ({2, 3, 4, 6, 8, 12}), seeds ({1, 2, 3}), n_fft (1024),
-- hop (256), max_iter (200), tol (1e-4), bss (false), names, cache (true), progress, on_fit
-- @return table the result
-- @raise an unknown option; references of another rate or length, silent or not finite.
-- @usage local r = tessera.compare(tessera.mixture{...})
-- tessera.compare.write(r, "out/compare")

--- The result's rows as CSV text (lua/tessera/compare/output.lua).
-- @function csv
-- @tab r a result
-- @return string CSV
-- @raise bad arguments or options, naming the key and the value.
-- @usage io.write(tessera.compare.csv(r))

--- The result as JSON text.
-- @function json
-- @tab r a result
-- @return string JSON
-- @raise bad arguments or options, naming the key and the value.
-- @usage io.write(tessera.compare.json(r))

--- An HTML report of the result in a folder.
-- @function report
-- @tab r a result
-- @string dir the folder
-- @return string the index.html path
-- @raise bad arguments or options, naming the key and the value.
-- @usage tessera.compare.report(r, "out/compare")

--- results.csv, results.json and the report in a folder.
-- @function write
-- @tab r a result
-- @string dir the folder
-- @return string dir
-- @raise bad arguments or options, naming the key and the value.
-- @usage tessera.compare.write(r, "out/compare")

compare.csv, compare.json, compare.report, compare.write =
  output.csv, output.json, output.report, output.write

-- Errors leave the public functions at the caller's line (lua/tessera/entry.lua).
return require("tessera.entry").export(setmetatable(compare, {
  __call = function(_, mix, refs, opts) return run_compare(mix, refs, opts) end,
}))
