--- tessera.mixture: known mixtures from real sounds, as ground truth for decompositions.
-- Each stem is one sound (a file or an Audio) placed at onsets; the mix is the sum of the
-- stems, and the stems, their onsets and the mix are returned and can be written out.
--
--   local mix = tessera.mixture {
--     sr = 22050, duration = 4, seed = 1, bpm = 120,
--     stems = {
--       { name = "kick",  file = SAMPLES .. "drum_bass_hard.flac",  pattern = "x...x...x.x.x..." },
--       { name = "snare", file = SAMPLES .. "drum_snare_hard.flac", onsets = { 0.5, 1.5 }, db = -3 },
--       { name = "hat",   file = SAMPLES .. "drum_cymbal_closed.flac", every = 0.25,
--         offset = 0.125, gain = 0.5, jitter = 0.005, gain_jitter = 2 },
--     },
--   }
--   tessera.mixture.write(mix, "out/mix1")   -- mix.wav, stems/*.wav, onsets/*.csv, mixture.json
--
-- The spec. Top level: duration (seconds, required), sr (default 22050), seed (integer,
-- default 0), normalize (nil: scale everything down only when the mix would clip, to a
-- peak of 0.99; a number: scale to that peak; false: never scale), quality (resampling:
-- "best" (default), "medium", "fast", "poly"), bpm and steps_per_beat (defaults for the
-- stems' patterns), stems (a non-empty list). A stem: name (default: the file's name
-- without its extension; letters, digits, '_', '-', '.'), file or audio (stereo is mixed
-- down, another rate resampled), gain (a linear factor, as in mosaic layers; default 1) or
-- db (decibels; not both), and its onsets: onsets, pattern or every, as described in
-- tessera.mixture.onsets, with offset, count, step, bpm, steps_per_beat, loop, jitter,
-- gain_jitter. Onsets snap to the nearest sample; a sound running past the end is cut.
--
-- The result, for the code that compares decompositions with the truth:
--   { mix = Audio (mono, sr), sr =, frames =, duration = (frames / sr), seed =,
--     scale = the one factor every stem was multiplied by (1 unless normalised),
--     peak = the mix's peak before that factor,
--     names = { "kick", "snare", ... } (the stems' order),
--     stems = { { name =, source = (the file as given, or "audio"), gain = (linear, before
--                 scale), audio = Audio (frames long), onsets = { { time = seconds,
--                 sample = 0-based index, gain = the factor in the stem, scale included },
--                 ... sorted by time } }, ... },
--     by_name = { kick = <the same stem table>, ... } }
-- The mix is the stems added in order in float32 (mix = ((s1 + s2) + s3) ...), so summing
-- the stems gives it back to the last bit; each stem is the sum over its onsets of the
-- source times the onset's gain, shifted to its sample (tessera.matrix.place, summed in
-- double and rounded once).
-- @module tessera.mixture
local core = require "tessera.core"
local did_you_mean = require("tessera.args").did_you_mean
local fs = require "tessera.fs"
local files = require "tessera.files"
local json = require "tessera.json"
local onsets_of = require "tessera.mixture.onsets"

local error, getmetatable, ipairs, pairs, pcall, setmetatable, tonumber, tostring, type =
  error, getmetatable, ipairs, pairs, pcall, setmetatable, tonumber, tostring, type
local os = os
local floor, huge, math_type, tointeger = math.floor, math.huge, math.type, math.tointeger
local format = string.format
local concat, sort = table.concat, table.sort

local audio, matrix, util = core.audio, core.matrix, core.util

local mixture = {}

mixture.keys = { "bpm", "duration", "normalize", "quality", "seed", "sr", "steps_per_beat", "stems" }
mixture.stem_keys = { "audio", "bpm", "count", "db", "every", "file", "gain", "gain_jitter",
  "jitter", "loop", "name", "offset", "onsets", "pattern", "step", "steps_per_beat" }

local function set_of(list)
  local set = {}
  for _, k in ipairs(list) do set[k] = true end
  return set
end
local top_set, stem_set = set_of(mixture.keys), set_of(mixture.stem_keys)

-- ---- errors and checks ---------------------------------------------------------------

-- Raises "tessera.mixture: [<where>: ]<message>".
local function fail(where, fmt, ...)
  local msg = format(fmt, ...)
  if where then msg = where .. ": " .. msg end
  error("tessera.mixture: " .. msg, 0)
end

-- "string 'x'", "number 3", "boolean true", "table" for "got ..." in messages.
local function describe(v)
  local t = type(v)
  if t == "string" then return format("string '%s'", v) end
  if t == "number" or t == "boolean" then return format("%s %s", t, tostring(v)) end
  if t == "userdata" then return core.type(v) or t end
  return t
end

local function finite(v)
  return type(v) == "number" and v == v and v ~= huge and v ~= -huge
end

local function check_keys(where, t, valid, list)
  local bad = {}
  for k in pairs(t) do
    if type(k) ~= "string" or not valid[k] then bad[#bad + 1] = tostring(k) end
  end
  if #bad > 0 then
    sort(bad)
    fail(where, "unknown key '%s' (valid: %s)%s", bad[1], concat(list, ", "), did_you_mean(bad[1], list))
  end
end

local function check_table(where, key, v)
  if type(v) ~= "table" or getmetatable(v) ~= nil then
    fail(where, "key '%s' must be a plain table, got %s", key, describe(v))
  end
end

-- Field key of t, absent: def; present: a finite number passing ok, else an error.
local function number(where, t, key, def, ok, expected)
  local v = t[key]
  if v == nil then return def end
  if not finite(v) or (ok and not ok(v)) then
    fail(where, "key '%s' must be %s, got %s", key, expected, describe(v))
  end
  return v
end

local function integer(where, t, key, def, ok, expected)
  local v = t[key]
  if v == nil then return def end
  local i = finite(v) and tointeger(v) or nil
  if i == nil or (ok and not ok(i)) then
    fail(where, "key '%s' must be %s, got %s", key, expected, describe(v))
  end
  return i
end

local function positive(v) return v > 0 end
local function nonneg(v) return v >= 0 end

local qualities = set_of { "best", "medium", "fast", "poly" }

-- ---- the spec ------------------------------------------------------------------------

-- The name of stem i: given, or its file's name without the extension.
local function stem_name(i, s)
  local where = format("stem %d", i)
  local name = s.name
  if name == nil and type(s.file) == "string" then
    name = fs.basename(s.file):gsub("%.[^.]*$", "")
  end
  if name == nil then fail(where, "key 'name' is needed for a stem made from audio") end
  if type(name) ~= "string" or not name:match("^[%w_][%w_.-]*$") then
    fail(where, "key 'name' must be a word of letters, digits, '_', '-' and '.' (a file name), "
      .. "got %s", describe(name))
  end
  return name
end

-- Which of onsets / pattern / every the stem uses, checked; fills the stem's fields.
local function check_timing(where, s, stem, top)
  local given = {}
  for _, k in ipairs({ "onsets", "pattern", "every" }) do
    if s[k] ~= nil then given[#given + 1] = k end
  end
  if #given ~= 1 then
    fail(where, "give exactly one of 'onsets', 'pattern' or 'every' (got %s)",
      #given == 0 and "none" or concat(given, ", "))
  end
  stem.offset = number(where, s, "offset", 0, nonneg, "a number >= 0 (seconds)")
  stem.jitter = number(where, s, "jitter", 0, nonneg, "a number >= 0 (seconds)")
  stem.gain_jitter = number(where, s, "gain_jitter", 0, nonneg, "a number >= 0 (dB)")
  if s.onsets ~= nil then
    check_table(where, "onsets", s.onsets)
    local n = #s.onsets
    if n == 0 then fail(where, "key 'onsets' is empty (a stem needs at least one onset)") end
    for k in pairs(s.onsets) do
      if math_type(k) ~= "integer" or k < 1 or k > n then
        fail(where, "key 'onsets' must be a list of seconds, it has the key %s", tostring(k))
      end
    end
    stem.onsets = {}
    for j, t in ipairs(s.onsets) do
      if not finite(t) or t < 0 then
        fail(where, "onset %d must be a number of seconds >= 0, got %s", j, describe(t))
      end
      stem.onsets[j] = t + stem.offset
    end
  elseif s.pattern ~= nil then
    if type(s.pattern) ~= "string" then
      fail(where, "key 'pattern' must be a string, got %s", describe(s.pattern))
    end
    stem.pattern = s.pattern
    -- Parsed now so that a typo is reported before any file is read.
    onsets_of.parse_pattern(s.pattern, function(msg) fail(where, "%s", msg) end)
    if s.step ~= nil and s.bpm ~= nil then fail(where, "give 'step' or 'bpm', not both") end
    local bpm = number(where, s, "bpm", top.bpm, positive, "a number > 0")
    local per_beat = integer(where, s, "steps_per_beat", top.steps_per_beat, positive,
      "an integer > 0")
    stem.step = number(where, s, "step", bpm and 60 / bpm / per_beat, positive,
      "a number > 0 (seconds)")
    if stem.step == nil then
      fail(where, "a pattern needs 'step' (seconds) or 'bpm' (here or at the top)")
    end
    if s.loop ~= nil and type(s.loop) ~= "boolean" then
      fail(where, "key 'loop' must be a boolean, got %s", describe(s.loop))
    end
    stem.loop = s.loop ~= false
  else
    stem.every = number(where, s, "every", nil, positive, "a number > 0 (seconds)")
    stem.count = integer(where, s, "count", nil, positive, "an integer > 0")
  end
  for _, k in ipairs({ "step", "bpm", "steps_per_beat", "loop" }) do
    if s[k] ~= nil and not s.pattern then fail(where, "key '%s' goes with 'pattern'", k) end
  end
  if s.count ~= nil and not s.every then fail(where, "key 'count' goes with 'every'") end
end

-- A stem, checked: name, source, gain and timing.
local function check_stem(i, s, top, ctx)
  check_table(format("stem %d", i), "stems[" .. i .. "]", s)
  local name = stem_name(i, s)
  local where = format("stem '%s'", name)
  check_keys(where, s, stem_set, mixture.stem_keys)
  local stem = { name = name }
  if (s.file == nil) == (s.audio == nil) then fail(where, "give one of 'file' or 'audio'") end
  if s.file ~= nil then
    if type(s.file) ~= "string" or s.file == "" then
      fail(where, "key 'file' must be a path, got %s", describe(s.file))
    end
    stem.source, stem.path = s.file, fs.resolve(s.file, ctx.base)
    if ctx.readable and not ctx.readable(stem.path) then
      fail(where, "key 'file': '%s' is outside the folders a recipe may read (its own, %s "
        .. "and those given with --allow)", s.file, require("tessera.recipe").samples)
    end
  else
    if core.type(s.audio) ~= "Audio" then
      fail(where, "key 'audio' must be an Audio, got %s", describe(s.audio))
    end
    stem.source, stem.audio_in = "audio", s.audio
  end
  if s.gain ~= nil and s.db ~= nil then fail(where, "give 'gain' (linear) or 'db', not both") end
  stem.gain = number(where, s, "gain", 1, nonneg, "a number >= 0 (a linear factor)")
  local db = number(where, s, "db", nil, nil, "a finite number (decibels)")
  if db then stem.gain = 10 ^ (db / 20) end
  check_timing(where, s, stem, top)
  return stem
end

--- mixture.check(spec [, ctx]) -> the normalised spec (ctx.base: folder of relative paths;
-- ctx.readable(path): whether a file may be read, for recipes).
-- @tab spec the mixture spec (keys in mixture.keys, stems' in mixture.stem_keys)
-- @tab[opt] ctx base, readable
-- @return table the normalised spec
-- @raise an unknown key or a bad value, naming the stem and the key.
-- @usage local s = tessera.mixture.check{sr = 22050, duration = 4, stems = {{file = "kick.wav", every = 1}}}
function mixture.check(spec, ctx)
  ctx = ctx or {}
  check_table(nil, "spec", spec)
  check_keys(nil, spec, top_set, mixture.keys)
  local top = {}
  top.sr = integer(nil, spec, "sr", 22050, positive, "a positive integer (Hz)")
  if spec.duration == nil then fail(nil, "key 'duration' (seconds) is missing") end
  top.duration = number(nil, spec, "duration", nil, positive, "a number > 0 (seconds)")
  top.frames = floor(top.duration * top.sr + 0.5)
  if top.frames < 1 then
    fail(nil, "key 'duration': %.17g s at %d Hz is less than one sample", top.duration, top.sr)
  end
  top.seed = integer(nil, spec, "seed", 0, nil, "an integer")
  top.bpm = number(nil, spec, "bpm", nil, positive, "a number > 0")
  top.steps_per_beat = integer(nil, spec, "steps_per_beat", 4, positive, "an integer > 0")
  top.quality = spec.quality or "best"
  if not qualities[top.quality] then
    fail(nil, "key 'quality' must be 'best', 'medium', 'fast' or 'poly', got %s%s",
      describe(spec.quality), did_you_mean(spec.quality, { "best", "medium", "fast", "poly" }))
  end
  local n = spec.normalize
  if n ~= nil and n ~= false and not (finite(n) and n > 0) then
    fail(nil, "key 'normalize' must be a peak > 0 or false, got %s", describe(n))
  end
  top.normalize = n
  if spec.stems == nil then fail(nil, "key 'stems' is missing") end
  check_table(nil, "stems", spec.stems)
  if #spec.stems == 0 then fail(nil, "key 'stems' is empty (a mixture needs a stem)") end
  top.stems = {}
  local seen = {}
  for i, s in ipairs(spec.stems) do
    local stem = check_stem(i, s, top, ctx)
    if seen[stem.name] then
      fail(format("stem %d", i), "name '%s' is used by stem %d too", stem.name, seen[stem.name])
    end
    seen[stem.name] = i
    top.stems[i] = stem
  end
  return top
end

-- ---- building ------------------------------------------------------------------------

-- The sources, mono at the mix's rate, each file loaded once.
local function load_sources(top)
  local loaded = {}
  for _, stem in ipairs(top.stems) do
    local where = format("stem '%s'", stem.name)
    local a
    if stem.path then
      a = loaded[stem.path]
      if a == nil then
        local ok, got = pcall(audio.load, stem.path, { sr = top.sr, mono = true,
                                                       quality = top.quality })
        if not ok then fail(where, "key 'file': %s", tostring(got)) end
        a, loaded[stem.path] = got, got
      end
    else
      a = stem.audio_in
      if a.channels > 1 then a = a:mono() end
      if a.sr ~= top.sr then a = a:resample(top.sr, { quality = top.quality }) end
    end
    if #a == 0 then fail(where, "the source '%s' has no samples", stem.source) end
    stem.samples = a:matrix()
  end
end

-- The stem's audio: every onset's copy of the source, times its gain and `scale`.
local function render_stem(stem, top, scale)
  local list = {}
  for i, o in ipairs(stem.placed) do
    list[i] = { H = stem.samples, row = 1, to = 1, gain = o.gain * scale, shift = o.sample }
  end
  return audio.from(matrix.place(1, top.frames, list), top.sr)
end

-- The mix: the stems added in order.
local function sum(stems)
  local mix = stems[1].audio
  for i = 2, #stems do mix = mix:mix(stems[i].audio) end
  return mix
end

local function scale_for(top, peak)
  if top.normalize == false or peak == 0 then return 1 end
  if top.normalize then return top.normalize / peak end
  if peak > 1 then return 0.99 / peak end
  return 1
end

--- mixture.build(spec [, opts]) -> the result described above. opts: base (the folder
-- relative files are read from; default the current one), readable (see mixture.check).
-- @tab spec a mixture spec
-- @tab[opt] opts base, readable
-- @return table {mix, stems, names, onsets, sr, ...}
-- @raise bad arguments or options, naming the key and the value.
-- @usage local r = tessera.mixture.build(spec)
function mixture.build(spec, opts)
  local top = mixture.check(spec, opts)
  load_sources(top)
  for _, stem in ipairs(top.stems) do
    local fail_here = function(msg) fail(format("stem '%s'", stem.name), "%s", msg) end
    local times = onsets_of.times(stem, top.duration, fail_here)
    if #times == 0 then
      fail(format("stem '%s'", stem.name), "no onset falls inside the mix (%.17g s)", top.duration)
    end
    local random = onsets_of.generator(top.seed, stem.name)
    stem.placed = onsets_of.place(stem, times, top.frames, top.sr, random, fail_here)
    stem.audio = render_stem(stem, top, 1)
  end
  local mix = sum(top.stems)
  local peak = mix:peak()
  local scale = scale_for(top, peak)
  if scale ~= 1 then
    for _, stem in ipairs(top.stems) do stem.audio = render_stem(stem, top, scale) end
    mix = sum(top.stems)
  end
  local result = { mix = mix, sr = top.sr, frames = top.frames, duration = top.frames / top.sr,
                   seed = top.seed, scale = scale, peak = peak, names = {}, stems = {},
                   by_name = {} }
  for i, stem in ipairs(top.stems) do
    local list = {}
    for j, o in ipairs(stem.placed) do
      list[j] = { time = o.time, sample = o.sample, gain = o.gain * scale }
    end
    local entry = { name = stem.name, source = stem.source, gain = stem.gain,
                    audio = stem.audio, onsets = list }
    result.names[i], result.stems[i], result.by_name[stem.name] = stem.name, entry, entry
  end
  return result
end

-- ---- writing -------------------------------------------------------------------------

-- A number as the shortest text that reads back as the same double.
local function exact(v)
  if math_type(v) == "integer" then return format("%d", v) end
  for digits = 15, 17 do
    local text = format("%." .. digits .. "g", v)
    if tonumber(text) == v then return text end
  end
end

--- The onset list of a stem as CSV: time (seconds), sample (0-based), gain (linear).
-- @tab stem a stem of a built mixture
-- @return string CSV: time, sample, gain
-- @raise bad arguments or options, naming the key and the value.
-- @usage io.write(tessera.mixture.onsets_csv(r.stems[1]))
function mixture.onsets_csv(stem)
  local lines = { "time,sample,gain" }
  for _, o in ipairs(stem.onsets) do
    lines[#lines + 1] = format("%s,%d,%s", exact(o.time), o.sample, exact(o.gain))
  end
  return concat(lines, "\n") .. "\n"
end

-- What mixture.json says: everything but the audio.
local function summary_of(result)
  local stems = {}
  for i, s in ipairs(result.stems) do
    stems[i] = { name = s.name, source = s.source, gain = s.gain, onsets = #s.onsets,
                 file = "stems/" .. s.name .. ".wav", onset_file = "onsets/" .. s.name .. ".csv" }
  end
  return { sr = result.sr, frames = result.frames, duration = result.duration,
           seed = result.seed, scale = result.scale, peak = result.peak, stems = stems,
           mix = "mix.wav" }
end

local MARK = "mixture.json"

-- Files into the fresh folder tmp.
local function write_files(result, tmp)
  for _, sub in ipairs({ "stems", "onsets" }) do
    local ok, err = fs.mkdir_p(tmp .. "/" .. sub)
    if not ok then error(err, 0) end
  end
  result.mix:save(tmp .. "/mix.wav")
  for _, s in ipairs(result.stems) do
    s.audio:save(tmp .. "/stems/" .. s.name .. ".wav")
    files.write_atomic(tmp .. "/onsets/" .. s.name .. ".csv", mixture.onsets_csv(s),
      "tessera.mixture", 0)
  end
  files.write_atomic(tmp .. "/" .. MARK, json.encode(summary_of(result)) .. "\n",
    "tessera.mixture", 0)
end

--- mixture.write(result, dir) -> dir: the mix as dir/mix.wav (float32 WAV, so the stems add
-- up to it exactly), each stem as dir/stems/<name>.wav, its onsets as dir/onsets/<name>.csv,
-- and dir/mixture.json. The folder is built beside dir under a temporary name and renamed
-- into place whole: an error or an interrupt leaves no half-written folder. A dir that
-- exists is replaced only when it holds an earlier mixture (its mixture.json) or nothing.
-- @tab result what @{build} returns
-- @string dir the folder (replaced only when it holds an earlier mixture)
-- @return string dir
-- @raise a dir that holds other files; a failed write.
-- @usage tessera.mixture.write(r, "out/mix")
function mixture.write(result, dir)
  if type(result) ~= "table" or core.type(result.mix) ~= "Audio" then
    error(format("bad argument #1 to 'write' (a mixture expected, got %s)", describe(result)), 2)
  end
  if type(dir) ~= "string" or dir == "" then
    error(format("bad argument #2 to 'write' (folder expected, got %s)", describe(dir)), 2)
  end
  dir = dir:gsub("(.)/+$", "%1")
  local listed = fs.is_dir(dir) and fs.list(dir)
  if listed and #listed > 0 and not fs.read_file(dir .. "/" .. MARK) then
    fail(nil, "'%s' exists and does not hold a mixture (no %s): not replacing it", dir, MARK)
  end
  local made, why = fs.mkdir_p(fs.dirname(dir))
  if not made then fail(nil, "%s", why) end
  local tmp = util.tmp_path(dir)
  local ok, err = pcall(function()
    local created, cerr = fs.mkdir_p(tmp)
    if not created then error(cerr, 0) end
    write_files(result, tmp)
  end)
  if not ok then
    fs.remove_tree(tmp)
    fail(nil, "cannot write '%s': %s", dir, tostring(err))
  end
  -- The old folder's temporary name is not one an interrupt cleans up: until the new
  -- folder is in place, it is the only copy.
  local old = listed and format("%s/.%s.old-%d", fs.dirname(dir), fs.basename(dir),
    floor(util.now() * 1e6))
  if old and not os.rename(dir, old) then
    fs.remove_tree(tmp)
    fail(nil, "cannot replace '%s'", dir)
  end
  local renamed, rerr = os.rename(tmp, dir)
  if not renamed then
    fs.remove_tree(tmp)
    if old then os.rename(old, dir) end
    fail(nil, "cannot write '%s': %s", dir, tostring(rerr))
  end
  util.sync_folder_of(dir)
  if old then fs.remove_tree(old) end
  return dir
end

-- ---- recipes -------------------------------------------------------------------------

--- mixture.load(path [, {allow = {folders}}]) -> spec, ctx: a recipe file (Lua returning the
-- spec) run in tessera's sandbox, and the context mixture.build needs for it (relative
-- files from its folder; sources only from there, the sonic-pi samples and `allow`).
-- @string path a recipe file returning a spec
-- @tab[opt] opts allow (more readable folders)
-- @return table spec, then ctx
-- @raise the recipe's errors, naming the file.
-- @usage local spec, ctx = tessera.mixture.load("mix.lua")
function mixture.load(path, opts)
  if type(path) ~= "string" or path == "" then
    error(format("bad argument #1 to 'load' (recipe path expected, got %s)", describe(path)), 2)
  end
  opts = opts or {}
  local sandbox = require "tessera.sandbox"
  local recipe = require "tessera.recipe"
  local full = fs.resolve(path)
  local regular, why = util.check_file(full)
  if not regular then fail(nil, "%s", why) end
  local dir = fs.dirname(full)
  local env = sandbox.env(dir, {})
  local ok, value = sandbox.run(full, env, "@" .. path)
  if not ok then fail(nil, "%s", tostring(value)) end
  local rctx = { dir = dir, allow = opts.allow }
  return value, { base = dir, readable = function(p) return recipe.readable(rctx, p) end }
end

--- tessera.mixture(spec [, opts]) -> result: @{check} then @{build} (a known mixture of
-- stems, for testing separations).
-- @function mixture
-- @tab spec a mixture spec
-- @tab[opt] opts as build
-- @return table the result
-- @raise as check.
-- @usage local mix = tessera.mixture{sr = 22050, duration = 4,
--   stems = {{file = "/usr/share/sonic-pi/samples/drum_bass_hard.flac", every = 1}}}

-- Errors leave the public functions at the caller's line (lua/tessera/entry.lua).
return require("tessera.entry").export(setmetatable(mixture, {
  -- tessera.mixture(spec [, opts]) is mixture.build.
  __call = function(_, spec, opts) return mixture.build(spec, opts) end,
}))
