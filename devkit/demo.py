"""`make demo`: an embedded broker, a real gateway, a client streaming a generated
utterance, and the published event read back from Kafka. Stops everything it started."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from devkit.broker import Broker
from devkit.gateway_process import GatewayProcess
from devkit.kafka_reader import KafkaReader, ReadEvent
from devkit.signals import speech_like_pcm
from devkit.ws_client import frames_of, stream_utterance

TOPIC = "speech.audio.ingress"


def describe(event: ReadEvent) -> str:
    e = event.event
    return (f"  AudioInputEvent {event.topic}[{event.partition}]@{event.offset}  "
            f"correlation_id={e.correlation_id}  duration={len(event.pcm) / 32:.0f} ms  "
            f"wav={len(e.wav)} B  key={event.key}")


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="edge-demo-"))
    broker = Broker(workdir)
    gateway: GatewayProcess | None = None
    try:
        print(f"starting the embedded Kafka-protocol broker (Tansu) on {broker.bootstrap}")
        broker.start()
        broker.create_topic(TOPIC)
        gateway = GatewayProcess(workdir, broker.bootstrap, TOPIC).start()
        print(f"gateway ready at {gateway.ws_url}")
        pcm = speech_like_pcm(seconds=2.0, seed=1)
        result = stream_utterance(gateway.ws_url, frames_of(pcm, 3200),
                                  start={"device_id": "demo-device", "segment_id": "demo-1",
                                         "language_hint": "en-US"})
        print(f"gateway answered: {result.final}")
        reader = KafkaReader(broker.bootstrap, TOPIC)
        event = reader.find(result.correlation_id)
        reader.close()
        print("read back from Kafka:")
        print(describe(event))
        print(f"  PCM identical to what was sent: {event.pcm == pcm}")
        return 0 if event.pcm == pcm else 1
    finally:
        if gateway is not None:
            gateway.stop()
        broker.stop()
        print(f"stopped the gateway and the broker (logs in {workdir})")


if __name__ == "__main__":
    sys.exit(main())
