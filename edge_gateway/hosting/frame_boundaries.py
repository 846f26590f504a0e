"""Where the whole WebSocket frames in a receive buffer end (RFC 6455, section 5.2).

The connection's reader hands wsproto only whole frames. Handed part of a frame, wsproto
emits that part as a message fragment, and simple-websocket joins the fragments with three
copies of each (`a + b`, `bytearray(...)`, `bytes(...)`): with 64 KiB frames and 64 KiB
reads, that is almost every frame of a burst (docs/benchmarks.md, issue 13). Held back
until it is whole, a frame costs one move to the buffer's front instead.

Only the frame's length is read here; wsproto still parses and checks every frame. A
frame too large to hold whole (beyond the buffer) is streamed to wsproto as it arrives, as
before, so simple-websocket's size limit refuses it with a close frame.
"""

from __future__ import annotations

MAX_HEADER_BYTES = 14
"""2 bytes, an 8-byte extended length and a 4-byte mask."""


def frame_size(data: memoryview | bytes, at: int, end: int) -> int | None:
    """The size, header included, of the frame starting at `data[at]`; None until enough
    of its header is in `data[at:end]` to tell."""
    if end - at < 2:
        return None
    second = data[at + 1]
    length = second & 0x7F
    header = 2 + (4 if second & 0x80 else 0)
    if length == 126:
        if end - at < 4:
            return None
        length = int.from_bytes(data[at + 2:at + 4], "big")
        header += 2
    elif length == 127:
        if end - at < 10:
            return None
        length = int.from_bytes(data[at + 2:at + 10], "big")
        header += 8
    return header + length


class FrameBoundaries:
    """Follows one connection's byte stream from its first frame; `whole_frames_end` says
    how much of each read to hand over."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        """The largest frame held back until whole: the receive buffer's size."""
        self._streaming = 0
        """Bytes still to come of a frame larger than `capacity`."""

    def whole_frames_end(self, data: memoryview | bytes, end: int) -> int:
        """`data[:end]` starts at a frame boundary: how many of its bytes can go to wsproto
        now (whole frames, or what has come of a frame too large to hold). The rest, the
        start of a frame, is to be kept and read on from."""
        at = 0
        while at < end:
            if self._streaming:
                taken = min(self._streaming, end - at)
                self._streaming -= taken
                at += taken
                continue
            size = frame_size(data, at, end)
            if size is None:
                break
            if size > self.capacity:
                self._streaming = size
                continue
            if at + size > end:
                break
            at += size
        return at
