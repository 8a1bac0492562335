-- tessera.nmf.rank: how many components V holds, by two independent criteria, each with its
-- evidence, and a suggested k with the reason.
--
--   local r = tessera.nmf.rank(V, { ks = { 2, 3, 4, 5, 6, 8 }, loss = "kl" })
--   print(r.suggested, r.reason)
--   for _, row in ipairs(r.rows) do print(row.k, row.heldout, row.stability) end
--
-- (a) Masked cross-validation. The entries of V are dealt at random into 1 / holdout groups;
--     fold f holds group f out: it is fitted with weights 0 there (weighted NMF, which never
--     sees a held-out entry, neither in the fit nor in its start), and scored on the held-out
--     entries alone (the mean divergence per entry). A k that only fits noise predicts the
--     held-out entries worse; a k too small predicts them badly too.
-- (b) Stability across seeds. V is fitted from `seeds` random starts; the components of every
--     two fits are paired (nmf.match by W, Hungarian) and their spectra correlated. Where k
--     exceeds what V supports, the extra components split the sounds differently from one
--     start to the next and the weakest pair's correlation drops.
-- The suggestion: the smallest k that achieves `explained` (0.9) of the fall in held-out
-- error from the smallest k tried to the best one (the elbow of the curve: the components
-- after it add detail to the sounds already there, not new ones; on real sounds the error
-- keeps falling slowly, so "the lowest error" alone would pick the largest k). Stability
-- is reported beside it, and the reason says whether the suggested k's fits are stable.
-- The fall is measured up to the largest k tried: try ks well past the expected answer.
-- Options (all checked): ks (a list of integers >= 1, at most min(n, p); default 2..12 as
-- far as V allows), loss ("kl"), solver ("mu"; "cd" for the Euclidean loss), holdout
-- (0.1, in (0, 0.5]), folds (3, at most 1 / holdout), seeds (3, >= 2), max_iter (200),
-- tol (1e-4), seed (0: the masks' and starts' seed), explained (0.9, in (0, 1]),
-- stable_at (0.9: a k is stable when its fits' weakest pair correlates at least this
-- much), on_progress (function(done, total) called after each fit).
--
-- The result: { ks, rows = { { k, heldout (mean over folds), heldout_se, folds = {...},
-- stability (mean pair correlation), weakest (the weakest pair's), stable } ... },
-- suggested, reason, criteria = { cv = text, stability = text }, options }.
local core = require "tessera.core"
local did_you_mean = require("tessera.args").did_you_mean
local random = require "tessera.random"

local error, ipairs, math_type, pairs, type = error, ipairs, math.type, pairs, type
local format = string.format
local concat, sort = table.concat, table.sort
local sqrt, huge, floor = math.sqrt, math.huge, math.floor

local matrix = core.matrix

local KEYS = { ks = true, loss = true, solver = true, holdout = true, folds = true, seeds = true,
  max_iter = true, tol = true, seed = true, explained = true, stable_at = true, on_progress = true }

local function bad(msg, ...) error(format("bad argument #2 to 'rank' (" .. msg .. ")", ...), 3) end

local function check_options(V, opts)
  if core.type(V) == "Spectrogram" then V = V:magnitude() end
  if core.type(V) ~= "Matrix" then
    error(format("bad argument #1 to 'rank' (Matrix or Spectrogram expected, got %s)",
      core.type(V) or type(V)), 3)
  end
  opts = opts or {}
  if type(opts) ~= "table" then bad("options must be a table, got %s", type(opts)) end
  for key in pairs(opts) do
    if not KEYS[key] then
      local names = {}
      for name in pairs(KEYS) do names[#names + 1] = name end
      sort(names)
      bad("unknown option '%s' (valid: %s)%s", tostring(key), concat(names, ", "), did_you_mean(key, names))
    end
  end
  local n, p = V:shape()
  local most = math.min(n, p)
  local o = {}
  local ks = opts.ks
  if ks == nil then
    ks = {}
    for k = 2, math.min(12, most) do ks[#ks + 1] = k end
  end
  if type(ks) ~= "table" or #ks == 0 then bad("ks must be a non-empty list of integers") end
  o.ks = {}
  for i, k in ipairs(ks) do
    if math_type(k) ~= "integer" or k < 1 or k > most then
      bad("ks[%d] must be an integer in 1..%d (the smaller of n and p), got %s", i, most, tostring(k))
    end
    o.ks[i] = k
  end
  sort(o.ks)
  local function number(key, default, ok, expected)
    local v = opts[key]
    if v == nil then return default end
    if type(v) ~= "number" or v ~= v or not ok(v) then
      bad("%s must be %s, got %s", key, expected, tostring(v))
    end
    return v
  end
  local function integer(key, default, lo, hi)
    local v = number(key, default, function(x) return math_type(x) == "integer" and x >= lo and x <= hi end,
      format("an integer in %d..%d", lo, hi))
    return v
  end
  o.loss = opts.loss or "euclidean"
  o.solver = opts.solver or "mu"
  o.holdout = number("holdout", 0.1, function(x) return x > 0 and x <= 0.5 end, "in (0, 0.5]")
  local groups = floor(1 / o.holdout + 0.5)
  o.folds = integer("folds", math.min(3, groups), 1, groups)
  o.seeds = integer("seeds", 3, 2, 100)
  o.max_iter = integer("max_iter", 200, 1, 100000)
  o.tol = number("tol", 1e-4, function(x) return x >= 0 and x < huge end, "a finite number >= 0")
  o.seed = integer("seed", 0, 0, math.maxinteger)
  o.explained = number("explained", 0.9, function(x) return x > 0 and x <= 1 end, "in (0, 1]")
  o.stable_at = number("stable_at", 0.9, function(x) return x > 0 and x <= 1 end, "in (0, 1]")
  if opts.on_progress ~= nil and type(opts.on_progress) ~= "function" then
    bad("on_progress must be a function, got %s", type(opts.on_progress))
  end
  o.on_progress = opts.on_progress
  return V, o, groups
end

-- The held-out masks: every entry dealt into one of `groups` groups; mask f is 1 where the
-- entry is seen by fold f, and heldout f its complement.
local function fold_masks(n, p, groups, folds, seed)
  local uniform = random.generator(seed, "tessera.nmf.rank folds")
  local seen, held = {}, {}
  for f = 1, folds do
    seen[f] = matrix.new(n, p, 1)
    held[f] = matrix.new(n, p, 0)
  end
  local count = {}
  for f = 1, folds do count[f] = 0 end
  for j = 1, p do
    for i = 1, n do
      local g = floor(uniform() * groups) + 1
      if g <= folds then
        seen[g]:set(i, j, 0)
        held[g]:set(i, j, 1)
        count[g] = count[g] + 1
      end
    end
  end
  return seen, held, count
end

local function mean_and_se(xs)
  local s = 0
  for _, x in ipairs(xs) do s = s + x end
  local mean = s / #xs
  if #xs < 2 then return mean, 0 end
  local v = 0
  for _, x in ipairs(xs) do v = v + (x - mean) ^ 2 end
  return mean, sqrt(v / (#xs - 1) / #xs)
end

-- The suggestion and its reason from the rows (see the header).
local function suggest(rows, o)
  local best = 1
  for i, r in ipairs(rows) do
    if r.heldout < rows[best].heldout then best = i end
  end
  local first = rows[1].heldout
  local fall = first - rows[best].heldout
  local pick = best
  for i = 1, best do
    if first - rows[i].heldout >= o.explained * fall then pick = i break end
  end
  local k = rows[pick].k
  local cv_text
  if best == 1 then
    cv_text = format("held-out error is lowest at the smallest k tried, k = %d (%.4g per entry)",
      k, first)
  else
    cv_text = format("held-out error falls from %.4g per entry at k = %d to %.4g at k = %d; " ..
      "k = %d is the smallest k that gets %.0f%% of that fall", first, rows[1].k,
      rows[best].heldout, rows[best].k, k, 100 * o.explained)
  end
  local stable = {}
  for _, r in ipairs(rows) do
    if r.stable then stable[#stable + 1] = tostring(r.k) end
  end
  local st_text = format("fits from %d random starts pair up with every correlation >= %.2f " ..
    "at k = %s", o.seeds, o.stable_at, #stable > 0 and concat(stable, ", ") or "none of the ks")
  local reason = format("k = %d: %s; %s", k, cv_text, rows[pick].stable
    and "its fits are stable across starts"
    or format("its components change with the start (weakest pair %.2f), so listen before " ..
      "trusting them", rows[pick].weakest))
  return k, reason, { cv = cv_text, stability = st_text }
end

-- rank(nmf, V, opts): nmf is tessera.nmf (passed in: tessera.nmf requires this module).
return function(nmf, V, opts)
  local o, groups
  V, o, groups = check_options(V, opts)
  local n, p = V:shape()
  local seen, held, count = fold_masks(n, p, groups, o.folds, o.seed)
  local masked = {}
  for f = 1, o.folds do masked[f] = V:hadamard(seen[f]) end
  local total, done = #o.ks * (o.folds + o.seeds), 0
  local function step()
    done = done + 1
    if o.on_progress then o.on_progress(done, total) end
  end
  local rows = {}
  for _, k in ipairs(o.ks) do
    local scores = {}
    for f = 1, o.folds do
      local m = nmf(masked[f], { k = k, loss = o.loss, solver = o.solver, weights = seen[f],
        max_iter = o.max_iter, tol = o.tol, progress = false })
      scores[f] = nmf.loss(V, m.W, m.H, o.loss, held[f]) / count[f]
      step()
    end
    local models = {}
    for s = 1, o.seeds do
      models[s] = nmf(V, { k = k, loss = o.loss, solver = o.solver, init = "random",
        seed = o.seed + s, max_iter = o.max_iter, tol = o.tol, progress = false })
      step()
    end
    local sum, pairs_count, weakest = 0, 0, 1
    for a = 1, o.seeds do
      for b = a + 1, o.seeds do
        for _, pair in ipairs((nmf.match(models[a], models[b], { by = "W" }))) do
          sum = sum + pair.corr
          pairs_count = pairs_count + 1
          if pair.corr < weakest then weakest = pair.corr end
        end
      end
    end
    local mean, se = mean_and_se(scores)
    rows[#rows + 1] = { k = k, heldout = mean, heldout_se = se, folds = scores,
      stability = sum / pairs_count, weakest = weakest, stable = weakest >= o.stable_at }
  end
  local suggested, reason, criteria = suggest(rows, o)
  local options = {}
  for key, v in pairs(o) do
    if key ~= "on_progress" then options[key] = v end
  end
  return { ks = o.ks, rows = rows, suggested = suggested, reason = reason,
    criteria = criteria, options = options }
end
