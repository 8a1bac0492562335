-- MIDI both ways: the amen break's components leave as a Standard MIDI File (one track per
-- component, the tempo tessera.score finds), and a pattern written here as MIDI, as any
-- sequencer would, plays the break's own kick and snare templates.
--
--   bin/tessera examples/midi_groove.lua [OUTDIR]      (default out/midi_groove)
--
-- Loaded with dofile from another script, it returns the function groove(outdir) -> Audio,
-- summary, tempo (examples/paper_music.lua uses it).
local tessera = require "tessera"

local samples = "/usr/share/sonic-pi/samples/"

local function groove(outdir)
  assert(require("tessera.fs").mkdir_p(outdir))

  -- 1. Components to MIDI.
  local a = tessera.audio.load(samples .. "loop_amen.flac", { sr = 22050 })
  local m = tessera.nmf(tessera.stft(a):magnitude(), { k = 4, loss = "kl", max_iter = 150, progress = false })
  local tempo = tessera.score.tempo(m.H, { sr = 22050, hop = 512 })
  tessera.midi.write(outdir .. "/amen.mid", tessera.midi.from_activations(m.H, { bpm = tempo.bpm }),
                     { bpm = tempo.bpm })

  -- 2. A two-bar pattern at 100 BPM: kick on 1 and the "and" of 2, snare on 2 and 4.
  local beat = 60 / 100
  local kick, snare = {}, {}
  local function note(list, at, key, velocity)
    list[#list + 1] = { time = at * beat, note = key, velocity = velocity, duration = 0.1 }
  end
  for bar = 0, 1 do
    for _, b in ipairs { 0, 1.5 } do note(kick, 4 * bar + b, 36, 120) end
    for _, b in ipairs { 1, 3 } do note(snare, 4 * bar + b, 38, 110) end
  end
  tessera.midi.write(outdir .. "/groove.mid", { bpm = 100, tracks = {
    { name = "kick", events = kick }, { name = "snare", events = snare } } }, { bpm = 100 })

  -- 3. The pattern plays the break's components 1 and 2 (each note a copy of its own hit).
  local y, summary = tessera.mosaic.render({
    duration = 9.6, phase = "drums",
    sources = { drums = { file = samples .. "loop_amen.flac", k = 4, loss = "kl", max_iter = 150 } },
    layers = { { W = "drums:1-2", H = outdir .. "/groove.mid", notes = { [36] = 1, [38] = 2 } } },
  }, { out = outdir .. "/groove.wav" })
  return y, summary, tempo
end

if arg and arg[0] and arg[0]:match("midi_groove%.lua$") then
  local outdir = arg[1] or "out/midi_groove"
  local _, summary, tempo = groove(outdir)
  print(("tempo of the break: %.1f BPM; wrote %s/amen.mid, %s/groove.mid, %s"):format(tempo.bpm,
    outdir, outdir, summary.out))
end
return groove
