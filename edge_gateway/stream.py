"""Serves one /ws/audio connection: socket ↔ StreamSession ↔ publisher (or ledger).

Runs on the connection's own gthread worker thread. Every way a stream can end sends
the client one final JSON message (`published` or `error`) and a close code.

Two rules, by whether the client's `start` names a `segment_id`:
- **With one** (all or nothing, exactly once): only `done` publishes, through the
  `SegmentLedger`, which writes the audio at most once and answers a repeat with the first
  receipt (`duplicate: true`). A cut, a timeout or a refusal publishes nothing and says
  `published: false, retryable: true` where a retry can help.
- **Without one** (protocol v1, unchanged): `done` publishes, and so do a client that
  leaves without `done` and a time limit, with what was buffered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from simple_websocket import ConnectionClosed

from edge_gateway.identity.open_streams import CHECK_S, OpenStreams
from edge_gateway.ingest import PendingUtterance, UtterancePublisher
from edge_gateway.landing import Location
from edge_gateway.limits import StreamLimits
from edge_gateway.metrics import GatewayMetrics
from edge_gateway.receipts.ledger import SegmentLedger, no_receipt_to_confirm
from edge_gateway.receipts.records import SegmentKey
from edge_gateway.session import StreamSession
from ingress_common.pcm import whole_samples
from ingress_common.protocol import Connected, Done, Error, Published, ServerEvent, Start, encode_server
from ingress_common.refusals import (
    CLIENT_LEFT,
    DeviceRevokedWhileStreaming,
    StreamRefused,
    StreamTimedOut,
)

_LOGGER = logging.getLogger(__name__)
NORMAL_CLOSURE = 1000


class WebSocket(Protocol):
    def send(self, data: str | bytes) -> None: ...
    def receive(self, timeout: float | None = None) -> str | bytes | None: ...
    def close(self, reason: int | None = None, message: str | None = None) -> None: ...


class StreamHandler:
    """What every connection of a worker shares; `serve` runs one connection."""

    def __init__(self, limits: StreamLimits, publisher: UtterancePublisher,
                 metrics: GatewayMetrics, ledger: SegmentLedger | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 open_streams: OpenStreams | None = None) -> None:
        """`open_streams` registers each authenticated stream, so that a revocation of its
        device ends it."""
        self.limits = limits
        self.publisher = publisher
        self.metrics = metrics
        self.ledger = ledger
        self.clock = clock
        self.open_streams = open_streams if open_streams is not None else OpenStreams()

    def serve(self, ws: WebSocket, correlation_id: str, device_id: str | None = None,
              on_verdict: Callable[[], None] = lambda: None) -> None:
        """`device_id`, when authenticated, overrides whatever the client says it is.
        `on_verdict` runs just before the final message is sent (the connection slot is
        released there: a client that reconnects on `published` must not find it taken)."""
        AudioConnection(self, ws, correlation_id, device_id, on_verdict).serve()


class AudioConnection:
    """One connection: its socket, its session, and the one verdict it ends with."""

    def __init__(self, handler: StreamHandler, ws: WebSocket, correlation_id: str,
                 device_id: str | None, on_verdict: Callable[[], None]) -> None:
        self._handler = handler
        self._ws = ws
        self.correlation_id = correlation_id
        self.session = StreamSession(handler.limits, handler.clock(), device_id)
        self._on_verdict: Callable[[], None] | None = on_verdict
        self._after_reply: Callable[[], None] = no_receipt_to_confirm
        """Runs after the final message, before the close (the receipt's confirmation)."""
        self._log = {"correlation_id": correlation_id, "device_id": device_id}
        self._device_id = device_id
        self._revoked = threading.Event()
        """Set when an operator revokes the device while the stream is open."""

    @property
    def key(self) -> SegmentKey | None:
        """The segment this stream is, when it names one (all-or-nothing rule)."""
        start = self.session.start
        if start.segment_id is None or self._handler.ledger is None:
            return None
        return SegmentKey(start.device_id or "", start.segment_id)

    def serve(self) -> None:
        if self._device_id is None:
            self._serve()
            return
        self._revoked = self._handler.open_streams.opened(self._device_id)
        try:
            self._serve()
        finally:
            self._handler.open_streams.closed(self._device_id, self._revoked)

    def _serve(self) -> None:
        _LOGGER.info("stream opened", extra=self._log)
        try:
            self._send(Connected(self.correlation_id, self._handler.limits.as_dict()))
            repeat = self._receive_until_done()
        except ConnectionClosed:
            self._client_left()
            return
        except StreamTimedOut as timeout:
            self._timed_out(timeout)
            return
        except StreamRefused as refusal:
            self._refuse(refusal)
            return
        if repeat is not None:
            self._finish(repeat, NORMAL_CLOSURE, "published")
            return
        self._publish_and_report()

    def _receive_until_done(self) -> Published | None:
        """Read until `done`; returns the first receipt at once when `start` names a
        segment the ledger already knows was published."""
        session, clock = self.session, self._handler.clock
        while True:
            wait = min(session.seconds_to_deadline(clock()), CHECK_S)
            message = self._ws.receive(timeout=max(wait, 0.001))
            self._check_revoked()
            now = clock()
            if message is None:
                session.on_timeout(now)
            elif isinstance(message, str):
                event = session.on_text(message, now)
                if isinstance(event, Done):
                    return None
                if isinstance(event, Start) and (repeat := self._known_receipt()) is not None:
                    return repeat
            else:
                ack = session.on_binary(message, now)
                if ack is not None:
                    self._send(ack)

    def _known_receipt(self) -> Published | None:
        key, ledger = self.key, self._handler.ledger
        location = ledger.known(key) if key is not None and ledger is not None else None
        return None if location is None else _receipt(location, key, duplicate=True)

    def _check_revoked(self) -> None:
        if self._revoked.is_set():
            raise DeviceRevokedWhileStreaming("an operator revoked this device; nothing of "
                                              "this stream was published")

    def _publish(self) -> Published:
        """Publish the buffered audio: once per segment_id, or plainly for v1."""
        self._check_revoked()
        key, ledger = self.key, self._handler.ledger
        if key is None or ledger is None:
            return self._publish_buffered()
        decision = ledger.publish_once(key, self._audio())
        self._after_reply = decision.confirm
        if decision.duplicate:
            self._handler.metrics.duplicates.inc()
            _LOGGER.info("repeat of a published segment; first receipt sent",
                         extra={**self._log, "segment_id": key.segment_id})
        return _receipt(decision.location, key, decision.duplicate)

    def _publish_buffered(self) -> Published:
        """v1: publish the whole samples buffered so far (at done, a timeout, or a client
        that left without done). Raises StreamRefused when Kafka refused it."""
        self._check_revoked()
        return _receipt(self._audio().publish(), None, duplicate=False)

    def _audio(self) -> PendingUtterance:
        """The stream's audio as a value (whole samples); the stream's own buffer is freed
        once the event is in librdkafka's hands."""
        session = self.session
        pcm = session.pcm[: whole_samples(session.buffered_bytes)]
        return PendingUtterance(self._handler.publisher, pcm, session.start,
                                self.correlation_id, release=session.release_pcm,
                                heard=session.heard)

    def _publish_and_report(self) -> None:
        try:
            published = self._publish()
        except StreamRefused as refusal:
            self._refuse(refusal)
            return
        self._finish(published, NORMAL_CLOSURE, "published")

    def _timed_out(self, timeout: StreamTimedOut) -> None:
        """v1 publishes what was buffered; a segment stream publishes nothing."""
        location: Published | None = None
        if self.key is None and self.session.buffered_bytes >= 2:
            try:
                location = self._publish_buffered()
            except StreamRefused as refusal:
                self._refuse(refusal)
                return
        self._handler.metrics.refused.labels(timeout.code).inc()
        _LOGGER.info("stream timed out", extra={**self._log, "code": timeout.code,
                                                "published": location is not None})
        if location is not None:
            self._log_published(location)
        message = timeout.message if self.key is None else (
            f"{timeout.message}; nothing was published: send the whole segment again")
        error = Error(timeout.code, message, published=location is not None,
                      retryable=self.key is not None, correlation_id=self.correlation_id,
                      location=location)
        self._finish(error, timeout.close_code, timeout.code)

    def _refuse(self, refusal: StreamRefused) -> None:
        self._handler.metrics.refused.labels(refusal.code).inc()
        _LOGGER.info("stream refused", extra={**self._log, "code": refusal.code,
                                              "reason": refusal.message,
                                              "buffered_bytes": self.session.buffered_bytes})
        error = Error(refusal.code, refusal.message, published=False,
                      retryable=refusal.retryable, correlation_id=self.correlation_id)
        self._finish(error, refusal.close_code, refusal.code)

    def _client_left(self) -> None:
        """Left without done: v1 publishes what it sent; a segment stream publishes nothing."""
        if self.key is not None:
            self._handler.metrics.refused.labels(CLIENT_LEFT).inc()
            _LOGGER.info("client left before done; segment not published (all or nothing)",
                         extra={**self._log, "segment_id": self.key.segment_id})
            return
        if self.session.buffered_bytes < 2:
            _LOGGER.info("client left before sending audio", extra=self._log)
            return
        try:
            published = self._publish_buffered()
        except StreamRefused as refusal:
            _LOGGER.warning("abandoned stream not published: %s", refusal.message,
                            extra={**self._log, "code": refusal.code})
            return
        _LOGGER.info("client left without done; buffered audio published", extra=self._log)
        self._log_published(published)

    def _send(self, event: ServerEvent) -> None:
        self._ws.send(encode_server(event))

    def _finish(self, event: ServerEvent, close_code: int, reason: str) -> None:
        if self._on_verdict is not None:
            release, self._on_verdict = self._on_verdict, None
            release()
        try:
            self._send(event)
        except ConnectionClosed:
            _LOGGER.info("client was gone before the final message", extra=self._log)
            return
        finally:
            self._after_reply()
        try:
            self._ws.close(close_code, reason)
        except ConnectionClosed:
            _LOGGER.info("client was gone before the close", extra=self._log)
        if isinstance(event, Published) and not event.duplicate:
            self._log_published(event)

    def _log_published(self, published: Published) -> None:
        """After the reply, not before it: a log line is work the client need not wait for."""
        _LOGGER.info("published", extra={**self._log, "segment_id": published.segment_id,
                                          "partition": published.partition,
                                          "offset": published.offset,
                                          "audio_bytes": published.audio_bytes})


def _receipt(location: Location, key: SegmentKey | None, duplicate: bool) -> Published:
    return Published(location.correlation_id, location.topic, location.partition,
                     location.offset, location.audio_bytes, location.duration_ms,
                     segment_id=key.segment_id if key else None, duplicate=duplicate)
