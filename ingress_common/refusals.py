"""The wire refusals: why a stream ended without a publish, as both sides name it.

The gateway raises them; a client reads the same `code`s back (`refusal_for_code`).

A `StreamRefused` knows its wire `code`, the WebSocket close code, and whether the
client may retry the same audio. `published` is always false for a refusal: audio
that was published is reported with a `published` event, never with an error.
"""

from __future__ import annotations


class StreamRefused(Exception):
    """The stream ends without publishing. Sent to the client as an `error` event."""

    code = "refused"
    close_code = 1008
    retryable = False

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(f"{self.code}: {message}")


class BadJson(StreamRefused):
    code, close_code = "bad_json", 1007


class BadStart(StreamRefused):
    code, close_code = "bad_start", 1007


class UnknownEvent(StreamRefused):
    code, close_code = "unknown_event", 1003


class UnsupportedSampleRate(StreamRefused):
    code, close_code = "unsupported_sample_rate", 1003


class UnexpectedEvent(StreamRefused):
    code, close_code = "unexpected_event", 1008


class FrameTooLarge(StreamRefused):
    code, close_code = "frame_too_large", 1009


class BufferFull(StreamRefused):
    code, close_code = "buffer_full", 1009


class RateLimited(StreamRefused):
    code, close_code = "rate_limited", 1008


class EmptyStream(StreamRefused):
    code, close_code = "empty_stream", 1007


class MisalignedPcm(StreamRefused):
    code, close_code = "misaligned_pcm", 1007


class PublishUnconfirmed(StreamRefused):
    """Kafka did not confirm in time. The event may still land: retry with the same segment_id."""

    code, close_code, retryable = "publish_unconfirmed", 1013, True


class PublishFailed(StreamRefused):
    """Kafka rejected the event. Always retryable: the audio itself was valid, and what went
    wrong (a fenced producer, a missing topic, authorization) is the server side's to fix, so
    a client keeps the audio and retries with backoff rather than dropping it."""

    code, close_code, retryable = "publish_failed", 1011, True


class SegmentInProgress(StreamRefused):
    """Another attempt at this segment_id may still be publishing (here or at another
    gateway), or the gateway could not yet tell. Nothing new was written: retry later."""

    code, close_code, retryable = "segment_in_progress", 1013, True


class StreamTimedOut(Exception):
    """A time limit ended the stream. Protocol v1 (no segment_id) still publishes what was
    buffered; a stream with a segment_id publishes nothing (all or nothing)."""

    code = "timeout"
    close_code = 1008

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(f"{self.code}: {message}")


class IdleTimeout(StreamTimedOut):
    code = "idle_timeout"


class SessionTimeout(StreamTimedOut):
    code = "session_timeout"
