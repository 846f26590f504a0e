"""A WAV file as an audio source: PCM WAV files of any rate, channel count and sample
width, including the WAVE_FORMAT_EXTENSIBLE header that sox and most recorders write for
24-bit or multi-channel audio (Python 3.11's `wave` refuses it), read and converted a block
at a time (`wav:` and `wav-paced:` sources, and `send FILE`)."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from device_agent.capture.channels import ChannelPolicy
from device_agent.capture.conversion import Converter
from device_agent.capture.formats import PcmFormat
from device_agent.capture.source import Chunk, EndOfSource, RealTimePacer, SourceError
from ingress_common.pcm import BYTES_PER_SECOND, SAMPLE_RATE_HZ, SAMPLE_WIDTH_BYTES

RATE_HZ = SAMPLE_RATE_HZ

WAVE_FORMAT_PCM = 1
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
SAMPLE_FORMAT_BY_WIDTH = {1: "U8", 2: "S16_LE", 3: "S24_3LE", 4: "S32_LE"}
READ_BYTES = 1 << 18


class WavError(ValueError):
    """Not a PCM WAV file the agent can read."""


def read_header(handle: BinaryIO) -> tuple[PcmFormat, int]:
    """The format and the data chunk's length; leaves `handle` at the first data byte."""
    riff = handle.read(12)
    if len(riff) < 12 or riff[:4] != b"RIFF" or riff[8:] != b"WAVE":
        raise WavError("not a RIFF/WAVE file")
    fmt: PcmFormat | None = None
    while True:
        header = handle.read(8)
        if len(header) < 8:
            raise WavError("no data chunk")
        chunk_id, size = header[:4], struct.unpack("<I", header[4:])[0]
        if chunk_id == b"fmt ":
            body = handle.read(size + (size & 1))
            tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            if tag == WAVE_FORMAT_EXTENSIBLE and len(body) >= 26:
                tag = struct.unpack("<H", body[24:26])[0]
            if tag != WAVE_FORMAT_PCM:
                raise WavError(f"format tag {tag:#x} is not integer PCM")
            width = (bits + 7) // 8
            if width not in SAMPLE_FORMAT_BY_WIDTH:
                raise WavError(f"{bits}-bit samples")
            fmt = PcmFormat(rate, channels, SAMPLE_FORMAT_BY_WIDTH[width])
        elif chunk_id == b"data":
            if fmt is None:
                raise WavError("data before fmt")
            return fmt, size
        else:
            handle.seek(size + (size & 1), 1)


def read_blocks(path: Path) -> tuple[PcmFormat, Iterator[bytes]]:
    handle = path.open("rb")
    try:
        fmt, remaining = read_header(handle)
    except Exception:
        handle.close()
        raise

    def blocks() -> Iterator[bytes]:
        left = remaining
        with handle:
            while left > 0 and (block := handle.read(min(READ_BYTES, left))):
                left -= len(block)
                yield block
    return fmt, blocks()


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
        self._period_bytes = RATE_HZ * period_ms // 1000 * SAMPLE_WIDTH_BYTES
        self._pacer = RealTimePacer(clock, sleep) if paced else None
        try:  # the header now: a file that is no PCM WAV is refused before anything runs
            fmt, self._blocks = read_blocks(path)
            self.converter = Converter(fmt, channel)
        except (OSError, ValueError) as exc:
            raise SourceError(f"{path}: cannot read it as a PCM WAV file ({exc}); "
                              f"convert it with: sox {path} -b 16 out.wav") from None
        self._pending = bytearray()
        self._flushed = False
        self._read_bytes = 0

    def open(self) -> None:
        if self._pacer is not None:
            self._pacer.start()

    def read(self, timeout_s: float) -> Chunk:
        while len(self._pending) < self._period_bytes and not self._flushed:
            self._fill()
        if not self._pending:
            raise EndOfSource(self.name)
        chunk = bytes(self._pending[:self._period_bytes])
        del self._pending[:self._period_bytes]
        self._read_bytes += len(chunk)
        if self._pacer is not None:
            self._pacer.played(len(chunk))
        return Chunk(chunk)

    @property
    def seconds_read(self) -> float:
        """Audio read so far, in the wire format."""
        return self._read_bytes / BYTES_PER_SECOND

    def close(self) -> None:
        if self._pacer is not None:
            self._pacer.stop()

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
