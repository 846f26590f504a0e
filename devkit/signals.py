"""Generated test audio: tones and a speech-like signal with pauses (16 kHz mono PCM16)."""

from __future__ import annotations

import math
import random
import struct

RATE = 16000


def tone(seconds: float, hz: float = 440.0, amplitude: int = 8000) -> bytes:
    n = int(RATE * seconds)
    return struct.pack(f"<{n}h", *(int(amplitude * math.sin(2 * math.pi * hz * i / RATE))
                                   for i in range(n)))


def silence(seconds: float) -> bytes:
    return b"\0\0" * int(RATE * seconds)


def speech_like_pcm(seconds: float, seed: int = 0, amplitude: int = 6000) -> bytes:
    """Syllable-like bursts: a few harmonics under a 4 Hz envelope, with noise."""
    rng = random.Random(seed)
    n = int(RATE * seconds)
    pitch = rng.uniform(100, 180)
    samples = []
    for i in range(n):
        t = i / RATE
        envelope = 0.5 * (1 - math.cos(2 * math.pi * 4 * t)) if t * 4 % 1 < 0.8 else 0.0
        voice = sum(math.sin(2 * math.pi * pitch * k * t) / k for k in (1, 2, 3, 5))
        samples.append(int(amplitude * envelope * voice / 2 + rng.gauss(0, 200)))
    return struct.pack(f"<{n}h", *(max(-32768, min(32767, s)) for s in samples))


def utterances_with_pauses(count: int, speech_s: float, pause_s: float,
                           seed: int = 0) -> tuple[bytes, list[bytes]]:
    """`count` speech bursts separated by silence; returns (whole signal, the bursts)."""
    bursts = [speech_like_pcm(speech_s, seed=seed + i) for i in range(count)]
    whole = silence(pause_s) + b"".join(b + silence(pause_s) for b in bursts)
    return whole, bursts
