"""Speech enhancement before segmenting: WebRTC's noise suppression and automatic gain
(`webrtc-noise-gain`, the wrapper linux-voice-assistant and wyoming-satellite use), on
10 ms frames of the 16 kHz mono stream. Imported only when a level is set.

What the ASR receives is the enhanced audio; the segment's `front_end` says what was done
(`ns=2;agc=3`), and the gateway writes it to the record's headers.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingress_common.pcm import SAMPLE_RATE_HZ, SAMPLE_WIDTH_BYTES

FRAME_BYTES = SAMPLE_RATE_HZ // 100 * SAMPLE_WIDTH_BYTES
"""10 ms, the only frame webrtc-noise-gain takes."""
REQUIRED_API = ("webrtc_noise_gain", "AudioProcessor", ("Process10ms",))
"""What the enhancer calls: (module, class, names)."""


@dataclass(frozen=True)
class EnhancementConfig:
    noise_suppression: int = 0
    """0 off, 1-4 (4: the most suppression)."""
    auto_gain_dbfs: int = 0
    """0 off, else the target level's distance below full scale, 1-31 dB."""

    @property
    def enabled(self) -> bool:
        return bool(self.noise_suppression or self.auto_gain_dbfs)

    def describe(self) -> str:
        return f"ns={self.noise_suppression};agc={self.auto_gain_dbfs}" if self.enabled else ""


class Enhancer:
    """Streams PCM through the processor; keeps the last partial frame for the next call,
    so the output lags the input by less than 10 ms."""

    def __init__(self, config: EnhancementConfig) -> None:
        from webrtc_noise_gain import AudioProcessor

        self.config = config
        self._processor = AudioProcessor(config.auto_gain_dbfs, config.noise_suppression)
        self._pending = b""

    @property
    def pending_bytes(self) -> int:
        return len(self._pending)

    def process(self, pcm: bytes) -> bytes:
        data = self._pending + pcm
        whole = len(data) - len(data) % FRAME_BYTES
        self._pending = data[whole:]
        return b"".join(self._processor.Process10ms(data[i: i + FRAME_BYTES]).audio
                        for i in range(0, whole, FRAME_BYTES))
