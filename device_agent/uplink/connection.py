"""Delivers one segment over one WebSocket connection (simple-websocket client).

Streams the segment's PCM as the spool grows (live, while it is still being captured),
then sends done and waits for the gateway's verdict. Only a `published` reply (a first
receipt or a `duplicate` one) counts as delivered. Every stream names its segment_id, so
the gateway publishes it whole or not at all: leaving early (stop, a segment dropped by
the spool, a dead link) publishes nothing, and the segment is simply sent again.

Messages are built and read with `ingress_common.protocol`; the limits the gateway
announces in `connected` (frame and buffer size) are the ones this side keeps to.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import simple_websocket

from device_agent.spool.memory import MemorySpool
from device_agent.spool.model import Segment
from ingress_common.protocol import (
    BYTES_PER_SECOND,
    Connected,
    Done,
    Error,
    Published,
    ServerEvent,
    Start,
    encode_client,
    parse_server_event,
)
from ingress_common.websocket_client import Client

_LOGGER = logging.getLogger(__name__)
MAX_FRAME_BYTES = BYTES_PER_SECOND
"""One second of audio per message at most (less if the gateway announces less)."""
LIVE_FRAME_BYTES = BYTES_PER_SECOND // 4
"""While a segment is live, audio goes out in 250 ms messages. The gateway's CPU per
audio-minute is mostly a per-message cost (bench/frame_size_cpu.py: 0.49 s at 20 ms frames,
0.17 s at 100 ms, 0.11 s at 250 ms), and nothing waits on a partial frame: when the segment
ends, the rest goes out at once."""
LIVE_WAIT_S = 0.25


@dataclass(frozen=True)
class ConnectionConfig:
    url: str
    token: str | None = None
    ca_file: str | None = None
    connect_timeout_s: float = 5.0
    verdict_timeout_s: float = 30.0
    """How long to wait for published/error after done (gateway publish timeout + margin)."""
    ping_interval_s: float = 2.0
    """A pong missing by the next ping closes the connection: a dead link is detected in
    at most twice this."""
    io_timeout_s: float = 5.0
    """A send that cannot go out for this long fails (a full buffer on a dead link)."""


@dataclass(frozen=True)
class Attempt:
    delivered: bool
    retryable: bool
    reason: str
    reply: Published | Error | None = None

    @property
    def failure(self) -> str:
        """What a repeat of the same failure looks like (for quarantine), or ''."""
        if self.delivered or self.reply is None or not isinstance(self.reply, Error):
            return ""
        return f"{self.reply.code}: {self.reply.message}"


class SegmentConnection:
    def __init__(self, config: ConnectionConfig, spool: MemorySpool) -> None:
        self.config = config
        self._spool = spool
        self._ssl = ssl.create_default_context(cafile=config.ca_file) if config.ca_file else None
        self.on_buffer_limit: Callable[[int], None] = lambda _max_bytes: None
        """Told the PCM bytes a stream may hold, from each `connected` (segmenting cuts
        segments to fit)."""

    def deliver(self, segment: Segment, stop: threading.Event) -> Attempt:
        try:
            ws = self._connect()
        except (OSError, simple_websocket.ConnectionError) as exc:
            return Attempt(False, True, f"connect failed: {exc}")
        try:
            return self._stream(ws, segment, stop)
        except simple_websocket.ConnectionClosed as closed:
            return self._verdict_after_close(ws, closed)
        except OSError as exc:
            return Attempt(False, True, f"connection failed: {exc}")
        finally:
            ws.close()  # a no-op when already closed (ingress_common's Client)

    def _connect(self) -> Client:
        headers = {"Authorization": f"Bearer {self.config.token}"} if self.config.token else None
        return Client.connect_with_timeout(self.config.url, self.config.connect_timeout_s,
                                           io_timeout_s=self.config.io_timeout_s,
                                           ping_interval=self.config.ping_interval_s,
                                           headers=headers, ssl_context=self._ssl)

    def _stream(self, ws: Client, segment: Segment, stop: threading.Event) -> Attempt:
        connected = _expect_connected(ws, self.config.connect_timeout_s)
        if isinstance(connected, Error):
            return _verdict(connected)
        self.on_buffer_limit(int(connected.limit("max_buffer_bytes", 0)))
        frame_bytes = int(min(MAX_FRAME_BYTES, connected.limit("max_frame_bytes", MAX_FRAME_BYTES)))
        meta = segment.meta
        ws.send(encode_client(Start(device_id=meta.device_id, segment_id=meta.segment_id,
                                    captured_at_ms=meta.captured_at_ms,
                                    capture_monotonic_ms=meta.capture_monotonic_ms)))
        sent = 0
        while not (segment.complete and sent >= len(segment.pcm)):
            if stop.is_set() or not self._spool.contains(segment):
                return Attempt(False, True, "stopped or dropped while streaming")
            pending = len(segment.pcm) - sent
            if pending >= min(LIVE_FRAME_BYTES, frame_bytes) or (segment.complete and pending > 0):
                frame = bytes(segment.pcm[sent:sent + frame_bytes])
                ws.send(frame)
                sent += len(frame)
            else:
                self._spool.wait_for_more(segment, sent + LIVE_FRAME_BYTES - 1, LIVE_WAIT_S)
            early = ws.receive(timeout=0)
            if early is not None and isinstance(reply := _parse(early), Published | Error):
                return _verdict(reply)  # a repeat answered at start, or a refusal
        ws.send(encode_client(Done()))
        _LOGGER.debug("segment streamed", extra={"segment_id": meta.segment_id, "bytes": sent,
                                                 "correlation_id": connected.correlation_id})
        return _verdict(_final(ws, self.config.verdict_timeout_s))

    def _verdict_after_close(self, ws: Client, closed: simple_websocket.ConnectionClosed) -> Attempt:
        for message in list(ws.input_buffer):
            reply = _parse(message)
            if isinstance(reply, Published | Error):
                return _verdict(reply)
        return Attempt(False, True, f"connection closed ({closed.reason} {closed.message or ''})")


def _parse(message: str | bytes) -> ServerEvent | None:
    if not isinstance(message, str):
        return None
    try:
        return parse_server_event(message)
    except ValueError:
        _LOGGER.warning("unreadable message from the gateway: %.80s", message)
        return None


def _expect_connected(ws: Client, timeout_s: float) -> Connected | Error:
    message = ws.receive(timeout=timeout_s)
    if message is None:
        raise OSError(f"no connected message within {timeout_s:g} s")
    reply = _parse(message)
    if isinstance(reply, Error):
        return reply
    if not isinstance(reply, Connected):
        raise OSError(f"expected connected, got {message[:80]!r}")
    return reply


def _final(ws: Client, timeout_s: float) -> Published | Error:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        message = ws.receive(timeout=max(0.01, deadline - time.monotonic()))
        if message is None:
            break
        reply = _parse(message)
        if isinstance(reply, Published | Error):
            return reply
    raise OSError(f"no verdict within {timeout_s:g} s after done")


def _verdict(reply: Published | Error) -> Attempt:
    if isinstance(reply, Published):
        return Attempt(True, False, "duplicate" if reply.duplicate else "published", reply)
    if reply.published:
        return Attempt(True, False, "published", reply)
    return Attempt(False, reply.retryable, reply.code, reply)
