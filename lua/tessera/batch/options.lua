-- tessera.batch.options: the decomposition of one file that `tessera decompose` and a batch
-- without a script both do, the options it takes, and their one check. Sharing it is what
-- makes the two commands give the same factors for the same file and options.
local error, ipairs, math, pairs, pcall, table, tonumber, tostring, type =
  error, ipairs, math, pairs, pcall, table, tonumber, tostring, type
local fmt = string.format

local options = {}

-- The options and their defaults: the names of `tessera decompose`'s options, plus audio and
-- figures (batch's). init "auto" is tessera.nmf's default (nndsvda, no randomness; random
-- when k exceeds the bins or the frames), which seed changes only with init random or
-- nndsvdar. tol is scikit-learn's 1e-4 on the objective checked every 10 iterations,
-- divided by the error at the last check (tessera.nmf's tol_rule "last"): scikit-learn's
-- division by the error at the start stopped KL fits from nndsvda while they still improved.
-- resample: the quality of the resampling to sr, tessera.audio.load's `quality`; "poly",
-- the samples scipy.signal.resample_poly gives a Python pipeline, and the fastest. sort:
-- components normalised (each template sums to 1, its activations carrying its level) and
-- ordered by spectral centroid, lowest first; false keeps the solver's order and scale.
options.DEFAULTS = {
  k = 4, loss = "euclidean", solver = "mu", init = "auto", order = "HW", seed = 0, iter = 200,
  tol = 1e-4, every = 10, sr = 22050, n_fft = 2048, hop = 512, offset = 0, duration = false,
  resample = "poly", sort = true, audio = false, method = "wiener", figures = false,
}

-- The name of an option in a message: the command line's flag (-k, --n-fft) or the key.
local function namer(flags)
  if not flags then return function(key) return key end end
  return function(key) return key == "k" and "-k" or "--" .. key:gsub("_", "-") end
end

local CHOICES = {
  loss = { "euclidean", "is", "kl" },
  method = { "phase", "wiener" },
  resample = { "best", "fast", "medium", "poly" },
}

-- The options tessera.nmf gets for o (checked); the fit's threads when given.
function options.nmf(o, threads)
  return { k = o.k, loss = o.loss, solver = o.solver, init = o.init ~= "auto" and o.init or nil,
           order = o.order, seed = o.seed, max_iter = o.iter, tol = o.tol, tol_rule = "last",
           every = o.every, threads = threads }
end

-- The fit's own check of the options it takes (solver, init, order and whatever
-- tessera.nmf accepts and refuses), on a small matrix before any audio is read, so that a
-- bad --solver is refused at once with tessera.nmf's list of valid names.
local function check_fit(o, who, name, extra)
  local core = require "tessera.core"
  local opts = options.nmf(o)
  for key, value in pairs(extra or {}) do opts[key] = value end
  local size = math.max(o.k, 2, math.type(opts.T) == "integer" and opts.T + 1 or 0)
  opts.max_iter, opts.progress = 0, false
  local ok, err = pcall(core.nmf.fit, core.matrix.new(size, size, 1), opts)
  if ok then return end
  local text = tostring(err):match("%((.*)%)$") or tostring(err)
  local key = text:match("^invalid (%w+) ") or text:match("^(%w+) ")
  local map = { max_iter = "iter", T = "frames" }
  local known = key and map[key]
  key = known or key
  if key and (known or options.DEFAULTS[key] ~= nil) then
    error(fmt("%s: %s: %s", who, name(key), text), 0)
  end
  error(fmt("%s: %s", who, text), 0)
end

-- options.check(t [, who [, flags [, extra]]]) (batch.options) -> a complete options table
-- (options.DEFAULTS filled in), checked. Errors begin with who ("tessera.batch" by default)
-- and name each option by its key, or by its command-line flag when flags is true.
-- Numbers may be given as strings (as a command line has them). extra: more tessera.nmf
-- options the fit will have (decompose's T), part of the fit's check.
function options.check(t, who, flags, extra)
  who = who or "tessera.batch"
  local name = namer(flags)
  local function fail(msg, ...)
    error(who .. ": " .. fmt(msg, ...), 0)
  end
  local function show(v)
    return type(v) == "string" and fmt("'%s'", v) or tostring(v)
  end
  t = t or {}
  local o = {}
  for key, value in pairs(options.DEFAULTS) do o[key] = value end
  for key, value in pairs(t) do
    if options.DEFAULTS[key] == nil then
      local names = {}
      for n in pairs(options.DEFAULTS) do names[#names + 1] = n end
      table.sort(names)
      fail("unknown option '%s' (expected one of: %s)", tostring(key), table.concat(names, ", "))
    end
    if (type(options.DEFAULTS[key]) == "number" or key == "duration") and type(value) == "string" then
      value = math.tointeger(tonumber(value)) or tonumber(value) or value
    end
    o[key] = value
  end
  local function positive(key)
    if math.type(o[key]) ~= "integer" or o[key] < 1 then
      fail("%s must be a positive integer, got %s", name(key), show(o[key]))
    end
  end
  positive("k")
  positive("iter")
  positive("every")
  positive("sr")
  positive("hop")
  if math.type(o.n_fft) ~= "integer" or o.n_fft < 2 then
    fail("%s must be an integer >= 2, got %s", name("n_fft"), show(o.n_fft))
  end
  if math.type(o.seed) ~= "integer" or o.seed < 0 then
    fail("%s must be an integer >= 0, got %s", name("seed"), show(o.seed))
  end
  if o.hop > o.n_fft then
    fail("%s must be <= %s (%d), got %d", name("hop"), name("n_fft"), o.n_fft, o.hop)
  end
  for key, choices in pairs(CHOICES) do
    local found = false
    for _, c in pairs(choices) do found = found or c == o[key] end
    if not found then
      fail("%s must be one of %s, got %s", name(key), table.concat(choices, ", "), show(o[key]))
    end
  end
  if type(o.tol) ~= "number" or o.tol ~= o.tol or o.tol < 0 or o.tol == math.huge then
    fail("%s must be a number >= 0, got %s", name("tol"), show(o.tol))
  end
  if type(o.offset) ~= "number" or o.offset ~= o.offset or o.offset < 0 then
    fail("%s must be a number >= 0, got %s", name("offset"), show(o.offset))
  end
  if o.duration ~= false and (type(o.duration) ~= "number" or o.duration ~= o.duration
      or o.duration <= 0) then
    fail("%s must be a number > 0, got %s", name("duration"), show(o.duration))
  end
  for _, key in pairs { "solver", "init", "order" } do
    if type(o[key]) ~= "string" then fail("%s must be a name, got %s", name(key), show(o[key])) end
  end
  check_fit(o, who, name, extra)
  return o
end

-- The command-line options behind the keys (their values reach options.check as strings, so
-- that a bad one, -k -3 as much as -k x, gets its message there).
local FLAGS = {
  { "k", "-k", "Number of components (a positive integer)." },
  { "loss", "--loss", "euclidean, kl (generalised Kullback-Leibler) or is (Itakura-Saito)." },
  { "solver", "--solver", "The fit's solver, any that tessera.nmf takes (mu; cd: euclidean only)." },
  { "init", "--init", "The start: auto (nndsvda, no randomness; random when -k exceeds the bins "
    .. "or the frames), random (--seed picks it), uniform, nndsvd, nndsvda or nndsvdar." },
  { "order", "--order", "Order of the multiplicative updates: HW, WH or simultaneous." },
  { "seed", "--seed", "Seed of the random starts (--init random or nndsvdar; auto is not random)." },
  { "iter", "--iter", "Maximum number of iterations." },
  { "tol", "--tol", "Stop when sqrt(objective) falls by less than this share of itself "
    .. "between two checks (scikit-learn's 1e-4; 0: never stops early)." },
  { "every", "--every", "Iterations between checks of the objective (the --tol test and the "
    .. "model's history)." },
  { "sr", "--sr", "Sample rate to analyse at." },
  { "resample", "--resample", "Quality of the resampling to --sr: poly (the polyphase filter of "
    .. "scipy.signal.resample_poly, which Python pipelines use, and the fastest), or best, "
    .. "medium or fast (libsamplerate's sinc converters)." },
  { "n_fft", "--n-fft", "STFT window size." },
  { "hop", "--hop", "STFT hop." },
  { "offset", "--offset", "Seconds to skip." },
  { "duration", "--duration", "Seconds to keep (default: all)." },
  { "method", "--method", "How components are heard: wiener (they add up to the file) or phase "
    .. "(W_i H_i with the file's phase)." },
}

-- options.setup(parser): declares the options above, and --no-sort, on an argparse parser.
function options.setup(parser)
  for _, f in ipairs(FLAGS) do
    local default = options.DEFAULTS[f[1]]
    parser:option(f[2], f[3], default and tostring(default) or nil)
  end
  parser:flag("--no-sort", "Keep the solver's order and scale of the components (by default "
    .. "each template is scaled to unit sum, its activations carrying its level, and the "
    .. "components are ordered by spectral centroid, lowest first; decompose's --template, "
    .. "--onsets and --stereo fits always keep theirs).")
end

-- options.from_args(args, who [, extra]) -> the checked options of a command's parsed
-- arguments (extra as options.check's).
function options.from_args(args, who, extra)
  local t = { sort = not args.no_sort }
  for _, f in ipairs(FLAGS) do
    if args[f[1]] ~= nil then t[f[1]] = args[f[1]] end
  end
  return options.check(t, who, true, extra)
end

-- options.load(path, o) -> Audio: the file as the decomposition reads it (mono, o.sr, o's
-- offset, duration and resampling).
function options.load(path, o)
  return require("tessera").audio.load(path, { sr = o.sr, offset = o.offset,
    duration = o.duration or nil, mono = true, quality = o.resample })
end

-- options.source(path [, sha256]) -> what a model records of the file it was fitted to: its
-- absolute path (a model.json read from elsewhere still finds it) and its bytes' SHA-256.
function options.source(path, sha256)
  local util = require("tessera.core").util
  return { file = require("luv").fs_realpath(path) or path,
           sha256 = sha256 or util.sha256_file(path) }
end

-- options.tidy(m, o) -> m: with o.sort, each template scaled to unit sum (H's row by the
-- inverse, so W H is unchanged) and the components ordered by spectral centroid, lowest
-- first. A unit-sum template is a distribution over frequency, so its activation row is the
-- component's magnitude summed over the bins, comparable across components and models.
function options.tidy(m, o)
  if o.sort then m:normalize("sum"):sort("centroid") end
  return m
end

return options
