-- `tessera mosaic RECIPE.lua [-o OUT.wav]`: renders a mosaic recipe (see tessera.recipe)
-- and prints one line: where it went, how long, and what the cache saved.
return {
  name = "mosaic",
  help = "render a mosaic recipe (a Lua file) to a WAV or FLAC file",
  setup = function(parser)
    parser:argument("recipe", "Recipe file (Lua, run in a sandbox).")
    parser:option("-o --out", "Output file (.wav or .flac); overrides the recipe's 'out'.")
    parser:option("--allow", "A folder the recipe's sources may come from, besides its own and "
      .. "the sonic-pi samples, and its 'out' may lead to through a link (repeatable).", nil, nil, 1, "*")
    parser:option("--cache-dir", "Cache folder (default: TESSERA_CACHE_DIR, then XDG_CACHE_HOME/tessera).")
    parser:option("--recipe-seconds", "Wall-clock limit of the whole render, in seconds (0: none; "
      .. "default TESSERA_RECIPE_SECONDS, else 60).")
      :convert(tonumber)
  end,
  run = function(args)
    local mosaic = require "tessera.mosaic"
    local sandbox = require "tessera.sandbox"
    -- One wall clock for loading and rendering: the recipe's code and the work it asks for.
    local seconds = sandbox.check_seconds(args.recipe_seconds, "mosaic: --recipe-seconds")
    local ok, summary = pcall(sandbox.timed, seconds, function()
      local rec = mosaic.load(args.recipe, { out = args.out, allow = args.allow })
      if rec.out == nil then
        error(string.format("mosaic: %s has no 'out': give -o OUT.wav", args.recipe), 0)
      end
      local _, s = mosaic.render(rec, { cache_dir = args.cache_dir })
      return s
    end)
    if not ok then error(mosaic.message(summary), 0) end
    io.write(mosaic.describe(summary), "\n")
  end,
}
