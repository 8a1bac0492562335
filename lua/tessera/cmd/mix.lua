-- `tessera mix RECIPE.lua -o DIR`: a known mixture (see tessera.mixture) written as a
-- folder: mix.wav, stems/<name>.wav, onsets/<name>.csv and mixture.json.
local format = string.format

local HELP = [[
The recipe is a Lua file returning a table (run in tessera's sandbox):

  return {
    duration = 4, sr = 22050, seed = 1, bpm = 120,
    stems = {
      { name = "kick", file = "/usr/share/sonic-pi/samples/drum_bass_hard.flac",
        pattern = "x...x...|x.x.x..." },              -- x hit, . or - rest, | space ignored
      { name = "snare", file = "/usr/share/sonic-pi/samples/drum_snare_hard.flac",
        onsets = { 0.5, 1.5, 2.5, 3.5 }, db = -3 },   -- seconds; db or gain (linear)
      { name = "hat", file = "/usr/share/sonic-pi/samples/drum_cymbal_closed.flac",
        every = 0.25, offset = 0.125, gain = 0.5, jitter = 0.005, gain_jitter = 2 },
    },
  }

A pattern step is a sixteenth at bpm (steps_per_beat = 4) or 'step' seconds; it repeats
to the end unless loop = false. jitter (seconds) and gain_jitter (dB) are uniform and
seeded: the same seed gives the same files. Sources are mixed down to mono and resampled
to sr. The stems are scaled by one common factor only when the mix would clip (or to
'normalize' = PEAK), so mix = sum of stems; the factor is in mixture.json. Relative files
are read from the recipe's folder; sources may come from there, the sonic-pi samples and
--allow folders.]]

return {
  name = "mix",
  help = "place sounds at onsets into a known mixture: the mix, each stem and its onsets",
  setup = function(parser)
    parser:epilog(HELP)
    parser:argument("recipe", "Mixture recipe (a Lua file returning the spec).")
    parser:option("-o --out", "Folder to write (replaced only if it holds an earlier mixture)."):args(1):count(1)
    parser:option("--seed", "Seed of the jitter (overrides the recipe's).")
    parser:option("--allow", "A folder the recipe's sources may come from, besides its own and "
      .. "the sonic-pi samples (repeatable).", nil, nil, 1, "*")
  end,
  run = function(args)
    local mixture = require "tessera.mixture"
    local spec, ctx = mixture.load(args.recipe, { allow = args.allow })
    if args.seed ~= nil then
      local seed = math.tointeger(tonumber(args.seed))
      if seed == nil then error(format("mix: --seed must be an integer, got '%s'", args.seed), 0) end
      if type(spec) == "table" then spec.seed = seed end
    end
    local m = mixture.build(spec, ctx)
    local dir = mixture.write(m, args.out)
    local counts = {}
    for i, s in ipairs(m.stems) do counts[i] = format("%s %d", s.name, #s.onsets) end
    io.write(format("wrote %s: %.2f s at %d Hz, %d stems (onsets: %s), peak %.3f, scale %.6g\n",
      dir, m.duration, m.sr, #m.stems, table.concat(counts, ", "), m.mix:peak(), m.scale))
  end,
}
