"""Measurements on audio read back from Kafka: a tone's frequency, how far an out-of-band
tone folded into the band, and how closely speech matches a reference resampling."""

from __future__ import annotations

import numpy as np

from ingress_common.protocol import SAMPLE_RATE_HZ


def samples_of(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0


def _spectrum(x: np.ndarray, pad_to: int = 1 << 18) -> tuple[np.ndarray, np.ndarray]:
    windowed = x * np.hanning(len(x))
    power = np.abs(np.fft.rfft(windowed, n=max(pad_to, len(x)))) ** 2
    return np.fft.rfftfreq(max(pad_to, len(x)), 1.0 / SAMPLE_RATE_HZ), power


def tone_frequency(x: np.ndarray, near_hz: float, span_hz: float = 200.0) -> float:
    """The peak frequency within `near_hz` ± `span_hz` (Hann window, zero padding and a
    parabolic fit: a few hundredths of a hertz on a 1 s tone)."""
    freqs, power = _spectrum(x)
    band = np.flatnonzero(np.abs(freqs - near_hz) <= span_hz)
    k = int(band[np.argmax(power[band])])
    a, b, c = np.log(power[k - 1: k + 2] + 1e-300)
    shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) else 0.0
    return float(freqs[k] + shift * (freqs[1] - freqs[0]))


def peak_db(x: np.ndarray, low_hz: float, high_hz: float) -> float:
    """The strongest spectral peak within [low, high] Hz, in dB (relative units)."""
    freqs, power = _spectrum(x)
    band = (freqs >= low_hz) & (freqs <= high_hz)
    return float(10 * np.log10(power[band].max() + 1e-300))


def best_alignment(signal: np.ndarray, reference: np.ndarray) -> tuple[int, float]:
    """(offset of `reference` within `signal`, normalized cross-correlation there)."""
    n = len(signal) + len(reference)
    size = 1 << int(np.ceil(np.log2(n)))
    corr = np.fft.irfft(np.fft.rfft(signal, size) * np.conj(np.fft.rfft(reference, size)), size)
    lag = int(np.argmax(corr[: len(signal) - len(reference) + 1]))
    part = signal[lag: lag + len(reference)]
    score = float(np.dot(part, reference) / (np.linalg.norm(part) * np.linalg.norm(reference) + 1e-300))
    return lag, score


def encode_frames(samples: np.ndarray, sample_format: str) -> bytes:
    """Float (frames, channels) in [-1, 1) → interleaved bytes in an ALSA sample format."""
    flat = np.asarray(samples, dtype=np.float64).reshape(-1)
    if sample_format == "S16_LE":
        return np.clip(np.rint(flat * 32768), -32768, 32767).astype("<i2").tobytes()
    if sample_format == "S32_LE":
        return np.clip(np.rint(flat * 2**31), -2**31, 2**31 - 1).astype("<i4").tobytes()
    if sample_format == "S24_3LE":
        ints = np.clip(np.rint(flat * 2**23), -2**23, 2**23 - 1).astype("<i4")
        return ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    raise ValueError(sample_format)
