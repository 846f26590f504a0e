"""gunicorn's gthread worker with two additions an edge box needs.

- **systemd, truthfully**: READY=1 once this worker has reached Kafka (and serves), and
  WATCHDOG=1 from its main loop, so a wedged loop stops the kicks.
- **A request-header deadline.** gthread reads a request's headers on a pool thread with a
  blocking socket and no timeout, so clients that send their headers a byte at a time
  (slowloris) could hold every thread and starve /healthz and real devices. A connection
  that has not delivered complete headers `header_timeout_s` after a thread took it up is
  shut down from the main loop, which frees the thread.
- **A drain that waits for audio streams.** After a first WebSocket connection has come and
  gone, gthread's own graceful stop no longer counts the open ones (measured: SIGTERM made
  the worker exit at once and cut a live stream). So after gthread's run loop returns, the
  worker itself waits, up to the graceful timeout, until no audio stream is open; new
  connections are refused meanwhile (the listeners are closed).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

from ingress_common.refusals import HEADER_TIMEOUT
from ingress_common.sd_notify import Notifier

_LOGGER = logging.getLogger(__name__)
READY_RETRY_S = 1.0
DEFAULT_HEADER_TIMEOUT_S = 5.0
HEARTBEAT_S = 1.0
DRAIN_MARGIN_S = 1.0
"""The drain ends this long before the arbiter's SIGKILL at the graceful timeout."""


class GatewayThreadWorker(ThreadWorker):
    systemd = Notifier({})
    header_timeout_s = DEFAULT_HEADER_TIMEOUT_S

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reading_headers: dict[int, tuple[float, Any]] = {}
        self._headers_lock = threading.Lock()
        self._on_header_timeout = lambda: None
        self._stopping_at: float | None = None

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self.systemd = Notifier()
        state = self.wsgi.extensions["edge_gateway"]
        self.header_timeout_s = state.settings.header_timeout_s
        self._on_header_timeout = state.metrics.refused.labels(HEADER_TIMEOUT).inc
        threading.Thread(target=self._announce_ready, args=(state,),
                         name="systemd-ready", daemon=True).start()

    def _announce_ready(self, state: Any) -> None:
        while self.alive:
            problem = state.not_ready()
            if problem is None:
                self.systemd.ready(f"serving; Kafka topic {state.kafka.topic} reachable")
                return
            self.systemd.status(f"not ready: {problem}")
            time.sleep(READY_RETRY_S)

    def handle_exit(self, sig: Any, frame: Any) -> None:
        if self._stopping_at is None:
            self._stopping_at = time.monotonic()
        super().handle_exit(sig, frame)

    def run(self) -> None:
        super().run()
        self._drain_audio_streams()

    def _drain_audio_streams(self) -> None:
        state = getattr(self, "wsgi", None) and self.wsgi.extensions.get("edge_gateway")
        if not state:
            return
        began = self._stopping_at or time.monotonic()
        deadline = began + max(0.0, self.cfg.graceful_timeout - DRAIN_MARGIN_S)
        if state.slots.in_use:
            _LOGGER.info("draining %d open audio streams", state.slots.in_use)
        while not state.slots.wait_all_free(min(HEARTBEAT_S, max(0.0, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                break
            self.notify()  # the arbiter's heartbeat, and our watchdog, while we wait
        if state.slots.in_use:
            _LOGGER.warning("graceful timeout: %d audio streams still open are cut",
                            state.slots.in_use)
        else:
            _LOGGER.info("drained in %.1f s", time.monotonic() - began)

    def notify(self) -> None:
        """Called by the main loop at least once a second."""
        super().notify()
        self._cut_slow_headers()
        if self.systemd.ready_sent:
            self.systemd.watchdog()

    def handle(self, conn: Any) -> Any:
        with self._headers_lock:
            self._reading_headers[id(conn)] = (time.monotonic() + self.header_timeout_s, conn)
        try:
            return super().handle(conn)
        finally:
            self._headers_done(conn)

    def handle_request(self, req: Any, conn: Any) -> Any:
        self._headers_done(conn)  # complete headers: the request itself may take long (audio)
        return super().handle_request(req, conn)

    def _headers_done(self, conn: Any) -> None:
        with self._headers_lock:
            self._reading_headers.pop(id(conn), None)

    def _cut_slow_headers(self) -> None:
        now = time.monotonic()
        with self._headers_lock:
            expired = [(key, conn) for key, (deadline, conn) in self._reading_headers.items()
                       if deadline <= now]
            for key, _ in expired:
                del self._reading_headers[key]
        for _, conn in expired:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)  # the blocked read returns; thread freed
            except OSError:
                continue
            self._on_header_timeout()
            _LOGGER.warning("closed a connection without complete request headers after %g s",
                            self.header_timeout_s, extra={"client": _peer(conn.client)})


def _peer(client: Any) -> str:
    return str(client[0]) if isinstance(client, tuple) and client else str(client)
