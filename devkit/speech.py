"""Real synthesized speech from espeak-ng, converted by sox to 16 kHz mono PCM16."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from devkit.signals import room_noise
from ingress_common.protocol import SAMPLE_RATE_HZ


def spoken_pcm(text: str, voice: str = "en-us", words_per_minute: int = 160) -> bytes:
    """`text` spoken by espeak-ng, as 16 kHz mono S16_LE PCM."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed (scripts/bootstrap.sh installs it)")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(wav), text],
                       check=True, capture_output=True, timeout=30)
        raw = subprocess.run(["sox", str(wav), "-r", str(SAMPLE_RATE_HZ), "-c", "1", "-b", "16",
                              "-e", "signed-integer", "-t", "raw", "-"],
                             check=True, capture_output=True, timeout=30).stdout
    return raw


def phrases_with_pauses(phrases: list[str], pause_s: float,
                        seed: int = 0) -> tuple[bytes, list[tuple[int, int]]]:
    """Each phrase spoken, separated by room noise: (signal, byte range of each phrase)."""
    parts = [room_noise(pause_s, seed)]
    spans = []
    offset = len(parts[0])
    for i, phrase in enumerate(phrases):
        speech = spoken_pcm(phrase)
        spans.append((offset, offset + len(speech)))
        pause = room_noise(pause_s, seed + 1 + i)
        parts += [speech, pause]
        offset += len(speech) + len(pause)
    return b"".join(parts), spans


def sox_convert(samples: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """Mono float samples resampled by sox's own (very high quality) rate effect: the
    independent reference the agent's conversion is compared with."""
    raw = ["-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1"]
    out = subprocess.run(["sox", *raw, "-r", str(from_hz), "-", *raw, "-r", str(to_hz), "-",
                          "rate", "-v"],
                         input=samples.astype("<f4").tobytes(), check=True, capture_output=True,
                         timeout=60).stdout
    return np.frombuffer(out, dtype="<f4").astype(np.float64)


def spoken_at(text: str, rate_hz: int, voice: str = "en-us") -> np.ndarray:
    """`text` spoken by espeak-ng at `rate_hz`, as mono float samples (-6 dBFS peak)."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), text],
                       check=True, capture_output=True, timeout=30)
        out = subprocess.run(["sox", str(wav), "-t", "raw", "-e", "floating-point", "-b", "32",
                              "-c", "1", "-r", str(rate_hz), "-", "norm", "-6"],
                             check=True, capture_output=True, timeout=30).stdout
    return np.frombuffer(out, dtype="<f4").astype(np.float64)


def loud_bounds(pcm: bytes, threshold: int = 600) -> tuple[int, int]:
    """Byte offsets of the first and last sample above `threshold` (about -35 dBFS): where
    espeak-ng's speech is, without its own leading and trailing silence."""
    samples = memoryview(pcm).cast("h")
    loud = [i for i, s in enumerate(samples) if abs(s) > threshold]
    return loud[0] * 2, (loud[-1] + 1) * 2


def loud_spans(signal: bytes, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Each phrase's byte range in `signal` without espeak-ng's own silence around it: what
    a record must hold to hold the phrase whole (`devkit.agent_process.account`)."""
    tight = []
    for start, end in spans:
        first, last = loud_bounds(signal[start:end])
        tight.append((start + first, start + last))
    return tight
