"""Serves one /ws/audio connection: socket ↔ StreamSession ↔ UtterancePublisher.

Runs on the connection's own gthread worker thread. Every way a stream can end sends
the client one final JSON message (`published` or `error`) and a close code.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from simple_websocket import ConnectionClosed

from edge_gateway.errors import StreamRefused, StreamTimedOut
from edge_gateway.ingest import UtterancePublisher
from edge_gateway.limits import StreamLimits
from edge_gateway.metrics import GatewayMetrics
from edge_gateway.protocol import Connected, Done, Error, Published, ServerEvent, encode
from edge_gateway.session import StreamSession

_LOGGER = logging.getLogger(__name__)
NORMAL_CLOSURE = 1000
INTERNAL_ERROR = 1011


class WebSocket(Protocol):
    def send(self, data: str | bytes) -> None: ...
    def receive(self, timeout: float | None = None) -> str | bytes | None: ...
    def close(self, reason: int | None = None, message: str | None = None) -> None: ...


class StreamHandler:
    def __init__(self, limits: StreamLimits, publisher: UtterancePublisher,
                 metrics: GatewayMetrics, clock: Callable[[], float] = time.monotonic) -> None:
        self._limits = limits
        self._publisher = publisher
        self._metrics = metrics
        self._clock = clock

    def serve(self, ws: WebSocket, correlation_id: str, device_id: str | None = None,
              on_verdict: Callable[[], None] = lambda: None) -> None:
        """`device_id`, when authenticated, overrides whatever the client says it is.
        `on_verdict` runs just before the final message is sent (the connection slot is
        released there: a client that reconnects on `published` must not find it taken)."""
        _verdict_hook.fn = on_verdict
        try:
            self._serve(ws, correlation_id, device_id)
        finally:
            _verdict_hook.fn = None

    def _serve(self, ws: WebSocket, correlation_id: str, device_id: str | None) -> None:
        session = StreamSession(self._limits, self._clock(), device_id)
        log = {"correlation_id": correlation_id, "device_id": device_id}
        _LOGGER.info("stream opened", extra=log)
        try:
            _send(ws, Connected(correlation_id, self._limits.as_dict()))
            self._receive_until_done(ws, session)
        except ConnectionClosed:
            self._publish_abandoned(session, correlation_id)
            return
        except StreamTimedOut as timeout:
            self._end_on_timeout(ws, session, correlation_id, timeout)
            return
        except StreamRefused as refusal:
            self._refuse(ws, correlation_id, refusal, session)
            return
        self._publish_and_report(ws, session, correlation_id)

    def _receive_until_done(self, ws: WebSocket, session: StreamSession) -> None:
        while True:
            message = ws.receive(timeout=max(session.seconds_to_deadline(self._clock()), 0.001))
            now = self._clock()
            if message is None:
                session.on_timeout(now)
            elif isinstance(message, str):
                if isinstance(session.on_text(message, now), Done):
                    return
            else:
                ack = session.on_binary(message, now)
                if ack is not None:
                    _send(ws, ack)

    def _publish_and_report(self, ws: WebSocket, session: StreamSession,
                            correlation_id: str) -> None:
        try:
            published = self._publisher.publish(session.pcm, session.start, correlation_id)
        except StreamRefused as refusal:
            self._refuse(ws, correlation_id, refusal, session)
            return
        _finish(ws, published, NORMAL_CLOSURE, "published")

    def _end_on_timeout(self, ws: WebSocket, session: StreamSession, correlation_id: str,
                        timeout: StreamTimedOut) -> None:
        """A time limit ended the stream: publish what was buffered, then say so."""
        location: Published | None = None
        if session.buffered_bytes >= 2:
            try:
                location = self._publisher.publish(session.pcm, session.start, correlation_id)
            except StreamRefused as refusal:
                self._refuse(ws, correlation_id, refusal, session)
                return
        self._metrics.refused.labels(timeout.code).inc()
        _LOGGER.info("stream timed out", extra={"correlation_id": correlation_id,
                                                "code": timeout.code,
                                                "published": location is not None})
        error = Error(timeout.code, timeout.message, published=location is not None,
                      retryable=False, correlation_id=correlation_id, location=location)
        _finish(ws, error, timeout.close_code, timeout.code)

    def _refuse(self, ws: WebSocket, correlation_id: str, refusal: StreamRefused,
                session: StreamSession) -> None:
        self._metrics.refused.labels(refusal.code).inc()
        _LOGGER.info("stream refused", extra={"correlation_id": correlation_id,
                                              "code": refusal.code,
                                              "reason": refusal.message,
                                              "buffered_bytes": session.buffered_bytes})
        error = Error(refusal.code, refusal.message, published=False,
                      retryable=refusal.retryable, correlation_id=correlation_id)
        _finish(ws, error, refusal.close_code, refusal.code)

    def _publish_abandoned(self, session: StreamSession, correlation_id: str) -> None:
        """The client left without done: publish what it sent (documented behaviour)."""
        if session.buffered_bytes < 2:
            _LOGGER.info("client left before sending audio", extra={"correlation_id": correlation_id})
            return
        pcm = session.pcm[: session.buffered_bytes // 2 * 2]
        try:
            self._publisher.publish(pcm, session.start, correlation_id)
        except StreamRefused as refusal:
            _LOGGER.warning("abandoned stream not published: %s", refusal.message,
                            extra={"correlation_id": correlation_id, "code": refusal.code})
            return
        _LOGGER.info("client left without done; buffered audio published",
                     extra={"correlation_id": correlation_id})


def _send(ws: WebSocket, event: ServerEvent) -> None:
    ws.send(encode(event))


_verdict_hook = threading.local()
"""The running connection's on_verdict (each connection is served on its own thread)."""


def _finish(ws: WebSocket, event: ServerEvent, close_code: int, reason: str) -> None:
    hook = getattr(_verdict_hook, "fn", None)
    if hook is not None:
        _verdict_hook.fn = None
        hook()
    try:
        _send(ws, event)
        ws.close(close_code, reason)
    except ConnectionClosed:
        _LOGGER.info("client was gone before the final message")
