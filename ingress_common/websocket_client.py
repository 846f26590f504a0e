"""simple-websocket's client, with a fix for messages that arrive with the handshake.

simple-websocket 1.1.0's `Client.handshake()` takes only the first wsproto event (the 101
response) from its first read. A message the server sends right after the handshake (the
gateway's `connected`) often arrives in that same read; it then stays parked inside wsproto
until more bytes come, and the client waits for a message it already has — until the
gateway's idle timeout ends the stream (found by the soak test: 8 of 229 streams). This
subclass hands those events over as soon as the handshake is done.

Closing can race with simple-websocket's reader thread: after the server's close frame that
thread closes the socket, and a `close()` that read `connected` as True just before sends on
a closed descriptor (OSError EBADF; it killed the agent's delivery thread, issue 11).
Closing a connection that is already closed is not a failure, so `close()` here never raises.

simple-websocket also has no connect timeout: its socket takes the process-wide default.
`connect_with_timeout` sets that default, under a lock, for the connect and handshake only.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

import simple_websocket

_DEFAULT_TIMEOUT_LOCK = threading.Lock()


class Client(simple_websocket.Client):
    connected: bool

    def handshake(self) -> None:
        super().handshake()
        if self.connected:
            self.connected = self._handle_events()

    def close(self, reason: int | None = None, message: str | None = None) -> None:
        """Close the connection; a no-op when the peer or the reader thread already did."""
        try:
            super().close(reason, message)
        except (OSError, simple_websocket.ConnectionClosed):
            self.connected = False
            with contextlib.suppress(OSError):
                self.sock.close()

    @classmethod
    def connect_with_timeout(cls, url: str, timeout_s: float, **kwargs: Any) -> Client:
        """`connect()`, giving up on the TCP connect and the handshake after `timeout_s`."""
        with _DEFAULT_TIMEOUT_LOCK:
            previous = socket.getdefaulttimeout()
            socket.setdefaulttimeout(timeout_s)
            try:
                ws = cls.connect(url, **kwargs)
            finally:
                socket.setdefaulttimeout(previous)
        ws.sock.settimeout(None)
        return ws
