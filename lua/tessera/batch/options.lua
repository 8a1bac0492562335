-- tessera.batch.options: the work done on each input when no script is given, the options
-- it takes, and their one check.
local error, math, pairs, table, tostring, type = error, math, pairs, table, tostring, type
local fmt = string.format

local options = {}

-- The work done on each input when no script is given, and the options it takes (the names
-- of `tessera decompose`'s options, plus tol and every (tessera.nmf's), audio, figures and
-- resample: the quality of the resampling to sr, tessera.audio.load's `quality`; "poly" by
-- default, the samples scipy.signal.resample_poly gives a Python pipeline, and the fastest
-- quality; decompose uses "best").
options.DEFAULTS = {
  k = 4, loss = "kl", solver = "mu", seed = 0, iter = 200, tol = 1e-4, every = 10,
  sr = 22050, n_fft = 2048, hop = 512, offset = 0, duration = false,
  audio = false, method = "wiener", figures = false, resample = "poly",
}

local function fail(msg, ...)
  error(fmt(msg, ...), 0)
end

local CHOICES = {
  loss = { euclidean = true, kl = true, is = true },
  solver = { mu = true, cd = true },
  method = { wiener = true, phase = true },
  resample = { best = true, medium = true, fast = true, poly = true },
}

-- options.check(t) (batch.options) -> a complete options table (options.DEFAULTS filled in), checked.
function options.check(t)
  t = t or {}
  local o = {}
  for key, value in pairs(options.DEFAULTS) do o[key] = value end
  for key, value in pairs(t) do
    if options.DEFAULTS[key] == nil then
      local names = {}
      for name in pairs(options.DEFAULTS) do names[#names + 1] = name end
      table.sort(names)
      fail("tessera.batch: unknown option '%s' (expected one of: %s)", tostring(key),
        table.concat(names, ", "))
    end
    o[key] = value
  end
  local function int_at_least(key, low)
    if math.type(o[key]) ~= "integer" or o[key] < low then
      fail("tessera.batch: %s must be an integer >= %d, got %s", key, low, tostring(o[key]))
    end
  end
  int_at_least("k", 1)
  int_at_least("iter", 1)
  int_at_least("every", 1)
  int_at_least("sr", 1)
  int_at_least("n_fft", 2)
  int_at_least("hop", 1)
  int_at_least("seed", 0)
  if o.hop > o.n_fft then
    fail("tessera.batch: hop must be <= n_fft (%d), got %d", o.n_fft, o.hop)
  end
  for key, choices in pairs(CHOICES) do
    if not choices[o[key]] then
      local names = {}
      for name in pairs(choices) do names[#names + 1] = name end
      table.sort(names)
      fail("tessera.batch: %s must be one of %s, got '%s'", key, table.concat(names, ", "),
        tostring(o[key]))
    end
  end
  if o.solver == "cd" and o.loss ~= "euclidean" then
    fail("tessera.batch: solver cd needs loss euclidean, got '%s'", o.loss)
  end
  if type(o.tol) ~= "number" or o.tol < 0 then
    fail("tessera.batch: tol must be >= 0, got %s", tostring(o.tol))
  end
  if type(o.offset) ~= "number" or o.offset < 0 then
    fail("tessera.batch: offset must be >= 0, got %s", tostring(o.offset))
  end
  if o.duration ~= false and (type(o.duration) ~= "number" or o.duration <= 0) then
    fail("tessera.batch: duration must be > 0, got %s", tostring(o.duration))
  end
  return o
end

return options
