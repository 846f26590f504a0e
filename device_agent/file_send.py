"""`device-agent send FILE`: deliver a WAV file, and say plainly whether it all arrived.

By default the whole file goes, as consecutive segments (the segmenter's fixed mode) that
each fit the buffer the gateway announces: a tone, music or silence arrives like speech.
`--vad` cuts it by speech, as `run` does. Each segment has its own `segment_id` and goes
through the agent's own spool and delivery, so it is delivered exactly once.

The file is read and converted a block at a time and the spool holds a few segments at
most; when it is full the reader waits for delivery (the "wait" policy): a file, unlike a
microphone, can wait, so a slow or absent gateway drops nothing and memory stays bounded
whatever the file's length.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import simple_websocket

from device_agent.agent import Agent, client_options
from device_agent.backoff import Backoff
from device_agent.capture.wav import WavFileSource
from device_agent.settings import AgentSettings
from device_agent.uplink.gateway_finder import AUTO
from ingress_common.client import Refused, gateway_limits
from ingress_common.protocol import BYTES_PER_SECOND, Connected, Error, Published
from ingress_common.websocket_client import HandshakeRefused

REFUSED_FOR_GOOD = frozenset({401, 403})
"""Handshake answers no retry can fix (docs/protocol.md, "Before the upgrade")."""
SPOOL_SEGMENTS = 3
"""Segments the send spool holds at most: one on the wire, the next ones ready."""


@dataclass(frozen=True)
class SendReport:
    path: Path
    vad: bool
    seconds: float
    """Audio read from the file, after conversion to 16 kHz mono."""
    segments_cut: int
    segments_acked: int
    segments_quarantined: int
    segments_undelivered: int
    stopped: bool
    """A signal stopped the send before the file was delivered."""

    @property
    def complete(self) -> bool:
        return (not self.stopped and self.segments_cut > 0
                and self.segments_acked == self.segments_cut)

    def verdict(self, gave_up_after_s: float | None = None) -> str:
        """One sentence in plain words; `gave_up_after_s`: the send's timeout ended it."""
        if self.vad and self.segments_cut == 0 and not self.stopped:
            return (f"no speech found in {self.path} ({self.seconds:.1f} s): nothing was sent; "
                    f"without --vad the whole file is sent")
        if self.complete:
            return (f"{self.path}: {self.seconds:.1f} s delivered as {self.segments_acked} "
                    f"segment(s), each confirmed in Kafka")
        why = ("stopped before the end; " if gave_up_after_s is None else
               f"gave up after {gave_up_after_s:g} s (--timeout-s); ") if self.stopped else ""
        if self.stopped and self.segments_cut == 0:
            return (f"{self.path}: {why}nothing delivered: the gateway was not reached, or "
                    "no segment was cut yet")
        return (f"{self.path}: {why}{self.segments_acked} of {self.segments_cut} segment(s) "
                f"delivered, {self.segments_quarantined} refused by the gateway, "
                f"{self.segments_undelivered} not delivered")


def send_file(settings: AgentSettings, path: Path, vad: bool, stop: threading.Event,
              on_reply: Callable[[Published | Error | None], None] = lambda _reply: None,
              ) -> SendReport:
    """Deliver `path` (already checked as a WAV file by `WavFileSource`); blocks until it
    is delivered, refused, or `stop` is set."""
    source = WavFileSource(path, settings.period_ms, channel=settings.channel_policy)
    limits = _await_limits(settings, stop)
    max_bytes = int(settings.max_segment_s * BYTES_PER_SECOND)
    if limits is not None:
        max_bytes = min(max_bytes, int(limits.limit("max_buffer_bytes", max_bytes)))
    agent = Agent(_send_settings(settings, path, vad, max_bytes), lambda: source,
                  finite_source=True, on_delivered=on_reply)
    agent.segmenting.fit_segments(max_bytes)
    if not stop.is_set():
        agent.run(stop, until_drained=True)
    stats = agent.stats
    return SendReport(path, vad, source.seconds_read, stats.segments_started,
                      stats.segments_acked, stats.segments_quarantined, agent.spool.depth,
                      stopped=stop.is_set())


def _send_settings(settings: AgentSettings, path: Path, vad: bool,
                   max_segment_bytes: int) -> AgentSettings:
    """The agent's settings for one file: its own memory spool of a few segments that makes
    the reader wait when full, fixed cuts unless `vad`, no status or health reports, and
    the local settings only (a file is not a device the operator steers)."""
    return replace(settings, source=f"wav:{path}", status_interval_s=3600.0, status_file="",
                   health_interval_s=0.0, remote_settings_file="",
                   mode="vad" if vad else "fixed", spool_dir="", spool_policy="wait",
                   spool_max_bytes=SPOOL_SEGMENTS * max_segment_bytes,
                   spool_max_segments=SPOOL_SEGMENTS)


def _await_limits(settings: AgentSettings, stop: threading.Event) -> Connected | None:
    """The gateway's announced limits, retried with backoff while it cannot be reached
    (a file can wait); None when stopped first. A refusal no retry can fix raises Refused."""
    if settings.gateway_url == AUTO:
        raise Refused(None, "send needs the gateway's URL (--gateway-url or AGENT_GATEWAY_URL): "
                            "a gateway is found by mDNS only by `device-agent run`")
    options = client_options(settings)
    backoff = Backoff(settings.retry_base_s, settings.retry_cap_s)
    while not stop.is_set():
        try:
            return gateway_limits(settings.gateway_url, options)
        except Refused as refused:
            if refused.error is not None and not refused.error.retryable:
                raise
        except simple_websocket.ConnectionError as exc:
            waiting = isinstance(exc, HandshakeRefused) and exc.retryable  # to be accepted
            if exc.status_code in REFUSED_FOR_GOOD and not waiting:
                raise Refused(None, f"the gateway refused the connection (HTTP "
                                    f"{exc.status_code}): check the token and the Origin") from None
        except (OSError, simple_websocket.ConnectionClosed):
            pass
        stop.wait(backoff.next_delay())
    return None
