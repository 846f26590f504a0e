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
    from edge_console.follower import FleetFollower, values_only
    from edge_console.identities import IdentityBook
    from edge_console.identity_desk import IdentityDesk
    from edge_console.join_clerk import JoinClerk
    from edge_console.kafka_status import KafkaStatus
    from edge_console.kafka_writer import RecordWriter
    from edge_console.settings_writer import SettingsWriter
    from ingress_common.auth import TokenVerifier
    from ingress_common.fleet_records import COMPACTED, decode_health, decode_settings
    from ingress_common.identity_records import (
        decode_enrollment,
        decode_identity,
        decode_join_code,
    )
    from ingress_common.kafka_topics import ensure_topic

    fleet = FleetView(settings)
    book = IdentityBook(settings.max_devices)
    kafka = KafkaStatus(time.time_ns() // 1_000_000)

    def create_identity_topics() -> None:
        for topic in (settings.enrollment_topic, settings.identity_topic,
                      settings.join_codes_topic):
            ensure_topic(settings.kafka_bootstrap_servers, topic,
                         settings.fleet_topic_partitions, 1, COMPACTED, {}, 5.0)

    follower = FleetFollower(settings.kafka_bootstrap_servers, {
        settings.health_topic: values_only(lambda v: fleet.take_health(decode_health(v))),
        settings.settings_topic: values_only(lambda v: fleet.take_settings(decode_settings(v))),
        settings.enrollment_topic:
            lambda k, v: book.take_request(k, None if v is None else decode_enrollment(v)),
        settings.identity_topic: values_only(lambda v: book.take_identity(decode_identity(v))),
        settings.join_codes_topic: values_only(lambda v: book.take_code(decode_join_code(v))),
    }, kafka, create_identity_topics)
    follower.start()
    verifier = (TokenVerifier.from_file(Path(settings.auth_public_keys), settings.auth_audience,
                                        issuer=settings.auth_issuer or None)
                if settings.auth_enabled else None)
    writer = RecordWriter(settings.kafka_bootstrap_servers)
    desk = IdentityDesk(writer, book, settings.identity_topic, settings.enrollment_topic,
                        settings.join_codes_topic)
    JoinClerk(desk, follower).start()
    return create_app(ConsoleState(settings, fleet, follower,
                                   SettingsWriter(writer, settings.settings_topic, fleet),
                                   verifier, kafka, desk))


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
