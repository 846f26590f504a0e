"""Reads the health and settings topics, all partitions from the beginning, into the
FleetView, and keeps following them. No consumer group: partitions are assigned directly
(a group join takes seconds here, and each console wants every record anyway)."""

from __future__ import annotations

import logging
import threading
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from edge_console.fleet import FleetView
from ingress_common.fleet_records import decode_health, decode_settings

_LOGGER = logging.getLogger(__name__)
POLL_S = 0.5
RETRY_S = 2.0


class FleetFollower(threading.Thread):
    def __init__(self, bootstrap_servers: str, health_topic: str, settings_topic: str,
                 fleet: FleetView) -> None:
        super().__init__(name="fleet-follower", daemon=True)
        self._config = {"bootstrap.servers": bootstrap_servers,
                        "group.id": f"edge-console-{uuid.uuid4()}",
                        "enable.auto.commit": False, "auto.offset.reset": "earliest",
                        "fetch.wait.max.ms": 200}
        self._topics = (health_topic, settings_topic)
        self._fleet = fleet
        self._stopping = threading.Event()
        self.assigned = threading.Event()
        self.records = 0
        self.bad_records = 0

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        consumer = Consumer(self._config)
        try:
            while not self._stopping.is_set() and not self._assign(consumer):
                self._stopping.wait(RETRY_S)
            while not self._stopping.is_set():
                msg = consumer.poll(POLL_S)
                if msg is None:
                    continue
                if msg.error() is not None:  # a broker away answers at once: do not spin
                    self._stopping.wait(RETRY_S)
                    continue
                self._take(msg.topic(), msg.value())
        finally:
            consumer.close()

    def _assign(self, consumer: Consumer) -> bool:
        partitions = []
        try:
            for topic in self._topics:
                metadata = consumer.list_topics(topic, timeout=5).topics.get(topic)
                if metadata is None or metadata.error is not None or not metadata.partitions:
                    _LOGGER.warning("topic %s not found yet (a gateway creates it)", topic)
                    return False
                partitions += [TopicPartition(topic, p, OFFSET_BEGINNING)
                               for p in metadata.partitions]
        except KafkaException as exc:
            _LOGGER.warning("Kafka not reachable: %s", exc)
            return False
        consumer.assign(partitions)
        self.assigned.set()
        _LOGGER.info("following %s", ", ".join(self._topics))
        return True

    def _take(self, topic: str | None, value: bytes | None) -> None:
        if value is None:
            return
        try:
            if topic == self._topics[0]:
                self._fleet.take_health(decode_health(value))
            else:
                self._fleet.take_settings(decode_settings(value))
            self.records += 1
        except (ValueError, EOFError, KeyError, TypeError) as exc:
            self.bad_records += 1
            _LOGGER.warning("skipping a record of %s that does not decode: %s", topic, exc)
