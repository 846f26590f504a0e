"""Looking a segment up in Kafka, one partition read to its end (a device's records all go
to one partition, `partition_for`):

- `find_record`: the audio topic, for the record of a segment whose claim never got a
  receipt (its gateway died between Kafka's delivery report and the receipt), from a
  little before the claim. Only headers are looked at.
- `find_history`: the receipts topic, for what it says of one segment over the window,
  when the receipt book cannot answer from memory (it had to forget entries of the window).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, TopicPartition

from edge_gateway.landing import Location
from edge_gateway.receipts.book import BookLimits, ReceiptBook, State
from edge_gateway.receipts.records import SegmentKey, decode_record
from edge_gateway.record_headers import AUDIO_BYTES, CORRELATION_ID, DEVICE_ID, DURATION_MS, SEGMENT_ID

LOOKBACK_MS = 60_000
"""Start reading this long before the claim (clock skew between gateway and broker)."""
HISTORY_WINDOW_S = 10 * 365 * 86400.0
"""`find_history`'s own book forgets nothing: the scan starts at the window already."""
QUIET_POLLS = 3
"""Polls returning nothing, past the high watermark, that count as the partition's end."""


T = TypeVar("T")


class ScanIncomplete(Exception):
    """The partition's end was not reached before the deadline: the answer is unknown."""


def find_record(config: dict[str, object], topic: str, partition: int, key: SegmentKey,
                claimed_at_ms: int, timeout_s: float) -> Location | None:
    """The segment's record in `topic`, None when the partition holds none, or raise
    `ScanIncomplete` when the deadline came first."""

    def match(msg: Message) -> Location | None:
        headers = {str(pair[0]): _text(pair[1]) for pair in (msg.headers() or [])}
        if headers.get(SEGMENT_ID) != key.segment_id or \
                headers.get(DEVICE_ID, "") != key.device_id:
            return None
        return Location(msg.topic() or "", msg.partition() or 0, msg.offset() or 0,
                        headers.get(CORRELATION_ID, ""), int(headers.get(AUDIO_BYTES, "0")),
                        int(headers.get(DURATION_MS, "0")))

    return _scan(config, TopicPartition(topic, partition, claimed_at_ms - LOOKBACK_MS), key,
                 timeout_s, match)


def find_history(config: dict[str, object], topic: str, partition: int, key: SegmentKey,
                 since_ms: int, timeout_s: float) -> State | None:
    """What the receipts topic says of `key` from `since_ms` on (the window's start): its
    receipt, its pending claim, or None; `ScanIncomplete` when the deadline came first.
    The segment's records are applied in log order, as the book would apply them."""
    history = ReceiptBook(BookLimits(window_s=HISTORY_WINDOW_S, max_entries=1))

    def apply(msg: Message) -> None:
        record = decode_record(msg.value() or b"")
        if record is not None and record.key == key:
            history.apply(msg.partition() or 0, msg.offset() or 0, record)
        return None

    _scan(config, TopicPartition(topic, partition, since_ms), key, timeout_s, apply)
    return history.lookup(key)


def _scan(config: dict[str, object], since: TopicPartition, key: SegmentKey, timeout_s: float,
          visit: Callable[[Message], T | None]) -> T | None:
    """Read `since.partition` from the offset of the time `since.offset` to its end; stop
    early when `visit` returns a value."""
    consumer = Consumer({**config, "enable.partition.eof": True})
    deadline = time.monotonic() + timeout_s
    try:
        found = consumer.offsets_for_times([since], timeout=max(0.1, timeout_s / 2))[0]
        first = found.offset if found.offset >= 0 else OFFSET_BEGINNING
        consumer.assign([TopicPartition(since.topic, since.partition, first)])
        _, high = consumer.get_watermark_offsets(TopicPartition(since.topic, since.partition),
                                                 timeout=max(0.1, timeout_s / 2))
        return _read_to_end(consumer, key, high, deadline, visit)
    finally:
        consumer.close()


def _read_to_end(consumer: Consumer, key: SegmentKey, high: int, deadline: float,
                 visit: Callable[[Message], T | None]) -> T | None:
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
        found = visit(msg)
        if found is not None:
            return found
    raise ScanIncomplete(f"the partition's end was not reached in {key}")


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else value.decode(errors="replace")
