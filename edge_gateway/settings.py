"""Gateway settings: read once from defaults < config file < environment < CLI flags.

Every setting is declared once in `SETTINGS` with its environment variable, type, bounds
and help text; the README's configuration table is printed from it
(`edge-gateway settings --markdown`). A bad value raises `ConfigError` naming the setting.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from edge_gateway.errors import ConfigError
from edge_gateway.limits import DEFAULT_MAX_BUFFER_BYTES, DEFAULT_MAX_FRAME_BYTES, StreamLimits

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
    max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    idle_timeout_s: float = 10.0
    session_timeout_s: float = 60.0
    max_messages_per_s: float = 100.0
    message_burst: int = 200
    ack_every_frames: int = 10
    allowed_origins: tuple[str, ...] = ()
    publish_timeout_s: float = 10.0
    graceful_timeout_s: float = 30.0
    log_level: str = "INFO"
    source_service: str = "edge-gateway"
    kafka_bootstrap_servers: str = "localhost:9092"
    kafka_topic: str = "speech.audio.ingress"
    kafka_create_topic: bool = False
    kafka_topic_partitions: int = 3
    kafka_topic_replication: int = 1
    kafka_startup_timeout_s: float = 10.0
    schema_registry_url: str = ""
    kafka_config: Mapping[str, str] = field(default_factory=dict)

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


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    help: str
    parse: Callable[[str], Any]
    check: Callable[[Any], str | None] = lambda _value: None


def _positive(v: float) -> str | None:
    return None if v > 0 else "must be greater than 0"


def _at_least(low: float) -> Callable[[float], str | None]:
    return lambda v: None if v >= low else f"must be at least {low:g}"


def _between(low: float, high: float) -> Callable[[float], str | None]:
    return lambda v: None if low <= v <= high else f"must be between {low:g} and {high:g}"


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected true/false")


def _origins(text: str) -> tuple[str, ...]:
    return tuple(o.strip().rstrip("/") for o in text.split(",") if o.strip())


def _log_level(text: str) -> str:
    level = text.strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
    return level


def _bind(text: str) -> str:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("expected HOST:PORT, e.g. 127.0.0.1:8000")
    return text


SETTINGS: tuple[Setting, ...] = (
    Setting("bind", "GATEWAY_BIND", "Address to listen on, HOST:PORT.", _bind),
    Setting("max_connections", "GATEWAY_MAX_CONNECTIONS",
            "Concurrent audio connections; the next one gets HTTP 503.", int, _between(1, 1000)),
    Setting("extra_threads", "GATEWAY_EXTRA_THREADS",
            "Worker threads beyond max_connections, for /healthz, /metrics and refusals.",
            int, _between(2, 100)),
    Setting("max_buffer_bytes", "GATEWAY_MAX_BUFFER_BYTES",
            "PCM bytes per stream (1.4 MiB = 45.9 s).", int, _between(2, 16 * 1024 * 1024)),
    Setting("max_frame_bytes", "GATEWAY_MAX_FRAME_BYTES", "Bytes per WebSocket message.",
            int, _between(2, 1024 * 1024)),
    Setting("idle_timeout_s", "GATEWAY_IDLE_TIMEOUT_S", "Seconds without a client message.",
            float, _positive),
    Setting("session_timeout_s", "GATEWAY_SESSION_TIMEOUT_S", "Seconds a stream may last.",
            float, _positive),
    Setting("max_messages_per_s", "GATEWAY_MAX_MESSAGES_PER_S",
            "Sustained client messages per second per connection.", float, _positive),
    Setting("message_burst", "GATEWAY_MESSAGE_BURST",
            "Messages a client may send in one burst above the rate.", int, _at_least(1)),
    Setting("ack_every_frames", "GATEWAY_ACK_EVERY_FRAMES", "Send an ack every N audio frames.",
            int, _at_least(1)),
    Setting("allowed_origins", "GATEWAY_ALLOWED_ORIGINS",
            "Comma-separated Origin allowlist; empty allows every Origin.", _origins),
    Setting("publish_timeout_s", "GATEWAY_PUBLISH_TIMEOUT_S",
            "Seconds to wait for Kafka's delivery report (also message.timeout.ms).",
            float, _between(1, 300)),
    Setting("graceful_timeout_s", "GATEWAY_GRACEFUL_TIMEOUT_S",
            "Seconds a stopping worker lets open streams finish.", float, _positive),
    Setting("log_level", "GATEWAY_LOG_LEVEL", "DEBUG, INFO, WARNING or ERROR.", _log_level),
    Setting("source_service", "GATEWAY_SOURCE_SERVICE", "source_service field of each event.", str),
    Setting("kafka_bootstrap_servers", "KAFKA_BOOTSTRAP_SERVERS", "Kafka bootstrap servers.", str),
    Setting("kafka_topic", "KAFKA_TOPIC", "Topic for AudioInputEvents.", str),
    Setting("kafka_create_topic", "KAFKA_CREATE_TOPIC",
            "Create the topic at start-up if missing, with a large enough max.message.bytes.",
            _bool),
    Setting("kafka_topic_partitions", "KAFKA_TOPIC_PARTITIONS", "Partitions of a created topic.",
            int, _at_least(1)),
    Setting("kafka_topic_replication", "KAFKA_TOPIC_REPLICATION",
            "Replication factor of a created topic.", int, _at_least(1)),
    Setting("kafka_startup_timeout_s", "KAFKA_STARTUP_TIMEOUT_S",
            "Seconds to wait for Kafka while the worker starts.", float, _positive),
    Setting("schema_registry_url", "SCHEMA_REGISTRY_URL",
            "If set, events use the Confluent wire format with this registry.", str),
)
_BY_NAME = {s.name: s for s in SETTINGS}


def load_settings(cli: Mapping[str, str] | None = None, env: Mapping[str, str] | None = None,
                  config_file: str | None = None) -> GatewaySettings:
    """Merge the sources, validate every value, and return the frozen settings."""
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    kafka_config: dict[str, str] = {}
    path = config_file or env.get("GATEWAY_CONFIG_FILE")
    if path:
        file_values, kafka_config = _read_config_file(Path(path))
        raw.update(file_values)
    for setting in SETTINGS:
        if setting.env in env:
            raw[setting.name] = env[setting.env]
    kafka_config.update(_kafka_passthrough(env))
    raw.update({k: v for k, v in (cli or {}).items() if v is not None})
    values = {name: _convert(_BY_NAME[name], value) for name, value in raw.items()}
    return GatewaySettings(**values, kafka_config=kafka_config)


def _convert(setting: Setting, value: Any) -> Any:
    try:
        converted = setting.parse(value) if isinstance(value, str) else value
        if setting.parse is _origins and isinstance(value, list):
            converted = tuple(value)
        problem = setting.check(converted)
    except (ValueError, TypeError) as exc:
        raise ConfigError(setting.env, f"cannot use {value!r}: {exc}") from None
    if problem:
        raise ConfigError(setting.env, f"{problem} (got {value!r})")
    return converted


def _read_config_file(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError("GATEWAY_CONFIG_FILE", f"cannot read {path}: {exc}") from None
    kafka = {str(k): str(v) for k, v in data.pop("kafka_config", {}).items()}
    unknown = sorted(set(data) - set(_BY_NAME))
    if unknown:
        raise ConfigError("GATEWAY_CONFIG_FILE", f"unknown settings {unknown} in {path}")
    _check_passthrough(kafka)
    return data, kafka


def _kafka_passthrough(env: Mapping[str, str]) -> dict[str, str]:
    """KAFKA_CONFIG_SASL_MECHANISM=PLAIN becomes sasl.mechanism=PLAIN."""
    out = {
        key[len(KAFKA_PASSTHROUGH_ENV_PREFIX):].lower().replace("_", "."): value
        for key, value in env.items()
        if key.startswith(KAFKA_PASSTHROUGH_ENV_PREFIX)
    }
    _check_passthrough(out)
    return out


def _check_passthrough(config: Mapping[str, str]) -> None:
    for key in config:
        if key in PROTECTED_KAFKA_KEYS:
            raise ConfigError(f"kafka_config.{key}", "is set by the gateway and cannot be overridden")


def markdown_table() -> str:
    """The configuration table for the README."""
    defaults = {f.name: f.default for f in fields(GatewaySettings) if f.name in _BY_NAME}
    rows = ["| Environment variable | Config file key | Default | Meaning |", "|---|---|---|---|"]
    for s in SETTINGS:
        default = defaults[s.name]
        shown = ",".join(default) if isinstance(default, tuple) else default
        rows.append(f"| `{s.env}` | `{s.name}` | `{shown}` | {s.help} |")
    return "\n".join(rows)
