"""The wire refusals: why a stream ended without a publish, as both sides name it.

Every refusal code the gateway sends is defined here, once: the gateway raises these, a
client reads the same `code`s back (`transient`, `refusal_for_code`).

A `StreamRefused` knows its wire `code`, the WebSocket close code, whether the client may
retry the same audio (`retryable`), and whether the refusal says nothing about the audio
itself (`transient`: a busy gateway, a slow Kafka, another attempt under way), so that a
client never sets audio aside for it however often it repeats. `published` is always false
for a refusal: audio that was published is reported with a `published` event, never with
an error. An `AdmissionRefused` is the plain HTTP answer before the WebSocket upgrade.
"""

from __future__ import annotations


class Refusal(Exception):
    """Nothing was published, and this is why: a `code` and a `message` for the client."""

    code = "refused"
    retryable = False
    transient = False

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(f"{self.code}: {message}")


class StreamRefused(Refusal):
    """The stream ends without publishing. Sent to the client as an `error` event."""

    close_code = 1008


class BadJson(StreamRefused):
    code, close_code = "bad_json", 1007


class BadStart(StreamRefused):
    code, close_code = "bad_start", 1007


class BadDone(StreamRefused):
    code, close_code = "bad_done", 1007


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

    code, close_code, retryable, transient = "publish_unconfirmed", 1013, True, True


class PublishFailed(StreamRefused):
    """Kafka rejected the event. Always retryable: the audio itself was valid, and what went
    wrong (a fenced producer, a missing topic, authorization) is the server side's to fix, so
    a client keeps the audio and retries with backoff rather than dropping it."""

    code, close_code, retryable = "publish_failed", 1011, True
    # not transient: the same refusal again and again may be this audio's (too large for
    # the topic), and a client sets such audio aside rather than block the rest behind it


class SegmentInProgress(StreamRefused):
    """Another attempt at this segment_id may still be publishing (here or at another
    gateway), or the gateway could not yet tell. Nothing new was written: retry later."""

    code, close_code, retryable, transient = "segment_in_progress", 1013, True, True


class DeviceRevokedWhileStreaming(StreamRefused):
    """An operator revoked the device while it streamed: the stream ends, and nothing of
    the unfinished segment is published."""

    code, close_code = "revoked_while_streaming", 1008


class InternalError(StreamRefused):
    """The gateway failed while serving the stream; the audio was not published."""

    code, close_code, retryable, transient = "internal_error", 1011, True, True


class StreamTimedOut(Refusal):
    """A time limit ended the stream. Protocol v1 (no segment_id) still publishes what was
    buffered; a stream with a segment_id publishes nothing (all or nothing)."""

    code = "timeout"
    close_code = 1008
    transient = True


class IdleTimeout(StreamTimedOut):
    code = "idle_timeout"


class SessionTimeout(StreamTimedOut):
    code = "session_timeout"


class AdmissionRefused(Refusal):
    """The connection is refused before the WebSocket upgrade: an HTTP `status` with a JSON
    body, `published: false`, and `retryable` when the same request may succeed later."""

    status = 400
    retry_after_s = 1
    """When `retryable`: how long the answer's Retry-After asks the client to wait."""


class OriginForbidden(AdmissionRefused):
    code, status = "origin_forbidden", 403


class Unauthorized(AdmissionRefused):
    code, status = "unauthorized", 401


class EnrollmentPending(AdmissionRefused):
    """A device's own key that the fleet does not know yet: the gateway has asked the
    operator (the enrollment topic). Retry after `Retry-After`; nothing was published."""

    code, status, retryable, transient = "enrollment_pending", 401, True, True
    retry_after_s = 2
    """Accepted, a device is admitted within this (its speech lands within 10 s of the
    click)."""


class UnknownKey(AdmissionRefused):
    """Another key than the one accepted for this device id: a clone or a forgery, shown
    to the operator as a conflict, never swapped in."""

    code, status = "unknown_key", 401


class DeviceRevoked(AdmissionRefused):
    """The operator revoked this device's key. Only a new key may ask to join again."""

    code, status = "revoked", 401


class DeviceRejected(AdmissionRefused):
    """The operator turned this key away. Only a new key may ask to join again."""

    code, status = "rejected", 401


class EnrollmentBusy(AdmissionRefused):
    """This gateway holds as many unanswered enrollment requests as it may: nothing was
    written. Retry later."""

    code, status, retryable, transient = "enrollment_busy", 503, True, True


class IdentityUnavailable(AdmissionRefused):
    """The device's identity could not be read from Kafka in time: nothing was published."""

    code, status, retryable, transient = "identity_unavailable", 503, True, True


class SchemaUnavailable(AdmissionRefused):
    """Confluent framing, and the event schema is not registered yet."""

    code, status, retryable, transient = "schema_unregistered", 503, True, True


class OverCapacity(AdmissionRefused):
    code, status, retryable, transient = "over_capacity", 503, True, True


class BadHealthReport(AdmissionRefused):
    """A health report that is not one (bad JSON, a missing or ill-typed field)."""

    code, status = "bad_report", 400


class WrongDevice(AdmissionRefused):
    """A health report for another device than the token's `sub`."""

    code, status = "wrong_device", 403


class ReportTooLarge(AdmissionRefused):
    code, status = "report_too_large", 413


class ReportTooFrequent(AdmissionRefused):
    """More health reports than the gateway's per-device rate: wait `Retry-After`."""

    code, status, retryable, transient = "report_too_frequent", 429, True, True


class HealthUnavailable(AdmissionRefused):
    """The report could not be written to Kafka; nothing was stored."""

    code, status, retryable, transient = "health_unavailable", 503, True, True


CLIENT_LEFT = "client_left"
"""A client that left before any verdict (nothing to answer): a metric label only."""
HEADER_TIMEOUT = "header_timeout"
"""Request headers not complete in time (the TCP connection is shut): a metric label only."""

def _all_refusals() -> dict[str, type[Refusal]]:
    found: dict[str, type[Refusal]] = {}
    pending: list[type[Refusal]] = [StreamRefused, StreamTimedOut, AdmissionRefused]
    while pending:
        refusal = pending.pop()
        found.setdefault(refusal.code, refusal)
        pending += refusal.__subclasses__()
    return found


_BY_CODE = _all_refusals()


def refusal_for_code(code: str) -> type[Refusal] | None:
    """The refusal a wire `code` names, or None for a code this version does not know."""
    return _BY_CODE.get(code)


def transient(code: str) -> bool:
    """The refusal says nothing about the audio itself. Unknown codes are not transient."""
    refusal = refusal_for_code(code)
    return refusal is not None and refusal.transient
