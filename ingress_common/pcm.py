"""The wire's audio format: PCM16 LE, 16 kHz, mono. What capture produces, what segmenting
cuts and what the gateway wraps as WAV; `protocol` carries it."""

SAMPLE_RATE_HZ = 16000
"""The only sample rate v1 accepts, in Hertz."""
SAMPLE_WIDTH_BYTES = 2
"""PCM16: signed 16-bit little-endian samples."""
CHANNELS = 1
BYTES_PER_SECOND = SAMPLE_RATE_HZ * SAMPLE_WIDTH_BYTES * CHANNELS
"""32000: one second of the wire's PCM."""
SILENT_DBFS = -120.0
"""The level of digital silence, in dB below full scale (a log of zero has no value):
reports show it for no audio, and the detector's noise floor starts there."""


def whole_samples(pcm_bytes: int) -> int:
    """The most bytes of `pcm_bytes` that hold whole samples (an even count)."""
    return pcm_bytes // SAMPLE_WIDTH_BYTES * SAMPLE_WIDTH_BYTES


def duration_ms(pcm_bytes: int) -> int:
    """Milliseconds of wire-format PCM in `pcm_bytes` (whole milliseconds, rounded down)."""
    return pcm_bytes * 1000 // BYTES_PER_SECOND
