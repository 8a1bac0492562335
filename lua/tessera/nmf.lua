--- tessera.nmf: non-negative matrix factorisation V (n x p) ~ W (n x k) H (k x p), and the
-- Model that reads the result. The fit runs in C (csrc/nmf/, bound in csrc/lua/l_nmf.c);
-- this module is the callable table people use:
--
--   local tessera = require "tessera"
--   local m = tessera.nmf(V, {k = 4, loss = "kl"})     -- fit: a Model
--   m:normalize():sort("centroid")                      -- tidy the components
--   local bass = m:component(1)                         -- W_1 H_1, an n x p Matrix
--   m:save("out/amen-kl")                               -- W.npy, H.npy, model.json
--   local again = tessera.nmf.load("out/amen-kl")
--   local pairs, total = tessera.nmf.match(m, other)    -- which component is which
--   local groups = tessera.nmf.group(m6, m4)            -- which components make up which
--   local e, shares = tessera.nmf.evenness(m)           -- 1: every component as loud
--   tessera.nmf.loss(V, W, H, "kl")                     -- any objective for given factors
--
-- Options of tessera.nmf(V, opts) (all checked; an unknown key is an error):
--   k (required, >= 1); loss = "euclidean" | "kl" | "is" | beta (a number);
--   solver = "mu" | "cd" (cd: Euclidean only); init = "random" | "uniform" | "nndsvd" |
--   "nndsvda" | "nndsvdar" | "custom" (default: custom when W or H is given, else nndsvda when
--   k <= min(n, p), else random); W, H (initial factors for "custom"; a missing one starts
--   at sqrt(mean(V)/k) for mu, 0 for cd); seed (0); order = "HW" | "WH" | "simultaneous"
--   (mu; "HW"); max_iter (200); tol (1e-4, scikit-learn's rules, 0 never stops early:
--   every `every` iterations, the decrease of sqrt(objective) (sqrt(2 D) for the other
--   losses) since the last check divided by its value at the start must stay >= tol);
--   tol_rule ("start": that division, scikit-learn's; "last": by its value at the last
--   check, which goes on while the fit still improves by tol of itself, where a start far
--   worse than the fit, nndsvda under KL, makes "start" stop early; the command line's
--   choice; cd's projected-gradient rule is scikit-learn's with either);
--   update_W, update_H (true); alpha_W (0), alpha_H ("same"), l1_ratio (0) as scikit-learn
--   1.2; on_iter = function(iteration, loss) ... end, called every `every` (10) iterations,
--   returning false stops; progress (true: a progress line on stderr when it is a
--   terminal and the fit takes over a second); threads (what OpenBLAS uses); weights (an
--   n x p Matrix >= 0: weighted NMF, the objective sum M d(V | WH), an entry of weight 0
--   held out, unseen by the fit and by its start; mu for every loss, cd on the EM
--   completion, csrc/nmf/general.c); fixed_W, fixed_H (lists of component numbers: those
--   columns of W and rows of H are kept bit for bit while the others adapt around them, for
--   every loss and both solvers; give their values with W = / H =); smooth_H (temporal
--   continuity of H, Virtanen 2007, mu only: one weight >= 0 or one per component, each
--   relative to the divergence at the start, so 0.01 to 1 whatever the scale of V);
--   allowed_H (a k x p
--   Matrix >= 0: where each component may sound, the start of H multiplied by it, so its
--   zeros stay zero under mu; refused with cd) and W_start (an n x m Matrix, m <= k: the
--   start of W's first m columns, e.g. nmf.templates of the sounds), H_start (an m x p
--   Matrix, m <= k: the start of H's first m rows), lua/tessera/nmf_score.lua,
--   where the model's options.score says what they did ({init = the usual start's,
--   allowed_H =, W_start = m}); T (convolutive NMF, templates T frames long: what
--   tessera.nmfd, lua/tessera/nmfd.lua, sets; W is then n x kT and the model has m.T).
--
-- A Model has W (n x k), H (k x p), k, n, p, loss (the final objective: ||V - WH||^2 with
-- no 1/2, the generalised KL D(V || WH), Itakura-Saito or the beta-divergence), history
-- (one {iteration = i, loss = x} per check, iteration 0 first), iterations, converged (tol
-- stopped it), stopped (on_iter did), seconds (the fit's wall time) and options (every
-- option as used, defaults included), spectrogram ({sr, n_fft, hop, window} when V was a
-- Spectrogram), source (nil, or {file, sha256} when a caller sets it), and the methods
-- below. An NMFD model (tessera.nmfd) also has T, and its W is n x kT; every method knows
-- the convolution.
-- @module tessera.nmf
local core = require "tessera.core"
local did_you_mean = require("tessera.args").did_you_mean
local hungarian = require("tessera.assign").hungarian
local cjson = require "cjson"
local fs = require "tessera.fs"
local json = require "tessera.json"
local memory = require "tessera.memory"
local score = require "tessera.nmf_score"

local C = core.nmf
local matrix = core.matrix

local error, ipairs, pairs, rawequal = error, ipairs, pairs, rawequal
local raw_getmetatable = debug.getmetatable
local setmetatable, tostring, type = setmetatable, tostring, type
local io, os, math, string, table = io, os, math, string, table
local fmt = string.format

local nmf = {}

-- io.open's message without the path it starts with, for "cannot open 'p': reason".
local function reason(path, err)
  err = tostring(err)
  return err:sub(1, #path + 2) == path .. ": " and err:sub(#path + 3) or err
end

-- The methods (nmf.Model: other modules add theirs, as tessera.listen does) and the
-- metatable of every Model. The metatable is protected (__metatable) and is not reachable
-- from a model (m.__index is nil), so code run in the recipe sandbox, which receives
-- models, cannot change the class every later model shares.
local Model = {}
local model_mt = { __index = Model, __metatable = "tessera.nmf.Model" }

local FORMAT = "tessera.nmf/1"

local function new_model(W, H, info)
  local n = W:shape()
  local k, p = H:shape()
  return setmetatable({
    W = W, H = H, k = k, n = n, p = p, T = info.options and info.options.T,
    spectrogram = info.spectrogram,
    source = info.source,
    loss = info.loss,
    history = info.history,
    iterations = info.iterations,
    converged = info.converged,
    stopped = info.stopped,
    seconds = info.seconds,
    options = info.options,
  }, model_mt)
end

-- A shallow copy of an options table.
local function copy(opts)
  local t = {}
  for key, value in pairs(opts) do t[key] = value end
  return t
end

-- With only one of W and H given (init "custom"), the other starts as scikit-learn's does
-- when only H is given: constant sqrt(mean(V)/k) for mu (which cannot move zeros), zeros
-- for cd. The options as the C fit takes them: both factors, or neither. Options it cannot
-- read are left for the C fit to refuse with its message.
local function start_factor(V, opts)
  if type(opts) ~= "table" or (opts.W == nil) == (opts.H == nil) then return opts end
  if opts.init ~= nil and opts.init ~= "custom" then return opts end
  local k, T = opts.k, opts.T or 1
  if core.type(V) ~= "Matrix" or math.type(k) ~= "integer" or k < 1 then return opts end
  if math.type(T) ~= "integer" or T < 1 then return opts end
  local n, p = V:shape()
  if n < 1 or p < 1 then return opts end
  -- NMFD: W H sums k T products per entry.
  local fill = opts.solver == "cd" and 0 or math.sqrt(V:sum() / (n * p) / (k * T))
  if not (fill >= 0 and fill < math.huge) then fill = 0 end -- V is bad: the C fit says how
  local t = copy(opts)
  if t.W == nil then t.W = matrix.new(n, k * T, fill) else t.H = matrix.new(k, p, fill) end
  return t
end

-- The progress bar on stderr when it is a terminal and progress is not false: from the
-- first check after a second, "[###...] i/max_iter iterations  ETA t  loss x" (under 80
-- columns; tessera.batch.progress.steps, the bar decompose and batch draw; the ETA is to
-- max_iter, which tol may cut short), through on_iter (which it wraps); cleared when the fit
-- ends. Nil when there is none to draw.
local function progress_line(opts)
  if type(opts) ~= "table" or opts.progress == false then return nil end
  if opts.on_iter ~= nil and type(opts.on_iter) ~= "function" then return nil end
  local ok, uv = pcall(require, "luv")
  if not ok or uv.guess_handle(2) ~= "tty" then return nil end
  local max_iter = opts.max_iter or 200
  if math.type(max_iter) ~= "integer" or max_iter < 1 then return nil end -- the fit says why
  local bar = require("tessera.batch.progress").steps(max_iter, "iterations")
  local on_iter = opts.on_iter
  local t = copy(opts)
  t.on_iter = function(iteration, loss)
    if iteration > 0 then bar:update(iteration, fmt("loss %.4g", loss)) end
    if on_iter then return on_iter(iteration, loss) end
  end
  return { opts = t, clear = function() bar:clear() end }
end

-- The fit behind tessera.nmf(V, opts), nmf.fit and tessera.nmfd (opts.T given: the
-- convolutive fit, whose errors name 'nmfd'). V may be a Spectrogram: its magnitude
-- is factored and the model remembers its geometry (sr, n_fft, hop, window), so m:audio
-- refuses a spectrogram of another kind. opts.max_memory (bytes) caps what the fit may
-- allocate, like TESSERA_MAX_MEMORY, for this call only.
local function fit(nmf, V, opts) -- luacheck: ignore 431 (named so errors say "to 'nmf'")
  local geometry
  if core.type(V) == "Spectrogram" then
    geometry = { sr = V.sr, n_fft = V.n_fft, hop = V.hop, window = V.window }
    V = V:magnitude()
  end
  local rest, cap = memory.split(opts, "nmf", 2, 2)
  local line = progress_line(rest)
  if line then rest = line.opts end
  local scored -- what allowed_H and W_start made of the start, for the model's options
  local function run()
    local resolved
    resolved, scored = score.resolve(nmf, V, rest, start_factor)
    if type(rest) == "table" and rest.T ~= nil then
      local nmfd = nmf -- luacheck: ignore 421 (named so errors say "to 'nmfd'")
      return nmfd(V, start_factor(V, resolved))
    end
    return nmf(V, start_factor(V, resolved))
  end
  local ok, W, H, info
  if cap then
    ok, W, H, info = pcall(memory.capped, cap, run)
  else
    ok, W, H, info = pcall(run)
  end
  if line then line.clear() end
  if not ok then error(W, 0) end
  info.spectrogram = geometry
  if scored then info.options.score = scored end
  return new_model(W, H, info)
end

--- tessera.nmf(V, opts) -> Model: fits V (n x p, >= 0) ~ W (n x k) H (k x p).
-- Every option is described in this module's introduction; here they are with their defaults.
-- @function nmf
-- @tparam Matrix|Spectrogram V the data (a Spectrogram: its magnitude, and the model
-- remembers its geometry for @{Model:audio})
-- @tab opts options (every key checked; an unknown one is an error listing the valid ones):
-- @int opts.k the number of components (required, >= 1)
-- @param[opt="euclidean"] opts.loss "euclidean", "kl", "is" or a beta (a number)
-- @string[opt="mu"] opts.solver "mu" (multiplicative updates) or "cd" (coordinate descent,
-- Euclidean only)
-- @string[opt] opts.init "random", "uniform", "nndsvd", "nndsvda", "nndsvdar" or "custom"
-- (default: custom when W or H is given, else nndsvda when k <= min(n, p), else random)
-- @tparam[opt] Matrix opts.W the initial W (n x k) for "custom"
-- @tparam[opt] Matrix opts.H the initial H (k x p) for "custom"
-- @int[opt=0] opts.seed the random start's seed
-- @string[opt="HW"] opts.order "HW", "WH" or "simultaneous" (mu)
-- @int[opt=200] opts.max_iter iterations at most
-- @number[opt=1e-4] opts.tol relative decrease that stops the fit (scikit-learn's rule; 0 never
-- stops early)
-- @string[opt="start"] opts.tol_rule what the decrease of sqrt(objective) between two checks
-- is divided by: "start", its value at the start (scikit-learn's), or "last", its value at the
-- last check (the command line's: the fit goes on while it still improves by tol of itself)
-- @bool[opt=true] opts.update_W false keeps W fixed
-- @bool[opt=true] opts.update_H false keeps H fixed
-- @number[opt=0] opts.alpha_W regularisation of W (scikit-learn 1.2)
-- @param[opt="same"] opts.alpha_H regularisation of H
-- @number[opt=0] opts.l1_ratio the L1 share of the regularisation
-- @func[opt] opts.on_iter function(iteration, loss), called every `every` iterations;
-- returning false stops
-- @int[opt=10] opts.every iterations between checks of the loss
-- @bool[opt=true] opts.progress a progress bar with an ETA on stderr (a terminal, a fit over
-- a second)
-- @int[opt] opts.threads threads for OpenBLAS and the kernels
-- @tparam[opt] Matrix opts.weights n x p, >= 0: weighted NMF (weight 0 holds an entry out)
-- @tparam[opt] table opts.fixed_W component numbers whose W columns stay as given
-- @tparam[opt] table opts.fixed_H component numbers whose H rows stay as given
-- @param[opt] opts.smooth_H temporal continuity (mu): a weight >= 0 or one per component
-- @tparam[opt] Matrix opts.allowed_H k x p, >= 0: where each component may sound (mu)
-- @tparam[opt] Matrix opts.W_start n x m (m <= k): the start of W's first m columns
-- (e.g. @{templates})
-- @tparam[opt] Matrix opts.H_start m x p: the start of H's first m rows
-- @int[opt] opts.T convolutive NMF (set by @{tessera.nmfd})
-- @int[opt] opts.max_memory a cap in bytes on what the fit allocates
-- @treturn Model the fitted model
-- @raise `bad argument #2 to 'nmf' (k must be >= 1, got 0)`; `invalid loss 'kl2'; expected one
-- of: euclidean, kl, is, or a number`; "V has a negative entry (-0.25 at row 3, column 17)";
-- an unknown option; a fit over the memory cap.
-- @usage local m = tessera.nmf(V, {k = 4, loss = "kl", seed = 1})
-- print(m.loss, m.iterations, m.converged)
setmetatable(nmf, {
  __call = function(_, V, opts)
    return fit(C.fit, V, opts)
  end,
})

--- tessera.nmf.fit(V, opts): the same as tessera.nmf(V, opts).
-- @tparam Matrix|Spectrogram V the data
-- @tab opts the options of @{nmf}
-- @treturn Model the fitted model
-- @raise as @{nmf}.
-- @usage local m = tessera.nmf.fit(V, {k = 2})
function nmf.fit(V, opts)
  return fit(C.fit, V, opts)
end

--- tessera.nmf.loss(V, W, H [, loss [, weights]]) -> the objective ("euclidean" by
-- default): the paper's ||V - WH||_F^2 (no 1/2) and D(V || WH), Itakura-Saito, or any
-- beta-divergence; with weights (n x p, >= 0), sum weights * d(V | WH).
-- @tparam Matrix V n x p, >= 0
-- @tparam Matrix W n x k, >= 0
-- @tparam Matrix H k x p, >= 0
-- @param[opt="euclidean"] loss "euclidean", "kl", "is" or a beta (a number)
-- @tparam[opt] Matrix weights n x p, >= 0
-- @treturn number the objective
-- @raise when the shapes do not fit (naming the matrices and their shapes), an entry is
-- negative, or the loss name is unknown.
-- @usage local d = tessera.nmf.loss(V, m.W, m.H, "kl")
function nmf.loss(V, W, H, loss, weights)
  return C.loss(V, W, H, loss, weights)
end

--- tessera.nmf.rank(V, opts) -> how many components V holds, by masked cross-validation
-- and stability across seeds, with a suggested k and its reason (lua/tessera/rank.lua).
-- @tparam Matrix V the data, >= 0
-- @tab[opt] opts options (all checked):
-- @tparam[opt] table opts.ks the k to try (integers >= 1, at most min(n, p); default 2..12)
-- @string[opt="euclidean"] opts.loss the loss of the fits
-- @string[opt="mu"] opts.solver "mu", or "cd" for the Euclidean loss
-- @number[opt=0.1] opts.holdout the share of entries held out per fold, in (0, 0.5]
-- @int[opt=3] opts.folds folds, at most 1 / holdout
-- @int[opt=3] opts.seeds random starts per k (>= 2) for the stability criterion
-- @int[opt=200] opts.max_iter iterations per fit
-- @number[opt=1e-4] opts.tol the fits' tolerance
-- @int[opt=0] opts.seed the masks' and starts' seed
-- @number[opt=0.9] opts.explained the share of the fall in held-out error the suggestion reaches
-- @number[opt=0.9] opts.stable_at the weakest pair correlation of a stable k
-- @func[opt] opts.on_progress function(done, total) after each fit
-- @treturn table {ks, rows = {{k, heldout, heldout_se, folds, stability, weakest, stable}, ...},
-- suggested, reason, criteria = {cv, stability}, options}
-- @raise an unknown option or a value out of range (named with the value).
-- @usage local r = tessera.nmf.rank(V, {ks = {2, 3, 4, 6}})
-- print(r.suggested, r.reason)
function nmf.rank(V, opts)
  return require("tessera.rank")(nmf, V, opts)
end

-- tessera.nmf.allowed_from_onsets(onsets, opts) -> k x p Matrix of 0 and 1 for allowed_H;
-- tessera.nmf.templates(sounds, opts) -> n x m Matrix of unit spectra for W_start
-- (lua/tessera/nmf_score.lua).

--- A k x p Matrix of 0 and 1 for the `allowed_H` option: component i may sound in
-- the frames near its onsets (lua/tessera/nmf_score.lua). Components after the lists (up to k)
-- are allowed everywhere.
-- @function allowed_from_onsets
-- @param onsets one entry per component (a list of seconds, of {time = s}, or a stem table with
-- onsets), or a @{tessera.mixture} result
-- @tab opts options:
-- @int opts.p the frames (required)
-- @int[opt] opts.k components (default: the number of lists)
-- @int[opt=22050] opts.sr sample rate
-- @int[opt=512] opts.hop hop
-- @int[opt=2048] opts.n_fft FFT size
-- @param[opt=0.05] opts.before seconds before an onset (or one per list)
-- @param[opt=0.5] opts.after seconds after an onset (or one per list)
-- @treturn Matrix k x p of 0 and 1
-- @raise an unknown option, a missing p, or an onset that is not a number (naming it).
-- @usage local A = tessera.nmf.allowed_from_onsets({{0, 1}, {0.5}}, {p = 87, k = 3})
-- local m = tessera.nmf(V, {k = 3, allowed_H = A})
nmf.allowed_from_onsets = score.allowed_from_onsets
--- The onsets in a CSV file (its first column, in seconds): tessera.mixture's
-- onsets/*.csv or a label track. Blank lines and lines starting with # are skipped.
-- @function read_onsets
-- @string path the CSV file
-- @tab[opt] opts options:
-- @bool[opt=true] opts.header a first line starting with a letter is a header
-- @string[opt="tessera.nmf"] opts.who what errors start with
-- @treturn table a list of seconds
-- @raise "cannot open 'x.csv': ..."; a field that is not a number (naming the line).
-- @usage local kicks = tessera.nmf.read_onsets("mix/onsets/kick.csv")
nmf.read_onsets = score.read_onsets
--- Spectral templates of sounds, for the `W_start` option: an n x m Matrix, one
-- column of unit L2 norm per sound (lua/tessera/nmf_score.lua).
-- @tparam table sounds a list of file paths or mono Audio at sr
-- @tab[opt] opts options:
-- @int[opt=22050] opts.sr sample rate
-- @int[opt=2048] opts.n_fft FFT size
-- @int[opt=512] opts.hop hop
-- @string[opt="mean"] opts.method "mean" (the average magnitude spectrum) or "rank1" (the W
-- of the sound's own one-component NMF)
-- @string[opt="euclidean"] opts.loss the loss of "rank1"
-- @int[opt=200] opts.max_iter the iterations of "rank1"
-- @treturn Matrix n x m, unit columns
-- @raise an unknown option or method; a sound that cannot be read or is silent (naming it).
-- @usage local W0 = tessera.nmf.templates({"kick.wav", "snare.wav"})
-- local m = tessera.nmf(V, {k = 4, W_start = W0})
function nmf.templates(sounds, opts)
  return score.templates(sounds, opts, nmf)
end

local function is_model(m)
  return type(m) == "table" and rawequal(raw_getmetatable(m), model_mt)
end

local function check_index(m, i, who)
  if math.type(i) ~= "integer" or i < 1 or i > m.k then
    error(fmt("bad argument #1 to '%s' (component must be an integer in 1..%d, got %s)", who,
              m.k, tostring(i)), 3)
  end
end

--- A fitted NMF: the result of @{nmf}, @{tessera.nmfd} or @{load}. Fields: `W` (n x k
-- Matrix), `H` (k x p), `k`, `n`, `p`, `loss` (the final objective), `history` ({iteration,
-- loss} per check), `iterations`, `converged` (tol stopped it), `stopped` (on_iter did),
-- `seconds`, `options` (every option as used), `spectrogram` (the geometry when V was a
-- Spectrogram) and `T` (NMFD). `tostring(m)` summarises it.
-- @type Model

--- m:reconstruct() -> W H (n x p Matrix); for an NMFD model sum_t W_t H shifted by t
-- @treturn Matrix W H (n x p); for an NMFD model the sum over t of W_t H shifted by t
-- @raise when m is not a Model.
-- @usage local R = m:reconstruct()
-- print(tessera.nmf.loss(V, m.W, m.H), (V - R):hadamard(V - R):sum())
function Model:reconstruct()
  if self.T then return C.convolve(self.W, self.H, self.T) end
  return self.W * self.H
end

--- m:component(i) -> W[:, i] H[i, :] (n x p Matrix): component i's share of the model (NMFD:
-- its template convolved with its activations)
-- @int i the component, 1..k
-- @treturn Matrix n x p
-- @raise `bad argument #1 to 'component' (component must be an integer in 1..4, got 5)`.
-- @usage local bass = m:component(1)
function Model:component(i)
  check_index(self, i, "component")
  if self.T then return C.convolve(self.W, self.H, self.T, { i }) end
  return C.component(self.W, self.H, i)
end

--- m:template(i) -> n x T Matrix: component i's template (an NMF model's: W's column i)
-- @int i the component, 1..k
-- @treturn Matrix n x T (n x 1 for NMF)
-- @raise `bad argument #1 to 'template' (component must be an integer in 1..4, got 0)`.
-- @usage local w = m:template(2)
function Model:template(i)
  check_index(self, i, "template")
  local T, k = self.T or 1, self.k
  local picks = matrix.new(k * T, T)
  for t = 1, T do picks:set(i + k * (t - 1), t, 1) end
  return self.W * picks
end

local NORMS = { l2 = true, sum = true, max = true }

--- m:normalize([norm]) -> m: W's templates scaled to unit norm (all their frames), H's rows by
-- the same factor, so the model is unchanged (to float rounding). Zero ones are left alone.
-- @string[opt="l2"] norm "l2", "sum" (a template is then a distribution over the bins and its
-- H row the component's magnitude summed over them; what `tessera decompose` writes) or
-- "max" (its peak is 1)
-- @treturn Model m itself
-- @raise `bad argument #1 to 'normalize' (invalid norm 'l1'; expected one of: l2, sum, max)`,
-- or when m is not a Model.
-- @usage m:normalize("sum"):sort("centroid")
function Model:normalize(norm)
  norm = norm or "l2"
  if not NORMS[norm] then
    error(fmt("bad argument #1 to 'normalize' (invalid norm '%s'; expected one of: l2, sum, max)",
              tostring(norm)), 2)
  end
  C.normalize(self.W, self.H, self.T, norm)
  return self
end

local SORT_KEYS = { energy = true, centroid = true, time = true }

--- m:sort([by]) -> m, order: components reordered in place by "energy" (of W_i H_i, largest
-- first; the default), "centroid" (spectral centroid of W_i, lowest first) or "time"
-- (centre of mass of H_i, earliest first). Components without a centroid (all zero) go
-- last; ties keep their order. order[i] is the old index of the new component i.
-- @string[opt="energy"] by "energy", "centroid" or "time"
-- @treturn Model m itself
-- @treturn table order: order[i] is the old index of the new component i
-- @raise `bad argument #1 to 'sort' (invalid order 'pitch'; expected one of: energy, centroid,
-- time)` (the exact wording names the value).
-- @usage local _, order = m:sort("centroid")
function Model:sort(by)
  by = by or "energy"
  if not SORT_KEYS[by] then
    error(fmt("bad argument #1 to 'sort' (invalid key '%s'; expected one of: energy, centroid, "
              .. "time%s)", tostring(by), did_you_mean(by, { "energy", "centroid", "time" })), 2)
  end
  local energy, centroid, center = C.describe(self.W, self.H, self.T)
  local key = by == "energy" and energy or by == "centroid" and centroid or center
  local order = {}
  for i = 1, self.k do order[i] = i end
  table.sort(order, function(a, b)
    local x, y = key[a], key[b]
    if by == "energy" then x, y = -x, -y end
    local xn, yn = x ~= x, y ~= y
    if xn ~= yn then return yn end -- NaN (no centroid) last
    if not xn and x ~= y then return x < y end
    return a < b
  end)
  C.permute(self.W, self.H, order, self.T)
  return self, order
end

--- m:save(dir) -> m: dir/W.npy, dir/H.npy and dir/model.json (the options and figures, the
-- spectrogram's sr, n_fft, hop and window when the fit had them, and m.source when set:
-- {file =, sha256 =}, the audio file the model was fitted to, as `tessera decompose` sets it).
-- All three are written to temporary names first and renamed into place only when every
-- one is complete, model.json last: a failed or interrupted save (a full disk, Ctrl-C)
-- leaves the previous model whole, never a new W beside an old H.
-- @string dir the folder (made when missing)
-- @treturn Model m itself
-- @raise when the folder cannot be made or a file cannot be written (naming it and the reason).
-- @usage m:save("out/amen-kl")
function Model:save(dir)
  if type(dir) ~= "string" then
    error(fmt("bad argument #1 to 'save' (directory must be a string, got %s)", type(dir)), 2)
  end
  local made, merr = fs.mkdir_p(dir)
  if not made then error("tessera.nmf: " .. merr, 2) end
  local text = json.encode({
    format = FORMAT, version = core.version,
    k = self.k, n = self.n, p = self.p,
    loss = self.loss, iterations = self.iterations, converged = self.converged,
    stopped = self.stopped, seconds = self.seconds,
    history = self.history, options = self.options, spectrogram = self.spectrogram,
    source = self.source,
  })
  local files = { dir .. "/W.npy", dir .. "/H.npy", dir .. "/model.json" }
  local tmps = {}
  for i, path in ipairs(files) do -- removed if interrupted; .npy kept for Matrix:save
    tmps[i] = core.util.tmp_path(path, path:match("%.npy$"))
  end
  local function give_up(path, why)
    for _, tmp in ipairs(tmps) do os.remove(tmp) end
    error(fmt("tessera.nmf: cannot write '%s': %s", path, why), 3)
  end
  local ok, err = pcall(self.W.save, self.W, tmps[1])
  if not ok then give_up(files[1], tostring(err):match("^.-: cannot write '[^']*': (.*)$") or tostring(err)) end
  ok, err = pcall(self.H.save, self.H, tmps[2])
  if not ok then give_up(files[2], tostring(err):match("^.-: cannot write '[^']*': (.*)$") or tostring(err)) end
  local f, oerr = io.open(tmps[3], "w")
  if not f then give_up(files[3], reason(tmps[3], oerr)) end
  local wok, werr = f:write(text, "\n")
  local closed, cerr = f:close()
  if not wok or not closed then give_up(files[3], tostring(werr or cerr)) end
  for i, path in ipairs(files) do
    local renamed, rerr = os.rename(tmps[i], path)
    if not renamed then give_up(path, tostring(rerr)) end
  end
  return self
end

--- Reading a saved model, and comparing models.
-- @section models

--- tessera.nmf.load(dir) -> Model, as m:save(dir) wrote it
-- @string dir a folder m:save wrote
-- @treturn Model the model
-- @raise "cannot open 'dir/model.json': ..."; a model.json of another format or whose W and
-- H do not match it (naming the file).
-- @usage local m = tessera.nmf.load("out/amen-kl")
function nmf.load(dir)
  if type(dir) ~= "string" then
    error(fmt("bad argument #1 to 'load' (directory must be a string, got %s)", type(dir)), 2)
  end
  local path = dir .. "/model.json"
  local text, err = fs.read_file(path)
  if not text then error(fmt("tessera.nmf.load: cannot open '%s': %s", path, reason(path, err)), 2) end
  local ok, info = pcall(cjson.decode, text)
  if not ok or type(info) ~= "table" or info.format ~= FORMAT then
    error(fmt("tessera.nmf.load: '%s' is not a tessera NMF model", path), 2)
  end
  local W = matrix.load(dir .. "/W.npy")
  local H = matrix.load(dir .. "/H.npy")
  local T = type(info.options) == "table" and math.tointeger(info.options.T) or 1
  local n, kT = W:shape()
  local k2, p = H:shape()
  local k = kT // T
  if n ~= info.n or kT ~= k * T or k ~= info.k or k2 ~= info.k or p ~= info.p then
    error(fmt("tessera.nmf.load: '%s' holds W %d x %d and H %d x %d, model.json says n = %s, "
              .. "k = %s, p = %s", dir, n, k, k2, p, tostring(info.n), tostring(info.k),
              tostring(info.p)), 2)
  end
  -- JSON numbers come back as floats: integers where the fit gave integers.
  local function int(x) return math.tointeger(x) or x end
  for _, h in ipairs(info.history) do h.iteration = int(h.iteration) end
  for key, v in pairs(info.options) do info.options[key] = type(v) == "number" and int(v) or v end
  info.iterations = int(info.iterations)
  if type(info.spectrogram) == "table" then
    for key, v in pairs(info.spectrogram) do info.spectrogram[key] = int(v) end
  else
    info.spectrogram = nil
  end
  if type(info.source) ~= "table" then info.source = nil end
  return new_model(W, H, info)
end

function Model:__tostring()
  local loss = self.options and self.options.loss or "?"
  local kind = self.T and fmt("NMFD model (k = %d, T = %d", self.k, self.T) or fmt("NMF model (k = %d", self.k)
  return fmt("%s, %d x %d, loss %s = %.6g after %d iterations)", kind, self.n, self.p,
             tostring(loss), self.loss, self.iterations)
end
model_mt.__tostring = Model.__tostring

-- The model's templates as the columns of an (n T) x k Matrix, frame after frame: what
-- matching, grouping and weighing treat as component i's spectrum (an NMF model's W).
local function templates(m)
  local T = m.T or 1
  if T == 1 then return m.W end
  local w, rows = m.W:totable(), {}
  for t = 0, T - 1 do
    for i = 1, m.n do
      local row, src = {}, w[i]
      for a = 1, m.k do row[a] = src[a + m.k * t] end
      rows[#rows + 1] = row
    end
  end
  return matrix.from(rows)
end

--- tessera.nmf.match(m1, m2 [, {by = "H" | "W"}]) -> pairs, total
-- Pairs the components of two models so that the sum of correlations is largest
-- (Hungarian assignment): by the Pearson correlation of H rows (the default: both models
-- must cover the same frames) or of W columns (the same frequency bins). pairs is a list
-- of {a = i, b = j, corr = r} sorted by a (min(k1, k2) pairs); total is the sum of corr.
-- @tparam Model m1 a model
-- @tparam Model m2 another model
-- @tab[opt] opts options:
-- @string[opt="H"] opts.by "H" (rows of H, same frames) or "W" (columns of W, same bins)
-- @treturn table pairs: {a = i, b = j, corr = r} sorted by a
-- @treturn number total: the sum of the correlations
-- @raise when an argument is not a Model, the shapes do not allow the comparison (naming
-- them), or `by` is unknown.
-- @usage local pairs, total = tessera.nmf.match(m, other, {by = "W"})
function nmf.match(m1, m2, opts)
  local given = { m1, m2 }
  for i = 1, 2 do -- not ipairs: a nil first argument would end the loop unchecked
    local m = given[i]
    if not is_model(m) then
      error(fmt("bad argument #%d to 'match' (Model expected, got %s)", i, type(m)), 2)
    end
  end
  if opts ~= nil and type(opts) ~= "table" then
    error(fmt("bad argument #3 to 'match' (options must be a table, got %s)", type(opts)), 2)
  end
  local by = opts and opts.by or "H"
  if by ~= "H" and by ~= "W" then
    error(fmt("bad argument #3 to 'match' (invalid by '%s'; expected one of: H, W%s)",
              tostring(by), did_you_mean(by, { "H", "W" })), 2)
  end
  local r
  if by == "H" then
    if m1.p ~= m2.p then
      error(fmt("bad argument #2 to 'match' (H rows of different lengths: %d and %d frames)",
                m1.p, m2.p), 2)
    end
    r = C.correlate(m1.H, m2.H, "rows")
  else
    local W1, W2 = templates(m1), templates(m2)
    local n1, n2 = W1:shape(), W2:shape()
    if n1 ~= n2 then
      error(fmt("bad argument #2 to 'match' (W columns of different lengths: %d and %d bins)",
                n1, n2), 2)
    end
    r = C.correlate(W1, W2, "cols")
  end
  local k1, k2 = m1.k, m2.k
  local size = math.max(k1, k2)
  local cost = {}
  for i = 1, size do
    cost[i] = {}
    for j = 1, size do
      cost[i][j] = (i <= k1 and j <= k2) and -r[i][j] or 0
    end
  end
  local assign = hungarian(cost, size)
  local result, total = {}, 0
  for i = 1, k1 do
    local j = assign[i]
    if j and j <= k2 then
      result[#result + 1] = { a = i, b = j, corr = r[i][j] }
      total = total + r[i][j]
    end
  end
  return result, total
end

-- The L1 norm of each row (by_rows) or column of M, as a list.
local function norms_l1(M, by_rows)
  local t = M:totable()
  local rows, cols = M:shape()
  local out = {}
  for a = 1, by_rows and rows or cols do out[a] = 0 end
  for i = 1, rows do
    for j = 1, cols do
      local a = by_rows and i or j
      out[a] = out[a] + math.abs(t[i][j])
    end
  end
  return out
end

-- sum_j weights[j] * vectors[j] over the members j, as a list of `length` numbers.
local function weighted_sum(vectors, weights, members, length)
  local e = {}
  for t = 1, length do e[t] = 0 end
  for _, j in ipairs(members) do
    local v, w = vectors[j], weights[j]
    for t = 1, length do e[t] = e[t] + w * v[t] end
  end
  return e
end

-- The components argument of envelope(): one index or a list of them, each in 1..k.
local function component_list(m, components)
  local list = type(components) == "table" and components or { components }
  for _, j in ipairs(list) do
    if math.type(j) ~= "integer" or j < 1 or j > m.k then
      error(fmt("bad argument #2 to 'envelope' (component must be an integer in 1..%d, got %s)",
                m.k, tostring(j)), 3)
    end
  end
  return list
end

--- tessera.nmf.envelope(m, components) -> a list of p numbers: how loud the components
-- (one index or a list) are over time, sum_j ||W_j||_1 H_j, their share of the
-- spectrogram summed over frequency. Unlike an H row, whose scale its W column can trade
-- against, envelopes of different models and of sums of components are comparable.
-- @tparam Model m a model
-- @param components a component index or a list of them
-- @treturn table p numbers
-- @raise when an index is out of range.
-- @usage local loudness = tessera.nmf.envelope(m, {1, 2})
function nmf.envelope(m, components)
  if not is_model(m) then
    error(fmt("bad argument #1 to 'envelope' (Model expected, got %s)", type(m)), 2)
  end
  local list = component_list(m, components)
  return weighted_sum(m.H:totable(), norms_l1(templates(m), false), list, m.p)
end

--- tessera.nmf.evenness(m) -> e, shares: how evenly the model's mass is spread over its
-- components. shares[i] = ||W_i||_1 ||H_i||_1 / sum_j ||W_j||_1 ||H_j||_1, component i's
-- part of the sum of W H (scale traded between W and H does not change it); e is their
-- entropy over log k, 1 when every share is 1/k and 0 when one component holds all (a
-- one-component model is 1). The study's "the divergence spreads more evenly", as a number.
-- @tparam Model m a model
-- @treturn number e in 0..1
-- @treturn table shares, one per component
-- @raise when m is not a Model.
-- @usage local e, shares = tessera.nmf.evenness(m)
function nmf.evenness(m)
  if not is_model(m) then
    error(fmt("bad argument #1 to 'evenness' (Model expected, got %s)", type(m)), 2)
  end
  local w, h = norms_l1(templates(m), false), norms_l1(m.H, true)
  local total, shares = 0, {}
  for i = 1, m.k do
    shares[i] = w[i] * h[i]
    total = total + shares[i]
  end
  if total == 0 then error("bad argument #1 to 'evenness' (every component is zero)", 2) end
  local entropy = 0
  for i = 1, m.k do
    shares[i] = shares[i] / total
    if shares[i] > 0 then entropy = entropy - shares[i] * math.log(shares[i]) end
  end
  return m.k > 1 and entropy / math.log(m.k) or 1.0, shares
end

--- tessera.nmf.group(parts, whole [, {by = "H" | "W"}]) -> groups
-- Many components against fewer: assigns every component of `parts` to the component of
-- `whole` it correlates best with (Pearson correlation of H rows by default, or of W
-- columns; a tie goes to the lower index), then measures how well each group together
-- stands for its target. groups[i] (one per component of whole, in order) is
--   { target = i, members = {j, ...} (ascending), corr = r (nil without members),
--     best = r1, best_member = j1 (the member correlating best on its own; nil without) }
-- where corr is the correlation of whole's H row i with the members' summed envelope
-- (nmf.envelope(parts, members)). With by = "W" the roles swap: W columns, weighted by the
-- L1 norms of the members' H rows (the group's summed spectrum).
-- @tparam Model parts the model with more components
-- @tparam Model whole the model with fewer
-- @tab[opt] opts options:
-- @string[opt="H"] opts.by "H" or "W"
-- @treturn table groups, one per component of whole
-- @raise when an argument is not a Model, the shapes do not allow the comparison, or an option
-- is unknown.
-- @usage local groups = tessera.nmf.group(m6, m4)
-- for i, g in ipairs(groups) do print(i, table.concat(g.members, ","), g.corr) end
function nmf.group(parts, whole, opts)
  local given = { parts, whole }
  for i = 1, 2 do -- not ipairs: a nil first argument would end the loop unchecked
    local m = given[i]
    if not is_model(m) then
      error(fmt("bad argument #%d to 'group' (Model expected, got %s)", i, type(m)), 2)
    end
  end
  if opts ~= nil and type(opts) ~= "table" then
    error(fmt("bad argument #3 to 'group' (options must be a table, got %s)", type(opts)), 2)
  end
  local by = opts and opts.by or "H"
  if by ~= "H" and by ~= "W" then
    error(fmt("bad argument #3 to 'group' (invalid by '%s'; expected one of: H, W%s)", tostring(by),
              did_you_mean(by, { "H", "W" })), 2)
  end
  local on_rows = by == "H"
  local partsW, wholeW = templates(parts), templates(whole)
  local length1 = on_rows and parts.p or partsW:shape()
  local length2 = on_rows and whole.p or wholeW:shape()
  if length1 ~= length2 then
    error(fmt("bad argument #2 to 'group' (%s of different lengths: %d and %d %s)",
              on_rows and "H rows" or "W columns", length1, length2, on_rows and "frames" or "bins"), 2)
  end
  local r = on_rows and C.correlate(parts.H, whole.H, "rows") or C.correlate(partsW, wholeW, "cols")
  local groups = {}
  for i = 1, whole.k do groups[i] = { target = i, members = {} } end
  for j = 1, parts.k do
    local target, best = 1, r[j][1]
    for i = 2, whole.k do
      if r[j][i] > best then target, best = i, r[j][i] end
    end
    local g = groups[target]
    g.members[#g.members + 1] = j
    if not g.best or best > g.best then g.best, g.best_member = best, j end
  end
  -- Each group's summed vector: its members' weighted by the other factor's L1 norms.
  local vectors = on_rows and parts.H:totable() or partsW:T():totable()
  local weights = on_rows and norms_l1(partsW, false) or norms_l1(parts.H, true)
  local sums = {}
  for i, g in ipairs(groups) do sums[i] = weighted_sum(vectors, weights, g.members, length1) end
  local rg = on_rows and C.correlate(whole.H, matrix.from(sums), "rows")
                      or C.correlate(wholeW, matrix.from(sums):T(), "cols")
  for i, g in ipairs(groups) do
    if #g.members > 0 then g.corr = rg[i][i] end
  end
  return groups
end

--- Renders components to sound with the phase of the spectrogram they came from
-- (lua/tessera/listen.lua). "phase" (NMF's default): W_i H_i with S's phase, inverse STFT.
-- "wiener" (NMFD's default): S masked by W_i H_i / W H, so the components add up to S.
-- @function Model:audio
-- @param[opt] which a component, a list of them, or nil for all
-- @tparam Spectrogram S the spectrogram V came from (its geometry must match the model's)
-- @tab[opt] opts options:
-- @string[opt] opts.method "phase" or "wiener"
-- @treturn Audio S.length samples at S.sr
-- @raise `bad argument #1 to 'audio' (component must be in 1..4, got 9)`; a spectrogram of
-- another shape or geometry; an unknown method.
-- @usage m:audio(2, S):save("component2.wav")
-- m:audio({1, 3}, S, {method = "wiener"}):save("13.wav")
nmf.Model = Model
require("tessera.listen").install(Model) -- m:audio(i, S): hearing components

-- Errors leave the public functions and the methods at the caller's line
-- (lua/tessera/entry.lua).
local entry = require "tessera.entry"
entry.export(Model)
return entry.export(nmf)
