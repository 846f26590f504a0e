"""A 60 s Kafka outage writes a bounded number of log lines, all JSON (issue 11: the
landed gateway wrote about 30 lines a second, half of them raw librdkafka text)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from devkit.broker import Broker
from devkit.fault_rig import record_accounting
from devkit.gateway_process import GatewayProcess
from tests.process_fixtures import TOPIC

pytestmark = pytest.mark.faults
OUTAGE_S = 60.0
MAX_LINES = 10


def test_a_sixty_second_broker_outage_writes_few_json_lines(tmp_path: Path) -> None:
    broker = Broker(tmp_path).start()
    broker.create_topic(TOPIC)
    gateway = GatewayProcess(tmp_path, broker.bootstrap, TOPIC).start()
    try:
        before = gateway.log_path.stat().st_size
        broker.kill()
        time.sleep(OUTAGE_S)  # the outage lasts this long by definition
        with gateway.log_path.open("rb") as log:
            log.seek(before)
            lines = log.read().decode().splitlines()
    finally:
        gateway.stop()
        broker.stop()
    record_accounting(f"60 s broker outage: {len(lines)} gateway log lines\n")
    print("\n".join(lines))
    records = [json.loads(line) for line in lines]  # every line is JSON
    assert all("level" in r and "msg" in r for r in records)
    assert len(lines) <= MAX_LINES, lines
