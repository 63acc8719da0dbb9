#!/usr/bin/env python3
"""Writes the kiosk's two sounds (standard library only):

- ok.wav: two short rising tones, a friendly "ding-ding";
- refused.wav: two low tones, unmistakably different from OK.

    python3 assets/sounds/gen.py
"""
import math
import pathlib
import struct
import wave

RATE = 22050


def tone(freq, ms, volume=0.5):
    n = int(RATE * ms / 1000)
    fade = int(RATE * 0.008)  # 8 ms ramps: no clicks
    out = []
    for i in range(n):
        env = min(1.0, i / fade, (n - i) / fade)
        # A little of the third harmonic makes small speakers louder.
        s = math.sin(2 * math.pi * freq * i / RATE) + 0.25 * math.sin(6 * math.pi * freq * i / RATE)
        out.append(int(32767 * volume * env * s / 1.25))
    return out


def silence(ms):
    return [0] * int(RATE * ms / 1000)


def write(name, samples):
    path = pathlib.Path(__file__).resolve().parent / name
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    print(path, path.stat().st_size)


write("ok.wav", tone(988, 110) + silence(30) + tone(1319, 180))
write("refused.wav", tone(330, 220, 0.6) + silence(70) + tone(262, 320, 0.6))
