"""From a finished stream to a confirmed Kafka event: WAV, Avro, produce, delivery report.

A stream hands its audio over as a value, a `PendingUtterance`, and gets back the
`Location` where it landed. Two steps, so that a caller can build the event while it waits
for something else (the ledger builds it while its claim is on its way to Kafka):
`prepare()` serializes the utterance, `publish()` produces it and waits for the delivery
report.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from edge_gateway.landing import LateLocation, Location
from edge_gateway.metrics import GatewayMetrics
from edge_gateway.publisher import Delivery, KafkaPublisher
from edge_gateway.record_headers import audio_headers
from ingress_common.audio_event import AudioInputEvent, EventSerializer
from ingress_common.kafka_topics import partition_for
from ingress_common.pcm import duration_ms
from ingress_common.protocol import Heard, Start
from ingress_common.refusals import PublishFailed, PublishUnconfirmed
from ingress_common.wav import wav_parts


@dataclass
class PreparedUtterance:
    """One utterance serialized for Kafka and not yet produced."""

    value: bytes | None
    """Dropped once librdkafka holds its own copy."""
    key: str
    headers: dict[str, str]
    partition: int | None
    correlation_id: str
    audio_bytes: int
    duration_ms: int
    release_source: Callable[[], None] = lambda: None
    """Frees the buffer the event was built from, once librdkafka holds its copy."""

    def located_at(self, delivery: Delivery) -> Location:
        return Location(delivery.topic, delivery.partition, delivery.offset,
                        self.correlation_id, self.audio_bytes, self.duration_ms)


class UtterancePublisher:
    def __init__(self, kafka: KafkaPublisher, serialize: EventSerializer, source_service: str,
                 metrics: GatewayMetrics) -> None:
        self._kafka = kafka
        self._serialize = serialize
        self._source_service = source_service
        self._metrics = metrics

    def prepare(self, pcm: bytes | memoryview, start: Start, correlation_id: str,
                release_source: Callable[[], None] = lambda: None,
                heard: Heard | None = None) -> PreparedUtterance:
        """Serialize one utterance (the PCM is copied once, into the event). A device's
        records all go to one partition (`partition_for` its id). `release_source` is
        called once the event is in librdkafka's hands: the PCM is not needed after that."""
        duration = duration_ms(len(pcm))
        key = start.device_id or correlation_id
        event = AudioInputEvent.create(correlation_id, wav_parts(pcm, start.sample_rate_hz),
                                       start.sample_rate_hz, self._source_service,
                                       start.language_hint)
        return PreparedUtterance(self._serialize(event, self._kafka.topic), key,
                                 audio_headers(start, correlation_id, len(pcm), duration, heard),
                                 partition_for(key, self._kafka.partitions()),
                                 correlation_id, len(pcm), duration,
                                 release_source)

    def publish(self, utterance: PreparedUtterance,
                on_late: LateLocation | None = None) -> Location:
        """Produce a prepared utterance and return where it landed, or raise a publish
        refusal. When the wait for Kafka times out, `on_late` is told where it landed after
        all."""
        began = time.monotonic()
        value, utterance.value = utterance.value, None
        if value is None:
            raise RuntimeError("an utterance is published once")
        late = None if on_late is None else (
            lambda delivery: on_late(None if delivery is None else utterance.located_at(delivery)))
        try:
            sending = self._kafka.send(value, key=utterance.key, headers=utterance.headers,
                                       partition=utterance.partition)
            del value  # librdkafka holds its own copy while we wait
            utterance.release_source()  # and the stream's buffer is not needed either
            delivery = self._kafka.wait(sending, on_late=late)
        except (PublishFailed, PublishUnconfirmed) as refusal:
            self._metrics.publish_failed.labels(refusal.code).inc()
            raise
        self._metrics.publish_latency.observe(time.monotonic() - began)
        self._metrics.published.inc()
        self._metrics.audio_bytes.inc(utterance.audio_bytes)
        return utterance.located_at(delivery)  # the caller logs it, after its reply


class PendingUtterance:
    """A finished stream's audio, handed over as a value: the buffered PCM and the `start`
    that describes it. Its event is built once (`prepare`, which the ledger runs while its
    claim travels) and published at most once; the stream's buffer is freed (`release`) as
    soon as librdkafka holds the event. The ledger's `SegmentAudio`."""

    def __init__(self, publisher: UtterancePublisher, pcm: bytes | memoryview, start: Start,
                 correlation_id: str, release: Callable[[], None] = lambda: None,
                 heard: Heard | None = None) -> None:
        self._publisher = publisher
        self._args = (pcm, start, correlation_id, release, heard)
        self._prepared: PreparedUtterance | None = None

    def prepare(self) -> None:
        if self._prepared is None:
            pcm, start, correlation_id, release, heard = self._args
            self._prepared = self._publisher.prepare(pcm, start, correlation_id, release, heard)

    def publish(self, late: LateLocation | None = None) -> Location:
        self.prepare()
        prepared, self._prepared = self._prepared, None
        assert prepared is not None
        return self._publisher.publish(prepared, on_late=late)
