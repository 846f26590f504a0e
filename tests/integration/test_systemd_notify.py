"""The notify protocol as systemd would see it, from real processes: a datagram socket stands
in for systemd's NOTIFY_SOCKET."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.agent_process import AgentProcess, write_wav
from devkit.broker import Broker
from devkit.gateway_process import GatewayProcess
from devkit.signals import speech_like_pcm
from tests.process_fixtures import TOPIC


class FakeSystemd:
    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages: list[tuple[float, str]] = []

    def env(self, watchdog_s: float = 1.0) -> dict[str, str]:
        return {"NOTIFY_SOCKET": self.path, "WATCHDOG_USEC": str(int(watchdog_s * 1e6))}

    def wait_for(self, text: str, timeout_s: float) -> float | None:
        """Collect messages until one contains `text`; the time it arrived, or None."""
        deadline = time.monotonic() + timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(4096).decode()
            except TimeoutError:
                break
            self.messages.append((time.monotonic(), data))
            if text in data:
                return time.monotonic()
        return None

    def count(self, text: str, since: float = 0.0) -> int:
        return sum(1 for at, m in self.messages if text in m and at >= since)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[FakeSystemd]:
    fake = FakeSystemd(tmp_path / "notify.sock")
    yield fake
    fake.close()


def test_gateway_is_ready_only_once_kafka_answers_and_then_kicks_the_watchdog(
        tmp_path: Path, systemd: FakeSystemd) -> None:
    broker = Broker(tmp_path).start()
    broker.create_topic(TOPIC)
    broker.freeze()  # Kafka unreachable while the gateway starts
    gateway = GatewayProcess(tmp_path, broker.bootstrap, TOPIC,
                             settings={**systemd.env(), "KAFKA_STARTUP_TIMEOUT_S": "2"})
    try:
        gateway.start(wait_ready=False)
        assert systemd.wait_for("READY=1", timeout_s=6) is None, systemd.messages
        assert systemd.count("not ready") >= 1, "the reason is shown in systemctl status"
        broker.thaw()
        ready_at = systemd.wait_for("READY=1", timeout_s=15)
        assert ready_at is not None
        systemd.wait_for("never", timeout_s=2.5)
        assert systemd.count("WATCHDOG=1", since=ready_at) >= 2
        assert systemd.count("Gunicorn arbiter booted") == 0, "the arbiter must not claim READY"
    finally:
        broker.thaw()
        gateway.stop()
        broker.stop()
    assert systemd.wait_for("STOPPING=1", timeout_s=1) is not None


def test_agent_is_ready_with_the_mic_open_and_kicks_the_watchdog_only_while_frames_flow(
        tmp_path: Path, systemd: FakeSystemd) -> None:
    mic = write_wav(tmp_path / "short.wav", speech_like_pcm(3.0, seed=4))
    agent = AgentProcess(tmp_path, "ws://127.0.0.1:9/ws/audio", f"wav-paced:{mic}", "sd-agent",
                         settings=systemd.env(), until_drained=False).start()
    try:
        ready_at = systemd.wait_for("READY=1", timeout_s=10)
        assert ready_at is not None
        systemd.wait_for("never", timeout_s=2.0)  # the mic plays for 3 s
        assert systemd.count("WATCHDOG=1", since=ready_at) >= 2
        # The recording has ended: the "mic" is dead; after FRAMES_FRESH_S the kicks stop.
        systemd.wait_for("never", timeout_s=3.0)
        quiet_since = time.monotonic()
        systemd.wait_for("never", timeout_s=3.0)
        assert systemd.count("WATCHDOG=1", since=quiet_since) == 0
    finally:
        agent.stop()
