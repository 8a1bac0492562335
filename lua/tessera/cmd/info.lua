-- `tessera info FILE [--json]`: an audio file's sample rate, channels, length, peak and
-- RMS, read through tessera.audio.load with every channel kept.
local cjson = require "cjson"

local format = string.format

-- Decibels relative to full scale; -inf for silence, as audio tools print it.
local function dbfs(x)
  if x <= 0 then return "-inf" end
  return format("%.2f", 20 * math.log(x, 10))
end

return {
  name = "info",
  help = "print an audio file's sample rate, channels, length, peak and RMS",
  setup = function(parser)
    parser:argument("file", "Audio file (WAV, FLAC, Ogg, ...: what libsndfile reads).")
    parser:flag("--json", "Print one JSON object instead of text.")
  end,
  run = function(args)
    local audio = require("tessera").audio
    local a = audio.load(args.file, { mono = false })
    local info = {
      file = args.file,
      sr = a.sr,
      channels = a.channels,
      frames = #a,
      duration = a:duration(),
      peak = a:peak(),
      rms = a:rms(),
    }
    if args.json then
      io.write(cjson.encode(info), "\n")
      return
    end
    io.write(format("%s\n", info.file),
      format("  sample rate  %d Hz\n", info.sr),
      format("  channels     %d\n", info.channels),
      format("  frames       %d\n", info.frames),
      format("  duration     %.3f s\n", info.duration),
      format("  peak         %.6f (%s dBFS)\n", info.peak, dbfs(info.peak)),
      format("  rms          %.6f (%s dBFS)\n", info.rms, dbfs(info.rms)))
  end,
}
