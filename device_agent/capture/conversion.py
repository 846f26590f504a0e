"""Any capture format to the wire format (16 kHz mono S16_LE): the one conversion path
for ALSA capture and for WAV files alike.

decode (S16/S24/S32/U8) → one channel (fixed, auto or downmix; `channels.py`) → resample
to 16 kHz with soxr (a band-limited resampler: what lies above 8 kHz is filtered out, not
folded back into the band as ALSA's `plug` linear converter does) → S16_LE.
"""

from __future__ import annotations

import numpy as np

from device_agent.capture.channels import ChannelPicker, ChannelPolicy
from device_agent.capture.formats import FrameAligner, PcmFormat, decode_samples, encode_pcm16
from ingress_common.pcm import SAMPLE_RATE_HZ

RESAMPLER_QUALITY = "HQ"
"""soxr's high quality: 20-bit precision, passband to 91 % of Nyquist, no aliasing."""


class Converter:
    def __init__(self, fmt: PcmFormat, policy: ChannelPolicy | None = None) -> None:
        self.fmt = fmt
        self.picker = ChannelPicker(policy or ChannelPolicy("auto"), fmt.channels, fmt.rate_hz)
        self._aligner = FrameAligner(fmt.frame_bytes)
        self._passthrough = fmt.is_wire_format
        self._resampler = None
        if fmt.rate_hz != SAMPLE_RATE_HZ:
            import soxr  # only a device that needs resampling pays for it

            self._resampler = soxr.ResampleStream(fmt.rate_hz, SAMPLE_RATE_HZ, 1,
                                                  dtype="float32", quality=RESAMPLER_QUALITY)

    def describe(self) -> str:
        steps = [str(self.fmt)]
        if self.fmt.channels > 1:
            steps.append(str(self.picker.policy))
        if self._resampler is not None:
            steps.append(f"soxr {RESAMPLER_QUALITY} {self.fmt.rate_hz}→{SAMPLE_RATE_HZ} Hz")
        return " → ".join(steps)

    def convert(self, data: bytes) -> bytes:
        if self._passthrough:
            return self._aligner.whole_frames(data)
        block = decode_samples(self._aligner.whole_frames(data), self.fmt)
        return self._finish(self.picker.mono(block), last=False)

    def flush(self) -> bytes:
        """The resampler's tail at the end of a finite input."""
        if self._resampler is None:  # also covers the passthrough
            return b""
        return self._finish(np.zeros(0, dtype=np.float32), last=True)

    def _finish(self, mono: np.ndarray, last: bool) -> bytes:
        if self._resampler is not None:
            mono = self._resampler.resample_chunk(np.ascontiguousarray(mono, dtype=np.float32),
                                                  last=last)
        return encode_pcm16(mono)
