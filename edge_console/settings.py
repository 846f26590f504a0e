"""Console settings: defaults < TOML file < environment (CONSOLE_*, KAFKA_*) < CLI flags."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ingress_common import config
from ingress_common.auth import OPERATOR_AUDIENCE
from ingress_common.config import (
    ConfigError,
    Setting,
    at_least,
    between,
    log_level,
    positive,
)
from ingress_common.fleet_records import HEALTH_TOPIC, SETTINGS_TOPIC
from ingress_common.identity_records import ENROLLMENT_TOPIC, IDENTITY_TOPIC, JOIN_CODES_TOPIC


@dataclass(frozen=True)
class ConsoleSettings:
    bind: str = "127.0.0.1:8100"
    kafka_bootstrap_servers: str = "localhost:9092"
    health_topic: str = HEALTH_TOPIC
    settings_topic: str = SETTINGS_TOPIC
    enrollment_topic: str = ENROLLMENT_TOPIC
    identity_topic: str = IDENTITY_TOPIC
    join_codes_topic: str = JOIN_CODES_TOPIC
    fleet_topic_partitions: int = 16
    auth_public_keys: str = ""
    auth_audience: str = OPERATOR_AUDIENCE
    auth_issuer: str = ""
    max_devices: int = 10_000
    health_interval_s: float = 30.0
    offline_intervals: float = 3.0
    no_sound_dbfs: float = -90.0
    no_sound_s: float = 300.0
    clipping_ratio: float = 0.001
    backlog_age_s: float = 300.0
    clock_skew_s: float = 2.0
    disk_low_bytes: int = 200 * 1024 * 1024
    refresh_s: float = 2.0
    log_level: str = "INFO"

    @property
    def auth_enabled(self) -> bool:
        return bool(self.auth_public_keys)

    @property
    def host(self) -> str:
        return self.bind.rpartition(":")[0].strip("[]")


def _bind(text: str) -> str:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError("expected HOST:PORT")
    return text


SETTINGS: tuple[Setting, ...] = (
    Setting("bind", "CONSOLE_BIND", "Address to listen on, HOST:PORT. Anything but loopback "
            "needs CONSOLE_AUTH_PUBLIC_KEYS.", _bind),
    Setting("kafka_bootstrap_servers", "KAFKA_BOOTSTRAP_SERVERS", "Kafka bootstrap servers.", str),
    Setting("health_topic", "CONSOLE_HEALTH_TOPIC", "The gateways' device health topic.", str),
    Setting("settings_topic", "CONSOLE_SETTINGS_TOPIC",
            "The devices' desired settings topic (the console writes it).", str),
    Setting("enrollment_topic", "CONSOLE_ENROLLMENT_TOPIC",
            "Devices asking to join (gateways write it).", str),
    Setting("identity_topic", "CONSOLE_IDENTITY_TOPIC",
            "The fleet's decisions on device keys (the console writes it).", str),
    Setting("join_codes_topic", "CONSOLE_JOIN_CODES_TOPIC",
            "Join codes, as hashes (the console writes it).", str),
    Setting("fleet_topic_partitions", "CONSOLE_FLEET_TOPIC_PARTITIONS",
            "Partitions of an identity topic the console creates (compacted) when missing.",
            int, at_least(1)),
    Setting("auth_public_keys", "CONSOLE_AUTH_PUBLIC_KEYS",
            "PEM or JWKS file with the public keys of operator tokens; empty turns "
            "authentication off (loopback only).", str),
    Setting("auth_audience", "CONSOLE_AUTH_AUDIENCE",
            "Required `aud` of operator tokens (never a device token's).", str),
    Setting("auth_issuer", "CONSOLE_AUTH_ISSUER", "Required `iss`, if set.", str),
    Setting("max_devices", "CONSOLE_MAX_DEVICES",
            "Devices the console keeps (and exports on /metrics); past it the one heard from "
            "longest ago is dropped.", int, between(1, 1_000_000)),
    Setting("health_interval_s", "CONSOLE_HEALTH_INTERVAL_S",
            "The devices' report interval (AGENT_HEALTH_INTERVAL_S).", float, positive),
    Setting("offline_intervals", "CONSOLE_OFFLINE_INTERVALS",
            "`offline` after this many intervals without a report.", float, at_least(1)),
    Setting("no_sound_dbfs", "CONSOLE_NO_SOUND_DBFS",
            "`no_sound` when the input level stays at or below this.", float, between(-120, 0)),
    Setting("no_sound_s", "CONSOLE_NO_SOUND_S", "... for this long.", float, positive),
    Setting("clipping_ratio", "CONSOLE_CLIPPING_RATIO",
            "`clipping` when more of an interval's samples than this are at full scale.",
            float, between(0, 1)),
    Setting("backlog_age_s", "CONSOLE_BACKLOG_AGE_S",
            "`backlog` when the oldest spooled segment is older than this (or the spool "
            "grew over the last 3 reports).", float, positive),
    Setting("clock_skew_s", "CONSOLE_CLOCK_SKEW_S",
            "`clock_skew` when a device's clock is this far from its gateway's.", float,
            positive),
    Setting("disk_low_bytes", "CONSOLE_DISK_LOW_BYTES",
            "`disk_low` when the spool's disk has less free than this.", int, at_least(0)),
    Setting("refresh_s", "CONSOLE_REFRESH_S", "How often the page refreshes.", float,
            between(0.2, 600)),
    Setting("log_level", "CONSOLE_LOG_LEVEL", "DEBUG, INFO, WARNING or ERROR.", log_level),
)


def load_settings(cli: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None,
                  config_file: str | None = None) -> ConsoleSettings:
    settings = ConsoleSettings(**config.load_sources(SETTINGS, "CONSOLE_CONFIG_FILE", cli, env, config_file))
    if not settings.auth_enabled and not _loopback(settings.host):
        raise ConfigError("CONSOLE_BIND", f"{settings.host} is not a loopback address, and "
                          "operator authentication is off: set CONSOLE_AUTH_PUBLIC_KEYS (the "
                          "console shows people's speech) or bind 127.0.0.1")
    return settings


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def markdown_table() -> str:
    return config.markdown_table(SETTINGS, ConsoleSettings)
