"""A real `device-agent run` process, and helpers to check what it delivered."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from devkit.kafka_reader import ReadEvent
from devkit.processes import ChildProcess
from edge_gateway.audio import pcm_to_wav


def write_wav(path: Path, pcm: bytes) -> Path:
    """A 16 kHz mono PCM16 WAV file, written the way the gateway wraps utterances."""
    path.write_bytes(pcm_to_wav(pcm))
    return path


class AgentProcess:
    def __init__(self, workdir: Path, gateway_url: str, source: str, device_id: str,
                 settings: dict[str, str] | None = None, until_drained: bool = True) -> None:
        self.workdir = workdir
        self.status_path = workdir / f"agent-{device_id}-status.json"
        self.log_path = workdir / f"agent-{device_id}.log"
        self.args = [sys.executable, "-m", "device_agent", "run", "--gateway-url", gateway_url,
                     "--source", source, "--device-id", device_id]
        if until_drained:
            self.args.append("--until-drained")
        self.env = {**os.environ, "AGENT_STATUS_FILE": str(self.status_path),
                    "AGENT_STATUS_INTERVAL_S": "1", "AGENT_RETRY_BASE_S": "0.2",
                    "AGENT_RETRY_CAP_S": "2", **(settings or {})}
        self.process: ChildProcess | None = None

    def start(self) -> AgentProcess:
        self.process = ChildProcess(self.args, self.log_path, env=self.env)
        return self

    def wait(self, timeout_s: float) -> int:
        assert self.process is not None
        return self.process.process.wait(timeout_s)

    def status(self) -> dict[str, object]:
        return dict(json.loads(self.status_path.read_text()))

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(grace_s=15)


@dataclass(frozen=True)
class Accounting:
    """What happened to the utterances of one run, for the test output."""

    sent: int
    published_events: int
    unique_segments: int
    lost: int
    duplicates: int

    def table(self, title: str) -> str:
        return (f"\n{title}\n| sent | published events | unique segments | lost | duplicated |\n"
                f"|---|---|---|---|---|\n| {self.sent} | {self.published_events} | "
                f"{self.unique_segments} | {self.lost} | {self.duplicates} |")


def account(signal: bytes, bursts: list[tuple[int, int]], events: list[ReadEvent]) -> Accounting:
    """`bursts` are (start, end) byte ranges of speech in `signal`. A burst counts as
    delivered when one published segment is an exact slice of `signal` containing it."""
    spans = []
    for event in events:
        pcm = event.pcm
        start = signal.find(pcm)
        if start >= 0:
            spans.append((start, start + len(pcm)))
    lost = sum(1 for b0, b1 in bursts if not any(s0 <= b0 and b1 <= s1 for s0, s1 in spans))
    ids = [e.headers.get("segment_id") for e in events]
    return Accounting(sent=len(bursts), published_events=len(events),
                      unique_segments=len(set(ids)), lost=lost,
                      duplicates=len(ids) - len(set(ids)))
