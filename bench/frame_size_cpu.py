"""How the gateway's CPU per audio-minute depends on the client's frame size (same run).

    .venv/bin/python -m bench.frame_size_cpu
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

from bench.gateway_bench import TOPIC
from devkit.broker import Broker
from devkit.gateway_process import GatewayProcess
from devkit.load import run_clients
from devkit.procstat import Watch
from ingress_common.protocol import BYTES_PER_SECOND


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="bench-frames-"))
    broker = Broker(workdir).start()
    broker.create_topic(TOPIC)
    gateway = GatewayProcess(workdir, broker.bootstrap, TOPIC).start()
    print("| frame | messages per audio-minute | CPU s per audio-minute |\n|---|---|---|")
    try:
        for frame_s in (0.02, 0.1, 0.25, 0.5):
            with Watch(gateway.worker_pids()) as watch:
                results = run_clients(gateway.ws_url, 10, 6.0, frame_s, True,
                                      f"frames-{uuid.uuid4().hex[:6]}", stagger_s=0.6)
            audio_min = sum(s.audio_bytes for s in results if s.published) / BYTES_PER_SECOND / 60
            print(f"| {frame_s * 1000:.0f} ms | {60 / frame_s:.0f} | {watch.cpu_s / audio_min:.3f} |")
    finally:
        gateway.stop()
        broker.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
