"""Exact PCM round trips through a real gunicorn gateway and a real broker."""

import hashlib
import sys
from pathlib import Path

import requests

from devkit.gateway_process import GatewayProcess
from devkit.kafka_reader import KafkaReader
from devkit.ws_client import frames_of, stream_utterance
from edge_gateway.limits import DEFAULT_MAX_BUFFER_BYTES
from ingress_common.wav import wav_to_pcm
from tests.process_fixtures import TOPIC, tone_pcm


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_one_second_round_trip_is_exact(gateway: GatewayProcess, reader: KafkaReader) -> None:
    pcm = tone_pcm(1.0)
    result = stream_utterance(gateway.ws_url, frames_of(pcm, 640),  # 20 ms frames
                              start={"device_id": "pi-1", "segment_id": "pi-1:b:1",
                                     "language_hint": "en-US", "captured_at_ms": 1790000000000})
    assert result.close_code == 1000
    published = result.final
    assert published["event"] == "published"
    assert published["duration_ms"] == 1000 and published["audio_bytes"] == len(pcm)
    assert [m["seq"] for m in result.messages if m["event"] == "ack"] == [10, 20, 30, 40, 50]

    landed = reader.find(result.correlation_id)
    assert (landed.topic, landed.partition, landed.offset) == (
        TOPIC, published["partition"], published["offset"])
    assert sha(landed.pcm) == sha(pcm)
    _, rate, channels = wav_to_pcm(landed.event.wav)
    assert (rate, channels) == (16000, 1)
    assert landed.key == "pi-1"
    assert landed.headers["segment_id"] == "pi-1:b:1"
    assert landed.headers["device_id"] == "pi-1"
    assert landed.headers["correlation_id"] == result.correlation_id
    assert landed.headers["captured_at_ms"] == "1790000000000"
    assert landed.event.language_hint == "en-US"
    assert landed.event.source_service == "edge-gateway"


def test_full_buffer_round_trip_is_exact(gateway: GatewayProcess, reader: KafkaReader) -> None:
    pcm = (bytes(range(256)) * (DEFAULT_MAX_BUFFER_BYTES // 256 + 1))[:DEFAULT_MAX_BUFFER_BYTES]
    assert len(pcm) == DEFAULT_MAX_BUFFER_BYTES  # 1.4 MiB: above librdkafka's 1,000,000 default
    result = stream_utterance(gateway.ws_url, frames_of(pcm, 65536))
    assert result.final["event"] == "published", result.messages
    assert sha(reader.find(result.correlation_id).pcm) == sha(pcm)


def test_client_supplied_correlation_id_is_ignored(gateway: GatewayProcess,
                                                   reader: KafkaReader) -> None:
    result = stream_utterance(gateway.ws_url, [tone_pcm(0.1)],
                              start={"correlation_id": "client-chosen"})
    assert result.correlation_id != "client-chosen"
    assert reader.find(result.correlation_id).event.correlation_id == result.correlation_id


def test_key_is_the_correlation_id_without_a_device_id(gateway: GatewayProcess,
                                                       reader: KafkaReader) -> None:
    result = stream_utterance(gateway.ws_url, [tone_pcm(0.1)])
    assert reader.find(result.correlation_id).key == result.correlation_id


def test_disconnect_without_done_publishes_what_was_buffered(gateway: GatewayProcess,
                                                             reader: KafkaReader) -> None:
    pcm = tone_pcm(0.5)
    result = stream_utterance(gateway.ws_url, frames_of(pcm, 3200), send_done=False)
    assert sha(reader.find(result.correlation_id).pcm) == sha(pcm)


def test_health_readiness_and_metrics(gateway: GatewayProcess) -> None:
    assert requests.get(f"{gateway.http_url}/healthz", timeout=5).json()["status"] == "ok"
    ready = requests.get(f"{gateway.http_url}/readyz", timeout=5)
    assert ready.status_code == 200 and ready.json()["topic"] == TOPIC
    stream_utterance(gateway.ws_url, [tone_pcm(0.1)])
    text = requests.get(f"{gateway.http_url}/metrics", timeout=5).text
    published = [line for line in text.splitlines()
                 if line.startswith("edge_gateway_events_published_total ")]
    assert published and float(published[0].split()[1]) >= 1
    assert "edge_gateway_publish_latency_seconds_bucket" in text


def test_plain_gunicorn_command_serves_the_same_app(broker, workdir, reader: KafkaReader) -> None:
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    g = GatewayProcess(workdir, broker.bootstrap, TOPIC, command=[
        gunicorn, "-c", "python:edge_gateway.hosting.gunicorn_config",
        "edge_gateway.hosting.wsgi:app"]).start()
    try:
        pcm = tone_pcm(0.3)
        result = stream_utterance(g.ws_url, frames_of(pcm, 3200))
        assert result.final["event"] == "published"
        assert reader.find(result.correlation_id).pcm == pcm
        worker = "edge_gateway.hosting.gthread_worker.GatewayThreadWorker"
        assert f"Using worker: {worker}" in g.log_path.read_text()
    finally:
        g.stop()
