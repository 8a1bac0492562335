-- `tessera live RECIPE.lua [-o OUT.wav] [--play] [--once]`: renders a recipe, then renders
-- it again on every save of the recipe or of its sources, one line per render, until
-- Ctrl-C (see tessera.live).
return {
  name = "live",
  help = "render a recipe, then again on every save of it or its sources (live coding)",
  setup = function(parser)
    parser:argument("recipe", "Recipe file (Lua, run in a sandbox).")
    parser:option("-o --out", "Output file (.wav or .flac); overrides the recipe's 'out'.")
    parser:flag("--once", "Render once and exit with the render's status (for scripts).")
    parser:flag("--play", "Play each good render in the background (pw-play, paplay or aplay, "
      .. "the first found), stopping the previous one.")
    parser:option("--player", "The program --play uses (given the output file as its argument).")
    parser:option("--debounce", "Milliseconds to wait for more events before a render.", "50")
      :convert(math.tointeger)
    parser:option("--allow", "A folder the recipe's sources may come from, besides its own and "
      .. "the sonic-pi samples, and its 'out' may lead to through a link (repeatable).", nil, nil, 1, "*")
    parser:option("--cache-dir",
      "Cache folder (default: TESSERA_CACHE_DIR, then XDG_CACHE_HOME/tessera).")
    parser:option("--recipe-seconds", "Wall-clock limit of the whole render, in seconds (0: none; "
      .. "default TESSERA_RECIPE_SECONDS, else 60).")
      :convert(tonumber)
  end,
  run = function(args)
    if args.debounce < 0 then
      error(string.format("live: --debounce must be >= 0, got %d", args.debounce), 0)
    end
    return require("tessera.live").run(args.recipe, {
      out = args.out, once = args.once, play = args.play or args.player ~= nil,
      player = args.player, debounce = args.debounce / 1000, allow = args.allow,
      cache_dir = args.cache_dir,
      seconds = require("tessera.sandbox").check_seconds(args.recipe_seconds,
        "live: --recipe-seconds"),
    })
  end,
}
