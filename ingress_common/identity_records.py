"""The fleet's identity records in Kafka, Avro, one definition each (docs/security.md,
"Device identities"):

- `EnrollmentRequest` (`speech.devices.enrollment`): a device whose key the fleet does not
  know asks to join. A gateway writes it; the console reads it.
- `DeviceIdentity` (`speech.devices.identity`): the operator's decision about a device's
  key: accepted, rejected or revoked. The console writes it; gateways read it for the
  devices they serve.
- `JoinCode` (`speech.devices.join-codes`): a code that admits devices without a click,
  stored as its hash. The console writes and reads it.

All three topics are compacted and keyed (by device id, or by the code's id), so each keeps
one record per key: the newest.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from typing import Any

import fastavro

from ingress_common.fleet_records import load_schema, write_record

ENROLLMENT_TOPIC = "speech.devices.enrollment"
IDENTITY_TOPIC = "speech.devices.identity"
JOIN_CODES_TOPIC = "speech.devices.join-codes"
ACCEPTED, REJECTED, REVOKED = "accepted", "rejected", "revoked"

ENROLLMENT_SCHEMA = load_schema("device_enrollment.avsc")
IDENTITY_SCHEMA = load_schema("device_identity.avsc")
JOIN_CODE_SCHEMA = load_schema("join_code.avsc")


@dataclass(frozen=True)
class EnrollmentRequest:
    device_id: str
    thumbprint: str
    public_key: str
    """The JWK, as JSON."""
    hostname: str
    agent_version: str
    capture_devices: tuple[str, ...]
    gateway_id: str
    first_seen_ms: int
    last_seen_ms: int
    join_code_hash: str | None = None

    def view(self) -> dict[str, Any]:
        """As the console's API shows it (never the join code's hash)."""
        view = asdict(self)
        view["capture_devices"] = list(self.capture_devices)
        view["public_key"] = json.loads(self.public_key)
        view["join_code"] = self.join_code_hash is not None
        del view["join_code_hash"]
        return view


@dataclass(frozen=True)
class DeviceIdentity:
    device_id: str
    status: str
    """ACCEPTED, REJECTED or REVOKED."""
    thumbprint: str
    public_key: str
    changed_by: str
    changed_at_ms: int


@dataclass(frozen=True)
class JoinCode:
    code_id: str
    code_hash: str
    created_by: str
    created_at_ms: int
    expires_at_ms: int
    max_devices: int
    devices: tuple[str, ...] = ()

    def admits(self, device_id: str, now_ms: int) -> bool:
        """Whether the code admits `device_id` now: valid, and not used up (a device it
        admitted before is admitted again)."""
        if device_id in self.devices:
            return True
        return now_ms < self.expires_at_ms and len(self.devices) < self.max_devices

    def view(self) -> dict[str, Any]:
        view = asdict(self)
        del view["code_hash"]
        view["devices"] = list(self.devices)
        return view


def encode_enrollment(request: EnrollmentRequest) -> bytes:
    record = asdict(request)
    record["capture_devices"] = list(request.capture_devices)
    return write_record(ENROLLMENT_SCHEMA, record)


def decode_enrollment(value: bytes) -> EnrollmentRequest:
    record = _read(ENROLLMENT_SCHEMA, value)
    record["capture_devices"] = tuple(record["capture_devices"])
    return EnrollmentRequest(**record)


def encode_identity(identity: DeviceIdentity) -> bytes:
    return write_record(IDENTITY_SCHEMA, asdict(identity))


def decode_identity(value: bytes) -> DeviceIdentity:
    return DeviceIdentity(**_read(IDENTITY_SCHEMA, value))


def encode_join_code(code: JoinCode) -> bytes:
    record = asdict(code)
    record["devices"] = list(code.devices)
    return write_record(JOIN_CODE_SCHEMA, record)


def decode_join_code(value: bytes) -> JoinCode:
    record = _read(JOIN_CODE_SCHEMA, value)
    record["devices"] = tuple(record["devices"])
    return JoinCode(**record)


def _read(schema: Any, value: bytes) -> dict[str, Any]:
    record = fastavro.schemaless_reader(io.BytesIO(value), schema, schema)
    assert isinstance(record, dict)
    return record
