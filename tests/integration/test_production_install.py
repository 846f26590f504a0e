"""Issue 31: what a production install holds. The built wheel carries nothing of the test
harness, nor does what `scripts/install.sh` puts on a box; and `pip install '.[console]'`
alone, in a fresh virtualenv, gives a console that judges a device's settings by the
contract (type and range), never by what happens to be installed on the console's host.
Its change is counted in Kafka itself."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, TopicPartition

from devkit.broker import Broker
from devkit.console_process import ConsoleProcess
from devkit.waiting import wait_for
from ingress_common.fleet_records import HEALTH_TOPIC, SETTINGS_TOPIC, DeviceSettings, decode_settings
from ingress_common.kafka_topics import partition_count

ROOT = Path(__file__).resolve().parents[2]
OUR_PACKAGES = ("ingress_common", "edge_gateway", "edge_console", "device_agent")
PIP_TIMEOUT_S = 600
AGENT_MODULES = ("numpy", "soxr", "alsaaudio", "webrtcvad", "webrtc_noise_gain", "pymicro_vad",
                 "simple_websocket", "devkit")
"""The agent's third-party packages, and the harness (the one wheel holds every part's own code)."""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out),
                    str(ROOT)], check=True, timeout=PIP_TIMEOUT_S, capture_output=True)
    return next(out.glob("*.whl"))


@pytest.fixture(scope="module")
def console_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("console-venv")
    venv.create(home, with_pip=True)
    subprocess.run([str(home / "bin" / "pip"), "install", "-q", f"{wheel}[console]"],
                   check=True, timeout=PIP_TIMEOUT_S, capture_output=True)
    return home


@pytest.fixture(scope="module")
def console(console_venv: Path, broker: Broker,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleProcess]:
    for topic in (HEALTH_TOPIC, SETTINGS_TOPIC):  # a gateway creates them in a fleet
        broker.create_topic(topic, 2)
    workdir = tmp_path_factory.mktemp("console-alone")
    process = ConsoleProcess(workdir, broker.bootstrap,
                             command=[str(console_venv / "bin" / "edge-console"), "serve"]).start()
    yield process
    process.stop()


def test_the_wheel_holds_nothing_of_the_harness(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "ingress_common/schemas/audio_input_event.avsc" in names  # the wheel is whole
    assert "edge_console/static/console.js" in names
    assert not [n for n in names if n.startswith("devkit/") or "fault" in n.lower()]


def test_the_console_installs_without_the_agents_packages(console_venv: Path) -> None:
    python = str(console_venv / "bin" / "python")
    found = subprocess.run([python, "-c", "import importlib.util as u, sys; print(' '.join("
                            "m for m in sys.argv[1:] if u.find_spec(m)))", *AGENT_MODULES],
                           capture_output=True, text=True, check=True, cwd=console_venv)
    assert found.stdout.split() == []


@pytest.mark.parametrize(("part", "command"), [("console", "edge-console"),
                                               ("gateway", "edge-gateway"),
                                               ("agent", "device-agent")])
def test_the_install_script_puts_nothing_of_the_harness_on_a_box(tmp_path: Path, part: str,
                                                                 command: str) -> None:
    env = {**os.environ, "ROOT": str(tmp_path), "SYSTEMCTL": "true"}
    subprocess.run([str(ROOT / "scripts" / "install.sh"), part], env=env, check=True,
                   capture_output=True, timeout=PIP_TIMEOUT_S)
    venv = tmp_path / "opt" / "edge-audio-ingress"
    assert subprocess.run([str(venv / "bin" / command), "--help"], capture_output=True,
                          cwd=tmp_path, timeout=60).returncode == 0
    site = next((venv / "lib").glob("python3*/site-packages"))
    ours = [p for package in OUR_PACKAGES for p in (site / package).rglob("*.py")]
    assert ours and not [p for p in ours if "fault" in p.stem.split("_")]
    assert not (site / "devkit").exists()
    unit = "device-agent" if part == "agent" else command
    assert (tmp_path / "etc" / "systemd" / "system" / f"{unit}.service").exists()


def stored_settings(broker: Broker, device_id: str) -> list[DeviceSettings]:
    """Every settings record of `device_id` in the topic (a gateway of another test may have
    created it, with its own partition count)."""
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "install-test",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    try:
        count = partition_count(consumer, SETTINGS_TOPIC, 10)
        consumer.assign([TopicPartition(SETTINGS_TOPIC, p, 0) for p in range(count)])
        found, at_end = [], 0
        while at_end < count:
            msg = consumer.poll(3)
            if msg is None:
                break
            if msg.error() is not None:
                at_end += msg.error().code() == KafkaError._PARTITION_EOF
                continue
            found.append(decode_settings(msg.value() or b""))
        return [s for s in found if s.device_id == device_id]
    finally:
        consumer.close()


def test_the_console_alone_checks_type_and_range_not_its_own_packages(
        console: ConsoleProcess, broker: Broker) -> None:
    accepted = console.change_settings("pi-alone", {"detector": "webrtc",
                                                    "noise_suppression": "2"})
    assert accepted.status_code == 200, accepted.text
    stored = wait_for(lambda: stored_settings(broker, "pi-alone"), 15, "the change in Kafka")
    assert [s.desired.values for s in stored] == [{"detector": "webrtc", "noise_suppression": "2"}]

    refused = console.change_settings("pi-alone", {"hangover_s": "99"})
    assert refused.status_code == 400
    assert refused.json()["message"] == "AGENT_HANGOVER_S: must be between 0.02 and 10 (got '99')"
    unknown = console.change_settings("pi-alone", {"gateway_url": "ws://elsewhere/"})
    assert unknown.status_code == 400 and "cannot be changed remotely" in unknown.json()["message"]
    assert len(stored_settings(broker, "pi-alone")) == 1  # nothing more was stored
