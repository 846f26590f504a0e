"""Capture formats the agent reads, and how their bytes decode to float samples.

The wire format is fixed (ingress_common.protocol: 16 kHz mono S16_LE); a device's native
format is not. A `PcmFormat` names what the device (or a WAV file) delivers; `decode_samples`
turns its bytes into a float32 array of shape (frames, channels) in [-1, 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingress_common.pcm import CHANNELS, SAMPLE_RATE_HZ

SAMPLE_FORMATS = ("S16_LE", "S32_LE", "S24_3LE")
"""What the agent can decode, in the order it prefers them (ALSA names)."""
BYTES_PER_SAMPLE = {"S16_LE": 2, "S32_LE": 4, "S24_3LE": 3, "U8": 1}
MIN_RATE_HZ, MAX_RATE_HZ = 8000, 48000


@dataclass(frozen=True)
class PcmFormat:
    rate_hz: int
    channels: int
    sample_format: str = "S16_LE"

    def __post_init__(self) -> None:
        if self.sample_format not in BYTES_PER_SAMPLE:
            raise ValueError(f"unsupported sample format {self.sample_format!r}")
        if not MIN_RATE_HZ <= self.rate_hz <= MAX_RATE_HZ:
            raise ValueError(f"rate {self.rate_hz} Hz is outside {MIN_RATE_HZ}-{MAX_RATE_HZ} Hz")
        if self.channels < 1:
            raise ValueError("a capture format has at least one channel")

    @property
    def frame_bytes(self) -> int:
        return BYTES_PER_SAMPLE[self.sample_format] * self.channels

    @property
    def is_wire_format(self) -> bool:
        return (self.rate_hz, self.channels, self.sample_format) == (SAMPLE_RATE_HZ, CHANNELS, "S16_LE")

    def __str__(self) -> str:
        return f"{self.rate_hz} Hz, {self.channels} ch, {self.sample_format}"


WIRE_FORMAT = PcmFormat(SAMPLE_RATE_HZ, CHANNELS, "S16_LE")


def decode_samples(data: bytes, fmt: PcmFormat) -> np.ndarray:
    """Whole frames of `data` as float32 (frames, channels); a trailing partial frame is
    the caller's to keep (see `FrameAligner`)."""
    frames = len(data) // fmt.frame_bytes
    raw = memoryview(data)[: frames * fmt.frame_bytes]
    if fmt.sample_format == "S16_LE":
        samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif fmt.sample_format == "S32_LE":
        samples = (np.frombuffer(raw, dtype="<i4").astype(np.float64) / 2147483648.0).astype(np.float32)
    elif fmt.sample_format == "S24_3LE":
        triplets = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        value = triplets[:, 0] | (triplets[:, 1] << 8) | (triplets[:, 2] << 16)
        value = np.where(value >= 1 << 23, value - (1 << 24), value)
        samples = value.astype(np.float32) / 8388608.0
    else:  # U8, as found in old WAV files
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    return samples.reshape(frames, fmt.channels)


def encode_pcm16(samples: np.ndarray) -> bytes:
    """Mono float samples → S16_LE bytes, rounded and clipped."""
    scaled = np.clip(np.rint(samples * 32768.0), -32768, 32767)
    return scaled.astype("<i2").tobytes()


class FrameAligner:
    """Keeps a partial frame between reads so decoding never splits a sample."""

    def __init__(self, frame_bytes: int) -> None:
        self._frame_bytes = frame_bytes
        self._rest = b""

    def whole_frames(self, data: bytes) -> bytes:
        data = self._rest + data if self._rest else data
        cut = len(data) - len(data) % self._frame_bytes
        self._rest = data[cut:]
        return data[:cut]
