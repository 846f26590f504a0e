"""Where one utterance's fixed cost goes, by thread: the worker's CPU (user and system) and
its system calls per utterance, for one-frame segment utterances sent one at a time.

    .venv/bin/python -m bench.utterance_syscalls          # about 1 minute; needs strace

Two passes over the same gateway: one measured from /proc (per thread, no tracer), one
under `strace -f` (which slows it), counted per thread and call. CPython's threads are all
named "python"; the Python thread names come from `py-spy dump` when py-spy is there.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from bench.gateway_profile import cpu_by_kind, thread_cpu
from devkit.bench_stack import broker_and_gateway
from devkit.gateway_process import GatewayProcess
from devkit.load import run_clients
from devkit.procstat import cpu_times


def one_frame_utterances(gateway: GatewayProcess, count: int) -> float:
    began = time.monotonic()
    run_clients(gateway.ws_url, 1, 0.1, 0.1, False, f"sys-{uuid.uuid4().hex[:6]}", rounds=count)
    return time.monotonic() - began


def python_thread_names(pid: int) -> dict[int, str]:
    py_spy = Path(sys.executable).with_name("py-spy")
    if not py_spy.exists():
        return {}
    dump = subprocess.run([str(py_spy), "dump", "--pid", str(pid)], capture_output=True,
                          text=True, timeout=30).stdout
    return {int(tid): name for tid, name in re.findall(r"Thread (\d+) \(\w+\): \"([^\"]+)\"", dump)}


def await_tracer(pid: int, timeout_s: float = 10.0) -> None:
    """Until every thread of `pid` is traced (TracerPid set in its status), or raise."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        tracers = [line.split()[1] for task in Path(f"/proc/{pid}/task").iterdir()
                   for line in (task / "status").read_text().splitlines()
                   if line.startswith("TracerPid:")]
        if tracers and "0" not in tracers:
            return
        time.sleep(0.05)
    raise TimeoutError(f"strace did not attach to every thread of {pid} in {timeout_s:g} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--utterances", type=int, default=100)
    args = parser.parse_args()
    if shutil.which("strace") is None:
        print("needs strace", file=sys.stderr)
        return 2
    count = args.utterances
    with broker_and_gateway("bench-syscalls-") as gateway:
        one_frame_utterances(gateway, 10)  # warm-up
        worker = gateway.worker_pids()[-1]
        stat = Path(f"/proc/{worker}/stat")
        before, (user0, sys0) = thread_cpu(gateway.worker_pids()), cpu_times(stat)
        wall = one_frame_utterances(gateway, count)
        spent = cpu_by_kind(before, thread_cpu(gateway.worker_pids()))
        user1, sys1 = cpu_times(stat)
        print(f"{count} one-frame segment utterances one at a time, {wall / count * 1000:.1f} ms "
              f"each (wall); worker {1000 * (user1 - user0) / count:.2f} ms user + "
              f"{1000 * (sys1 - sys0) / count:.2f} ms system per utterance\n")
        print("| thread kind | CPU ms per utterance |\n|---|---|")
        for kind, cpu_s in sorted(spent.items(), key=lambda item: -item[1]):
            if cpu_s > 0:
                print(f"| {kind} | {1000 * cpu_s / count:.2f} |")

        names = python_thread_names(worker)
        comms = {int(t.name): (t / "comm").read_text().strip()
                 for t in Path(f"/proc/{worker}/task").iterdir()}
        trace = gateway.workdir / "strace.txt"
        tracer = subprocess.Popen(["strace", "-f", "-qq", "-p", str(worker), "-o", str(trace)],
                                  stderr=subprocess.DEVNULL)
        await_tracer(worker)
        one_frame_utterances(gateway, count)
        tracer.send_signal(signal.SIGINT)
        tracer.wait(30)
        calls: collections.Counter[tuple[str, str]] = collections.Counter()
        for line in trace.read_text().splitlines():
            match = re.match(r"(\d+)\s+(\w+)\(", line)
            if match:
                tid = int(match.group(1))
                who = names.get(tid) or comms.get(tid, "ended thread")
                calls[(re.sub(r"[-_]?\d+$", "", who), match.group(2))] += 1
        print("\n| thread | system call | calls per utterance |\n|---|---|---|")
        for (who, call), n in calls.most_common(20):
            print(f"| {who} | {call} | {n / count:.1f} |")
        futex = sum(n for (_, call), n in calls.items() if call == "futex")
        print(f"\nfutex (GIL and lock hand-offs between threads): {futex / count:.0f} per utterance")
    return 0


if __name__ == "__main__":
    sys.exit(main())
