"""gunicorn, embedded: one gthread worker. The Kafka clients and the follower thread are
made in the worker, after the fork (librdkafka's threads do not survive one)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from edge_console.settings import ConsoleSettings
from ingress_common.gunicorn_logging import gunicorn_logconfig

THREADS = 8


def build_app(settings: ConsoleSettings) -> Flask:
    from edge_console.app import ConsoleState, create_app
    from edge_console.fleet import FleetView
    from edge_console.follower import FleetFollower
    from edge_console.kafka_status import KafkaStatus
    from edge_console.settings_writer import SettingsWriter
    from ingress_common.auth import TokenVerifier

    fleet = FleetView(settings)
    kafka = KafkaStatus(time.time_ns() // 1_000_000)
    follower = FleetFollower(settings.kafka_bootstrap_servers, settings.health_topic,
                             settings.settings_topic, fleet, kafka)
    follower.start()
    verifier = (TokenVerifier.from_file(Path(settings.auth_public_keys), settings.auth_audience,
                                        issuer=settings.auth_issuer or None)
                if settings.auth_enabled else None)
    writer = SettingsWriter(settings.kafka_bootstrap_servers, settings.settings_topic, fleet)
    return create_app(ConsoleState(settings, fleet, follower, writer, verifier, kafka))


class ConsoleServer(BaseApplication):
    def __init__(self, settings: ConsoleSettings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        options: dict[str, Any] = {
            "bind": [self.settings.bind], "workers": 1, "worker_class": "gthread",
            "threads": THREADS, "timeout": 30, "graceful_timeout": 5, "accesslog": None,
            "control_socket_disable": True, "preload_app": False,
            "logconfig_dict": gunicorn_logconfig(self.settings.log_level)}
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return build_app(self.settings)
