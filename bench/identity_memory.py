"""Memory of the gateway's identity state (issue 33): bytes per device served and per
pending enrollment request.

    .venv/bin/python -m bench.identity_memory --devices 1000

Fills the identity follower's book of served devices (as records read from the identity
topic) and the enrollment desk (as devices asking to join), and measures each with
tracemalloc. No Kafka: the records are decoded from bytes as the follower decodes them.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tracemalloc
from collections.abc import Callable

from edge_gateway.identity.enrollment import EnrollmentDesk
from edge_gateway.identity.follower import IdentityFollower
from ingress_common.device_keys import DeviceKey, SelfSigned
from ingress_common.identity_records import ACCEPTED, DeviceIdentity, encode_identity


def measured(build: Callable[[], object]) -> tuple[object, int]:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    built = build()
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    return built, sum(s.size_diff for s in after.compare_to(before, "filename"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=1000)
    args = parser.parse_args()
    keys = [DeviceKey.from_seed(os.urandom(32)) for _ in range(args.devices)]
    ids = [f"kitchen-pi-{d:05d}" for d in range(args.devices)]
    values = [encode_identity(DeviceIdentity(i, ACCEPTED, k.thumbprint, json.dumps(k.jwk),
                                             "alice@example.org", 1_796_000_000_000))
              for i, k in zip(ids, keys, strict=True)]

    def served() -> IdentityFollower:
        follower = IdentityFollower({}, "speech.devices.identity", args.devices + 1, 1e9)
        for device, value in zip(ids, values, strict=True):
            follower.keep(device)
            follower.take(device, value)  # as the follower thread takes it
        return follower

    asking = [SelfSigned(i, k.thumbprint, k.jwk, {"hostname": "kitchen", "agent_version":
                                                  "0.1.0", "capture_devices": ["alsa:hw:1"]})
              for i, k in zip(ids, keys, strict=True)]

    def desk() -> EnrollmentDesk:
        pending = EnrollmentDesk(lambda _device, _value: None, "gw-1:8000", args.devices + 1)
        for device in asking:
            pending.ask(device)
        return pending

    follower, served_bytes = measured(served)
    assert isinstance(follower, IdentityFollower) and follower.devices == args.devices
    _, desk_bytes = measured(desk)
    print(f"| per device served (its identity) | {served_bytes / args.devices:.0f} bytes |")
    print(f"| per pending enrollment request | {desk_bytes / args.devices:.0f} bytes |")
    print(f"({args.devices} devices; tracemalloc, Python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
