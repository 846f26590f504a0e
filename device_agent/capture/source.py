"""The interface every audio source implements: ALSA capture and the fakes alike."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ingress_common.pcm import BYTES_PER_SECOND


class SourceError(Exception):
    """The device failed (unplugged, busy, wrong format); the capture loop reopens it."""


class SourceStalled(SourceError):
    """No frames arrived within the stall timeout."""


class EndOfSource(Exception):
    """A finite source (a file) has nothing more. Real microphones never raise it."""


@dataclass(frozen=True)
class Stamp:
    """When a piece of audio's first sample was taken."""

    monotonic_ns: int
    wall_ns: int

    def plus(self, seconds: float) -> Stamp:
        ns = int(seconds * 1e9)
        return Stamp(self.monotonic_ns + ns, self.wall_ns + ns)


@dataclass(frozen=True)
class Chunk:
    pcm: bytes
    """PCM16 LE 16 kHz mono; empty when `xrun` is set."""
    xrun: bool = False
    """An overrun happened before this read: audio was lost, the stream has a gap."""


class AudioSource(Protocol):
    name: str

    def open(self) -> None:
        """Open the device; raise SourceError when it cannot be used as asked."""

    def read(self, timeout_s: float) -> Chunk:
        """One period of audio; SourceStalled after `timeout_s` without frames."""

    def close(self) -> None: ...


class RealTimePacer:
    """Holds a finite source to real time (`wav-paced:`, the paced fakes): after each chunk,
    sleeps until that much audio would have been captured since `start`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._clock, self._sleep = clock, sleep
        self._started: float | None = None
        self._played = 0

    def start(self) -> None:
        self._started, self._played = self._clock(), 0

    def stop(self) -> None:
        self._started = None

    def played(self, pcm_bytes: int) -> None:
        """`pcm_bytes` more went out: wait until they are due (at once when not started)."""
        self._played += pcm_bytes
        if self._started is not None:
            due = self._started + self._played / BYTES_PER_SECOND
            self._sleep(max(0.0, due - self._clock()))
