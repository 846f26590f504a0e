"""Event framing with a schema registry (issue 22): the real gateway, the real broker, and a
stub registry that records what was registered. Each event is read back raw from Kafka
with the consumer calls its framing's readers make."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import fastavro
import pytest
import requests
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from devkit.broker import Broker
from devkit.gateway_process import GatewayProcess
from devkit.kafka_reader import KafkaReader
from devkit.ports import free_port
from devkit.schema_registry_stub import SchemaRegistryStub
from devkit.segments import new_segment_id, send_segment
from devkit.signals import tone
from devkit.waiting import wait_for
from devkit.ws_client import RawWebSocket
from ingress_common.wav import wav_to_pcm
from tests.process_fixtures import TOPIC

SUBJECT = f"{TOPIC}-value"
PCM = tone(1.0, 440)
SPEECH_LIB_SCHEMA = json.loads(
    resources.files("ingress_common").joinpath("schemas/audio_input_event.avsc").read_text())
"""The shipped schema file: `speech-lib`'s AudioInputEvent (namespace checked in test_events)."""


@pytest.fixture
def registry() -> Iterator[SchemaRegistryStub]:
    stub = SchemaRegistryStub().start()
    yield stub
    stub.stop()


def gateway_with(broker: Broker, workdir: Path, settings: dict[str, str],
                 wait_ready: bool = True) -> GatewayProcess:
    return GatewayProcess(workdir, broker.bootstrap, TOPIC, settings=settings).start(wait_ready)


def raw_value(bootstrap: str, published: dict[str, Any]) -> bytes:
    """The record's value exactly as Kafka holds it, at the place the reply names."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "framing-raw",
                         "enable.auto.commit": False,
                         "fetch.max.bytes": 8 * 1024 * 1024,
                         "max.partition.fetch.bytes": 8 * 1024 * 1024})
    try:
        consumer.assign([TopicPartition(TOPIC, published["partition"], published["offset"])])
        for _ in range(100):
            msg = consumer.poll(0.2)
            if msg is not None and not msg.error() and msg.offset() == published["offset"]:
                value = msg.value()
                assert value is not None
                return value
        raise LookupError(f"no record at {published}")
    finally:
        consumer.close()


def publish_one(gateway: GatewayProcess, device: str) -> dict[str, Any]:
    result = send_segment(gateway.ws_url, device, new_segment_id(device), PCM)
    assert result.final["event"] == "published", result.messages
    return result.final


def test_default_framing_with_a_registry_is_what_speech_lib_reads(
        broker: Broker, workdir: Path, registry: SchemaRegistryStub) -> None:
    gateway = gateway_with(broker, workdir, {"SCHEMA_REGISTRY_URL": registry.url})
    try:
        published = publish_one(gateway, "framing-default")
        value = raw_value(broker.bootstrap, published)
    finally:
        gateway.stop()
    # speech-lib's consumer: KafkaConsumerWrapper.poll, then deserialize_event, which is
    # fastavro.schemaless_reader on the raw value with the AudioInputEvent schema.
    record: Any = fastavro.schemaless_reader(io.BytesIO(value),
                                             fastavro.parse_schema(SPEECH_LIB_SCHEMA))
    assert record["correlation_id"] == published["correlation_id"]
    assert record["event_type"] == "AudioInputEvent"
    assert wav_to_pcm(record["payload"]["audio_bytes"]) == (PCM, 16000, 1)
    assert [(r.subject, r.schema_type) for r in registry.registered] == [(SUBJECT, "AVRO")]
    assert json.loads(registry.registered[0].schema) == SPEECH_LIB_SCHEMA
    assert gateway.process is not None
    assert f"event schema registered under {SUBJECT}" in gateway.process.log_text()


def test_confluent_framing_is_read_by_avro_deserializer(
        broker: Broker, workdir: Path, registry: SchemaRegistryStub, reader: KafkaReader) -> None:
    gateway = gateway_with(broker, workdir, {"SCHEMA_REGISTRY_URL": registry.url,
                                             "GATEWAY_EVENT_FRAMING": "confluent"})
    try:
        published = publish_one(gateway, "framing-confluent")
        value = raw_value(broker.bootstrap, published)
    finally:
        gateway.stop()
    schema_id = registry.registered[0].schema_id
    assert value[:5] == b"\0" + schema_id.to_bytes(4, "big")
    deserialize = AvroDeserializer(SchemaRegistryClient({"url": registry.url}))
    record: Any = deserialize(value, SerializationContext(TOPIC, MessageField.VALUE))
    assert record["correlation_id"] == published["correlation_id"]
    assert wav_to_pcm(record["payload"]["audio_bytes"]) == (PCM, 16000, 1)
    assert [r.subject for r in registry.registered] == [SUBJECT]
    # devkit's reader (the demo's, the suite's) reads this framing too
    assert reader.find(published["correlation_id"]).pcm == PCM


def test_confluent_framing_waits_for_the_registry_and_refuses_audio_until_then(
        broker: Broker, workdir: Path) -> None:
    port = free_port()
    gateway = gateway_with(broker, workdir, {
        "SCHEMA_REGISTRY_URL": f"http://127.0.0.1:{port}", "GATEWAY_EVENT_FRAMING": "confluent",
        "KAFKA_STARTUP_TIMEOUT_S": "2"}, wait_ready=False)
    registry: SchemaRegistryStub | None = None
    try:
        ready = _await_readyz(gateway, lambda r: r.status_code == 503 and "schema" in r.text)
        assert f"not registered under {SUBJECT}" in ready.json()["reason"]
        refused = RawWebSocket(gateway.ws_url)
        assert refused.reject_status == 503
        body = json.loads(refused.reject_body)
        assert (body["code"], body["published"], body["retryable"]) == (
            "schema_unregistered", False, True)
        refused.close()

        registry = SchemaRegistryStub(port=port).start()
        _await_readyz(gateway, lambda r: r.status_code == 200)
        published = publish_one(gateway, "framing-late-registry")
        value = raw_value(broker.bootstrap, published)
        assert value[0] == 0 and [r.subject for r in registry.registered] == [SUBJECT]
    finally:
        gateway.stop()
        if registry is not None:
            registry.stop()


def _await_readyz(gateway: GatewayProcess, wanted: Callable[[requests.Response], bool],
                  timeout_s: float = 30.0) -> requests.Response:
    def probe() -> list[requests.Response]:  # a list: a 503 Response is falsy
        try:
            answer = requests.get(f"{gateway.http_url}/readyz", timeout=5)
        except requests.ConnectionError:
            return []
        return [answer] if wanted(answer) else []

    return wait_for(probe, timeout_s, "the gateway's /readyz")[0]
