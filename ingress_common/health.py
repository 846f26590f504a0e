"""The device health report and its reply: the second message of the wire, beside the audio.

A device POSTs a `HealthReport` as JSON to the gateway's `HEALTH_PATH` with its device token,
every `health_interval_s` and at once on a change of state. The gateway answers with a
`HealthReply`: the settings the operator wants the device to run (`DesiredSettings`), if
any. No I/O here; docs/protocol.md ("Health reports") is the prose version.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ingress_common.identifiers import ID_PATTERN, is_id
from ingress_common.pcm import SILENT_DBFS as SILENT_DBFS  # re-exported: reports use it

HEALTH_PATH = "/v1/health"
MAX_REPORT_BYTES = 8192
"""A report's JSON body is at most this long; the gateway answers a longer one with 413."""
MAX_RECENT_UTTERANCES = 5
REASONS = ("interval", "start", "mic_lost", "mic_back", "quarantined", "spool_half",
           "settings_applied", "settings_refused")
"""Why a report was sent: the interval, or the change of state that sent it at once."""

_TEXT_MAX = 200
OPTIONAL_FIELDS = ("settings_error", "health_interval_s")
"""Fields older agents do not send: a report without them takes the default."""


class BadReport(ValueError):
    """The body is not a health report; the message says which field and why."""


@dataclass(frozen=True)
class RecentUtterance:
    """Where one delivered utterance landed: enough to read it back from Kafka."""

    segment_id: str
    topic: str
    partition: int
    offset: int
    duration_ms: int
    delivered_at_ms: int


@dataclass(frozen=True)
class HealthReport:
    device_id: str
    sent_at_ms: int
    """The device's wall clock when it sent the report (the gateway measures skew by it)."""
    reason: str
    agent_version: str
    uptime_s: float
    mic_open: bool
    capture_format: str
    """As the device opened it, e.g. "48000 Hz, 2 ch, S16_LE"; empty while closed."""
    level_rms_dbfs: float
    """Input level over the interval since the last report; SILENT_DBFS for digital
    silence or no audio."""
    level_peak_dbfs: float
    clipped_ratio: float
    """Share of the interval's samples at full scale."""
    noise_floor_dbfs: float
    """The detector's tracked speech-band noise floor."""
    since_speech_s: float | None
    """Seconds since speech last started a segment (None: not since start)."""
    since_delivery_s: float | None
    segments_sent: int
    segments_acked: int
    segments_dropped: int
    segments_quarantined: int
    reconnects: int
    thread_errors: int
    spool_depth: int
    spool_bytes: int
    spool_oldest_age_s: float
    disk_free_bytes: int | None
    """Free bytes where the spool lives (None for a memory spool)."""
    settings_version: int
    """The remote settings version in force (0: none received)."""
    settings_error: str = ""
    """Why the last remote settings were refused, if they were."""
    recent: tuple[RecentUtterance, ...] = ()
    health_interval_s: float | None = None
    """Seconds between this device's reports (the console calls it offline after a few of
    them without one); None from agents older than the field."""

    def message(self) -> dict[str, Any]:
        body = asdict(self)
        body["recent"] = [asdict(r) for r in self.recent]
        return body

    def encode(self) -> bytes:
        return json.dumps(self.message(), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, body: bytes) -> HealthReport:
        """The report in `body`, or BadReport naming what is wrong with it."""
        if len(body) > MAX_REPORT_BYTES:
            raise BadReport(f"reports are limited to {MAX_REPORT_BYTES} bytes")
        try:
            message = json.loads(body)
        except (ValueError, RecursionError):
            raise BadReport("the body is not JSON") from None
        if not isinstance(message, dict):
            raise BadReport("the body must be a JSON object")
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "recent":
                values["recent"] = _recent(message.get("recent", []))
                continue
            if f.name not in message:
                if f.name in OPTIONAL_FIELDS:
                    continue
                raise BadReport(f"{f.name} is missing")
            values[f.name] = _checked(f.name, str(f.type), message[f.name])
        if not is_id(values["device_id"]):
            raise BadReport(f"device_id must match {ID_PATTERN.pattern}")
        if values["reason"] not in REASONS:
            raise BadReport(f"reason must be one of {', '.join(REASONS)}")
        return cls(**values)


@dataclass(frozen=True)
class DesiredSettings:
    """What the operator wants a device to run: a version and the changed values (strings,
    read by the agent's own validators, as an environment variable would be)."""

    version: int
    values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HealthReply:
    accepted: bool
    server_time_ms: int
    settings: DesiredSettings | None = None

    def encode(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, body: bytes) -> HealthReply:
        message = json.loads(body)
        settings = message.get("settings")
        desired = (DesiredSettings(int(settings["version"]),
                                   {str(k): str(v) for k, v in settings["values"].items()})
                   if settings else None)
        return cls(bool(message["accepted"]), int(message["server_time_ms"]), desired)


def _checked(name: str, kind: str, value: Any) -> Any:
    optional = kind.endswith("| None")
    if value is None and optional:
        return None
    base = kind.removesuffix(" | None")
    if base == "bool":
        if not isinstance(value, bool):
            raise BadReport(f"{name} must be true or false")
        return value
    if base == "int":
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise BadReport(f"{name} must be a non-negative integer")
        return value
    if base == "float":
        if (not isinstance(value, int | float) or isinstance(value, bool)
                or not math.isfinite(value)):
            raise BadReport(f"{name} must be a number")
        return float(value)
    if base == "str":
        if not isinstance(value, str) or len(value) > _TEXT_MAX:
            raise BadReport(f"{name} must be text of at most {_TEXT_MAX} characters")
        return value
    raise BadReport(f"{name} has an unknown type")  # pragma: no cover - a schema mistake


def _recent(items: Any) -> tuple[RecentUtterance, ...]:
    if not isinstance(items, list) or len(items) > MAX_RECENT_UTTERANCES:
        raise BadReport(f"recent must be a list of at most {MAX_RECENT_UTTERANCES}")
    out = []
    for item in items:
        if not isinstance(item, dict):
            raise BadReport("recent holds objects")
        try:
            out.append(RecentUtterance(**{f.name: _checked(f"recent.{f.name}", str(f.type),
                                                           item[f.name])
                                          for f in fields(RecentUtterance)}))
        except KeyError as exc:
            raise BadReport(f"recent.{exc.args[0]} is missing") from None
    return tuple(out)
