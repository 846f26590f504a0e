"""Writes an operator's change of a device's settings to the settings topic, as the
device's new desired state with the next version. Checked first by the agent's own
validators: a value the agent would refuse is never stored."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping

from confluent_kafka import KafkaError, Message, Producer

from device_agent.settings import check_remote
from edge_console.fleet import FleetView
from edge_gateway.publisher import partition_for
from ingress_common.fleet_records import DeviceSettings, encode_settings
from ingress_common.health import DesiredSettings

WRITE_TIMEOUT_S = 10.0
DEVICE_ID = re.compile(r"^[A-Za-z0-9._:@/-]{1,128}$")


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
        version. ConfigError: a value the agent would refuse (nothing stored)."""
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
        metadata = self._producer.list_topics(self.topic, timeout=WRITE_TIMEOUT_S)
        partitions = len(metadata.topics[self.topic].partitions) \
            if self.topic in metadata.topics else 0
        self._producer.produce(self.topic, encode_settings(record), record.device_id,
                               partition=partition_for(record.device_id, partitions) or 0,
                               on_delivery=delivered)
        deadline = time.monotonic() + WRITE_TIMEOUT_S
        while not done.is_set() and time.monotonic() < deadline:
            self._producer.poll(0.1)
        if not done.is_set() or failure:
            reason = failure[0].name() if failure else "no delivery report"
            raise SettingsNotStored(f"Kafka did not store the change ({reason}); try again")
