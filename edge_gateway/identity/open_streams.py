"""The audio streams open in this worker, by device: a revocation ends them.

Each authenticated stream registers a flag when it opens; `end(device_id)` sets the flags
of that device's streams, and each stream checks its flag between messages (at least every
`CHECK_S`) and once more before it publishes, then ends with `revoked`, publishing nothing
of its unfinished segment.
"""

from __future__ import annotations

import threading
from collections import defaultdict

CHECK_S = 0.5
"""The longest a stream waits for its next message before it looks at its flag."""


class OpenStreams:
    def __init__(self) -> None:
        self._by_device: defaultdict[str, set[threading.Event]] = defaultdict(set)
        self._lock = threading.Lock()

    def opened(self, device_id: str) -> threading.Event:
        """The flag of a stream of `device_id` that opens now; `closed` it at its end."""
        flag = threading.Event()
        with self._lock:
            self._by_device[device_id].add(flag)
        return flag

    def closed(self, device_id: str, flag: threading.Event) -> None:
        with self._lock:
            flags = self._by_device.get(device_id)
            if flags is not None:
                flags.discard(flag)
                if not flags:
                    del self._by_device[device_id]

    def end(self, device_id: str) -> int:
        """End every open stream of `device_id`; how many there were."""
        with self._lock:
            flags = list(self._by_device.get(device_id, ()))
        for flag in flags:
            flag.set()
        return len(flags)

    def __len__(self) -> int:
        with self._lock:
            return sum(len(flags) for flags in self._by_device.values())
