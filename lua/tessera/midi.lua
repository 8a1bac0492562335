--- tessera.midi: Standard MIDI Files, written and read in Lua (string.pack / unpack), so
-- that activations can leave tessera as a pattern any sequencer plays, and a pattern from
-- any sequencer can drive a layer's activations.
--
--   local song = midi.from_activations(m.H, { sr = 22050, hop = 512, bpm = 136 })
--   midi.write("drums.mid", song)
--   local back = midi.read("drums.mid")      -- back.tracks[2].events[1].time, .note, ...
--   local H = midi.to_rows(back, { note_map = { [36] = 1, [38] = 2 }, frames = 431 })
--
-- A SONG is { bpm =, tracks = { { name =, events = { EVENT, ... } }, ... } } and, when
-- read, also format, ppq (or smpte = { fps =, ticks_per_frame = }), tempos = { { tick =,
-- time =, bpm = }, ... }. An EVENT is a note: { time = seconds, note = 0..127, velocity =
-- 1..127, duration = seconds, channel = 0..15 }, and when read also tick (its onset in
-- ticks). Times are seconds from the start, whatever the file's tempo map.
--
-- WRITING (midi.write): format 1; track 1 holds the tempo (one set_tempo) and a 4/4 time
-- signature, then one track per song track (its name as a track-name meta event), each
-- note a note-on and a note-off (status 0x8n, release velocity 64) at its onset and end,
-- rounded to the nearest tick; at one tick note-offs come before note-ons. Running status
-- is used (a status byte is left out when it repeats) unless opts.running_status = false.
-- Two notes on one key and channel cannot overlap in MIDI: a note ends where the next one
-- on its key starts, and of two on one key and tick only the louder is written.
-- READING (midi.read): formats 0 and 1; running status; a note-on with velocity 0 is a
-- note-off; tempo changes anywhere (all tracks' set_tempo events form the tempo map, 120
-- BPM before the first); meta, sysex and every other channel message are read past. A note
-- off pairs with the earliest open note of its key and channel; a note still open at the
-- end of its track ends there. A malformed or truncated file is an error naming the path
-- and the byte offset (0-based) where reading stopped.
-- @module tessera.midi
local args = require "tessera.args"
local files = require "tessera.files"
local fs = require "tessera.fs"

local ipairs, pairs, require, type = ipairs, pairs, require, type
local floor, max = math.floor, math.max
local format = string.format
local byte, char, pack, unpack = string.byte, string.char, string.pack, string.unpack
local concat, sort = table.concat, table.sort

local midi = {}

local MAX_VLQ = 0x0FFFFFFF -- the largest delta time a variable-length quantity holds

-- ---- variable-length quantities -----------------------------------------------------------

--- n (0..MAX_VLQ) as 7-bit groups, most significant first, the continuation bit on all but
-- the last.
-- @int n 0..0x0FFFFFFF
-- @return string the bytes
-- @raise bad arguments, naming the argument and the value.
-- @usage assert(tessera.midi.vlq(128) == "\x81\x00")
function midi.vlq(n)
  local bytes = { char(n & 0x7F) }
  n = n >> 7
  while n > 0 do
    bytes[#bytes + 1] = char((n & 0x7F) | 0x80)
    n = n >> 7
  end
  local out = {}
  for i = #bytes, 1, -1 do out[#out + 1] = bytes[i] end
  return concat(out)
end
local vlq = midi.vlq

-- ---- writing ------------------------------------------------------------------------------

local WRITE = "tessera.midi.write"

-- The tracks of a song (a table with .tracks) or of a plain list of tracks.
local function tracks_of(who, song)
  if type(song) ~= "table" then
    args.fail(who, "song must be a table {tracks = {...}} or a list of tracks, got %s", args.show(song))
  end
  local tracks = song.tracks or song
  if type(tracks) ~= "table" then args.fail(who, "tracks must be a list, got %s", args.show(tracks)) end
  return tracks
end

-- One track's notes checked, as { start tick, end tick, note, velocity, channel }.
local function track_notes(track, t, ticks_per_second)
  local who = format("%s: track %d", WRITE, t)
  if type(track) ~= "table" then args.fail(who, "must be a table {name=, events=}, got %s", args.show(track)) end
  if track.name ~= nil then args.string(who, "name", track.name) end
  local events = track.events or {}
  if type(events) ~= "table" then args.fail(who, "events must be a list, got %s", args.show(events)) end
  local notes = {}
  for i, e in ipairs(events) do
    local where = format("%s, event %d", who, i)
    if type(e) ~= "table" then args.fail(where, "must be a table {time=, note=, ...}, got %s", args.show(e)) end
    args.nonnegative(where, "time", e.time)
    args.positive(where, "duration", e.duration)
    local note = args.integer(where, "note", e.note, 0, 127)
    local velocity = args.integer(where, "velocity", e.velocity, 1, 127)
    local channel = e.channel == nil and 0 or args.integer(where, "channel", e.channel, 0, 15)
    local start = floor(e.time * ticks_per_second + 0.5)
    local stop = floor((e.time + e.duration) * ticks_per_second + 0.5)
    if stop <= start then stop = start + 1 end
    if stop > MAX_VLQ then
      args.fail(where, "ends at tick %d, beyond the %d a MIDI file can count to", stop, MAX_VLQ)
    end
    notes[#notes + 1] = { start, stop, note, velocity, channel, i }
  end
  return notes
end

-- Notes on one key made not to overlap (see the header).
local function untangle(notes)
  sort(notes, function(a, b)
    if a[5] ~= b[5] then return a[5] < b[5] end
    if a[3] ~= b[3] then return a[3] < b[3] end
    if a[1] ~= b[1] then return a[1] < b[1] end
    if a[4] ~= b[4] then return a[4] > b[4] end
    return a[6] < b[6]
  end)
  local out = {}
  for _, n in ipairs(notes) do
    local last = out[#out]
    if last and last[5] == n[5] and last[3] == n[3] then
      if last[1] == n[1] then goto skip end -- same key and tick: the louder (first) stays
      if last[2] > n[1] then last[2] = n[1] end
    end
    out[#out + 1] = n
    ::skip::
  end
  return out
end

-- A track chunk from (tick, order, status, data...) messages and meta events.
local function chunk(kind, body) return kind .. pack(">I4", #body) .. body end

local function meta(kind, data) return "\xFF" .. char(kind) .. vlq(#data) .. data end

local function note_track(name, notes, running)
  local messages = {}
  for _, n in ipairs(untangle(notes)) do
    messages[#messages + 1] = { n[1], 1, 0x90 | n[5], n[3], n[4], n[6] }
    messages[#messages + 1] = { n[2], 0, 0x80 | n[5], n[3], 64, n[6] }
  end
  sort(messages, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    if a[2] ~= b[2] then return a[2] < b[2] end
    if a[6] ~= b[6] then return a[6] < b[6] end
    return a[4] < b[4]
  end)
  local parts, tick, status = {}, 0, nil
  if name then parts[1] = "\0" .. meta(0x03, name) end
  for _, m in ipairs(messages) do
    parts[#parts + 1] = vlq(m[1] - tick)
    tick = m[1]
    if not (running and m[3] == status) then parts[#parts + 1] = char(m[3]) end
    status = m[3]
    parts[#parts + 1] = char(m[4], m[5])
  end
  parts[#parts + 1] = "\0" .. meta(0x2F, "")
  return chunk("MTrk", concat(parts))
end

--- midi.write(path, song [, opts]): song as above (or a plain list of tracks). opts: bpm
-- (default song.bpm, else 120; 4..1000), ppq (ticks per quarter note, 480; 24..32767),
-- running_status (true). Written atomically (a temporary file renamed into place).
-- @string path the .mid file
-- @tab song {tracks = {{notes = {{key, time, duration, velocity}, ...}}}, bpm}
-- @tab[opt] opts bpm, ppq (480), running_status (true)
-- @return nothing
-- @raise a note out of range (naming it); a failed write.
-- @usage tessera.midi.write("beat.mid", song)
function midi.write(path, song, opts)
  args.string(WRITE, "path", path)
  local tracks = tracks_of(WRITE, song)
  local o = args.options(WRITE, opts, { "bpm", "ppq", "running_status" })
  local bpm = o.bpm
  if bpm == nil then bpm = type(song) == "table" and song.tracks and song.bpm or 120 end
  if not args.is_finite(bpm) or bpm < 4 or bpm > 1000 then
    args.fail(WRITE, "bpm must be a number in [4, 1000], got %s", args.show(bpm))
  end
  local ppq = o.ppq == nil and 480 or args.integer(WRITE, "ppq", o.ppq, 24, 32767)
  local running = o.running_status == nil or args.boolean(WRITE, "running_status", o.running_status)
  local us = floor(60e6 / bpm + 0.5)
  -- ticks from seconds with the tempo as written (us per beat), so a reader gets the times back
  local ticks_per_second = ppq * 1e6 / us
  local chunks = { chunk("MThd", pack(">I2I2I2", 1, #tracks + 1, ppq)) }
  chunks[2] = chunk("MTrk", "\0" .. meta(0x51, pack(">I3", us)) .. "\0" .. meta(0x58, "\4\2\24\8")
    .. "\0" .. meta(0x2F, ""))
  for t, track in ipairs(tracks) do
    chunks[#chunks + 1] = note_track(track.name, track_notes(track, t, ticks_per_second), running)
  end
  files.write_atomic(path, concat(chunks), WRITE, 0)
end

-- ---- reading -------------------------------------------------------------------------------

local READ = "tessera.midi.read"

-- Raises "<READ>: '<path>' at byte <offset>[ (track t)]: <what>" (offset 0-based).
local function bad_file(path, offset, t, fmt, ...)
  args.fail(READ, "'%s' at byte %d%s: %s", path, offset, t and format(" (track %d)", t) or "",
    format(fmt, ...))
end

-- Reads a variable-length quantity at pos (1-based, not past last): value, next pos.
local function read_vlq(data, pos, last, fail, what)
  local value = 0
  for i = 0, 3 do
    if pos + i > last then fail(pos + i - 1, "the track ends inside %s", what) end
    local b = byte(data, pos + i)
    value = (value << 7) | (b & 0x7F)
    if b < 0x80 then return value, pos + i + 1 end
  end
  fail(pos - 1, "%s is longer than 4 bytes", what)
end

local DATA_BYTES = { [0x8] = 2, [0x9] = 2, [0xA] = 2, [0xB] = 2, [0xC] = 1, [0xD] = 1, [0xE] = 2 }

-- One track chunk's body (data[first..last]): { name =, notes = { {tick =, end_tick =,
-- note =, velocity =, channel =}, ... } } and its tempo changes { {tick =, us =}, ... }.
local function read_track(path, data, first, last, t)
  local function fail(offset, fmt, ...) bad_file(path, offset, t, fmt, ...) end
  local pos, tick, status = first, 0, nil
  local notes, open, tempos, name = {}, {}, {}, nil
  while pos <= last do
    local delta
    delta, pos = read_vlq(data, pos, last, fail, "a delta time")
    tick = tick + delta
    if pos > last then fail(pos - 1, "the track ends after a delta time, before its event") end
    local b, at = byte(data, pos), pos - 1
    if b == 0xFF then
      if pos + 1 > last then fail(at, "the track ends inside a meta event") end
      local kind = byte(data, pos + 1)
      local len
      len, pos = read_vlq(data, pos + 2, last, fail, "a meta event's length")
      if pos + len - 1 > last then
        fail(at, "a meta event (type 0x%02X) of %d bytes runs past the end of the track", kind, len)
      end
      local body = data:sub(pos, pos + len - 1)
      pos = pos + len
      if kind == 0x2F then break end
      if kind == 0x51 then
        if len ~= 3 then fail(at, "a set_tempo event (FF 51) of length %d (3 expected)", len) end
        local us = unpack(">I3", body)
        if us == 0 then fail(at, "a set_tempo event of 0 microseconds per beat") end
        tempos[#tempos + 1] = { tick = tick, us = us }
      elseif kind == 0x03 and not name then
        name = body
      end
    elseif b == 0xF0 or b == 0xF7 then
      local len
      len, pos = read_vlq(data, pos + 1, last, fail, "a sysex event's length")
      if pos + len - 1 > last then fail(at, "a sysex event of %d bytes runs past the end of the track", len) end
      pos = pos + len
    else
      if b >= 0xF0 then fail(at, "status byte 0x%02X does not belong in a MIDI file", b) end
      if b >= 0x80 then
        status, pos = b, pos + 1
      elseif not status then
        fail(at, "data byte 0x%02X with no status before it (running status)", b)
      end
      local n = DATA_BYTES[status >> 4]
      if pos + n - 1 > last then
        fail(at, "the track ends inside a channel message (status 0x%02X needs %d data bytes)", status, n)
      end
      local d1, d2 = byte(data, pos, pos + n - 1)
      if d1 >= 0x80 then fail(pos - 1, "byte 0x%02X where a data byte (0..127) belongs", d1) end
      if d2 and d2 >= 0x80 then fail(pos, "byte 0x%02X where a data byte (0..127) belongs", d2) end
      pos = pos + n
      local kind, key = status >> 4, (status & 0x0F) * 128 + d1
      if kind == 0x9 and d2 > 0 then
        local note = { tick = tick, note = d1, velocity = d2, channel = status & 0x0F }
        notes[#notes + 1] = note
        local queue = open[key] or {}
        open[key] = queue
        queue[#queue + 1] = note
      elseif (kind == 0x8 or kind == 0x9) and open[key] and #open[key] > 0 then
        table.remove(open[key], 1).end_tick = tick
      end
    end
  end
  for _, queue in pairs(open) do
    for _, n in ipairs(queue) do n.end_tick = tick end
  end
  return { name = name, notes = notes }, tempos
end

-- Seconds of a tick through the tempo map (SMPTE: a fixed number of ticks per second).
local function clock(song, tempos)
  if song.smpte then
    local rate = song.smpte.fps * song.smpte.ticks_per_frame
    return function(tick) return tick / rate end
  end
  local ppq = song.ppq
  local map, time, last_tick, us = {}, 0, 0, 500000
  for _, t in ipairs(tempos) do
    time = time + (t.tick - last_tick) * us / ppq / 1e6
    last_tick, us = t.tick, t.us
    map[#map + 1] = { tick = t.tick, time = time, us = us }
  end
  return function(tick)
    local lo, hi, at = 1, #map, nil
    while lo <= hi do
      local mid = (lo + hi) // 2
      if map[mid].tick <= tick then at = mid lo = mid + 1 else hi = mid - 1 end
    end
    if not at then return tick * 500000 / ppq / 1e6 end
    local m = map[at]
    return m.time + (tick - m.tick) * m.us / ppq / 1e6
  end, map
end

-- The file's chunks: the song's header fields and the track bodies' byte ranges.
local function read_chunks(path, data)
  local function fail(offset, fmt, ...) bad_file(path, offset, nil, fmt, ...) end
  local size = #data
  if data:sub(1, 4) ~= "MThd" then fail(0, "not a MIDI file (no MThd header)") end
  if size < 14 then fail(size, "the file ends inside its header") end
  local hlen, fmt, ntracks, division = unpack(">I4I2I2I2", data, 5)
  if hlen < 6 then fail(4, "header length %d (6 expected)", hlen) end
  if fmt > 1 then fail(8, "format %d (only formats 0 and 1 are read)", fmt) end
  if fmt == 0 and ntracks ~= 1 then fail(10, "format 0 with %d tracks (1 expected)", ntracks) end
  if division == 0 then fail(12, "a time division of 0 ticks") end
  local song = { format = fmt }
  if division & 0x8000 ~= 0 then
    local fps = 256 - (division >> 8)
    song.smpte = { fps = fps == 29 and 29.97 or fps, ticks_per_frame = division & 0xFF }
    if song.smpte.ticks_per_frame == 0 then fail(12, "an SMPTE time division of 0 ticks per frame") end
  else
    song.ppq = division
  end
  local bodies, pos = {}, 8 + hlen + 1
  while #bodies < ntracks do
    if pos > size then
      fail(size, "the header announces %d tracks, the file ends after %d", ntracks, #bodies)
    end
    if pos + 7 > size then fail(pos - 1, "the file ends inside a chunk header") end
    local kind, len = data:sub(pos, pos + 3), unpack(">I4", data, pos + 4)
    if pos + 7 + len > size then
      fail(pos - 1, "a chunk '%s' of %d bytes runs past the end of the file (%d bytes)",
        (kind:gsub("[^%w]", "?")), len, size)
    end
    if kind == "MTrk" then bodies[#bodies + 1] = { pos + 8, pos + 7 + len } end
    pos = pos + 8 + len -- other chunk types are skipped, as the standard asks
  end
  return song, bodies
end

--- midi.read(path) -> song (see the header).
-- @string path a Standard MIDI File
-- @return table the song
-- @raise "cannot open ..."; a malformed file (naming the byte offset).
-- @usage local song = tessera.midi.read("beat.mid")
function midi.read(path)
  args.string(READ, "path", path)
  local data, why = fs.read_file(path)
  if not data then
    if why:sub(1, #path + 2) == path .. ": " then why = why:sub(#path + 3) end
    args.fail(READ, "cannot open '%s': %s", path, why)
  end
  local song, bodies = read_chunks(path, data)
  local raw, tempos = {}, {}
  for t, body in ipairs(bodies) do
    local track, changes = read_track(path, data, body[1], body[2], t)
    raw[t] = track
    for _, c in ipairs(changes) do tempos[#tempos + 1] = { tick = c.tick, us = c.us, order = #tempos } end
  end
  sort(tempos, function(a, b)
    if a.tick ~= b.tick then return a.tick < b.tick end
    return a.order < b.order
  end)
  local seconds, map = clock(song, tempos)
  song.tempos = {}
  for i, m in ipairs(map or {}) do
    song.tempos[i] = { tick = m.tick, time = m.time, bpm = 60e6 / m.us }
  end
  song.bpm = song.tempos[1] and song.tempos[1].bpm or 120
  song.tracks = {}
  for t, track in ipairs(raw) do
    local events = {}
    for i, n in ipairs(track.notes) do
      local time = seconds(n.tick)
      events[i] = { time = time, tick = n.tick, note = n.note, velocity = n.velocity,
                    channel = n.channel, duration = max(0, seconds(n.end_tick) - time) }
    end
    song.tracks[t] = { name = track.name, events = events }
  end
  return song
end

-- ---- activations, in their own file ---------------------------------------------------------

--- Activations as a song: each row's events as notes (lua/tessera/midi_score.lua).
-- @tparam Matrix H activations
-- @tab opts sr, hop, keys, bpm and tessera.score.events' options
-- @return table the song
-- @raise bad arguments, naming the argument and the value.
-- @usage tessera.midi.write("m.mid", tessera.midi.from_activations(m.H, {sr = 22050, hop = 512}))
function midi.from_activations(H, opts) return require("tessera.midi_score").from_activations(H, opts) end
--- A song as activation rows, one per key (lua/tessera/midi_score.lua).
-- @tab song a song
-- @tab opts sr, hop, frames, notes
-- @return Matrix rows x frames
-- @raise bad arguments, naming the argument and the value.
-- @usage local H = tessera.midi.to_rows(tessera.midi.read("beat.mid"), {sr = 22050, hop = 512})
function midi.to_rows(song, opts) return require("tessera.midi_score").to_rows(song, opts) end

-- Errors leave the public functions at the caller's line (lua/tessera/entry.lua).
return require("tessera.entry").export(midi)
