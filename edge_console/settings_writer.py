"""Writes an operator's change of a device's settings to the settings topic, as the
device's new desired state with the next version. Checked first for type and range by the
contract's validators (`ingress_common.remote_settings`): a value out of range is never
stored. Whether the device has the packages a value needs, only the device can tell: it
refuses such a version when it applies it, and its health report says why."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

from edge_console.fleet import FleetView
from edge_console.kafka_writer import RecordWriter
from ingress_common.fleet_records import DeviceSettings, encode_settings
from ingress_common.health import DesiredSettings
from ingress_common.remote_settings import check_remote


class SettingsWriter:
    def __init__(self, writer: RecordWriter, topic: str, fleet: FleetView) -> None:
        self._writer = writer
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
            self._writer.write(self.topic, device_id, encode_settings(record))
            self._fleet.take_settings(record)
        return record
