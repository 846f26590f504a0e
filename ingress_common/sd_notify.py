"""systemd's notify protocol with the stdlib: READY=1, WATCHDOG=1, STATUS=, STOPPING=1.

A datagram to the AF_UNIX socket named by $NOTIFY_SOCKET (a leading "@" means the abstract
namespace). Without that variable every call is a no-op, so the same code runs outside
systemd. The watchdog is kicked only by the loop whose liveness it proves, and at most every
half of $WATCHDOG_USEC.

gunicorn's arbiter sends READY=1 as soon as it has bound its socket, before the worker has
reached Kafka. `hide_from_gunicorn()` moves $NOTIFY_SOCKET to $INGRESS_NOTIFY_SOCKET before the
arbiter starts, so only the worker, once it is really ready, speaks (NotifyAccess=all).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Mapping

NOTIFY_SOCKET = "NOTIFY_SOCKET"
HIDDEN_NOTIFY_SOCKET = "INGRESS_NOTIFY_SOCKET"


def hide_from_gunicorn(environ: dict[str, str] | None = None) -> None:
    env = os.environ if environ is None else environ
    if NOTIFY_SOCKET in env:
        env[HIDDEN_NOTIFY_SOCKET] = env.pop(NOTIFY_SOCKET)


class Notifier:
    def __init__(self, environ: Mapping[str, str] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        env = os.environ if environ is None else environ
        address = env.get(NOTIFY_SOCKET) or env.get(HIDDEN_NOTIFY_SOCKET) or ""
        self._address = "\0" + address[1:] if address.startswith("@") else address
        usec = env.get("WATCHDOG_USEC", "")
        self.watchdog_interval_s = int(usec) / 1e6 if usec.isdigit() and int(usec) > 0 else None
        self._clock = clock
        self._last_kick = -float("inf")
        self._lock = threading.Lock()
        self.ready_sent = False

    @property
    def enabled(self) -> bool:
        return bool(self._address)

    def ready(self, status: str = "") -> None:
        self._send("READY=1" + (f"\nSTATUS={status}" if status else ""))
        self.ready_sent = True

    def status(self, text: str) -> None:
        self._send(f"STATUS={text}")

    def stopping(self) -> None:
        self._send("STOPPING=1")

    def watchdog(self) -> bool:
        """Kick the watchdog if it is enabled and half its interval has passed; True if sent."""
        if self.watchdog_interval_s is None or not self.enabled:
            return False
        now = self._clock()
        with self._lock:
            if now - self._last_kick < self.watchdog_interval_s / 2:
                return False
            self._last_kick = now
        self._send("WATCHDOG=1")
        return True

    def _send(self, message: str) -> None:
        if not self._address:
            return
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            try:
                sock.connect(self._address)
                sock.sendall(message.encode())
            except OSError:
                pass  # systemd gone (shutdown); nothing useful to do
