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

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from edge_gateway.kafka_logs import kafka_logger
from ingress_common.fleet_records import decode_settings
from ingress_common.health import DesiredSettings
from ingress_common.kafka_topics import follower_config, partition_count, partition_for
from ingress_common.log_throttle import throttled_logger

_LOGGER = throttled_logger(__name__)
POLL_S = 0.5
RETRY_S = 1.0
REFRESH_S = 2.0


def settings_consumer_config(bootstrap_servers: str,
                             passthrough: Mapping[str, str]) -> dict[str, object]:
    return {**follower_config(bootstrap_servers, "edge-gateway-settings", 100, passthrough),
            "logger": kafka_logger("settings-follower")}


class SettingsFollower(threading.Thread):
    def __init__(self, config: dict[str, object], topic: str, max_devices: int, idle_s: float,
                 prepare: Callable[[], None] = lambda: None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(name="settings-follower", daemon=True)
        self._config = config
        self.topic = topic
        self._max_devices = max_devices
        self._idle_s = idle_s
        self._prepare = prepare
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._desired: dict[str, DesiredSettings] = {}
        self._partitions = 0
        self._followed: set[int] = set()
        self._reread: set[int] = set()
        self._at_end: set[int] = set()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self.ready = threading.Event()
        self.rounds = 0
        """Times every followed partition was read to its end."""

    def desired_for(self, device_id: str) -> DesiredSettings | None:
        """The operator's settings for `device_id` as last read (None: none, or not read
        yet: a device's first report after it is served may come back without them)."""
        with self._lock:
            now = self._clock()
            known = self._seen.pop(device_id, None) is not None
            self._seen[device_id] = now
            self._forget_stale(now)
            if not known and self._partitions:
                self._reread.add(partition_for(device_id, self._partitions) or 0)
                self._wake.set()
            return self._desired.get(device_id)

    @property
    def devices(self) -> int:
        with self._lock:
            return len(self._seen)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def run(self) -> None:
        consumer = None
        while not self._stopping.is_set():
            try:
                if consumer is None:
                    self._prepare()
                    consumer = Consumer(self._config)
                    self._learn_partitions(consumer)
                self._follow(consumer)
            except KafkaException as exc:
                _LOGGER.warning("settings topic %s: %s; retrying", self.topic, exc)
                self._stopping.wait(RETRY_S)
        if consumer is not None:
            consumer.close()

    def _learn_partitions(self, consumer: Consumer) -> None:
        count = partition_count(consumer, self.topic, 10)
        with self._lock:
            self._partitions = count
            self._reread |= {partition_for(d, self._partitions) or 0 for d in self._seen}
        self.ready.set()

    def _follow(self, consumer: Consumer) -> None:
        with self._lock:
            reread, self._reread = self._reread, set()
        if reread:
            self._reassign(consumer, reread)
        if not self._followed:
            self._wake.wait(POLL_S)
            self._wake.clear()
            return
        msg = consumer.poll(POLL_S)
        if msg is None:
            return
        error = msg.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                self._at_end.add(msg.partition() or 0)
                if self._at_end >= self._followed:
                    self._rest(consumer)
            else:  # a broker away answers at once: do not spin on its errors
                _LOGGER.warning("settings topic %s: %s", self.topic, error.str())
                self._stopping.wait(RETRY_S)
            return
        self._at_end.discard(msg.partition() or 0)
        value = msg.value()
        key = (msg.key() or b"").decode(errors="replace")
        with self._lock:
            if value is None or key not in self._seen:
                return
        record = decode_settings(value)
        with self._lock:
            if key in self._seen:
                self._desired[key] = record.desired

    def _rest(self, consumer: Consumer) -> None:
        """Everything read: pause until REFRESH_S passed or a device needs its partition."""
        self.rounds += 1
        assignment = consumer.assignment()
        consumer.pause(assignment)
        self._wake.wait(REFRESH_S)
        self._wake.clear()
        self._at_end.clear()
        consumer.resume(assignment)
        consumer.list_topics(self.topic, timeout=2)  # wakes the broker thread at once

    def _reassign(self, consumer: Consumer, reread: set[int]) -> None:
        """Read `reread` from the beginning; the others go on from where they are."""
        kept = [TopicPartition(self.topic, p) for p in sorted(self._followed - reread)]
        positions = consumer.position(kept) if kept else []
        self._followed |= reread
        self._at_end -= reread
        consumer.assign([*positions, *(TopicPartition(self.topic, p, OFFSET_BEGINNING)
                                       for p in sorted(reread))])

    def _forget_stale(self, now: float) -> None:
        while self._seen:
            device, seen = next(iter(self._seen.items()))
            if len(self._seen) <= self._max_devices and now - seen < self._idle_s:
                break
            self._seen.popitem(last=False)
            self._desired.pop(device, None)
