"""Admits devices that present a valid join code, without a click: a thread that looks at
the waiting list every `SWEEP_S`, once the follower has read what was decided before."""

from __future__ import annotations

import logging
import threading

from edge_console.follower import FleetFollower
from edge_console.identity_desk import IdentityDesk
from edge_console.kafka_writer import NotStored

_AUDIT = logging.getLogger("edge_console.audit")
SWEEP_S = 0.5


class JoinClerk(threading.Thread):
    def __init__(self, desk: IdentityDesk, follower: FleetFollower) -> None:
        super().__init__(name="join-clerk", daemon=True)
        self._desk = desk
        self._follower = follower
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        while not self._stopping.wait(SWEEP_S):
            if not self._follower.caught_up.is_set():
                continue
            try:
                for identity in self._desk.admit_by_codes():
                    _AUDIT.info("device accepted by join code",
                                extra={"operator": identity.changed_by,
                                       "device_id": identity.device_id,
                                       "thumbprint": identity.thumbprint})
            except NotStored as exc:
                _AUDIT.warning("join code admission not stored: %s", exc)
