"""A stream's buffer is freed as soon as librdkafka holds the event: while Kafka confirms a
1.4 MiB utterance, the gateway holds librdkafka's copy of it, not its own buffer as well.
Kafka is a stub here (pure logic); the real publisher and serializer build the event."""

from __future__ import annotations

from typing import Any

import pytest

from edge_gateway.ingest import UtterancePublisher
from edge_gateway.limits import StreamLimits
from edge_gateway.metrics import GatewayMetrics
from edge_gateway.publisher import Delivery
from edge_gateway.stream import AudioConnection, StreamHandler
from ingress_common.audio_event import deserialize_schemaless, serialize_schemaless
from tests.unit.edge_gateway.test_stream_verdict import ScriptedSocket


class KafkaStub:
    topic = "t"

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def partitions(self, topic_name: str | None = None) -> int:
        return 1

    def send(self, value: bytes, **_: Any) -> str:
        self.sent.append(value)
        return "in flight"

    def wait(self, pending: str, on_late: Any = None) -> Delivery:
        return Delivery("t", 0, 7)


def test_the_buffer_is_released_once_librdkafka_holds_the_event() -> None:
    pcm = b"\1\2" * 4000
    kafka, metrics = KafkaStub(), GatewayMetrics()
    publisher = UtterancePublisher(kafka, serialize_schemaless, "test", metrics)  # type: ignore[arg-type]
    handler = StreamHandler(StreamLimits(), publisher, metrics)
    ws = ScriptedSocket([pcm[i:i + 1600] for i in range(0, len(pcm), 1600)] + ['{"event":"done"}'], [])
    connection = AudioConnection(handler, ws, "cid", None, lambda: None)  # type: ignore[arg-type]
    connection._receive_until_done()

    audio = connection._audio()
    audio.prepare()  # as the ledger does while its claim travels
    assert bytes(connection.session.pcm) == pcm, "kept while the event is not yet sent"
    landed = audio.publish()

    assert landed.offset == 7 and landed.audio_bytes == len(pcm)
    assert bytes(deserialize_schemaless(kafka.sent[0]).wav).endswith(pcm), "the event has it all"
    assert connection.session.buffered_bytes == len(pcm), "its size is still known"
    with pytest.raises(RuntimeError):
        connection.session.pcm  # noqa: B018 - the buffer is gone
