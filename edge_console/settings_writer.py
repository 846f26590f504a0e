"""Writes an operator's change of a device's settings to the settings topic, as the
device's new desired state with the next version. Checked first for type and range by the
contract's validators (`ingress_common.remote_settings`): a value out of range is never
stored. Whether the device has the packages a value needs, only the device can tell: it
refuses such a version when it applies it, and its health report says why."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from edge_console.fleet import FleetView
from ingress_common.fleet_records import DeviceSettings, encode_settings
from ingress_common.health import DesiredSettings
from ingress_common.kafka_topics import partition_count, partition_for
from ingress_common.remote_settings import check_remote

WRITE_TIMEOUT_S = 10.0


class SettingsNotStored(Exception):
    """Kafka did not confirm the change; it may or may not be stored."""


class SettingsWriter:
    def __init__(self, bootstrap_servers: str, topic: str, fleet: FleetView) -> None:
        self._producer = Producer({"bootstrap.servers": bootstrap_servers, "acks": "all",
                                   "enable.idempotence": True,
                                   "allow.auto.create.topics": False,
                                   "message.timeout.ms": int(WRITE_TIMEOUT_S * 1000)})
        self.topic = topic
        self._fleet = fleet
        self._lock = threading.Lock()
        """One change at a time: each takes the version after the last."""

    def change(self, device_id: str, values: Mapping[str, object], operator: str) -> DeviceSettings:
        """Store `values` (the device's whole desired set, by config-file key) as its next
        version. ConfigError: a value of the wrong type or out of range (nothing stored)."""
        text = {str(k): str(v) for k, v in values.items()}
        check_remote(text)
        with self._lock:
            record = DeviceSettings(device_id,
                                    DesiredSettings(self._fleet.desired_version(device_id) + 1,
                                                    text),
                                    operator, time.time_ns() // 1_000_000)
            self._write(record)
            self._fleet.take_settings(record)
        return record

    def _write(self, record: DeviceSettings) -> None:
        done = threading.Event()
        failure: list[KafkaError] = []

        def delivered(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                failure.append(err)
            done.set()
        try:
            partitions = partition_count(self._producer, self.topic, WRITE_TIMEOUT_S)
        except KafkaException as exc:
            raise SettingsNotStored(f"Kafka did not store the change ({exc.args[0]}); "
                                    "try again") from None
        self._producer.produce(self.topic, encode_settings(record), record.device_id,
                               partition=partition_for(record.device_id, partitions) or 0,
                               on_delivery=delivered)
        deadline = time.monotonic() + WRITE_TIMEOUT_S
        while not done.is_set() and time.monotonic() < deadline:
            self._producer.poll(0.1)
        if not done.is_set() or failure:
            reason = failure[0].name() if failure else "no delivery report"
            raise SettingsNotStored(f"Kafka did not store the change ({reason}); try again")
