"""Shared by every test: the marker of tests that start real processes, the session-wide
log audit, and a work directory. Nothing here imports Kafka or the gateway: the fixtures
of real processes are in `tests/process_fixtures.py`, taken in by the conftests of
tests/integration/ and tests/faults/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.log_audit import LOG_PATHS, SECRETS, audit


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
