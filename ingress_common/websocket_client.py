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
A `send()` that loses the same race (the server's reply and close came while the client was
still streaming: a repeat answered at `start`) raises ConnectionClosed, as a send after the
close does, so the caller reads the reply the reader thread kept (a CI run failed on it).

simple-websocket also has no connect timeout: its socket takes the process-wide default.
`connect_with_timeout` sets that default, under a lock, for the connect and handshake only.

A dead link (Wi-Fi gone, a NAT rebinding: no RST, the path just stops) is detected within
a bound (docs/protocol.md, "Dead links"): with `ping_interval_s`, the reader thread pings
and closes the connection when a pong has not come back by the next ping; and with
`io_timeout_s` no send blocks longer than that on a full send buffer. A socket with a
timeout may write part of a frame in one send(), so sends go through `sendall`.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

import simple_websocket
from wsproto.connection import ConnectionState
from wsproto.utilities import LocalProtocolError, ProtocolError

_DEFAULT_TIMEOUT_LOCK = threading.Lock()


class Client(simple_websocket.Client):
    connected: bool

    def handshake(self) -> None:
        super().handshake()
        if self.connected:
            self.connected = self._handle_events()

    def send(self, data: bytes | str) -> None:
        """Send a message; ConnectionClosed, never EBADF, when the reader thread has just
        closed the connection after the server's close frame."""
        try:
            super().send(data)
        except (OSError, LocalProtocolError):
            if self.ws.state is ConnectionState.OPEN and self.sock.fileno() != -1:
                raise
            self.connected = False
            raise simple_websocket.ConnectionClosed(self.close_reason, self.close_message) from None

    def close(self, reason: int | None = None, message: str | None = None) -> None:
        """Close the connection; a no-op when the peer or the reader thread already did."""
        try:
            super().close(reason, message)
        except (OSError, simple_websocket.ConnectionClosed):
            self.connected = False
            with contextlib.suppress(OSError):
                self.sock.close()

    @classmethod
    def connect_checked(cls, url: str, **kwargs: Any) -> Client:
        """`connect()`, with a peer that closes during the handshake (a gateway killed at
        that moment) raised as ConnectionError like any refused handshake, not as wsproto's
        RemoteProtocolError."""
        try:
            return cls.connect(url, **kwargs)
        except ProtocolError as exc:
            raise simple_websocket.ConnectionError(f"handshake failed: {exc}") from None

    @classmethod
    def connect_with_timeout(cls, url: str, timeout_s: float, io_timeout_s: float | None = None,
                             **kwargs: Any) -> Client:
        """`connect()`, giving up on the TCP connect and the handshake after `timeout_s`.
        With `io_timeout_s`, a send that cannot go out for that long fails (OSError)."""
        with _DEFAULT_TIMEOUT_LOCK:
            previous = socket.getdefaulttimeout()
            socket.setdefaulttimeout(timeout_s)
            try:
                ws = cls.connect_checked(url, **kwargs)
            finally:
                socket.setdefaulttimeout(previous)
        ws.sock.settimeout(io_timeout_s)
        _no_delay(ws.sock)
        if io_timeout_s is not None:
            _keepalive(ws.sock, io_timeout_s)
            ws.sock = _SendAll(ws.sock)
        return ws


class _SendAll:
    """A socket whose send() is sendall(): whole frames, or an OSError at the timeout."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def send(self, data: bytes) -> int:
        self._sock.sendall(data)
        return len(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def _no_delay(sock: socket.socket) -> None:
    """Nagle's algorithm off: `done` after the last frames must not wait for their ACK,
    which the receiver delays by 40 ms (49.9 ms vs 6.7 ms done→published, measured)."""
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _keepalive(sock: socket.socket, idle_s: float) -> None:
    """TCP keepalive as a second line (it also covers a link dead while nothing is sent)."""
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, max(1, int(idle_s)))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
