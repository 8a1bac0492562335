-- tessera.recipe: loading and checking mosaic recipes. A recipe is a Lua file, run in the
-- sandbox (tessera.sandbox), that returns one table; recipe.load checks every key and
-- gives back a normalised copy that tessera.mosaic renders. Errors name the recipe file,
-- the part (layer or source) and the key.
--
-- THE RECIPE SCHEMA (every key but `sources` and `layers` is optional)
--
--   return {
--     sr = 22050,            -- output sample rate, and each source's unless it sets one
--     n_fft = 2048,          -- STFT of the sources and of the output (librosa's defaults)
--     hop = 512,
--     window = "hann",       -- "hann", "hamming" or "rect"
--     duration = 8,          -- output length in seconds; default: the phase source's length
--     out = "out.wav",       -- .wav or .flac, relative to the recipe's folder and inside
--                            -- it; `-o` (or render's opts.out) overrides it, anywhere
--     channels = 2,          -- 1 or 2; default 2 when a source is stereo or a layer pans
--     rate = 44100,          -- the output file's sample rate (default: sr), resampled last;
--                            -- "source": the rate of the phase (or rhythm) source's file
--     format = "pcm24",      -- the output's samples: "float" (WAV's default), "pcm16" or
--                            -- "pcm24" (FLAC's default; FLAC holds no float)
--     normalize = true,      -- true: peak 0.99; a number: that peak; false: as rendered,
--                            -- but scaled down to peak 0.99 if it would clip (the summary
--                            -- reports the scale)
--     phase = "drums",       -- a source whose phase is used (its audio tiled or cut to the
--                            -- output length), or "griffinlim"; default: the source of the
--                            -- first layer's activations
--     griffinlim = { iter = 32, momentum = 0.99, seed = 0,    -- with phase = "griffinlim";
--                    init = "random" },  -- or "pghi": start from tessera.pghi's phase
--                                        -- (hann or hamming window), seed then unused.
--                            -- With a phase source: iterations that refine the render that
--                            -- phase gives, pitched layers' shifted phases included
--                            -- (init "source", the only start there)
--     target = "drums",      -- default target of layers with fit = true
--     sources = {            -- name -> source; names are identifiers
--       drums = {
--         file = "/usr/share/sonic-pi/samples/loop_amen.flac",  -- relative: to the recipe
--         offset = 0, duration = 4,  -- seconds of the file (default: all of it)
--         sr = 22050, n_fft = 2048, hop = 512,  -- default: the recipe's
--         stereo = true,     -- decompose both channels: templates shared, activations per
--                            -- channel (tessera.stereo); layers then keep its stereo image
--         hpss = "percussive",  -- decompose (and fit on) only this part of the source:
--                               -- "harmonic", "percussive" or "residual" (tessera.hpss
--                               -- with its defaults; a residual needs no margin > 1 to
--                               -- exist but is then nearly silent). Default: all of it
--         k = 4,             -- required: the number of components
--         loss = "kl", seed = 0, ...  -- any tessera.nmf option but W, H, update_W/H and
--                                     -- callbacks (seed default 0: renders repeat exactly)
--         T = 8,             -- convolutive NMF (tessera.nmfd): templates T frames long; a
--                            -- layer then sounds each template convolved with its
--                            -- activations, and templates start from each file's first T
--                            -- frames (template_method "frames")
--         templates = { "kick.wav" },  -- score-informed starts (tessera.nmf.templates):
--         template_method = "mean",    -- each file's spectrum starts component 1, 2, ...
--         freeze_templates = true,     -- and stays as it is (fixed_W), the rest adapting
--         templates_from = "kit:1-3",  -- or: another source's templates start components
--                                      -- 1, 2, ... (its decomposition, same n_fft and T)
--         activations_from = "drums:2",   -- another source's activations start rows 1, ...
--         freeze_activations = true,      -- of H (same frame count) and stay (fixed_H)
--         onsets = { { 0, 1 }, { 0.5 } },  -- seconds (of the source as read) per component:
--         onset_before = 0.05, onset_after = 0.5,  -- it sounds only near them (allowed_H;
--                            -- a number or one per list; later components anywhere)
--         allowed_H = "mask.npy",  -- or: where components 1..m may sound, an m x p file
--                            -- (.npy or .csv, entries >= 0, p the source's frames); the
--                            -- components after m anywhere
--       },
--       pads = { file = "/usr/share/sonic-pi/samples/loop_garzul.flac", k = 6 },
--     },
--     layers = {             -- summed into one magnitude spectrogram
--       {
--         W = "pads:1-2",    -- spectral templates: "name:i", "name:i-j", "name:i,j-k",
--                            -- "name" (every component), or a list of such strings
--         H = "drums:1",     -- activations, same syntax; default: W's own activations.
--                            -- W and H select as many components (paired in order), or
--                            -- one of them selects one (shared by all the others). Or a
--                            -- MIDI file, H = "beat.mid": its notes play W's components
--         notes = { [36] = 1, [38] = 2 },  -- with a MIDI H: key -> position in W (default:
--                            -- General MIDI's kick, snare, hats... to 1, 2, 3, ...)
--         pattern = { {"quantize", grid = "1/16", swing = 0.2}, {"gate", 2} },  -- edits of
--                            -- the activation rows as a score (tessera.score.apply)
--         gain = 1,          -- linear factor on the layer's magnitude (>= 0)
--         shift = 0,         -- seconds; positive delays the activations
--         stretch = 1,       -- time factor of the activations (2 = twice as slow)
--         loop = true,       -- repeat the activations over the output (false: once)
--         fit = false,       -- true: activations refitted for `target` with W fixed
--         target = "drums",  -- the source fit = true fits (default: the recipe's target)
--         name = "bass",     -- a label for the summary
--         pan = -0.5,        -- -1 (left) .. 1 (right), equal-power; default 0
--         width = 1,         -- 0..1: a stereo source's image narrowed toward mono (0)
--         pitch = -5,        -- semitones (-48..48): the templates' sound moved along
--                            -- frequency, its phase shifted in step (tessera.pitch); or a
--                            -- glide: {from = 0, to = 12, shape = "linear" | "smooth"} over
--                            -- the output, or breakpoints {{0, 0}, {2, 7}} (seconds, semitones)
--         morph = { to = "choir", curve = "linear" },  -- the templates turn into another
--                            -- source's (tessera.morph: partners by nmf.match, or listed
--                            -- as to = "choir:3,1"); curve: "linear", "smooth", a ramp or
--                            -- breakpoints of positions 0..1; from = "pads:1-2" may stand
--                            -- in for W
--       },
--     },
--   }
--
-- Times are in seconds and converted to frames with the output's hop (shift * sr / hop
-- frames, fractional positions interpolated linearly). A looped activation repeats with
-- the period of its source's audio (its length / hop frames), so it stays in step with
-- a phase source tiled in the time domain. With fit = true the layer takes no H: the
-- activations of its W components are fitted on the target's magnitude, all of W's
-- components at once (so editing which ones a layer uses needs no new fit).
local core = require "tessera.core"
local fs = require "tessera.fs"
local sandbox = require "tessera.sandbox"
local did_you_mean = require("tessera.args").did_you_mean

local error, getmetatable, ipairs, math_type, next, pairs, tonumber, tostring, type =
  error, getmetatable, ipairs, math.type, next, pairs, tonumber, tostring, type
local format = string.format
local concat, sort = table.concat, table.sort

local recipe = {}

-- The keys each part accepts, in the order error messages list them.
recipe.keys = {
  recipe = { "sources", "layers", "sr", "n_fft", "hop", "window", "duration", "out",
             "normalize", "phase", "griffinlim", "target", "channels", "rate", "format" },
  source = { "file", "offset", "duration", "sr", "n_fft", "hop", "hpss", "stereo", "templates",
             "template_method", "templates_from", "freeze_templates", "activations_from",
             "freeze_activations", "onsets", "onset_before", "onset_after", "allowed_H" },
  layer = { "W", "H", "gain", "shift", "stretch", "loop", "fit", "target", "name", "pitch",
            "morph", "pan", "width", "pattern", "notes" },
  griffinlim = { "iter", "momentum", "seed", "init" },
}

-- tessera.nmf options a source may set (matrices and callbacks make no sense in a file).
recipe.nmf_keys = { "k", "loss", "solver", "init", "seed", "max_iter", "tol", "tol_rule", "order",
                    "alpha_W", "alpha_H", "l1_ratio", "every", "threads", "smooth_H", "T" }

-- The parts of tessera.hpss a source's `hpss` key may name.
recipe.hpss_parts = { harmonic = true, percussive = true, residual = true }

recipe.defaults = { sr = 22050, n_fft = 2048, hop = 512, window = "hann", normalize = 0.99 }

-- Bounds on what a recipe may ask for, checked before anything is computed: a source's k,
-- and the components one selector may list (repeats included).
recipe.max_k = 1000
recipe.max_selected = 100000

local function set_of(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

local source_keys = set_of(recipe.keys.source)
for _, k in ipairs(recipe.nmf_keys) do source_keys[k] = true end
local all_source_keys = {}
for _, k in ipairs(recipe.keys.source) do all_source_keys[#all_source_keys + 1] = k end
for _, k in ipairs(recipe.nmf_keys) do all_source_keys[#all_source_keys + 1] = k end

-- ---- errors --------------------------------------------------------------------------

-- Raises "tessera.mosaic: <recipe>: <where>: <message>" (where may be nil).
local function fail(ctx, where, fmt, ...)
  local msg = format(fmt, ...)
  if where then msg = where .. ": " .. msg end
  error(format("tessera.mosaic: %s: %s", ctx.name, msg), 0)
end
recipe.fail = fail

-- "string 'x'", "number 3", "boolean true", "table", "nil" for "got ..." in messages.
local function describe(v)
  local t = type(v)
  if t == "string" then return format("string '%s'", v) end
  if t == "number" or t == "boolean" then return format("%s %s", t, tostring(v)) end
  return t
end
recipe.describe = describe

local function check_keys(ctx, where, t, valid_list, valid_set, what)
  local bad = {}
  for k in pairs(t) do
    if type(k) ~= "string" or not valid_set[k] then bad[#bad + 1] = k end
  end
  if #bad == 0 then return end
  -- Keys shown by type and value only: tostring on a recipe's table could run its code.
  local function shown_key(k)
    local kt = type(k)
    if kt == "string" then return format("key '%s'", k) end
    if kt == "number" or kt == "boolean" then return format("key %s", tostring(k)) end
    return format("a key that is a %s", kt)
  end
  sort(bad, function(a, b) return shown_key(a) < shown_key(b) end)
  local shown = shown_key(bad[1])
  fail(ctx, where, "%s is not %s (expected one of: %s)%s", shown, what, concat(valid_list, ", "),
    did_you_mean(bad[1], valid_list))
end

-- A plain table: no metatable, so reading it runs no code of the recipe's.
local function check_table(ctx, where, key, v)
  if type(v) ~= "table" then fail(ctx, where, "key '%s' must be a table, got %s", key, describe(v)) end
  if getmetatable(v) ~= nil then fail(ctx, where, "key '%s' must be a plain table (no metatable)", key) end
end

local function finite(v)
  return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge
end

local function number(ctx, where, t, key, def, ok, expected)
  local v = t[key]
  if v == nil then return def end
  if not finite(v) or (ok and not ok(v)) then
    fail(ctx, where, "key '%s' must be %s, got %s", key, expected, describe(v))
  end
  return v
end

local function integer(ctx, where, t, key, def, ok, expected)
  local v = t[key]
  if v == nil then return def end
  if math_type(v) ~= "integer" and not (finite(v) and v == math.floor(v)) then
    fail(ctx, where, "key '%s' must be %s, got %s", key, expected, describe(v))
  end
  local i = math.tointeger(v) -- nil for a float beyond the integers (1e30)
  if i == nil or (ok and not ok(i)) then
    fail(ctx, where, "key '%s' must be %s, got %s", key, expected, describe(v))
  end
  v = i
  return v
end

local function boolean(ctx, where, t, key, def)
  local v = t[key]
  if v == nil then return def end
  if type(v) ~= "boolean" then fail(ctx, where, "key '%s' must be a boolean, got %s", key, describe(v)) end
  return v
end

local function string_of(ctx, where, t, key)
  local v = t[key]
  if v ~= nil and type(v) ~= "string" then
    fail(ctx, where, "key '%s' must be a string, got %s", key, describe(v))
  end
  return v
end

local function audio_file(path)
  local ext = path:match("%.(%w+)$")
  ext = ext and ext:lower()
  return ext == "wav" or ext == "flac"
end

local function positive(v) return v > 0 end
local function nonneg(v) return v >= 0 end

local function names_of(sources)
  local names = {}
  for name in pairs(sources) do names[#names + 1] = name end
  sort(names)
  return names
end

local function source_named(ctx, where, key, sources, name)
  if sources[name] == nil then
    local names = names_of(sources)
    fail(ctx, where, "key '%s': no source named '%s' (sources: %s)%s", key, name,
      concat(names, ", "), did_you_mean(name, names))
  end
  return sources[name]
end

-- ---- selectors -----------------------------------------------------------------------

-- "a:1-3,5" -> { source = "a", indices = {1, 2, 3, 5} }; "a" -> { source = "a" } (all).
local function parse_selector(ctx, where, key, text, sources)
  local name, spec = text:match("^%s*([%a_][%w_]*)%s*:%s*(.-)%s*$")
  if not name then
    name = text:match("^%s*([%a_][%w_]*)%s*$")
    if not name then
      fail(ctx, where, "key '%s': '%s' is not a component selector (expected 'source:i', " ..
        "'source:i-j', 'source:i,j' or 'source')", key, text)
    end
  end
  source_named(ctx, where, key, sources, name)
  local sel = { source = name }
  if spec == nil then return sel end
  sel.indices = {}
  for item in (spec .. ","):gmatch("(.-),") do
    item = item:match("^%s*(.-)%s*$")
    local a, b = item:match("^(%d+)%s*%-%s*(%d+)$")
    if not a then a = item:match("^(%d+)$"); b = a end
    if not a then
      fail(ctx, where, "key '%s': '%s' is not a component selector (expected 'source:i', " ..
        "'source:i-j', 'source:i,j' or 'source')", key, text)
    end
    -- Indices are checked against the source's k before a range is expanded: a range is
    -- never larger than k, and k is bounded (recipe.max_k).
    local k = sources[name].nmf.k
    for _, digits in ipairs { a, b } do
      local i = #digits <= 9 and math.tointeger(tonumber(digits)) or nil
      if i == nil or i > k then
        fail(ctx, where, "key '%s': component %s of source '%s' is out of range (k = %d)", key,
          #digits <= 20 and digits or digits:sub(1, 20) .. "...", name, k)
      end
    end
    a, b = math.tointeger(tonumber(a)), math.tointeger(tonumber(b))
    if a < 1 or b < a then
      fail(ctx, where, "key '%s': '%s' has an empty or zero-based range '%s' (components " ..
        "count from 1)", key, text, item)
    end
    if #sel.indices + (b - a + 1) > recipe.max_selected then
      fail(ctx, where, "key '%s': '%s' selects more than %d components", key,
        #text <= 40 and text or text:sub(1, 40) .. "...", recipe.max_selected)
    end
    for i = a, b do sel.indices[#sel.indices + 1] = i end
  end
  return sel
end

-- A key holding one selector string or a list of them -> a list of selectors.
local function parse_selectors(ctx, where, key, value, sources)
  if type(value) == "string" then return { parse_selector(ctx, where, key, value, sources) } end
  if type(value) ~= "table" or getmetatable(value) ~= nil or #value == 0 then
    fail(ctx, where, "key '%s' must be a component selector like 'a:1-2' or a list of them, " ..
      "got %s", key, describe(value))
  end
  local list = {}
  for k, v in pairs(value) do
    if math_type(k) ~= "integer" or k < 1 or k > #value or type(v) ~= "string" then
      fail(ctx, where, "key '%s' must be a list of component selectors (strings like 'a:1-2')", key)
    end
  end
  for i = 1, #value do list[i] = parse_selector(ctx, where, key, value[i], sources) end
  return list
end

-- Expands selectors into { {source, index}, ... } given each source's k (sources whose k
-- is not known yet are left for later: returns nil). Raises on an index out of range.
function recipe.expand(ctx, where, key, selectors, k_of)
  local list = {}
  for _, sel in ipairs(selectors) do
    local k = k_of(sel.source)
    if k == nil then return nil end
    if sel.indices == nil then
      for i = 1, k do list[#list + 1] = { source = sel.source, index = i } end
    else
      for _, i in ipairs(sel.indices) do
        if i > k then
          fail(ctx, where, "key '%s': component %d of source '%s' is out of range (k = %d)",
            key, i, sel.source, k)
        end
        list[#list + 1] = { source = sel.source, index = i }
      end
    end
  end
  return list
end

-- ---- checking ------------------------------------------------------------------------

-- Where the sources of a recipe file may come from (recipe.load sets ctx.confined; a table
-- built by the caller's own code is trusted): the recipe's folder, the sonic-pi samples,
-- the folders in ctx.allow (`--allow DIR`, mosaic.load's opts.allow) and in TESSERA_ALLOW
-- (separated by ':'). A shared recipe cannot name /etc/passwd or ~/.ssh as a "source";
-- symbolic links are resolved and must lead inside those folders too, and a file that is
-- not audio fails to decode with a message that shows none of its content.
recipe.samples = "/usr/share/sonic-pi/samples"

-- The folders ctx may read (or, with `allowed_only`, those the caller allowed), each as
-- written and with its links resolved.
local function roots_of(ctx, allowed_only)
  local roots = {}
  if not allowed_only then roots = { ctx.dir, recipe.samples } end
  for _, dir in ipairs(ctx.allow or {}) do roots[#roots + 1] = fs.resolve(dir) end
  for dir in (os.getenv("TESSERA_ALLOW") or ""):gmatch("[^:]+") do
    roots[#roots + 1] = fs.resolve(dir)
  end
  local n = #roots
  for i = 1, n do roots[#roots + 1] = fs.realpath(roots[i]) end
  return roots
end

local function inside_any(roots, path)
  for _, root in ipairs(roots) do
    if fs.inside(root, path) then return true end
  end
  return false
end

-- recipe.readable(ctx, path) -> whether a recipe may read path: as written, and with its
-- links resolved, inside its folder, the samples or an allowed folder.
function recipe.readable(ctx, path)
  local roots = roots_of(ctx)
  return inside_any(roots, path) and inside_any(roots, fs.realpath(path))
end

-- A message about `full` that names it as the recipe wrote it instead.
local function as_written(msg, full, written)
  return (msg:gsub("'" .. full:gsub("%p", "%%%0") .. "'", "'" .. written:gsub("%%", "%%%%") .. "'", 1))
end

-- The score-informed keys of a source (lua/tessera/recipe_score.lua).
local score = require("tessera.recipe_score")({
  fail = fail, describe = describe, finite = finite, names_of = names_of,
  parse_selectors = parse_selectors, expand = recipe.expand,
})

-- A file the recipe names (a source's file and templates, a layer's MIDI H): inside the
-- folders it may read, and regular. Returns its full path.
local function confine(ctx, where, key, written)
  local full = fs.resolve(written, ctx.dir)
  if ctx.confined and not recipe.readable(ctx, full) then
    local how = inside_any(roots_of(ctx), full) and "leads (through a link) outside" or "is outside"
    fail(ctx, where, "key '%s': '%s' %s the folders a recipe may read (its own, %s " ..
      "and those given with --allow)", key, written, how, recipe.samples)
  end
  -- Not a FIFO, device or folder: reading or hashing one would never end.
  local ok, why = core.util.check_file(full)
  if not ok then fail(ctx, where, "key '%s': %s", key, as_written(why, full, written)) end
  return full
end

-- The output's phase, Griffin-Lim, channels, rate and format (lua/tessera/recipe_output.lua).
local output = require("tessera.recipe_output")({
  fail = fail, describe = describe, check_table = check_table, check_keys = check_keys,
  set_of = set_of, integer = integer, number = number, string_of = string_of,
  source_named = source_named, keys = recipe.keys,
})

-- The music-making keys of a layer (lua/tessera/recipe_music.lua).
local music = require("tessera.recipe_music")({
  fail = fail, describe = describe, parse_selectors = parse_selectors, confine = confine,
})

local function check_source(ctx, name, s, top)
  local where = format("source '%s'", name)
  check_table(ctx, nil, "sources." .. name, s)
  check_keys(ctx, where, s, all_source_keys, source_keys, "a source option")
  local file = s.file
  if type(file) ~= "string" or file == "" then
    fail(ctx, where, "key 'file' must be a file name, got %s", describe(file))
  end
  local function confine_here(key, written) return confine(ctx, where, key, written) end
  local path = confine_here("file", file)
  local src = {
    name = name,
    file = path,
    offset = number(ctx, where, s, "offset", 0, nonneg, "a number >= 0"),
    duration = number(ctx, where, s, "duration", nil, positive, "a number > 0"),
    sr = integer(ctx, where, s, "sr", top.sr, positive, "a positive integer"),
    n_fft = integer(ctx, where, s, "n_fft", top.n_fft, function(v) return v >= 2 and v % 2 == 0 end,
      "an even integer >= 2"),
    nmf = {},
  }
  src.hop = integer(ctx, where, s, "hop", top.hop, function(v) return v >= 1 and v <= src.n_fft end,
    format("an integer in 1..%d", src.n_fft))
  src.hpss = s.hpss
  if src.hpss ~= nil and not recipe.hpss_parts[src.hpss] then
    fail(ctx, where, "key 'hpss' must be 'harmonic', 'percussive' or 'residual', got %s%s",
      describe(src.hpss), did_you_mean(src.hpss, { "harmonic", "percussive", "residual" }))
  end
  src.stereo = boolean(ctx, where, s, "stereo", false)
  for _, key in ipairs(recipe.nmf_keys) do
    local v = s[key]
    if v ~= nil then
      if type(v) == "table" or type(v) == "function" or type(v) == "userdata" or type(v) == "thread" then
        fail(ctx, where, "key '%s' must be a number, string or boolean, got %s", key, type(v))
      end
      src.nmf[key] = v
    end
  end
  if s.k == nil then fail(ctx, where, "key 'k' is missing (the number of components)") end
  src.nmf.k = integer(ctx, where, s, "k", nil, function(v) return v >= 1 and v <= recipe.max_k end,
    format("an integer in 1..%d", recipe.max_k))
  if src.nmf.seed == nil then src.nmf.seed = 0 end -- renders are reproducible by default
  src.score = score.check(ctx, where, s, src, confine_here)
  if src.stereo and src.score and (src.score.onsets or src.score.allowed_file or
                                   src.score.activations_from) then
    fail(ctx, where, "key 'stereo': a stereo source's activations have a row per channel; " ..
      "onsets, allowed_H and activations_from take mono sources")
  end
  return src
end

local function check_layer(ctx, i, l, sources, top)
  local where = format("layer %d", i)
  if type(l) ~= "table" or getmetatable(l) ~= nil then
    fail(ctx, where, "must be a plain table, got %s", describe(l))
  end
  check_keys(ctx, where, l, recipe.keys.layer, set_of(recipe.keys.layer), "a layer option")
  local morph_from = type(l.morph) == "table" and getmetatable(l.morph) == nil and l.morph.from
  if l.W == nil and not morph_from then
    fail(ctx, where, "key 'W' is missing (the spectral templates, e.g. W = 'a:1')")
  end
  local layer = {
    index = i,
    where = where,
    name = string_of(ctx, where, l, "name"),
    W = l.W ~= nil and parse_selectors(ctx, where, "W", l.W, sources) or nil,
    gain = number(ctx, where, l, "gain", 1, nonneg, "a number >= 0"),
    shift = number(ctx, where, l, "shift", 0, nil, "a finite number"),
    stretch = number(ctx, where, l, "stretch", 1, positive, "a number > 0"),
    loop = boolean(ctx, where, l, "loop", true),
    fit = boolean(ctx, where, l, "fit", false),
  }
  local target = string_of(ctx, where, l, "target")
  if layer.fit then
    if l.H ~= nil then
      fail(ctx, where, "key 'H' cannot be used with fit = true (the activations are fitted " ..
        "for the target)")
    end
    target = target or top.target
    if target == nil then
      fail(ctx, where, "key 'target' is missing: fit = true needs a target source (in the " ..
        "layer or the recipe)")
    end
    source_named(ctx, where, "target", sources, target)
    layer.target = target
  else
    if target ~= nil then fail(ctx, where, "key 'target' needs fit = true") end
    if not music.is_midi(l.H) then
      layer.H = l.H ~= nil and parse_selectors(ctx, where, "H", l.H, sources) or nil
    end
  end
  music.check(ctx, where, l, layer, sources)
  if layer.W == nil then layer.W = layer.morph.from end
  return layer
end

-- recipe.check(t, ctx) -> normalised recipe. ctx = { name = what messages call the
-- recipe, dir = the folder relative paths resolve against (absolute), out = an output
-- path that overrides t.out (resolved against the current directory) }.
function recipe.check(t, ctx)
  if type(t) ~= "table" or getmetatable(t) ~= nil then
    fail(ctx, nil, "the recipe must return a plain table, got %s", describe(t))
  end
  check_keys(ctx, nil, t, recipe.keys.recipe, set_of(recipe.keys.recipe), "a recipe option")
  local d = recipe.defaults
  local top = {
    name = ctx.name,
    dir = ctx.dir,
    sr = integer(ctx, nil, t, "sr", d.sr, positive, "a positive integer"),
    n_fft = integer(ctx, nil, t, "n_fft", d.n_fft, function(v) return v >= 2 and v % 2 == 0 end,
      "an even integer >= 2"),
    window = string_of(ctx, nil, t, "window") or d.window,
    duration = number(ctx, nil, t, "duration", nil, positive, "a number > 0"),
  }
  top.hop = integer(ctx, nil, t, "hop", d.hop, function(v) return v >= 1 and v <= top.n_fft end,
    format("an integer in 1..%d", top.n_fft))
  if top.window ~= "hann" and top.window ~= "hamming" and top.window ~= "rect" then
    fail(ctx, nil, "key 'window' must be 'hann', 'hamming' or 'rect', got %s%s", describe(top.window),
      did_you_mean(top.window, { "hann", "hamming", "rect" }))
  end

  local normalize = t.normalize
  if normalize == nil or normalize == true then
    top.normalize = d.normalize
  elseif normalize == false then
    top.normalize = false
  else
    top.normalize = number(ctx, nil, t, "normalize", nil, positive, "a boolean or a peak > 0")
  end

  if ctx.out ~= nil then
    top.out = fs.resolve(ctx.out)
    if not audio_file(top.out) then fail(ctx, nil, "output '%s' must end in .wav or .flac", ctx.out) end
  elseif t.out ~= nil then
    local out = string_of(ctx, nil, t, "out")
    local full = fs.resolve(out, ctx.dir)
    if not fs.inside(ctx.dir, full) or full == ctx.dir then
      fail(ctx, nil, "key 'out': '%s' is outside the recipe's folder (write there, or give " ..
        "-o to choose another place)", out)
    end
    -- A link on the way (outdir -> elsewhere) must lead inside too, or to a folder the
    -- caller allowed with --allow.
    local real = fs.realpath(full)
    if not fs.inside(fs.realpath(ctx.dir), real) and not inside_any(roots_of(ctx, true), real) then
      fail(ctx, nil, "key 'out': '%s' leads (through a link) outside the recipe's folder, to " ..
        "'%s' (give -o, or --allow that folder)", out, real)
    end
    if not audio_file(full) then fail(ctx, nil, "key 'out': '%s' must end in .wav or .flac", out) end
    top.out = full
  end

  if t.sources == nil then fail(ctx, nil, "key 'sources' is missing (a table of named sources)") end
  check_table(ctx, nil, "sources", t.sources)
  if next(t.sources) == nil then fail(ctx, nil, "key 'sources' is empty") end
  top.sources = {}
  for name in pairs(t.sources) do
    if type(name) ~= "string" or not name:match("^[%a_][%w_]*$") then
      fail(ctx, nil, "key 'sources': source names must be identifiers, got %s", describe(name))
    end
    if name == "griffinlim" then
      fail(ctx, nil, "key 'sources': 'griffinlim' is reserved for phase = 'griffinlim'")
    end
  end
  for _, name in ipairs(names_of(t.sources)) do
    top.sources[name] = check_source(ctx, name, t.sources[name], top)
  end
  score.check_lent(ctx, t.sources, top.sources)

  if t.target ~= nil then
    top.target = string_of(ctx, nil, t, "target")
    source_named(ctx, nil, "target", top.sources, top.target)
  end

  if t.layers == nil then fail(ctx, nil, "key 'layers' is missing (a list of layers)") end
  check_table(ctx, nil, "layers", t.layers)
  local n = #t.layers
  if n == 0 then fail(ctx, nil, "key 'layers' is empty") end
  for k in pairs(t.layers) do
    if math_type(k) ~= "integer" or k < 1 or k > n then
      fail(ctx, nil, "key 'layers' must be a list (1..%d), found key %s", n, describe(k))
    end
  end
  top.layers = {}
  for i = 1, n do top.layers[i] = check_layer(ctx, i, t.layers[i], top.sources, top) end

  output.check(ctx, t, top)
  return top
end

-- recipe.load(path [, {out = path, allow = {dirs}, memory = bytes, instructions = count,
-- seconds = s}]) -> normalised recipe: runs the file in a sandbox confined to its folder,
-- under the given budgets (default sandbox.defaults and sandbox.default_seconds()), and
-- checks what it returns (allow: more source folders). Messages call it `path` as given.
function recipe.load(path, opts)
  if type(path) ~= "string" or path == "" then
    error(format("bad argument #1 to 'load' (recipe path expected, got %s)", describe(path)), 2)
  end
  opts = opts or {}
  local full = fs.resolve(path)
  local ctx = { name = path, dir = fs.dirname(full), out = opts.out, allow = opts.allow,
                confined = true }
  local regular, why = core.util.check_file(full)
  if not regular then
    error(format("tessera.mosaic: %s", as_written(why, full, path)), 0)
  end
  local env = sandbox.env(ctx.dir, { memory = opts.memory, instructions = opts.instructions })
  local seconds = sandbox.check_seconds(opts.seconds, "tessera.mosaic")
  local done, ok, value = pcall(sandbox.timed, seconds, sandbox.run, full, env, "@" .. path)
  if not done then ok, value = false, ok end
  if not ok then error(format("tessera.mosaic: %s", tostring(value)), 0) end
  local rec = recipe.check(value, ctx)
  rec.path = full
  return rec
end

return recipe
