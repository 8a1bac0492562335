-- `tessera info FILE... [--json]`: each audio file's container and encoding (format, subtype,
-- bit depth: its header, tessera.audio.info), then its sample rate, channels, length, peak
-- and RMS (read through tessera.audio.load with every channel kept). A file that cannot be
-- read is reported on stderr and the others are still shown; the status is then 1.
local json = require "tessera.json"

local format = string.format

-- Decibels relative to full scale; -inf for silence, as audio tools print it.
local function dbfs(x)
  if x <= 0 then return "-inf" end
  return format("%.2f", 20 * math.log(x, 10))
end

-- The facts of one file, as the JSON object shows them.
local function facts(file)
  local audio = require("tessera").audio
  local a = audio.load(file, { mono = false }) -- first: its message says why a file is bad
  local header = audio.info(file)
  return {
    file = file,
    format = header.format,
    subtype = header.subtype,
    bits = header.bits,
    sr = a.sr,
    channels = a.channels,
    frames = #a,
    duration = a:duration(),
    peak = a:peak(),
    rms = a:rms(),
  }
end

local function text(info)
  local depth = info.bits > 0 and format(", %d bit", info.bits) or ""
  return format("%s\n", info.file),
    format("  format       %s, %s%s\n", info.format, info.subtype, depth),
    format("  sample rate  %d Hz\n", info.sr),
    format("  channels     %d\n", info.channels),
    format("  frames       %d\n", info.frames),
    format("  duration     %.3f s\n", info.duration),
    format("  peak         %.6f (%s dBFS)\n", info.peak, dbfs(info.peak)),
    format("  rms          %.6f (%s dBFS)\n", info.rms, dbfs(info.rms))
end

return {
  name = "info",
  help = "print audio files' format, bit depth, sample rate, channels, length, peak and RMS",
  setup = function(parser)
    parser:argument("files", "Audio files (WAV, FLAC, Ogg, ...: what libsndfile reads)."):args("+")
    parser:flag("--json", "Print one JSON array, an object per file (an unreadable one: "
      .. "{file, error}).")
  end,
  run = function(args)
    local cli = require "tessera.cli"
    local list, failed = {}, false
    for _, file in ipairs(args.files) do
      local ok, info
      if cli.debugging() then -- the error and its traceback as they come
        ok, info = true, facts(file)
      else
        ok, info = pcall(facts, file)
      end
      if not ok then
        failed = true
        local msg = cli.strip_position(tostring(info))
        io.stderr:write("tessera: ", msg, "\n")
        info = { file = file, error = msg }
      end
      list[#list + 1] = info
      if not args.json and ok then
        if #list > 1 then io.write("\n") end
        io.write(text(info))
      end
    end
    if args.json then
      -- An array even for one file, so a script reads every answer the same way.
      io.write(#list > 0 and json.encode(list) or "[]", "\n")
    end
    return failed and 1 or 0
  end,
}
