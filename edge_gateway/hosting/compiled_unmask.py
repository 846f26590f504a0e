"""Unmask client frames in C: websockets' `apply_mask` inside wsproto's frame decoder.

Every frame a client sends is XOR-masked (RFC 6455 5.3). wsproto unmasks in Python with
four `bytearray.translate` passes over strided slices: 51 µs per 64 KiB frame here, the
largest single cost of a burst (docs/benchmarks.md). websockets ships the same operation
as a C function, `websockets.speedups.apply_mask` (1.5 µs per 64 KiB). Only the masker is
replaced: wsproto still parses every header, enforces the frame rules and runs the close
and ping handling; the result is byte for byte the same
(tests/unit/edge_gateway/hosting/test_compiled_unmask.py).

The decoder is reached through wsproto's private attributes (`Connection._proto`,
`FrameProtocol._frame_decoder`, `XorMaskerSimple._masking_key`). If a wsproto release moves
them, or websockets was installed without its C extension, `use_compiled_unmasking` returns
False and the connection keeps wsproto's own masker: slower, never wrong.
"""

from __future__ import annotations

from typing import Any

from wsproto import ConnectionType
from wsproto.connection import Connection
from wsproto.frame_protocol import FrameDecoder, XorMaskerSimple

try:
    from websockets.speedups import apply_mask
    _C_EXTENSION = True
except ImportError:  # websockets without its C extension: keep wsproto's masker
    _C_EXTENSION = False


def _wsproto_layout_is_known() -> bool:
    """The private attributes this module reaches for are where it expects them."""
    decoder = getattr(Connection(ConnectionType.SERVER)._proto, "_frame_decoder", None)
    return (type(decoder) is FrameDecoder
            and hasattr(XorMaskerSimple(b"\0\0\0\0"), "_masking_key"))


AVAILABLE = _C_EXTENSION and _wsproto_layout_is_known()
"""Whether connections can unmask in C; the gateway warns at start when they cannot."""


class CompiledMasker:
    """XorMaskerSimple's contract (a frame's payload may come in pieces) with a C XOR."""

    __slots__ = ("_key",)

    def __init__(self, masking_key: bytes | bytearray) -> None:
        self._key = bytes(masking_key)

    def process(self, data: bytearray) -> bytes | bytearray:
        if not data:
            return data
        unmasked = apply_mask(data, self._key)
        rotation = len(data) % 4  # the next piece continues with the next key byte
        if rotation:
            self._key = self._key[rotation:] + self._key[:rotation]
        return unmasked


class CompiledUnmaskDecoder(FrameDecoder):
    """wsproto's FrameDecoder, its masker swapped for CompiledMasker after each header."""

    def parse_header(self) -> bool:
        if not super().parse_header():
            return False
        if type(self.masker) is XorMaskerSimple:
            self.masker = CompiledMasker(self.masker._masking_key)  # type: ignore[assignment]
        return True


def use_compiled_unmasking(ws: Any) -> bool:
    """Switch an accepted wsproto WSConnection's (or a Connection's) decoder to compiled
    unmasking (True), or leave it as it is (False: no C extension, or wsproto's internals
    have moved)."""
    if not AVAILABLE:
        return False
    connection = getattr(ws, "connection", ws)  # a WSConnection has one once accepted
    decoder = getattr(getattr(connection, "_proto", None), "_frame_decoder", None)
    if type(decoder) is not FrameDecoder:
        return False
    decoder.__class__ = CompiledUnmaskDecoder  # a header already parsed keeps its masker
    return True
