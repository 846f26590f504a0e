"""A protocol-v1 client for tests, the demo and the load generator (simple-websocket).

`stream_utterance` sends start, frames and done, and returns every server message.
`RawWebSocket` is a minimal wsproto client for what simple-websocket cannot do:
sending a ping and timing its pong, or sending arbitrary frames.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import simple_websocket
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

from ingress_common.protocol import Done, Start, encode_client
from ingress_common.websocket_client import Client


@dataclass
class StreamResult:
    messages: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str | None = None
    done_sent_at: float | None = None
    final_at: float | None = None
    subprotocol: str | None = None

    @property
    def final(self) -> dict[str, Any]:
        return self.messages[-1]

    @property
    def correlation_id(self) -> str:
        return str(self.messages[0]["correlation_id"])


def frames_of(pcm: bytes, frame_bytes: int) -> list[bytes]:
    return [pcm[i:i + frame_bytes] for i in range(0, len(pcm), frame_bytes)]


def stream_utterance(url: str, frames: Iterable[bytes], start: dict[str, Any] | None = None,
                     pace_s: float = 0.0, send_done: bool = True, timeout_s: float = 30.0,
                     headers: dict[str, str] | None = None,
                     subprotocols: list[str] | None = None,
                     ssl_context: ssl.SSLContext | None = None) -> StreamResult:
    """Stream one utterance and collect the server's messages until it closes."""
    result = StreamResult()
    ws = Client.connect(url, headers=headers, subprotocols=subprotocols,
                                         ssl_context=ssl_context)
    result.subprotocol = ws.subprotocol
    try:
        result.messages.append(json.loads(_receive_text(ws, timeout_s)))
        if start is not None:
            # extra keys pass through as given: tests send what the gateway must refuse
            ws.send(json.dumps({**Start().message(), **start}))
        for frame in frames:
            ws.send(frame)
            if pace_s:
                time.sleep(pace_s)
        if not send_done:  # leave without done: the gateway publishes what it has
            ws.close()
            return result
        result.done_sent_at = time.monotonic()
        ws.send(encode_client(Done()))
        _collect_until_closed(ws, result, timeout_s)
    except simple_websocket.ConnectionClosed as closed:
        result.close_code, result.close_reason = closed.reason, closed.message
        _drain(ws, result)
    finally:
        if ws.connected:
            ws.close()
    return result


def _receive_text(ws: simple_websocket.Client, timeout_s: float) -> str:
    message = ws.receive(timeout=timeout_s)
    if not isinstance(message, str):
        raise TimeoutError(f"expected a text message within {timeout_s} s, got {message!r}")
    return message


def _collect_until_closed(ws: simple_websocket.Client, result: StreamResult, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            message = ws.receive(timeout=max(0.01, deadline - time.monotonic()))
        except simple_websocket.ConnectionClosed as closed:
            result.close_code, result.close_reason = closed.reason, closed.message
            return
        if message is None:
            break
        result.messages.append(json.loads(message))
        result.final_at = time.monotonic()
    raise TimeoutError(f"server did not close within {timeout_s} s; got {result.messages}")


def _drain(ws: simple_websocket.Client, result: StreamResult) -> None:
    while ws.input_buffer:
        message = ws.input_buffer.pop(0)
        result.messages.append(json.loads(message))
        result.final_at = time.monotonic()


class RawWebSocket:
    """A blocking wsproto client: handshake, send any frame, time pings."""

    def __init__(self, url: str, headers: dict[str, str] | None = None, timeout_s: float = 10.0,
                 subprotocols: list[str] | None = None) -> None:
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout_s)
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.events: list[Any] = []
        extra = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
        target = parts.path + (f"?{parts.query}" if parts.query else "") or "/"
        self.sock.sendall(self.ws.send(Request(host=parts.netloc, target=target,
                                               extra_headers=extra,
                                               subprotocols=subprotocols or [])))
        self.accepted = self._await(lambda e: isinstance(e, AcceptConnection | RejectConnection))
        self.reject_status = getattr(self.accepted, "status_code", None)
        self.subprotocol = getattr(self.accepted, "subprotocol", None)
        self.reject_body = b""
        if isinstance(self.accepted, RejectConnection) and self.accepted.has_body:
            while True:
                data = self._await(lambda e: isinstance(e, RejectData))
                self.reject_body += data.data
                if data.body_finished:
                    break

    def send_bytes(self, data: bytes) -> None:
        self.sock.sendall(self.ws.send(BytesMessage(data=data)))

    def send_text(self, text: str) -> None:
        self.sock.sendall(self.ws.send(TextMessage(data=text)))

    def ping_rtt(self, payload: bytes = b"rtt") -> float:
        began = time.monotonic()
        self.sock.sendall(self.ws.send(Ping(payload=payload)))
        self._await(lambda e: isinstance(e, Pong) and e.payload == payload)
        return time.monotonic() - began

    def next_text(self) -> dict[str, Any]:
        event = self._await(lambda e: isinstance(e, TextMessage))
        return dict(json.loads(event.data))

    def final_message(self) -> dict[str, Any]:
        """The next message that is not an ack: `published` or `error`."""
        while True:
            message = self.next_text()
            if message["event"] != "ack":
                return message

    def close_code(self) -> int:
        event = self._await(lambda e: isinstance(e, CloseConnection))
        return int(event.code)

    def close(self) -> None:
        self.sock.close()

    def _await(self, wanted: Any) -> Any:
        while True:
            for i, event in enumerate(self.events):
                if wanted(event):
                    return self.events.pop(i)
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("server closed the TCP connection")
            self.ws.receive_data(data)
            self.events.extend(self.ws.events())
