"""The identities of the devices this gateway serves, read from the compacted identity
topic (written by edge-console), as the receipts and settings are: its cost grows with the
devices served here, never with the fleet.

A device is looked up when it connects (`lookup`). The first time, its partition (CRC-32
of its id, as the console writes it) is read from the beginning, keeping only the records
of devices served here or being looked up; the topic is compacted, so that is about one
record per device of that partition. A device with a record is then *known*: kept (at most
`max_devices`, the least recently seen forgotten first, and any not seen for `idle_s`),
its partition stays assigned, and each newer record replaces it and is handed to
`on_change` with the one it replaces (a revocation ends its open streams). A device with no
record is not kept (unless admitted by an operator's token: `keep`): it is asked for again
on its next connection (a new device retries every few seconds while it waits to be
accepted), so a flood of made-up ids costs reads, never memory.

Once every followed partition is read to its end the consumer rests for `REFRESH_S`, or
until a lookup needs a partition read: an operator's decision reaches the gateway within
REFRESH_S plus a fetch.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping

from edge_gateway.device_partitions import DevicePartitionFollower
from edge_gateway.kafka_logs import kafka_logger
from edge_gateway.limits import TokenBucket
from ingress_common.identity_records import DeviceIdentity, decode_identity
from ingress_common.kafka_topics import follower_config

POLL_S = 0.2
REFRESH_S = 1.0
"""An operator's decision (a revocation) is read within this plus a fetch."""
FETCH_WAIT_MS = 5
"""How long the broker may hold an empty fetch: short, because a connection waits for its
device's partition to be read (an offsets lookup and a fetch or two; docs/benchmarks.md,
issue 33). The follower rests, paused, between reads, so a short wait costs no spinning."""
NEW_LOOKUPS_PER_S = 20.0
NEW_LOOKUP_BURST = 40
"""Devices not served yet are read from Kafka at most this often (a burst, then a rate):
each costs a partition read, and made-up ids must not buy the gateway's CPU from the
devices it serves. Past it a new device is told to retry (it does, within a second)."""


class IdentityNotRead(Exception):
    """The device's partition could not be read in time (Kafka away or slow)."""


class TooManyNewDevices(IdentityNotRead):
    """Past `NEW_LOOKUPS_PER_S`: the device is not looked up now."""


def identity_consumer_config(bootstrap_servers: str,
                             passthrough: Mapping[str, str]) -> dict[str, object]:
    return {**follower_config(bootstrap_servers, "edge-gateway-identity", FETCH_WAIT_MS,
                              passthrough),
            "logger": kafka_logger("identity-follower")}


Changed = Callable[[DeviceIdentity | None, DeviceIdentity], None]


class IdentityFollower(DevicePartitionFollower):
    def __init__(self, config: dict[str, object], topic: str, max_devices: int, idle_s: float,
                 on_change: Changed = lambda _before, _after: None,
                 prepare: Callable[[], None] = lambda: None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__("identity-follower", config, topic, prepare, POLL_S, REFRESH_S)
        self._max_devices = max_devices
        self._idle_s = idle_s
        self._on_change = on_change
        self._clock = clock
        self._known: OrderedDict[str, tuple[DeviceIdentity | None, float]] = OrderedDict()
        """Devices served here: their record (None: admitted without one, by an operator's
        token), and when they were last seen."""
        self._asking: dict[str, int] = {}
        """Devices being looked up, with how many lookups wait for each."""
        self._reading: dict[int, int] = {}
        """Partition → the request number its current read from the beginning serves."""
        self._served: dict[int, int] = {}
        """Partition → the last request number a completed read served."""
        self._requests = 0
        self._new_lookups = TokenBucket(NEW_LOOKUPS_PER_S, NEW_LOOKUP_BURST, clock())

    # the request threads' side

    def lookup(self, device_id: str, timeout_s: float) -> DeviceIdentity | None:
        """The fleet's decision about `device_id` (None: it has none). Known devices answer
        at once; another is read from its partition first, waiting at most `timeout_s`
        (IdentityNotRead past it)."""
        deadline = self._clock() + timeout_s
        with self._guard:
            now = self._clock()
            known = self._known.pop(device_id, None)
            if known is not None:
                self._known[device_id] = (known[0], now)
                return known[0]
            if not self.ready.is_set() and not self._guard.wait_for(self.ready.is_set,
                                                                    timeout_s):
                raise IdentityNotRead("the identity topic is not readable yet")
            if not self._new_lookups.take(now):
                raise TooManyNewDevices("this gateway is reading many new devices at once")
            self._requests += 1
            ticket = self._requests
            self._asking[device_id] = self._asking.get(device_id, 0) + 1
            partition = self.ask_for(device_id)
            try:
                done = self._guard.wait_for(
                    lambda: self._served.get(partition or 0, 0) >= ticket,
                    max(0.0, deadline - self._clock()))
            finally:
                self._asking[device_id] -= 1
                if not self._asking[device_id]:
                    del self._asking[device_id]
            if not done:
                raise IdentityNotRead(f"the identity topic {self.topic} was not read in "
                                      f"{timeout_s:g} s")
            found = self._known.get(device_id)
            return None if found is None else found[0]

    def too_busy_for(self, device_id: str) -> bool:
        """Whether a lookup of `device_id` now would be refused as one new device too many
        (spends nothing)."""
        with self._guard:
            return device_id not in self._known and not self._new_lookups.could_take(
                self._clock())

    def keep(self, device_id: str) -> None:
        """Serve `device_id` though the fleet has no record of it (a device admitted by an
        operator-signed token): a record written later (a revocation) is then taken."""
        with self._guard:
            if device_id not in self._known:
                self._known[device_id] = (None, self._clock())
                self._forget_stale()

    @property
    def devices(self) -> int:
        with self._guard:
            return len(self._known)

    # the follower thread's side

    def served_ids(self) -> Iterable[str]:
        return list(self._known)

    def reading_started(self, partitions: set[int]) -> None:
        for partition in partitions:
            self._reading[partition] = self._requests

    def partition_read(self, partition: int) -> None:
        ticket = self._reading.pop(partition, None)
        if ticket is not None:
            self._served[partition] = max(self._served.get(partition, 0), ticket)
            self._guard.notify_all()

    def take(self, key: str, value: bytes | None) -> None:
        with self._guard:
            if value is None or (key not in self._known and key not in self._asking):
                return
        identity = decode_identity(value)
        with self._guard:
            before = self._known.pop(key, None)
            self._known[key] = (identity, self._clock() if before is None else before[1])
            self._forget_stale()
        if before is not None and before[0] != identity:
            self._on_change(before[0], identity)

    def _forget_stale(self) -> None:
        now = self._clock()
        while self._known:
            device, (_identity, seen) = next(iter(self._known.items()))
            if len(self._known) <= self._max_devices and now - seen < self._idle_s:
                break
            self._known.popitem(last=False)
