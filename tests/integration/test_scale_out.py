"""Two gateway processes in front of one Kafka: capacity adds up, and a device's utterances
land in the same partition whichever gateway took them (partitioning by device_id)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.broker import Broker
from devkit.gateway_process import GatewayProcess
from devkit.kafka_reader import KafkaReader
from devkit.ws_client import RawWebSocket, frames_of, stream_utterance
from tests.process_fixtures import TOPIC, tone_pcm


@pytest.fixture(scope="module")
def pair(broker: Broker, workdir: Path) -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    a = GatewayProcess(workdir, broker.bootstrap, TOPIC).start()
    b = GatewayProcess(workdir, broker.bootstrap, TOPIC).start()
    yield a, b
    a.stop()
    b.stop()


def test_a_device_lands_in_one_partition_through_either_gateway(
        pair: tuple[GatewayProcess, GatewayProcess], reader: KafkaReader) -> None:
    partitions: dict[str, set[int]] = {}
    for device in ("pi-a", "pi-b", "pi-c", "pi-d", "pi-e", "pi-f"):
        for gateway in pair:
            result = stream_utterance(gateway.ws_url, frames_of(tone_pcm(0.2), 3200),
                                      start={"device_id": device})
            assert result.final["event"] == "published", result.messages
            partitions.setdefault(device, set()).add(int(result.final["partition"]))
            assert reader.find(result.correlation_id).key == device
    print(f"\npartitions by device: {partitions}")
    assert all(len(p) == 1 for p in partitions.values()), partitions
    assert len(set().union(*partitions.values())) > 1, "devices spread over partitions"


def test_capacity_adds_up_and_each_gateway_refuses_its_own_eleventh(
        pair: tuple[GatewayProcess, GatewayProcess]) -> None:
    held = [RawWebSocket(g.ws_url) for g in pair for _ in range(10)]
    try:
        assert all(ws.next_text()["event"] == "connected" for ws in held)
        for gateway in pair:
            extra = RawWebSocket(gateway.ws_url)
            assert extra.reject_status == 503
            extra.close()
    finally:
        for ws in held:
            ws.close()
