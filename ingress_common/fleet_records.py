"""The fleet's records in Kafka: device health and desired settings, Avro, one definition.

The gateway writes `DeviceHealth` (a received `HealthReport` and where and when it
arrived) and reads `DeviceSettings`; the console reads both and writes `DeviceSettings`.
Both topics are compacted and keyed by device id, so each keeps one record per device.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, fields
from importlib import resources
from typing import Any

import fastavro

from ingress_common.health import DesiredSettings, HealthReport, RecentUtterance

HEALTH_TOPIC = "speech.devices.health"
SETTINGS_TOPIC = "speech.devices.settings"
COMPACTED = {"cleanup.policy": "compact"}


def load_schema(name: str, last_fields_added: int = 0) -> Any:
    """The schema in `name`, without its `last_fields_added` last fields when given."""
    schema = json.loads(resources.files("ingress_common").joinpath(f"schemas/{name}").read_text())
    if last_fields_added:
        schema["fields"] = schema["fields"][:-last_fields_added]
    return fastavro.parse_schema(schema)


HEALTH_SCHEMA = load_schema("device_health.avsc")
HEALTH_SCHEMA_BEFORE_INTERVAL = load_schema("device_health.avsc", last_fields_added=1)
"""Records that gateways wrote before `health_interval_s` end where this schema ends."""
SETTINGS_SCHEMA = load_schema("device_settings.avsc")


@dataclass(frozen=True)
class DeviceHealth:
    report: HealthReport
    gateway_id: str
    received_at_ms: int

    @property
    def clock_skew_ms(self) -> int:
        """The device's clock minus the gateway's (network time included, a few ms)."""
        return self.report.sent_at_ms - self.received_at_ms


@dataclass(frozen=True)
class DeviceSettings:
    device_id: str
    desired: DesiredSettings
    changed_by: str
    changed_at_ms: int


def encode_health(health: DeviceHealth) -> bytes:
    record = {**health.report.message(), "gateway_id": health.gateway_id,
              "received_at_ms": health.received_at_ms}
    return write_record(HEALTH_SCHEMA, record)


def decode_health(value: bytes) -> DeviceHealth:
    try:
        record = fastavro.schemaless_reader(io.BytesIO(value), HEALTH_SCHEMA, HEALTH_SCHEMA)
    except EOFError:  # written before the last field was added
        record = fastavro.schemaless_reader(io.BytesIO(value), HEALTH_SCHEMA_BEFORE_INTERVAL,
                                            HEALTH_SCHEMA)
    assert isinstance(record, dict)
    recent = tuple(RecentUtterance(**r) for r in record["recent"])
    report = HealthReport(**{f.name: record[f.name] for f in fields(HealthReport)
                             if f.name != "recent"}, recent=recent)
    return DeviceHealth(report, record["gateway_id"], record["received_at_ms"])


def encode_settings(settings: DeviceSettings) -> bytes:
    return write_record(SETTINGS_SCHEMA, {"device_id": settings.device_id,
                                    "version": settings.desired.version,
                                    "values": dict(settings.desired.values),
                                    "changed_by": settings.changed_by,
                                    "changed_at_ms": settings.changed_at_ms})


def decode_settings(value: bytes) -> DeviceSettings:
    record = fastavro.schemaless_reader(io.BytesIO(value), SETTINGS_SCHEMA, SETTINGS_SCHEMA)
    assert isinstance(record, dict)
    return DeviceSettings(record["device_id"],
                          DesiredSettings(record["version"], dict(record["values"])),
                          record["changed_by"], record["changed_at_ms"])


def write_record(schema: Any, record: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, schema, record)
    return out.getvalue()


__all__ = ["COMPACTED", "DeviceHealth", "DeviceSettings", "HEALTH_TOPIC",
           "SETTINGS_TOPIC", "decode_health", "decode_settings", "encode_health",
           "encode_settings"]
