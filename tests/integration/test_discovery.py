"""Issue 33: an agent finds its gateway by mDNS, across a real link.

The agent runs on a second host (a network namespace joined to this one by a veth pair)
with `AGENT_GATEWAY_URL=auto`; the gateway runs here, bound to its end of the link, and
announces itself (python-zeroconf). The agent finds it and delivers; with the gateway
stopped it waits, keeping what it hears; when the gateway returns it resumes. Counted in
Kafka: every phrase once.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit import netns
from devkit.agent_process import account, write_wav
from devkit.broker import Broker
from devkit.gateway_process import GatewayProcess
from devkit.kafka_reader import KafkaReader, ReadEvent
from devkit.ports import free_port
from devkit.processes import ChildProcess
from devkit.speech import loud_spans, phrases_with_pauses
from devkit.waiting import wait_for

pytestmark = pytest.mark.skipif(not netns.available(), reason="needs root and iproute2")

PHRASES = ["turn on the kitchen light", "what is the weather tomorrow",
           "set a timer for ten minutes", "play some quiet music", "how far is the station",
           "remind me at noon", "switch off the radio", "open the garage door"]
TOPIC = "discovery.audio"


@pytest.fixture
def other_host() -> Iterator[netns.LinkedHost]:
    with netns.LinkedHost(f"eai{os.getpid() % 100000}", os.getpid() % 200 + 20) as host:
        yield host


def _agent(host: netns.LinkedHost, workdir: Path, source: str, run: int) -> ChildProcess:
    env = {**os.environ, "AGENT_GATEWAY_URL": "auto", "AGENT_SPOOL_DIR": str(workdir / "spool"),
           "AGENT_DEVICE_ID": "pi-far", "AGENT_SOURCE": source, "AGENT_RETRY_BASE_S": "0.2",
           "AGENT_RETRY_CAP_S": "1", "AGENT_HEALTH_INTERVAL_S": "0"}
    return ChildProcess(host.command([sys.executable, "-m", "device_agent", "run"]),
                        workdir / f"agent-far-{run}.log", env=env)


def _records(reader: KafkaReader) -> list[ReadEvent]:
    return [e for e in reader.read_until(lambda _e: False, 0.3)
            if e.headers.get("device_id") == "pi-far"]


def test_an_agent_finds_its_gateway_by_mdns_waits_and_resumes(
        broker: Broker, tmp_path: Path, other_host: netns.LinkedHost) -> None:
    broker.create_topic(TOPIC, 1)
    speech, spoken = phrases_with_pauses(PHRASES, pause_s=2.5)
    wav = write_wav(tmp_path / "far.wav", speech)
    port = free_port()
    settings = {"GATEWAY_ID": "gw-hall", "GATEWAY_ANNOUNCE": "auto"}
    gateway = GatewayProcess(tmp_path, broker.bootstrap, TOPIC, settings, port=port,
                             host=other_host.here).start()
    reader = KafkaReader(broker.bootstrap, TOPIC)
    agent = _agent(other_host, tmp_path, f"wav-paced:{wav}", 1)
    try:
        wait_for(lambda: len(_records(reader)) >= 2, 40, "the first phrases delivered")
        log = agent.log_text()
        assert "gateway chosen: gw-hall" in log and f"ws://{other_host.here}:{port}" in log
        gateway.stop()  # it says goodbye: the agent waits, keeping what it hears
        stopped = len(_records(reader))
        wait_for(lambda: "no gateway found" in agent.log_text(), 10, "the agent to notice")
        time.sleep(6)  # phrases go on meanwhile
        assert len(_records(reader)) == stopped
        gateway = GatewayProcess(tmp_path, broker.bootstrap, TOPIC, settings, port=port,
                                 host=other_host.here).start()
        records = wait_for(lambda: (r := _records(reader)) and len(r) >= len(PHRASES) and r, 60,
                           "every phrase delivered after the gateway returned")
        time.sleep(1.5)
        records = _records(reader)
        assert len(records) == len(PHRASES), "a phrase lost or delivered twice"
        assert len({r.headers["segment_id"] for r in records}) == len(PHRASES)
        counted = account(speech, loud_spans(speech, spoken), records)
        assert counted.exact, counted.table("pi-far, across the gateway's absence")
        agent.stop()
        # started again, it prefers the gateway it used last, and says so
        again = _agent(other_host, tmp_path, "silence", 2)
        try:
            wait_for(lambda: "the gateway it used last" in again.log_text(), 20,
                     "the remembered gateway chosen")
        finally:
            again.stop()
    finally:
        agent.stop()
        reader.close()
        gateway.stop()
