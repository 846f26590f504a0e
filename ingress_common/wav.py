"""PCM16 ↔ WAV: the 44-byte header is built here; reading uses the standard `wave` module.

A published WAV is kept as `WavParts` (header + the stream's own PCM buffer) until the
Avro encoder writes both into the one event buffer: the PCM is copied once, there.
"""

from __future__ import annotations

import io
import struct
import wave
from dataclasses import dataclass

from ingress_common.protocol import CHANNELS, SAMPLE_RATE_HZ, SAMPLE_WIDTH_BYTES

WAV_HEADER_BYTES = 44
_HEADER = struct.Struct("<4sI4s4sIHHIIHH4sI")


@dataclass(frozen=True)
class WavParts:
    """A WAV file as its header and its PCM, not yet joined."""

    header: bytes
    pcm: bytes | memoryview

    def __len__(self) -> int:
        return len(self.header) + len(self.pcm)

    def __bytes__(self) -> bytes:
        return b"".join((self.header, self.pcm))


def wav_header(pcm_bytes: int, sample_rate_hz: int = SAMPLE_RATE_HZ) -> bytes:
    """The canonical 44-byte header of a mono PCM16 WAV file with `pcm_bytes` of samples."""
    block_align = CHANNELS * SAMPLE_WIDTH_BYTES
    return _HEADER.pack(b"RIFF", 36 + pcm_bytes, b"WAVE", b"fmt ", 16, 1, CHANNELS,
                        sample_rate_hz, sample_rate_hz * block_align, block_align,
                        8 * SAMPLE_WIDTH_BYTES, b"data", pcm_bytes)


def wav_parts(pcm: bytes | memoryview, sample_rate_hz: int = SAMPLE_RATE_HZ) -> WavParts:
    """Mono PCM16 LE samples as a WAV file, without copying them."""
    return WavParts(wav_header(len(pcm), sample_rate_hz), pcm)


def pcm_to_wav(pcm: bytes | memoryview, sample_rate_hz: int = SAMPLE_RATE_HZ) -> bytes:
    """Wrap mono PCM16 LE samples in a WAV container."""
    return bytes(wav_parts(pcm, sample_rate_hz))


def wav_to_pcm(data: bytes) -> tuple[bytes, int, int]:
    """The PCM frames, sample rate (Hz) and channel count of a WAV file."""
    with wave.open(io.BytesIO(data), "rb") as wav:
        return wav.readframes(wav.getnframes()), wav.getframerate(), wav.getnchannels()
