"""Where the gateway's CPU goes, per message and per utterance: py-spy samples of the real
gunicorn worker (only stacks holding the GIL, i.e. running Python or C called from it)
while the load generator streams, grouped by what the time is spent on.

    .venv/bin/python -m bench.gateway_profile          # about 1 minute; needs py-spy

Scenarios: `realtime` (10 paced clients, 100 ms frames: per-message cost dominates) and
`burst` (10 x 1.4 MiB flat out, 64 KiB frames: per-byte and per-utterance cost).
"""

from __future__ import annotations

import argparse
import collections
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from devkit.broker import Broker
from devkit.gateway_process import GatewayProcess
from devkit.load import BYTES_PER_S, run_clients
from edge_gateway.settings import DEFAULT_TOPIC

SAMPLE_RATE = 250
GROUPS = [  # (label, substrings of a frame "function (file)"), first match wins, leaf upward
    ("wsproto frame parsing", ("wsproto/",)),
    ("socket recv / select", ("recv_into", "select (", "_readable", "sock_recv")),
    ("socket send", ("sendall", "send (simple_websocket", "sock.send")),
    ("Avro serialize", ("fastavro", "serialize")),
    ("WAV wrap", ("pcm_to_wav", "edge_gateway/audio.py")),
    ("Kafka produce / wait", ("confluent_kafka", "publisher.py")),
    ("receipts ledger", ("receipts/",)),
    ("session / stream logic", ("session.py", "stream.py")),
    ("JSON, protocol", ("json/", "protocol.py")),
    ("logging", ("logging/", "ingress_common/logs.py")),
    ("metrics", ("prometheus_client",)),
    ("Flask, werkzeug, handshake", ("flask", "werkzeug", "flask_sock", "simple_websocket/ws.py")),
    ("gunicorn", ("gunicorn/",)),
    ("threading", ("threading.py", "concurrent/futures")),
]


def group_of(stack: list[str]) -> str:
    for frame in reversed(stack):  # from the leaf up
        for label, needles in GROUPS:
            if any(n in frame for n in needles):
                return label
    return "other"


def profile(gateway: GatewayProcess, load: threading.Thread, out: Path) -> collections.Counter[str]:
    worker = gateway.worker_pids()[-1]
    py_spy = str(Path(sys.executable).with_name("py-spy"))
    spy = subprocess.Popen([py_spy, "record", "--pid", str(worker), "--rate", str(SAMPLE_RATE),
                            "--gil", "--format", "raw", "--output", str(out), "--nonblocking"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    load.start()
    load.join()
    spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
    spy.wait(30)
    counts: collections.Counter[str] = collections.Counter()
    for line in out.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        counts[group_of(stack.split(";"))] += int(n)
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    broker = Broker(workdir).start()
    broker.create_topic(DEFAULT_TOPIC)
    gateway = GatewayProcess(workdir, broker.bootstrap, DEFAULT_TOPIC).start()
    loads = {
        "realtime": lambda: run_clients(gateway.ws_url, 10, args.seconds, 0.1, True,
                                        f"prof-{uuid.uuid4().hex[:6]}", stagger_s=args.seconds / 10),
        "burst": lambda: run_clients(gateway.ws_url, 10, 1468006 / BYTES_PER_S, 65536 / BYTES_PER_S,
                                     False, f"prof-{uuid.uuid4().hex[:6]}", rounds=3),
    }
    try:
        for name, load in loads.items():
            counts = profile(gateway, threading.Thread(target=load), workdir / f"{name}.txt")
            total = sum(counts.values()) or 1
            print(f"\n{name}: {total} samples holding the GIL at {SAMPLE_RATE}/s "
                  f"({total / SAMPLE_RATE:.2f} s of CPU)\n")
            print("| spent on | share | CPU s |\n|---|---|---|")
            for label, n in counts.most_common():
                print(f"| {label} | {100 * n / total:.1f} % | {n / SAMPLE_RATE:.2f} |")
    finally:
        gateway.stop()
        broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
