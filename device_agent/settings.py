"""Agent settings: defaults < TOML file < environment (AGENT_*) < CLI flags, validated once."""

from __future__ import annotations

import importlib.util
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from device_agent.capture.channels import ChannelPolicy
from device_agent.segmenting.enhancement import REQUIRED_API as ENHANCEMENT_API
from device_agent.segmenting.enhancement import EnhancementConfig
from device_agent.segmenting.segmenter import SegmenterConfig
from device_agent.segmenting.speech_models import REQUIRED_API, unusable
from device_agent.segmenting.voice_activity import DetectorConfig
from device_agent.spool.model import SpoolLimits
from ingress_common import config, remote_settings
from ingress_common.config import (
    ConfigError,
    Setting,
    at_least,
    between,
    log_level,
    one_of,
    positive,
)
from ingress_common.remote_settings import ENHANCEMENT_PACKAGE, MODEL_PACKAGES, remote_setting

_SEGMENTER = SegmenterConfig()
_ENHANCEMENT = EnhancementConfig()
_SPOOL = SpoolLimits()


@dataclass(frozen=True)
class AgentSettings:
    gateway_url: str = "ws://127.0.0.1:8000/ws/audio"
    device_id: str = ""
    source: str = "alsa:default"
    period_ms: int = 100
    channel: str = "auto"
    mode: str = _SEGMENTER.mode
    detector: str = _SEGMENTER.detector.detector
    threshold_dbfs: float = _SEGMENTER.detector.threshold_dbfs
    margin_db: float = _SEGMENTER.detector.margin_db
    talker_hold_db: float = _SEGMENTER.detector.talker_hold_db
    background_margin_db: float = _SEGMENTER.detector.background_margin_db
    start_s: float = _SEGMENTER.start_s
    hangover_s: float = _SEGMENTER.hangover_s
    preroll_s: float = _SEGMENTER.preroll_s
    max_segment_s: float = _SEGMENTER.max_s
    noise_suppression: int = _ENHANCEMENT.noise_suppression
    auto_gain_dbfs: int = _ENHANCEMENT.auto_gain_dbfs
    queue_s: float = 10.0
    spool_dir: str = ""
    spool_max_bytes: int = _SPOOL.max_bytes
    spool_max_segments: int = _SPOOL.max_segments
    spool_max_age_s: float = _SPOOL.max_age_s
    spool_policy: str = _SPOOL.policy
    retry_base_s: float = 1.0
    retry_cap_s: float = 30.0
    max_rejections: int = 3
    verdict_timeout_s: float = 30.0
    token_file: str = ""
    key_file: str = ""
    join_code: str = ""
    ca_file: str = ""
    status_file: str = ""
    status_interval_s: float = 30.0
    health_interval_s: float = 30.0
    remote_settings_file: str = ""
    drain_timeout_s: float = 5.0
    send_timeout_s: float = 0.0
    log_level: str = "INFO"

    @property
    def segmenter(self) -> SegmenterConfig:
        detector = DetectorConfig(self.detector, self.threshold_dbfs, self.margin_db,
                                  background_margin_db=self.background_margin_db,
                                  talker_hold_db=self.talker_hold_db)
        return SegmenterConfig(self.mode, detector, self.start_s, self.hangover_s,
                               self.preroll_s, self.max_segment_s)

    @property
    def enhancement(self) -> EnhancementConfig:
        return EnhancementConfig(self.noise_suppression, self.auto_gain_dbfs)

    @property
    def channel_policy(self) -> ChannelPolicy:
        return ChannelPolicy.parse(self.channel)

    @property
    def spool_limits(self) -> SpoolLimits:
        return SpoolLimits(self.spool_max_bytes, self.spool_max_segments, self.spool_max_age_s,
                           self.spool_policy)

    @property
    def resolved_device_id(self) -> str:
        return self.device_id or socket.gethostname()


def _url(text: str) -> str:
    if text != "auto" and not text.startswith(("ws://", "wss://")):
        raise ValueError("expected a ws:// or wss:// URL, or auto")
    return text


def _source(text: str) -> str:
    kind = text.split(":", 1)[0]
    if kind not in {"alsa", "wav", "wav-paced", "tone", "silence"}:
        raise ValueError("expected alsa:DEVICE, wav:PATH, wav-paced:PATH, tone:HZ or silence")
    return text


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _model_installed(name: str) -> str | None:
    """A detector whose model this device has, in a version the agent can call (a wheel
    may be missing on armv7, or an older one installed): never run broken."""
    module = MODEL_PACKAGES.get(name)
    if module is None:
        return None
    if not _installed(module):
        return f"{name} needs the {module} package, which is not installed on this device"
    problem = unusable(*REQUIRED_API[name])
    return f"{name} {problem}" if problem else None


def _enhancement_installed(level: int) -> str | None:
    """Above 0, a level needs webrtc-noise-gain, in a version the agent can call."""
    if not level:
        return None
    if not _installed(ENHANCEMENT_PACKAGE):
        return (f"{level} needs the {ENHANCEMENT_PACKAGE} package, which is not installed on "
                "this device")
    problem = unusable(*ENHANCEMENT_API)
    return f"{level} {problem}" if problem else None


def _on_this_device(name: str, installed: Callable[[Any], str | None]) -> Setting:
    """Remote key `name` as declared in the contract, and checked for this device's packages."""
    declared = remote_setting(name)
    return replace(declared, check=lambda value: declared.check(value) or installed(value))


SETTINGS: tuple[Setting, ...] = (
    Setting("gateway_url", "AGENT_GATEWAY_URL",
            "Gateway WebSocket URL (ws:// or wss://), or `auto`: a gateway found on the local "
            "network by mDNS (the one used last preferred; never ws:// with AGENT_CA_FILE).",
            _url),
    Setting("device_id", "AGENT_DEVICE_ID", "Device id; empty uses the host name.", str),
    Setting("source", "AGENT_SOURCE",
            "alsa:DEVICE (alsa:card:ID, alsa:usb:PORT or an ALSA PCM name), or a fake: wav:PATH, "
            "wav-paced:PATH, tone:HZ, silence.", _source),
    Setting("period_ms", "AGENT_PERIOD_MS", "ALSA period, milliseconds.", int, between(20, 100)),
    remote_setting("channel"),
    Setting("mode", "AGENT_MODE", "vad (utterances) or fixed (everything, in max_segment_s pieces).",
            one_of("vad", "fixed")),
    _on_this_device("detector", _model_installed),
    *(remote_setting(name) for name in ("threshold_dbfs", "margin_db", "talker_hold_db",
                                        "background_margin_db", "start_s", "hangover_s",
                                        "preroll_s", "max_segment_s")),
    _on_this_device("noise_suppression", _enhancement_installed),
    _on_this_device("auto_gain_dbfs", _enhancement_installed),
    Setting("queue_s", "AGENT_QUEUE_S", "Capture queue, in seconds of audio.", float,
            between(1, 120)),
    Setting("spool_dir", "AGENT_SPOOL_DIR",
            "Directory spool (survives restarts); empty keeps the spool in memory.", str),
    Setting("spool_max_bytes", "AGENT_SPOOL_MAX_BYTES", "Spool size cap.", int, at_least(1_000_000)),
    Setting("spool_max_segments", "AGENT_SPOOL_MAX_SEGMENTS", "Spool segment cap.", int, at_least(1)),
    Setting("spool_max_age_s", "AGENT_SPOOL_MAX_AGE_S", "Segments older than this are dropped.",
            float, positive),
    Setting("spool_policy", "AGENT_SPOOL_POLICY", "drop_oldest or drop_newest when full.",
            one_of("drop_oldest", "drop_newest")),
    Setting("retry_base_s", "AGENT_RETRY_BASE_S", "Backoff base.", float, positive),
    Setting("retry_cap_s", "AGENT_RETRY_CAP_S", "Backoff cap.", float, positive),
    Setting("max_rejections", "AGENT_MAX_REJECTIONS",
            "Tries for a segment the gateway refuses as not retryable.", int, between(1, 100)),
    Setting("verdict_timeout_s", "AGENT_VERDICT_TIMEOUT_S",
            "Wait for published/error after done.", float, positive),
    Setting("token_file", "AGENT_TOKEN_FILE",
            "File holding an operator-signed bearer token; when set, the device key is not "
            "used.", str),
    Setting("key_file", "AGENT_KEY_FILE",
            "The device's own Ed25519 key (PKCS#8 PEM), made there on first start (mode "
            "0600); the agent signs its own short-lived tokens with it, and a gateway with "
            "GATEWAY_ENROLLMENT=on asks an operator to accept it. Empty: no key.", str),
    Setting("join_code", "AGENT_JOIN_CODE",
            "A join code from the console (POST /api/join-codes): the device is accepted "
            "without a click while the code is valid and not used up.", str),
    Setting("ca_file", "AGENT_CA_FILE", "CA bundle for wss://.", str),
    Setting("status_file", "AGENT_STATUS_FILE", "Counters as JSON, rewritten periodically.", str),
    Setting("status_interval_s", "AGENT_STATUS_INTERVAL_S", "How often counters are logged.",
            float, positive),
    Setting("health_interval_s", "AGENT_HEALTH_INTERVAL_S",
            "How often the agent reports its health to the gateway (also at once on a change "
            "of state); 0 turns reports off.", float, between(0, 3600)),
    Setting("remote_settings_file", "AGENT_REMOTE_SETTINGS_FILE",
            "Where settings changed by the operator (edge-console) are kept, so a restart "
            "keeps them; empty keeps them in memory only.", str),
    Setting("drain_timeout_s", "AGENT_DRAIN_TIMEOUT_S",
            "At shutdown, time to finish delivering before stopping.", float, between(0, 600)),
    Setting("send_timeout_s", "AGENT_SEND_TIMEOUT_S",
            "`device-agent send` gives up after this many seconds (also `--timeout-s`), exits "
            "1 and says what was not delivered; 0 waits until the file is delivered.",
            float, between(0, 86400)),
    Setting("log_level", "AGENT_LOG_LEVEL", "DEBUG, INFO, WARNING or ERROR.", log_level),
)


_BY_NAME = {s.name: s for s in SETTINGS}


def check_remote(values: Mapping[str, str]) -> dict[str, Any]:
    """`values` checked as the console checks them (type and range), then for this
    device's packages; ConfigError names the first that is not allowed or not valid."""
    remote_settings.check_remote(values)
    return {name: config.convert(_BY_NAME[name], str(value)) for name, value in values.items()}


def load_settings(cli: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None,
                  config_file: str | None = None) -> AgentSettings:
    settings = AgentSettings(**config.load_sources(SETTINGS, "AGENT_CONFIG_FILE", cli, env, config_file))
    if settings.retry_cap_s < settings.retry_base_s:
        raise ConfigError("AGENT_RETRY_CAP_S", "must be at least AGENT_RETRY_BASE_S")
    return settings


def markdown_table() -> str:
    return config.markdown_table(SETTINGS, AgentSettings)
