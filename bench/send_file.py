"""`device-agent send FILE`: peak RSS and wall time by file length, against a real gateway
and broker, and (with --before TREE) the same for another checkout, interleaved in one run.

    .venv/bin/python -m bench.send_file --minutes 10 82 120 --runs 3
    .venv/bin/python -m bench.send_file --minutes 10 82 --before /tmp/before-tree

The file is a speech-band sweep (16 kHz mono; `send` sends a file whole, whatever is in
it). The agent's peak RSS is its own (getrusage of a wrapper: `devkit.peak_rss`). Medians
of `--runs`. A tree's `send` is run with that tree first on sys.path.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from devkit.bench_stack import broker_and_gateway
from devkit.file_send import RETRY_FAST, parse_send, send_command


def make_wav(path: Path, seconds: int) -> Path:
    subprocess.run(["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(path), "synth",
                    str(seconds), "sine", "200-3000", "gain", "-10"],
                   check=True, capture_output=True, timeout=600)
    return path


def run_once(url: str, wav: Path, tree: Path, device: str) -> tuple[float, float, int]:
    """(peak RSS MiB, wall seconds, exit code) of one `send` run from `tree`."""
    # the wrapper by path: the other tree's devkit may not have it
    wrapper = Path(__file__).resolve().parents[1] / "devkit" / "peak_rss.py"
    command = [sys.executable, str(wrapper), *send_command(url, device, wav)]
    env = {**os.environ, **RETRY_FAST, "PYTHONPATH": str(tree)}
    began = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, cwd=tree, env=env,
                          timeout=3600)
    wall = time.monotonic() - began
    run = parse_send(done.returncode, done.stdout, done.stderr)
    return run.peak_rss_kib / 1024, wall, done.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=int, nargs="+", default=[10, 82, 120])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--before", type=Path, help="another checkout to measure alongside")
    args = parser.parse_args()
    here = Path(__file__).resolve().parents[1]
    trees = {"after": here, **({"before": args.before.resolve()} if args.before else {})}
    workdir = Path(tempfile.mkdtemp(prefix="bench-send-"))
    rows = []
    with broker_and_gateway("bench-send-gw-") as gateway:
        for minutes in args.minutes:
            wav = make_wav(workdir / f"{minutes}min.wav", minutes * 60)
            figures: dict[str, list[tuple[float, float, int]]] = {name: [] for name in trees}
            for run in range(args.runs):
                for name, tree in trees.items():  # interleaved: the same noise for both
                    figures[name].append(run_once(gateway.ws_url, wav, tree,
                                                  f"bench-send-{name}-{minutes}-{run}"))
            for name, results in figures.items():
                rows.append(f"| {name} | {minutes} min ({wav.stat().st_size / 2**20:.0f} MiB) "
                            f"| {statistics.median(r[0] for r in results):.1f} MiB "
                            f"| {statistics.median(r[1] for r in results):.1f} s "
                            f"| {sorted({r[2] for r in results})} |")
            wav.unlink()
    print("| tree | file | peak RSS (median) | wall time (median) | exit codes |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
