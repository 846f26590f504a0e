"""The gate's decisions (the table in edge_gateway/identity/gate.py) and the enrollment
desk's bounds, over a stand-in for the identity topic (pure logic; the real topic is in
tests/integration/test_enrollment.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edge_gateway.identity.enrollment import REWRITE_S, EnrollmentDesk
from edge_gateway.identity.gate import DeviceGate
from edge_gateway.identity.open_streams import OpenStreams
from ingress_common.device_keys import DeviceKey, code_hash
from ingress_common.identity_records import (
    ACCEPTED,
    REJECTED,
    REVOKED,
    DeviceIdentity,
    decode_enrollment,
)
from ingress_common.refusals import (
    DeviceRejected,
    DeviceRevoked,
    EnrollmentBusy,
    EnrollmentPending,
    Unauthorized,
    UnknownKey,
)


class Identities:
    """The fleet's records, as the follower would read them."""

    def __init__(self) -> None:
        self.records: dict[str, DeviceIdentity] = {}
        self.busy = False
        """Reading too many new devices (the follower's rate)."""

    def too_busy_for(self, device_id: str) -> bool:
        return self.busy and device_id not in self.records

    def lookup(self, device_id: str, _timeout_s: float) -> DeviceIdentity | None:
        return self.records.get(device_id)

    def decide(self, key: DeviceKey, device_id: str, status: str) -> None:
        self.records[device_id] = DeviceIdentity(device_id, status, key.thumbprint,
                                                 json.dumps(key.jwk), "op", 0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world(tmp_path: Path) -> Any:
    written: list[tuple[str, bytes]] = []
    clock = Clock()
    identities = Identities()
    desk = EnrollmentDesk(lambda device, value: written.append((device, value)), "gw-1", 3,
                          clock=clock)
    gate = DeviceGate(None, identities, desk)  # type: ignore[arg-type]
    keys = [DeviceKey.load_or_create(tmp_path / f"k{i}") for i in range(6)]
    return gate, identities, desk, written, clock, keys


def test_an_unknown_key_asks_to_join_once_a_minute(world: Any) -> None:
    gate, _identities, _desk, written, clock, keys = world
    token = keys[0].sign_token("pi-a", {"hostname": "kitchen", "agent_version": "0.1.0",
                                        "capture_devices": ["hw:1"], "join_code": "c0de"})
    for _ in range(3):
        with pytest.raises(EnrollmentPending) as refused:
            gate.admit(token)
    assert refused.value.retryable and keys[0].thumbprint in refused.value.message
    assert len(written) == 1
    request = decode_enrollment(written[0][1])
    assert (request.device_id, request.thumbprint, request.hostname, request.capture_devices,
            request.join_code_hash) == ("pi-a", keys[0].thumbprint, "kitchen", ("hw:1",),
                                        code_hash("c0de"))
    clock.now += REWRITE_S
    with pytest.raises(EnrollmentPending):
        gate.admit(keys[0].sign_token("pi-a"))
    assert len(written) == 2 and decode_enrollment(written[1][1]).first_seen_ms == \
        request.first_seen_ms


def test_the_desk_holds_its_bound_and_writes_nothing_past_it(world: Any) -> None:
    gate, identities, desk, written, _clock, keys = world
    for i in range(3):
        with pytest.raises(EnrollmentPending):
            gate.admit(keys[i].sign_token(f"pi-{i}"))
    with pytest.raises(EnrollmentBusy):
        gate.admit(keys[3].sign_token("pi-3"))
    assert len(written) == 3 and len(desk) == 3
    identities.decide(keys[0], "pi-0", ACCEPTED)  # answered: it leaves the desk
    assert gate.admit(keys[0].sign_token("pi-0")) == "pi-0"
    with pytest.raises(EnrollmentPending):
        gate.admit(keys[3].sign_token("pi-3"))
    assert len(written) == 4


def test_past_the_new_device_rate_a_request_is_refused_before_any_work(world: Any) -> None:
    gate, identities, _desk, written, _clock, keys = world
    identities.decide(keys[0], "pi-known", ACCEPTED)
    identities.busy = True
    with pytest.raises(EnrollmentBusy):
        gate.admit(keys[1].sign_token("pi-new"))
    assert written == []
    assert gate.admit(keys[0].sign_token("pi-known")) == "pi-known"  # served: never limited


def test_the_fleets_decision_is_kept(world: Any) -> None:
    gate, identities, _desk, written, _clock, keys = world
    identities.decide(keys[0], "pi-a", ACCEPTED)
    assert gate.admit(keys[0].sign_token("pi-a")) == "pi-a"
    with pytest.raises(UnknownKey):  # a clone's key, or a forgery, for an accepted id
        gate.admit(keys[1].sign_token("pi-a"))
    assert decode_enrollment(written[-1][1]).thumbprint == keys[1].thumbprint  # a conflict shown
    identities.decide(keys[0], "pi-a", REVOKED)
    with pytest.raises(DeviceRevoked):
        gate.admit(keys[0].sign_token("pi-a"))
    with pytest.raises(EnrollmentPending):  # a new key may ask again
        gate.admit(keys[2].sign_token("pi-a"))
    identities.decide(keys[3], "pi-b", REJECTED)
    with pytest.raises(DeviceRejected):
        gate.admit(keys[3].sign_token("pi-b"))


def test_without_enrollment_a_device_key_is_refused(tmp_path: Path) -> None:
    gate = DeviceGate(None)
    assert gate.admit(DeviceKey.load_or_create(tmp_path / "k").sign_token("pi")) is None  # auth off
    with pytest.raises(Unauthorized, match="no device token"):
        DeviceGate(None, Identities(), EnrollmentDesk(lambda *_: None, "g", 1)).admit(None)  # type: ignore[arg-type]


def test_a_revocation_ends_the_devices_open_streams() -> None:
    streams = OpenStreams()
    a1, a2, b = streams.opened("pi-a"), streams.opened("pi-a"), streams.opened("pi-b")
    assert streams.end("pi-a") == 2
    assert a1.is_set() and a2.is_set() and not b.is_set()
    streams.closed("pi-a", a1)
    streams.closed("pi-a", a2)
    assert len(streams) == 1
