"""The devices this gateway serves: the only ones whose receipts it reads and keeps.

A device is *learned* the first time one of its segments reaches this gateway: its receipts
partition is read from the window's start, and its records from then on are kept. A device
not seen for `idle_s`, or the least recently seen one when more than `max_devices` are
served, is dropped: its entries leave the book, and if it comes back it is learned again (a
read of Kafka, never a guess). Pure bookkeeping: the follower thread does the reading.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class DeviceLimits:
    max_devices: int = 100
    """Devices served at once; past it the least recently seen one is dropped."""
    idle_s: float = 3600.0
    """A device not seen for this long is dropped (learned again if it comes back)."""


@dataclass
class ServedDevice:
    device_id: str
    partition: int
    last_seen: float
    learned: threading.Event = field(default_factory=threading.Event)
    """Set once its history is in the book."""


class ServedDevices:
    def __init__(self, limits: DeviceLimits,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._devices: dict[str, ServedDevice] = {}
        self._waiting: list[ServedDevice] = []
        """Seen, not yet being learned: the follower takes them (`take_waiting`)."""
        self._lock = threading.Lock()

    def see(self, device_id: str, partition: int) -> tuple[ServedDevice, bool]:
        """The device, seen now; True when it is new here (the follower must learn it)."""
        with self._lock:
            device = self._devices.get(device_id)
            if device is not None:
                device.last_seen = self._clock()
                return device, False
            device = ServedDevice(device_id, partition, self._clock())
            self._devices[device_id] = device
            self._waiting.append(device)
            return device, True

    def take_waiting(self) -> list[ServedDevice]:
        with self._lock:
            waiting, self._waiting = self._waiting, []
            return waiting

    def put_back(self, devices: list[ServedDevice]) -> None:
        """Devices the follower could not start learning yet (their partition is busy)."""
        with self._lock:
            self._waiting = [*devices, *self._waiting]

    def relearn_all(self, partition_of: Callable[[str], int]) -> None:
        """Every served device is to be learned again (a new consumer has nothing), in the
        partition `partition_of` now gives it (the topic may have changed)."""
        with self._lock:
            for device in self._devices.values():
                device.learned.clear()
                device.partition = partition_of(device.device_id)
            self._waiting = list(self._devices.values())

    def served(self, device_id: str) -> bool:
        with self._lock:
            return device_id in self._devices

    def to_drop(self) -> list[ServedDevice]:
        """Learned devices idle too long, then the least recently seen past the bound;
        removed from the served set (the caller forgets their entries)."""
        with self._lock:
            learned = sorted((d for d in self._devices.values() if d.learned.is_set()),
                             key=lambda d: d.last_seen)
            idle_before = self._clock() - self.limits.idle_s
            excess = len(self._devices) - self.limits.max_devices
            dropped = [d for i, d in enumerate(learned) if d.last_seen < idle_before or i < excess]
            for device in dropped:
                del self._devices[device.device_id]
            return dropped

    def partitions(self) -> set[int]:
        with self._lock:
            return {d.partition for d in self._devices.values()}

    def __len__(self) -> int:
        with self._lock:
            return len(self._devices)
