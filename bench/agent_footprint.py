"""The device agent's footprint: RSS and CPU per real-time stream.

Runs the real `device-agent run` against a real gateway and broker with a fake microphone
played in real time (`wav-paced:`): speech-like bursts with pauses, about 60 % speech, so the
segmenter, spool and live uplink all work as on a device. Samples /proc of the agent only.

    .venv/bin/python -m bench.agent_footprint --seconds 60 --runs 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from devkit.agent_process import AgentProcess, write_wav
from devkit.broker import Broker
from devkit.gateway_process import GatewayProcess
from devkit.procstat import Watch
from devkit.signals import utterances_with_pauses
from edge_gateway.settings import DEFAULT_TOPIC
from ingress_common.protocol import BYTES_PER_SECOND

TOPIC = DEFAULT_TOPIC
SAMPLE_EVERY_S = 0.5
RUN_TIMEOUT_S = 600


def one_run(workdir: Path, gateway: GatewayProcess, mic: Path, run: int,
            period_ms: int) -> dict[str, float]:
    agent = AgentProcess(workdir, gateway.ws_url, f"wav-paced:{mic}", f"bench-{run}",
                         settings={"AGENT_PERIOD_MS": str(period_ms)}).start()
    assert agent.process is not None
    time.sleep(1.0)  # past interpreter start-up and imports: measure the steady state
    began = time.monotonic()
    with Watch([agent.process.pid], every_s=SAMPLE_EVERY_S) as watch:
        agent.wait(RUN_TIMEOUT_S)
        elapsed = time.monotonic() - began
    acked = agent.status()["segments_acked"]
    agent.stop()
    return {"cpu_percent": 100 * watch.cpu_s / elapsed, "peak_rss_mib": watch.peak_rss / 2**20,
            "threads": watch.threads, "segments": float(str(acked))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--period-ms", type=int, default=100, help="the capture period")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-agent-"))
    count = max(1, int(args.seconds / 5))
    signal, _ = utterances_with_pauses(count, speech_s=3.0, pause_s=2.0, seed=1)
    mic = write_wav(workdir / "mic.wav", signal)
    broker = Broker(workdir).start()
    gateway: GatewayProcess | None = None
    try:
        broker.create_topic(TOPIC)
        gateway = GatewayProcess(workdir, broker.bootstrap, TOPIC).start()
        runs = [one_run(workdir, gateway, mic, i, args.period_ms) for i in range(args.runs)]
    finally:
        if gateway is not None:
            gateway.stop()
        broker.stop()
    audio_s = len(signal) / BYTES_PER_SECOND
    print(f"agent footprint: {args.runs} runs of {audio_s:.0f} s of audio in real time "
          f"({count} utterances each), capture period {args.period_ms} ms\n")
    print("| figure | median | runs |\n|---|---|---|")
    for key, label in (("cpu_percent", "CPU, % of one core"), ("peak_rss_mib", "peak RSS, MiB"),
                       ("threads", "threads"), ("segments", "segments delivered per run")):
        values = [r[key] for r in runs]
        print(f"| {label} | {statistics.median(values):.2f} | "
              f"{', '.join(f'{v:.2f}' for v in values)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
