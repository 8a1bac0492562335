-- tessera.nmf score-informed starts: a fit told where each component may sound (allowed_H)
-- and what some of them sound like (W_start), both as starts of the ordinary fit.
--
--   local mix = tessera.mixture { ... }                          -- stems with onsets
--   local S = tessera.stft(mix.mix)
--   local _, p = S:magnitude():shape()
--   local A = tessera.nmf.allowed_from_onsets(mix, { p = p, k = 4 })  -- k x p, 0/1
--   local T = tessera.nmf.templates({ "kick.wav", "snare.wav" })      -- n x 2 templates
--   local m = tessera.nmf(S, { k = 4, loss = "kl", allowed_H = A, W_start = T })
--
-- allowed_H (k x p, entries >= 0): the start of H (the usual one: init, seed, weights, or
-- the given H) is multiplied by it entry by entry. Multiplicative updates multiply every
-- entry, so an entry that starts at 0 stays exactly 0 for every loss: a component sounds
-- only where the mask allows. Coordinate descent (solver "cd") sets entries anew and can
-- make a zero positive, so allowed_H with cd is refused. A row of zeros (a component
-- allowed nowhere) is refused as a mistake.
--
-- H_start (m x p, m <= k, entries >= 0): the start of H's first m rows, as they are (another
-- fit's activations, say); with fixed_H they stay.
--
-- W_start (n x m, m <= k, entries >= 0, no zero column): the start of W's first m columns;
-- each is scaled to the L2 norm of the usual start's column it replaces, so W H starts at
-- the usual level; the other columns, and all of H, are the usual start. A start only: the
-- fit updates these columns too (update_W = false keeps all of W).
local core = require "tessera.core"
local did_you_mean = require("tessera.args").did_you_mean

local error, ipairs, pairs, pcall, select, tonumber, tostring, type =
  error, ipairs, pairs, pcall, select, tonumber, tostring, type
local io, math = io, math
local fmt = string.format
local matrix = core.matrix

local score = {}

-- "bad argument #arg to 'who' (msg)", raised without a position, as the C bindings' are.
local function argerror(who, arg, msg, ...)
  error(fmt("bad argument #%d to '%s' (%s)", arg, who, fmt(msg, ...)), 0)
end

local function finite(v)
  return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge
end

local function describe(v)
  if type(v) == "string" then return fmt("'%s'", v) end
  if type(v) == "userdata" then return core.type(v) or "userdata" end
  if type(v) == "number" or type(v) == "boolean" then return tostring(v) end
  return type(v)
end

-- A Matrix option of nmf: its shape checked, entries finite and >= 0 (rows x cols; cols
-- nil: any number up to max_cols).
local function check_matrix(key, M, rows, cols, max_cols)
  if core.type(M) ~= "Matrix" then
    argerror("nmf", 2, "%s must be a Matrix, got %s", key, describe(M))
  end
  local r, c = M:shape()
  if cols then
    if r ~= rows or c ~= cols then
      argerror("nmf", 2, "%s must be %d x %d, got %d x %d", key, rows, cols, r, c)
    end
  elseif r ~= rows or c < 1 or c > max_cols then
    argerror("nmf", 2, "%s must be %d x m with m in 1..%d (k), got %d x %d", key, rows,
             max_cols, r, c)
  end
  if not M:isfinite() then
    argerror("nmf", 2, "%s has a NaN or infinite entry", key)
  end
  if c > 0 and r > 0 and M:min() < 0 then
    local t = M:totable()
    for i = 1, r do
      for j = 1, c do
        if t[i][j] < 0 then
          argerror("nmf", 2, "%s has a negative entry (%g at row %d, column %d)", key, t[i][j], i, j)
        end
      end
    end
  end
end

-- The index of the first row (by_rows) or column of M whose entries are all 0, or nil.
local function zero_line(M, by_rows)
  local t = M:totable()
  local rows, cols = M:shape()
  for a = 1, by_rows and rows or cols do
    local any = false
    for b = 1, by_rows and cols or rows do
      local v = by_rows and t[a][b] or t[b][a]
      if v ~= 0 then any = true break end
    end
    if not any then return a end
  end
  return nil
end

local function copy_without(opts, drop)
  local t = {}
  for key, value in pairs(opts) do
    if not drop[key] then t[key] = value end
  end
  return t
end

local START_KEYS = { k = true, init = true, seed = true, weights = true, threads = true,
                     solver = true, T = true }

-- The usual start of a fit with these options (W and H as the fit would begin from them)
-- and the init that made it: given factors (start_factor fills a missing one), else the C
-- fit run for no iterations.
local function usual_start(fit, V, opts, start_factor)
  if opts.W ~= nil or opts.H ~= nil then
    local t = start_factor(V, opts)
    return t.W, t.H, "custom"
  end
  local t = {}
  for key in pairs(START_KEYS) do t[key] = opts[key] end
  t.max_iter, t.progress = 0, false
  local W, H, info = fit(V, t)
  return W, H, info.options.init
end

-- W0 (n x kT) with its first m templates replaced by start's (n x mT, template j in its
-- columns (j-1)T+1..jT), each scaled to the L2 norm of the one it replaces. Template j's
-- frame t is W0's column j + k t (frames = T = 1: plain columns).
local function place_templates(W0, start, k, frames)
  local w, tt = W0:totable(), start:totable()
  local n = W0:shape()
  local _, cols = start:shape()
  for j = 1, cols // frames do
    local target, own = 0, 0
    for t = 0, frames - 1 do
      local to, from = j + k * t, (j - 1) * frames + t + 1
      for i = 1, n do
        target = target + w[i][to] * w[i][to]
        own = own + tt[i][from] * tt[i][from]
      end
    end
    -- A zero template of the usual start (nndsvd can make one) gets the given one as it is.
    local factor = target > 0 and math.sqrt(target / own) or 1
    for t = 0, frames - 1 do
      local to, from = j + k * t, (j - 1) * frames + t + 1
      for i = 1, n do w[i][to] = tt[i][from] * factor end
    end
  end
  return matrix.from(w)
end

-- H0 with its first m rows replaced by start's (m x p), as they are.
local function place_rows(H0, start)
  local h, s = H0:totable(), start:totable()
  for a = 1, #s do h[a] = s[a] end
  return matrix.from(h)
end

-- The first of start's templates (blocks of `frames` columns) whose entries are all 0, or nil.
local function zero_template(start, frames)
  local t = start:totable()
  local rows, cols = start:shape()
  for j = 1, cols // frames do
    local any = false
    for c = (j - 1) * frames + 1, j * frames do
      for i = 1, rows do
        if t[i][c] ~= 0 then any = true break end
      end
      if any then break end
    end
    if not any then return j end
  end
  return nil
end

-- score.resolve(fit, V, opts, start_factor) -> opts for the C fit, and what to record in
-- the model's options (nil when neither allowed_H nor W_start is given). V is a Matrix.
function score.resolve(fit, V, opts, start_factor)
  if type(opts) ~= "table" or (opts.allowed_H == nil and opts.W_start == nil and opts.H_start == nil) then
    return opts, nil
  end
  local k, frames = opts.k, opts.T or 1
  if core.type(V) ~= "Matrix" or math.type(k) ~= "integer" or k < 1 or
     math.type(frames) ~= "integer" or frames < 1 then
    return copy_without(opts, { allowed_H = true, W_start = true, H_start = true }), nil -- the C fit says why
  end
  local n, p = V:shape()
  local A, start, hstart = opts.allowed_H, opts.W_start, opts.H_start
  if A ~= nil then
    if opts.solver == "cd" then
      argerror("nmf", 2, "allowed_H needs solver 'mu': multiplicative updates keep its zeros "
               .. "at zero, coordinate descent can make them positive")
    end
    check_matrix("allowed_H", A, k, p)
    local row = zero_line(A, true)
    if row then
      argerror("nmf", 2, "allowed_H allows component %d nowhere (row %d is all 0)", row, row)
    end
  end
  if start ~= nil then
    if opts.W ~= nil then
      argerror("nmf", 2, "W_start and W cannot both be given (W is the whole start of W)")
    end
    check_matrix("W_start", start, n, nil, k * frames)
    local _, cols = start:shape()
    if cols % frames ~= 0 then
      argerror("nmf", 2, "W_start must hold whole templates of T = %d frames, got %d columns",
               frames, cols)
    end
    local bad = zero_template(start, frames)
    if bad and frames == 1 then argerror("nmf", 2, "W_start has a zero column (column %d)", bad) end
    if bad then argerror("nmf", 2, "W_start's template %d is all 0", bad) end
  end
  if hstart ~= nil then
    if opts.H ~= nil then
      argerror("nmf", 2, "H_start and H cannot both be given (H is the whole start of H)")
    end
    if core.type(hstart) ~= "Matrix" then
      argerror("nmf", 2, "H_start must be a Matrix, got %s", describe(hstart))
    end
    local r, c = hstart:shape()
    if c ~= p or r < 1 or r > k then
      argerror("nmf", 2, "H_start must be m x %d with m in 1..%d (k), got %d x %d", p, k, r, c)
    end
    check_matrix("H_start", hstart, r, p)
  end
  local rest = copy_without(opts, { allowed_H = true, W_start = true, H_start = true, init = true })
  if opts.init ~= nil and opts.init ~= "custom" then rest.init = opts.init end
  local W0, H0, init = usual_start(fit, V, rest, start_factor)
  rest.init = "custom"
  rest.W = start and place_templates(W0, start, k, frames) or W0
  if hstart then H0 = place_rows(H0, hstart) end
  rest.H = A and H0:hadamard(A) or H0
  local m
  if start then m = select(2, start:shape()) // frames end
  return rest, { init = init, allowed_H = A ~= nil, W_start = m,
                 H_start = hstart and (hstart:shape()) or nil }
end

-- ---- onsets -> allowed regions -------------------------------------------------------

-- The onset times (seconds) of one component's entry: a list of numbers, a list of
-- {time = s} (tessera.mixture's onsets) or a stem table {onsets = ...}.
local function onset_times(entry, i)
  if type(entry) == "table" and entry.onsets ~= nil then entry = entry.onsets end
  if type(entry) ~= "table" then
    argerror("allowed_from_onsets", 1, "onsets of component %d must be a list of seconds, got %s",
             i, describe(entry))
  end
  local times = {}
  for j, o in ipairs(entry) do
    local t = type(o) == "table" and o.time or o
    if not finite(t) or t < 0 then
      argerror("allowed_from_onsets", 1, "onset %d of component %d must be a number of seconds "
               .. ">= 0, got %s", j, i, describe(t))
    end
    times[j] = t
  end
  return times
end

local function option(opts, key, def, ok, expected)
  local v = opts[key]
  if v == nil then return def end
  if not finite(v) or not ok(v) then
    argerror("allowed_from_onsets", 2, "%s must be %s, got %s", key, expected, describe(v))
  end
  return v
end

-- before or after: one number of seconds >= 0 for every list, or a list of one per list.
local function seconds_per_component(opts, key, def, lists)
  local v = opts[key]
  if v == nil then v = def end
  local t = {}
  if type(v) == "table" then
    if #v ~= lists then
      argerror("allowed_from_onsets", 2, "%s must be a number or a list of %d (one per onset "
               .. "list), got a list of %d", key, lists, #v)
    end
    for i = 1, lists do t[i] = v[i] end
  else
    for i = 1, lists do t[i] = v end
  end
  for i = 1, lists do
    if not finite(t[i]) or t[i] < 0 then
      argerror("allowed_from_onsets", 2, "%s must be seconds >= 0, got %s", key, describe(t[i]))
    end
  end
  return t
end

local function positive_integer(v) return math.type(v) == "integer" and v >= 1 end

local ONSET_OPTIONS = { p = true, k = true, sr = true, hop = true, n_fft = true, before = true,
                        after = true }

-- tessera.nmf.allowed_from_onsets(onsets, {p =, k =, sr = 22050, hop = 512, n_fft = 2048,
-- before = 0.05, after = 0.5}) -> a k x p Matrix of 0 and 1 (before and after: seconds,
-- or a list of one per onset list, as a sound's length differs from another's). onsets: one entry per
-- component (a list of seconds, of {time = s}, or a stem table with onsets), or a
-- tessera.mixture result (its stems in order). Frames are centred STFT frames: frame j is
-- centred at (j - 1) * hop / sr and sees n_fft / 2 / sr seconds either side; component i is
-- allowed in frame j when that window overlaps [onset - before, onset + after] for one of
-- its onsets. Components after the lists (up to k, default the number of lists) are
-- allowed everywhere ("the rest").
function score.allowed_from_onsets(onsets, opts)
  if type(onsets) == "table" and type(onsets.stems) == "table" then onsets = onsets.stems end
  if type(onsets) ~= "table" then
    argerror("allowed_from_onsets", 1, "onsets must be a list (one per component) or a "
             .. "tessera.mixture result, got %s", describe(onsets))
  end
  if type(opts) ~= "table" then
    argerror("allowed_from_onsets", 2, "options must be a table with p, got %s", describe(opts))
  end
  for key in pairs(opts) do
    if not ONSET_OPTIONS[key] then
      local names = { "after", "before", "hop", "k", "n_fft", "p", "sr" }
      argerror("allowed_from_onsets", 2, "unknown option '%s' (valid: %s)%s", tostring(key),
               table.concat(names, ", "), did_you_mean(key, names))
    end
  end
  if opts.p == nil then argerror("allowed_from_onsets", 2, "p (the number of frames) is required") end
  local p = option(opts, "p", nil, positive_integer, "an integer >= 1")
  local lists = #onsets
  local k = option(opts, "k", lists, function(v) return positive_integer(v) and v >= lists end,
                   fmt("an integer >= %d (the number of onset lists)", lists))
  if k < 1 then argerror("allowed_from_onsets", 1, "onsets is an empty list and k is not given") end
  local sr = option(opts, "sr", 22050, positive_integer, "an integer >= 1")
  local n_fft = option(opts, "n_fft", 2048, positive_integer, "an integer >= 1")
  local hop = option(opts, "hop", 512, positive_integer, "an integer >= 1")
  local before = seconds_per_component(opts, "before", 0.05, lists)
  local after = seconds_per_component(opts, "after", 0.5, lists)
  local length = p * hop / sr -- centred frames: the audio is shorter than p hops
  local half = n_fft / 2 / sr
  local rows = {}
  for i = 1, k do
    local row = {}
    rows[i] = row
    if i > lists then
      for j = 1, p do row[j] = 1 end
    else
      for j = 1, p do row[j] = 0 end
      for o, t in ipairs(onset_times(onsets[i], i)) do
        if t >= length then
          argerror("allowed_from_onsets", 1, "onset %d of component %d (%g s) is beyond the end "
                   .. "(%d frames of hop %d at %d Hz: %g s)", o, i, t, p, hop, sr, length)
        end
        -- frames whose window [c - half, c + half] overlaps [t - before, t + after]
        local first = math.ceil((t - before[i] - half) * sr / hop) + 1
        local last = math.floor((t + after[i] + half) * sr / hop) + 1
        for j = math.max(first, 1), math.min(last, p) do row[j] = 1 end
      end
    end
  end
  return matrix.from(rows)
end

-- score.read_onsets(path [, {header = true, who = "tessera.nmf"}]) -> a list of seconds: the
-- first column of a CSV (tessera.mixture's onsets/*.csv, a label track). Blank lines and
-- lines starting with # are skipped; with header (the default) a first line whose first
-- field starts with a letter is a header, without it that line is an error like any field
-- that is not a number. Errors start with `who`.
function score.read_onsets(path, opts)
  local who = opts and opts.who or "tessera.nmf"
  local header = not (opts and opts.header == false)
  local f, err = io.open(path, "r")
  if not f then
    error(fmt("%s: cannot open onsets '%s': %s", who, path, (tostring(err):gsub("^[^:]*: ", ""))), 0)
  end
  local times, line_no = {}, 0
  for line in f:lines() do
    line_no = line_no + 1
    local first = line:match("^%s*([^,%s]*)")
    if first ~= "" and first:sub(1, 1) ~= "#" then
      local t = tonumber(first)
      if t == nil and not (header and line_no == 1 and first:match("^%a")) then
        f:close()
        error(fmt("%s: onsets '%s' line %d: '%s' is not a number of seconds", who, path,
                  line_no, first), 0)
      end
      times[#times + 1] = t
    end
  end
  f:close()
  return times
end

-- ---- templates -----------------------------------------------------------------------

local TEMPLATE_OPTIONS = { sr = true, n_fft = true, hop = true, method = true, loss = true,
                           max_iter = true, T = true }

-- M's columns as lists, together of unit L2 norm; nil when M is all 0.
local function unit_l2(M)
  local t = M:totable()
  local _, cols = M:shape()
  local sum = 0
  for i = 1, #t do
    for j = 1, cols do sum = sum + t[i][j] * t[i][j] end
  end
  if sum == 0 then return nil end
  local norm = math.sqrt(sum)
  local out = {}
  for j = 1, cols do
    local c = {}
    for i = 1, #t do c[i] = t[i][j] / norm end
    out[j] = c
  end
  return out
end

-- tessera.nmf.templates(sounds, {sr = 22050, n_fft = 2048, hop = 512, method = "mean" |
-- "rank1", loss = "euclidean", max_iter = 200}) -> an n x m Matrix, one column per sound
-- (a file path or a mono Audio at sr), each of unit L2 norm (as m:normalize() leaves W's
-- columns): "mean", the sound's average magnitude spectrum over its frames; "rank1", the W
-- of its own one-component NMF (loss, max_iter; seed 0). With T (tessera.nmfd.templates;
-- method "frames"): n x mT, each sound's first T magnitude frames (zeros past its end), a
-- block of T columns of unit L2 norm, the start of an NMFD template.
function score.templates(sounds, opts, nmf)
  opts = opts or {}
  if type(sounds) == "string" or core.type(sounds) == "Audio" then sounds = { sounds } end
  if type(sounds) ~= "table" or #sounds == 0 then
    argerror("templates", 1, "sounds must be a non-empty list of files or Audio, got %s",
             describe(sounds))
  end
  if type(opts) ~= "table" then argerror("templates", 2, "options must be a table, got %s", describe(opts)) end
  for key in pairs(opts) do
    if not TEMPLATE_OPTIONS[key] then
      local names = { "T", "hop", "loss", "max_iter", "method", "n_fft", "sr" }
      argerror("templates", 2, "unknown option '%s' (valid: %s)%s", tostring(key),
               table.concat(names, ", "), did_you_mean(key, names))
    end
  end
  local frames = opts.T
  if frames ~= nil and (math.type(frames) ~= "integer" or frames < 1) then
    argerror("templates", 2, "T must be an integer >= 1, got %s", describe(frames))
  end
  local method = opts.method or (frames and "frames" or "mean")
  if frames and method ~= "frames" then
    argerror("templates", 2, "method must be 'frames' with T (templates T frames long), got %s",
             describe(method))
  elseif not frames and method ~= "mean" and method ~= "rank1" then
    argerror("templates", 2, "method must be 'mean' or 'rank1', got %s%s", describe(method),
             did_you_mean(method, { "mean", "rank1" }))
  end
  local sr = opts.sr or 22050
  local stft_opts = { n_fft = opts.n_fft or 2048, hop = opts.hop or 512 }
  local columns = {}
  for i, sound in ipairs(sounds) do
    local a = sound
    if type(sound) == "string" then
      local ok, loaded = pcall(core.audio.load, sound, { sr = sr, mono = true })
      if not ok then error(fmt("tessera.nmf.templates: %s", (tostring(loaded):gsub("^[^:]*: ", "", 1))), 0) end
      a = loaded
    elseif core.type(sound) ~= "Audio" then
      argerror("templates", 1, "sound %d must be a file name or an Audio, got %s", i, describe(sound))
    elseif sound.sr ~= sr then
      argerror("templates", 1, "sound %d is at %d Hz, expected %d (sr)", i, sound.sr, sr)
    end
    local V = core.stft(a, stft_opts):magnitude()
    local column
    if method == "mean" then
      local _, p = V:shape()
      column = V * matrix.new(p, 1, 1 / p)
    elseif method == "frames" then
      local _, p = V:shape()
      local picks = matrix.new(p, frames)
      for t = 1, math.min(p, frames) do picks:set(t, t, 1) end
      column = V * picks
    else
      local m = nmf(V, { k = 1, loss = opts.loss or "euclidean", max_iter = opts.max_iter,
                         seed = 0, progress = false })
      column = m.W
    end
    columns[i] = unit_l2(column)
    if columns[i] == nil then
      local name = type(sound) == "string" and fmt("'%s'", sound) or fmt("sound %d", i)
      error(fmt("tessera.nmf.templates: %s is silent (its spectrum is all 0)", name), 0)
    end
  end
  local flat = {}
  for _, block in ipairs(columns) do
    for _, c in ipairs(block) do flat[#flat + 1] = c end
  end
  local rows = {}
  for r = 1, #flat[1] do
    local row = {}
    for j = 1, #flat do row[j] = flat[j][r] end
    rows[r] = row
  end
  return matrix.from(rows)
end

return score
