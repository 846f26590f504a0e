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

import logging
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

import simple_websocket

from ingress_common.protocol import (
    BYTES_PER_SECOND,
    Connected,
    Done,
    Error,
    Heard,
    Published,
    ServerEvent,
    Start,
    encode_client,
    parse_server_event,
)
from ingress_common.websocket_client import Client

_LOGGER = logging.getLogger(__name__)
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
    token_source: Callable[[], str] | None = None
    """Makes a fresh token for each request instead (a device that signs its own)."""
    ssl_context: ssl.SSLContext | None = None
    attempts: int = 5
    """Tries in all, for a stream with a segment_id; 1 without one."""
    backoff_s: float = 1.0
    """The first retry waits up to this long (full jitter), doubling each time, up to 30 s."""
    connect_timeout_s: float = 5.0
    verdict_timeout_s: float = 30.0
    ping_interval_s: float = 2.0
    """A dead link is noticed within twice this."""
    io_timeout_s: float = 5.0
    """A send that cannot go out for this long fails (a full buffer on a dead link)."""

    def bearer(self) -> str | None:
        """The token to send now, if any."""
        return self.token_source() if self.token_source is not None else self.token


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
    conversation = Conversation.open(url, options or ClientOptions())
    conversation.close()
    if conversation.refusal is not None:
        raise Refused(conversation.refusal, f"{conversation.refusal.code}: "
                                            f"{conversation.refusal.message}")
    assert conversation.connected is not None
    return conversation.connected


class Conversation:
    """One stream's conversation with the gateway, in the protocol's order: `open` (connect
    and read `connected`, or the refusal the gateway sent instead), `start`, `send_audio`
    any number of times, then `finish` (`done`, and the verdict). A gateway that answers
    early (a repeat at `start`, a refusal) and closes leaves its reply behind: read it with
    `early_verdict` while streaming and `verdict_after_close` after ConnectionClosed.

    Connection failures raise OSError or simple_websocket's errors, as they happen."""

    def __init__(self, ws: Client, first: Connected | Error, options: ClientOptions) -> None:
        self._ws = ws
        self._options = options
        self.connected = first if isinstance(first, Connected) else None
        self.refusal = first if isinstance(first, Error) else None

    @classmethod
    def open(cls, url: str, options: ClientOptions) -> Conversation:
        token = options.bearer()
        headers = {"Authorization": f"Bearer {token}"} if token else None
        ws = Client.connect_with_timeout(url, options.connect_timeout_s,
                                         io_timeout_s=options.io_timeout_s,
                                         ping_interval=options.ping_interval_s,
                                         headers=headers, ssl_context=options.ssl_context)
        try:
            first = _receive_event(ws, options.connect_timeout_s)
            if not isinstance(first, Connected | Error):
                raise OSError("the gateway did not start with `connected`")
        except BaseException:
            ws.close()
            raise
        return cls(ws, first, options)

    def frame_bytes(self, most: int) -> int:
        """Audio bytes per message: `most`, or less if the gateway announced less."""
        announced = self.connected.limit("max_frame_bytes", most) if self.connected else most
        return int(min(most, announced))

    def start(self, start: Start) -> None:
        self._ws.send(encode_client(start))

    def send_audio(self, pcm: bytes) -> None:
        self._ws.send(pcm)

    def early_verdict(self) -> Published | Error | None:
        """A verdict the gateway already sent while audio is still going out, or None."""
        message = self._ws.receive(timeout=0)
        event = None if message is None else _parse(message)
        return event if isinstance(event, Published | Error) else None

    def finish(self, heard: Heard | None = None) -> Published | Error:
        """Send `done` (with what the device heard, if it says) and wait for the verdict
        (at most `verdict_timeout_s`)."""
        self._ws.send(encode_client(Done(heard)))
        deadline = time.monotonic() + self._options.verdict_timeout_s
        while time.monotonic() < deadline:
            event = _receive_event(self._ws, max(0.01, deadline - time.monotonic()))
            if isinstance(event, Published | Error):
                return event
        raise OSError(f"no verdict within {self._options.verdict_timeout_s:g} s after done")

    def verdict_after_close(self) -> Published | Error | None:
        """The verdict among what the gateway sent before it closed, if any."""
        for message in list(self._ws.input_buffer):
            event = _parse(message)
            if isinstance(event, Published | Error):
                return event
        return None

    def close(self) -> None:
        self._ws.close()  # a no-op when already closed


def _attempt(url: str, pcm: bytes, start: Start, options: ClientOptions) -> Published | Error:
    conversation = Conversation.open(url, options)
    try:
        if conversation.refusal is not None:
            return conversation.refusal
        frame_bytes = conversation.frame_bytes(FRAME_BYTES)
        conversation.start(start)
        for i in range(0, len(pcm), frame_bytes):
            conversation.send_audio(pcm[i:i + frame_bytes])
        return conversation.finish()
    except simple_websocket.ConnectionClosed:
        verdict = conversation.verdict_after_close()
        if verdict is None:
            raise
        return verdict
    finally:
        conversation.close()


def _receive_event(ws: Client, timeout_s: float) -> ServerEvent | None:
    message = ws.receive(timeout=timeout_s)
    if message is None:
        raise OSError(f"nothing from the gateway within {timeout_s:g} s")
    return _parse(message)


def _parse(message: str | bytes) -> ServerEvent | None:
    if not isinstance(message, str):
        return None
    try:
        return parse_server_event(message)
    except ValueError:
        _LOGGER.warning("unreadable message from the gateway: %.80s", message)
        return None
