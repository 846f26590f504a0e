"""`make demo`: an embedded broker, a real gateway, and a real device agent whose microphone
is a generated recording (speech-like bursts with pauses). The agent cuts it into utterances
and streams each one live; the demo then prints the published events as read back from
Kafka. Stops everything it started."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from devkit.agent_process import AgentProcess, account, write_wav
from devkit.broker import Broker
from devkit.gateway_process import GatewayProcess
from devkit.interrupts import stop_like_ctrl_c
from devkit.kafka_reader import KafkaReader, ReadEvent
from devkit.signals import utterances_with_pauses
from edge_gateway.settings import DEFAULT_TOPIC
from ingress_common.pcm import BYTES_PER_SECOND, duration_ms

TOPIC = DEFAULT_TOPIC
DEVICE_ID = "demo-pi"
UTTERANCES = 4


def describe(event: ReadEvent) -> str:
    e = event.event
    return (f"  {event.topic}[{event.partition}]@{event.offset}  "
            f"segment_id={event.headers.get('segment_id')}  duration={duration_ms(len(event.pcm))} ms  "
            f"correlation_id={e.correlation_id}  wav={len(e.wav)} B")


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
        signal, bursts = utterances_with_pauses(UTTERANCES, speech_s=1.5, pause_s=1.0, seed=3)
        mic = write_wav(workdir / "fake-mic.wav", signal)
        print(f"device agent listening to a fake microphone: {len(signal) / BYTES_PER_SECOND:.1f} s, "
              f"{UTTERANCES} utterances with pauses (played in real time)")
        agent = AgentProcess(workdir, gateway.ws_url, f"wav-paced:{mic}", DEVICE_ID).start()
        code = agent.wait(60)
        stats = agent.status()
        print(f"agent finished (exit {code}): segments acked={stats['segments_acked']}, "
              f"retried={stats['segments_retried']}, silence not sent="
              f"{stats['silence_seconds_skipped']} s")
        reader = KafkaReader(broker.bootstrap, TOPIC)
        events = reader.read_until(lambda seen: len(seen) >= UTTERANCES, 15)
        reader.close()
        print("AudioInputEvents read back from Kafka:")
        for event in events:
            print(describe(event))
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
