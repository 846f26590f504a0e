"""A health report in: checked, rate-limited, queued for the health topic, answered with
the device's desired settings. A refusal writes nothing and says why (an AdmissionRefused,
answered as HTTP with a JSON body like an audio refusal).

A report never takes an audio slot, and the reply does not wait for Kafka: health is a
state, and the next report says it again, newer. So a frozen broker holds no thread; the
reports queue in the producer (at most `max_in_flight`, then 503) and land, in order, when
it answers again (or expire with the publish timeout), and the console then sees the
backlog that grew meanwhile. The bound keeps health from filling the queue that audio uses.
"""

from __future__ import annotations

import math
import threading
import time

from confluent_kafka import KafkaError

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

MAX_IN_FLIGHT = 2000
"""Reports queued for Kafka and not yet confirmed, all devices together (about 1 KB each)."""


class HealthIntake:
    def __init__(self, kafka: KafkaPublisher, topic: str, gateway_id: str, rate: ReportRate,
                 settings: SettingsFollower, max_in_flight: int = MAX_IN_FLIGHT) -> None:
        self._kafka = kafka
        self.topic = topic
        self._gateway_id = gateway_id
        self.rate = rate
        self.settings = settings
        self._max_in_flight = max_in_flight
        self._in_flight = 0
        self._lock = threading.Lock()
        self.failed = 0
        """Reports Kafka refused or did not confirm in time, after they were answered."""

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
            refusal.retry_after_s = math.ceil(wait)
            raise refusal
        received_ms = time.time_ns() // 1_000_000
        self._write(DeviceHealth(report, self._gateway_id, received_ms))
        desired = self.settings.desired_for(report.device_id)
        if desired is not None and desired.version == report.settings_version:
            desired = None  # in force already: nothing to send
        return HealthReply(True, received_ms, desired)

    def _write(self, health: DeviceHealth) -> None:
        with self._lock:
            if self._in_flight >= self._max_in_flight:
                raise HealthUnavailable(f"{self._in_flight} reports wait for Kafka already; "
                                        "nothing was stored, retry later")
            self._in_flight += 1
        try:
            pending = self._kafka.send(encode_health(health), health.report.device_id, {},
                                       topic=self.topic)
        except Exception:
            self._landed(None, None)
            raise HealthUnavailable("Kafka's queue refused the report; nothing was stored, "
                                    "retry later") from None
        pending.report_late(lambda delivery: self._landed(delivery, pending.error))

    def _landed(self, delivery: object, error: KafkaError | None) -> None:
        with self._lock:
            self._in_flight -= 1
            if delivery is None or error is not None:
                self.failed += 1

    def close(self, timeout_s: float = 2.0) -> None:
        """Flush the reports still queued (briefly: a report is a state, the next says it)."""
        self._kafka.close(timeout_s)

    @property
    def in_flight(self) -> int:
        return self._in_flight



