"""`make demo`: an embedded broker, a real gateway, and a real device agent whose microphone
is a recording of four spoken requests (espeak-ng) with pauses, in a quiet room. The agent
cuts it into utterances and streams each one live; the demo then prints the published
events as read back from Kafka, and, when the recognizer is installed (`make demo ASR=1`),
what a speech recognizer hears in each. Stops everything it started."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from devkit.agent_process import AgentProcess, account, write_wav
from devkit.broker import Broker
from devkit.gateway_process import GatewayProcess
from devkit.interrupts import stop_like_ctrl_c
from devkit.kafka_reader import KafkaReader, ReadEvent
from devkit.speech import loud_bounds, phrases_with_pauses
from edge_gateway.settings import DEFAULT_TOPIC
from ingress_common.pcm import BYTES_PER_SECOND, duration_ms

TOPIC = DEFAULT_TOPIC
DEVICE_ID = "demo-pi"
REQUESTS = ["turn on the kitchen lights", "what is the weather tomorrow",
            "set a timer for ten minutes", "play some quiet music"]
UTTERANCES = len(REQUESTS)


def describe(event: ReadEvent, transcribe: Callable[[bytes], str] | None) -> str:
    e = event.event
    line = (f"  {event.topic}[{event.partition}]@{event.offset}  "
            f"segment_id={event.headers.get('segment_id')}  duration={duration_ms(len(event.pcm))} ms  "
            f"correlation_id={e.correlation_id}  wav={len(e.wav)} B")
    return line + (f"\n      heard: {transcribe(event.pcm)!r}" if transcribe else "")


def spoken_requests() -> tuple[bytes, list[tuple[int, int]]]:
    """The recording, and the byte range of each request's loud part in it."""
    signal, spans = phrases_with_pauses(REQUESTS, pause_s=1.5, seed=3)
    loud = []
    for s0, s1 in spans:
        first, last = loud_bounds(signal[s0:s1])
        loud.append((s0 + first, s0 + last))
    return signal, loud


def recognizer() -> Callable[[bytes], str] | None:
    """The recognizer's transcribe, when it is installed (`make demo ASR=1`)."""
    from devkit import asr

    return asr.Recognizer().transcribe if asr.available() else None


def main() -> int:
    stop_like_ctrl_c()
    workdir = Path(tempfile.mkdtemp(prefix="edge-demo-"))
    broker = Broker(workdir)
    gateway: GatewayProcess | None = None
    agent: AgentProcess | None = None
    try:
        print(f"starting the embedded Kafka-protocol broker (Tansu) on {broker.bootstrap}")
        broker.start()
        broker.create_topic(TOPIC)
        gateway = GatewayProcess(workdir, broker.bootstrap, TOPIC).start()
        print(f"gateway ready at {gateway.ws_url}")
        signal, bursts = spoken_requests()
        mic = write_wav(workdir / "fake-mic.wav", signal)
        print(f"device agent listening to a fake microphone: {len(signal) / BYTES_PER_SECOND:.1f} s, "
              f"{UTTERANCES} spoken requests with pauses (played in real time)")
        agent = AgentProcess(workdir, gateway.ws_url, f"wav-paced:{mic}", DEVICE_ID).start()
        code = agent.wait(60)
        stats = agent.status()
        print(f"agent finished (exit {code}): segments acked={stats['segments_acked']}, "
              f"retried={stats['segments_retried']}, silence not sent="
              f"{stats['silence_seconds_skipped']} s")
        reader = KafkaReader(broker.bootstrap, TOPIC)
        events = reader.read_until(lambda seen: len(seen) >= UTTERANCES, 15)
        reader.close()
        transcribe = recognizer()
        print("AudioInputEvents read back from Kafka" +
              (", and what Whisper tiny.en hears in each:" if transcribe else
               " (make demo ASR=1 adds what a speech recognizer hears):"))
        for event in events:
            print(describe(event, transcribe))
        accounting = account(signal, bursts, events)
        print(f"every utterance delivered once, whole, as an exact slice of the recording: "
              f"{accounting.exact}")
        return 0 if code == 0 and accounting.exact else 1
    except KeyboardInterrupt:
        print("interrupted")
        return 130
    finally:
        if agent is not None:
            agent.stop()
        if gateway is not None:
            gateway.stop()
        broker.stop()
        print(f"stopped the agent, the gateway and the broker (logs in {workdir})")


if __name__ == "__main__":
    sys.exit(main())
