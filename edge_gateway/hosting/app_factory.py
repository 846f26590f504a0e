"""Builds one worker's application: Kafka producer first (warmed), then the Flask app.

Runs inside the gunicorn worker after fork: librdkafka's threads do not survive a fork,
so the producer must never be created in the arbiter (do not use --preload).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from flask import Flask

from edge_gateway.app import create_app
from edge_gateway.fleet.health_intake import HealthIntake
from edge_gateway.fleet.report_rate import ReportRate
from edge_gateway.fleet.settings_follower import SettingsFollower, settings_consumer_config
from edge_gateway.hosting import compiled_unmask
from edge_gateway.hosting.announce import Announcer, should_announce
from edge_gateway.hosting.inline_websocket import InlineReading
from edge_gateway.identity.enrollment import EnrollmentDesk
from edge_gateway.identity.follower import IdentityFollower, identity_consumer_config
from edge_gateway.identity.gate import DeviceGate
from edge_gateway.identity.open_streams import OpenStreams
from edge_gateway.kafka_logs import kafka_logger
from edge_gateway.publisher import HEADROOM_BYTES, KafkaPublisher, producer_config
from edge_gateway.receipts.ledger import RecordProducer
from edge_gateway.receipts.service import ReceiptService
from edge_gateway.schema_registration import SchemaRegistration, SchemaUnregistered
from edge_gateway.settings import GatewaySettings, load_verifier
from ingress_common.audio_event import AVRO_OVERHEAD_BYTES
from ingress_common.fleet_records import COMPACTED
from ingress_common.framing import Framing
from ingress_common.health import MAX_REPORT_BYTES
from ingress_common.identity_records import ACCEPTED, DeviceIdentity
from ingress_common.kafka_topics import ensure_topic
from ingress_common.wav import WAV_HEADER_BYTES

_LOGGER = logging.getLogger(__name__)
STARTUP_RETRY_S = 0.5
_UNTIL_REGISTERED = {
    Framing.SCHEMALESS: "events are still written schemaless",
    Framing.CONFLUENT: "audio is refused as retryable until it is (/readyz says why)",
}


def max_event_bytes(settings: GatewaySettings) -> int:
    return settings.max_buffer_bytes + WAV_HEADER_BYTES + AVRO_OVERHEAD_BYTES


def build_app(settings: GatewaySettings,
              ledger_producer: Callable[[KafkaPublisher], RecordProducer] | None = None) -> Flask:
    """`ledger_producer` wraps the producer where the receipts ledger writes (a seam for
    devkit's fault gateway); by default the ledger uses the producer itself."""
    event_bytes = max_event_bytes(settings)
    if settings.kafka_create_topic:
        created = ensure_topic(settings.kafka_bootstrap_servers, settings.kafka_topic,
                               settings.kafka_topic_partitions, settings.kafka_topic_replication,
                               {"max.message.bytes": str(event_bytes + HEADROOM_BYTES)},
                               settings.kafka_config, settings.kafka_startup_timeout_s,
                               kafka_logger("admin"))
        _LOGGER.info("topic %s %s", settings.kafka_topic, "created" if created else "exists")
    kafka = KafkaPublisher(
        producer_config(settings.kafka_bootstrap_servers, event_bytes,
                        settings.publish_timeout_s, settings.kafka_config),
        settings.kafka_topic, settings.publish_timeout_s)
    if not compiled_unmask.AVAILABLE:
        _LOGGER.warning("websockets' C speedups are missing or wsproto's decoder has moved: "
                        "frames are unmasked in Python")
    kafka_ready = warm_up(kafka, settings.kafka_startup_timeout_s)
    receipts = ReceiptService(settings, kafka,
                              ledger_producer(kafka) if ledger_producer is not None else None)
    receipts.start()
    # With Kafka away, do not wait for the receipts too: /readyz and systemd say why.
    if kafka_ready and not receipts.follower.caught_up.wait(settings.kafka_startup_timeout_s):
        _LOGGER.warning("receipts not read at start-up; /readyz reports it")
    fleet_kafka = fleet_publisher(settings)
    open_streams = OpenStreams()
    app = create_app(settings, kafka, receipts,
                     build_health_intake(settings, fleet_kafka, kafka_ready),
                     build_gate(settings, fleet_kafka, open_streams, kafka_ready),
                     register_schema(settings), open_streams)
    if should_announce(settings):
        announcer = Announcer(settings)
        announcer.start()
        app.extensions["edge_gateway_announcer"] = announcer
    # No reader thread: frames are read and parsed in the connection's own thread. Set here,
    # by the hosting, so that the app never imports the hosting (one direction).
    app.config["SOCK_SERVER_OPTIONS"]["thread_class"] = InlineReading
    return app


def fleet_publisher(settings: GatewaySettings) -> KafkaPublisher:
    """The producer of the fleet's small records (health reports, enrollment requests).
    Its own, not idempotent: these never share a queue, a producer id or an outage's
    recovery with the audio (a broker restarted empty left reports waiting for a topic it
    no longer had, and the audio producer could not recover behind them)."""
    config = {**producer_config(settings.kafka_bootstrap_servers, MAX_REPORT_BYTES,
                                settings.publish_timeout_s, settings.kafka_config),
              "enable.idempotence": False}
    return KafkaPublisher(config, settings.health_topic, settings.publish_timeout_s)


def build_gate(settings: GatewaySettings, fleet_kafka: KafkaPublisher,
               open_streams: OpenStreams, wait_ready: bool = True) -> DeviceGate:
    """Device authentication: the operator's keys, and with GATEWAY_ENROLLMENT=on the
    devices' own keys, the identity follower and the enrollment desk (both topics created,
    compacted, when missing). A revocation read by the follower ends the device's streams."""
    verifier = load_verifier(settings)
    if not settings.enrollment:
        return DeviceGate(verifier)

    def prepare() -> None:
        _ensure_compacted(settings, settings.enrollment_topic, settings.identity_topic)

    def changed(before: DeviceIdentity | None, identity: DeviceIdentity) -> None:
        """A revoked or rejected device, or another key accepted in place of the one that
        streams: its open streams end."""
        if identity.status != ACCEPTED or (before is not None
                                           and identity.thumbprint != before.thumbprint):
            ended = open_streams.end(identity.device_id)
            _LOGGER.info("device %s %s; %d open streams ended", identity.device_id,
                         identity.status, ended)

    identities = IdentityFollower(
        identity_consumer_config(settings.kafka_bootstrap_servers, settings.kafka_config),
        settings.identity_topic, settings.max_devices, settings.device_idle_s, changed, prepare)
    identities.start()
    if wait_ready and not identities.ready.wait(settings.kafka_startup_timeout_s):
        _LOGGER.warning("identity topic %s not read at start-up; devices with their own key "
                        "are refused as retryable until it is", settings.identity_topic)

    def write(device_id: str, value: bytes) -> None:
        fleet_kafka.send(value, device_id, {}, topic=settings.enrollment_topic)
    desk = EnrollmentDesk(write, settings.resolved_gateway_id, settings.max_pending_enrollments)
    return DeviceGate(verifier, identities, desk)


def _ensure_compacted(settings: GatewaySettings, *topics: str) -> None:
    for topic in topics:
        if ensure_topic(settings.kafka_bootstrap_servers, topic,
                        settings.fleet_topic_partitions, settings.kafka_topic_replication,
                        COMPACTED, settings.kafka_config, settings.kafka_startup_timeout_s,
                        kafka_logger("admin")):
            _LOGGER.info("fleet topic %s created", topic)


def build_health_intake(settings: GatewaySettings, reports: KafkaPublisher,
                        wait_ready: bool = True) -> HealthIntake:
    """The health reports' way in (written with `reports`, the fleet's producer), and the
    follower of the settings topic behind it (both topics created, compacted, when
    missing)."""
    def prepare() -> None:
        _ensure_compacted(settings, settings.health_topic, settings.settings_topic)
    follower = SettingsFollower(
        settings_consumer_config(settings.kafka_bootstrap_servers, settings.kafka_config),
        settings.settings_topic, settings.max_devices, settings.device_idle_s, prepare)
    follower.start()
    # Ready before serving, like the receipts (not when Kafka is away: /readyz says why).
    if wait_ready and not follower.ready.wait(settings.kafka_startup_timeout_s):
        _LOGGER.warning("settings topic %s not read at start-up; devices get their settings "
                        "once it is", settings.settings_topic)
    rate = ReportRate(settings.health_min_interval_s, settings.health_burst, settings.max_devices)
    return HealthIntake(reports, settings.health_topic, settings.resolved_gateway_id, rate,
                        follower)


def register_schema(settings: GatewaySettings) -> SchemaRegistration | None:
    """With a registry URL, register the event schema under the topic's value subject, as
    the seeds' gateway does, whatever the framing. Only confluent framing needs it to
    succeed: until it does, /readyz says why and audio is refused as retryable."""
    if not settings.schema_registry_url:
        return None
    registration = SchemaRegistration(settings.schema_registry_url, settings.kafka_topic)
    deadline = time.monotonic() + settings.kafka_startup_timeout_s
    while True:
        try:
            schema_id = registration.register()
        except SchemaUnregistered as exc:
            if time.monotonic() + STARTUP_RETRY_S < deadline:
                time.sleep(STARTUP_RETRY_S)
                continue
            _LOGGER.warning("event schema not registered under %s at start-up: %s; %s",
                            exc.subject, exc.reason, _UNTIL_REGISTERED[settings.event_framing])
            return registration
        _LOGGER.info("event schema registered under %s (schema id %d); events are framed %s",
                     registration.subject, schema_id, settings.event_framing)
        return registration


def warm_up(kafka: KafkaPublisher, timeout_s: float) -> bool:
    """Connect and fetch metadata before serving, so the first publish is not slow."""
    deadline = time.monotonic() + timeout_s
    problem: str | None = "not checked"
    while problem and time.monotonic() < deadline:
        problem = kafka.check_ready(max(0.1, min(2.0, deadline - time.monotonic())))
        if problem:
            time.sleep(STARTUP_RETRY_S)
    if problem:
        _LOGGER.warning("Kafka not ready at start-up: %s; /readyz reports it", problem)
        return False
    _LOGGER.info("Kafka ready", extra={"topic": kafka.topic})
    return True
