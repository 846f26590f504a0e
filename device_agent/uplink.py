"""Delivers one segment over one WebSocket connection (simple-websocket client).

Streams the segment's PCM as the spool grows (live, while it is still being captured),
then sends done and waits for the gateway's verdict. Only a `published` message (or an
error with published=true) counts as delivered.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any

import simple_websocket

from device_agent.spool import MemorySpool, Segment
from ingress_common.websocket_client import Client

_LOGGER = logging.getLogger(__name__)
MAX_FRAME_BYTES = 32000
"""One second of audio per message at most; the gateway accepts up to 64 KiB."""
LIVE_FRAME_BYTES = 8000
"""While a segment is live, audio goes out in 250 ms messages. The gateway's CPU per
audio-minute is mostly a per-message cost (bench/frame_size_cpu.py: 0.49 s at 20 ms frames,
0.17 s at 100 ms, 0.11 s at 250 ms), and nothing waits on a partial frame: when the segment
ends, the rest goes out at once."""
LIVE_WAIT_S = 0.25


@dataclass(frozen=True)
class UplinkConfig:
    url: str
    token: str | None = None
    ca_file: str | None = None
    connect_timeout_s: float = 10.0
    verdict_timeout_s: float = 30.0
    """How long to wait for published/error after done (gateway publish timeout + margin)."""


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    retryable: bool
    reason: str
    reply: dict[str, Any] | None = None


class Uplink:
    def __init__(self, config: UplinkConfig, spool: MemorySpool) -> None:
        self.config = config
        self._spool = spool
        self._ssl = ssl.create_default_context(cafile=config.ca_file) if config.ca_file else None

    def deliver(self, segment: Segment, stop: threading.Event) -> Outcome:
        try:
            ws = self._connect()
        except (OSError, simple_websocket.ConnectionError) as exc:
            return Outcome(False, True, f"connect failed: {exc}")
        try:
            return self._stream(ws, segment, stop)
        except simple_websocket.ConnectionClosed as closed:
            return self._verdict_after_close(ws, closed)
        except OSError as exc:
            return Outcome(False, True, f"connection failed: {exc}")
        finally:
            if ws.connected:
                ws.close()

    def _connect(self) -> Client:
        headers = {"Authorization": f"Bearer {self.config.token}"} if self.config.token else None
        return Client.connect_with_timeout(self.config.url, self.config.connect_timeout_s,
                                           headers=headers, ssl_context=self._ssl)

    def _stream(self, ws: Any, segment: Segment, stop: threading.Event) -> Outcome:
        connected = _expect(ws, "connected", self.config.connect_timeout_s)
        meta = segment.meta
        ws.send(json.dumps({
            "event": "start", "sample_rate_hz": 16000, "device_id": meta.device_id,
            "segment_id": meta.segment_id, "captured_at_ms": meta.captured_at_ms,
            "capture_monotonic_ms": meta.capture_monotonic_ms}))
        sent = 0
        while not (segment.complete and sent >= len(segment.pcm)):
            if stop.is_set() or not self._spool.contains(segment):
                return Outcome(False, True, "stopped or dropped while streaming")
            pending = len(segment.pcm) - sent
            if pending >= LIVE_FRAME_BYTES or (segment.complete and pending > 0):
                frame = bytes(segment.pcm[sent:sent + MAX_FRAME_BYTES])
                ws.send(frame)
                sent += len(frame)
            else:
                self._spool.wait_for_more(segment, sent + LIVE_FRAME_BYTES - 1, LIVE_WAIT_S)
            early = ws.receive(timeout=0)
            if early is not None and (reply := json.loads(early)).get("event") == "error":
                return _verdict(reply)
        ws.send(json.dumps({"event": "done"}))
        _LOGGER.debug("segment streamed", extra={"segment_id": meta.segment_id, "bytes": sent,
                                                 "correlation_id": connected.get("correlation_id")})
        return _verdict(_final(ws, self.config.verdict_timeout_s))

    def _verdict_after_close(self, ws: Any, closed: simple_websocket.ConnectionClosed) -> Outcome:
        for message in list(ws.input_buffer):
            reply = json.loads(message)
            if reply.get("event") in {"published", "error"}:
                return _verdict(reply)
        return Outcome(False, True, f"connection closed ({closed.reason} {closed.message or ''})")


def _expect(ws: Any, event: str, timeout_s: float) -> dict[str, Any]:
    message = ws.receive(timeout=timeout_s)
    if message is None:
        raise OSError(f"no {event} message within {timeout_s:g} s")
    reply = json.loads(message)
    if reply.get("event") != event:
        raise OSError(f"expected {event}, got {reply.get('event')}")
    return dict(reply)


def _final(ws: Any, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        message = ws.receive(timeout=max(0.01, deadline - time.monotonic()))
        if message is None:
            break
        reply = json.loads(message)
        if reply.get("event") in {"published", "error"}:
            return dict(reply)
    raise OSError(f"no verdict within {timeout_s:g} s after done")


def _verdict(reply: dict[str, Any]) -> Outcome:
    if reply.get("event") == "published" or reply.get("published") is True:
        return Outcome(True, False, "published", reply)
    return Outcome(False, bool(reply.get("retryable")), str(reply.get("code")), reply)
