--- tessera.eval: how good a separation is. Estimates (what a decomposition gave) are compared
-- with references (the true stems) by
--   BSS Eval's SDR, SIR and SAR in dB, as mir_eval.separation.bss_eval_sources 0.7 computes
--     them (a 512-tap distortion filter; estimates paired with references so that the mean
--     SIR is best);
--   SI-SDR and SD-SDR in dB (Le Roux et al., "SDR - half-baked or well done?", ICASSP 2019;
--     the signals are made zero-mean first, as the paper assumes; zero_mean = false skips it);
--   the spectral convergence | |S_ref| - |S_est| |_F / |S_ref|_F of tessera's STFT magnitudes;
-- and onset lists by mir_eval.onset.f_measure's F-measure, precision and recall.
--
--   local eval = require "tessera.eval"
--   local rows = eval.separation({ "drums_est.wav", "bass_est.wav" },
--                                { "drums.wav", "bass.wav" })
--   for _, r in ipairs(rows) do print(r.estimate, r.reference, r.sdr, r.sir, r.sar, r.si_sdr) end
--   local f, p, r = eval.onsets({ 0.51, 1.02 }, { 0.5, 1.0, 1.5 })  -- estimated, reference
--
-- Estimates come first, references second, as on the command line (mir_eval takes the
-- reference first). A signal is an Audio or a file path. Files are loaded at their own rate
-- and mixed down to mono (the mean of the channels, as tessera.audio.load does); an Audio
-- with more than one channel is an error, so a stereo object is never mixed down unseen.
-- Every signal must have the same sample rate and length (no padding or trimming, as in
-- mir_eval), be finite, and not be silent. There may be fewer estimates than references
-- (each then gets a reference of its own, and all references count as interference) but
-- not more.
-- @module tessera.eval
local core = require "tessera.core"
local did_you_mean = require("tessera.args").did_you_mean
local audio = require "tessera.audio"
local hungarian = require("tessera.assign").hungarian

local C = core.eval
local error, ipairs, pairs, type, tostring = error, ipairs, pairs, type, tostring
local fmt = string.format
local huge = math.huge
local concat, sort = table.concat, table.sort

local eval = {}

-- A number in messages: NaN and the infinities as tessera's other messages write them.
local function show(v)
  if v ~= v then return "NaN" elseif v == huge then return "Inf" elseif v == -huge then return "-Inf" end
  return tostring(v)
end

-- The label of signal i of a list in messages: "estimate 2" or "estimate 2 ('b.wav')".
local function label(s)
  if s.path then return fmt("%s %d ('%s')", s.what, s.index, s.path) end
  return fmt("%s %d", s.what, s.index)
end

-- One signal: an Audio as it is (mono only) or a path loaded as mono.
local function signal(v, what, index, fname, arg)
  local s = { what = what, index = index }
  if type(v) == "string" then
    s.path = v
    s.audio = audio.load(v)
  elseif core.type(v) == "Audio" then
    s.audio = v
    if v.channels ~= 1 then
      error(fmt("tessera.eval.%s: %s has %d channels (tessera.eval compares mono signals: "
        .. "mix it down with a:mono())", fname, label(s), v.channels), 5)
    end
  else
    error(fmt("bad argument #%d to '%s' (%s %d must be an Audio or a file path, got %s)", arg,
      fname, what, index, core.type(v) or type(v)), 5)
  end
  return s
end

-- A list of signals from one signal or a list of them (argument arg of fname).
local function signals(v, what, fname, arg)
  if type(v) ~= "table" or core.type(v) then v = { v } end
  if #v == 0 then
    error(fmt("tessera.eval.%s: the list of %ss is empty", fname, what), 4)
  end
  local list = {}
  for i, x in ipairs(v) do list[i] = signal(x, what, i, fname, arg) end
  return list
end

-- Same rate and length as the first reference (every signal), then finite and not silent.
local function check(ests, refs, fname)
  local first = refs[1]
  local function fail(message, ...) error(fmt("tessera.eval.%s: " .. message, fname, ...), 5) end
  for _, list in ipairs({ refs, ests }) do
    for _, s in ipairs(list) do
      local a = s.audio
      if a.sr ~= first.audio.sr then
        fail("%s is at %d Hz but %s at %d Hz (resample one of them)", label(s), a.sr,
          label(first), first.audio.sr)
      end
      if #a ~= #first.audio then
        fail("%s has %d samples but %s has %d (the signals must have the same length)",
          label(s), #a, label(first), #first.audio)
      end
    end
  end
  if #first.audio == 0 then fail("%s has no samples", label(first)) end
  for _, list in ipairs({ refs, ests }) do
    for _, s in ipairs(list) do
      local energy, frame, _, value = C.scan(s.audio)
      if not energy then fail("%s holds %s at sample %d", label(s), show(value), frame) end
      if energy == 0 then fail("%s is silent (every sample is zero)", label(s)) end
    end
  end
end

local function inputs(estimates, references, fname)
  local ests = signals(estimates, "estimate", fname, 1)
  local refs = signals(references, "reference", fname, 2)
  if #ests > #refs then
    error(fmt("tessera.eval.%s: %d estimates but %d reference%s (each estimate needs a "
      .. "reference of its own)", fname, #ests, #refs, #refs == 1 and "" or "s"), 3)
  end
  check(ests, refs, fname)
  return ests, refs
end

local function audios(list)
  local out = {}
  for i, s in ipairs(list) do out[i] = s.audio end
  return out
end

-- The pairing with the largest total (so mean) SIR, an infinite SIR counting as 10^9 dB.
local function pair_by_sir(sir, n_est, n_ref)
  local cost = {}
  for i = 1, n_ref do
    cost[i] = {}
    for j = 1, n_ref do
      local v = i <= n_est and sir[i][j] or 0
      if v == huge then v = 1e9 elseif v == -huge then v = -1e9 end
      cost[i][j] = -v
    end
  end
  return hungarian(cost, n_ref)
end

--- eval.bss(estimates, references [, {filter_length = 512}]) -> results, scores
-- results[i] = {estimate = i, reference = j, sdr =, sir =, sar =}, one per estimate in the
-- order given, j the reference it is paired with; scores = {sdr =, sir =, sar =}, each
-- scores.x[i][j] for every estimate i and reference j. With as many estimates as
-- references these are bss_eval_sources' numbers (its perm[j] is the i paired with j).
-- @tparam table estimates a list of Audio (mono, the references' rate and length)
-- @tparam table references a list of Audio
-- @tab[opt] opts `filter_length` (512, mir_eval's)
-- @treturn table {perm, scores = {sdr, sir, sar}}
-- @raise when the lists are empty, the signals differ in rate or length, or a reference is silent.
-- @usage local r = tessera.eval.bss({est1, est2}, {ref1, ref2})
function eval.bss(estimates, references, opts)
  local ests, refs = inputs(estimates, references, "bss")
  local sdr, sir, sar = C.bss(audios(ests), audios(refs), opts)
  local paired = pair_by_sir(sir, #ests, #refs)
  local results = {}
  for i = 1, #ests do
    local j = paired[i]
    results[i] = { estimate = i, reference = j, sdr = sdr[i][j], sir = sir[i][j],
                   sar = sar[i][j] }
  end
  return results, { sdr = sdr, sir = sir, sar = sar }
end

local function check_options(opts, valid, fname, arg)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error(fmt("bad argument #%d to '%s' (options must be a table, got %s)", arg, fname,
      type(opts)), 3)
  end
  for k in pairs(opts) do
    if not valid[k] then
      local names = {}
      for name in pairs(valid) do names[#names + 1] = name end
      sort(names)
      error(fmt("bad argument #%d to '%s' (unknown option '%s' (valid: %s)%s)", arg, fname,
        tostring(k), concat(names, ", "), did_you_mean(k, names)), 3)
    end
  end
  return opts
end

--- eval.si_sdr(estimate, reference [, {zero_mean = true}]) -> si_sdr, sd_sdr (dB)
-- @tparam Audio estimate the estimate
-- @tparam Audio reference the reference, same rate and length
-- @tab[opt] opts `zero_mean` (true)
-- @treturn number SI-SDR in dB
-- @treturn number SD-SDR in dB
-- @raise when the signals differ in rate or length or the reference is silent.
-- @usage local db = tessera.eval.si_sdr(est, ref)
function eval.si_sdr(estimate, reference, opts)
  opts = check_options(opts, { zero_mean = true }, "si_sdr", 3)
  local ests, refs = inputs({ estimate }, { reference }, "si_sdr")
  local zero_mean = opts.zero_mean
  if zero_mean == nil then zero_mean = true end
  return C.si_sdr(ests[1].audio, refs[1].audio, zero_mean)
end

local STFT_OPTIONS = { n_fft = true, hop = true, window = true, center = true }

local function convergence(est, ref, opts)
  local stft_opts = { magnitude = true }
  for k, v in pairs(opts) do stft_opts[k] = v end
  return C.spectral_convergence(core.stft(ref, stft_opts), core.stft(est, stft_opts))
end

--- eval.spectral_convergence(estimate, reference [, stft options]) -> number (0 is perfect)
-- The STFT is tessera.stft's (n_fft 2048, hop 512, Hann, centred unless told otherwise).
-- @tparam Audio estimate the estimate
-- @tparam Audio reference the reference
-- @tab[opt] opts tessera.stft's options (n_fft, hop, window, center)
-- @treturn number ||S_ref| - |S_est||_F / ||S_ref||_F
-- @raise as tessera.stft; signals of different rates or lengths.
-- @usage local sc = tessera.eval.spectral_convergence(y, a)
function eval.spectral_convergence(estimate, reference, opts)
  opts = check_options(opts, STFT_OPTIONS, "spectral_convergence", 3)
  local ests, refs = inputs({ estimate }, { reference }, "spectral_convergence")
  return convergence(ests[1].audio, refs[1].audio, opts)
end

--- eval.separation(estimates, references [, opts]) -> results: eval.bss's results, each with
-- also path_estimate / path_reference (the files, when given as paths), si_sdr, sd_sdr and
-- spectral_convergence against the reference it is paired with (spectral_convergence is
-- absent when the signals are shorter than n_fft). opts: filter_length, zero_mean, n_fft,
-- hop.
-- @tparam table estimates a list of Audio
-- @tparam table references a list of Audio
-- @tab[opt] opts `filter_length`, `zero_mean`, `n_fft`, `hop`
-- @treturn table one row per reference: its estimate and every score
-- @raise as @{bss} and @{si_sdr}.
-- @usage for _, r in ipairs(tessera.eval.separation(ests, refs)) do print(r.sdr) end
function eval.separation(estimates, references, opts)
  opts = check_options(opts, { filter_length = true, zero_mean = true, n_fft = true,
                               hop = true }, "separation", 3)
  local ests, refs = inputs(estimates, references, "separation")
  local sdr, sir, sar = C.bss(audios(ests), audios(refs), { filter_length = opts.filter_length })
  local paired = pair_by_sir(sir, #ests, #refs)
  local zero_mean = opts.zero_mean
  if zero_mean == nil then zero_mean = true end
  local stft_opts = { n_fft = opts.n_fft, hop = opts.hop }
  local results = {}
  for i, e in ipairs(ests) do
    local j = paired[i]
    local r = refs[j]
    local si, sd = C.si_sdr(e.audio, r.audio, zero_mean)
    local sc
    if #r.audio >= (opts.n_fft or 2048) then sc = convergence(e.audio, r.audio, stft_opts) end
    results[i] = { estimate = i, reference = j, path_estimate = e.path,
                   path_reference = r.path, sdr = sdr[i][j], sir = sir[i][j],
                   sar = sar[i][j], si_sdr = si, sd_sdr = sd, spectral_convergence = sc }
  end
  return results
end

-- An onset list: numbers, finite, in increasing order (equal times allowed).
local function onset_list(v, what, arg)
  if type(v) ~= "table" then
    error(fmt("bad argument #%d to 'onsets' (%s onsets must be a list of seconds, got %s)",
      arg, what, type(v)), 3)
  end
  for i = 1, #v do
    local t = v[i]
    if type(t) ~= "number" or t ~= t or t == huge or t == -huge then
      error(fmt("bad argument #%d to 'onsets' (%s onset %d must be a finite number, got %s)",
        arg, what, i, type(t) == "number" and show(t) or type(t)), 3)
    end
    if i > 1 and t < v[i - 1] then
      error(fmt("bad argument #%d to 'onsets' (%s onsets must be in increasing order: onset "
        .. "%d (%s s) comes after %s s)", arg, what, i, tostring(t), tostring(v[i - 1])), 3)
    end
  end
  return v
end

-- The size of a maximum matching of estimates to references, an estimate at time e able to
-- take a reference at time r when e - window <= r <= e + window (mir_eval's test, to the
-- last bit): augmenting paths (Kuhn), so that no greedy choice blocks a better pairing.
local function max_matching(est, ref, window)
  local lo, hi = {}, {}
  local first = 1
  for j, e in ipairs(est) do -- both lists are sorted: each estimate's window is a range
    while first <= #ref and ref[first] < e - window do first = first + 1 end
    local last = first - 1
    while last < #ref and ref[last + 1] <= e + window do last = last + 1 end
    lo[j], hi[j] = first, last
  end
  local owner = {} -- reference index -> estimate index
  local seen
  local function augment(j)
    for i = lo[j], hi[j] do
      if not seen[i] then
        seen[i] = true
        if owner[i] == nil or augment(owner[i]) then
          owner[i] = j
          return true
        end
      end
    end
    return false
  end
  local count = 0
  for j = 1, #est do
    seen = {}
    if augment(j) then count = count + 1 end
  end
  return count
end

--- eval.onsets(estimated, reference [, {window = 0.05}]) -> f_measure, precision, recall
-- Onset times in seconds, each list in increasing order; an estimate matches at most one
-- reference within window seconds, and the matching is a largest one. mir_eval's
-- onset.f_measure (whose arguments are the other way round); 0, 0, 0 when a list is empty.
-- @tparam table estimated onset times in seconds, increasing
-- @tparam table reference onset times in seconds, increasing
-- @tab[opt] opts `window` (0.05 s)
-- @treturn number f-measure
-- @treturn number precision
-- @treturn number recall
-- @raise when a list is not increasing or holds a non-number.
-- @usage local f, p, r = tessera.eval.onsets(found, truth)
function eval.onsets(estimated, reference, opts)
  onset_list(estimated, "estimated", 1)
  onset_list(reference, "reference", 2)
  opts = check_options(opts, { window = true }, "onsets", 3)
  local window = opts.window or 0.05
  if type(window) ~= "number" or not (window >= 0 and window < huge) then
    error(fmt("bad argument #3 to 'onsets' (window must be a finite number >= 0, got %s)",
      type(window) == "number" and show(window) or type(window)), 2)
  end
  if #estimated == 0 or #reference == 0 then return 0.0, 0.0, 0.0 end
  local matched = max_matching(estimated, reference, window)
  local precision, recall = matched / #estimated, matched / #reference
  if precision == 0 and recall == 0 then return 0.0, precision, recall end
  return 2 * precision * recall / (precision + recall), precision, recall
end

-- Errors leave the public functions at the caller's line (lua/tessera/entry.lua).
return require("tessera.entry").export(eval)
