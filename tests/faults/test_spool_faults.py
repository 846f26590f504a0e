"""The agent's spool under trouble: a disk that is full, and a segment that can never be
published (a poison segment). Real agent, gateway and broker; counted in Kafka."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.agent_process import AgentProcess, account, write_wav
from devkit.broker import Broker
from devkit.fault_rig import events_of, record_accounting, status_value, wait_for
from devkit.gateway_process import GatewayProcess
from devkit.kafka_reader import KafkaReader
from devkit.signals import silence, utterances_with_pauses
from tests.process_fixtures import TOPIC

pytestmark = pytest.mark.faults


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 96 KiB tmpfs, filled up: nothing more can be written to it."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(mount)]).returncode:
        pytest.skip("needs root to mount a small tmpfs")
    try:
        (mount / "spool").mkdir()
        with open(mount / "filler", "wb", buffering=0) as filler:
            try:
                while True:
                    filler.write(b"\0" * 4096)
            except OSError:
                pass
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_the_agent_keeps_delivering_with_its_spool_disk_full(
        broker: Broker, reader: KafkaReader, gateway: GatewayProcess, tmp_path: Path,
        full_disk: Path) -> None:
    signal, bursts = utterances_with_pauses(4, speech_s=1.0, pause_s=1.0, seed=31)
    wav = write_wav(tmp_path / "disk-full.wav", signal)
    agent = AgentProcess(tmp_path, gateway.ws_url, f"wav-paced:{wav}", "disk-full",
                         settings={"AGENT_SPOOL_DIR": str(full_disk / "spool")}).start()
    try:
        wait_for(lambda: status_value(agent, "spool_write_failures") >= 1, 30,
                 "a spool write failing on the full disk")
        (full_disk / "filler").unlink()  # space returns
        assert agent.wait(60) == 0
    finally:
        agent.stop()
    status = agent.status()
    accounting = account(signal, bursts, events_of(reader, "disk-full", len(bursts), 30))
    record_accounting(accounting.table("spool disk full, then space returned") +
                      f"\n\nspool writes failed: {status['spool_write_failures']}\n")
    assert status["thread_errors"] == 0 and status["spool_depth"] == 0
    assert accounting.exact, accounting


def test_a_poison_segment_is_quarantined_and_the_ones_behind_it_are_delivered(
        broker: Broker, reader: KafkaReader, tmp_path: Path) -> None:
    """Spooled while the gateway was away: a 3 s utterance, then two of 1 s. The gateway
    that comes up buffers at most 2 s, so the first can never be published."""
    long_one, long_bursts = utterances_with_pauses(1, speech_s=3.0, pause_s=1.0, seed=41)
    short, short_bursts = utterances_with_pauses(2, speech_s=1.0, pause_s=1.0, seed=42)
    signal = long_one + short
    behind = [(b0 + len(long_one), b1 + len(long_one)) for b0, b1 in short_bursts]
    wav = write_wav(tmp_path / "poison.wav", signal)
    spool_dir = tmp_path / "spool"
    gateway = GatewayProcess(tmp_path, broker.bootstrap, TOPIC,
                             settings={"GATEWAY_MAX_BUFFER_BYTES": "64000"})
    url = gateway.ws_url
    offline = AgentProcess(tmp_path, url, f"wav:{wav}", "poison",
                           settings={"AGENT_SPOOL_DIR": str(spool_dir)}).start()
    try:
        wait_for(lambda: status_value(offline, "spool_depth") == 3, 30, "three segments spooled")
    finally:
        offline.stop()
    gateway.start()
    quiet = write_wav(tmp_path / "quiet.wav", silence(1.0))
    agent = AgentProcess(tmp_path, url, f"wav:{quiet}", "poison",
                         settings={"AGENT_SPOOL_DIR": str(spool_dir)}).start()
    try:
        code = agent.wait(60)
    finally:
        agent.stop()
        gateway.stop()
    status = agent.status()
    assert code != 0, "a run that quarantined a segment does not exit cleanly"
    assert status["segments_quarantined"] == 1 and status["spool_depth"] == 0, status
    assert len(list((spool_dir / "quarantine").glob("*.seg"))) == 1
    events = events_of(reader, "poison", 2, 30)
    accounting = account(signal, behind, events)
    record_accounting(accounting.table("a poison segment (3 s against a 2 s gateway buffer), "
                                       "quarantined; the two behind it") + "\n")
    assert accounting.exact, accounting
