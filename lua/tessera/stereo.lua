--- tessera.stereo: stereo decompositions. Both channels share the templates and each has
-- its own activations: one NMF of the two magnitude spectrograms side by side (n x 2p), so
-- a component is one sound with its own place between the speakers, and its audio comes
-- back in stereo through each channel's Wiener masks (which add up to that channel).
--
--   local a = tessera.audio.load("song.flac", {mono = false})
--   local m = tessera.stereo.decompose(a, {k = 8, loss = "kl"})
--   print(tessera.stereo.pan(m)[1])                  -- -1 left .. 1 right
--   tessera.stereo.audio(m, 1):save("component1.wav") -- in stereo
-- @module tessera.stereo
local core = require "tessera.core"
local listen = require "tessera.listen"
local nmf = require "tessera.nmf"

local error, ipairs, pairs, tostring, type = error, ipairs, pairs, tostring, type
local format = string.format

local stereo = {}

local STFT_KEYS = { n_fft = true, hop = true, window = true }

local function argerror(n, fname, msg) error(format("bad argument #%d to '%s' (%s)", n, fname, msg), 3) end

local function check_stereo_model(m, fname)
  if type(m) ~= "table" or m.channels ~= 2 or m.W == nil then
    argerror(1, fname, "a stereo model (from tessera.stereo.decompose) expected")
  end
end

--- stereo.decompose(a, opts) -> Model: a (Audio of 2 channels) decomposed with shared
-- templates and per-channel activations. opts: the STFT's (n_fft, hop, window) and
-- tessera.nmf's (k, loss, ...). The model's H is k x 2p, the left channel's frames then the
-- right's; m.channels = 2, m.frames = p, m.spectrograms = {left, right} (for its audio).
-- @tparam Audio a a stereo sound
-- @tab opts the STFT's options (n_fft, hop, window) and tessera.nmf's (k, loss, ...)
-- @treturn Model a model with `channels` = 2, `frames` = p, `spectrograms` = {left, right}
-- @raise when a is not stereo; as tessera.stft and tessera.nmf.
-- @usage local m = tessera.stereo.decompose(a, {k = 6, loss = "kl"})
function stereo.decompose(a, opts)
  if core.type(a) ~= "Audio" then argerror(1, "decompose", "Audio expected, got " .. type(a)) end
  if a.channels ~= 2 then
    argerror(1, "decompose", format("stereo audio expected, got %d channel%s", a.channels,
      a.channels == 1 and "" or "s"))
  end
  if type(opts) ~= "table" then argerror(2, "decompose", "options with k expected") end
  local stft_opts, nmf_opts = {}, {}
  for key, value in pairs(opts) do
    if STFT_KEYS[key] then stft_opts[key] = value else nmf_opts[key] = value end
  end
  local S = { core.stft(a:channel(1), stft_opts), core.stft(a:channel(2), stft_opts) }
  local V = core.matrix.hcat(S[1]:magnitude(), S[2]:magnitude())
  local m = nmf(V, nmf_opts)
  m.channels = 2
  m.frames = select(2, S[1]:shape())
  m.spectrograms = S
  return m
end

--- stereo.activations(m, c) -> the k x p activations of channel c (1 left, 2 right): a view
-- of m.H's columns.
-- @tparam Model m a stereo model
-- @int c 1 (left) or 2 (right)
-- @treturn Matrix k x p, a view of m.H
-- @raise when m is not a stereo model or c is not 1 or 2.
-- @usage local HL = tessera.stereo.activations(m, 1)
function stereo.activations(m, c)
  check_stereo_model(m, "activations")
  if c ~= 1 and c ~= 2 then argerror(2, "activations", "channel must be 1 or 2, got " .. tostring(c)) end
  return m.H:cols((c - 1) * m.frames + 1, c * m.frames)
end

--- stereo.pan(m) -> {pan of component 1, ...}: where each sounds, from -1 (left only) to 1
-- (right only), by its activations' energy in each channel ((R - L) / (R + L); 0 for a
-- silent component). The template is shared, so its energy cancels out.
-- @tparam Model m a stereo model
-- @treturn table one pan per component, -1..1
-- @raise when m is not a stereo model.
-- @usage for i, p in ipairs(tessera.stereo.pan(m)) do print(i, p) end
function stereo.pan(m)
  check_stereo_model(m, "pan")
  local L, R = stereo.activations(m, 1), stereo.activations(m, 2)
  local out = {}
  for i = 1, m.k do
    local l, r = L:row(i), R:row(i)
    local el, er = l:hadamard(l):sum(), r:hadamard(r):sum()
    out[i] = el + er > 0 and (er - el) / (er + el) or 0
  end
  return out
end

--- stereo.audio(m [, which [, opts]]) -> Audio of 2 channels: the selected components (an
-- index, a list, or nil for all) of each channel through m's own spectrograms, as
-- m:audio does for one (opts.method: "wiener", the default here, or "phase").
-- @tparam Model m a stereo model
-- @param[opt] which a component, a list, or nil for all
-- @tab[opt] opts `method`: "wiener" (default) or "phase"
-- @treturn Audio two channels
-- @raise an index out of range or an unknown method.
-- @usage tessera.stereo.audio(m, {1, 2}):save("left-of-stage.wav")
function stereo.audio(m, which, opts)
  check_stereo_model(m, "audio")
  opts = opts or {}
  local o = {}
  for key, value in pairs(opts) do o[key] = value end
  o.method = o.method or "wiener"
  local parts = {}
  for c, S in ipairs(m.spectrograms) do
    local view = { W = m.W, H = stereo.activations(m, c), k = m.k, T = m.T }
    parts[c] = listen.audio(view, which, S, o)
  end
  return core.audio.join(parts[1], parts[2])
end

-- Errors leave the public functions at the caller's line (lua/tessera/entry.lua).
return require("tessera.entry").export(stereo)
