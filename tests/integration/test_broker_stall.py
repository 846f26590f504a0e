"""Broker frozen (SIGSTOP) at `done`: that stream gets a retryable publish error in time,
and every other connection keeps being served meanwhile."""

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devkit.broker import Broker
from devkit.gateway_process import GatewayProcess
from devkit.kafka_reader import KafkaReader
from devkit.ws_client import RawWebSocket, StreamResult, frames_of, stream_utterance
from tests.process_fixtures import TOPIC, tone_pcm

PUBLISH_TIMEOUT_S = 3.0


@pytest.fixture
def stall_rig(tmp_path: Path) -> Iterator[tuple[Broker, GatewayProcess]]:
    broker = Broker(tmp_path).start()
    broker.create_topic(TOPIC)
    gateway = GatewayProcess(tmp_path, broker.bootstrap, TOPIC, settings={
        "GATEWAY_PUBLISH_TIMEOUT_S": str(PUBLISH_TIMEOUT_S)})
    try:
        gateway.start()
        # the device's receipts read while Kafka answers: a stall then hits the publish itself
        warm = stream_utterance(gateway.ws_url, [tone_pcm(0.1)], start={"segment_id": "seg-warm"})
        assert warm.final["event"] == "published", warm.messages
        yield broker, gateway
    finally:
        broker.thaw()
        gateway.stop()
        broker.stop()


def test_frozen_broker_gives_unconfirmed_error_and_others_keep_being_served(
        stall_rig: tuple[Broker, GatewayProcess]) -> None:
    broker, gateway = stall_rig
    bystander = RawWebSocket(gateway.ws_url)
    bystander.next_text()
    outcome: list[StreamResult] = []
    frozen = threading.Event()

    def frames() -> Iterator[bytes]:
        yield from frames_of(tone_pcm(0.5), 3200)
        broker.freeze()
        frozen.set()

    streamer = threading.Thread(target=lambda: outcome.append(
        stream_utterance(gateway.ws_url, frames(), start={"segment_id": "seg-stall-1"})))
    try:
        streamer.start()
        assert frozen.wait(10)
        rtts = []
        while streamer.is_alive() and len(rtts) < 100:
            rtts.append(bystander.ping_rtt())
            time.sleep(0.05)
        streamer.join(PUBLISH_TIMEOUT_S + 5)
    finally:
        broker.thaw()
        bystander.close()

    result = outcome[0]
    final = result.final
    assert final["event"] == "error", final
    assert (final["code"], final["published"], final["retryable"]) == (
        "publish_unconfirmed", False, True)
    assert result.close_code == 1013
    assert result.done_sent_at is not None and result.final_at is not None
    assert result.final_at - result.done_sent_at <= PUBLISH_TIMEOUT_S + 1.5
    # The bystander's pings were answered throughout the stall.
    assert len(rtts) >= 10 and max(rtts) < 1.0

    # After SIGCONT the gateway publishes again.
    after = stream_utterance(gateway.ws_url, [tone_pcm(0.2)], start={"segment_id": "seg-after"})
    assert after.final["event"] == "published", after.messages
    reader = KafkaReader(broker.bootstrap, TOPIC)
    try:
        assert reader.find(after.correlation_id).headers["segment_id"] == "seg-after"
    finally:
        reader.close()


def test_gateway_recovers_after_a_long_freeze_that_fences_its_producer(
        stall_rig: tuple[Broker, GatewayProcess]) -> None:
    """A 10 s freeze with a message in flight: Tansu then answers every produce of that
    producer with PRODUCER_FENCED. The gateway must replace the producer and publish again."""
    broker, gateway = stall_rig
    began = time.monotonic()
    broker.freeze()
    try:
        frozen = [stream_utterance(gateway.ws_url, [tone_pcm(0.2)], start={"segment_id": f"f{i}"})
                  for i in range(3)]  # three publishes time out in flight, 3 s each
        time.sleep(max(0.0, 10.0 - (time.monotonic() - began)))  # a 10 s freeze, by definition
    finally:
        broker.thaw()
    assert [f.final["code"] for f in frozen] == ["publish_unconfirmed"] * 3

    finals = []
    for attempt in range(6):  # a client's retries, bounded
        after = stream_utterance(gateway.ws_url, [tone_pcm(0.2)],
                                 start={"segment_id": f"seg-thawed-{attempt}"})
        finals.append(after.final)
        if after.final["event"] == "published":
            break
        assert after.final["retryable"] is True, after.final
        time.sleep(0.5)
    assert finals[-1]["event"] == "published", finals
    metrics = requests.get(f"{gateway.http_url}/metrics", timeout=5).text
    print(f"\nafter the thaw: {[f.get('code', f['event']) for f in finals]}")
    replaced = re.search(r"^edge_gateway_kafka_producer_replacements_total (\S+)$", metrics, re.M)
    assert replaced is not None and float(replaced.group(1)) >= 1


def test_a_device_first_seen_while_kafka_is_frozen_is_told_to_retry_in_time(
        stall_rig: tuple[Broker, GatewayProcess]) -> None:
    """Its receipts cannot be read (issue 24): a retryable refusal within the publish
    timeout, never a guess that its segment is new."""
    broker, gateway = stall_rig
    broker.freeze()
    try:
        result = stream_utterance(gateway.ws_url, [tone_pcm(0.2)],
                                  start={"device_id": "stall-new-device", "segment_id": "s1"})
    finally:
        broker.thaw()
    final = result.final
    assert (final["event"], final["code"], final["published"], final["retryable"]) == (
        "error", "segment_in_progress", False, True), final
    assert result.done_sent_at is not None and result.final_at is not None
    assert result.final_at - result.done_sent_at <= PUBLISH_TIMEOUT_S + 1.5
