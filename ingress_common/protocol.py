"""Protocol v1 of /ws/audio: the wire messages as typed dataclasses. No I/O here.

Client → server: an optional `start` text message, binary PCM16 LE 16 kHz mono frames,
then `done`. Server → client: `connected`, periodic `ack`, then `published` or `error`.
docs/protocol.md is the prose version of this module.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from ingress_common.health import HealthReply as HealthReply  # re-exported: the health message
from ingress_common.health import HealthReport as HealthReport
from ingress_common.identifiers import ID_PATTERN
from ingress_common.pcm import BYTES_PER_SECOND as BYTES_PER_SECOND  # re-exported: the format
from ingress_common.pcm import CHANNELS as CHANNELS
from ingress_common.pcm import SAMPLE_RATE_HZ as SAMPLE_RATE_HZ
from ingress_common.pcm import SAMPLE_WIDTH_BYTES as SAMPLE_WIDTH_BYTES
from ingress_common.refusals import BadDone, BadJson, BadStart, UnknownEvent, UnsupportedSampleRate

PROTOCOL_VERSION = 1

_LANGUAGE_PATTERN = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8}){0,4}$")
_FRONT_END_PATTERN = re.compile(r"^[a-z0-9=;._-]{1,64}$")
_MAX_TEXT_MESSAGE_CHARS = 4096


@dataclass(frozen=True)
class Start:
    """Optional first client message describing the stream."""

    sample_rate_hz: int = SAMPLE_RATE_HZ
    """Hertz; v1 accepts only 16000."""
    language_hint: str | None = None
    """BCP-47 tag, e.g. "en-US"."""
    device_id: str | None = None
    segment_id: str | None = None
    """Client's id of this utterance; identifies duplicates after a retry."""
    captured_at_ms: int | None = None
    """Wall-clock capture start, milliseconds since the Unix epoch."""
    capture_monotonic_ms: int | None = None
    """Device monotonic clock at capture start, milliseconds."""
    front_end: str | None = None
    """What the device did to the audio before sending it, e.g. `ns=2;agc=3;vad=webrtc`
    (noise suppression and gain levels, the detector); recorded in the record's headers."""

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> Start:
        rate = message.get("sample_rate_hz", SAMPLE_RATE_HZ)
        if not isinstance(rate, int) or isinstance(rate, bool):
            raise BadStart("sample_rate_hz must be an integer")
        if rate != SAMPLE_RATE_HZ:
            raise UnsupportedSampleRate(
                f"sample_rate_hz {rate} is not supported; protocol v1 accepts only {SAMPLE_RATE_HZ}"
            )
        return cls(
            sample_rate_hz=rate,
            language_hint=_optional_text(message, "language_hint", _LANGUAGE_PATTERN),
            device_id=_optional_text(message, "device_id", ID_PATTERN),
            segment_id=_optional_text(message, "segment_id", ID_PATTERN),
            captured_at_ms=_optional_int(message, "captured_at_ms"),
            capture_monotonic_ms=_optional_int(message, "capture_monotonic_ms"),
            front_end=_optional_text(message, "front_end", _FRONT_END_PATTERN),
        )

    def message(self) -> dict[str, Any]:
        fields = {k: v for k, v in asdict(self).items() if v is not None}
        return {"event": "start", **fields}


@dataclass(frozen=True)
class Heard:
    """What the device heard in the utterance, by its own detector: a consumer can flag a
    doubtful transcript without decoding the audio. Optional in `done`; the gateway puts it
    in the record's headers (`heard_snr_db`, `heard_speech_share`, `heard_background_talk`)."""

    snr_db: float
    """The talker's level over the room's usual level, dB (the detector's estimate)."""
    speech_share: float
    """The share of the utterance's 20 ms windows that were speech, 0 to 1."""
    background_talk: bool
    """Another voice was heard under the talker: a television, a radio, babble."""

    @classmethod
    def from_message(cls, heard: Any) -> Heard:
        if not isinstance(heard, dict):
            raise BadDone("heard must be an object")
        snr, share, talk = (heard.get(k) for k in ("snr_db", "speech_share", "background_talk"))
        if not isinstance(snr, int | float) or isinstance(snr, bool) or not -200 <= snr <= 200:
            raise BadDone("heard.snr_db must be a number of dB")
        if not isinstance(share, int | float) or isinstance(share, bool) or not 0 <= share <= 1:
            raise BadDone("heard.speech_share must be a number from 0 to 1")
        if not isinstance(talk, bool):
            raise BadDone("heard.background_talk must be true or false")
        return cls(float(snr), float(share), talk)


@dataclass(frozen=True)
class Done:
    """The client has sent all audio of this stream, and may say what it heard in it."""

    heard: Heard | None = None

    def message(self) -> dict[str, Any]:
        return {"event": "done", **({"heard": asdict(self.heard)} if self.heard else {})}

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> Done:
        heard = message.get("heard")
        return cls(None if heard is None else Heard.from_message(heard))


ClientEvent = Start | Done


@dataclass(frozen=True)
class Connected:
    """First server message: the server-generated correlation id and the limits in force."""

    correlation_id: str
    limits: dict[str, float] = field(default_factory=dict)
    """max_buffer_bytes, max_frame_bytes (bytes), idle_timeout_s, session_timeout_s
    (seconds), max_messages_per_s: a client fits its streams within them."""
    protocol: int = PROTOCOL_VERSION

    def limit(self, name: str, default: float) -> float:
        value = self.limits.get(name)
        return float(value) if isinstance(value, int | float) and value > 0 else default

    def message(self) -> dict[str, Any]:
        return {"event": "connected", **asdict(self)}


@dataclass(frozen=True)
class Ack:
    """Receipt of audio frames; not a delivery confirmation."""

    seq: int
    """Number of binary frames received so far."""
    bytes: int
    """PCM bytes buffered so far."""

    def message(self) -> dict[str, Any]:
        return {"event": "ack", **asdict(self)}


@dataclass(frozen=True)
class Published:
    """The event is in Kafka: the broker's delivery report said so."""

    correlation_id: str
    topic: str
    partition: int
    offset: int
    audio_bytes: int
    """PCM bytes in the event (without the 44-byte WAV header)."""
    duration_ms: int
    segment_id: str | None = None
    duplicate: bool = False
    """True when this segment_id was published before: this is the first receipt again,
    and no new record was written."""

    def message(self) -> dict[str, Any]:
        return {"event": "published", **asdict(self)}


@dataclass(frozen=True)
class Error:
    """Why the stream ended, and whether its audio was published."""

    code: str
    message: str
    published: bool
    retryable: bool
    correlation_id: str
    location: Published | None = None
    """Where the audio landed, when `published` is true."""

    def message_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "event": "error",
            "code": self.code,
            "message": self.message,
            "published": self.published,
            "retryable": self.retryable,
            "correlation_id": self.correlation_id,
        }
        if self.location is not None:
            loc = self.location
            out.update(topic=loc.topic, partition=loc.partition, offset=loc.offset)
        return out


ServerEvent = Connected | Ack | Published | Error


def encode_client(event: ClientEvent) -> str:
    """The JSON text frame for a client event."""
    return json.dumps(event.message(), separators=(",", ":"))


def encode_server(event: ServerEvent) -> str:
    """The JSON text frame for a server event."""
    body = event.message_dict() if isinstance(event, Error) else event.message()
    return json.dumps(body, separators=(",", ":"))


def parse_client_text(text: str) -> ClientEvent:
    """Parse a client text frame, raising a `StreamRefused` subclass for anything else."""
    if len(text) > _MAX_TEXT_MESSAGE_CHARS:
        raise BadJson(f"text messages are limited to {_MAX_TEXT_MESSAGE_CHARS} characters")
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        raise BadJson("text messages must be JSON objects") from None
    if not isinstance(message, dict):
        raise BadJson("text messages must be JSON objects")
    event = message.get("event")
    if event == "start":
        return Start.from_message(message)
    if event == "done":
        return Done.from_message(message)
    raise UnknownEvent(f"unknown event {str(event)[:40]!r}; expected 'start' or 'done'")


def parse_server_text(text: str) -> dict[str, Any]:
    """Client side: a server frame as a dict with an `event` key."""
    message = json.loads(text)
    if not isinstance(message, dict) or "event" not in message:
        raise ValueError(f"not a protocol message: {text[:80]!r}")
    return message


def parse_server_event(text: str) -> ServerEvent:
    """Client side: a server frame as its typed event; ValueError for anything else."""
    message = parse_server_text(text)
    event = message.pop("event")
    try:
        if event == "connected":
            return Connected(str(message["correlation_id"]), dict(message.get("limits") or {}),
                             int(message.get("protocol", PROTOCOL_VERSION)))
        if event == "ack":
            return Ack(int(message["seq"]), int(message["bytes"]))
        if event == "published":
            return Published(**message)
        if event == "error":
            location = None
            if message.get("published") and "offset" in message:
                location = Published(str(message["correlation_id"]), message["topic"],
                                     message["partition"], message["offset"], 0, 0)
            return Error(str(message["code"]), str(message["message"]),
                         bool(message["published"]), bool(message["retryable"]),
                         str(message.get("correlation_id", "")), location)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed {event} message: {exc}") from None
    raise ValueError(f"unknown server event {str(event)[:40]!r}")


def _optional_text(message: dict[str, Any], key: str, pattern: re.Pattern[str]) -> str | None:
    value = message.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not pattern.match(value):
        raise BadStart(f"{key} must match {pattern.pattern}")
    return value


def _optional_int(message: dict[str, Any], key: str) -> int | None:
    value = message.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadStart(f"{key} must be a non-negative integer")
    return value
