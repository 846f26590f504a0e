"""A long randomized fault run: many utterances through the real agent, gateway and broker,
with random faults injected while they are delivered; counted in Kafka per segment.

    .venv/bin/python -m bench.random_faults --utterances 500 --seed 1

Faults, one every 1–3 s, drawn at random: an RST cut of every open connection, a silent
drop of 1–4 s, the `published` reply cut, the broker frozen for 1–5 s, the gateway
SIGKILLed (gunicorn arbiter and all) and restarted, the gateway SIGTERMed and restarted.
The agent's spool is a directory, so nothing it holds is lost across the run. Bounded:
it stops after --max-s whatever happens, and stops every process it started.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import tempfile
import time
from pathlib import Path

from devkit.agent_process import AgentProcess, account, write_wav
from devkit.broker import Broker
from devkit.fault_rig import events_of, status_value
from devkit.gateway_process import GatewayProcess
from devkit.kafka_reader import KafkaReader
from devkit.signals import utterances_with_pauses
from devkit.tcp_proxy import TcpProxy
from edge_gateway.settings import DEFAULT_TOPIC

FAULTS = ("rst", "silent", "lost_reply", "freeze", "gateway_kill", "gateway_term")


def inject(kind: str, rng: random.Random, proxy: TcpProxy, broker: Broker,
           gateway: GatewayProcess) -> None:
    if kind == "rst":
        proxy.cut(refuse=False)
    elif kind == "silent":
        proxy.blackhole()
        time.sleep(rng.uniform(1, 4))
        proxy.restore()
    elif kind == "lost_reply":
        proxy.cut_on(b'"event":"published"', times=1)
    elif kind == "freeze":
        broker.freeze()
        time.sleep(rng.uniform(1, 5))
        broker.thaw()
    elif kind in {"gateway_kill", "gateway_term"} and gateway.process is not None:
        if kind == "gateway_kill":
            for pid in reversed(gateway.worker_pids()):
                with_suppressed_kill(pid)
        else:
            gateway.process.signal(signal.SIGTERM)
        gateway.process.process.wait(30)
        gateway.start()


def with_suppressed_kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--utterances", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-s", type=float, default=900)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="random-faults-"))
    broker = Broker(workdir).start()
    broker.create_topic(DEFAULT_TOPIC)
    gateway = GatewayProcess(workdir, broker.bootstrap, DEFAULT_TOPIC,
                             settings={"GATEWAY_PUBLISH_TIMEOUT_S": "3"}).start()
    proxy = TcpProxy(gateway.port)
    signal_pcm, bursts = utterances_with_pauses(args.utterances, 0.6, 0.8, seed=args.seed)
    wav = write_wav(workdir / "speech.wav", signal_pcm)
    agent = AgentProcess(workdir, f"ws://127.0.0.1:{proxy.port}/ws/audio", f"wav-paced:{wav}",
                         "random-faults", settings={"AGENT_SPOOL_DIR": str(workdir / "spool")})
    injected: dict[str, int] = dict.fromkeys(FAULTS, 0)
    began = time.monotonic()
    try:
        agent.start()
        assert agent.process is not None
        while agent.process.alive() and time.monotonic() - began < args.max_s:
            time.sleep(rng.uniform(1, 3))
            kind = rng.choice(FAULTS)
            inject(kind, rng, proxy, broker, gateway)
            injected[kind] += 1
        code = agent.wait(max(1.0, args.max_s - (time.monotonic() - began)))
        reader = KafkaReader(broker.bootstrap, DEFAULT_TOPIC)
        events = events_of(reader, "random-faults", len(bursts), 60)
        reader.close()
        accounting = account(signal_pcm, bursts, events)
        print(accounting.table(f"randomized faults, seed {args.seed}, "
                               f"{time.monotonic() - began:.0f} s"))
        print(f"agent exit {code}; faults injected: {injected}; agent retried "
              f"{status_value(agent, 'segments_retried')}, duplicate receipts "
              f"{status_value(agent, 'segments_duplicate')}, thread errors "
              f"{status_value(agent, 'thread_errors')}")
    finally:
        broker.thaw()
        agent.stop()
        proxy.close()
        gateway.stop()
        broker.stop()


if __name__ == "__main__":
    main()
