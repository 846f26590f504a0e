"""Segments with a `segment_id`, streamed by hand, and their records counted in Kafka.

`records_of` waits for a sentinel: a v1 utterance of the same device, sent after the
case under test. A device's records share one partition, so once the sentinel is read,
every record the case could have written is read too. That is how a test shows that
Kafka stayed empty without sleeping.
"""

from __future__ import annotations

import uuid
from typing import Any

from devkit.kafka_reader import KafkaReader, ReadEvent
from devkit.ws_client import StreamResult, frames_of, stream_utterance

FRAME_BYTES = 8000


def start_of(device_id: str, segment_id: str | None) -> dict[str, Any]:
    start: dict[str, Any] = {"device_id": device_id}
    if segment_id is not None:
        start["segment_id"] = segment_id
    return start


def send_segment(url: str, device_id: str, segment_id: str | None, pcm: bytes,
                 send_done: bool = True, timeout_s: float = 30.0) -> StreamResult:
    return stream_utterance(url, frames_of(pcm, FRAME_BYTES), start_of(device_id, segment_id),
                            send_done=send_done, timeout_s=timeout_s)


def records_of(reader: KafkaReader, url: str, device_id: str, segment_id: str,
               timeout_s: float = 20.0) -> list[ReadEvent]:
    """Every record of `segment_id` in Kafka, read up to a fresh sentinel of `device_id`."""
    return [e for e in segment_records_of(reader, url, device_id, timeout_s)
            if e.headers.get("segment_id") == segment_id]


def segment_records_of(reader: KafkaReader, url: str, device_id: str,
                       timeout_s: float = 20.0) -> list[ReadEvent]:
    """Every record of `device_id` that names a segment, read up to a fresh sentinel, in
    the order Kafka holds them (one device, one partition)."""
    sentinel = send_segment(url, device_id, None, b"\0\1" * 800)
    assert sentinel.final["event"] == "published", sentinel.messages
    reader.find(sentinel.correlation_id, timeout_s)
    return [e for e in reader.seen if e.headers.get("device_id") == device_id
            and "segment_id" in e.headers]


def new_segment_id(device_id: str) -> str:
    return f"{device_id}:test:{uuid.uuid4().hex[:8]}:1"
