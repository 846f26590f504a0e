"""PCM16 ↔ WAV with the standard library's `wave` module."""

from __future__ import annotations

import io
import wave

from ingress_common.protocol import CHANNELS, SAMPLE_RATE_HZ, SAMPLE_WIDTH_BYTES

WAV_HEADER_BYTES = 44


def pcm_to_wav(pcm: bytes | memoryview, sample_rate_hz: int = SAMPLE_RATE_HZ) -> bytes:
    """Wrap mono PCM16 LE samples in a WAV container."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(CHANNELS)
        wav.setsampwidth(SAMPLE_WIDTH_BYTES)
        wav.setframerate(sample_rate_hz)
        wav.writeframes(pcm)
    return out.getvalue()


def wav_to_pcm(data: bytes) -> tuple[bytes, int, int]:
    """The PCM frames, sample rate (Hz) and channel count of a WAV file."""
    with wave.open(io.BytesIO(data), "rb") as wav:
        return wav.readframes(wav.getnframes()), wav.getframerate(), wav.getnchannels()
