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
import threading
import time
import uuid
from pathlib import Path

from devkit.bench_stack import broker_and_gateway
from devkit.gateway_process import GatewayProcess
from devkit.load import BYTES_PER_S, run_clients
from devkit.procstat import Watch, cpu_times, sample

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


def thread_cpu(pids: list[int]) -> dict[tuple[int, str], float]:
    """CPU seconds so far per thread ((tid, kind): its name with digits dropped, arbiter's
    marked), over `pids`, plus each process's total under (pid, "(process)")."""
    out: dict[tuple[int, str], float] = {}
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                user_s, system_s = cpu_times(task / "stat")
                name = (task / "comm").read_text().strip()
            except OSError:
                continue  # ended while being read
            kind = ("arbiter: " if pid == pids[0] else "") + name.rstrip("0123456789_-")
            out[(int(task.name), kind)] = user_s + system_s
        out[(pid, "(process)")] = sample(pid).cpu_s
    return out


def cpu_by_kind(before: dict[tuple[int, str], float],
                after: dict[tuple[int, str], float]) -> dict[str, float]:
    """What each kind of thread spent between two readings; threads that ended in between
    are what the processes spent beyond the live threads. (CPython's own threads are all
    named "python": the split is Python against librdkafka's threads.)"""
    spent: dict[str, float] = {}
    for key, cpu_s in after.items():
        spent[key[1]] = spent.get(key[1], 0.0) + cpu_s - before.get(key, 0.0)
    process = spent.pop("(process)")
    spent["(threads that ended)"] = process - sum(spent.values())
    spent["(process)"] = process
    return spent


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
    with broker_and_gateway("bench-profile-") as gateway:
        profile_scenarios(gateway, args.seconds)
    return 0


def profile_scenarios(gateway: GatewayProcess, seconds: float) -> None:
    workdir = gateway.workdir
    loads = {
        "realtime": lambda: run_clients(gateway.ws_url, 10, seconds, 0.1, True,
                                        f"prof-{uuid.uuid4().hex[:6]}", stagger_s=seconds / 10),
        "burst": lambda: run_clients(gateway.ws_url, 10, 1468006 / BYTES_PER_S, 65536 / BYTES_PER_S,
                                     False, f"prof-{uuid.uuid4().hex[:6]}", rounds=3),
    }
    for name, load in loads.items():
        before = thread_cpu(gateway.worker_pids())
        counts = profile(gateway, threading.Thread(target=load), workdir / f"{name}.txt")
        spent = cpu_by_kind(before, thread_cpu(gateway.worker_pids()))
        total = sum(counts.values()) or 1
        print(f"\n{name}: {total} samples holding the GIL at {SAMPLE_RATE}/s "
              f"({total / SAMPLE_RATE:.2f} s of CPU)\n")
        print("| spent on | share | CPU s |\n|---|---|---|")
        for label, n in counts.most_common():
            print(f"| {label} | {100 * n / total:.1f} % | {n / SAMPLE_RATE:.2f} |")
        process = spent.pop("(process)")
        print(f"\n{name}: CPU per thread kind (/proc, arbiter + worker, user + system), "
              f"{process:.2f} s in all\n")
        print("| thread | CPU s | share |\n|---|---|---|")
        for kind, cpu_s in sorted(spent.items(), key=lambda item: -item[1]):
            if cpu_s > 0:
                print(f"| {kind} | {cpu_s:.2f} | {100 * cpu_s / (process or 1):.1f} % |")
    per_utterance(gateway)


def per_utterance(gateway: GatewayProcess, count: int = 100) -> None:
    """What one utterance costs apart from its frames: `count` one-frame utterances one
    after another (connect, start with a segment_id, one 100 ms frame, done, published),
    and the gateway's CPU (arbiter + worker, /proc) divided by `count`; then the same
    gateway idle for as long, which is subtracted."""
    run_id = f"utt-{uuid.uuid4().hex[:6]}"
    with Watch(gateway.worker_pids()) as busy:
        began = time.monotonic()
        run_clients(gateway.ws_url, 1, 0.1, 0.1, False, run_id, rounds=count)
        wall = time.monotonic() - began
    with Watch(gateway.worker_pids()) as idle:
        time.sleep(wall)
    per = (busy.cpu_s - idle.cpu_s) / count
    print(f"\nper utterance ({count} one-frame utterances, one at a time, {wall:.1f} s; idle "
          f"for as long: {idle.cpu_s:.3f} s): {per * 1000:.2f} ms of CPU each, "
          f"{per * 6:.3f} s per audio-minute of 10 s utterances")


if __name__ == "__main__":
    sys.exit(main())
