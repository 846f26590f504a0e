"""The operator's decisions about device keys, written to the identity topic: accept or
reject a device waiting to join, revoke one, and create join codes (only a code's hash is
stored). Join codes admit waiting devices without a click (`admit_by_codes`), as long as
the code is valid and not used up, and the device id has no decision yet (a revoked or
rejected id needs an operator).

The console is the identity topic's only writer, one change at a time: two clicks on two
consoles would each be a record, the later one winning, as compaction keeps it.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import replace

from edge_console.identities import IdentityBook
from edge_console.kafka_writer import RecordWriter
from ingress_common.device_keys import code_hash
from ingress_common.identity_records import (
    ACCEPTED,
    REJECTED,
    REVOKED,
    DeviceIdentity,
    EnrollmentRequest,
    JoinCode,
    encode_identity,
    encode_join_code,
)

MAX_CODE_TTL_S = 30 * 86400
MAX_CODE_DEVICES = 10_000


class NotWaiting(Exception):
    """No device with this id waits to join (or it was answered meanwhile)."""


class NotKnown(Exception):
    """No device with this id is known to the console."""


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class IdentityDesk:
    def __init__(self, writer: RecordWriter, book: IdentityBook, identity_topic: str,
                 enrollment_topic: str, join_codes_topic: str) -> None:
        self._writer = writer
        self.book = book
        self.identity_topic = identity_topic
        self.enrollment_topic = enrollment_topic
        self.join_codes_topic = join_codes_topic
        self._lock = threading.Lock()

    def accept(self, device_id: str, operator: str) -> DeviceIdentity:
        return self._answer(device_id, ACCEPTED, operator)

    def reject(self, device_id: str, operator: str) -> DeviceIdentity:
        return self._answer(device_id, REJECTED, operator)

    def revoke(self, device_id: str, operator: str, known: bool = False) -> DeviceIdentity:
        """Revoke the device's key (its accepted one), or, for a device that authenticates
        with an operator-signed token (`known`: the console has its reports), the id
        itself. NotKnown when neither."""
        with self._lock:
            current = self.book.identity(device_id)
            if current is None and not known:
                raise NotKnown(f"no device {device_id!r} is known")
            identity = DeviceIdentity(device_id, REVOKED, current.thumbprint if current else "",
                                      current.public_key if current else "", operator,
                                      now_ms())
            self._write_identity(identity)
            return identity

    def create_code(self, ttl_s: int, max_devices: int, operator: str) -> tuple[str, JoinCode]:
        """A new join code: (the code, shown once; its record, which holds only the hash)."""
        if not 1 <= ttl_s <= MAX_CODE_TTL_S:
            raise ValueError(f"ttl_s must be between 1 and {MAX_CODE_TTL_S}")
        if not 1 <= max_devices <= MAX_CODE_DEVICES:
            raise ValueError(f"max_devices must be between 1 and {MAX_CODE_DEVICES}")
        code = secrets.token_urlsafe(16)
        created = now_ms()
        record = JoinCode(secrets.token_hex(4), code_hash(code), operator, created,
                          created + ttl_s * 1000, max_devices)
        with self._lock:
            self._writer.write(self.join_codes_topic, record.code_id, encode_join_code(record))
            self.book.take_code(record)
        return code, record

    def admit_by_codes(self) -> list[DeviceIdentity]:
        """Accept every waiting device whose join code admits it now; what was accepted."""
        admitted = []
        for request in self.book.waiting():
            if request.join_code_hash is None or self.book.identity(request.device_id):
                continue
            code = self.book.code_for(request.join_code_hash)
            if code is None or not code.admits(request.device_id, now_ms()):
                continue
            with self._lock:
                used = replace(code, devices=(*code.devices, request.device_id)
                               if request.device_id not in code.devices else code.devices)
                self._writer.write(self.join_codes_topic, code.code_id, encode_join_code(used))
                self.book.take_code(used)
                admitted.append(self._decide(request, ACCEPTED, f"join-code:{code.code_id}"))
        return admitted

    def _answer(self, device_id: str, status: str, operator: str) -> DeviceIdentity:
        with self._lock:
            request = self.book.request(device_id)
            if request is None:
                raise NotWaiting(f"no device {device_id!r} waits to join")
            return self._decide(request, status, operator)

    def _decide(self, request: EnrollmentRequest, status: str, by: str) -> DeviceIdentity:
        identity = DeviceIdentity(request.device_id, status, request.thumbprint,
                                  json.dumps(json.loads(request.public_key), sort_keys=True),
                                  by, now_ms())
        self._write_identity(identity)
        self._writer.write(self.enrollment_topic, request.device_id, None)  # answered
        self.book.take_request(request.device_id, None)
        return identity

    def _write_identity(self, identity: DeviceIdentity) -> None:
        self._writer.write(self.identity_topic, identity.device_id, encode_identity(identity))
        self.book.take_identity(identity)
