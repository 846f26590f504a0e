"""How an AudioInputEvent's Avro is framed on Kafka: the contract every reader shares.

Two framings, chosen by the gateway's operator (`GATEWAY_EVENT_FRAMING`):
- `schemaless`, the default and the seeds' contract: the Avro body alone. `speech-lib`'s
  consumer reads it with `fastavro.schemaless_reader`.
- `confluent`: magic byte 0, the schema id (4 bytes, big-endian), then the same body. What
  registry-aware consumers read (`confluent_kafka`'s `AvroDeserializer`, Kafka Connect, ksqlDB).

A reader need not know which: `decode_event` tells them apart (the console's playback, the
devkit's readers).
"""

from __future__ import annotations

import struct
from enum import StrEnum

from ingress_common.audio_event import AudioInputEvent, deserialize_schemaless

CONFLUENT_MAGIC_BYTE = 0
CONFLUENT_PREFIX = struct.Struct(">bI")
"""Magic byte, then the schema id: Confluent's wire format before the Avro body."""


class Framing(StrEnum):
    SCHEMALESS = "schemaless"
    CONFLUENT = "confluent"


def confluent_prefix(schema_id: int) -> bytes:
    """What goes before the Avro body in Confluent framing."""
    return CONFLUENT_PREFIX.pack(CONFLUENT_MAGIC_BYTE, schema_id)


def unframe(value: bytes) -> tuple[Framing, int | None, bytes]:
    """Tell a value's framing: (framing, schema id or None, Avro body).

    A schemaless AudioInputEvent starts with its `event_id`'s length, which is never 0 (the
    gateway writes a UUID), so a leading 0 byte is Confluent's magic byte."""
    if len(value) > CONFLUENT_PREFIX.size and value[0] == CONFLUENT_MAGIC_BYTE:
        _, schema_id = CONFLUENT_PREFIX.unpack_from(value)
        return Framing.CONFLUENT, schema_id, value[CONFLUENT_PREFIX.size:]
    return Framing.SCHEMALESS, None, value


def decode_event(value: bytes) -> AudioInputEvent:
    """Read an event in either framing."""
    return deserialize_schemaless(unframe(value)[2])
