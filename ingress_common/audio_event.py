"""The AudioInputEvent record and its Avro encoding (the body; `framing` says what, if
anything, goes before it on Kafka).

The schemaless encoder writes the WAV into the event buffer itself: fastavro encodes the
record with empty audio, and the audio goes where that empty `bytes` field was (an Avro
record is its fields' encodings one after another; `bytes` is a zig-zag length and the
data). So the PCM is copied once, not three times (WAV, record, Avro); the result is
byte for byte what fastavro writes (tests/unit/edge_gateway/test_events.py).
"""

from __future__ import annotations

import io
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any, Protocol

import fastavro

from ingress_common.wav import WavParts

EVENT_TYPE = "AudioInputEvent"
AUDIO_FORMAT = "wav"
SCHEMA_TEXT = resources.files("ingress_common").joinpath("schemas/audio_input_event.avsc").read_text()
PARSED_SCHEMA = fastavro.parse_schema(json.loads(SCHEMA_TEXT))
_FIELDS = json.loads(SCHEMA_TEXT)["fields"]
_PAYLOAD_AT = [f["name"] for f in _FIELDS].index("payload")
if _FIELDS[_PAYLOAD_AT]["type"]["fields"][0]["name"] != "audio_bytes":
    raise ImportError("the encoder splices the audio in as the payload's first field")
_BEFORE_AUDIO = fastavro.parse_schema({"type": "record", "name": "BeforeAudio",
                                       "fields": _FIELDS[:_PAYLOAD_AT]})
"""The fields encoded before the audio: their encoding's length is where the audio goes."""
AVRO_OVERHEAD_BYTES = 1024
"""Generous bound on the Avro record's size beyond its WAV bytes."""


@dataclass(frozen=True)
class AudioInputEvent:
    correlation_id: str
    wav: bytes | WavParts
    sample_rate_hz: int
    source_service: str
    language_hint: str | None = None
    event_id: str = ""
    timestamp: datetime | None = None

    @classmethod
    def create(cls, correlation_id: str, wav: bytes | WavParts, sample_rate_hz: int,
               source_service: str, language_hint: str | None) -> AudioInputEvent:
        return cls(correlation_id, wav, sample_rate_hz, source_service, language_hint,
                   event_id=str(uuid.uuid4()), timestamp=datetime.now(UTC))

    def record(self, audio: bytes | None = None) -> dict[str, Any]:
        """The Avro record (with `audio` in place of the WAV, when given)."""
        return {
            "event_id": self.event_id,
            "event_type": EVENT_TYPE,
            "correlation_id": self.correlation_id,
            "timestamp": self.timestamp or datetime.now(UTC),
            "source_service": self.source_service,
            "payload": {
                "audio_bytes": bytes(self.wav) if audio is None else audio,
                "audio_format": AUDIO_FORMAT,
                "sample_rate_hz": self.sample_rate_hz,
                "language_hint": self.language_hint,
            },
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> AudioInputEvent:
        payload = record["payload"]
        return cls(
            correlation_id=record["correlation_id"],
            wav=payload["audio_bytes"],
            sample_rate_hz=payload["sample_rate_hz"],
            source_service=record["source_service"],
            language_hint=payload["language_hint"],
            event_id=record["event_id"],
            timestamp=record["timestamp"],
        )


class EventSerializer(Protocol):
    def __call__(self, event: AudioInputEvent, topic: str) -> bytes: ...


def serialize_schemaless(event: AudioInputEvent, topic: str = "") -> bytes:
    """Plain Avro, the WAV copied once, straight into the result."""
    record = event.record(audio=b"")
    empty, before = _avro(PARSED_SCHEMA, record), _avro(_BEFORE_AUDIO, record)
    audio_at = len(before)  # `empty` holds the empty audio field's one byte (0) there
    wav = event.wav
    parts = (wav.header, wav.pcm) if isinstance(wav, WavParts) else (wav,)
    return b"".join((before, _avro_long(len(wav)), *parts, empty[audio_at + 1:]))


def _avro(schema: Any, record: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, schema, record)
    return out.getvalue()


def _avro_long(value: int) -> bytes:
    """Avro's zig-zag varint encoding of a long."""
    n = (value << 1) ^ (value >> 63)
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def deserialize_schemaless(data: bytes) -> AudioInputEvent:
    """The Avro body alone, as `speech-lib` reads it (readers of either framing:
    `framing.decode_event`)."""
    record = fastavro.schemaless_reader(io.BytesIO(data), PARSED_SCHEMA)
    assert isinstance(record, dict)
    return AudioInputEvent.from_record(record)
