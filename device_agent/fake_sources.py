"""Sources that stand in for the microphone: PCM in memory, WAV files, tones, silence,
and a scripted source that plays xruns, unplugs and stalls. Same interface as AlsaSource."""

from __future__ import annotations

import math
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from device_agent.channels import ChannelPolicy
from device_agent.conversion import Converter
from device_agent.source import Chunk, EndOfSource, SourceError, SourceStalled
from device_agent.wav_files import read_blocks
from ingress_common.protocol import SAMPLE_RATE_HZ

RATE_HZ = SAMPLE_RATE_HZ


class PcmSource:
    """Plays PCM16 mono in periods; `paced` makes it deliver them at real time."""

    def __init__(self, pcm: bytes, period_ms: int = 20, paced: bool = False, name: str = "pcm",
                 loop: bool = False, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.name = name
        self._loop = loop
        self._played = 0
        self._pcm = pcm
        self._period_bytes = RATE_HZ * period_ms // 1000 * 2
        self._offset = 0
        self._paced = paced
        self._clock, self._sleep = clock, sleep
        self._started: float | None = None

    def open(self) -> None:
        self._started = self._clock()
        self._played = 0

    def read(self, timeout_s: float) -> Chunk:
        if self._offset >= len(self._pcm):
            if not self._loop:
                raise EndOfSource(self.name)
            self._offset = 0
        chunk = self._pcm[self._offset:self._offset + self._period_bytes]
        self._offset += len(chunk)
        self._played += len(chunk)
        if self._paced and self._started is not None:
            due = self._started + self._played / (RATE_HZ * 2)
            self._sleep(max(0.0, due - self._clock()))
        return Chunk(chunk)

    def close(self) -> None:
        self._started = None


def wav_file_pcm(path: Path, channel: ChannelPolicy | None = None) -> bytes:
    """A whole PCM WAV file as wire-format PCM (the reference that tests compare with)."""
    source = WavFileSource(path, channel=channel)
    source.open()
    out = bytearray()
    while True:
        try:
            out += source.read(0).pcm
        except EndOfSource:
            return bytes(out)


class WavFileSource:
    """A PCM WAV file of any rate (8-48 kHz), channel count and sample width, read and
    converted a block at a time by the same Converter that ALSA capture uses: memory stays
    bounded whatever the file's length. `paced` delivers it at real time. A reopen (after a
    capture error) carries on where it was."""

    def __init__(self, path: Path, period_ms: int = 20, paced: bool = False,
                 channel: ChannelPolicy | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.name = f"wav:{path}"
        self.path = path
        self._period_bytes = RATE_HZ * period_ms // 1000 * 2
        self._paced = paced
        self._clock, self._sleep = clock, sleep
        try:  # the header now: a file that is no PCM WAV is refused before anything runs
            fmt, self._blocks = read_blocks(path)
            self.converter = Converter(fmt, channel)
        except (OSError, ValueError) as exc:
            raise SourceError(f"{path}: cannot read it as a PCM WAV file ({exc}); "
                              f"convert it with: sox {path} -b 16 out.wav") from None
        self._pending = bytearray()
        self._flushed = False
        self._read_bytes = 0
        self._played = 0
        self._started: float | None = None

    def open(self) -> None:
        self._started = self._clock()
        self._played = 0

    def read(self, timeout_s: float) -> Chunk:
        while len(self._pending) < self._period_bytes and not self._flushed:
            self._fill()
        if not self._pending:
            raise EndOfSource(self.name)
        chunk = bytes(self._pending[:self._period_bytes])
        del self._pending[:self._period_bytes]
        self._played += len(chunk)
        self._read_bytes += len(chunk)
        if self._paced and self._started is not None:
            due = self._started + self._played / (RATE_HZ * 2)
            self._sleep(max(0.0, due - self._clock()))
        return Chunk(chunk)

    @property
    def seconds_read(self) -> float:
        """Audio read so far, in the wire format."""
        return self._read_bytes / (RATE_HZ * 2)

    def close(self) -> None:
        self._started = None

    def _fill(self) -> None:
        try:
            block = next(self._blocks)
        except StopIteration:
            self._pending += self.converter.flush()
            self._flushed = True
            return
        except OSError as exc:
            raise SourceError(f"{self.path}: {exc}") from None
        self._pending += self.converter.convert(block)


def tone_pcm(seconds: float, hz: float = 440.0, amplitude: int = 8000) -> bytes:
    n = int(RATE_HZ * seconds)
    return struct.pack(f"<{n}h", *(int(amplitude * math.sin(2 * math.pi * hz * i / RATE_HZ))
                                   for i in range(n)))


def silence_pcm(seconds: float) -> bytes:
    return b"\0\0" * int(RATE_HZ * seconds)


class ScriptedSource:
    """Plays a script shared across reopenings, for xrun / unplug / stall tests.

    Steps: bytes (a chunk of audio), "xrun", "unplug" (the read fails), "stall"
    (no frames), "open_fails" (consumed by the next open()).
    """

    def __init__(self, script: Iterator[bytes | str], name: str = "scripted") -> None:
        self.name = name
        self._script = script
        self.opened = 0
        self.closed = 0
        self._pending: bytes | str | None = None

    def open(self) -> None:
        step = self._next()
        if step == "open_fails":
            raise SourceError("device busy")
        self._pending = step
        self.opened += 1

    def read(self, timeout_s: float) -> Chunk:
        step = self._pending if self._pending is not None else self._next()
        self._pending = None
        if step == "xrun":
            return Chunk(b"", xrun=True)
        if step == "unplug":
            raise SourceError("No such device")
        if step == "stall":
            raise SourceStalled(f"no frames for {timeout_s:g} s")
        assert isinstance(step, bytes)
        return Chunk(step)

    def close(self) -> None:
        self.closed += 1

    def _next(self) -> bytes | str:
        try:
            return next(self._script)
        except StopIteration:
            raise EndOfSource(self.name) from None
