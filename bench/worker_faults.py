"""Page faults and CPU of the gateway's worker per utterance, from /proc/PID/stat.

    .venv/bin/python -m bench.worker_faults                     # about 1 minute
    .venv/bin/python -m bench.worker_faults MALLOC_MMAP_THRESHOLD_=4194304 \\
        MALLOC_TRIM_THRESHOLD_=67108864                         # glibc's tuning, for an A/B

Each NAME=VALUE goes into the gateway's environment. After a warm-up burst: 10 s idle, one
realtime round (10 paced clients x 10 s, 100 ms frames, starts 1 s apart) and one burst
(10 x 1.4 MiB, 64 KiB frames, 3 rounds): the worker's minor faults and CPU for each.
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from pathlib import Path

from devkit.broker import Broker
from devkit.gateway_process import GatewayProcess
from devkit.load import BYTES_PER_S, run_clients
from devkit.procstat import sample, stat_fields
from edge_gateway.settings import DEFAULT_TOPIC

BURST_S = 1468006 / BYTES_PER_S
SCENARIOS = {  # name: (clients, seconds, frame_s, paced, rounds, stagger_s)
    "realtime": (10, 10.0, 0.1, True, 1, 1.0),
    "burst": (10, BURST_S, 65536 / BYTES_PER_S, False, 3, 0.0),
}


def minor_faults(pid: int) -> int:
    return int(stat_fields(Path(f"/proc/{pid}/stat"))[7])


def main(overrides: list[str]) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    broker = Broker(workdir).start()
    broker.create_topic(DEFAULT_TOPIC)
    gateway = GatewayProcess(workdir, broker.bootstrap, DEFAULT_TOPIC)
    gateway.env.update(item.split("=", 1) for item in overrides)
    gateway.start()
    try:
        worker = gateway.worker_pids()[-1]
        run_clients(gateway.ws_url, 10, BURST_S, 65536 / BYTES_PER_S, False, "warm-up")
        faults, cpu = minor_faults(worker), sample(worker).cpu_s
        time.sleep(10)
        print(f"idle 10 s: {minor_faults(worker) - faults} faults, "
              f"{sample(worker).cpu_s - cpu:.3f} s CPU")
        print("\n| scenario | faults per utterance | worker CPU ms per utterance |\n|---|---|---|")
        for name, (clients, seconds, frame_s, paced, rounds, stagger_s) in SCENARIOS.items():
            faults, cpu = minor_faults(worker), sample(worker).cpu_s
            run_clients(gateway.ws_url, clients, seconds, frame_s, paced,
                        f"faults-{uuid.uuid4().hex[:6]}", rounds=rounds, stagger_s=stagger_s)
            count = clients * rounds
            print(f"| {name} | {(minor_faults(worker) - faults) / count:.0f} | "
                  f"{1000 * (sample(worker).cpu_s - cpu) / count:.1f} |")
    finally:
        gateway.stop()
        broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
