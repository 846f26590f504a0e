"""The rooms bench.asr judges the front end in: bench.segmentation's noises, babble and
television at 20, 10 and 5 dB SNR and its soft talker, plus a reverberant room (RT60 about
0.6 s) and music under speech. Each room is built from a seed (the noise, the gaps, the
voices' order), so several rooms of one condition differ as real rooms would.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from bench import segmentation as seg
from devkit.signals import music

RT60_S = 0.6


@dataclass(frozen=True)
class RoomSpec:
    name: str
    bed: str
    """pink, brown, babble, television, music, or soft (a soft talker in a quiet room)."""
    snr_db: float
    reverberant: bool = False


@dataclass(frozen=True)
class Room:
    name: str
    pcm: bytes
    truth: list[seg.Utterance]
    texts: list[str]
    clean_phrases: list[bytes]


ROOMS = [RoomSpec(f"{bed} {snr} dB", bed, snr)
         for bed in ("pink", "brown", "babble", "television")
         for snr in (20, 10, 5)] + [
    RoomSpec("soft talker -45 dBFS, quiet room", "soft", 30),
    RoomSpec("reverberant room (RT60 0.6 s), pink 20 dB", "pink", 20, reverberant=True),
    RoomSpec("music 10 dB", "music", 10),
]


@functools.cache
def spoken(text: str, voice: str, wpm: int) -> np.ndarray:
    return seg.espeak(text, voice, wpm)


def reverberated(x: np.ndarray, seed: int, rt60_s: float = RT60_S) -> np.ndarray:
    """`x` in a room: a direct path and an exponentially decaying diffuse tail (60 dB in
    `rt60_s`) of equal energy, as at a couple of metres from the talker."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(rt60_s * 1.2 * seg.RATE)) / seg.RATE
    tail = rng.normal(0, 1, len(t)) * np.exp(-6.91 * t / rt60_s)
    tail[: int(0.005 * seg.RATE)] = 0  # the first reflections arrive after the direct sound
    ir = tail / np.sqrt(np.sum(tail**2))
    ir[0] = 1.0
    n = len(x) + len(ir) - 1
    return np.fft.irfft(np.fft.rfft(x, n) * np.fft.rfft(ir, n), n)


def build_room(spec: RoomSpec, seed: int, phrases: int) -> Room:
    texts = seg.PHRASES[:phrases]
    voices = [seg.VOICES[(i + seed) % len(seg.VOICES)] for i in range(phrases)]
    dry = [spoken(text, *voice) for text, voice in zip(texts, voices, strict=True)]
    said = [reverberated(p, seed * 100 + i) if spec.reverberant else p for i, p in enumerate(dry)]
    seconds = sum(len(p) for p in said) / seg.RATE + 3.0 * (phrases + 1) + 1
    speech_dbfs = -45.0 if spec.bed == "soft" else seg.SPEECH_DBFS
    bed = _bed(spec, seconds, seed, speech_dbfs - spec.snr_db)
    stream, truth = seg.build_stream(said, bed, speech_dbfs, seed)
    clean = [seg.pcm16(p / np.sqrt(np.mean(p**2)) * 10 ** (seg.SPEECH_DBFS / 20)) for p in dry]
    return Room(f"{spec.name.split(',')[0].replace(' ', '-')}-{seed}", seg.pcm16(stream), truth,
                texts, clean)


def _bed(spec: RoomSpec, seconds: float, seed: int, level_dbfs: float) -> np.ndarray:
    if spec.bed in ("pink", "brown", "soft"):
        kind = "brownnoise" if spec.bed == "brown" else "pinknoise"
        return seg.at_rms(seg.sox_noise(kind, seconds, seed), level_dbfs)
    if spec.bed == "babble":
        talkers = [spoken(text, *seg.VOICES[(i + 1) % len(seg.VOICES)])
                   for i, text in enumerate(seg.PHRASES)]
        return seg.at_rms(seg.babble(seconds, talkers, seed), level_dbfs)
    source = seg.television(seconds, seed) if spec.bed == "television" else music(seconds, seed)
    return seg.at_active_level(source, level_dbfs)


def alone(minutes: float) -> dict[str, bytes]:
    """A television and music alone, at the 10 dB-SNR level: every record is a false one."""
    seconds = minutes * 60
    level = seg.SPEECH_DBFS - 10
    return {"television": seg.pcm16(seg.at_active_level(seg.television(seconds, 9), level)),
            "music": seg.pcm16(seg.at_active_level(music(seconds, 9), level))}
