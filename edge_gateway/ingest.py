"""From a finished stream to a confirmed Kafka event: WAV, Avro, produce, delivery report."""

from __future__ import annotations

import logging
import time

from edge_gateway.audio import pcm_to_wav
from edge_gateway.errors import PublishFailed, PublishUnconfirmed
from edge_gateway.events import AudioInputEvent, EventSerializer
from edge_gateway.metrics import GatewayMetrics
from edge_gateway.protocol import Published, Start
from edge_gateway.publisher import KafkaPublisher

_LOGGER = logging.getLogger(__name__)
CONTENT_TYPE = "application/vnd.speech.audio-input-event+avro"


class UtterancePublisher:
    def __init__(self, kafka: KafkaPublisher, serialize: EventSerializer, source_service: str,
                 metrics: GatewayMetrics) -> None:
        self._kafka = kafka
        self._serialize = serialize
        self._source_service = source_service
        self._metrics = metrics

    def publish(self, pcm: bytes | memoryview, start: Start, correlation_id: str) -> Published:
        """Publish one utterance and return where it landed, or raise a publish refusal."""
        began = time.monotonic()
        event = AudioInputEvent.create(correlation_id, pcm_to_wav(pcm, start.sample_rate_hz),
                                       start.sample_rate_hz, self._source_service,
                                       start.language_hint)
        value = self._serialize(event, self._kafka.topic)
        del event  # the WAV copy is not needed while waiting for Kafka
        try:
            delivery = self._kafka.publish(value, key=start.device_id or correlation_id,
                                           headers=_headers(start, correlation_id))
        except (PublishFailed, PublishUnconfirmed) as refusal:
            self._metrics.publish_failed.labels(refusal.code).inc()
            raise
        self._metrics.publish_latency.observe(time.monotonic() - began)
        self._metrics.published.inc()
        self._metrics.audio_bytes.inc(len(pcm))
        duration_ms = len(pcm) * 1000 // (start.sample_rate_hz * 2)
        _LOGGER.info("published", extra={"correlation_id": correlation_id,
                                          "segment_id": start.segment_id,
                                          "partition": delivery.partition,
                                          "offset": delivery.offset, "audio_bytes": len(pcm)})
        return Published(correlation_id, delivery.topic, delivery.partition, delivery.offset,
                         audio_bytes=len(pcm), duration_ms=duration_ms,
                         segment_id=start.segment_id)


def _headers(start: Start, correlation_id: str) -> dict[str, str]:
    headers = {"correlation_id": correlation_id, "content_type": CONTENT_TYPE}
    optional = {"device_id": start.device_id, "segment_id": start.segment_id,
                "captured_at_ms": start.captured_at_ms,
                "capture_monotonic_ms": start.capture_monotonic_ms}
    headers.update({k: str(v) for k, v in optional.items() if v is not None})
    return headers
