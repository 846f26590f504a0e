"""The gateway reads each WebSocket in the connection's own thread (issue 13): no reader
thread per connection, and a receive stays bounded however slowly a frame dribbles in."""

from __future__ import annotations

import json
import select
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from wsproto.events import BytesMessage

from devkit.broker import Broker
from devkit.gateway_process import GatewayProcess
from devkit.ws_client import RawWebSocket
from tests.process_fixtures import TOPIC

OPEN_STREAMS = 6


@pytest.fixture()
def fresh_gateway(broker: Broker, tmp_path: Path) -> Iterator[GatewayProcess]:
    g = GatewayProcess(tmp_path, broker.bootstrap, TOPIC,
                       settings={"GATEWAY_IDLE_TIMEOUT_S": "1.5"}).start()
    yield g
    g.stop()


def worker_threads(gateway: GatewayProcess) -> int:
    worker = gateway.worker_pids()[-1]
    return len(list(Path(f"/proc/{worker}/task").iterdir()))


def open_stream(gateway: GatewayProcess, device: str) -> RawWebSocket:
    ws = RawWebSocket(gateway.ws_url)
    ws.send_text(json.dumps({"event": "start", "device_id": device}))
    assert ws.next_text()["event"] == "connected"
    return ws


def test_an_open_stream_costs_one_thread_not_two(fresh_gateway: GatewayProcess) -> None:
    before = worker_threads(fresh_gateway)
    streams = [open_stream(fresh_gateway, f"threads-{i}") for i in range(OPEN_STREAMS)]
    try:
        grown = worker_threads(fresh_gateway) - before
    finally:
        for ws in streams:
            ws.close()
    # Each stream needs its gthread pool thread; simple-websocket's reader thread made two.
    assert grown <= OPEN_STREAMS, f"{grown} threads for {OPEN_STREAMS} open streams"


def test_a_frame_dribbled_byte_by_byte_still_meets_the_idle_timeout(
        fresh_gateway: GatewayProcess) -> None:
    ws = open_stream(fresh_gateway, "dribble")
    frame = ws.ws.send(BytesMessage(data=b"\0" * 3200))
    began = time.monotonic()
    answered_at = None
    for byte in frame[:40]:  # 4 s, never a whole message
        ws.sock.sendall(bytes([byte]))
        if select.select([ws.sock], [], [], 0.1)[0]:  # the gateway said something
            answered_at = time.monotonic()
            break
    assert answered_at is not None, "the gateway waited for the whole dribble"
    final = ws.final_message()
    elapsed = answered_at - began
    assert final["code"] == "idle_timeout"
    assert elapsed < 1.5 + 1.0, f"the idle timeout took {elapsed:.1f} s"
