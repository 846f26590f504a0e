"""One thread per connection, really: the WebSocket is read in the handler's own thread.

simple-websocket's Server starts a reader thread per connection that parses frames and
hands each message to the handler through an Event: two thread wake-ups and a lock per
message. flask-sock builds that Server itself, so the seam is simple-websocket's
`thread_class` hook (passed in SOCK_SERVER_OPTIONS): `InlineReading` is handed the reader's
target, never starts a thread, and turns the connection into an `InlineServer`, which reads
the socket inside `receive()`:

- `recv_into` one preallocated buffer per connection, fed to wsproto without a copy of ours;
- frames unmasked in C (`compiled_unmask`), everything else of the frame parsing wsproto's;
- pings are answered, close handshakes completed and `max_message_size` enforced by the
  same wsproto event handling as before (`Base._handle_events`);
- `receive(timeout)` is bounded by its timeout as a whole, however the bytes dribble in;
- `close()` sends the close frame and waits up to CLOSE_WAIT_S for the peer's, as the
  reader thread used to, so the socket is not closed under unread data (a reset).

While the handler publishes (between `done` and its reply) nobody reads: a client ping then
waits for the reply, which comes within the publish timeout.
"""

from __future__ import annotations

import select
import ssl
import time
from typing import Any

from simple_websocket import ConnectionClosed, Server
from wsproto.utilities import LocalProtocolError

from edge_gateway.hosting.compiled_unmask import use_compiled_unmasking

CLOSE_WAIT_S = 1.0
DEFAULT_RECEIVE_BYTES = 65536


class InlineServer(Server):
    """A simple_websocket.Server whose frames are read by the thread calling receive()."""

    _buffer: bytearray
    _view: memoryview
    compiled_unmasking: bool

    def _prepare_inline(self) -> None:
        self._buffer = bytearray(max(self.receive_bytes, 4096))
        self._view = memoryview(self._buffer)
        self.compiled_unmasking = use_compiled_unmasking(self.ws)

    def receive(self, timeout: float | None = None) -> Any:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.connected and not self.input_buffer:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not self._readable(remaining):
                return None
            self._read_once()
        if self.input_buffer:
            return self.input_buffer.pop(0)
        raise ConnectionClosed(self.close_reason, self.close_message)

    def close(self, reason: int | None = None, message: str | None = None) -> None:
        super().close(reason, message)
        deadline = time.monotonic() + CLOSE_WAIT_S
        self.connected = True  # read on until the peer's close frame (or the deadline)
        try:
            while self.connected and self._readable(max(0.0, deadline - time.monotonic())):
                self._read_once()
        finally:
            self.connected = False

    def _readable(self, timeout: float | None) -> bool:
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return True  # decrypted bytes already buffered: select() cannot see them
        try:
            ready, _, _ = select.select([self.sock], [], [], timeout)
        except (OSError, ValueError):  # closed underneath us
            self.connected = False
            return True
        return bool(ready)

    def _read_once(self) -> None:
        try:
            count = self.sock.recv_into(self._buffer)
            if count == 0:
                raise ConnectionResetError("peer closed the connection")
            self.ws.receive_data(self._view[:count])
            self.connected = self._handle_events() and self.connected
        except (OSError, LocalProtocolError):
            self.connected = False


class InlineReading:
    """simple-websocket's `thread_class`: instead of a reader thread, an InlineServer."""

    def __init__(self, target: Any, **_kwargs: Any) -> None:
        self._server = target.__self__
        self.name = "inline-reading"

    def start(self) -> None:
        self._server.__class__ = InlineServer
        self._server._prepare_inline()

    def join(self, timeout: float | None = None) -> None:
        """Nothing to wait for."""
