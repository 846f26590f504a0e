"""Shared fixtures: a real Tansu broker and real gateway processes on free loopback ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.broker import Broker
from devkit.gateway_process import GatewayProcess
from devkit.kafka_reader import KafkaReader
from devkit.log_audit import LOG_PATHS, SECRETS, audit
from devkit.signals import tone as tone_pcm
from edge_gateway.settings import DEFAULT_TOPIC

TOPIC = DEFAULT_TOPIC
__all__ = ["TOPIC", "tone_pcm"]  # what the test modules import from here


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/integration/ or tests/faults/ starts real processes."""
    for item in items:
        if {"integration", "faults"} & set(item.path.parts):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session", autouse=True)
def log_audit() -> Iterator[None]:
    """After the whole session: no log any test process wrote holds audio bytes or a token."""
    yield
    findings = audit(LOG_PATHS, SECRETS)
    assert not findings, "logs leaked payloads:\n" + "\n".join(findings[:20])


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("procs")


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
