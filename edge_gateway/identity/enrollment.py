"""The enrollment desk: a device whose key the fleet does not know asks to join, and the
gateway writes its request to the enrollment topic for an operator (or a join code) to
answer.

Bounded twice, so that a flood of made-up devices costs a fixed amount:
- one request per device id per `REWRITE_S` (its `last_seen_ms` moves on once a minute);
- at most `max_pending` devices with an unanswered request at this gateway. A request past
  it writes nothing and is refused (`enrollment_busy`, retryable). A device leaves the desk
  when the fleet answers (accepted, rejected) or when it has not asked for `PENDING_TTL_S`.

Writing does not wait for Kafka: the device asks again in a few seconds anyway, and the
request is a state (the newest one per device is the one that counts).
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from ingress_common.device_keys import SelfSigned, code_hash
from ingress_common.identity_records import EnrollmentRequest, encode_enrollment
from ingress_common.refusals import EnrollmentBusy

REWRITE_S = 60.0
"""One request per device per minute."""
PENDING_TTL_S = 600.0
"""A device that stopped asking this long ago no longer counts against the bound."""


@dataclass
class _Pending:
    first_seen_ms: int
    written_at: float


class EnrollmentDesk:
    def __init__(self, write: Callable[[str, bytes], None], gateway_id: str, max_pending: int,
                 clock: Callable[[], float] = time.monotonic,
                 wall_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000) -> None:
        """`write(device_id, value)` queues a record for the enrollment topic."""
        self._write = write
        self._gateway_id = gateway_id
        self.max_pending = max_pending
        self._clock = clock
        self._wall_ms = wall_ms
        self._pending: OrderedDict[str, _Pending] = OrderedDict()
        self._lock = threading.Lock()
        self.written = 0
        self.refused = 0

    def ask(self, device: SelfSigned) -> None:
        """The device asks to join: write its request unless one was written in the last
        minute. EnrollmentBusy (nothing written) when the desk is full."""
        now = self._clock()
        with self._lock:
            self._expire(now)
            pending = self._pending.get(device.device_id)
            if pending is not None and now - pending.written_at < REWRITE_S:
                return
            if pending is None and len(self._pending) >= self.max_pending:
                self.refused += 1
                raise EnrollmentBusy(f"this gateway holds {self.max_pending} unanswered "
                                     "enrollment requests already; nothing was written, "
                                     "retry later")
            wall = self._wall_ms()
            first_seen = wall if pending is None else pending.first_seen_ms
            self._pending.pop(device.device_id, None)
            self._pending[device.device_id] = _Pending(first_seen, now)
            self.written += 1
        join_code = device.claim("join_code")
        request = EnrollmentRequest(
            device.device_id, device.thumbprint, json.dumps(device.jwk, sort_keys=True),
            device.claim("hostname"), device.claim("agent_version"),
            tuple(device.claim_list("capture_devices")), self._gateway_id, first_seen, wall,
            code_hash(join_code) if join_code else None)
        self._write(device.device_id, encode_enrollment(request))

    def answered(self, device_id: str) -> None:
        """The fleet decided about the device: it no longer waits here."""
        with self._lock:
            self._pending.pop(device_id, None)

    def __len__(self) -> int:
        with self._lock:
            self._expire(self._clock())
            return len(self._pending)

    def _expire(self, now: float) -> None:
        while self._pending:
            device_id, pending = next(iter(self._pending.items()))
            if now - pending.written_at < PENDING_TTL_S:
                break
            del self._pending[device_id]
