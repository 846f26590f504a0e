"""The agent wires its stages: capture thread → segmenting thread → spool → sender thread,
its status, and its health reports (assembled in `health/report.py`; the operator's
settings come back in their replies and are applied here).

Shutdown order: stop capture, let segmenting finish the open segment, give the sender
`drain_timeout_s` to empty the spool, then stop it. A directory spool keeps what is left.
"""

from __future__ import annotations

import itertools
import logging
import queue
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path

from device_agent.backoff import Backoff
from device_agent.capture.channels import ChannelPolicy
from device_agent.capture.source import AudioSource
from device_agent.capture.thread import CaptureThread, Item
from device_agent.health.remote import RemoteSettings
from device_agent.health.report import HealthAssembler, Reported
from device_agent.health.reporter import HealthReporter
from device_agent.health.watch import Watched
from device_agent.segmenting.segmenter import Segmenter
from device_agent.segmenting.thread import SegmentingThread
from device_agent.settings import AgentSettings
from device_agent.spool.directory import DirectorySpool
from device_agent.spool.memory import MemorySpool
from device_agent.stats import AgentStats, write_status_file
from device_agent.uplink.connection import SegmentConnection
from device_agent.uplink.gateway_finder import AUTO, GatewayFinder, fixed
from device_agent.uplink.sender import SenderThread
from ingress_common.client import ClientOptions
from ingress_common.device_keys import DeviceKey
from ingress_common.health import DesiredSettings, HealthReply, HealthReport
from ingress_common.health_client import health_url, post_health
from ingress_common.protocol import Error, Published
from ingress_common.sd_notify import Notifier
from ingress_common.version import VERSION

_LOGGER = logging.getLogger(__name__)
JOIN_TIMEOUT_S = 5.0
FRAMES_FRESH_S = 2.0
"""The systemd watchdog is kicked only while frames arrived this recently: a dead mic stops
the kicks, and systemd restarts the agent after WatchdogSec."""


def segment_ids(device_id: str) -> Callable[[], tuple[str, int]]:
    """device:run:seq. The run part is 50 random bits in base 36, drawn at start-up: ids stay
    unique when the agent restarts while older segments wait in the spool, and when a box
    without a real-time clock boots with the same wall time as before. (There is no boot id:
    the shipped unit's ProcSubset=pid hides /proc/sys, so it could only be a placeholder.)"""
    run = _base36(secrets.randbits(50))
    counter = itertools.count(1)
    prefix = f"{device_id}:{run}"

    def next_id() -> tuple[str, int]:
        seq = next(counter)
        return f"{prefix}:{seq}", seq
    return next_id


def client_options(settings: AgentSettings) -> ClientOptions:
    """How the agent talks to its gateway: its token (an operator's, or one it signs with
    its own key for each request), its CA, its verdict timeout."""
    token = Path(settings.token_file).read_text().strip() if settings.token_file else None
    context = ssl.create_default_context(cafile=settings.ca_file) if settings.ca_file else None
    return ClientOptions(token=token, token_source=None if token else own_tokens(settings),
                         ssl_context=context, verdict_timeout_s=settings.verdict_timeout_s)


def own_tokens(settings: AgentSettings) -> Callable[[], str] | None:
    """With a key file and no token file: a fresh token signed with the device's own key
    for each request, saying what the device is (docs/security.md, "Device identities")."""
    if not settings.key_file:
        return None
    key = DeviceKey.load_or_create(Path(settings.key_file))
    device_id = settings.resolved_device_id
    claims: dict[str, object] = {"hostname": socket.gethostname(), "agent_version": VERSION,
                                 "capture_devices": [settings.source]}
    if settings.join_code:
        claims["join_code"] = settings.join_code
    _LOGGER.info("device key %s: thumbprint %s (an operator compares it in the console "
                 "before accepting the device)", settings.key_file, key.thumbprint)
    return lambda: key.sign_token(device_id, claims)


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


class Agent:
    def __init__(self, settings: AgentSettings,
                 open_source: Callable[[], AudioSource] | None = None,
                 finite_source: bool = False, notifier: Notifier | None = None,
                 source_for_channel: Callable[[ChannelPolicy], Callable[[], AudioSource]]
                 | None = None,
                 on_delivered: Callable[[Published | Error | None], None] = lambda _reply: None,
                 ) -> None:
        """`source_for_channel` builds the source for a channel policy, so that a remote
        channel change reopens the device; without it the agent captures `open_source`.
        `on_delivered` hears each segment's verdict, after the agent's own bookkeeping."""
        self.remote = RemoteSettings(settings, Path(settings.remote_settings_file)
                                     if settings.remote_settings_file else None)
        self.remote.load()
        settings = self.settings = self.remote.settings
        self._source_for_channel = source_for_channel
        if source_for_channel is not None:
            open_source = source_for_channel(settings.channel_policy)
        assert open_source is not None, "an audio source is needed"
        self.systemd = notifier or Notifier()
        self.stats = AgentStats()
        self.spool: MemorySpool = (
            DirectorySpool(Path(settings.spool_dir), settings.spool_limits)
            if settings.spool_dir else MemorySpool(settings.spool_limits))
        self._capture_stop = threading.Event()
        self._delivery_stop = threading.Event()
        periods = max(1, int(settings.queue_s * 1000 / settings.period_ms))
        items: queue.Queue[Item] = queue.Queue(maxsize=periods)
        self.capture = CaptureThread(open_source, items, self.stats, self._capture_stop,
                                     block_when_full=finite_source)
        self.segmenting = SegmentingThread(items, Segmenter(settings.segmenter), self.spool,
                                           segment_ids(settings.resolved_device_id),
                                           settings.resolved_device_id, self.stats,
                                           self._capture_stop, settings.enhancement)
        self.reports = HealthAssembler(
            Reported(settings.resolved_device_id, settings.health_interval_s, settings.spool_dir),
            self.stats, self.spool, self.segmenting, self.remote)

        def delivered(reply: Published | Error | None) -> None:
            self.reports.delivered(reply)
            on_delivered(reply)
        options = client_options(settings)
        self.finder = (GatewayFinder(bool(settings.ca_file), Path(settings.spool_dir)
                                     / "gateway.json" if settings.spool_dir else None)
                       if settings.gateway_url == AUTO else None)
        gateway = self.finder.url if self.finder is not None else fixed(settings.gateway_url)
        uplink = SegmentConnection(gateway, options, self.spool,
                                   on_buffer_limit=self.segmenting.fit_segments)
        self.sender = SenderThread(self.spool, uplink, self.stats, self._delivery_stop,
                                   Backoff(settings.retry_base_s, settings.retry_cap_s),
                                   settings.max_rejections, on_delivered=delivered)

        def report(health: HealthReport) -> HealthReply:
            url = gateway()
            if url is None:
                raise OSError("no gateway found yet")
            return post_health(health_url(url), health, options)
        self.health = (HealthReporter(self, report, settings.health_interval_s,
                                      self._delivery_stop)
                       if settings.health_interval_s > 0 else None)

    def start(self) -> None:
        if self.finder is not None:
            self.finder.start()
        self.sender.start()
        self.segmenting.start()
        self.capture.start()
        if self.health is not None:
            self.health.start()

    # -- health (the reporter asks; health.report answers) ------------------
    def watched(self) -> Watched:
        return self.reports.watched()

    def health_report(self, reason: str) -> HealthReport:
        return self.reports.report(reason)

    def take_settings(self, desired: DesiredSettings) -> None:
        """Apply the operator's settings live, if they are new and pass the checks."""
        settings = self.remote.offer(desired)
        if settings is None:
            return
        self.segmenting.reconfigure(settings.segmenter, settings.enhancement)
        if settings.channel != self.settings.channel and self._source_for_channel is not None:
            self.capture.replace_source(self._source_for_channel(settings.channel_policy))
        self.settings = settings

    def count_thread_error(self) -> None:
        self.stats.add(thread_errors=1)

    def drained(self) -> bool:
        """A finite source has ended and every segment was delivered or given up."""
        return self.segmenting.source_ended.is_set() and self.spool.depth == 0

    def run(self, stop: threading.Event, until_drained: bool = False) -> None:
        """Run until `stop` is set (or, with until_drained, the source is delivered)."""
        self.start()
        next_status = time.monotonic() + self.settings.status_interval_s
        while not stop.is_set() and not (until_drained and self.drained()):
            stop.wait(0.1)
            self.tell_systemd()
            if time.monotonic() >= next_status:
                self.report_status()
                next_status += self.settings.status_interval_s
        self.shutdown()

    def capturing(self) -> bool:
        """Frames are arriving and every thread is alive."""
        fresh = time.monotonic() - self.stats.last_frame_monotonic < FRAMES_FRESH_S
        threads = (self.capture, self.segmenting, self.sender)
        return self.stats.mic_open and fresh and all(t.is_alive() for t in threads)

    def tell_systemd(self) -> None:
        """READY=1 once the microphone is open; WATCHDOG=1 only while frames flow."""
        if not self.systemd.enabled:
            return
        if not self.systemd.ready_sent and self.stats.mic_open:
            self.systemd.ready(f"capturing from {self.settings.source}")
        if self.systemd.ready_sent and self.capturing():
            self.systemd.watchdog()

    def report_status(self) -> dict[str, object]:
        self.stats.set(spool_depth=self.spool.depth, spool_bytes=self.spool.total_bytes,
                       spool_write_failures=self.spool.counters.write_failures,
                       segments_dropped=self.spool.counters.dropped_full
                       + self.spool.counters.dropped_age + self.spool.counters.refused_full)
        snapshot = self.stats.as_dict()
        _LOGGER.info("status", extra={"status": snapshot})
        self.systemd.status(f"mic {'open' if snapshot['mic_open'] else 'CLOSED'}, "
                            f"acked {snapshot['segments_acked']}, spool {snapshot['spool_depth']}")
        if self.settings.status_file:
            write_status_file(Path(self.settings.status_file), snapshot)
        return snapshot

    def shutdown(self) -> None:
        self.systemd.stopping()
        self._capture_stop.set()
        self.capture.join(JOIN_TIMEOUT_S)
        self.segmenting.join(JOIN_TIMEOUT_S)
        deadline = time.monotonic() + self.settings.drain_timeout_s
        while self.spool.depth and time.monotonic() < deadline:
            time.sleep(0.05)
        self._delivery_stop.set()
        self.sender.join(self.settings.verdict_timeout_s + JOIN_TIMEOUT_S)
        if self.health is not None:
            self.health.join(JOIN_TIMEOUT_S)
        if self.finder is not None:
            self.finder.stop()
        snapshot = self.report_status()
        if snapshot["spool_depth"] and not self.settings.spool_dir:
            _LOGGER.error("stopping with %s undelivered segments in the memory spool; "
                          "configure spool_dir to keep them", snapshot["spool_depth"])
