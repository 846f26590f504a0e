"""gunicorn, embedded: one gthread worker sized to the connection cap plus headroom."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gunicorn.app.base import BaseApplication

from edge_gateway.settings import GatewaySettings
from ingress_common.gunicorn_logging import gunicorn_logconfig

if TYPE_CHECKING:
    from flask import Flask
from ingress_common.sd_notify import Notifier, hide_from_gunicorn

_LOGGER = logging.getLogger(__name__)
WORKER_HEARTBEAT_TIMEOUT_S = 30
PRODUCER_FLUSH_TIMEOUT_S = 5.0


def gunicorn_options(settings: GatewaySettings) -> dict[str, Any]:
    tls = ({"certfile": settings.tls_certfile, "keyfile": settings.tls_keyfile}
           if settings.tls_certfile else {})
    return {
        **tls,
        "bind": [settings.bind],
        "workers": 1,
        "worker_class": "edge_gateway.hosting.gthread_worker.GatewayThreadWorker",
        "threads": settings.threads,
        "worker_connections": settings.threads * 4,
        "timeout": WORKER_HEARTBEAT_TIMEOUT_S,
        "graceful_timeout": math.ceil(settings.graceful_timeout_s),
        "keepalive": 2,
        "preload_app": False,
        "accesslog": None,
        "control_socket_disable": True,
        "logconfig_dict": gunicorn_logconfig(settings.log_level),
        "worker_exit": worker_exit,
    }


def worker_exit(_server: Any, worker: Any) -> None:
    """Flush the worker's producer so queued events are not lost at shutdown."""
    Notifier().stopping()
    extensions = getattr(getattr(worker, "wsgi", None), "extensions", {})
    announcer = extensions.get("edge_gateway_announcer")
    if announcer is not None:
        announcer.stop()  # a goodbye: agents stop using this gateway at once
    state = extensions.get("edge_gateway")
    if state is not None:
        state.receipts.close()
        state.health.settings.stop()
        state.health.close()
        undelivered = state.kafka.close(timeout_s=PRODUCER_FLUSH_TIMEOUT_S)
        _LOGGER.info("worker exiting; producer flushed", extra={"undelivered": undelivered})


class GatewayServer(BaseApplication):
    """`edge-gateway serve`: gunicorn with our options; the app is built in the worker, by
    `build` when given (a seam: devkit's fault gateway builds it with a wrapped producer)."""

    def __init__(self, settings: GatewaySettings,
                 build: Callable[[GatewaySettings], Flask] | None = None) -> None:
        self.settings = settings
        self._build = build
        hide_from_gunicorn()  # the worker says READY=1 when Kafka is reachable, not the arbiter
        super().__init__()

    def load_config(self) -> None:
        for key, value in gunicorn_options(self.settings).items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        # Imported here, in the worker after fork: the arbiter never loads Flask, librdkafka
        # or fastavro, which keeps it small (it only supervises).
        if self._build is not None:
            return self._build(self.settings)
        from edge_gateway.hosting.app_factory import build_app

        return build_app(self.settings)
