"""Reads AudioInputEvents back from Kafka by assigning partitions directly (no group join),
in either framing (schemaless or Confluent).

Tansu 0.6 reports a high watermark of (base offset of the last batch + 1), so reading
stops on a predicate or a deadline, never on the watermark.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from ingress_common.audio_event import AudioInputEvent
from ingress_common.framing import decode_event
from ingress_common.wav import wav_to_pcm


@dataclass(frozen=True)
class ReadEvent:
    topic: str
    partition: int
    offset: int
    key: str
    headers: dict[str, str]
    event: AudioInputEvent

    @property
    def pcm(self) -> bytes:
        return wav_to_pcm(bytes(self.event.wav))[0]


class KafkaReader:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self._consumer = Consumer({
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "fetch.max.bytes": 8 * 1024 * 1024,
            "max.partition.fetch.bytes": 8 * 1024 * 1024,
        })
        partitions = self._consumer.list_topics(topic, timeout=10).topics[topic].partitions
        self._consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        self.seen: list[ReadEvent] = []

    def read_until(self, done: Callable[[list[ReadEvent]], bool], timeout_s: float) -> list[ReadEvent]:
        """Poll until `done(all events seen so far)` or the deadline; returns all seen."""
        deadline = time.monotonic() + timeout_s
        while not done(self.seen) and time.monotonic() < deadline:
            msg = self._consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            value = msg.value()
            assert value is not None
            headers = {str(pair[0]): _text(pair[1]) for pair in (msg.headers() or [])}
            key = _text(msg.key())
            self.seen.append(ReadEvent(msg.topic() or "", msg.partition() or 0, msg.offset() or 0,
                                       key, headers, decode_event(value)))
        return self.seen

    def find(self, correlation_id: str, timeout_s: float = 15.0) -> ReadEvent:
        def found(events: list[ReadEvent]) -> bool:
            return any(e.event.correlation_id == correlation_id for e in events)

        events = self.read_until(found, timeout_s)
        for event in events:
            if event.event.correlation_id == correlation_id:
                return event
        raise LookupError(f"no event with correlation_id {correlation_id} in {self.topic}")

    def close(self) -> None:
        self._consumer.close()


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else value.decode()
