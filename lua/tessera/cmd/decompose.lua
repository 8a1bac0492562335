-- `tessera decompose FILE -o DIR`: NMF of a file's magnitude spectrogram, written as
-- W.npy, H.npy and model.json (tessera.nmf's format), one WAV per component and the WAV of
-- their sum, so every component can be listened to. With --hpss PART only that part of a
-- harmonic/percussive separation (tessera.hpss) is decomposed, and written as PART.wav.
-- Score-informed: --template FILE starts the next component's spectrum from FILE's
-- (tessera.nmf.templates), --onsets CSV lets the next component sound only near those
-- onsets (tessera.nmf.allowed_from_onsets); the components after them start and sound as
-- usual. With --frames T the decomposition is convolutive (tessera.nmfd): each component a
-- spectrogram T frames long, templates then starting from each file's first T frames.
-- With --midi FILE the components' events are written as a Standard MIDI File too
-- (tessera.midi.from_activations: one track per component, the tempo from
-- tessera.score.tempo). The load, the fit's options, their check and the sorting of the
-- components are tessera.batch.options's, which a batch shares: the same file and options
-- give the same factors from both commands.
local options = require "tessera.batch.options"

local format = string.format

-- "31" -> 31, "31,17" -> {31, 17} (each through convert); an error naming the flag otherwise.
local function pair(flag, text, convert)
  local a, b = text:match("^%s*([^,]-)%s*,%s*([^,]-)%s*$")
  local values = a and { convert(a), convert(b) } or { convert(text) }
  if values[1] == nil or (a and values[2] == nil) then
    error(format("decompose: %s must be one number or two separated by a comma, got '%s'", flag,
      text), 0)
  end
  return a and values or values[1]
end

-- Writes audio y to path at --rate (resampled) in --format's samples.
local function write_wav(args, y, path)
  if args.rate and args.rate ~= y.sr then y = y:resample(args.rate) end
  y:save(path, { subtype = args.format })
end

-- decompose --stereo: one stereo decomposition, its model and stereo component audio.
local function decompose_stereo(tessera, args, o, a, dir)
  if a.channels ~= 2 then
    error(format("decompose: --stereo needs a file of 2 channels, %s has %d", args.file, a.channels), 0)
  end
  for _, flag in ipairs { "frames", "hpss", "smooth" } do
    if args[flag] then error(format("decompose: --stereo takes no --%s", flag), 0) end
  end
  if #args.onsets > 0 or #args.template > 0 or args.midi then
    error("decompose: --stereo takes no --onsets, --template or --midi", 0)
  end
  local fit = options.nmf(o)
  fit.n_fft, fit.hop = o.n_fft, o.hop
  local m = tessera.stereo.decompose(a, fit)
  m.source = options.source(args.file)
  local left = m.spectrograms and m.spectrograms[1]
  m.spectrogram = m.spectrogram or left and { sr = left.sr, n_fft = left.n_fft, hop = left.hop,
                                              window = left.window }
  m:save(dir)
  local width = #tostring(m.k)
  for i = 1, m.k do
    write_wav(args, tessera.stereo.audio(m, i, { method = o.method }),
      format("%s/component_%0" .. width .. "d.wav", dir, i))
  end
  write_wav(args, tessera.stereo.audio(m, nil, { method = o.method }), dir .. "/sum.wav")
  io.write(format("decomposed %s (%.2f s at %d Hz, stereo) into %d components: loss %s %.6g after "
    .. "%d iterations; wrote %s/{W.npy, H.npy, model.json, component_*.wav, sum.wav}\n", args.file,
    a:duration(), a.sr, m.k, o.loss, m.loss, m.iterations, dir))
  local pans = tessera.stereo.pan(m)
  for i, v in ipairs(pans) do pans[i] = format("%d: %+.2f", i, v) end
  io.write("pan (-1 left, 1 right): ", table.concat(pans, ", "), "\n")
end

-- --midi's folder and --midi-threshold, checked before the fit.
local function check_midi(args)
  local fs = require "tessera.fs"
  local folder = fs.dirname(args.midi)
  if not fs.is_dir(folder) then
    error(format("decompose: --midi: cannot write in '%s': No such folder", folder), 0)
  end
  if not require("luv").fs_access(folder, "W") then
    error(format("decompose: --midi: cannot write in '%s': Permission denied", folder), 0)
  end
  local t = args.midi_threshold
  if not t or t ~= t or t < 0 or t > 1 then
    error(format("decompose: --midi-threshold must be a number in 0..1, got '%s'", tostring(t)), 0)
  end
end

-- The events of every component as a MIDI file, at the activations' tempo (120 BPM when
-- they are too short to hold one, or never rise).
local function write_midi(args, m)
  local tessera = require "tessera"
  local ok, tempo = pcall(tessera.score.tempo, m.H, { sr = args.sr, hop = args.hop })
  local bpm = ok and tempo.bpm or 120
  local song = tessera.midi.from_activations(m.H, { sr = args.sr, hop = args.hop, bpm = bpm,
                                                    threshold = args.midi_threshold })
  tessera.midi.write(args.midi, song)
  local notes = 0
  for _, track in ipairs(song.tracks) do notes = notes + #track.events end
  io.write(format("wrote %s: %d notes in %d tracks at %.2f BPM%s\n", args.midi, notes, #song.tracks,
    bpm, ok and "" or " (no tempo found: " .. tostring(tempo):gsub("^tessera.score.tempo: ", "") .. ")"))
end

return {
  name = "decompose",
  help = "decompose an audio file with NMF and write W, H, the model and one WAV per component",
  setup = function(parser)
    parser:argument("file", "Audio file (WAV, FLAC, Ogg, ...).")
    parser:option("-o --out", "Folder to write (created if missing)."):args(1):count(1)
    options.setup(parser)
    parser:option("--template", "A sound whose spectrum starts the next component's template "
      .. "(repeatable: component 1, 2, ... in order)."):count("*")
    parser:option("--template-method", "The template of a sound: mean (its average magnitude "
      .. "spectrum) or rank1 (its own one-component NMF); with --frames, frames (its first "
      .. "frames).", "mean"):choices { "mean", "rank1", "frames" }
    parser:option("--frames", "Convolutive NMF (tessera.nmfd): templates this many frames long, "
      .. "so a drum's decay is one component (try 8).", nil):convert(math.tointeger)
    parser:option("--smooth", "Temporal continuity of every activation (smooth_H, mu only): "
      .. "a weight >= 0, relative to the divergence at the start (try 0.01 to 1)."):convert(tonumber)
    parser:flag("--freeze-templates", "Keep the --template spectra as they are (fixed_W): "
      .. "the other components adapt around them.")
    parser:option("--onsets", "A CSV of onset times in seconds (first column; a header line is "
      .. "skipped): the next component sounds only near them (repeatable: component 1, 2, ... "
      .. "in order; the rest sound anywhere). Needs --solver mu."):count("*")
    parser:option("--onset-before", "Seconds a component may sound before its onset.", "0.05")
      :convert(tonumber)
    parser:option("--onset-after", "Seconds a component may sound after its onset.", "0.5")
      :convert(tonumber)
    parser:option("--hpss", "Decompose only this part of a harmonic/percussive separation "
      .. "(tessera.hpss), written as PART.wav too; the components then add up to it.")
      :choices { "harmonic", "percussive", "residual" }
    parser:option("--hpss-kernel", "Median kernel of the separation: frames (harmonic) and "
      .. "bins (percussive), one integer or H,P.", "31")
    parser:option("--hpss-margin", "Margin of the separation, one number or H,P (>= 1; above "
      .. "1: hard masks and a residual).", "1")
    parser:option("--rate", "Sample rate of the WAV files written (default: --sr's).")
      :convert(math.tointeger)
    parser:option("--format", "Samples of the WAV files written: float, pcm16 or pcm24.", "float")
      :choices { "float", "pcm16", "pcm24" }
    parser:flag("--stereo", "Keep both channels of a stereo file (tessera.stereo): templates "
      .. "shared, activations per channel (H.npy: the left channel's frames, then the right's); "
      .. "component audio in stereo, and each component's pan printed.")
    parser:flag("--percussiveness", "Print each component's percussiveness: the share of its "
      .. "energy the percussive mask of what was decomposed keeps (same kernel and margin).")
    parser:option("--midi", "Also write the components' events as a Standard MIDI File: one "
      .. "track per component, a General MIDI drum note each (36, 38, 42, 46, ...) on channel "
      .. "10, velocity from the peak's height, the tempo estimated from the activations.")
    parser:option("--midi-threshold", "Peaks below this share of their component's highest "
      .. "are not notes (0..1).", "0.1"):convert(tonumber)
  end,
  run = function(args)
    local tessera = require "tessera"
    local fs = require "tessera.fs"
    local o = options.from_args(args, "decompose", { T = args.frames })
    for key, value in pairs(o) do args[key] = value end -- the checked numbers, for the steps below
    local dir = args.out:gsub("/+$", "")
    if dir == "" then dir = "/" end
    -- The folder is made (or found unusable) before the work, not after a long fit.
    local made, why = fs.mkdir_p(dir)
    if not made then error("decompose: " .. why, 0) end
    if not require("luv").fs_access(dir, "W") then
      error(format("decompose: cannot write in '%s': Permission denied", dir), 0)
    end
    if args.midi then check_midi(args) end
    if args.rate and (args.rate < 1000 or args.rate > 768000) then
      error(format("decompose: --rate must be an integer in 1000..768000 (Hz), got %d", args.rate), 0)
    end
    local a
    if args.stereo then
      a = tessera.audio.load(args.file, { sr = o.sr, offset = o.offset, duration = o.duration or nil,
                                          mono = false, quality = o.resample })
      return decompose_stereo(tessera, args, o, a, dir)
    end
    a = options.load(args.file, o)
    -- The channel count, for the summary (a few samples' read; the mix above is the load's).
    local channels = tessera.audio.load(args.file, { duration = 0.01, mono = false }).channels
    local S = tessera.stft(a, { n_fft = o.n_fft, hop = o.hop })
    local hpss_opts = { kernel = pair("--hpss-kernel", args.hpss_kernel, math.tointeger),
                        margin = pair("--hpss-margin", args.hpss_margin, tonumber) }
    if args.hpss then
      S = tessera.hpss(S, hpss_opts)[args.hpss]
      write_wav(args, S:istft(), format("%s/%s.wav", dir, args.hpss))
    end
    local opts = options.nmf(o)
    opts.smooth_H, opts.T = args.smooth, args.frames
    if args.frames and args.template_method ~= "mean" and args.template_method ~= "frames" then
      error("decompose: --template-method must be frames with --frames", 0)
    end
    if #args.template > 0 then
      opts.W_start = tessera.nmf.templates(args.template, { sr = o.sr, n_fft = o.n_fft,
        hop = o.hop, T = args.frames,
        method = args.frames and "frames" or args.template_method })
      if args.freeze_templates then
        opts.fixed_W = {}
        for i = 1, #args.template do opts.fixed_W[i] = i end
      end
    elseif args.freeze_templates then
      error("decompose: --freeze-templates needs --template", 0)
    end
    if #args.onsets > 0 then
      local lists = {}
      for i, path in ipairs(args.onsets) do lists[i] = tessera.nmf.read_onsets(path) end
      local _, p = S:shape()
      opts.allowed_H = tessera.nmf.allowed_from_onsets(lists, { p = p, k = o.k, sr = o.sr,
        n_fft = o.n_fft, hop = o.hop, before = args.onset_before, after = args.onset_after })
    end
    -- The Spectrogram, not its magnitude: the model then records sr, n_fft, hop and window.
    local m = (args.frames and tessera.nmfd or tessera.nmf)(S, opts)
    -- Components started from --template or --onsets keep their places (and scale).
    if #args.template == 0 and #args.onsets == 0 then options.tidy(m, o) end
    m.source = options.source(args.file)
    m:save(dir)
    local width = #tostring(m.k)
    local bar = require("tessera.batch.progress").steps(m.k + 1, "WAV files written")
    for i = 1, m.k do
      write_wav(args, m:audio(i, S, { method = o.method }),
        format("%s/component_%0" .. width .. "d.wav", dir, i))
      bar:step()
    end
    write_wav(args, m:audio(nil, S, { method = o.method }), dir .. "/sum.wav")
    bar:step()
    bar:finish()
    io.write(format("decomposed %s%s (%.2f s at %d Hz) into %d %scomponents: loss %s %.6g after %d "
      .. "iterations; wrote %s/{W.npy, H.npy, model.json, component_*.wav, sum.wav%s}\n",
      args.file, args.hpss and format("'s %s part", args.hpss) or "", a:duration(), a.sr, m.k,
      args.frames and format("%d-frame ", args.frames) or "", args.loss, m.loss, m.iterations, dir,
      args.hpss and ", " .. args.hpss .. ".wav" or ""))
    if args.midi then write_midi(args, m) end
    if channels > 1 then
      io.write(format("%s has %d channels, decomposed as their mix (--stereo keeps two)\n",
        args.file, channels))
    end
    if args.percussiveness then
      -- Of what was decomposed: with --hpss, a separation of that part again.
      local shares = tessera.hpss.percussiveness(m, S, hpss_opts)
      for i, p in ipairs(shares) do shares[i] = format("%d: %.3f", i, p) end
      io.write("percussiveness: ", table.concat(shares, ", "), "\n")
    end
  end,
}
