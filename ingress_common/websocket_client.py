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

A gateway that refuses the upgrade answers with a JSON body that says why (`code`,
`retryable`) and, when a retry can help, `Retry-After`. simple-websocket keeps only the
status; `handshake()` here keeps the rest, raised as `HandshakeRefused`.

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
import json
import socket
import threading
from typing import Any

import simple_websocket
from wsproto.connection import ConnectionState
from wsproto.events import AcceptConnection, RejectConnection, RejectData, Request
from wsproto.utilities import LocalProtocolError, ProtocolError

_DEFAULT_TIMEOUT_LOCK = threading.Lock()
MAX_REFUSAL_BYTES = 16 * 1024


class HandshakeRefused(simple_websocket.ConnectionError):
    """The server answered the upgrade with an HTTP error: its status, and what its JSON
    body and headers said (empty when it said nothing readable)."""

    def __init__(self, status_code: int, code: str = "", message: str = "",
                 retryable: bool = False, retry_after_s: float | None = None) -> None:
        super().__init__(status_code)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.retry_after_s = retry_after_s

    def __str__(self) -> str:
        said = f" {self.code}: {self.message}" if self.code else ""
        return f"refused with HTTP {self.status_code}{said}"


class Client(simple_websocket.Client):
    connected: bool

    def handshake(self) -> None:
        """simple-websocket's handshake, keeping a refusal's body and Retry-After."""
        self.sock.send(self.ws.send(Request(host=self.host, target=self.path,
                                            subprotocols=self.subprotocols,
                                            extra_headers=self.extra_headeers)))
        event = None
        while event is None:
            data = self.sock.recv(self.receive_bytes)
            if not data:
                raise simple_websocket.ConnectionError(400)
            self.ws.receive_data(data)
            event = next(self.ws.events(), None)
        if isinstance(event, RejectConnection):
            raise self._refused(event)
        if not isinstance(event, AcceptConnection):
            raise simple_websocket.ConnectionError(400)
        self.subprotocol = event.subprotocol
        self.connected = self._handle_events()

    def _refused(self, rejection: RejectConnection) -> HandshakeRefused:
        body = bytearray()
        finished = not rejection.has_body
        with contextlib.suppress(OSError, ProtocolError):
            while not finished and len(body) < MAX_REFUSAL_BYTES:
                for event in self.ws.events():
                    if isinstance(event, RejectData):
                        body += event.data
                        finished = event.body_finished
                if not finished:
                    data = self.sock.recv(self.receive_bytes)
                    if not data:
                        break
                    self.ws.receive_data(data)
        headers = {bytes(k).decode("latin-1").lower(): bytes(v).decode("latin-1")
                   for k, v in rejection.headers}
        try:
            said = json.loads(bytes(body))
            code, message = str(said["code"]), str(said.get("message", ""))
            retryable = bool(said.get("retryable", False))
        except (ValueError, KeyError, TypeError):
            code, message, retryable = "", "", False
        try:
            retry_after = float(headers["retry-after"]) if "retry-after" in headers else None
        except ValueError:
            retry_after = None
        return HandshakeRefused(rejection.status_code, code, message, retryable, retry_after)

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
