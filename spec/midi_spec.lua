-- Specs for tessera.midi: Standard MIDI Files written and read back (every note kept),
-- against Debian's python3-mido on files written by either side (running status, tempo
-- changes, format 0 and 1), broken files (every truncation, random bytes), activations to
-- notes and back, and `tessera decompose --midi`.
local tessera = require "tessera"
local helpers = require "helpers"
local json = require "tessera.json"
local midi = require "tessera.midi"

local abs, floor = math.abs, math.floor
local fmt = string.format
local SR, HOP = 22050, 512
local MIDO = helpers.root .. "/spec/support/midi_mido.py"

local asserted = {}
local function refuses(fn, msg)
  assert.equal(msg, helpers.error_message(fn))
  asserted[msg] = true
end

local function hex(s)
  return (s:gsub(".", function(c) return fmt("%02X ", c:byte()) end):gsub(" $", ""))
end

-- mido's reading of a file (see spec/support/midi_mido.py).
local function mido_read(path)
  local out, ok = helpers.run("/usr/bin/python3 " .. helpers.shell_quote(MIDO) .. " read "
    .. helpers.shell_quote(path) .. " 2>&1")
  assert(ok, out)
  return json.decode(out)
end

-- A file written by mido from a spec (see midi_mido.py).
local function mido_write(spec, path)
  local spec_path = path .. ".json"
  helpers.write_file(spec_path, json.encode(spec))
  local out, ok = helpers.run("/usr/bin/python3 " .. helpers.shell_quote(MIDO) .. " write "
    .. helpers.shell_quote(spec_path) .. " " .. helpers.shell_quote(path) .. " 2>&1")
  assert(ok, out)
end

-- A reproducible song: tracks of notes at increasing times, none overlapping on its key.
local function random_song(seed, tracks, per_track)
  local u = require("tessera.random").generator(seed, "song")
  local song = { bpm = 100 + floor(u() * 60), tracks = {} }
  for t = 1, tracks do
    local events, time = {}, u()
    for i = 1, per_track do
      local gap = 0.05 + u() * 0.4
      events[i] = { time = time, note = floor(u() * 128), velocity = 1 + floor(u() * 127),
                    duration = gap * (0.2 + 0.7 * u()), channel = floor(u() * 16) }
      time = time + gap
    end
    song.tracks[t] = { name = "track " .. t, events = events }
  end
  return song
end

-- Every event of `read` is the one of `written` (in order): onset within `tol` seconds,
-- the same note, velocity and channel, the duration within `tol` too.
local function same_notes(written, read, tol)
  for t, track in ipairs(written.tracks) do
    local got = read.tracks[t].events
    assert.equal(#track.events, #got, "track " .. t)
    table.sort(got, function(a, b) return a.time < b.time end)
    for i, e in ipairs(track.events) do
      local g = got[i]
      assert.is_true(abs(g.time - e.time) <= tol, fmt("track %d note %d: %.6f for %.6f", t, i, g.time, e.time))
      assert.is_true(abs(g.duration - e.duration) <= 2 * tol, fmt("track %d note %d duration", t, i))
      assert.same({ e.note, e.velocity, e.channel }, { g.note, g.velocity, g.channel })
    end
  end
end

describe("tessera.midi", function()
  local tmp
  setup(function() tmp = helpers.tmpdir() end)
  teardown(function() helpers.rmtree(tmp) end)
  local function path(name) return tmp .. "/" .. name end

  describe("vlq()", function()
    it("writes the standard's examples", function()
      local cases = { { 0, "00" }, { 0x40, "40" }, { 0x7F, "7F" }, { 0x80, "81 00" }, { 0x2000, "C0 00" },
        { 0x3FFF, "FF 7F" }, { 0x4000, "81 80 00" }, { 0x100000, "C0 80 00" }, { 0x1FFFFF, "FF FF 7F" },
        { 0x200000, "81 80 80 00" }, { 0x8000000, "C0 80 80 00" }, { 0x0FFFFFFF, "FF FF FF 7F" } }
      for _, c in ipairs(cases) do assert.equal(c[2], hex(midi.vlq(c[1]))) end
    end)
  end)

  describe("write() and read()", function()
    it("writes format 1: a tempo track, then one named track per component, with running status", function()
      local song = { bpm = 120, tracks = { { name = "kick", events = {
        { time = 0, note = 36, velocity = 100, duration = 0.25, channel = 9 },
        { time = 0, note = 38, velocity = 90, duration = 0.25, channel = 9 } } } } }
      midi.write(path("tiny.mid"), song, { ppq = 96 })
      local bytes = helpers.read_file(path("tiny.mid"))
      assert.equal("4D 54 68 64 00 00 00 06 00 01 00 02 00 60", hex(bytes:sub(1, 14)))
      -- tempo 500000 us per beat, 4/4, end of track
      assert.equal("4D 54 72 6B 00 00 00 13 00 FF 51 03 07 A1 20 00 FF 58 04 04 02 18 08 00 FF 2F 00",
        hex(bytes:sub(15, 41)))
      -- the name; two note-ons, the second without its status byte; 48 ticks later the two
      -- note-offs likewise; the end
      assert.equal("4D 54 72 6B 00 00 00 1A 00 FF 03 04 6B 69 63 6B 00 99 24 64 00 26 5A "
        .. "30 89 24 40 00 26 40 00 FF 2F 00", hex(bytes:sub(42)))
      midi.write(path("tiny2.mid"), song, { ppq = 96, running_status = false })
      assert.equal(#bytes + 2, #helpers.read_file(path("tiny2.mid")))
      local read = midi.read(path("tiny.mid"))
      assert.same({ 1, 96, 120 }, { read.format, read.ppq, read.bpm })
      assert.same({ { tick = 0, time = 0, bpm = 120 } }, read.tempos)
      assert.same({ { name = nil, events = {} },
        { name = "kick", events = {
          { time = 0, tick = 0, note = 36, velocity = 100, duration = 0.25, channel = 9 },
          { time = 0, tick = 0, note = 38, velocity = 90, duration = 0.25, channel = 9 } } } }, read.tracks)
      assert.same(read.tracks, midi.read(path("tiny2.mid")).tracks)
    end)

    it("keeps every note of a song read back: onset within a tick, pitch, velocity, channel", function()
      for seed = 1, 4 do
        local song = random_song(seed, 3, 50)
        for _, running in ipairs({ true, false }) do
          midi.write(path("r.mid"), song, { running_status = running })
          local read = midi.read(path("r.mid"))
          assert.near(song.bpm, read.bpm, 1e-3)
          local tick = 60 / read.bpm / read.ppq
          same_notes(song, { tracks = { table.unpack(read.tracks, 2) } }, tick / 2 + 1e-9)
          assert.is_true(tick / 2 < HOP / SR)
        end
      end
    end)

    it("ends a note where the next one on its key starts, and keeps the louder of two at once", function()
      local song = { { events = {
        { time = 0, note = 60, velocity = 50, duration = 1 },
        { time = 0.5, note = 60, velocity = 60, duration = 0.25 },
        { time = 0.5, note = 60, velocity = 70, duration = 0.25 },
        { time = 0.5, note = 62, velocity = 80, duration = 0.25 } } } }
      midi.write(path("o.mid"), song)
      local ev = midi.read(path("o.mid")).tracks[2].events
      assert.equal(3, #ev)
      assert.same({ 0, 0.5, 50 }, { ev[1].time, ev[1].duration, ev[1].velocity })
      assert.same({ 0.5, 0.25, 70, 60 }, { ev[2].time, ev[2].duration, ev[2].velocity, ev[2].note })
      assert.same({ 62, 80 }, { ev[3].note, ev[3].velocity })
    end)

    it("writes atomically: a failed write leaves the old file", function()
      local song = random_song(3, 1, 3)
      midi.write(path("keep.mid"), song)
      local before = helpers.read_file(path("keep.mid"))
      assert.has_error(function() midi.write(path("keep.mid"), { { events = { { time = 0 } } } }) end)
      assert.equal(before, helpers.read_file(path("keep.mid")))
      assert.same({ "keep.mid" }, (function()
        local names = {}
        for _, n in ipairs(helpers.listdir(tmp)) do if n:match("^keep") then names[#names + 1] = n end end
        return names
      end)())
    end)

    it("refuses bad songs", function()
      local function one(e) return { { events = { e } } } end
      refuses(function() midi.write(path("x.mid"), one({ time = 0, note = 128, velocity = 1, duration = 1 })) end,
        "tessera.midi.write: track 1, event 1: note must be an integer in 0..127, got 128")
      refuses(function() midi.write(path("x.mid"), one({ time = 0, note = 60, velocity = 0, duration = 1 })) end,
        "tessera.midi.write: track 1, event 1: velocity must be an integer in 1..127, got 0")
      refuses(function() midi.write(path("x.mid"), one({ time = -1, note = 60, velocity = 9, duration = 1 })) end,
        "tessera.midi.write: track 1, event 1: time must be a number >= 0, got -1")
      refuses(function() midi.write(path("x.mid"), one({ time = 0, note = 60, velocity = 9, duration = 0 })) end,
        "tessera.midi.write: track 1, event 1: duration must be a number > 0, got 0")
      refuses(function()
        midi.write(path("x.mid"), one({ time = 0, note = 1, velocity = 9, duration = 1, channel = 16 }))
      end,
        "tessera.midi.write: track 1, event 1: channel must be an integer in 0..15, got 16")
      refuses(function() midi.write(path("x.mid"), {}, { bpm = 2 }) end,
        "tessera.midi.write: bpm must be a number in [4, 1000], got 2")
      refuses(function() midi.write(path("x.mid"), {}, { tempo = 2 }) end,
        "tessera.midi.write: unknown option 'tempo' (valid: bpm, ppq, running_status)")
      refuses(function() midi.write(path("x.mid"), one({ time = 1e6, note = 1, velocity = 9, duration = 1 })) end,
        "tessera.midi.write: track 1, event 1: ends at tick 960000960, beyond the 268435455 a MIDI file can count to")
      assert.matches("^tessera%.midi%.write: cannot write '[^']*/no/such/x%.mid': .*No such file or directory$",
        helpers.error_message(midi.write, tmp .. "/no/such/x.mid", {}))
    end)
  end)

  describe("against mido", function()
    it("mido reads tessera's files as tessera does, with or without running status", function()
      for seed = 5, 7 do
        local song = random_song(seed, 3, 40)
        midi.write(path("t.mid"), song, { running_status = seed ~= 6, ppq = 240 + seed })
        local ours, theirs = midi.read(path("t.mid")), mido_read(path("t.mid"))
        assert.same({ 1, 240 + seed }, { theirs.type, theirs.ppq })
        assert.equal(#ours.tracks, #theirs.tracks)
        for t, track in ipairs(theirs.tracks) do
          assert.equal(ours.tracks[t].name, track.name)
          local mine = {}
          for i, e in ipairs(ours.tracks[t].events) do
            local end_tick = floor(e.tick + e.duration / (60 / ours.bpm / ours.ppq) + 0.5)
            mine[i] = { e.tick, end_tick, e.note, e.velocity, e.channel }
          end
          assert.same(track.notes, mine)
        end
      end
    end)

    -- A format 1 file from mido: tempo changes in track 1, running status, note-ons of
    -- velocity 0 as note-offs, a program change, sysex and text between notes.
    local function mido_song(kind)
      local conductor = { { 0, "tempo", 500000 }, { 960, "tempo", 250000 }, { 1500, "tempo", 1000000 },
                          { 2000, "text", "bridge" } }
      local drums = { { 0, "program", 9, 5 } }
      for i = 0, 15 do
        local t = i * 240
        drums[#drums + 1] = { t, "on", 9, 36 + i % 3, 20 + i * 6 }
        drums[#drums + 1] = { t + 120, kind == "zero" and "on" or "off", 9, 36 + i % 3, 0 }
        if i == 7 then drums[#drums + 1] = { t + 130, "sysex", { 1, 2, 3 } } end
      end
      local bass = {}
      for i = 0, 5 do
        bass[#bass + 1] = { i * 600, "on", 1, 40 + i, 100 }
        bass[#bass + 1] = { i * 600 + 590, "off", 1, 40 + i, 64 }
      end
      return { type = 1, ppq = 480, tracks = { { messages = conductor }, { name = "drums", messages = drums },
                                                { name = "bass", messages = bass } } }
    end

    it("tessera reads mido's files as mido does: tempo changes, running status, velocity 0", function()
      for _, kind in ipairs({ "off", "zero" }) do
        mido_write(mido_song(kind), path("m.mid"))
        local ours, theirs = midi.read(path("m.mid")), mido_read(path("m.mid"))
        assert.same({ 1, 480 }, { ours.format, ours.ppq })
        local tempos = {}
        for i, t in ipairs(ours.tempos) do tempos[i] = { t.tick, floor(60e6 / t.bpm + 0.5) } end
        assert.same(theirs.tempos, tempos)
        assert.same({ 0, 1, 1 + 540 * 250000 / 480 / 1e6 },
          { ours.tempos[1].time, ours.tempos[2].time, ours.tempos[3].time })
        local timed = {}
        for t, track in ipairs(ours.tracks) do
          assert.equal(theirs.tracks[t].name, track.name)
          local notes = {}
          for i, e in ipairs(track.events) do
            notes[i] = { e.tick, nil, e.note, e.velocity, e.channel }
            timed[#timed + 1] = { e.time, e.note, e.velocity, e.channel }
          end
          for i, n in ipairs(theirs.tracks[t].notes) do
            assert.same({ n[1], n[3], n[4], n[5] }, { notes[i][1], notes[i][3], notes[i][4], notes[i][5] })
          end
          assert.equal(#theirs.tracks[t].notes, #notes)
        end
        local function order(a, b)
          if a[1] ~= b[1] then return a[1] < b[1] end
          return a[2] < b[2]
        end
        table.sort(timed, order)
        table.sort(theirs.timed, order)
        assert.equal(#theirs.timed, #timed)
        for i, n in ipairs(theirs.timed) do
          assert.near(n[1], timed[i][1], 1e-9)
          assert.same({ n[2], n[3], n[4] }, { timed[i][2], timed[i][3], timed[i][4] })
        end
        -- the drums' durations: 120 ticks, at 120 BPM before tick 960 and 240 BPM after
        local drums = ours.tracks[2].events
        assert.near(0.125, drums[1].duration, 1e-12)
        assert.near(0.0625, drums[5].duration, 1e-12)
      end
    end)

    it("reads a format 0 file from mido", function()
      local song = mido_song("off")
      local merged = {}
      for _, track in ipairs(song.tracks) do
        for _, m in ipairs(track.messages) do merged[#merged + 1] = m end
      end
      table.sort(merged, function(a, b) return a[1] < b[1] end)
      mido_write({ type = 0, ppq = 480, tracks = { { messages = merged } } }, path("f0.mid"))
      local ours, theirs = midi.read(path("f0.mid")), mido_read(path("f0.mid"))
      assert.same({ 0, 1 }, { ours.format, #ours.tracks })
      assert.equal(#theirs.timed, #ours.tracks[1].events)
      for i, e in ipairs(ours.tracks[1].events) do
        assert.same(theirs.tracks[1].notes[i][1], e.tick)
        assert.near(theirs.timed[i][1], e.time, 1e-9)
      end
    end)
  end)

  describe("broken files", function()
    local good
    setup(function()
      midi.write(path("good.mid"), random_song(11, 2, 12))
      good = helpers.read_file(path("good.mid"))
    end)

    it("names the path and the byte for every truncation, never more", function()
      for n = 0, #good - 1 do
        helpers.write_file(path("cut.mid"), good:sub(1, n))
        local ok, err = pcall(midi.read, path("cut.mid"))
        assert.is_false(ok, "cut at " .. n)
        local at = tonumber(tostring(err):match("^tessera%.midi%.read: '[^']*cut%.mid' at byte (%d+)"))
        assert.truthy(at, tostring(err))
        assert.is_true(at <= n, tostring(err))
      end
    end)

    it("reads or refuses random corruptions, with a message naming the path and byte", function()
      local u = require("tessera.random").generator(5, "fuzz")
      local refused = 0
      for trial = 1, 400 do
        local bytes = { good:byte(1, -1) }
        for _ = 1, 1 + floor(u() * 4) do
          local i = 1 + floor(u() * #bytes)
          bytes[i] = floor(u() * 256)
        end
        local text = string.char(table.unpack(bytes))
        helpers.write_file(path("fuzz.mid"), text)
        local ok, err = pcall(midi.read, path("fuzz.mid"))
        if not ok then
          refused = refused + 1
          assert.truthy(tostring(err):match("^tessera%.midi%.read: '[^']*fuzz%.mid' at byte %d+"),
            fmt("trial %d: %s", trial, tostring(err)))
        else
          assert.equal("table", type(err.tracks))
        end
      end
      assert.is_true(refused > 20 and refused < 400, tostring(refused))
    end)

    it("says what is wrong", function()
      local function bad(name, bytes, msg)
        helpers.write_file(path(name), bytes)
        refuses(function() midi.read(path(name)) end, "tessera.midi.read: '" .. path(name) .. "'" .. msg)
      end
      local header = "MThd\0\0\0\6\0\1\0\1\1\224"
      bad("a.mid", "RIFF....", " at byte 0: not a MIDI file (no MThd header)")
      bad("b.mid", "MThd\0\0\0\6\0\2\0\1\1\224", " at byte 8: format 2 (only formats 0 and 1 are read)")
      bad("c.mid", header, " at byte 14: the header announces 1 tracks, the file ends after 0")
      bad("d.mid", header .. "MTrk\0\0\0\9\0\144\60",
        " at byte 14: a chunk 'MTrk' of 9 bytes runs past the end of the file (25 bytes)")
      bad("e.mid", header .. "MTrk\0\0\0\4\0\60\60\0",
        " at byte 23 (track 1): data byte 0x3C with no status before it (running status)")
      bad("f.mid", header .. "MTrk\0\0\0\4\0\144\60\200",
        " at byte 25 (track 1): byte 0xC8 where a data byte (0..127) belongs")
      bad("g.mid", header .. "MTrk\0\0\0\3\0\144\60",
        " at byte 23 (track 1): the track ends inside a channel message (status 0x90 needs 2 data bytes)")
      bad("h.mid", header .. "MTrk\0\0\0\5\255\255\255\255\0",
        " at byte 22 (track 1): a delta time is longer than 4 bytes")
      bad("i.mid", header .. "MTrk\0\0\0\6\0\255\81\2\1\1",
        " at byte 23 (track 1): a set_tempo event (FF 51) of length 2 (3 expected)")
      bad("j.mid", header .. "MTrk\0\0\0\2\0\244",
        " at byte 23 (track 1): status byte 0xF4 does not belong in a MIDI file")
      refuses(function() midi.read(path("none.mid")) end,
        "tessera.midi.read: cannot open '" .. path("none.mid") .. "': No such file or directory")
      refuses(function() midi.read(tmp) end, "tessera.midi.read: cannot open '" .. tmp .. "': Is a directory")
    end)

    it("skips unknown chunks and sysex, and reads SMPTE time", function()
      local track = "MTrk\0\0\0\18\0\240\3\1\2\247\0\153\36\100\25\137\36\0\0\255\47\0"
      local smpte = "MThd\0\0\0\6\0\0\0\1\231\40" .. "XTRA\0\0\0\2ab" .. track -- 25 fps, 40 ticks a frame
      helpers.write_file(path("s.mid"), smpte)
      local song = midi.read(path("s.mid"))
      assert.same({ fps = 25, ticks_per_frame = 40 }, song.smpte)
      assert.same({ { time = 0, tick = 0, note = 36, velocity = 100, duration = 0.025, channel = 9 } },
        song.tracks[1].events)
    end)
  end)

  describe("from_activations() and to_rows()", function()
    -- A k x p H of bumps at known frames.
    local function bumps_H(rows, p)
      local t = {}
      for i, peaks in ipairs(rows) do
        t[i] = {}
        for j = 1, p do t[i][j] = 0 end
        for _, pk in ipairs(peaks) do
          for d = 0, 6 do
            if pk[1] + d < p then t[i][pk[1] + d + 1] = t[i][pk[1] + d + 1] + pk[2] * 0.5 ^ d end
          end
        end
      end
      return tessera.matrix.from(t)
    end
    local H = bumps_H({ { { 0, 2 }, { 20, 1 }, { 40, 2 } }, { { 10, 0.5 }, { 30, 0.25 } }, {} }, 60)

    it("makes a track per row, a note per event, velocity from strength", function()
      local song = midi.from_activations(H, { bpm = 100 })
      assert.equal(100, song.bpm)
      assert.equal(3, #song.tracks)
      assert.same({ "component 1", "component 2", "component 3" },
        { song.tracks[1].name, song.tracks[2].name, song.tracks[3].name })
      local t1, t2 = song.tracks[1].events, song.tracks[2].events
      assert.same({ 0, 20 * HOP / SR, 40 * HOP / SR }, { t1[1].time, t1[2].time, t1[3].time })
      assert.same({ 127, 64, 127 }, { t1[1].velocity, t1[2].velocity, t1[3].velocity })
      assert.same({ 127, 64 }, { t2[1].velocity, t2[2].velocity }) -- scaled per row
      assert.same({ 36, 38, 9 }, { t1[1].note, t2[1].note, t1[1].channel })
      assert.same({}, song.tracks[3].events)
      assert.near(15 / 100, t1[1].duration, 1e-12) -- a 16th at 100 BPM, shorter than 20 frames
      local global = midi.from_activations(H, { velocity = "global", notes = { 60, 61, 62 }, channel = 0,
        names = { "a", "b", "c" }, max_duration = 0.1 })
      local g2 = global.tracks[2].events
      assert.same({ 32, 16, 61, 0, "b", 0.1 }, { g2[1].velocity, g2[2].velocity, g2[1].note, g2[1].channel,
        global.tracks[2].name, g2[1].duration })
    end)

    it("comes back from a file as the rows' events: frame within a hop, velocity / 127", function()
      midi.write(path("h.mid"), midi.from_activations(H, { bpm = 100 }))
      local song = midi.read(path("h.mid"))
      local R, skipped = midi.to_rows(song, { frames = 60, k = 3 })
      assert.equal(0, skipped)
      local rows = R:totable()
      local want = { [1] = { [0] = 1, [20] = 64 / 127, [40] = 1 }, [2] = { [10] = 1, [30] = 64 / 127 }, [3] = {} }
      for i = 1, 3 do
        local mass = 0
        for j = 1, 60 do mass = mass + rows[i][j] end
        local expected = 0
        for f, v in pairs(want[i]) do
          -- the onset within a hop: the impulse (split between two frames) lies in f - 1 .. f + 1
          local near = rows[i][f + 1] + (rows[i][f] or 0) + (rows[i][f + 2] or 0)
          assert.is_true(near > v - 1e-6, fmt("row %d frame %d", i, f))
          expected = expected + v
        end
        assert.near(expected, mass, 1e-5)
      end
      -- with shapes: each note a copy of its row's shape, velocity 127 its strongest peak
      local S = midi.to_rows(song, { frames = 60, k = 3, shape = H })
      local h1, s1 = H:totable()[1], S:totable()[1]
      for j = 1, 60 do assert.near(h1[j], s1[j], 0.02 * 2) end
    end)

    it("maps notes to rows and counts those it leaves out", function()
      local song = { tracks = { { events = {
        { time = 0, note = 40, velocity = 127, duration = 0.1 },
        { time = 0.5, note = 41, velocity = 127, duration = 0.1 },
        { time = 1, note = 99, velocity = 127, duration = 0.1 } } } } }
      local R, skipped = midi.to_rows(song, { note_map = { [40] = 2, [41] = 1 }, sr = 1000, hop = 100 })
      assert.same({ 2, 12 }, { R:shape() })
      assert.equal(1, skipped)
      assert.equal(1, R:get(2, 1))
      assert.equal(1, R:get(1, 6))
    end)

    it("refuses bad input", function()
      refuses(function() midi.from_activations(tessera.matrix.new(17, 10)) end,
        "tessera.midi.from_activations: H has 17 rows and the default notes cover 16 (give notes = {...})")
      refuses(function() midi.from_activations(H, { notes = { 36 } }) end,
        "tessera.midi.from_activations: notes has 1 entries for the 3 rows of H")
      refuses(function() midi.from_activations(H, { velocity = "loud" }) end,
        "tessera.midi.from_activations: velocity must be 'row' or 'global', got 'loud'")
      refuses(function() midi.from_activations(H, { bpm = 0 }) end,
        "tessera.midi.from_activations: bpm must be a number > 0, got 0")
      refuses(function() midi.to_rows({}) end,
        "tessera.midi.to_rows: song must be a table with tracks (as midi.read gives), got table")
      refuses(function() midi.to_rows({ tracks = {} }, { note_map = { [36] = 0 } }) end,
        "tessera.midi.to_rows: note_map[36] must be an integer >= 1, got 0")
      refuses(function() midi.to_rows({ tracks = {} }, { shape = tessera.matrix.new(2, 5), k = 3 }) end,
        "tessera.midi.to_rows: shape has 2 rows, fewer than the 3 of the note map")
    end)
  end)

  describe("tessera decompose --midi", function()
    it("writes every component's events at the activations' tempo", function()
      local file = helpers.samples .. "/loop_amen_full.flac"
      local out, ok = helpers.run(fmt("bin/tessera decompose %s -o %s -k 4 --iter 50 --midi %s 2>&1",
        file, tmp .. "/dec", path("dec.mid")))
      assert.is_true(ok, out)
      local notes, bpm = out:match("wrote [^\n]*dec%.mid: (%d+) notes in 4 tracks at ([%d.]+) BPM\n")
      assert.truthy(notes, out)
      local song = midi.read(path("dec.mid"))
      assert.equal(5, #song.tracks)
      assert.is_true(abs(song.bpm / 140 - 1) < 0.01, tostring(song.bpm)) -- 16 beats in 6.857 s
      assert.near(tonumber(bpm), song.bpm, 0.01)
      local count = 0
      for _, track in ipairs(song.tracks) do count = count + #track.events end
      assert.equal(tonumber(notes), count)
      -- the notes are the events of H's rows
      local H = tessera.matrix.load(tmp .. "/dec/H.npy")
      local ev = tessera.score.events(H:row(1))
      assert.equal(#ev, #song.tracks[2].events)
      for i, e in ipairs(ev) do assert.is_true(abs(song.tracks[2].events[i].time - e.frame * HOP / SR) < HOP / SR) end
    end)

    it("checks the file's folder before the fit", function()
      local out, ok = helpers.run(fmt("bin/tessera decompose %s -o %s --midi /nonexistent/x.mid 2>&1",
        helpers.samples .. "/loop_amen.flac", tmp .. "/dec2"))
      assert.is_falsy(ok)
      assert.equal("tessera: decompose: --midi: cannot write in '/nonexistent': No such folder\n", out)
    end)
  end)

  it("lists its errors in docs/bad-input.md (the MI rows), each as asserted", function()
    local doc = assert(helpers.read_file(helpers.root .. "/docs/bad-input.md"))
    local n = 0
    for line in doc:gmatch("\n(| MI%d+ |[^\n]*)") do
      local msg = line:match("| `([^`]*)` |$"):gsub("<tmp>", tmp)
      assert.truthy(asserted[msg], line)
      n = n + 1
    end
    assert.is_true(n >= 8, tostring(n))
  end)
end)
