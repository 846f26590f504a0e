"""The fixtures of real processes: a Tansu broker and gateways on free loopback ports.

Imported by the conftests of tests/integration/ and tests/faults/ only, so that the unit
tests (the agent's above all) run on a box that has neither confluent-kafka nor the
gateway's packages: `pytest tests/unit/device_agent` on a device (issue 34)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.broker import Broker
from devkit.gateway_process import GatewayProcess
from devkit.kafka_reader import KafkaReader
from devkit.signals import tone as tone_pcm
from edge_gateway.settings import DEFAULT_TOPIC

TOPIC = DEFAULT_TOPIC
__all__ = ["TOPIC", "broker", "gateway", "reader", "tone_pcm"]


@pytest.fixture(scope="session")
def broker(workdir: Path) -> Iterator[Broker]:
    b = Broker(workdir).start()
    b.create_topic(TOPIC)
    yield b
    b.stop()


@pytest.fixture(scope="session")
def reader(broker: Broker) -> Iterator[KafkaReader]:
    r = KafkaReader(broker.bootstrap, TOPIC)
    yield r
    r.close()


@pytest.fixture(scope="module")
def gateway(broker: Broker, workdir: Path) -> Iterator[GatewayProcess]:
    g = GatewayProcess(workdir, broker.bootstrap, TOPIC).start()
    yield g
    g.stop()
