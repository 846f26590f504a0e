"""Per-device gauges for Prometheus, made from the FleetView at each scrape.

Bounded: at most CONSOLE_MAX_DEVICES devices, times 7 gauges plus one series per active
alert, and one gauge for the console's own reading of Kafka. docs/prometheus-alerts.yml
holds example alerting rules on them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from edge_console.alerts import CODES


class FleetCollector(Collector):
    def __init__(self, views: list[dict[str, Any]], kafka_up: bool) -> None:
        self._views = views
        self._kafka_up = kafka_up

    def collect(self) -> Iterator[GaugeMetricFamily]:
        views = self._views
        yield GaugeMetricFamily("edge_console_kafka_up",
                                "1 while the console can read Kafka; at 0 the device gauges "
                                "are as of the last moment it could.", value=float(self._kafka_up))
        gauges = {
            "online": GaugeMetricFamily("edge_console_device_online",
                                        "1 while the device reports.", labels=["device"]),
            "age": GaugeMetricFamily("edge_console_device_report_age_seconds",
                                     "Seconds since its last report.", labels=["device"]),
            "level": GaugeMetricFamily("edge_console_device_level_rms_dbfs",
                                       "Input level over its last interval.", labels=["device"]),
            "depth": GaugeMetricFamily("edge_console_device_spool_depth",
                                       "Segments waiting in its spool.", labels=["device"]),
            "oldest": GaugeMetricFamily("edge_console_device_spool_oldest_age_seconds",
                                        "Age of its oldest spooled segment.", labels=["device"]),
            "skew": GaugeMetricFamily("edge_console_device_clock_skew_seconds",
                                      "Its clock minus its gateway's.", labels=["device"]),
            "settings": GaugeMetricFamily("edge_console_device_settings_pending",
                                          "1 while its desired settings are not applied.",
                                          labels=["device"]),
        }
        alerts = GaugeMetricFamily("edge_console_device_alert",
                                   "1 for each alert a device raises, by code.",
                                   labels=["device", "code"])
        for view in views:
            device, report = view["device_id"], view["report"]
            gauges["online"].add_metric([device], float(view["online"]))
            settings = view["settings"]
            gauges["settings"].add_metric(
                [device], float(settings["desired_version"] != settings["applied_version"]))
            if report is not None:
                gauges["age"].add_metric([device], view["last_report_age_s"])
                gauges["level"].add_metric([device], report["level_rms_dbfs"])
                gauges["depth"].add_metric([device], report["spool_depth"])
                gauges["oldest"].add_metric([device], report["spool_oldest_age_s"])
                gauges["skew"].add_metric([device], view["clock_skew_ms"] / 1000)
            for code in view["alerts"]:
                if code in CODES:
                    alerts.add_metric([device, code], 1.0)
        yield from gauges.values()
        yield alerts


def exposition(views: list[dict[str, Any]], kafka_up: bool) -> bytes:
    """The gauges of `views` (FleetView.views) and whether Kafka is readable."""
    registry = CollectorRegistry()
    registry.register(FleetCollector(views, kafka_up))
    return generate_latest(registry)
