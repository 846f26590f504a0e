"""Reading PCM WAV files of any rate, channel count and sample width, including the
WAVE_FORMAT_EXTENSIBLE header that sox and most recorders write for 24-bit or
multi-channel audio (Python 3.11's `wave` refuses it)."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from device_agent.audio_format import PcmFormat

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
