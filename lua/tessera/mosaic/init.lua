--- tessera.mosaic: rendering recipes (see tessera.recipe for the schema). Each source is
-- decomposed once and kept in the cache (tessera.cache); a render then builds, for every
-- source whose templates a layer uses, a matrix of gain-scaled, stretched, looped and
-- shifted activation rows (tessera.core.matrix.place, in C), multiplies it by the source's
-- W (one sgemm per template source), adds the products into one magnitude spectrogram,
-- gives it a phase (a source's, tiled, or Griffin-Lim's), and writes the audio atomically.
--
--   local audio, summary = tessera.mosaic.render("examples/timbre_swap.lua")
--   print(tessera.mosaic.describe(summary))
--
-- The parts: tessera.mosaic.sources (audio, decompositions and fits through the cache),
-- .plan (what the layers select, checked, and the output's length) and .render (placement,
-- products, phase, level, the file).
-- @module tessera.mosaic
local cache = require "tessera.cache"
local fs = require "tessera.fs"
local recipe = require "tessera.recipe"
local sandbox = require "tessera.sandbox"
local render = require "tessera.mosaic.render"

local error, pcall, setmetatable, type = error, pcall, setmetatable, type
local format = string.format

local mosaic = {}

-- Recipes that recipe.check has normalised (render accepts them as they are).
local checked = setmetatable({}, { __mode = "k" })

--- mosaic.load(path [, {out = path}]) -> recipe: the checked, normalised recipe, which
-- mosaic.render takes without checking it again.
-- @string path the recipe file (see @{recipes})
-- @tab[opt] opts `out` (the output path, overriding the recipe's), `allow` (more readable folders)
-- @treturn table the checked recipe
-- @raise the recipe's errors, naming the file, the part (layer or source) and the key.
-- @usage local r = tessera.mosaic.load("examples/recipes/amen-pads.lua")
function mosaic.load(path, opts)
  local rec = recipe.load(path, opts)
  checked[rec] = true
  return rec
end

--- mosaic.render(recipe [, opts]) -> Audio, summary. recipe: a path (loaded with
-- mosaic.load), a recipe from mosaic.load, or a recipe table (checked here; relative paths
-- against opts.base, default the current directory). opts: out (overrides the recipe's),
-- cache_dir (a cache folder for this render), write (false: only return the audio),
-- name (what messages call a table recipe, default "recipe"), seconds (a wall-clock limit
-- on the whole render, 0 none; default for a recipe from a file: TESSERA_RECIPE_SECONDS,
-- else 60; for a table: none).
-- The summary: recipe, out, sr (the file's), channels, samples, duration, layers,
-- components (template and activation pairs), sources (how many the layers and the phase
-- use), phase,
-- nmf (decompositions computed), cache {hits, misses, corrupt, writes} (this render),
-- peak (before levelling), scale (applied), seconds (wall-clock time), magnitude (the
-- rendered magnitude spectrogram, a Matrix: for plots and checks; the left channel's in
-- stereo) and magnitudes (one per channel), downmixed (the sources whose files have more
-- channels than they were read with: no `stereo = true`).
-- @tparam table r a recipe from @{load} (or a recipe table, checked first)
-- @tab[opt] opts `out` (the file written), `cache`, `progress`
-- @treturn table summary {out, seconds, layers, magnitude, ...}
-- @raise a source that cannot be read; a recipe that exceeds its time or memory limit.
-- @usage local s = tessera.mosaic.render(tessera.mosaic.load("r.lua"))
-- print(tessera.mosaic.describe(s))
function mosaic.render(r, opts)
  if opts ~= nil and type(opts) ~= "table" then
    error(format("bad argument #2 to 'render' (table expected, got %s)", type(opts)), 2)
  end
  opts = opts or {}
  if type(r) ~= "string" and type(r) ~= "table" then
    error(format("bad argument #1 to 'render' (recipe path or table expected, got %s)", type(r)), 2)
  end
  -- A recipe from a file gets the default time limit; a table from the caller's own code
  -- only the one it asks for.
  local from_file = type(r) == "string" or checked[r]
  local seconds = opts.seconds
  if seconds ~= nil or from_file then seconds = sandbox.check_seconds(seconds, "tessera.mosaic") end
  local ok, y, summary = pcall(sandbox.timed, seconds or 0, function()
    local rec
    if type(r) == "string" then
      rec = recipe.load(r, { out = opts.out })
    elseif checked[r] then
      rec = r
    else
      local base = fs.resolve(opts.base or ".")
      rec = recipe.check(r, { name = opts.name or "recipe", dir = base, out = opts.out })
    end
    local saved_root = cache.root
    if opts.cache_dir ~= nil then cache.root = fs.resolve(opts.cache_dir) end
    local done, a, b = pcall(render.render, rec, opts)
    cache.root = saved_root
    if not done then error(a, 0) end
    return a, b
  end)
  if not ok then error(mosaic.message(y), 0) end
  return y, summary
end

--- mosaic.message(err) -> err, with the wall clock's message (which sandbox.timed raises
-- bare) as "tessera.mosaic: the recipe exceeded its time limit (N s)".
-- @param err an error value
-- @treturn string the message
-- @raise never.
-- @usage local ok, err = pcall(tessera.mosaic.render, r); if not ok then print(tessera.mosaic.message(err)) end
function mosaic.message(err)
  if type(err) == "string" and err:match("^the recipe exceeded its time limit") then
    return "tessera.mosaic: " .. err
  end
  return err
end

--- mosaic.describe(summary) -> one line for a terminal.
-- @tab s the summary @{render} returns
-- @treturn string one line
-- @raise when s is not a summary table.
-- @usage print(tessera.mosaic.describe(summary))
function mosaic.describe(s)
  local what = s.out and format("wrote %s", s.out) or format("rendered %s", s.recipe)
  return format("%s: %.2f s at %d Hz%s, %d layer%s, %d source%s, phase %s; cache %d hit%s, " ..
    "%d miss%s, %d NMF; %.2f s", what, s.duration, s.sr, s.channels == 2 and " stereo" or "",
    s.layers, s.layers == 1 and "" or "s",
    s.sources, s.sources == 1 and "" or "s", s.phase, s.cache.hits, s.cache.hits == 1 and "" or "s",
    s.cache.misses, s.cache.misses == 1 and "" or "es", s.nmf, s.seconds) ..
    (#(s.downmixed or {}) > 0 and format("; mixed to mono: %s (stereo = true keeps both channels)",
      table.concat(s.downmixed, ", ")) or "")
end

--- "Let it Bee" cross-synthesis (Driedger et al. 2015): a target's sound rebuilt from a
-- source's spectral frames (lua/tessera/crosssynth.lua).
-- @function crosssynth
-- @tab opts `source`, `target` (files or Audio), `out`, and the fit's `iter`, `r`, `p`, `c`, `seed`
-- @treturn table a summary (the output file, the iterations, the seconds)
-- @raise an unknown option; a file that cannot be read.
-- @usage tessera.mosaic.crosssynth({source = "bees.wav", target = "song.wav", out = "bee-song.wav"})
mosaic.crosssynth = require("tessera.crosssynth").crosssynth -- "Let it Bee" (crosssynth.lua)
-- Errors leave the public functions at the caller's line (lua/tessera/entry.lua).
return require("tessera.entry").export(mosaic)
