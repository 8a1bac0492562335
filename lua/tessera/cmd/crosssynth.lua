-- `tessera crosssynth SOURCE TARGET -o OUT.wav`: "Let it Bee" cross-synthesis, the target
-- re-played with the source's sounds (see tessera.crosssynth); prints one line.
local tointeger = math.tointeger

return {
  name = "crosssynth",
  help = "re-play a target track with the sounds of a source (Let it Bee cross-synthesis)",
  setup = function(parser)
    parser:argument("source", "Audio file whose sounds are used.")
    parser:argument("target", "Audio file that is re-played.")
    parser:option("-o --out", "Output file (.wav or .flac)."):args(1):count(1)
    parser:option("--iter", "Iterations of the fit.", "20"):convert(tointeger)
    parser:option("-r --repetition", "Frames on either side within which a source frame is "
      .. "not repeated (0: off).", "3"):convert(tointeger)
    parser:option("-p --polyphony", "Source frames sounding at once.", "10"):convert(tointeger)
    parser:option("-c --continuity", "Half-length of the diagonal continuity kernel (0: off).",
      "3"):convert(tointeger)
    parser:option("--seed", "Seed of the activations' random start.", "0"):convert(tointeger)
    parser:option("--sr", "Sample rate to work at.", "22050"):convert(tointeger)
    parser:option("--n-fft", "STFT window size.", "2048"):convert(tointeger)
    parser:option("--hop", "STFT hop.", "512"):convert(tointeger)
    parser:option("--source-duration", "Seconds of the source to use (default: all).")
      :convert(tonumber)
    parser:option("--target-duration", "Seconds of the target to use (default: all).")
      :convert(tonumber)
  end,
  run = function(args)
    local crosssynth = require "tessera.crosssynth"
    local function input(file, duration)
      if duration then return { file = file, duration = duration } end
      return file
    end
    local _, info = crosssynth.crosssynth {
      source = input(args.source, args.source_duration),
      target = input(args.target, args.target_duration),
      out = args.out, iter = args.iter, r = args.repetition, p = args.polyphony,
      c = args.continuity, seed = args.seed, sr = args.sr, n_fft = args.n_fft, hop = args.hop,
    }
    io.write(crosssynth.describe(info), "\n")
  end,
}
