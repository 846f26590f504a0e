"""The console's one way to write a record: to the device's partition (CRC-32 of its key,
as every follower reads it), waiting for Kafka's confirmation. A record that Kafka did not
confirm raises NotStored: it may or may not be stored, and the operator tries again."""

from __future__ import annotations

import threading
import time

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from ingress_common.kafka_topics import partition_count, partition_for

WRITE_TIMEOUT_S = 10.0


class NotStored(Exception):
    """Kafka did not confirm the record; it may or may not be stored."""


class RecordWriter:
    def __init__(self, bootstrap_servers: str) -> None:
        self._producer = Producer({"bootstrap.servers": bootstrap_servers, "acks": "all",
                                   "enable.idempotence": True,
                                   "allow.auto.create.topics": False,
                                   "message.timeout.ms": int(WRITE_TIMEOUT_S * 1000)})

    def write(self, topic: str, key: str, value: bytes | None) -> None:
        """Write `value` (None: a tombstone, which compaction turns into nothing) under
        `key`, and wait for Kafka's confirmation."""
        done = threading.Event()
        failure: list[KafkaError] = []

        def delivered(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                failure.append(err)
            done.set()
        try:
            partitions = partition_count(self._producer, topic, WRITE_TIMEOUT_S)
        except KafkaException as exc:
            raise NotStored(f"Kafka did not store the change ({exc.args[0]}); try again") from None
        self._producer.produce(topic, value, key, partition=partition_for(key, partitions) or 0,
                               on_delivery=delivered)
        deadline = time.monotonic() + WRITE_TIMEOUT_S
        while not done.is_set() and time.monotonic() < deadline:
            self._producer.poll(0.1)
        if not done.is_set() or failure:
            reason = failure[0].name() if failure else "no delivery report"
            raise NotStored(f"Kafka did not store the change ({reason}); try again")
