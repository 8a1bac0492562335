-- tessera.listen: hearing the components of a decomposition. m:audio(i, S) renders NMF
-- components back to sound with the phase of the spectrogram they came from, either the
-- paper's way (|W_i H_i| with S's phase) or through a soft (Wiener) mask that splits S
-- itself, so the components add up to the original signal. tessera.griffinlim (C, in
-- csrc/listen.c) is re-exported here for magnitudes that have no phase of their own.
--
--   local S = tessera.stft(a)
--   local m = tessera.nmf(S:magnitude(), {k = 4})
--   m:audio(2, S):save("component2.wav")                 -- one component
--   m:audio({1, 3}, S, {method = "wiener"}):save("13.wav") -- a sum, by soft masks
--   local y, sc = tessera.griffinlim(m:component(2), S)   -- no phase: estimate one
--   local y2 = tessera.griffinlim(m:component(2), S, {init = "pghi"}) -- from a better start
local core = require "tessera.core"
local did_you_mean = require("tessera.args").did_you_mean

local error, ipairs, math_type, pairs, tostring, type = error, ipairs, math.type, pairs, tostring, type
local format = string.format

local matrix, spectrogram = core.matrix, core.spectrogram
local core_type = core.type

local listen = {}

-- listen.griffinlim(mag, like_S [, {iter = 32, momentum = 0.99, init = "random" | "pghi" |
-- phase Matrix, seed = 0}]) -> Audio, convergence: the same function as tessera.griffinlim.
-- init = "pghi" starts from listen.pghi's phase, far closer than a random one.
listen.griffinlim = core.griffinlim

-- listen.pghi(mag, like_S) -> Matrix of phases (radians, mag's shape): phase-gradient heap
-- integration (Prusa et al. 2017), a phase from the magnitude alone, in one pass, for
-- like_S's geometry (hann or hamming window); from_polar(mag, phase, like_S):istft() hears
-- it. The same function as tessera.pghi.
listen.pghi = core.pghi

local METHODS = { phase = true, wiener = true }

-- Raised from m:audio itself (level 3 names its caller), or from a helper one deeper.
local function argerror(n, msg, level)
  error(format("bad argument #%d to 'audio' (%s)", n, msg), level or 3)
end

-- The selected components as a sorted list of distinct indices in 1..k (nil: all).
local function selection(which, k)
  if which == nil then
    local all = {}
    for i = 1, k do all[i] = i end
    return all
  end
  local list = which
  if type(which) ~= "table" then list = { which } end
  if #list == 0 then argerror(1, "the list of components is empty", 4) end
  local seen, out = {}, {}
  for pos, i in ipairs(list) do
    if math_type(i) ~= "integer" or i < 1 or i > k then
      local got = type(i) == "number" and tostring(i) or type(i)
      if type(which) == "table" then
        argerror(1, format("component %d of the list must be an integer in 1..%d, got %s", pos, k, got), 4)
      end
      argerror(1, format("component must be an integer in 1..%d, got %s", k, got), 4)
    end
    if seen[i] then argerror(1, format("component %d is listed twice", i), 4) end
    seen[i] = true
    out[#out + 1] = i
  end
  for key in pairs(list) do
    if math_type(key) ~= "integer" or key < 1 or key > #list then
      argerror(1, "the components must be a list of indices", 4)
    end
  end
  table.sort(out)
  return out
end

-- W D H with D the k x k diagonal selector: the selected components' sum, by two
-- products (no copy of W's columns or H's rows); an NMFD model's (T) by its convolution.
local function partial(W, H, k, sel, T)
  if T then return core.nmf.convolve(W, H, T, #sel < k and sel or nil) end
  if #sel == k then return W * H end
  local D = matrix.new(k, k)
  for _, i in ipairs(sel) do D:set(i, i, 1) end
  return (W * D) * H
end

-- m:audio([i | {i, ...} | nil], S [, {method = "phase" | "wiener"}]) -> Audio of S.length
-- samples at S.sr. "phase" (NMF's default): the magnitude W_i H_i with S's phase, inverse
-- STFT. "wiener" (NMFD's default, whose components overlap in time by design): S masked by
-- W_i H_i / W H (where W H is 0 the mask is the selection's share, #i / k), so the masks of
-- all components add up to 1 and their audio to the inverse STFT of S.
function listen.audio(m, which, S, opts)
  if type(m) ~= "table" or m.W == nil or m.H == nil then
    error(format("bad argument #0 to 'audio' (NMF model expected, got %s)", type(m)), 2)
  end
  if core_type(S) ~= "Spectrogram" then
    argerror(2, format("Spectrogram expected, got %s", type(S) == "userdata" and "userdata" or type(S)))
  end
  if opts ~= nil and type(opts) ~= "table" then argerror(3, format("table expected, got %s", type(opts))) end
  opts = opts or {}
  for key in pairs(opts) do
    if key ~= "method" then
      argerror(3, format("unknown option '%s' (valid: method)%s", tostring(key),
        did_you_mean(key, { "method" })))
    end
  end
  local method = opts.method or (m.T and "wiener" or "phase")
  if not METHODS[method] then
    argerror(3, format("method must be 'phase' or 'wiener', got %s%s",
      type(method) == "string" and "'" .. method .. "'" or type(method),
      did_you_mean(method, { "phase", "wiener" })))
  end
  local W, H = m.W, m.H
  local n = W:shape()
  local k, p = H:shape()
  local bins, frames = S:shape()
  if bins ~= n or frames ~= p then
    argerror(2, format("spectrogram is %d x %d but the model is %d x %d", bins, frames, n, p))
  end
  local fitted = m.spectrogram -- the geometry of the spectrogram the model was fit on
  if fitted then
    for _, key in ipairs({ "sr", "n_fft", "hop", "window" }) do
      if S[key] ~= fitted[key] then
        argerror(2, format("spectrogram has %s %s but the model was fit on %s %s", key,
          tostring(S[key]), key, tostring(fitted[key])))
      end
    end
  end
  local sel = selection(which, k)
  local part = partial(W, H, k, sel, m.T)
  local Y
  if method == "phase" then
    Y = spectrogram.from_polar(part, S:phase(), S)
  else
    local whole = #sel == k and part or partial(W, H, k, selection(nil, k), m.T)
    Y = S:mask(core.listen.ratio(part, whole, #sel / k))
  end
  return Y:istft()
end

-- Adds m:audio to the Model methods (tessera.nmf calls this when it loads).
function listen.install(Model)
  Model.audio = listen.audio
  return Model
end

-- Loaded after tessera.nmf: install into it now.
if package.loaded["tessera.nmf"] ~= nil then listen.install(package.loaded["tessera.nmf"].Model) end

-- Errors leave the public functions at the caller's line (lua/tessera/entry.lua).
return require("tessera.entry").export(listen)
