--- tessera.nmfd: convolutive NMF (NMFD; Smaragdis 2004, the NMF Toolbox's NMFD after Dittmar &
-- Mueller, "Reverse engineering the Amen break", 2016): templates that are spectrograms T
-- frames long, V ~ sum_{t < T} W_t H shifted t frames right, so a drum's whole decay is one
-- component. The fit runs in C (csrc/nmf/nmfd.c); the result is a tessera.nmf Model with T
-- set, whose methods know the convolution:
--
--   local S = tessera.stft(tessera.audio.load("loop_amen.flac"))
--   local m = tessera.nmfd(S, {k = 3, T = 8, loss = "kl"})
--   m:template(1)                          -- n x T Matrix: component 1's spectrogram
--   m:component(1)                         -- its part of V, n x p
--   m:audio(1, S):save("kick.wav")         -- through a Wiener mask (NMFD's default)
--   local kit = tessera.nmfd.templates({"kick.wav", "snare.wav"}, {T = 8})  -- n x 2T
--   tessera.nmfd(S, {k = 4, T = 8, W_start = kit, fixed_W = {1, 2}})       -- kit kept
--
-- Options: tessera.nmf's, with T (required, 1..p) and these differences: W is n x kT (column
-- a + k(t-1) holds template a's frame t; T = 1 is tessera.nmf's W, and the fit equals
-- tessera.nmf's to float rounding); solver "mu" only (any loss, any order); init "random"
-- (the default), "uniform" or "custom" (nndsvd needs T = 1); W_start n x mT (m templates of
-- T frames, as nmfd.templates gives); fixed_W / fixed_H keep whole templates / rows; no
-- weights or smooth_H. alpha_W, alpha_H and l1_ratio are the sparsity priors as in tessera.nmf.
-- @module tessera.nmfd
local core = require "tessera.core"
local nmf = require "tessera.nmf"

local error, pairs, type = error, pairs, type
local fmt = string.format

local nmfd = {}

local function kind(v)
  return type(v) == "userdata" and (core.type(v) or "userdata") or type(v)
end

--- tessera.nmfd(V, opts) -> Model (V a Matrix or a Spectrogram, as tessera.nmf takes)
-- @tparam Matrix|Spectrogram V the data
-- @tab opts the options of @{nmfd}
-- @treturn Model the model
-- @raise as @{nmfd}.
-- @usage local m = tessera.nmfd.fit(V, {k = 2, T = 4})
function nmfd.fit(V, opts)
  if type(opts) ~= "table" then
    error(fmt("bad argument #2 to 'nmfd' (options must be a table, got %s)", kind(opts)), 2)
  end
  if opts.T == nil then
    error("bad argument #2 to 'nmfd' (T is required: the templates' length in frames)", 2)
  end
  return nmf.fit(V, opts)
end

--- tessera.nmfd(V, opts) -> Model: convolutive NMF (NMFD, Smaragdis 2004): each
-- component a template T frames long, convolved with its activations.
-- @function nmfd
-- @tparam Matrix|Spectrogram V the data, >= 0
-- @tab opts the options of @{tessera.nmf.nmf|tessera.nmf} and:
-- @int opts.T the template length in frames (required, >= 1)
-- @treturn Model a model with `T`; its W is n x kT
-- @raise as tessera.nmf, naming 'nmfd': `bad argument #2 to 'nmfd' (T must be >= 1, got 0)`.
-- @usage local m = tessera.nmfd(V, {k = 3, T = 8, loss = "kl"})
setmetatable(nmfd, {
  __call = function(_, V, opts)
    if type(opts) ~= "table" or opts.T == nil then return nmfd.fit(V, opts) end
    return nmf.fit(V, opts)
  end,
})

--- tessera.nmfd.loss(V, W, H, T [, loss]) -> the objective of the convolutive model
-- ("euclidean" by default, as tessera.nmf.loss's).
-- @tparam Matrix V n x p
-- @tparam Matrix W n x kT
-- @tparam Matrix H k x p
-- @int T the template length
-- @param[opt="euclidean"] loss a loss name or beta
-- @treturn number the objective
-- @raise when the shapes do not fit T (naming them) or an entry is negative.
-- @usage local d = tessera.nmfd.loss(V, m.W, m.H, m.T, "kl")
function nmfd.loss(V, W, H, T, loss)
  return core.nmf.conv_loss(V, W, H, T, loss)
end

--- tessera.nmfd.templates(sounds, {T = (required), sr, n_fft, hop}) -> n x mT Matrix: each
-- sound's first T magnitude frames, a block of unit L2 norm (tessera.nmf.templates).
-- @tparam table sounds file paths or mono Audio
-- @tab opts options: `T` (required), `sr` (22050), `n_fft` (2048), `hop` (512)
-- @treturn Matrix n x mT
-- @raise a missing T, an unknown option, a sound that cannot be read.
-- @usage local W0 = tessera.nmfd.templates({"kick.wav"}, {T = 8})
function nmfd.templates(sounds, opts)
  if type(opts) ~= "table" or opts.T == nil then
    error("bad argument #2 to 'templates' (T is required: the templates' length in frames)", 2)
  end
  local t = {}
  for key, value in pairs(opts) do t[key] = value end
  return nmf.templates(sounds, t)
end

--- tessera.nmfd.load(dir): tessera.nmf.load, which reads NMFD models too.
-- @function load
-- @string dir a folder m:save wrote
-- @treturn Model the model
-- @raise as @{tessera.nmf.load}.
-- @usage local m = tessera.nmfd.load("out/drums-nmfd")
nmfd.load = nmf.load

-- Errors leave the public functions at the caller's line (lua/tessera/entry.lua).
return require("tessera.entry").export(nmfd)
