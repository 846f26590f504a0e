"""The desired settings of the devices this gateway serves, read from the compacted
settings topic (written by edge-console), for the replies to their health reports.

A device is served once it reports. Its partition (the CRC-32 of its id, as the console
writes it) is then read from the beginning, keeping only the devices served here; the
topic is compacted, so that is one record per device of that partition at most. The
partitions followed stay assigned, and each new record for a served device replaces the
older version. Devices not seen for `idle_s`, or beyond `max_devices`, are forgotten.

Once every followed partition is read to its end the consumer is paused for `REFRESH_S`
(or until a new device needs its partition read): Tansu answers an empty fetch at once, so
a consumer that kept fetching would spin (the receipts follower rests the same way). A
change therefore reaches the gateway within REFRESH_S, and the device with its next report.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping

from edge_gateway.device_partitions import DevicePartitionFollower
from edge_gateway.kafka_logs import kafka_logger
from ingress_common.fleet_records import decode_settings
from ingress_common.health import DesiredSettings
from ingress_common.kafka_topics import follower_config

POLL_S = 0.5
REFRESH_S = 2.0


def settings_consumer_config(bootstrap_servers: str,
                             passthrough: Mapping[str, str]) -> dict[str, object]:
    return {**follower_config(bootstrap_servers, "edge-gateway-settings", 100, passthrough),
            "logger": kafka_logger("settings-follower")}


class SettingsFollower(DevicePartitionFollower):
    def __init__(self, config: dict[str, object], topic: str, max_devices: int, idle_s: float,
                 prepare: Callable[[], None] = lambda: None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__("settings-follower", config, topic, prepare, POLL_S, REFRESH_S)
        self._max_devices = max_devices
        self._idle_s = idle_s
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._desired: dict[str, DesiredSettings] = {}

    def desired_for(self, device_id: str) -> DesiredSettings | None:
        """The operator's settings for `device_id` as last read (None: none, or not read
        yet: a device's first report after it is served may come back without them)."""
        with self._guard:
            now = self._clock()
            known = self._seen.pop(device_id, None) is not None
            self._seen[device_id] = now
            self._forget_stale(now)
            if not known:
                self.ask_for(device_id)
            return self._desired.get(device_id)

    @property
    def devices(self) -> int:
        with self._guard:
            return len(self._seen)

    def served_ids(self) -> Iterable[str]:
        return list(self._seen)

    def take(self, key: str, value: bytes | None) -> None:
        with self._guard:
            if value is None or key not in self._seen:
                return
        record = decode_settings(value)
        with self._guard:
            if key in self._seen:
                self._desired[key] = record.desired

    def _forget_stale(self, now: float) -> None:
        while self._seen:
            device, seen = next(iter(self._seen.items()))
            if len(self._seen) <= self._max_devices and now - seen < self._idle_s:
                break
            self._seen.popitem(last=False)
            self._desired.pop(device, None)
