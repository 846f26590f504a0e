"""Issue 25's security: who may report health, and who may read or steer the fleet.

A real gateway with device authentication, a real console with operator authentication,
the broker; what reached Kafka is read from the health topic itself.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import requests
from confluent_kafka import Consumer, TopicPartition

from devkit.broker import Broker
from devkit.console_process import ConsoleProcess
from devkit.gateway_process import GatewayProcess
from devkit.health_reports import sample_report
from devkit.log_audit import remember_secret
from devkit.ports import free_port
from edge_gateway.provisioning import issue_token, write_key_pair
from ingress_common.auth import DEVICE_AUDIENCE, OPERATOR_AUDIENCE
from ingress_common.fleet_records import HEALTH_TOPIC, decode_health
from ingress_common.health import HEALTH_PATH, MAX_REPORT_BYTES, HealthReport

BURST = 2


@dataclass
class Secured:
    gateway: GatewayProcess
    console: ConsoleProcess
    bootstrap: str
    device_token: str
    operator_token: str

    def report(self, body: bytes, token: str | None) -> requests.Response:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.post(f"{self.gateway.http_url}{HEALTH_PATH}", data=body,
                             headers=headers, timeout=10)


def health_report(device_id: str) -> HealthReport:
    return replace(sample_report(device_id), settings_version=0)


@pytest.fixture(scope="module")
def secured(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    workdir = tmp_path_factory.mktemp("fleet-security")
    # One signing key for devices and operators: only the audience tells the tokens apart.
    key, public = write_key_pair(workdir / "keys", "signing", "ES256")
    device_token = remember_secret(issue_token(key.read_bytes(), "sec-pi-1", 3600,
                                               DEVICE_AUDIENCE))
    operator_token = remember_secret(issue_token(key.read_bytes(), "alice", 3600,
                                                 OPERATOR_AUDIENCE))
    broker.create_topic("fleet-security.audio", 1)
    gateway = GatewayProcess(workdir, broker.bootstrap, "fleet-security.audio", {
        "GATEWAY_AUTH_PUBLIC_KEYS": str(public), "GATEWAY_HEALTH_BURST": str(BURST),
        "GATEWAY_HEALTH_MIN_INTERVAL_S": "30"}).start()
    console = ConsoleProcess(workdir, broker.bootstrap,
                             {"CONSOLE_AUTH_PUBLIC_KEYS": str(public)}).start()
    try:
        yield Secured(gateway, console, broker.bootstrap, device_token, operator_token)
    finally:
        console.stop()
        gateway.stop()


def health_records(bootstrap: str, until_key: str, timeout_s: float = 20) -> list[tuple[str, str]]:
    """(key, device_id) of every health record, read until one keyed `until_key` is seen
    (a marker written after the refused ones) and a second more."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "sec-read",
                         "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(HEALTH_TOPIC, timeout=10).topics[HEALTH_TOPIC].partitions
        consumer.assign([TopicPartition(HEALTH_TOPIC, p, 0) for p in partitions])
        seen: list[tuple[str, str]] = []
        deadline = time.monotonic() + timeout_s
        marker_at = None
        while time.monotonic() < deadline and (marker_at is None or time.monotonic() < marker_at + 1):
            msg = consumer.poll(0.3)
            if msg is None or msg.error() is not None:
                continue
            key = (msg.key() or b"").decode()
            seen.append((key, decode_health(msg.value() or b"").report.device_id))
            if key == until_key and marker_at is None:
                marker_at = time.monotonic()
        assert marker_at is not None, "the marker report never reached Kafka"
        return seen
    finally:
        consumer.close()


def test_refused_reports_say_why_and_write_nothing(secured: Secured) -> None:
    other = secured.report(health_report("sec-victim").encode(), secured.device_token)
    assert other.status_code == 403
    assert other.json()["code"] == "wrong_device" and other.json()["published"] is False
    no_token = secured.report(health_report("sec-pi-1").encode(), None)
    assert no_token.status_code == 401
    as_operator = secured.report(health_report("alice").encode(), secured.operator_token)
    assert as_operator.status_code == 401  # an operator token is no device token
    assert "audience" in as_operator.json()["message"]
    bad = secured.report(b'{"device_id": "sec-pi-1"', secured.device_token)
    assert bad.status_code == 400 and bad.json()["code"] == "bad_report"
    oversize = secured.report(b" " * (MAX_REPORT_BYTES + 1), secured.device_token)
    assert oversize.status_code == 413 and oversize.json()["code"] == "report_too_large"

    accepted = [secured.report(health_report("sec-pi-1").encode(), secured.device_token)
                for _ in range(BURST)]
    assert [r.status_code for r in accepted] == [200] * BURST
    too_many = secured.report(health_report("sec-pi-1").encode(), secured.device_token)
    assert too_many.status_code == 429
    assert too_many.json()["code"] == "report_too_frequent" and too_many.json()["retryable"]
    assert 1 <= int(too_many.headers["Retry-After"]) <= 30

    records = health_records(secured.bootstrap, until_key="sec-pi-1")
    assert ("sec-victim" not in {key for key, _ in records}
            and "alice" not in {key for key, _ in records})
    assert sum(1 for key, _ in records if key == "sec-pi-1") == BURST  # not the 429th


def test_the_console_refuses_device_tokens_and_anonymous_callers(secured: Secured) -> None:
    url = secured.console.url
    for token in (None, secured.device_token):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        assert requests.get(f"{url}/api/devices", headers=headers, timeout=10).status_code == 401
        assert requests.get(f"{url}/metrics", headers=headers, timeout=10).status_code == 401
        change = requests.put(f"{url}/api/devices/sec-pi-1/settings", headers=headers,
                              json={"values": {"hangover_s": "1"}}, timeout=10)
        assert change.status_code == 401
        login = requests.post(f"{url}/login", json={"token": token or ""}, timeout=10)
        assert login.status_code == 401
        if token:
            assert "audience" in login.json()["message"]
    operator = {"Authorization": f"Bearer {secured.operator_token}"}
    devices = requests.get(f"{url}/api/devices", headers=operator, timeout=10)
    assert devices.status_code == 200
    page = requests.get(url, timeout=10)
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert devices.headers["Cache-Control"] == "no-store"


def test_the_console_will_not_listen_beyond_loopback_without_operator_auth(
        tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "edge_console", "serve", "--bind",
                           f"0.0.0.0:{free_port()}"], capture_output=True, text=True, timeout=30,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert done.returncode == 2
    assert "not a loopback address" in done.stderr and "CONSOLE_AUTH_PUBLIC_KEYS" in done.stderr
