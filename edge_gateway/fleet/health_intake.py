"""A health report in: checked, rate-limited, written to the health topic, answered with
the device's desired settings. A refusal writes nothing and says why (an AdmissionRefused,
answered as HTTP with a JSON body like an audio refusal).

A report never takes an audio slot. At most `concurrency` reports are written at once, and
each waits at most `wait_s` for Kafka: a dead broker cannot hold the gateway's threads.
"""

from __future__ import annotations

import math
import threading
import time

from edge_gateway.fleet.report_rate import ReportRate
from edge_gateway.fleet.settings_follower import SettingsFollower
from edge_gateway.publisher import KafkaPublisher
from ingress_common.fleet_records import DeviceHealth, encode_health
from ingress_common.health import MAX_REPORT_BYTES, BadReport, HealthReply, HealthReport
from ingress_common.refusals import (
    BadHealthReport,
    HealthUnavailable,
    ReportTooFrequent,
    ReportTooLarge,
    WrongDevice,
)

WAIT_S = 2.0
CONCURRENCY = 2
"""Of the gateway's extra threads (GATEWAY_EXTRA_THREADS, 4): the rest stay for /metrics,
/readyz and refusals."""


class HealthIntake:
    def __init__(self, kafka: KafkaPublisher, topic: str, gateway_id: str, rate: ReportRate,
                 settings: SettingsFollower, wait_s: float = WAIT_S,
                 concurrency: int = CONCURRENCY) -> None:
        self._kafka = kafka
        self.topic = topic
        self._gateway_id = gateway_id
        self.rate = rate
        self.settings = settings
        self._wait_s = wait_s
        self._writing = threading.BoundedSemaphore(concurrency)

    def take(self, body: bytes, token_device: str | None) -> HealthReply:
        """`token_device` is the token's `sub` (None with authentication off)."""
        if len(body) > MAX_REPORT_BYTES:
            raise ReportTooLarge(f"health reports are limited to {MAX_REPORT_BYTES} bytes; "
                                 "nothing was stored")
        try:
            report = HealthReport.decode(body)
        except BadReport as exc:
            raise BadHealthReport(f"{exc}; nothing was stored") from None
        if token_device is not None and report.device_id != token_device:
            raise WrongDevice("a device reports only its own health (the token's sub); "
                              "nothing was stored")
        wait = self.rate.admit(report.device_id)
        if wait:
            refusal = ReportTooFrequent(
                f"at most one report per {self.rate.interval_s:g} s (bursts of "
                f"{self.rate.burst}); nothing was stored, retry after {math.ceil(wait)} s")
            refusal.retry_after_s = math.ceil(wait)  # type: ignore[attr-defined]
            raise refusal
        received_ms = time.time_ns() // 1_000_000
        self._write(DeviceHealth(report, self._gateway_id, received_ms))
        desired = self.settings.desired_for(report.device_id)
        if desired is not None and desired.version == report.settings_version:
            desired = None  # in force already: nothing to send
        return HealthReply(True, received_ms, desired)

    def _write(self, health: DeviceHealth) -> None:
        if not self._writing.acquire(blocking=False):
            raise HealthUnavailable("the gateway is writing as many reports as it may; "
                                    "nothing was stored, retry later")
        try:
            pending = self._kafka.send(encode_health(health), health.report.device_id, {},
                                       topic=self.topic)
            if not pending.done.wait(self._wait_s):
                raise HealthUnavailable(f"Kafka did not confirm the report within "
                                        f"{self._wait_s:g} s; it may still be stored")
            if pending.error is not None:
                raise HealthUnavailable(f"Kafka refused the report ({pending.error.name()}); "
                                        "nothing was stored")
        finally:
            self._writing.release()
