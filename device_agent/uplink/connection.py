"""Delivers one segment over one WebSocket connection (`ingress_common.client`'s
`Conversation`, the one place a stream's conversation is written).

Streams the segment's PCM as the spool grows (live, while it is still being captured),
then sends done and waits for the gateway's verdict. Only a `published` reply (a first
receipt or a `duplicate` one) counts as delivered. Every stream names its segment_id, so
the gateway publishes it whole or not at all: leaving early (stop, a segment dropped by
the spool, a dead link) publishes nothing, and the segment is simply sent again.

The limits the gateway announces in `connected` (frame and buffer size) are the ones this
side keeps to.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import simple_websocket

from device_agent.spool.memory import MemorySpool
from device_agent.spool.model import Segment, SegmentMeta
from device_agent.uplink.gateway_finder import GatewayUrl, fixed
from ingress_common.client import ClientOptions, Conversation
from ingress_common.protocol import BYTES_PER_SECOND, Error, Heard, Published, Start
from ingress_common.refusals import EnrollmentPending
from ingress_common.websocket_client import HandshakeRefused

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
class Attempt:
    delivered: bool
    retryable: bool
    reason: str
    reply: Published | Error | None = None
    retry_after_s: float | None = None
    """The gateway said when to try again (a device waiting to be accepted)."""

    @property
    def failure(self) -> str:
        """What a repeat of the same failure looks like (for quarantine), or ''."""
        if self.delivered or self.reply is None or not isinstance(self.reply, Error):
            return ""
        return f"{self.reply.code}: {self.reply.message}"


class SegmentConnection:
    """Delivers one segment per call, over its own connection to `url`."""

    def __init__(self, url: str | GatewayUrl, options: ClientOptions, spool: MemorySpool,
                 on_buffer_limit: Callable[[int], None] = lambda _max_bytes: None) -> None:
        """`url` is the gateway's, or where to ask for it before each delivery (a gateway
        found by mDNS). `on_buffer_limit` is told the PCM bytes a stream may hold, from each
        `connected` (segmenting cuts segments to fit)."""
        self.gateway = fixed(url) if isinstance(url, str) else url
        self.options = options
        self._spool = spool
        self._on_buffer_limit = on_buffer_limit

    def deliver(self, segment: Segment, stop: threading.Event) -> Attempt:
        url = self.gateway()
        if url is None:
            return Attempt(False, True, "no gateway found yet")
        try:
            conversation = Conversation.open(url, self.options)
        except HandshakeRefused as refused:
            # waiting to be accepted is not a failure: ask again when the gateway says,
            # not on a backoff that grows (accepted, the device is served within seconds)
            waiting = refused.code == EnrollmentPending.code
            return Attempt(False, True, f"connect {refused}",
                           retry_after_s=refused.retry_after_s if waiting else None)
        except (OSError, simple_websocket.ConnectionError) as exc:
            return Attempt(False, True, f"connect failed: {exc}")
        try:
            return self._stream(conversation, segment, stop)
        except simple_websocket.ConnectionClosed as closed:
            verdict = conversation.verdict_after_close()
            if verdict is not None:
                return _verdict(verdict)
            return Attempt(False, True, f"connection closed ({closed.reason} {closed.message or ''})")
        except OSError as exc:
            return Attempt(False, True, f"connection failed: {exc}")
        finally:
            conversation.close()

    def _stream(self, conversation: Conversation, segment: Segment,
                stop: threading.Event) -> Attempt:
        if conversation.refusal is not None:
            return _verdict(conversation.refusal)
        assert conversation.connected is not None
        self._on_buffer_limit(int(conversation.connected.limit("max_buffer_bytes", 0)))
        frame_bytes = conversation.frame_bytes(MAX_FRAME_BYTES)
        meta = segment.meta
        conversation.start(Start(device_id=meta.device_id, segment_id=meta.segment_id,
                                 captured_at_ms=meta.captured_at_ms,
                                 capture_monotonic_ms=meta.capture_monotonic_ms,
                                 front_end=meta.front_end or None))
        sent = 0
        while not (segment.complete and sent >= len(segment.pcm)):
            if stop.is_set() or not self._spool.contains(segment):
                return Attempt(False, True, "stopped or dropped while streaming")
            pending = len(segment.pcm) - sent
            if pending >= min(LIVE_FRAME_BYTES, frame_bytes) or (segment.complete and pending > 0):
                frame = bytes(segment.pcm[sent:sent + frame_bytes])
                conversation.send_audio(frame)
                sent += len(frame)
            else:
                self._spool.wait_for_more(segment, sent + LIVE_FRAME_BYTES - 1, LIVE_WAIT_S)
            early = conversation.early_verdict()
            if early is not None:
                return _verdict(early)  # a repeat answered at start, or a refusal
        _LOGGER.debug("segment streamed", extra={
            "segment_id": meta.segment_id, "bytes": sent,
            "correlation_id": conversation.connected.correlation_id})
        return _verdict(conversation.finish(_heard(meta)))


def _heard(meta: SegmentMeta) -> Heard | None:
    """What the device heard in the segment, for `done`, when the segmenter said."""
    if meta.heard_snr_db is None or meta.heard_speech_share is None:
        return None
    return Heard(meta.heard_snr_db, meta.heard_speech_share, bool(meta.heard_background_talk))


def _verdict(reply: Published | Error) -> Attempt:
    if isinstance(reply, Published):
        return Attempt(True, False, "duplicate" if reply.duplicate else "published", reply)
    if reply.published:
        return Attempt(True, False, "published", reply)
    return Attempt(False, reply.retryable, reply.code, reply)
