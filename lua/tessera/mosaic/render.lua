-- tessera.mosaic.render: one render of a checked recipe, as a list of steps: plan the
-- layers; for each output channel, place each template source's activation rows (one C
-- call per source; a layer's pattern edits its rows first, a MIDI H supplies them), multiply
-- by its templates and sum (a morphing or pitched layer on its own), give the magnitude a
-- phase (a pitched layer its own, shifted in step); then join the channels, set the level,
-- resample to the output's rate and write the file.
local core = require "tessera.core"
local cache = require "tessera.cache"
local fs = require "tessera.fs"
local recipe = require "tessera.recipe"
local plan = require "tessera.mosaic.plan"
local sources_of = require "tessera.mosaic.sources"
local automation = require "tessera.automation"
local midi = require "tessera.midi"
local morph = require "tessera.morph"
local pitch = require "tessera.pitch"
local score = require "tessera.score"

local ipairs, pairs, pcall, tostring = ipairs, pairs, pcall, tostring

local audio, matrix = core.audio, core.matrix
-- Through its module, which adds frame_count to core.spectrogram (not loaded otherwise).
local spectrogram = require "tessera.spectrogram"

local render = {}

local fail = recipe.fail

-- The group a layer's activations are placed in: its own when it changes its templates'
-- sound (pitch, morph), else its template source's, shared with the other plain layers.
local function group_of(step, w)
  local layer = step.layer
  if layer.pitch or layer.morph then return "layer " .. layer.index end
  return w.source
end

-- The activations of model m that output channel c hears through layer: a mono model's H;
-- a stereo model's own channel, its image narrowed toward the two channels' mean by the
-- layer's width (0: the mean, 1: as it is); in a mono output, the mean.
local function channel_H(rec, m, layer, c)
  if m.channels ~= 2 then return m.H end
  local L, R = m.H:cols(1, m.frames), m.H:cols(m.frames + 1, 2 * m.frames)
  local w = rec.channels == 1 and 0 or layer.width
  if w == 1 then return c == 1 and L or R end
  local mean = (L + R):scale(0.5 * (1 - w))
  return w == 0 and mean or mean + (c == 1 and L or R):copy():scale(w)
end

-- A layer's gain in output channel c: its own, times the equal-power pan law's share
-- (1 in both channels at the centre, sqrt 2 and 0 at a side).
local function channel_gain(rec, layer, c)
  if rec.channels == 1 then return layer.gain end
  local angle = (layer.pan + 1) * math.pi / 4
  return layer.gain * math.sqrt(2) * (c == 1 and math.cos(angle) or math.sin(angle))
end

-- Row `index` of activations H (model m's, as channel c hears them) after the layer's
-- pattern (tessera.score.apply), as a 1 x frames Matrix; the tempo (for note values) is
-- H's own, worked out once per render for each model (and, for a stereo one, each channel
-- and width, which give it other activations).
local function patterned(rec, ctx, layer, H, index, m, c, tempos)
  local slot = m.channels == 2 and c .. " " .. layer.width or 1
  tempos[m] = tempos[m] or {}
  local tempo = tempos[m][slot]
  if tempo == nil then
    local ok, t = pcall(score.tempo, H, { sr = rec.sr, hop = rec.hop })
    tempo = ok and t or false
    tempos[m][slot] = tempo
  end
  local ok, row = pcall(score.apply, H:row(index), layer.pattern,
                        { tempo = tempo or nil, sr = rec.sr, hop = rec.hop })
  if not ok then fail(ctx, layer.where, "key 'pattern': %s", (tostring(row):gsub("^tessera%.score%.apply: ", ""))) end
  return row
end

-- A MIDI layer's activations: its file's notes as rows, one per template of its W (in W's
-- order), each note a copy of that template's own activation shape when W comes from one
-- source (else an impulse), over whole bars of the file's first tempo.
local function midi_rows(rec, ctx, step, sources)
  local layer = step.layer
  local ok, song = pcall(midi.read, layer.midi.file)
  if not ok then fail(ctx, layer.where, "key 'H': %s", tostring(song)) end
  local k = #step.W
  local shape = "impulse"
  local one = step.W[1].source
  for _, w in ipairs(step.W) do if w.source ~= one then one = nil end end
  if one then
    local H = channel_H(rec, sources:model(one), layer, 1)
    local rows = {}
    for i, w in ipairs(step.W) do rows[i] = H:row(w.index):totable()[1] end
    shape = core.matrix.from(rows)
  end
  local last = 0
  for _, track in ipairs(song.tracks) do
    for _, e in ipairs(track.events) do last = math.max(last, e.time + e.duration) end
  end
  local bpm = song.tempos and song.tempos[1] and song.tempos[1].bpm or song.bpm or 120
  local bar = 4 * 60 / bpm
  local frames = math.max(1, math.ceil(math.ceil(last / bar - 1e-9) * bar * rec.sr / rec.hop))
  local rows
  ok, rows = pcall(midi.to_rows, song, { note_map = layer.midi.notes, k = k, frames = frames,
                                          sr = rec.sr, hop = rec.hop, shape = shape })
  if not ok then fail(ctx, layer.where, "key 'H': %s", tostring(rows)) end
  return rows
end

-- Where each activation row goes in output channel c: per group (group_of), a list of
-- placements (see tessera.core.matrix.place) into the rows of that group's templates.
-- Returns them and how many template and activation pairs there are.
local function placements_of(rec, ctx, steps, sources, c, tempos)
  local frames_per_second = rec.sr / rec.hop
  local placements = {}
  local components = 0
  for _, step in ipairs(steps) do
    local layer = step.layer
    local gain = channel_gain(rec, layer, c)
    for i, w in ipairs(step.W) do
      local key = group_of(step, w)
      placements[key] = placements[key] or {}
      local list = placements[key]
      for _, h in ipairs(plan.drivers(step, i, w, sources)) do
        local H, row = channel_H(rec, h.model, layer, c), h.index
        if layer.pattern then H, row = patterned(rec, ctx, layer, H, row, h.model, c, tempos), 1 end
        local _, frames = H:shape()
        local length = sources.lengths[h.length]
        list[#list + 1] = { H = H, row = row, to = w.index, gain = gain,
                            stretch = layer.stretch, shift = layer.shift * frames_per_second,
                            loop = layer.loop, period = length and length / rec.hop or frames }
        components = components + 1
      end
    end
  end
  return placements, components
end

-- A template source's templates times H (for a convolutive source, T = ..., convolved).
local function product(m, H)
  return m.T and core.nmf.convolve(m.W, H, m.T) or m.W * H
end

-- A morphing layer's magnitude: its source's templates moving toward their partners in
-- `to` along the curve, times the placed activations H (rows in the source's order).
local function morphed(rec, step, H, frames, sources)
  local mo = step.layer.morph
  local name = step.W[1].source
  local from, to = sources:model(name), sources:model(mo.to.source)
  local all = {}
  for i = 1, from.k do all[i] = i end
  local B
  if mo.to.indices then
    -- Explicit partners, in the order of the layer's templates; the rest stay themselves.
    B = from.W:copy()
    for c, w in ipairs(step.W) do
      local j = mo.to.indices[(c - 1) % #mo.to.indices + 1]
      for i = 1, (B:shape()) do B:set(i, w.index, to.W:get(i, j)) end
    end
  else
    B = morph.partners(from, to, all)
  end
  return morph.layer(from.W, B, H, automation.values(mo.curve, frames, rec.sr, rec.hop))
end

-- The magnitude, as parts: `plain` (every layer that keeps its templates' sound, one
-- product per template source, summed) and `pitched` ({V, semitones per frame} per layer
-- with pitch); a morphing layer without pitch joins plain. Returns plain, pitched and their
-- sum.
local function magnitude(rec, steps, placements, frames, sources)
  local plain, pitched = nil, {}
  local function add(part) plain = plain and plain + part or part end
  for _, name in ipairs(plan.template_sources(steps)) do
    if placements[name] then
      local m = sources:model(name)
      add(product(m, matrix.place(m.k, frames, placements[name])))
    end
  end
  for _, step in ipairs(steps) do
    local layer = step.layer
    local key = "layer " .. layer.index
    if placements[key] then
      local m = sources:model(step.W[1].source)
      local H = matrix.place(m.k, frames, placements[key])
      local part = layer.morph and morphed(rec, step, H, frames, sources) or product(m, H)
      if layer.pitch then
        local semitones = automation.values(layer.pitch, frames, rec.sr, rec.hop)
        pitched[#pitched + 1] = { V = pitch.shift(part, semitones), semitones = semitones }
      else
        add(part)
      end
    end
  end
  local total = plain
  for _, p in ipairs(pitched) do total = total and total + p.V or p.V end
  return plain, pitched, total
end

-- The audio of output channel c's magnitude parts, length samples long: with a source's
-- phase (its audio, or its channel c, cut or tiled to the length; a pitched part with that
-- phase shifted in step, each part through its own inverse STFT, added), or Griffin-Lim's
-- of their sum.
local function with_phase(rec, plain, pitched, total, length, sources, c, phases)
  local stft_opts = { n_fft = rec.n_fft, hop = rec.hop, window = rec.window }
  if rec.phase.source then
    -- The phase source's STFT, once per channel it has (a mono one serves both), and its
    -- phase as angles only where a pitched layer shifts it.
    local a = sources:audio(rec.phase.source)
    local ch = a.channels > 1 and (rec.channels == 1 and 1 or c) or 1
    if not phases[ch] then
      if a.channels > 1 then a = a:channel(ch) end
      a = #a >= length and a:slice(1, length) or a:tile(length)
      phases[ch] = { S = core.stft(a, stft_opts) }
    end
    local S = phases[ch].S
    local y = plain and S:with_magnitude(plain):istft()
    for _, p in ipairs(pitched) do
      phases[ch].phase = phases[ch].phase or S:phase()
      local shifted = pitch.phase(phases[ch].phase, p.semitones, { n_fft = rec.n_fft, hop = rec.hop })
      local part = spectrogram.from_polar(p.V, shifted, S):istft()
      y = y and y:mix(part) or part
    end
    local g = rec.phase.griffinlim
    if g then -- refined: Griffin-Lim toward the whole magnitude, from the phase y has
      local Y = core.stft(y, stft_opts)
      y = core.griffinlim(total, Y, { iter = g.iter, momentum = g.momentum, init = Y:phase() })
    end
    return y
  end
  local g = rec.phase.griffinlim
  local like = core.stft(audio.new(length, rec.sr), stft_opts)
  return core.griffinlim(total, like, { iter = g.iter, momentum = g.momentum, seed = g.seed,
                                        init = g.init })
end

-- The level: normalised to a peak, or left alone unless it would clip. Returns the audio,
-- its peak before and the scale applied.
local function level(rec, y)
  local peak = y:peak()
  local scale = 1
  if rec.normalize and peak > 0 then
    scale = rec.normalize / peak
  elseif not rec.normalize and peak > 1 then
    scale = 0.99 / peak
  end
  if scale ~= 1 then y = y:gain(scale) end
  return y, peak, scale
end

-- Writes the output unless opts.write is false; returns the path written, or nil.
local function write(rec, ctx, y, opts)
  local out = opts.out and fs.resolve(opts.out) or rec.out
  if opts.write == false or not out then return nil end
  local ok, err = pcall(y.save, y, out, { subtype = rec.format })
  if not ok then fail(ctx, nil, "cannot write the output: %s", tostring(err)) end
  return out
end

local function copy_stats()
  local s = {}
  for k, v in pairs(cache.stats) do s[k] = v end
  return s
end

-- render.render(rec, opts) -> Audio, summary (see mosaic.render).
function render.render(rec, opts)
  local t0 = core.util.now()
  local before = copy_stats()
  local stats = { nmf = 0 }
  local ctx = { name = rec.name }
  local sources = sources_of.new(rec, stats)

  local steps = plan.layers(rec, ctx) -- everything that can be checked without computing
  local length = plan.output_length(rec, ctx, steps, sources)
  local frames = spectrogram.frame_count(length, { n_fft = rec.n_fft, hop = rec.hop })
  for _, step in ipairs(steps) do
    if step.layer.midi then step.midi = midi_rows(rec, ctx, step, sources) end
  end
  local channels, magnitudes, components, tempos, phases = {}, {}, 0, {}, {}
  for c = 1, rec.channels do
    local placements
    placements, components = placements_of(rec, ctx, steps, sources, c, tempos)
    local plain, pitched, V = magnitude(rec, steps, placements, frames, sources)
    channels[c] = with_phase(rec, plain, pitched, V, length, sources, c, phases)
    magnitudes[c] = V
  end
  local y = #channels == 1 and channels[1] or audio.join(channels[1], channels[2])
  local peak, scale
  y, peak, scale = level(rec, y)
  local rate = rec.rate == "source" and sources:file_format(rec.length_source).sr or rec.rate
  if rate ~= rec.sr then y = y:resample(rate) end
  local out = write(rec, ctx, y, opts)

  -- The sources in use whose files have more channels than they were read with.
  local used, downmixed = plan.used_sources(rec, steps), {}
  for _, name in ipairs(used) do
    if not rec.sources[name].stereo and sources:file_format(name).channels > 1 then
      downmixed[#downmixed + 1] = name
    end
  end
  local after = cache.stats
  return y, {
    downmixed = downmixed,
    recipe = rec.name,
    out = opts.write ~= false and out or nil,
    sr = y.sr,
    channels = y.channels,
    samples = #y,
    duration = #y / y.sr,
    layers = #rec.layers,
    components = components,
    sources = #used,
    phase = rec.phase.source or "griffinlim",
    nmf = stats.nmf,
    cache = { hits = after.hits - before.hits, misses = after.misses - before.misses,
              corrupt = after.corrupt - before.corrupt, writes = after.writes - before.writes },
    peak = peak,
    scale = scale,
    seconds = core.util.now() - t0,
    magnitude = magnitudes[1],
    magnitudes = magnitudes,
  }
end

return render
