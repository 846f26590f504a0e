"""The state machine of one audio stream. Pure: no sockets, no Kafka, no clock of its own.

The connection handler feeds it every client message with the time it arrived and asks
it how long to wait for the next one. It answers with what to send back, or raises:
`StreamRefused` (nothing is published) or `StreamTimedOut` (what was buffered is
published). Memory is bounded by `StreamLimits.max_buffer_bytes`.
"""

from __future__ import annotations

import enum
from dataclasses import replace

from edge_gateway.limits import StreamLimits, TokenBucket
from ingress_common.pcm import duration_ms
from ingress_common.protocol import (
    SAMPLE_RATE_HZ,
    SAMPLE_WIDTH_BYTES,
    Ack,
    Done,
    Heard,
    Start,
    parse_client_text,
)
from ingress_common.refusals import (
    BufferFull,
    EmptyStream,
    FrameTooLarge,
    IdleTimeout,
    MisalignedPcm,
    RateLimited,
    SessionTimeout,
    UnexpectedEvent,
)


class State(enum.Enum):
    OPEN = "open"
    """Connected; neither start nor audio seen yet."""
    STREAMING = "streaming"
    """Start or audio received; more audio may follow."""
    FINISHED = "finished"
    """Done received: the audio is ready to publish."""


class StreamSession:
    """Buffers one stream's PCM and enforces the per-stream limits."""

    def __init__(self, limits: StreamLimits, opened_at: float,
                 authenticated_device_id: str | None = None) -> None:
        self.limits = limits
        self.state = State.OPEN
        self._device_id = authenticated_device_id
        self.start = Start(device_id=authenticated_device_id)
        self.heard: Heard | None = None
        """What the device heard in the utterance, if its `done` said."""
        self.frames = 0
        self._pcm = bytearray()
        self._released_bytes: int | None = None
        """Set once the buffer is released: how many bytes it held."""
        self._opened_at = opened_at
        self._last_message_at = opened_at
        self._bucket = TokenBucket(limits.max_messages_per_s, limits.message_burst, opened_at)

    @property
    def buffered_bytes(self) -> int:
        return len(self._pcm) if self._released_bytes is None else self._released_bytes

    @property
    def pcm(self) -> memoryview:
        """The buffered PCM, without a copy (a 1.4 MiB stream is copied enough on its way
        to Kafka). Valid once the stream has stopped receiving, until `release_pcm()`."""
        if self._released_bytes is not None:
            raise RuntimeError("the stream's PCM was released after its event was built")
        return memoryview(self._pcm)

    def release_pcm(self) -> None:
        """Free the buffer: librdkafka holds the audio now (in the event it was sent).
        Waiting for Kafka's report, a 1.4 MiB stream then holds only librdkafka's copy."""
        self._released_bytes = len(self._pcm)
        self._pcm = bytearray()

    @property
    def duration_ms(self) -> int:
        return duration_ms(self.buffered_bytes)

    def seconds_to_deadline(self, now: float) -> float:
        """How long the handler may wait for the next message (≥ 0)."""
        idle_left = self._last_message_at + self.limits.idle_timeout_s - now
        session_left = self._opened_at + self.limits.session_timeout_s - now
        return max(0.0, min(idle_left, session_left))

    def on_timeout(self, now: float) -> None:
        """No message arrived in time: raise the timeout that applies."""
        if now >= self._opened_at + self.limits.session_timeout_s:
            raise SessionTimeout(f"session exceeded {self.limits.session_timeout_s:g} s")
        if now >= self._last_message_at + self.limits.idle_timeout_s:
            raise IdleTimeout(f"no message for {self.limits.idle_timeout_s:g} s")

    def on_text(self, text: str, now: float) -> Start | Done:
        self._admit(now)
        event = parse_client_text(text)
        if isinstance(event, Start):
            if self.state is not State.OPEN:
                raise UnexpectedEvent("start must be the first client message")
            self.start = replace(event, device_id=self._device_id) if self._device_id else event
            self.state = State.STREAMING
            return event
        self.heard = event.heard
        self._finish()
        return event

    def on_binary(self, frame: bytes, now: float) -> Ack | None:
        """Buffer one PCM frame; returns an Ack every `ack_every_frames` frames."""
        self._admit(now)
        if len(frame) > self.limits.max_frame_bytes:
            raise FrameTooLarge(
                f"frame of {len(frame)} bytes; frames are limited to {self.limits.max_frame_bytes}"
            )
        if len(self._pcm) + len(frame) > self.limits.max_buffer_bytes:
            raise BufferFull(
                f"stream exceeds {self.limits.max_buffer_bytes} bytes of PCM "
                f"({self.limits.max_buffer_bytes // (SAMPLE_RATE_HZ * SAMPLE_WIDTH_BYTES)} s); "
                "send shorter utterances"
            )
        self.state = State.STREAMING
        self._pcm += frame
        self.frames += 1
        if self.frames % self.limits.ack_every_frames == 0:
            return Ack(seq=self.frames, bytes=len(self._pcm))
        return None

    def _admit(self, now: float) -> None:
        if self.state is State.FINISHED:
            raise UnexpectedEvent("no messages are accepted after done")
        self.on_timeout(now)
        if not self._bucket.take(now):
            raise RateLimited(
                f"more than {self.limits.max_messages_per_s:g} messages/s "
                f"(burst {self.limits.message_burst})"
            )
        self._last_message_at = now

    def _finish(self) -> None:
        if not self._pcm:
            raise EmptyStream("done arrived before any audio")
        if len(self._pcm) % SAMPLE_WIDTH_BYTES:
            raise MisalignedPcm("PCM16 needs an even number of bytes in total")
        self.state = State.FINISHED
