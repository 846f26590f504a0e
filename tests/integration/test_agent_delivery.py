"""Agent → gunicorn gateway → Tansu broker, all real processes; the microphone is a WAV file.

1. A 60 s recording with pauses arrives as one segment per utterance, each an exact slice of
   the input, covering every burst of speech and (almost) none of the silence.
2. Gateway SIGKILLed mid-stream and restarted, then the broker frozen for 10 s: nothing is
   lost; duplicates (at-least-once) are identified by segment_id and counted.
3. Directory spool: the agent is SIGKILLed during an outage; after a restart the spooled
   segments are delivered, oldest first, with their original segment ids.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.agent_process import AgentProcess, account, write_wav
from devkit.broker import Broker
from devkit.fault_rig import (
    active_connections,
    events_of,
    record_accounting,
    status_value,
    wait_for,
)
from devkit.gateway_process import GatewayProcess
from devkit.kafka_reader import KafkaReader
from devkit.ports import free_port
from devkit.signals import silence, utterances_with_pauses
from tests.process_fixtures import TOPIC

BYTES_PER_S = 32000
PREROLL_S = 0.3
HANGOVER_S = 0.6
PERIOD_BYTES = 640  # one 20 ms period


def test_sixty_seconds_with_pauses_arrive_as_exact_utterances(
        broker: Broker, reader: KafkaReader, gateway: GatewayProcess, tmp_path: Path) -> None:
    signal, bursts = utterances_with_pauses(count=10, speech_s=3.0, pause_s=2.5, seed=7)
    assert 57 <= len(signal) / BYTES_PER_S <= 61
    wav = write_wav(tmp_path / "sixty.wav", signal)
    agent = AgentProcess(tmp_path, gateway.ws_url, f"wav:{wav}", "e2e-sixty").start()
    try:
        assert agent.wait(120) == 0, agent.process.log_text()[-3000:] if agent.process else ""
    finally:
        agent.stop()

    events = sorted(events_of(reader, "e2e-sixty", len(bursts), 30),
                    key=lambda e: int(e.headers["segment_id"].rsplit(":", 1)[1]))
    assert len(events) == len(bursts)
    offsets = [signal.find(e.pcm) for e in events]
    assert all(o >= 0 for o in offsets), "every segment is an exact slice of the input"
    for (b0, b1), start, event in zip(bursts, offsets, events, strict=True):
        end = start + len(event.pcm)
        assert start <= b0 and b1 <= end, "the segment holds its whole burst of speech"
        assert b0 - start <= PREROLL_S * BYTES_PER_S + PERIOD_BYTES, "at most the pre-roll before"
        assert end - b1 <= HANGOVER_S * BYTES_PER_S + 2 * PERIOD_BYTES, "at most the hangover after"
    speech = b"".join(signal[b0:b1] for b0, b1 in bursts)
    delivered_speech = b"".join(e.pcm[b0 - o:b1 - o]
                                for (b0, b1), o, e in zip(bursts, offsets, events, strict=True))
    assert delivered_speech == speech
    sent_s = sum(len(e.pcm) for e in events) / BYTES_PER_S
    silent_s = (len(signal) - len(speech)) / BYTES_PER_S
    print(f"\n60 s input: {len(events)} segments, {sent_s:.1f} s sent, "
          f"{len(signal) / BYTES_PER_S - sent_s:.1f} s of {silent_s:.1f} s silence not sent")


@pytest.fixture
def fault_rig(tmp_path: Path) -> Iterator[tuple[Broker, GatewayProcess, KafkaReader]]:
    broker = Broker(tmp_path).start()
    broker.create_topic(TOPIC)
    gateway = GatewayProcess(tmp_path, broker.bootstrap, TOPIC,
                             settings={"GATEWAY_PUBLISH_TIMEOUT_S": "3"})
    reader = KafkaReader(broker.bootstrap, TOPIC)
    try:
        gateway.start()
        yield broker, gateway, reader
    finally:
        broker.thaw()
        reader.close()
        gateway.stop()
        broker.stop()


def test_gateway_crash_and_broker_freeze_lose_nothing(
        fault_rig: tuple[Broker, GatewayProcess, KafkaReader], tmp_path: Path) -> None:
    broker, gateway, reader = fault_rig
    signal, bursts = utterances_with_pauses(count=8, speech_s=2.0, pause_s=1.5, seed=11)
    wav = write_wav(tmp_path / "faults.wav", signal)
    agent = AgentProcess(tmp_path, gateway.ws_url, f"wav-paced:{wav}", "e2e-faults").start()
    try:
        wait_for(lambda: status_value(agent, "segments_acked") >= 1, 30, "a first delivery")
        wait_for(lambda: active_connections(gateway) >= 1, 15, "a segment streaming live")
        assert gateway.process is not None
        gateway.process.kill()  # SIGKILL, mid-stream
        retried_before = status_value(agent, "segments_retried")
        time.sleep(2.0)  # the outage: the agent keeps capturing and spooling
        gateway.start()
        acked = status_value(agent, "segments_acked")
        wait_for(lambda: status_value(agent, "segments_acked") > acked, 30,
                 "a delivery after the gateway restart")
        wait_for(lambda: active_connections(gateway) >= 1, 15, "a segment streaming live")
        broker.freeze()
        time.sleep(10.0)  # the outage under test lasts this long by definition
        broker.thaw()
        assert agent.wait(120) == 0, agent.process.log_text()[-3000:] if agent.process else ""
        final = agent.status()
    finally:
        broker.thaw()
        agent.stop()

    events = events_of(reader, "e2e-faults", len(bursts), 60)
    accounting = account(signal, bursts, events)
    print(accounting.table("gateway SIGKILL + 2 s down, broker frozen 10 s"))
    record_accounting(accounting.table("agent end-to-end: gateway SIGKILL + 2 s down, then "
                                       "broker frozen 10 s") + "\n")
    print(f"agent: sent={final['segments_sent']} acked={final['segments_acked']} "
          f"retried={final['segments_retried']} (before the crash: {retried_before})")
    assert int(final["segments_retried"]) > max(retried_before, 0), "the faults hit deliveries"
    assert accounting.exact, accounting
    assert final["segments_acked"] == len(bursts)


def test_directory_spool_survives_an_agent_crash_during_an_outage(
        broker: Broker, reader: KafkaReader, tmp_path: Path) -> None:
    signal, bursts = utterances_with_pauses(count=4, speech_s=1.5, pause_s=1.5, seed=23)
    wav = write_wav(tmp_path / "outage.wav", signal)
    spool_dir = tmp_path / "spool"
    port = free_port()  # nothing listens here yet: the gateway is down
    url = f"ws://127.0.0.1:{port}/ws/audio"
    spool = {"AGENT_SPOOL_DIR": str(spool_dir)}
    first = AgentProcess(tmp_path, url, f"wav:{wav}", "e2e-spool", settings=spool).start()
    try:
        wait_for(lambda: status_value(first, "spool_depth") == len(bursts)
                 and len(list(spool_dir.glob("*.seg"))) == len(bursts), 60,
                 "every segment spooled to disk")
        assert first.process is not None
        first.process.kill()  # a crash, in the middle of the outage
    finally:
        first.stop()
    spooled_files = sorted(p.name for p in spool_dir.glob("*.seg"))
    assert len(spooled_files) == len(bursts)

    gateway = GatewayProcess(tmp_path, broker.bootstrap, TOPIC, port=port).start()
    quiet = write_wav(tmp_path / "quiet.wav", silence(1.0))
    second = AgentProcess(tmp_path, url, f"wav:{quiet}", "e2e-spool", settings=spool).start()
    try:
        assert second.wait(60) == 0, second.process.log_text()[-3000:] if second.process else ""
    finally:
        second.stop()
        gateway.stop()

    events = sorted(events_of(reader, "e2e-spool", len(bursts), 30), key=lambda e: e.offset)
    assert account(signal, bursts, events).exact
    assert list(spool_dir.glob("*.seg")) == [], "delivered segments leave the spool"
    seqs = [int(e.headers["segment_id"].rsplit(":", 1)[1]) for e in events]
    assert seqs == sorted(seqs) == list(range(1, len(bursts) + 1)), "replayed oldest first"
    delivered_ids = [e.headers["segment_id"] for e in events]
    assert [name.split("-", 1)[1].removesuffix(".seg") for name in spooled_files] == \
        [i.replace(":", "_") for i in delivered_ids], \
        "ids were assigned by the first run and kept"
