"""Generated test audio: tones, a speech-like signal with pauses (16 kHz mono PCM16), and
music."""

from __future__ import annotations

import math
import random
import struct

import numpy as np

from device_agent.capture.fakes import silence_pcm as silence
from device_agent.capture.fakes import tone_pcm as tone
from ingress_common.protocol import SAMPLE_RATE_HZ

RATE = SAMPLE_RATE_HZ
__all__ = ["tone", "silence", "speech_like_pcm", "room_noise", "utterances_with_pauses",
           "quieter", "mixed", "dominant_frequency", "music"]


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


def room_noise(seconds: float, seed: int, rms: float = 30.0) -> bytes:
    """Quiet background noise (about -61 dBFS), as a real microphone hears in a pause."""
    rng = random.Random(seed)
    n = int(RATE * seconds)
    return struct.pack(f"<{n}h", *(int(rng.gauss(0, rms)) for _ in range(n)))


def quieter(pcm: bytes, db: float) -> bytes:
    """`pcm` turned down by `db`."""
    n = len(pcm) // 2
    scale = 10 ** (-db / 20)
    return struct.pack(f"<{n}h", *(int(x * scale) for x in struct.unpack(f"<{n}h", pcm)))


def mixed(a: bytes, b: bytes) -> bytes:
    """Two signals of one length heard together, clipped to PCM16."""
    n = len(a) // 2
    return struct.pack(f"<{n}h", *(max(-32768, min(32767, x + y)) for x, y in
                                   zip(struct.unpack(f"<{n}h", a), struct.unpack(f"<{n}h", b),
                                       strict=True)))


def utterances_with_pauses(count: int, speech_s: float, pause_s: float,
                           seed: int = 0) -> tuple[bytes, list[tuple[int, int]]]:
    """`count` speech bursts separated by room noise: (signal, byte range of each burst)."""
    parts = [room_noise(pause_s, seed)]
    spans = []
    offset = len(parts[0])
    for i in range(count):
        burst = speech_like_pcm(speech_s, seed=seed + i + 1)
        spans.append((offset, offset + len(burst)))
        pause = room_noise(pause_s, seed + 100 + i)
        parts += [burst, pause]
        offset += len(burst) + len(pause)
    return b"".join(parts), spans


def goertzel_power(samples: list[int], rate: int, hz: float) -> float:
    """Power of one frequency in `samples` (the Goertzel algorithm)."""
    coefficient = 2 * math.cos(2 * math.pi * hz / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coefficient * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coefficient * s1 * s2


def dominant_frequency(pcm: bytes, rate: int = RATE, low_hz: float = 50.0,
                       high_hz: float = 4000.0) -> float:
    """The strongest frequency in PCM16 mono: a 10 Hz scan, then a 0.5 Hz refinement."""
    samples = list(struct.unpack(f"<{len(pcm) // 2}h", pcm[: len(pcm) // 2 * 2]))
    window = samples[: rate // 10]  # 0.1 s: a 10 Hz main lobe, to match the 10 Hz grid
    coarse = max((low_hz + 10 * i for i in range(int((high_hz - low_hz) / 10) + 1)),
                 key=lambda hz: goertzel_power(window, rate, hz))
    window = samples[: rate * 2]
    return max((coarse - 10 + 0.5 * i for i in range(41)),
               key=lambda hz: goertzel_power(window, rate, hz))


MUSIC_NOTES_HZ = [220 * 2 ** (k / 12) for k in (0, 2, 4, 5, 7, 9, 11, 12, 14, 16)]
"""A major scale from A3, as a melody's notes."""


def music(seconds: float, seed: int) -> np.ndarray:
    """A melody of plucked notes with harmonics over a bass line, and a hi-hat on each note,
    as float samples at 16 kHz (unscaled): a sound a speech detector should not take for
    a talker."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * RATE))
    at = 0
    while at < len(out):
        length = int(rng.choice([0.25, 0.5, 0.75]) * RATE)
        t = np.arange(length) / RATE
        note = float(rng.choice(MUSIC_NOTES_HZ))
        envelope = np.exp(-3 * t) * (1 - np.exp(-200 * t))
        pluck = sum(a * np.sin(2 * np.pi * note * h * t) for h, a in
                   ((1, 1.0), (2, 0.5), (3, 0.3), (4, 0.2), (5, 0.1)))
        bass = 0.6 * np.sin(2 * np.pi * note / 4 * t)
        hat = rng.normal(0, 0.3, length) * np.exp(-60 * t)
        piece = (pluck + bass) * envelope + hat
        out[at: at + length] += piece[: len(out) - at]
        at += length
    return out
