"""What the console knows of the fleet's identities: the devices waiting to join, the
fleet's decision about each device's key, and the join codes. Pure (no Kafka, no clock).

Bounded like the fleet view: at most `max_devices` requests and decisions are kept (the
console is the operator's view of the whole fleet, so it grows with it, not the gateways).
A request is *waiting* while the fleet has no decision about its key; a request for an id
accepted with another key is a *conflict* (a cloned or forged key), shown, never swapped in.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from ingress_common.identity_records import (
    ACCEPTED,
    DeviceIdentity,
    EnrollmentRequest,
    JoinCode,
)


class IdentityBook:
    def __init__(self, max_devices: int) -> None:
        self.max_devices = max_devices
        self._lock = threading.Lock()
        self._requests: OrderedDict[str, EnrollmentRequest] = OrderedDict()
        self._identities: OrderedDict[str, DeviceIdentity] = OrderedDict()
        self._codes: dict[str, JoinCode] = {}

    def take_request(self, device_id: str, request: EnrollmentRequest | None) -> None:
        """A request, or None: its tombstone (answered)."""
        with self._lock:
            self._requests.pop(device_id, None)
            if request is not None:
                self._requests[device_id] = request
                _bound(self._requests, self.max_devices)

    def take_identity(self, identity: DeviceIdentity) -> None:
        with self._lock:
            self._identities.pop(identity.device_id, None)
            self._identities[identity.device_id] = identity
            _bound(self._identities, self.max_devices)

    def take_code(self, code: JoinCode) -> None:
        with self._lock:
            self._codes[code.code_id] = code

    def identity(self, device_id: str) -> DeviceIdentity | None:
        with self._lock:
            return self._identities.get(device_id)

    def request(self, device_id: str) -> EnrollmentRequest | None:
        with self._lock:
            request = self._requests.get(device_id)
            return request if request is not None and self._waiting(request) else None

    def waiting(self) -> list[EnrollmentRequest]:
        """The requests the fleet has not answered, oldest first."""
        with self._lock:
            waiting = [r for r in self._requests.values() if self._waiting(r)]
        return sorted(waiting, key=lambda r: r.first_seen_ms)

    def enrollments_view(self) -> list[dict[str, Any]]:
        """`waiting()` as the API shows it, each with whether it is a conflict."""
        views = []
        for request in self.waiting():
            known = self.identity(request.device_id)
            conflict = known is not None and known.status == ACCEPTED
            views.append({**request.view(), "conflict": conflict,
                          "accepted_thumbprint": known.thumbprint if known and conflict
                          else None})
        return views

    def codes(self) -> list[JoinCode]:
        with self._lock:
            return sorted(self._codes.values(), key=lambda c: c.created_at_ms)

    def code_for(self, code_hash: str) -> JoinCode | None:
        with self._lock:
            return next((c for c in self._codes.values() if c.code_hash == code_hash), None)

    def statuses(self) -> dict[str, str]:
        """Each device's identity status, by id."""
        with self._lock:
            return {device: identity.status for device, identity in self._identities.items()}

    def _waiting(self, request: EnrollmentRequest) -> bool:
        known = self._identities.get(request.device_id)
        return known is None or known.thumbprint != request.thumbprint


def _bound(items: OrderedDict[str, Any], most: int) -> None:
    while len(items) > most:
        items.popitem(last=False)
