"""A small client for third-party devices: send one utterance, get its receipt.

    from ingress_common.client import send_utterance
    receipt = send_utterance("ws://gateway:8000/ws/audio", pcm, device_id="pi-7",
                             segment_id="pi-7:boot3:42")
    print(receipt.topic, receipt.partition, receipt.offset, receipt.duplicate)

`pcm` is PCM16 LE, 16 kHz, mono (`ingress_common.protocol`). With a `segment_id` the
gateway publishes the utterance whole, exactly once: the client retries what a retry can
fix (a cut, a dead link, Kafka down) with the same id, and a repeat of a published
utterance is answered with its first receipt (`duplicate=True`). Without one (protocol
v1) nothing is retried. A refusal that no retry can fix raises `Refused`.
"""

from __future__ import annotations

import random
import ssl
import time
from dataclasses import dataclass

import simple_websocket

from ingress_common.protocol import (
    BYTES_PER_SECOND,
    Connected,
    Done,
    Error,
    Published,
    Start,
    encode_client,
    parse_server_event,
)
from ingress_common.websocket_client import Client

FRAME_BYTES = BYTES_PER_SECOND // 4
"""250 ms of audio per message."""


class Refused(Exception):
    """The gateway refused the utterance, and a retry cannot help (or retries ran out)."""

    def __init__(self, error: Error | None, reason: str) -> None:
        self.error = error
        super().__init__(reason)


@dataclass(frozen=True)
class ClientOptions:
    token: str | None = None
    """A device JWT, sent as `Authorization: Bearer`."""
    ssl_context: ssl.SSLContext | None = None
    attempts: int = 5
    """Tries in all, for a stream with a segment_id; 1 without one."""
    backoff_s: float = 1.0
    """The first retry waits up to this long (full jitter), doubling each time, up to 30 s."""
    connect_timeout_s: float = 5.0
    verdict_timeout_s: float = 30.0
    ping_interval_s: float = 2.0
    """A dead link is noticed within twice this."""


def send_utterance(url: str, pcm: bytes, device_id: str | None = None,
                   segment_id: str | None = None, language_hint: str | None = None,
                   options: ClientOptions | None = None) -> Published:
    """Stream one utterance, send `done`, and return the gateway's receipt."""
    options = options or ClientOptions()
    start = Start(device_id=device_id, segment_id=segment_id, language_hint=language_hint,
                  captured_at_ms=time.time_ns() // 1_000_000)
    attempts = options.attempts if segment_id else 1
    reason = "no attempt made"
    for attempt in range(attempts):
        if attempt:
            time.sleep(random.uniform(0, min(30.0, options.backoff_s * 2 ** (attempt - 1))))
        try:
            reply = _attempt(url, pcm, start, options)
        except (OSError, simple_websocket.ConnectionError,
                simple_websocket.ConnectionClosed) as exc:
            reason = f"connection failed: {exc}"
            continue
        if isinstance(reply, Published):
            return reply
        if not reply.retryable:
            raise Refused(reply, f"{reply.code}: {reply.message}")
        reason = f"{reply.code}: {reply.message}"
    raise Refused(None, f"gave up after {attempts} attempts; last: {reason}")


def gateway_limits(url: str, options: ClientOptions | None = None) -> Connected:
    """The limits the gateway announces in its `connected` message, from a connection that
    streams nothing. Raises `Refused` when the gateway refuses the connection, and OSError
    or simple_websocket's errors when it cannot be reached."""
    options = options or ClientOptions()
    ws = _connect(url, options)
    try:
        first = _next_event(ws, options.connect_timeout_s)
    finally:
        ws.close()
    if isinstance(first, Error):
        raise Refused(first, f"{first.code}: {first.message}")
    if not isinstance(first, Connected):
        raise OSError("the gateway did not start with `connected`")
    return first


def _connect(url: str, options: ClientOptions) -> Client:
    headers = {"Authorization": f"Bearer {options.token}"} if options.token else None
    return Client.connect_with_timeout(url, options.connect_timeout_s, io_timeout_s=5.0,
                                       ping_interval=options.ping_interval_s, headers=headers,
                                       ssl_context=options.ssl_context)


def _attempt(url: str, pcm: bytes, start: Start, options: ClientOptions) -> Published | Error:
    ws = _connect(url, options)
    try:
        first = _next_event(ws, options.connect_timeout_s)
        if isinstance(first, Error):
            return first
        limit = first.limit("max_frame_bytes", FRAME_BYTES) if isinstance(first, Connected) \
            else FRAME_BYTES
        frame_bytes = int(min(FRAME_BYTES, limit))
        ws.send(encode_client(start))
        for i in range(0, len(pcm), frame_bytes):
            ws.send(pcm[i:i + frame_bytes])
        ws.send(encode_client(Done()))
        deadline = time.monotonic() + options.verdict_timeout_s
        while time.monotonic() < deadline:
            event = _next_event(ws, max(0.01, deadline - time.monotonic()))
            if isinstance(event, Published | Error):
                return event
        raise OSError(f"no verdict within {options.verdict_timeout_s:g} s")
    except simple_websocket.ConnectionClosed:
        for message in list(ws.input_buffer):
            parsed = parse_server_event(message)
            if isinstance(parsed, Published | Error):
                return parsed
        raise
    finally:
        ws.close()


def _next_event(ws: Client, timeout_s: float) -> Connected | Published | Error | None:
    message = ws.receive(timeout=timeout_s)
    if message is None:
        raise OSError(f"nothing from the gateway within {timeout_s:g} s")
    if not isinstance(message, str):
        return None
    parsed = parse_server_event(message)
    return parsed if isinstance(parsed, Connected | Published | Error) else None
