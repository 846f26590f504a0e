"""The input level over an interval: RMS, peak and clipping, for the health report. Pure."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from ingress_common.health import SILENT_DBFS

FULL_SCALE = 32768.0
CLIP_SAMPLE = 32767
"""A sample at or beyond this magnitude is clipped (PCM16 full scale)."""


@dataclass(frozen=True)
class Levels:
    rms_dbfs: float
    peak_dbfs: float
    clipped_ratio: float
    samples: int


def dbfs(amplitude: float) -> float:
    return max(SILENT_DBFS, 20 * math.log10(amplitude / FULL_SCALE)) if amplitude > 0 \
        else SILENT_DBFS


class LevelMeter:
    """Fed each captured chunk (16 kHz mono PCM16) by the segmenting thread; `take()` by
    the health reporter returns the interval's levels and starts the next interval."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._squares = 0.0
        self._peak = 0
        self._clipped = 0
        self._samples = 0

    def add(self, pcm: bytes) -> None:
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.int32)
        if not len(samples):
            return
        magnitudes = np.abs(samples)
        squares = float(np.sum(samples.astype(np.float64) ** 2))
        with self._lock:
            self._squares += squares
            self._peak = max(self._peak, int(magnitudes.max()))
            self._clipped += int(np.count_nonzero(magnitudes >= CLIP_SAMPLE))
            self._samples += len(samples)

    def take(self) -> Levels:
        with self._lock:
            squares, peak, clipped, samples = (self._squares, self._peak, self._clipped,
                                               self._samples)
            self._squares, self._peak, self._clipped, self._samples = 0.0, 0, 0, 0
        if not samples:
            return Levels(SILENT_DBFS, SILENT_DBFS, 0.0, 0)
        return Levels(dbfs(math.sqrt(squares / samples)), dbfs(peak), clipped / samples, samples)
