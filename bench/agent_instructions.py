"""The agent's CPU per audio-second as a count of instructions (issue 34): what a shared,
noisy 2-core machine cannot blur, and what a smaller core can be estimated from.

    .venv/bin/python -m bench.agent_instructions                # every configuration
    .venv/bin/python -m bench.agent_instructions --only default --write-baseline

The real `device-agent run` (capture thread, segmenting, spool, uplink) reads a WAV file
as its microphone (`wav:`, not paced) and delivers to `devkit.ws_sink`, a gateway that is
only a socket (the network stubbed at the far end: nothing of Kafka or the gateway is
counted), and exits once everything is delivered. valgrind's callgrind counts the agent
process's instructions (its threads included, not the kernel's). Each configuration runs
on `--short-s` and on `--long-s` seconds of the same speech; the difference divided by the
difference in seconds is the count per audio-second, free of start-up and imports.

Health reports and the status file are off: they cost per wall-second, not per
audio-second, and under valgrind a wall-second is fifty times longer. bench.agent_footprint
measures them with the rest, in time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bench.report import write_report
from devkit.agent_process import write_wav
from devkit.audio_analysis import samples_of
from devkit.ports import free_port
from devkit.processes import ChildProcess
from devkit.signals import utterances_with_pauses
from devkit.speech import sox_convert
from ingress_common.protocol import BYTES_PER_SECOND

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "bench" / "baselines" / "agent_instructions.json"
ENHANCED = {"AGENT_NOISE_SUPPRESSION": "2", "AGENT_AUTO_GAIN_DBFS": "3"}
MICRO = {"AGENT_DETECTOR": "micro"}
CONFIGURATIONS: dict[str, tuple[str, dict[str, str]]] = {
    "default": ("16k", {}),
    "energy only": ("16k", {"AGENT_DETECTOR": "energy"}),
    "+ ns 2 agc 3": ("16k", ENHANCED),
    "+ micro-vad": ("16k", MICRO),
    "48 kHz stereo, default": ("48k", {}),
    "48 kHz stereo, + ns 2 agc 3 + micro-vad": ("48k", {**ENHANCED, **MICRO}),
}
COLLECTED = re.compile(r"Collected : (\d+)")


@dataclass(frozen=True)
class Count:
    short: int
    long: int
    seconds: float
    """long − short, in audio seconds."""

    @property
    def per_audio_second(self) -> float:
        return (self.long - self.short) / self.seconds


def wav_files(workdir: Path, seconds: float) -> dict[str, Path]:
    """The same speech (3 s phrases, 2 s pauses) at 16 kHz mono and 48 kHz stereo."""
    signal, _ = utterances_with_pauses(max(1, int(seconds / 5) + 1), speech_s=3.0,
                                       pause_s=2.0, seed=1)
    signal = signal[: int(seconds * BYTES_PER_SECOND) // 2 * 2]
    mono48 = sox_convert(samples_of(signal), BYTES_PER_SECOND // 2, 48000)
    stereo = workdir / f"s48-{seconds:g}.wav"
    _write_wav48(stereo, np.stack([mono48, mono48], axis=1))
    return {"16k": write_wav(workdir / f"s16-{seconds:g}.wav", signal), "48k": stereo}


def _write_wav48(path: Path, frames: np.ndarray) -> None:
    import wave

    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(48000)
        out.writeframes(frames.astype("<i2").tobytes())


def count(wav: Path, settings: dict[str, str], url: str, out: Path, paced: bool = False,
          checkout: Path = ROOT) -> int:
    """Instructions of one agent run over `wav`, to its end. `paced`: the file is played in
    real time (`wav-paced:`), with health reports on, as a microphone would be heard.
    `checkout`: the agent of another checkout (an earlier commit's, to compare)."""
    quiet = {} if paced else {"AGENT_HEALTH_INTERVAL_S": "0"}
    env = {**os.environ, **quiet, "AGENT_STATUS_INTERVAL_S": "3600",
           "AGENT_RETRY_BASE_S": "0.2", "AGENT_RETRY_CAP_S": "1", "PYTHONPATH": str(checkout),
           **settings}
    source = f"{'wav-paced' if paced else 'wav'}:{wav}"
    done = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                           sys.executable, "-m", "device_agent", "run", "--until-drained",
                           "--gateway-url", url, "--source", source,
                           "--device-id", "counted"],
                          env=env, cwd=checkout, capture_output=True, text=True, timeout=3600)
    found = COLLECTED.findall(done.stderr)
    if done.returncode != 0 or not found:
        raise RuntimeError(f"the agent under callgrind failed ({done.returncode}):\n"
                           f"{done.stderr[-2000:]}")
    out.unlink(missing_ok=True)
    return int(found[-1])


def measure(names: list[str], short_s: float, long_s: float,
            paced: bool = False, checkout: Path = ROOT) -> dict[str, Count]:
    workdir = Path(tempfile.mkdtemp(prefix="agent-instructions-"))
    port = free_port()
    sink = ChildProcess([sys.executable, "-m", "devkit.ws_sink", str(port)],
                        workdir / "sink.log")
    url = f"ws://127.0.0.1:{port}/ws/audio"
    try:
        short, long = wav_files(workdir, short_s), wav_files(workdir, long_s)
        counts = {}
        for name in names:
            rate, settings = CONFIGURATIONS[name]
            counts[name] = Count(
                count(short[rate], settings, url, workdir / "cg.out", paced, checkout),
                count(long[rate], settings, url, workdir / "cg.out", paced, checkout),
                long_s - short_s)
        return counts
    finally:
        sink.stop()


def report(counts: dict[str, Count], short_s: float, long_s: float, paced: bool = False) -> str:
    rows = "\n".join(f"| {name} | {c.per_audio_second / 1e6:.1f} | {c.short / 1e6:.0f} | "
                     f"{c.long / 1e6:.0f} |" for name, c in counts.items())
    return (f"# Agent instructions per audio-second, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
            f"`python -m bench.agent_instructions{' --paced' if paced else ''}` (callgrind; "
            f"{short_s:g} s and {long_s:g} s of the same speech"
            f"{', played in real time, health reports on' if paced else ''}; x86-64)\n\n"
            f"| configuration | million instructions per audio-second | run on {short_s:g} s "
            f"(million) | run on {long_s:g} s (million) |\n|---|---|---|---|\n{rows}\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", choices=sorted(CONFIGURATIONS))
    parser.add_argument("--short-s", type=float, default=10.0)
    parser.add_argument("--long-s", type=float, default=40.0)
    parser.add_argument("--paced", action="store_true",
                        help="play the file in real time, health reports on: what a running "
                             "agent spends per second, idle work included")
    parser.add_argument("--checkout", type=Path, default=ROOT,
                        help="count the agent of another checkout (a worktree of an earlier "
                             "commit) instead of this one")
    parser.add_argument("--write-baseline", action="store_true",
                        help="store the default configuration's count as the baseline")
    args = parser.parse_args()
    counts = measure(args.only or list(CONFIGURATIONS), args.short_s, args.long_s, args.paced,
                     args.checkout)
    text = report(counts, args.short_s, args.long_s, args.paced)
    print(text)
    print(write_report("agent-instructions", text))
    if args.write_baseline:
        BASELINE.parent.mkdir(parents=True, exist_ok=True)
        BASELINE.write_text(json.dumps({
            "configuration": "default", "short_s": args.short_s, "long_s": args.long_s,
            "instructions_per_audio_second": round(counts["default"].per_audio_second)},
            indent=2) + "\n")
        print(f"baseline written to {BASELINE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
