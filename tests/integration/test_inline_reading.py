"""The gateway reads each WebSocket in the connection's own thread (issue 13): no reader
thread per connection, and a receive stays bounded however slowly a frame dribbles in."""

from __future__ import annotations

import base64
import itertools
import json
import os
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from simple_websocket import Server
from wsproto.events import BytesMessage
from wsproto.frame_protocol import FrameProtocol

from devkit.broker import Broker
from devkit.gateway_process import GatewayProcess
from devkit.ws_client import RawWebSocket
from edge_gateway.app import RECEIVE_BYTES
from edge_gateway.hosting.frame_boundaries import MAX_HEADER_BYTES
from edge_gateway.hosting.inline_websocket import InlineReading
from tests.conftest import TOPIC

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


def _inline_server(sock: socket.socket) -> Any:
    """A real InlineServer on one end of a socket pair, as flask-sock would build it."""
    environ = {"gunicorn.socket": sock, "HTTP_HOST": "gateway", "HTTP_UPGRADE": "websocket",
               "HTTP_CONNECTION": "Upgrade", "HTTP_SEC_WEBSOCKET_VERSION": "13",
               "HTTP_SEC_WEBSOCKET_KEY": base64.b64encode(os.urandom(16)).decode()}
    return Server(environ, thread_class=InlineReading, max_message_size=4 * 65536,
                  receive_bytes=RECEIVE_BYTES + MAX_HEADER_BYTES)


@pytest.mark.parametrize("write_bytes", [65536, 4099, 1])
def test_wsproto_is_handed_whole_frames_however_the_bytes_arrive(write_bytes: int) -> None:
    """64 KiB frames written in pieces that straddle them: each message comes out whole,
    and every chunk wsproto is given ends on a frame boundary (a frame's start waits in the
    buffer), except inside a frame too large for the buffer, which is streamed to it."""
    client_sock, server_sock = socket.socketpair()
    server = _inline_server(server_sock)
    handed: list[int] = []
    receive_data = server.ws.receive_data
    server.ws.receive_data = lambda data: (handed.append(len(data)), receive_data(data))
    client_sock.recv(4096)  # the 101 response
    client = FrameProtocol(client=True, extensions=[])
    payloads = [os.urandom(65536), os.urandom(3200), os.urandom(65536), os.urandom(100_000)]
    frames = [client.send_data(p, fin=True) for p in payloads[:2]]
    frames += [client.ping(b"hi"), *(client.send_data(p, fin=True) for p in payloads[2:])]
    wire = b"".join(frames)
    writes = threading.Thread(target=lambda: [client_sock.sendall(wire[i:i + write_bytes])
                                              for i in range(0, len(wire), write_bytes)])
    writes.start()
    try:
        received = [server.receive(timeout=10) for _ in payloads]
    finally:
        writes.join(10)
        client_sock.close()
        server_sock.close()
    assert received == payloads
    boundaries = set(itertools.accumulate(len(f) for f in frames))
    ends = list(itertools.accumulate(handed))
    oversized_from = sum(len(f) for f in frames[:-1])  # the 100,000-byte frame
    assert [end for end in ends if end <= oversized_from and end not in boundaries] == []
    assert ends[-1] == len(wire)
