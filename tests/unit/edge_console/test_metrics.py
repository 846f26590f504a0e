import re
import time
from dataclasses import replace
from pathlib import Path

from edge_console.fleet import FleetView
from edge_console.metrics import exposition
from edge_console.settings import ConsoleSettings
from ingress_common.fleet_records import DeviceHealth
from tests.unit.ingress_common.test_health_message import report

RULES = Path(__file__).resolve().parents[3] / "docs" / "prometheus-alerts.yml"


def scrape(kafka_up: bool = True) -> str:
    fleet = FleetView(ConsoleSettings())
    sent = replace(report(), mic_open=False)
    fleet.take_health(DeviceHealth(sent, "gw", sent.sent_at_ms))
    return exposition(fleet.views(time.time_ns() // 1_000_000), kafka_up).decode()


def test_each_device_gets_its_gauges_and_one_series_per_alert() -> None:
    text = scrape()
    assert 'edge_console_device_online{device="pi-1"} 0.0' in text  # an old report: offline
    assert 'edge_console_device_alert{code="mic_closed",device="pi-1"} 1.0' in text
    assert 'edge_console_device_spool_depth{device="pi-1"} 1.0' in text


def test_the_consoles_own_reading_of_kafka_is_one_gauge() -> None:
    assert "\nedge_console_kafka_up 1.0\n" in scrape(kafka_up=True)
    assert "\nedge_console_kafka_up 0.0\n" in scrape(kafka_up=False)


def test_the_shipped_alerting_rules_use_only_exported_metrics() -> None:
    exported = set(re.findall(r"^# TYPE (\w+) ", scrape(), re.M))
    used = set(re.findall(r"expr: (\w+)", RULES.read_text()))
    assert used and used <= exported, used - exported
