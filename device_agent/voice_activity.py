"""Is this 20 ms window speech? Pure: no threads, no clock, no I/O.

The energy detector measures each window in the speech band (250-4000 Hz, so the rumble of
a fan or traffic, brown and pink noise's strongest part, does not count) and compares it
with the room's noise floor, tracked as the 10th percentile of the last 5 s of window
levels: speech has gaps between syllables and words, so the floor follows the room, not
the talker (for the first second, before there is a floor, only the absolute minimum
applies). A window is voiced when it is `margin_db` above that floor and above
`threshold_dbfs`, the absolute minimum; inside an utterance the margin is 3 dB lower, so a
soft word ending does not end the utterance (hysteresis).

The optional webrtc detector (webrtcvad, WebRTC's GMM voice detector, a small C library
with wheels for the Pi) must also call the window speech: it keeps steady machine noise
and tones out, at the cost of ~0.5 % of a core (docs/benchmarks.md, "Segmentation").
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from ingress_common.protocol import SAMPLE_RATE_HZ

WINDOW_S = 0.02
WINDOW_SAMPLES = int(SAMPLE_RATE_HZ * WINDOW_S)
WINDOW_BYTES = WINDOW_SAMPLES * 2
BAND_HZ = (250.0, 4000.0)
FLOOR_HISTORY_S = 5.0
FLOOR_PERCENTILE = 0.10
FLOOR_WARMUP_S = 1.0
"""Until this much has been heard the floor is not trusted (speech may come first)."""
HOLD_RELIEF_DB = 3.0
SILENT_DBFS = -100.0

_FREQS = np.fft.rfftfreq(WINDOW_SAMPLES, 1.0 / SAMPLE_RATE_HZ)
_BAND = np.logical_and(BAND_HZ[0] <= _FREQS, BAND_HZ[1] >= _FREQS)
_FULL_SCALE_SQUARE = 32768.0**2


def rms_dbfs(window: bytes) -> float:
    """Full-band RMS level of PCM16, dBFS (a full-scale square wave is 0 dBFS)."""
    samples = np.frombuffer(window, dtype="<i2").astype(np.float64)
    if not len(samples):
        return -math.inf
    mean_square = float(np.mean(samples * samples))
    return -math.inf if mean_square == 0 else 10 * math.log10(mean_square / _FULL_SCALE_SQUARE)


def band_dbfs(window: bytes) -> float:
    """RMS level of one 20 ms PCM16 window within the speech band, dBFS (by Parseval)."""
    samples = np.frombuffer(window, dtype="<i2").astype(np.float64)
    spectrum = np.fft.rfft(samples)
    power = 2.0 * float(np.sum(np.abs(spectrum[_BAND]) ** 2)) / len(samples) ** 2
    return SILENT_DBFS if power <= 0 else max(SILENT_DBFS, 10 * math.log10(power / _FULL_SCALE_SQUARE))


@dataclass(frozen=True)
class DetectorConfig:
    detector: str = "energy"
    """"energy" (adaptive noise floor) or "webrtc" (energy and webrtcvad must agree)."""
    threshold_dbfs: float = -55.0
    """Absolute minimum speech-band level of a voiced window."""
    margin_db: float = 10.0
    """How far above the tracked noise floor a window must be to start speech."""
    webrtc_aggressiveness: int = 2


class NoiseFloor:
    """The 10th percentile of the last 5 s of window levels."""

    def __init__(self) -> None:
        self._levels: deque[float] = deque(maxlen=round(FLOOR_HISTORY_S / WINDOW_S))

    def add(self, level_db: float) -> None:
        self._levels.append(level_db)

    @property
    def level_db(self) -> float:
        if len(self._levels) < FLOOR_WARMUP_S / WINDOW_S:
            return SILENT_DBFS
        ordered = sorted(self._levels)
        return ordered[int(FLOOR_PERCENTILE * (len(ordered) - 1))]


class VoiceDetector:
    def __init__(self, config: DetectorConfig) -> None:
        self.config = config
        self.floor = NoiseFloor()
        self._webrtc = None
        if config.detector == "webrtc":
            import webrtcvad

            self._webrtc = webrtcvad.Vad(config.webrtc_aggressiveness)

    def threshold_db(self, holding: bool) -> float:
        margin = self.config.margin_db - (HOLD_RELIEF_DB if holding else 0.0)
        return max(self.config.threshold_dbfs, self.floor.level_db + margin)

    def voiced(self, window: bytes, holding: bool) -> bool:
        """`holding`: inside an utterance (the lower, hold threshold applies)."""
        level = band_dbfs(window)
        threshold = self.threshold_db(holding)
        self.floor.add(level)
        if level < threshold:
            return False
        return self._webrtc is None or self._webrtc.is_speech(window, SAMPLE_RATE_HZ)
