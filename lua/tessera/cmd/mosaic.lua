-- `tessera mosaic RECIPE.lua [-o OUT.wav]`: renders a mosaic recipe (see tessera.recipe)
-- and prints one line: where it went, how long, and what the cache saved.
return {
  name = "mosaic",
  help = "render a mosaic recipe (a Lua file) to a WAV or FLAC file",
  setup = function(parser)
    parser:argument("recipe", "Recipe file (Lua, run in a sandbox).")
    parser:option("-o --out", "Output file (.wav or .flac); overrides the recipe's 'out'.")
    parser:option("--allow", "A folder the recipe's sources may come from, besides its own and "
      .. "the sonic-pi samples (repeatable).", nil, nil, 1, "*")
    parser:option("--cache-dir", "Cache folder (default: TESSERA_CACHE_DIR, then XDG_CACHE_HOME/tessera).")
  end,
  run = function(args)
    local mosaic = require "tessera.mosaic"
    local rec = mosaic.load(args.recipe, { out = args.out, allow = args.allow })
    if rec.out == nil then
      error(string.format("mosaic: %s has no 'out': give -o OUT.wav", args.recipe), 0)
    end
    local _, summary = mosaic.render(rec, { cache_dir = args.cache_dir })
    io.write(mosaic.describe(summary), "\n")
  end,
}
