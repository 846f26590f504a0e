"""Sources an operator can choose instead of a microphone (`AGENT_SOURCE=tone:HZ`,
`silence`): PCM in memory, tones, silence. Same interface as AlsaSource. (A WAV file is a
real source of its own: `wav.py`; the tests' scripted source lives with the tests.)"""

from __future__ import annotations

import math
import struct
import time
from collections.abc import Callable

from device_agent.capture.source import Chunk, EndOfSource, RealTimePacer
from ingress_common.pcm import SAMPLE_RATE_HZ, SAMPLE_WIDTH_BYTES

RATE_HZ = SAMPLE_RATE_HZ


class PcmSource:
    """Plays PCM16 mono in periods; `paced` makes it deliver them at real time."""

    def __init__(self, pcm: bytes, period_ms: int = 20, paced: bool = False, name: str = "pcm",
                 loop: bool = False, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.name = name
        self._loop = loop
        self._pcm = pcm
        self._period_bytes = RATE_HZ * period_ms // 1000 * SAMPLE_WIDTH_BYTES
        self._offset = 0
        self._pacer = RealTimePacer(clock, sleep) if paced else None

    def open(self) -> None:
        if self._pacer is not None:
            self._pacer.start()

    def read(self, timeout_s: float) -> Chunk:
        if self._offset >= len(self._pcm):
            if not self._loop:
                raise EndOfSource(self.name)
            self._offset = 0
        chunk = self._pcm[self._offset:self._offset + self._period_bytes]
        self._offset += len(chunk)
        if self._pacer is not None:
            self._pacer.played(len(chunk))
        return Chunk(chunk)

    def close(self) -> None:
        if self._pacer is not None:
            self._pacer.stop()


def tone_pcm(seconds: float, hz: float = 440.0, amplitude: int = 8000) -> bytes:
    n = int(RATE_HZ * seconds)
    return struct.pack(f"<{n}h", *(int(amplitude * math.sin(2 * math.pi * hz * i / RATE_HZ))
                                   for i in range(n)))


def silence_pcm(seconds: float) -> bytes:
    return b"\0\0" * int(RATE_HZ * seconds)
