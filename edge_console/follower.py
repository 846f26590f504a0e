"""Reads the fleet's topics (health, settings, and the identity topics), all partitions
from the beginning, into the console's views, and keeps following them (partitions
assigned directly, as every follower does: `ingress_common.kafka_topics`). Each topic has
its handler, given the record's key and value (None: a tombstone). `caught_up` is set once
every partition was read to its end once: what was decided before the console started is
known before it acts on its own (join codes).

It also tells the console whether Kafka can be read (`KafkaStatus`): every `PROBE_S` it
asks the broker for the health topic's metadata, bounded to `PROBE_TIMEOUT_S`, so a broker
that is gone or frozen is noticed within a few seconds even when no record is due."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition

from edge_console.kafka_status import KafkaStatus
from ingress_common.kafka_topics import follower_config, partition_count

Handler = Callable[[str, bytes | None], None]


def values_only(take: Callable[[bytes], None]) -> Handler:
    """A handler for a topic whose tombstones mean nothing to the console."""
    def handle(_key: str, value: bytes | None) -> None:
        if value is not None:
            take(value)
    return handle

_LOGGER = logging.getLogger(__name__)
POLL_S = 0.5
RETRY_S = 2.0
PROBE_S = 1.0
"""How often the follower checks that the broker answers."""
PROBE_TIMEOUT_S = 2.0
"""A broker that does not answer a metadata request within this is taken as unreadable."""


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class FleetFollower(threading.Thread):
    def __init__(self, bootstrap_servers: str, handlers: Mapping[str, Handler],
                 status: KafkaStatus, prepare: Callable[[], None] = lambda: None) -> None:
        """`handlers`: topic → what takes its records; the first topic's metadata is the
        probe. `prepare` runs before the topics are assigned (creates the console's own)."""
        super().__init__(name="fleet-follower", daemon=True)
        self._config = follower_config(bootstrap_servers, "edge-console", 200)
        self._handlers = dict(handlers)
        self._topics = tuple(handlers)
        self._prepare = prepare
        self.status = status
        self._stopping = threading.Event()
        self.assigned = threading.Event()
        self.caught_up = threading.Event()
        self._not_at_end: set[tuple[str, int]] = set()
        self.records = 0
        self.bad_records = 0

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        consumer = Consumer(self._config)
        try:
            while not self._stopping.is_set() and not self._assign(consumer):
                self._stopping.wait(RETRY_S)
            next_probe = 0.0
            while not self._stopping.is_set():
                if time.monotonic() >= next_probe:
                    self._probe(consumer)
                    next_probe = time.monotonic() + PROBE_S
                self._take(consumer.poll(POLL_S))
        finally:
            consumer.close()

    def _probe(self, consumer: Consumer) -> None:
        try:
            partition_count(consumer, self._topics[0], PROBE_TIMEOUT_S)
        except KafkaException as exc:
            if self.status.state.readable:
                _LOGGER.warning("cannot read Kafka: %s", exc)
            self.status.failed(f"Kafka does not answer: {exc.args[0]}")
            return
        if not self.status.state.readable:
            _LOGGER.info("Kafka is readable again")
        self.status.read(now_ms())

    def _assign(self, consumer: Consumer) -> bool:
        partitions = []
        try:
            self._prepare()
            for topic in self._topics:
                count = partition_count(consumer, topic, PROBE_TIMEOUT_S)
                partitions += [TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(count)]
        except KafkaException as exc:
            _LOGGER.warning("cannot follow the fleet's topics yet (a gateway creates them): %s",
                            exc)
            self.status.failed(f"cannot follow the fleet's topics: {exc.args[0]}")
            return False
        consumer.assign(partitions)
        self._not_at_end = {(p.topic, p.partition) for p in partitions}
        self.assigned.set()
        self.status.read(now_ms())
        _LOGGER.info("following %s", ", ".join(self._topics))
        return True

    def _take(self, msg: Message | None) -> None:
        if msg is None:
            return
        error = msg.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                self._not_at_end.discard((msg.topic() or "", msg.partition() or 0))
                if not self._not_at_end:
                    self.caught_up.set()
            else:  # a broker away answers at once
                self._stopping.wait(RETRY_S)
            return
        topic = msg.topic() or ""
        key = (msg.key() or b"").decode(errors="replace")
        try:
            self._handlers[topic](key, msg.value())
            self.records += 1
        except (ValueError, EOFError, KeyError, TypeError) as exc:
            self.bad_records += 1
            _LOGGER.warning("skipping a record of %s that does not decode: %s", topic, exc)
