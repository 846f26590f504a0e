"""Recovery: look in the audio topic for the record of a segment whose claim never got a
receipt (its gateway died between Kafka's delivery report and the receipt).

A device's records all go to one partition (`partition_for`), so one partition is read,
from a little before the claim, to its end. Only headers are looked at.
"""

from __future__ import annotations

import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from edge_gateway.landing import Location
from edge_gateway.receipts.records import SegmentKey
from edge_gateway.record_headers import AUDIO_BYTES, CORRELATION_ID, DEVICE_ID, DURATION_MS, SEGMENT_ID

LOOKBACK_MS = 60_000
"""Start reading this long before the claim (clock skew between gateway and broker)."""
QUIET_POLLS = 3
"""Polls returning nothing, past the high watermark, that count as the partition's end."""


class ScanIncomplete(Exception):
    """The partition's end was not reached before the deadline: the answer is unknown."""


def find_record(config: dict[str, object], topic: str, partition: int, key: SegmentKey,
                claimed_at_ms: int, timeout_s: float) -> Location | None:
    """The segment's record in `topic`, None when the partition holds none, or raise
    `ScanIncomplete` when the deadline came first."""
    consumer = Consumer({**config, "enable.partition.eof": True})
    deadline = time.monotonic() + timeout_s
    try:
        start = TopicPartition(topic, partition, claimed_at_ms - LOOKBACK_MS)
        found = consumer.offsets_for_times([start], timeout=max(0.1, timeout_s / 2))[0]
        first = found.offset if found.offset >= 0 else OFFSET_BEGINNING
        consumer.assign([TopicPartition(topic, partition, first)])
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition),
                                                 timeout=max(0.1, timeout_s / 2))
        return _read_to_end(consumer, key, high, deadline)
    finally:
        consumer.close()


def _read_to_end(consumer: Consumer, key: SegmentKey, high: int,
                 deadline: float) -> Location | None:
    position, quiet = 0, 0
    while time.monotonic() < deadline:
        msg = consumer.poll(0.2)
        error = None if msg is None else msg.error()
        if msg is None or (error is not None and error.code() == KafkaError._PARTITION_EOF):
            quiet = quiet + 1 if position >= high else 0
            if quiet >= QUIET_POLLS:
                return None
            continue
        if error is not None:
            continue
        position = (msg.offset() or 0) + 1
        headers = {str(pair[0]): _text(pair[1]) for pair in (msg.headers() or [])}
        if headers.get(SEGMENT_ID) == key.segment_id and \
                headers.get(DEVICE_ID, "") == key.device_id:
            return Location(msg.topic() or "", msg.partition() or 0, msg.offset() or 0,
                            headers.get(CORRELATION_ID, ""), int(headers.get(AUDIO_BYTES, "0")),
                            int(headers.get(DURATION_MS, "0")))
    raise ScanIncomplete(f"the partition's end was not reached in {key}")


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else value.decode(errors="replace")
