"""Gateway settings: read once from defaults < config file < environment < CLI flags.

Every setting is declared once in `SETTINGS` with its environment variable, type, bounds
and help text; the README's configuration table is printed from it
(`edge-gateway settings --markdown`). A bad value raises `ConfigError` naming the setting.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_gateway.limits import StreamLimits
from ingress_common import config
from ingress_common.auth import DEVICE_AUDIENCE
from ingress_common.fleet_records import HEALTH_TOPIC, SETTINGS_TOPIC
from ingress_common.framing import Framing
from ingress_common.identity_records import ENROLLMENT_TOPIC, IDENTITY_TOPIC

if TYPE_CHECKING:
    from ingress_common.auth import TokenVerifier
from ingress_common.config import (
    ConfigError,
    Setting,
    at_least,
    between,
    boolean,
    comma_list,
    load,
    log_level,
    one_of,
    positive,
    read_toml,
)

_LIMITS = StreamLimits()
"""The stream limits' defaults, defined once in limits.py."""
DEFAULT_TOPIC = "speech.audio.ingress"
DEFAULT_RECEIPTS_TOPIC = "speech.audio.ingress.receipts"
KAFKA_PASSTHROUGH_ENV_PREFIX = "KAFKA_CONFIG_"
PROTECTED_KAFKA_KEYS = frozenset({
    "bootstrap.servers", "acks", "enable.idempotence", "message.max.bytes",
    "message.timeout.ms", "on_delivery", "error_cb",
})
"""librdkafka keys the gateway owns; a passthrough may not override them."""


@dataclass(frozen=True)
class GatewaySettings:
    bind: str = "127.0.0.1:8000"
    max_connections: int = 10
    extra_threads: int = 4
    max_buffer_bytes: int = _LIMITS.max_buffer_bytes
    max_frame_bytes: int = _LIMITS.max_frame_bytes
    idle_timeout_s: float = _LIMITS.idle_timeout_s
    session_timeout_s: float = _LIMITS.session_timeout_s
    max_messages_per_s: float = _LIMITS.max_messages_per_s
    message_burst: int = _LIMITS.message_burst
    ack_every_frames: int = _LIMITS.ack_every_frames
    allowed_origins: tuple[str, ...] = ()
    publish_timeout_s: float = 10.0
    graceful_timeout_s: float = 30.0
    header_timeout_s: float = 5.0
    log_level: str = "INFO"
    source_service: str = "edge-gateway"
    kafka_bootstrap_servers: str = "localhost:9092"
    kafka_topic: str = DEFAULT_TOPIC
    kafka_create_topic: bool = False
    kafka_topic_partitions: int = 3
    kafka_topic_replication: int = 1
    kafka_startup_timeout_s: float = 10.0
    schema_registry_url: str = ""
    event_framing: Framing = Framing.SCHEMALESS
    auth_public_keys: str = ""
    auth_audience: str = DEVICE_AUDIENCE
    auth_issuer: str = ""
    auth_algorithms: tuple[str, ...] = ("RS256", "ES256", "EdDSA")
    auth_allow_query_token: bool = True
    tls_certfile: str = ""
    tls_keyfile: str = ""
    gateway_id: str = ""
    receipts_topic: str = DEFAULT_RECEIPTS_TOPIC
    receipts_partitions: int = 64
    receipt_window_s: float = 25 * 3600.0
    receipt_max_entries: int = 100_000
    max_devices: int = 100
    device_idle_s: float = 3600.0
    claim_skew_s: float = 10.0
    health_topic: str = HEALTH_TOPIC
    settings_topic: str = SETTINGS_TOPIC
    fleet_topic_partitions: int = 16
    announce: str = "auto"
    enrollment: bool = False
    max_pending_enrollments: int = 100
    enrollment_topic: str = ENROLLMENT_TOPIC
    identity_topic: str = IDENTITY_TOPIC
    health_min_interval_s: float = 5.0
    health_burst: int = 5
    kafka_config: Mapping[str, str] = field(default_factory=dict)

    @property
    def resolved_gateway_id(self) -> str:
        """Stable across restarts: host name and bind port unless GATEWAY_ID is set."""
        return self.gateway_id or f"{socket.gethostname()}:{self.bind.rpartition(':')[2]}"

    @property
    def auth_enabled(self) -> bool:
        """Devices must prove who they are: by an operator-signed token, or by their own
        key (enrollment)."""
        return bool(self.auth_public_keys) or self.enrollment

    @property
    def stream_limits(self) -> StreamLimits:
        return StreamLimits(
            max_buffer_bytes=self.max_buffer_bytes,
            max_frame_bytes=self.max_frame_bytes,
            idle_timeout_s=self.idle_timeout_s,
            session_timeout_s=self.session_timeout_s,
            max_messages_per_s=self.max_messages_per_s,
            message_burst=self.message_burst,
            ack_every_frames=self.ack_every_frames,
        )

    @property
    def threads(self) -> int:
        """gthread pool size: one per audio connection plus headroom for health and refusals."""
        return self.max_connections + self.extra_threads


def _origins(text: str) -> tuple[str, ...]:
    return tuple(o.rstrip("/") for o in comma_list(text))


def _bind(text: str) -> str:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("expected HOST:PORT, e.g. 127.0.0.1:8000")
    return text


def _readable_file(text: str) -> str:
    if text and not os.access(text, os.R_OK):
        raise ValueError(f"cannot read {text}")
    return text


def _framing(text: str) -> Framing:
    try:
        return Framing(text.strip().lower())
    except ValueError:
        raise ValueError(f"expected one of {', '.join(Framing)}") from None


def _algorithms(text: str) -> tuple[str, ...]:
    from ingress_common.auth import ASYMMETRIC_ALGORITHMS

    algorithms = comma_list(text)
    unsafe = [a for a in algorithms if a not in ASYMMETRIC_ALGORITHMS]
    if unsafe or not algorithms:
        raise ValueError(f"only asymmetric algorithms ({', '.join(sorted(ASYMMETRIC_ALGORITHMS))})")
    return algorithms


SETTINGS: tuple[Setting, ...] = (
    Setting("bind", "GATEWAY_BIND", "Address to listen on, HOST:PORT.", _bind),
    Setting("max_connections", "GATEWAY_MAX_CONNECTIONS",
            "Concurrent audio connections; the next one gets HTTP 503.", int, between(1, 1000)),
    Setting("extra_threads", "GATEWAY_EXTRA_THREADS",
            "Worker threads beyond max_connections, for /healthz, /metrics and refusals.",
            int, between(2, 100)),
    Setting("max_buffer_bytes", "GATEWAY_MAX_BUFFER_BYTES",
            "PCM bytes per stream (1.4 MiB = 45.9 s).", int, between(2, 16 * 1024 * 1024)),
    Setting("max_frame_bytes", "GATEWAY_MAX_FRAME_BYTES", "Bytes per WebSocket message.",
            int, between(2, 1024 * 1024)),
    Setting("idle_timeout_s", "GATEWAY_IDLE_TIMEOUT_S", "Seconds without a client message.",
            float, positive),
    Setting("session_timeout_s", "GATEWAY_SESSION_TIMEOUT_S", "Seconds a stream may last.",
            float, positive),
    Setting("max_messages_per_s", "GATEWAY_MAX_MESSAGES_PER_S",
            "Sustained client messages per second per connection.", float, positive),
    Setting("message_burst", "GATEWAY_MESSAGE_BURST",
            "Messages a client may send in one burst above the rate.", int, at_least(1)),
    Setting("ack_every_frames", "GATEWAY_ACK_EVERY_FRAMES", "Send an ack every N audio frames.",
            int, at_least(1)),
    Setting("allowed_origins", "GATEWAY_ALLOWED_ORIGINS",
            "Comma-separated Origin allowlist; empty allows every Origin.", _origins),
    Setting("publish_timeout_s", "GATEWAY_PUBLISH_TIMEOUT_S",
            "Seconds to wait for Kafka's delivery report (also message.timeout.ms).",
            float, between(1, 300)),
    Setting("graceful_timeout_s", "GATEWAY_GRACEFUL_TIMEOUT_S",
            "Seconds a stopping worker lets open streams finish.", float, positive),
    Setting("header_timeout_s", "GATEWAY_HEADER_TIMEOUT_S",
            "Seconds a client has to send complete request headers (slowloris guard).",
            float, between(0.5, 60)),
    Setting("log_level", "GATEWAY_LOG_LEVEL", "DEBUG, INFO, WARNING or ERROR.", log_level),
    Setting("source_service", "GATEWAY_SOURCE_SERVICE", "source_service field of each event.", str),
    Setting("kafka_bootstrap_servers", "KAFKA_BOOTSTRAP_SERVERS", "Kafka bootstrap servers.", str),
    Setting("kafka_topic", "KAFKA_TOPIC", "Topic for AudioInputEvents.", str),
    Setting("kafka_create_topic", "KAFKA_CREATE_TOPIC",
            "Create the topic at start-up if missing, with a large enough max.message.bytes.",
            boolean),
    Setting("kafka_topic_partitions", "KAFKA_TOPIC_PARTITIONS", "Partitions of a created topic.",
            int, at_least(1)),
    Setting("kafka_topic_replication", "KAFKA_TOPIC_REPLICATION",
            "Replication factor of a created topic.", int, at_least(1)),
    Setting("kafka_startup_timeout_s", "KAFKA_STARTUP_TIMEOUT_S",
            "Seconds to wait for Kafka while the worker starts.", float, positive),
    Setting("schema_registry_url", "SCHEMA_REGISTRY_URL",
            "Schema Registry URL. If set, the event schema is registered under "
            "`<KAFKA_TOPIC>-value` at start-up; the framing is GATEWAY_EVENT_FRAMING's.", str),
    Setting("event_framing", "GATEWAY_EVENT_FRAMING",
            "`schemaless`: the Avro body alone, as `speech-lib` reads it. `confluent`: magic "
            "byte and schema id first, for registry-aware consumers; needs SCHEMA_REGISTRY_URL.",
            _framing),
    Setting("auth_public_keys", "GATEWAY_AUTH_PUBLIC_KEYS",
            "PEM or JWKS file of the keys that sign device tokens. Setting it turns device "
            "authentication on; empty leaves it off.", _readable_file),
    Setting("auth_audience", "GATEWAY_AUTH_AUDIENCE", "Required `aud` of device tokens.", str),
    Setting("auth_issuer", "GATEWAY_AUTH_ISSUER",
            "Required `iss` of device tokens; empty: not checked.", str),
    Setting("auth_algorithms", "GATEWAY_AUTH_ALGORITHMS",
            "Accepted JWT algorithms (asymmetric only).", _algorithms),
    Setting("auth_allow_query_token", "GATEWAY_AUTH_ALLOW_QUERY_TOKEN",
            "Accept ?token= (query strings get logged by proxies; prefer the header).", boolean),
    Setting("tls_certfile", "GATEWAY_TLS_CERTFILE",
            "Serve HTTPS/wss with this certificate chain (PEM); empty: plain HTTP.",
            _readable_file),
    Setting("tls_keyfile", "GATEWAY_TLS_KEYFILE", "The certificate's private key (PEM).",
            _readable_file),
    Setting("gateway_id", "GATEWAY_ID",
            "Stable id of this gateway in segment claims; empty: HOSTNAME:PORT. Unique per "
            "gateway behind one load balancer.", str),
    Setting("receipts_topic", "GATEWAY_RECEIPTS_TOPIC",
            "Topic of segment claims and receipts (created if missing; retention = window).",
            str),
    Setting("receipts_partitions", "GATEWAY_RECEIPTS_PARTITIONS",
            "Partitions of a created receipts topic (keyed by device: a gateway reads only "
            "the partitions of the devices it serves, each 1/N of the fleet).", int, at_least(1)),
    Setting("receipt_window_s", "GATEWAY_RECEIPT_WINDOW_S",
            "Seconds a published segment_id is remembered; keep it above the agent's spool "
            "max age (24 h).", float, positive),
    Setting("receipt_max_entries", "GATEWAY_RECEIPT_MAX_ENTRIES",
            "Segments remembered at most, all devices together (464 bytes each: "
            "bench/receipt_memory.py). Past it, a segment the book does not know is looked "
            "up in the receipts topic before it is published.",
            int, between(10, 10_000_000)),
    Setting("max_devices", "GATEWAY_MAX_DEVICES",
            "Devices whose receipts this gateway keeps at once; past it the least recently "
            "seen is dropped (and read again from Kafka if it comes back).", int,
            between(1, 100_000)),
    Setting("device_idle_s", "GATEWAY_DEVICE_IDLE_S",
            "A device not seen for this long is dropped from the gateway's receipts (read "
            "again from Kafka if it comes back).", float, positive),
    Setting("health_topic", "GATEWAY_HEALTH_TOPIC",
            "Compacted topic of device health reports, keyed by device (created if missing).",
            str),
    Setting("settings_topic", "GATEWAY_SETTINGS_TOPIC",
            "Compacted topic of the settings operators want devices to run (edge-console "
            "writes it; created if missing).", str),
    Setting("fleet_topic_partitions", "GATEWAY_FLEET_TOPIC_PARTITIONS",
            "Partitions of a created health or settings topic.", int, at_least(1)),
    Setting("announce", "GATEWAY_ANNOUNCE",
            "Announce the gateway by mDNS (`_edge-audio-ingress._tcp`) for agents with "
            "AGENT_GATEWAY_URL=auto: `auto` unless bound to loopback, `on`, `off`.",
            one_of("auto", "on", "off")),
    Setting("enrollment", "GATEWAY_ENROLLMENT",
            "`on`: devices may authenticate with their own key (a token they sign), and a key "
            "the fleet does not know asks an operator to accept it (docs/security.md, "
            "\"Device identities\"). Turns device authentication on.", boolean),
    Setting("max_pending_enrollments", "GATEWAY_MAX_PENDING_ENROLLMENTS",
            "Devices with an unanswered enrollment request at this gateway at most; past it "
            "a new request writes nothing and is refused as `enrollment_busy`.", int,
            between(1, 100_000)),
    Setting("enrollment_topic", "GATEWAY_ENROLLMENT_TOPIC",
            "Compacted topic of enrollment requests, keyed by device (created if missing).",
            str),
    Setting("identity_topic", "GATEWAY_IDENTITY_TOPIC",
            "Compacted topic of the fleet's decisions on device keys (edge-console writes it; "
            "created if missing).", str),
    Setting("health_min_interval_s", "GATEWAY_HEALTH_MIN_INTERVAL_S",
            "A device may send one health report per this many seconds (after a burst of "
            "GATEWAY_HEALTH_BURST); more get 429 with Retry-After.", float, between(0.01, 3600)),
    Setting("health_burst", "GATEWAY_HEALTH_BURST", "Health reports a device may send at once.",
            int, between(1, 100)),
    Setting("claim_skew_s", "GATEWAY_CLAIM_SKEW_S",
            "Wall-clock difference allowed between gateways; a claim left by another gateway "
            "is resolved this long after it must have ended.", float, between(0, 600)),
)


def load_settings(cli: Mapping[str, str] | None = None, env: Mapping[str, str] | None = None,
                  config_file: str | None = None) -> GatewaySettings:
    """Merge the sources, validate every value, and return the frozen settings."""
    env = os.environ if env is None else env
    file_values: dict[str, Any] = {}
    path = config_file or env.get("GATEWAY_CONFIG_FILE")
    if path:
        file_values = read_toml(Path(path), "GATEWAY_CONFIG_FILE")
    kafka_config = {str(k): str(v) for k, v in file_values.pop("kafka_config", {}).items()}
    kafka_config.update(_kafka_passthrough(env))
    _check_passthrough(kafka_config)
    values = load(SETTINGS, file_values, env, cli or {}, "GATEWAY_CONFIG_FILE")
    settings = GatewaySettings(**values, kafka_config=kafka_config)
    if bool(settings.tls_certfile) != bool(settings.tls_keyfile):
        raise ConfigError("tls_keyfile" if settings.tls_certfile else "tls_certfile",
                          "TLS needs both GATEWAY_TLS_CERTFILE and GATEWAY_TLS_KEYFILE")
    if settings.event_framing is Framing.CONFLUENT and not settings.schema_registry_url:
        raise ConfigError("GATEWAY_EVENT_FRAMING", "confluent framing needs SCHEMA_REGISTRY_URL "
                          "(the schema id comes from the registry); set it, or use "
                          "GATEWAY_EVENT_FRAMING=schemaless")
    if settings.auth_public_keys:
        load_verifier(settings)  # a bad key file stops the start, naming the setting
    return settings


def load_verifier(settings: GatewaySettings) -> TokenVerifier | None:
    from ingress_common.auth import TokenVerifier

    if not settings.auth_public_keys:
        return None
    try:
        return TokenVerifier.from_file(Path(settings.auth_public_keys), settings.auth_audience,
                                       settings.auth_algorithms, settings.auth_issuer or None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError("auth_public_keys", f"no usable public key in "
                          f"{settings.auth_public_keys}: {exc}") from None


def _kafka_passthrough(env: Mapping[str, str]) -> dict[str, str]:
    """KAFKA_CONFIG_SASL_MECHANISM=PLAIN becomes sasl.mechanism=PLAIN."""
    return {
        key[len(KAFKA_PASSTHROUGH_ENV_PREFIX):].lower().replace("_", "."): value
        for key, value in env.items()
        if key.startswith(KAFKA_PASSTHROUGH_ENV_PREFIX)
    }


def _check_passthrough(config: Mapping[str, str]) -> None:
    for key in config:
        if key in PROTECTED_KAFKA_KEYS:
            raise ConfigError(f"kafka_config.{key}", "is set by the gateway and cannot be overridden")


def markdown_table() -> str:
    """The configuration table for the README."""
    return config.markdown_table(SETTINGS, GatewaySettings)
