#!/usr/bin/python3
"""Writes the seed corpora of the fuzz harnesses into fuzz/corpus/<harness>/ (small files,
a few KB each, kept in the repository; run again only to change them)."""
import io
import os
import struct

import numpy as np
import soundfile as sf

HERE = os.path.dirname(os.path.abspath(__file__))


def put(harness, name, data):
    d = os.path.join(HERE, "corpus", harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


rng = np.random.default_rng(7)
t = np.arange(200) / 8000.0
tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
stereo = np.stack([tone, -tone], axis=1)
for name, fmt, sub, x in [
    ("pcm16.wav", "WAV", "PCM_16", tone),
    ("pcm24_stereo.wav", "WAV", "PCM_24", stereo),
    ("float.wav", "WAV", "FLOAT", tone),
    ("pcm16.flac", "FLAC", "PCM_16", tone),
    ("stereo.flac", "FLAC", "PCM_16", stereo),
    ("pcm16.aiff", "AIFF", "PCM_16", tone),
    ("ulaw.au", "AU", "ULAW", tone),
]:
    b = io.BytesIO()
    sf.write(b, x, 8000, format=fmt, subtype=sub)
    put("audio", name, b.getvalue())
put("audio", "empty", b"")
put("audio", "riff_only", b"RIFF\x24\x00\x00\x00WAVEfmt ")

m = rng.random((5, 3))
for name, arr in [
    ("f4_c.npy", m.astype("<f4")),
    ("f8_fortran.npy", np.asfortranarray(m)),
    ("f4_be.npy", m.astype(">f4")),
    ("i2_vector.npy", np.arange(7, dtype="<i2")),
    ("u1.npy", np.arange(6, dtype="u1").reshape(2, 3)),
    ("empty.npy", np.zeros((0, 3), dtype="<f4")),
]:
    b = io.BytesIO()
    np.save(b, arr)
    put("npy", name, b.getvalue())
b = io.BytesIO()
np.lib.format.write_array(b, m.astype("<f4"), version=(2, 0))
put("npy", "v2.npy", b.getvalue())

put("csv", "plain.csv", b"1,2,3\n4,5,6\n")
put("csv", "header_crlf.csv", b"a, b\r\n1.5, -2e-3\r\n3, 4\r\n")
put("csv", "specials.csv", b"nan,inf,-inf\n0x1p3,1e38,-0\n")
put("csv", "ragged.csv", b"1,2\n3\n")
put("csv", "blank_trailing.csv", b"\t1 ,\t2\n\n\n")

for name in ("timbre_swap.lua", "layered.lua"):
    with open(os.path.join(HERE, "..", "examples", name), "rb") as f:
        put("recipe", name, f.read())
put("recipe", "minimal.lua",
    b'return { duration = 1, sources = { a = { file = "x.wav", k = 2 } }, layers = { { W = "a" } } }\n')
put("recipe", "hostile.lua",
    b'local s = ("").dump(function() end)\nlocal ok = pcall(load, s)\n'
    b'setmetatable({}, {__gc = print})\nwhile true do end\n')
put("recipe", "coroutines.lua",
    b'local co = coroutine.wrap(function() for i = 1, 3 do coroutine.yield(i) end end)\n'
    b'return { sources = {}, layers = { co() } }\n')

# params: first byte even = STFT, odd = NMF; the rest raw ints/doubles (see fuzz_params.c).
put("params", "stft_default", struct.pack("<B6i", 0, 2048, 512, 0, 1, 4096, 22050))
put("params", "stft_small", struct.pack("<B6i", 0, 16, 4, 1, 1, 100, 8000))
put("params", "stft_bad", struct.pack("<B6i", 0, 0, -1, 7, 0, -5, 0))
nmf_head = struct.pack("<BBBbdBBBBddddBBbBB", 1, 6, 5, 2, 2.0, 0, 0, 3, 0, 1e-4, 0.0, 0.0, 0.0,
                       1, 1, 1, 0, 3)
put("params", "nmf_euclid", nmf_head + b"\x00" + bytes(rng.integers(0, 32, 30, dtype=np.uint8)))
put("params", "nmf_kl_raw", struct.pack("<BBBbdBBBBddddBBbBB", 1, 4, 4, 3, 1.0, 0, 2, 5, 0, 0.0,
                                        0.1, 0.1, 0.5, 1, 1, 2, 2, 9) + b"\x01" +
    np.array(rng.random(16), dtype="<f4").tobytes())
put("params", "nmf_cd", struct.pack("<BBBbdBBBBddddBBbBB", 1, 8, 8, 2, 2.0, 1, 0, 5, 0, 1e-3,
                                    0.0, 0.0, 0.0, 1, 1, 1, 3, 1) + b"\x00" + bytes(range(64)))
