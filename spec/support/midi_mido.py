"""Test-only reference for spec/midi_spec.lua: Standard MIDI Files through mido 1.2
(Debian's python3-mido), run with /usr/bin/python3.

  midi_mido.py read FILE
      prints one JSON object: {"type", "ppq", "tempos": [[tick, microseconds], ...],
      "tracks": [{"name", "notes": [[tick, end_tick, note, velocity, channel], ...]}],
      "timed": [[seconds, note, velocity, channel], ...]}. A note-on with velocity 0 is a
      note-off; a note-off ends the earliest open note of its key and channel; a note open
      at the end of its track ends there. "timed" lists every note-on of the file in the
      order mido plays it (all tracks merged, seconds through mido's tempo map).
  midi_mido.py write SPEC FILE
      writes FILE with mido (which uses running status) from the JSON object in SPEC:
      {"type": 0 or 1, "ppq", "tracks": [{"name" (optional), "messages": [[tick, "on",
      channel, note, velocity] | [tick, "off", channel, note, velocity] | [tick, "tempo",
      microseconds] | [tick, "program", channel, program] | [tick, "sysex", [bytes]] |
      [tick, "text", string], ...]}]}, ticks absolute and in order.
"""
import json
import sys

import mido


def read(path):
    f = mido.MidiFile(path)
    tracks, tempos = [], []
    for track in f.tracks:
        tick, name, notes, open_notes = 0, None, [], {}
        for msg in track:
            tick += msg.time
            if msg.is_meta:
                if msg.type == "track_name" and name is None:
                    name = msg.name
                elif msg.type == "set_tempo":
                    tempos.append([tick, msg.tempo])
                continue
            if msg.type == "note_on" and msg.velocity > 0:
                note = [tick, None, msg.note, msg.velocity, msg.channel]
                notes.append(note)
                open_notes.setdefault((msg.channel, msg.note), []).append(note)
            elif msg.type in ("note_on", "note_off"):
                queue = open_notes.get((msg.channel, msg.note))
                if queue:
                    queue.pop(0)[1] = tick
        for queue in open_notes.values():
            for note in queue:
                note[1] = tick
        tracks.append({"name": name, "notes": notes})
    timed, now = [], 0.0
    for msg in f:  # playback order, delta times in seconds
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            timed.append([now, msg.note, msg.velocity, msg.channel])
    tempos.sort(key=lambda t: t[0])
    print(json.dumps({"type": f.type, "ppq": f.ticks_per_beat, "tempos": tempos,
                      "tracks": tracks, "timed": timed}))


def message(m):
    kind = m[1]
    if kind == "on":
        return mido.Message("note_on", channel=m[2], note=m[3], velocity=m[4])
    if kind == "off":
        return mido.Message("note_off", channel=m[2], note=m[3], velocity=m[4])
    if kind == "tempo":
        return mido.MetaMessage("set_tempo", tempo=m[2])
    if kind == "program":
        return mido.Message("program_change", channel=m[2], program=m[3])
    if kind == "sysex":
        return mido.Message("sysex", data=m[2])
    if kind == "text":
        return mido.MetaMessage("text", text=m[2])
    raise ValueError("unknown message kind %r" % kind)


def write(spec_path, path):
    with open(spec_path) as fh:
        spec = json.load(fh)
    f = mido.MidiFile(type=spec["type"], ticks_per_beat=spec["ppq"])
    for t in spec["tracks"]:
        track = mido.MidiTrack()
        if t.get("name") is not None:
            track.append(mido.MetaMessage("track_name", name=t["name"]))
        last = 0
        for m in t["messages"]:
            msg = message(m)
            msg.time = m[0] - last
            last = m[0]
            track.append(msg)
        f.tracks.append(track)
    f.save(path)


if __name__ == "__main__":
    if sys.argv[1] == "read":
        read(sys.argv[2])
    elif sys.argv[1] == "write":
        write(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: midi_mido.py read FILE | write SPEC FILE")
