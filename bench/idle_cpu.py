"""What an idle gateway costs, by thread: the arbiter's and the worker's CPU over a quiet
window after one warm-up round of streams, from each thread's /proc schedstat (nanoseconds,
not clock ticks: an idle thread uses less than a tick a second), and each process's PSS.

    .venv/bin/python -m bench.idle_cpu          # about 40 s

CPython's threads are all named "python" by the kernel; their Python names come from
`py-spy dump` when py-spy is there, librdkafka's are its own (rdk:main, rdk:broker...).
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
import time
import uuid
from pathlib import Path

from bench.utterance_syscalls import python_thread_names
from devkit.bench_stack import broker_and_gateway
from devkit.load import run_clients
from devkit.procstat import sample


def run_ns(pids: list[int]) -> dict[tuple[int, int], int]:
    """Nanoseconds each thread of `pids` has run so far, by (pid, tid)."""
    out = {}
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                out[(pid, int(task.name))] = int((task / "schedstat").read_text().split()[0])
            except OSError:
                continue  # ended while being read
    return out


def thread_kinds(pids: list[int]) -> dict[int, str]:
    """A name per thread id: the arbiter's, the Python name, or the kernel's (comm)."""
    arbiter, worker = pids[0], pids[-1]
    names = {arbiter: "arbiter (gunicorn)"}
    python = python_thread_names(worker)
    for task in Path(f"/proc/{worker}/task").iterdir():
        tid = int(task.name)
        name = python.get(tid) or (task / "comm").read_text().strip()
        names[tid] = re.sub(r"[-_]?\d+$", "", name)  # pool threads, broker threads: one kind
    return names


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    with broker_and_gateway("bench-idle-") as gateway:
        run_clients(gateway.ws_url, 10, 2.0, 0.1, True, f"idle-{uuid.uuid4().hex[:6]}",
                    stagger_s=0.2)  # warm-up: every thread has started and run once
        pids = gateway.worker_pids()
        kinds = thread_kinds(pids)
        time.sleep(1.0)  # the last stream's close and reports are done
        before = run_ns(pids)
        time.sleep(args.seconds)  # the idle window, measured as such
        after = run_ns(pids)
        pss_mib = [sample(pid).pss_bytes / 2**20 for pid in pids]
    spent: collections.Counter[str] = collections.Counter()
    for key, ns in after.items():
        spent[kinds.get(key[1], "other")] += ns - before.get(key, 0)
    total_us_per_s = sum(spent.values()) / 1e3 / args.seconds
    print(f"Idle gateway, {args.seconds:g} s after a warm-up round: {total_us_per_s:.0f} µs of "
          f"CPU per second ({total_us_per_s / 1e4:.3f} % of a core)\n")
    print("| thread | µs of CPU per second |\n|---|---|")
    for kind, ns in spent.most_common():
        print(f"| {kind} | {ns / 1e3 / args.seconds:.0f} |")
    print(f"\nPSS, idle after the warm-up: arbiter {pss_mib[0]:.1f} MiB + worker {pss_mib[-1]:.1f} MiB"
          f" = {sum(pss_mib):.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
