"""Each limit and protocol violation gets its documented error, `published` flag and close code."""

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devkit.broker import Broker
from devkit.gateway_process import GatewayProcess
from devkit.kafka_reader import KafkaReader
from devkit.ws_client import RawWebSocket, StreamResult, stream_utterance
from tests.conftest import TOPIC, tone_pcm

ORIGIN = "https://good.example"
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
