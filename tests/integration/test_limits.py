"""Each limit and protocol violation gets its documented error, `published` flag and close code."""

import json
import re
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from devkit.broker import Broker
from devkit.gateway_process import GatewayProcess
from devkit.kafka_reader import KafkaReader
from devkit.waiting import wait_for
from devkit.ws_client import RawWebSocket, StreamResult, stream_utterance
from tests.process_fixtures import TOPIC, tone_pcm

ORIGIN = "https://good.example"
HEADER_TIMEOUT_S = 2.0
THREADS = 14  # 10 audio connections + 4 extra threads (the defaults)
GOOD = {"Origin": ORIGIN}


@pytest.fixture(scope="module")
def strict(broker: Broker, workdir: Path) -> Iterator[GatewayProcess]:
    g = GatewayProcess(workdir, broker.bootstrap, TOPIC, settings={
        "GATEWAY_IDLE_TIMEOUT_S": "1",
        "GATEWAY_SESSION_TIMEOUT_S": "3",
        "GATEWAY_ALLOWED_ORIGINS": ORIGIN,
        "GATEWAY_MAX_MESSAGES_PER_S": "20",
        "GATEWAY_MESSAGE_BURST": "30",
        "GATEWAY_MAX_BUFFER_BYTES": "64000",
        "GATEWAY_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
    }).start()
    yield g
    g.stop()


def send_text(url: str, text: str) -> StreamResult:
    ws = RawWebSocket(url, headers=GOOD)
    try:
        ws.next_text()
        ws.send_text(text)
        error = ws.next_text()
        return StreamResult(messages=[error], close_code=ws.close_code())
    finally:
        ws.close()


def assert_refused(result: StreamResult, code: str, close_code: int) -> None:
    final = result.final
    assert (final["event"], final["code"], final["published"]) == ("error", code, False), final
    assert final["message"]
    assert result.close_code == close_code


@pytest.mark.parametrize(
    ("text", "code", "close_code"),
    [
        ("{not json", "bad_json", 1007),
        ('{"event":"rewind"}', "unknown_event", 1003),
        ('{"event":"start","sample_rate_hz":48000}', "unsupported_sample_rate", 1003),
        ('{"event":"done"}', "empty_stream", 1007),
    ],
)
def test_bad_messages(strict: GatewayProcess, text: str, code: str, close_code: int) -> None:
    assert_refused(send_text(strict.ws_url, text), code, close_code)


def test_oversized_frame(strict: GatewayProcess) -> None:
    result = stream_utterance(strict.ws_url, [b"\0" * 65538], headers=GOOD)
    assert_refused(result, "frame_too_large", 1009)


def test_frame_above_the_hard_ceiling_is_closed_by_the_websocket_layer(
        strict: GatewayProcess) -> None:
    ws = RawWebSocket(strict.ws_url, headers=GOOD)
    try:
        ws.next_text()
        ws.send_bytes(b"\0" * (4 * 65536 + 2))
        assert ws.close_code() == 1009
    finally:
        ws.close()


def test_buffer_cap(strict: GatewayProcess) -> None:
    result = stream_utterance(strict.ws_url, [b"\0" * 32000, b"\0" * 32000, b"\0\0"], headers=GOOD)
    assert_refused(result, "buffer_full", 1009)


def test_message_flood_is_rate_limited(strict: GatewayProcess) -> None:
    result = stream_utterance(strict.ws_url, [b"\0\0"] * 200, headers=GOOD)
    assert_refused(result, "rate_limited", 1008)


def test_idle_timeout_publishes_what_was_buffered(strict: GatewayProcess,
                                                  reader: KafkaReader) -> None:
    pcm = tone_pcm(0.25)
    ws = RawWebSocket(strict.ws_url, headers=GOOD)
    try:
        cid = ws.next_text()["correlation_id"]
        ws.send_bytes(pcm)
        began = time.monotonic()
        error = ws.next_text()
        waited = time.monotonic() - began
        assert ws.close_code() == 1008
    finally:
        ws.close()
    assert (error["code"], error["published"]) == ("idle_timeout", True)
    assert 0.9 <= waited < 3.0
    landed = reader.find(cid)
    assert (landed.partition, landed.offset) == (error["partition"], error["offset"])
    assert landed.pcm == pcm


def test_slowloris_that_sends_nothing_is_closed_by_the_idle_timeout(strict: GatewayProcess) -> None:
    ws = RawWebSocket(strict.ws_url, headers=GOOD)
    try:
        ws.next_text()
        error = ws.next_text()
        assert (error["code"], error["published"]) == ("idle_timeout", False)
        assert ws.close_code() == 1008
    finally:
        ws.close()


def test_session_cap_ends_a_slow_stream_and_publishes_it(strict: GatewayProcess,
                                                         reader: KafkaReader) -> None:
    ws = RawWebSocket(strict.ws_url, headers=GOOD)
    sent = bytearray()
    try:
        cid = ws.next_text()["correlation_id"]
        began = time.monotonic()
        while time.monotonic() - began < 2.9:
            frame = tone_pcm(0.02)
            ws.send_bytes(frame)
            sent += frame
            time.sleep(0.3)
        error = ws.final_message()
        assert ws.close_code() == 1008
    finally:
        ws.close()
    assert (error["code"], error["published"]) == ("session_timeout", True)
    assert reader.find(cid).pcm == bytes(sent)


def test_disallowed_origin_is_refused_before_the_upgrade(strict: GatewayProcess) -> None:
    ws = RawWebSocket(strict.ws_url, headers={"Origin": "https://evil.example"})
    ws.close()
    assert ws.reject_status == 403
    body = json.loads(ws.reject_body)
    assert (body["code"], body["published"]) == ("origin_forbidden", False)


def test_missing_origin_is_refused_when_an_allowlist_is_set(strict: GatewayProcess) -> None:
    ws = RawWebSocket(strict.ws_url)
    ws.close()
    assert ws.reject_status == 403


def test_refusals_are_counted_by_reason(strict: GatewayProcess) -> None:
    send_text(strict.ws_url, "{not json")
    text = requests.get(f"{strict.http_url}/metrics", timeout=5).text
    assert 'edge_gateway_connections_refused_total{reason="bad_json"}' in text


def test_slowloris_that_sends_a_byte_at_a_time_is_closed_by_the_idle_timeout(
        strict: GatewayProcess) -> None:
    """Bytes of a frame that never completes are not messages: the idle timer keeps running."""
    ws = RawWebSocket(strict.ws_url, headers=GOOD)
    try:
        ws.next_text()
        frame_header = bytes([0x82, 0xFE, 0x01, 0x00])  # binary, masked... never completed
        for byte in frame_header:
            ws.sock.sendall(bytes([byte]))
            time.sleep(0.3)
        error = ws.next_text()
        assert (error["code"], error["published"]) == ("idle_timeout", False)
    finally:
        ws.close()


def dribble_headers(port: int, stop_after_s: float) -> tuple[bool, float]:
    """Send a WebSocket upgrade request a byte every 0.25 s: (cut by the server, when)."""
    request = (b"GET /ws/audio HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        for byte in request:
            if time.monotonic() - began > stop_after_s:
                return False, time.monotonic() - began
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                return True, time.monotonic() - began
            time.sleep(0.25)
    return False, time.monotonic() - began


def health_answers(gateway: GatewayProcess) -> bool:
    try:
        return requests.get(f"{gateway.http_url}/healthz", timeout=0.3).ok
    except requests.RequestException:
        return False


def test_header_slowloris_cannot_starve_the_gateway(strict: GatewayProcess) -> None:
    """More dribbling clients than worker threads: each is cut after the header deadline, and
    a real device is served meanwhile."""
    attackers = THREADS + 6
    with ThreadPoolExecutor(attackers) as pool:
        futures = [pool.submit(dribble_headers, strict.port, 30.0) for _ in range(attackers)]
        wait_for(lambda: not health_answers(strict), 10, "every worker thread taken")
        began = time.monotonic()
        result = stream_utterance(strict.ws_url, [tone_pcm(0.2)], headers=GOOD, timeout_s=20)
        served_after = time.monotonic() - began
        outcomes = [f.result(timeout=40) for f in futures]
    print(f"\nreal client served after {served_after:.1f} s; attackers cut after "
          f"{sorted(round(t, 1) for _, t in outcomes)}")
    assert result.final["event"] == "published"
    assert served_after < 2 * (HEADER_TIMEOUT_S + 1) + 1
    assert all(cut for cut, _ in outcomes), "every dribbler was cut"
    assert max(t for _, t in outcomes) < 2 * (HEADER_TIMEOUT_S + 1) + 5
    text = requests.get(f"{strict.http_url}/metrics", timeout=5).text
    match = re.search(r'reason="header_timeout"} (\S+)', text)
    assert match and float(match.group(1)) >= attackers
