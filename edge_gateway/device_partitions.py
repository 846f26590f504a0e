"""A consumer thread that follows, in a compacted topic keyed by device id, only the
partitions of the devices this gateway serves (the settings and the identity followers):
what a gateway reads grows with the devices it serves, never with the fleet.

A device's partition is the CRC-32 of its id (`ingress_common.kafka_topics.partition_for`,
as the console writes it). When a device is new here, its partition is read again from the
beginning (`ask_for`); the partitions already followed go on from where they are. Once
every followed partition is read to its end the consumer is paused for `refresh_s`, or
until a partition is asked for: Tansu answers an empty fetch at once, so a consumer that
kept fetching would spin. A newer record for a served device therefore arrives within
`refresh_s` plus a fetch. Resuming makes librdkafka report the end of every partition
again, which is how a round ends; a metadata request right after it wakes the broker
thread at once (a resume alone waits for its next tick).

Subclasses say what a record means (`take`), which devices they serve (`served_ids`, read
again when the topic's partitions are learned), and may note when a read from the
beginning starts and ends (`reading_started`, `partition_read`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from ingress_common.kafka_topics import partition_count, partition_for
from ingress_common.log_throttle import throttled_logger

_LOGGER = throttled_logger(__name__)
RETRY_S = 1.0


class DevicePartitionFollower(threading.Thread):
    def __init__(self, name: str, config: dict[str, object], topic: str,
                 prepare: Callable[[], None], poll_s: float, refresh_s: float) -> None:
        super().__init__(name=name, daemon=True)
        self._config = config
        self.topic = topic
        self._prepare = prepare
        self._poll_s = poll_s
        self._refresh_s = refresh_s
        self._guard = threading.Condition()
        """Guards the subclass's state and the partitions below; notified as reads end."""
        self._partitions = 0
        self._followed: set[int] = set()
        self._reread: set[int] = set()
        self._at_end: set[int] = set()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self.ready = threading.Event()
        """Set once the topic's partitions are known."""
        self.rounds = 0
        """Times every followed partition was read to its end."""

    # what a subclass says

    def take(self, key: str, value: bytes | None) -> None:
        """A record of the followed partitions (value None: a tombstone)."""
        raise NotImplementedError

    def served_ids(self) -> Iterable[str]:
        """The devices served, under the guard: their partitions are read when learned."""
        raise NotImplementedError

    def reading_started(self, partitions: set[int]) -> None:
        """Under the guard: `partitions` are read from the beginning from now."""

    def partition_read(self, partition: int) -> None:
        """Under the guard: `partition` was read to its end."""

    # for the subclass's request threads

    def ask_for(self, device_id: str) -> int | None:
        """Under the guard: read `device_id`'s partition again from the beginning; which
        partition (None while the topic's partitions are not known)."""
        if not self._partitions:
            return None
        partition = partition_for(device_id, self._partitions) or 0
        self._reread.add(partition)
        self._wake.set()
        return partition

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    # the thread

    def run(self) -> None:
        consumer = None
        while not self._stopping.is_set():
            try:
                if consumer is None:
                    self._prepare()
                    consumer = Consumer(self._config)
                    self._learn_partitions(consumer)
                self._follow(consumer)
            except KafkaException as exc:
                _LOGGER.warning("topic %s: %s; retrying", self.topic, exc)
                self._stopping.wait(RETRY_S)
        if consumer is not None:
            consumer.close()

    def _learn_partitions(self, consumer: Consumer) -> None:
        count = partition_count(consumer, self.topic, 10)
        with self._guard:
            self._partitions = count
            self._reread |= {partition_for(d, count) or 0 for d in self.served_ids()}
            self.ready.set()
            self._guard.notify_all()

    def _follow(self, consumer: Consumer) -> None:
        with self._guard:
            reread, self._reread = self._reread, set()
            if reread:
                self.reading_started(reread)
        if reread:
            self._reassign(consumer, reread)
        if not self._followed:
            self._wake.wait(self._poll_s)
            self._wake.clear()
            return
        msg = consumer.poll(self._poll_s)
        if msg is None:
            return
        error = msg.error()
        partition = msg.partition() or 0
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                self._at_end.add(partition)
                with self._guard:
                    self.partition_read(partition)
                if self._at_end >= self._followed:
                    self._rest(consumer)
            else:  # a broker away answers at once: do not spin on its errors
                _LOGGER.warning("topic %s: %s", self.topic, error.str())
                self._stopping.wait(RETRY_S)
            return
        self._at_end.discard(partition)
        self.take((msg.key() or b"").decode(errors="replace"), msg.value())

    def _rest(self, consumer: Consumer) -> None:
        """Everything read: pause until `refresh_s` passed or a partition is asked for."""
        self.rounds += 1
        assignment = consumer.assignment()
        consumer.pause(assignment)
        self._wake.wait(self._refresh_s)
        self._wake.clear()
        self._at_end.clear()
        consumer.resume(assignment)
        consumer.list_topics(self.topic, timeout=2)  # wakes the broker thread at once

    def _reassign(self, consumer: Consumer, reread: set[int]) -> None:
        """Read `reread` from the beginning; the others go on from where they are."""
        kept = [TopicPartition(self.topic, p) for p in sorted(self._followed - reread)]
        positions = consumer.position(kept) if kept else []
        self._followed |= reread
        self._at_end -= reread
        consumer.assign([*positions, *(TopicPartition(self.topic, p, OFFSET_BEGINNING)
                                       for p in sorted(reread))])
