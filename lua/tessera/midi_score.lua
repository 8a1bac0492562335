-- tessera.midi.from_activations and tessera.midi.to_rows: between activations (H, frames)
-- and songs (tessera.midi's tables, seconds). A component becomes a track of notes on one
-- key, as a drum machine's pad does; a note on a key becomes an activation of the
-- component mapped to it.
local args = require "tessera.args"
local core = require "tessera.core"
local score = require "tessera.score"

local ipairs, pairs, type = ipairs, pairs, type
local ceil, floor, max = math.ceil, math.floor, math.max
local format = string.format

local M = {}

-- General MIDI percussion (channel 10): kick, snare, closed hi-hat, open hi-hat, clap, low
-- tom, high-mid tom, ride, crash, side stick, low floor tom, high floor tom, low-mid tom,
-- high tom, cowbell, maracas.
M.DRUM_NOTES = { 36, 38, 42, 46, 39, 45, 48, 51, 49, 37, 41, 43, 47, 50, 56, 70 }

local FROM = "tessera.midi.from_activations"
local TO = "tessera.midi.to_rows"

local function geometry(who, o)
  return o.sr == nil and 22050 or args.integer(who, "sr", o.sr, 1),
         o.hop == nil and 512 or args.integer(who, "hop", o.hop, 1)
end

-- A list of k notes (0..127).
local function notes_for(k, notes)
  if notes == nil then
    if k > #M.DRUM_NOTES then
      args.fail(FROM, "H has %d rows and the default notes cover %d (give notes = {...})", k,
        #M.DRUM_NOTES)
    end
    return M.DRUM_NOTES
  end
  if type(notes) ~= "table" then args.fail(FROM, "notes must be a list of MIDI notes, got %s", args.show(notes)) end
  if #notes < k then args.fail(FROM, "notes has %d entries for the %d rows of H", #notes, k) end
  for i = 1, k do args.integer(FROM, format("notes[%d]", i), notes[i], 0, 127) end
  return notes
end

-- midi.from_activations(H [, opts]) -> song { bpm =, tracks = { { name =, events = ... } } }:
-- one track per row of H (a k x p Matrix), a note per event of the row (score.events with
-- opts.threshold, min_gap and strength). opts:
--   sr = 22050, hop = 512   the STFT's: an event at frame f starts at f * hop / sr seconds
--   notes                   one MIDI note per row (default: General MIDI drums 36, 38, 42,
--                           46, 39, 45, 48, 51, ...: kick, snare, closed hat, open hat, ...)
--   names                   one track name per row (default "component 1", ...)
--   channel = 9             0..15 (9 is General MIDI's drum channel 10)
--   velocity = "row"        "row": each row's strongest event is 127 and the others in
--                           proportion (an NMF row's scale says little about loudness
--                           next to another row's); "global": H's strongest event is 127
--   bpm = 120               the song's tempo (midi.write writes it; pass score.tempo's)
--   max_duration            seconds a note lasts at most (default a 16th note at bpm); a
--                           note lasts until the next event of its row, within that
-- Velocities are round(127 * strength / top), at least 1.
function M.from_activations(H, opts)
  if core.type(H) ~= "Matrix" then args.fail(FROM, "H must be a k x p Matrix, got %s", args.show(H)) end
  local o = args.options(FROM, opts, { "sr", "hop", "notes", "names", "channel", "velocity", "bpm",
    "max_duration", "threshold", "min_gap", "strength" })
  local sr, hop = geometry(FROM, o)
  local k, p = H:shape()
  if k == 0 or p == 0 then args.fail(FROM, "H is empty (%d x %d)", k, p) end
  local notes = notes_for(k, o.notes)
  if o.names ~= nil and type(o.names) ~= "table" then
    args.fail(FROM, "names must be a list of strings, got %s", args.show(o.names))
  end
  local channel = o.channel == nil and 9 or args.integer(FROM, "channel", o.channel, 0, 15)
  local scaling = o.velocity == nil and "row" or o.velocity
  if scaling ~= "row" and scaling ~= "global" then
    args.fail(FROM, "velocity must be 'row' or 'global', got %s%s", args.show(o.velocity),
      args.did_you_mean(o.velocity, { "row", "global" }))
  end
  local bpm = o.bpm == nil and 120 or args.positive(FROM, "bpm", o.bpm)
  local cap = o.max_duration == nil and 15 / bpm or args.positive(FROM, "max_duration", o.max_duration)
  local pick = score.event_options(FROM, { threshold = o.threshold, min_gap = o.min_gap,
                                           strength = o.strength })
  local rows, tops, global = H:totable(), {}, 0
  local lists = {}
  for i = 1, k do
    args.row(FROM, rows[i], format("row %d of H", i))
    lists[i] = score.pick(rows[i], pick)
    tops[i] = 0
    for _, e in ipairs(lists[i]) do tops[i] = max(tops[i], e.strength) end
    global = max(global, tops[i])
  end
  local seconds = hop / sr
  local tracks = {}
  for i = 1, k do
    local name = o.names and o.names[i] or format("component %d", i)
    if type(name) ~= "string" then args.fail(FROM, "names[%d] must be a string, got %s", i, args.show(name)) end
    local top = scaling == "row" and tops[i] or global
    local events, list = {}, lists[i]
    for j, e in ipairs(list) do
      local time = e.frame * seconds
      local next_time = list[j + 1] and list[j + 1].frame * seconds or (p - 1) * seconds
      local duration = next_time > time and math.min(cap, next_time - time) or math.min(cap, seconds)
      events[j] = { time = time, note = notes[i], velocity = max(1, floor(127 * e.strength / top + 0.5)),
                    duration = duration, channel = channel }
    end
    tracks[i] = { name = name, events = events }
  end
  return { bpm = bpm, tracks = tracks }
end

-- The note map: { [note] = row } with rows >= 1; default the drum notes to rows 1, 2, ...
local function note_map_of(map)
  if map == nil then
    map = {}
    for i, n in ipairs(M.DRUM_NOTES) do map[n] = i end
    return map
  end
  if type(map) ~= "table" then
    args.fail(TO, "note_map must be a table {[note] = row, ...}, got %s", args.show(map))
  end
  for note, row in pairs(map) do
    args.integer(TO, "a note of note_map", note, 0, 127)
    args.integer(TO, format("note_map[%s]", args.show(note)), row, 1)
  end
  return map
end

-- midi.to_rows(song [, opts]) -> a k x frames Matrix of activations, and the number of
-- notes left out (their key is not in the map): every note of every track (midi.read's
-- song, or from_activations') an event at frame time * sr / hop (fractional frames are
-- split between two frames) in the row note_map gives its key. opts:
--   note_map                { [note] = row } (default: from_activations' drum notes to
--                           rows 1..16, so its songs come back to their rows)
--   k                       rows (default the largest row in note_map)
--   frames                  columns (default: up to the last note's end)
--   sr = 22050, hop = 512
--   shape = "impulse"       each note an impulse of velocity / 127; or a Matrix with k
--                           rows (a decomposition's H): each note a copy of that row's own
--                           shape (score.render), velocity 127 being its strongest peak
--   span = 64               shapes: frames after the peak at most
function M.to_rows(song, opts)
  if type(song) ~= "table" or type(song.tracks) ~= "table" then
    args.fail(TO, "song must be a table with tracks (as midi.read gives), got %s", args.show(song))
  end
  local o = args.options(TO, opts, { "note_map", "k", "frames", "sr", "hop", "shape", "span" })
  local sr, hop = geometry(TO, o)
  local map = note_map_of(o.note_map)
  local k = 0
  for _, row in pairs(map) do k = max(k, row) end
  if o.k ~= nil then k = args.integer(TO, "k", o.k, 1) end
  if k == 0 then args.fail(TO, "note_map maps no note (give note_map or k)") end
  local rate = sr / hop
  local lists, skipped, last = {}, 0, 0
  for i = 1, k do lists[i] = {} end
  for t, track in ipairs(song.tracks) do
    if type(track) ~= "table" or type(track.events or {}) ~= "table" then
      args.fail(TO, "track %d must be a table {name=, events=}, got %s", t, args.show(track))
    end
    for j, e in ipairs(track.events or {}) do
      local where = format("%s: track %d, event %d", TO, t, j)
      if type(e) ~= "table" then args.fail(where, "must be a table, got %s", args.show(e)) end
      args.nonnegative(where, "time", e.time)
      local velocity = args.integer(where, "velocity", e.velocity, 0, 127)
      local row = map[e.note]
      if row and row <= k then
        local list = lists[row]
        list[#list + 1] = { frame = e.time * rate, strength = velocity / 127 }
      else
        skipped = skipped + 1
      end
      last = max(last, (e.time + (args.is_finite(e.duration) and e.duration or 0)) * rate)
    end
  end
  local frames = o.frames == nil and max(1, ceil(last) + 1) or args.integer(TO, "frames", o.frames, 1)
  local span = o.span == nil and score.defaults.span or args.integer(TO, "span", o.span, 0)
  local shapes
  if o.shape ~= nil and o.shape ~= "impulse" then
    if core.type(o.shape) ~= "Matrix" then
      args.fail(TO, "shape must be \"impulse\" or a Matrix with %d rows, got %s", k, args.show(o.shape))
    end
    local rows = o.shape:shape()
    if rows < k then args.fail(TO, "shape has %d rows, fewer than the %d of the note map", rows, k) end
    shapes = o.shape:totable()
  end
  local out = {}
  for i = 1, k do
    local r = { span = span }
    local list = lists[i]
    if shapes then
      local x = args.row(TO, shapes[i], format("row %d of shape", i))
      local cuts = score.pick(x, score.event_options(TO))
      local top = 0
      for _, e in ipairs(cuts) do top = max(top, e.strength) end
      r.x, r.cuts = x, score.cut_frames(cuts)
      for _, e in ipairs(list) do e.strength = e.strength * top end
    end
    out[i] = score.render_values(list, frames, r)
  end
  return core.matrix.from(out), skipped
end

return M
