"""A real `device-agent run` process, and helpers to check what it delivered."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from devkit.kafka_reader import ReadEvent
from devkit.processes import ChildProcess
from ingress_common.wav import pcm_to_wav


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
        run = 1
        while self.log_path.exists():  # a restarted agent keeps the earlier run's log
            run += 1
            self.log_path = workdir / f"agent-{device_id}-{run}.log"
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
        """The agent's counters as last written ({} before the first write)."""
        try:
            return dict(json.loads(self.status_path.read_text()))
        except FileNotFoundError:
            return {}

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(grace_s=15)


@dataclass(frozen=True)
class Accounting:
    """What happened to the utterances of one run, counted in Kafka's records (issue 11):
    `records` per segment, not replies. `exact` is true when every utterance landed as
    exactly one whole record."""

    sent: int
    records: int
    segments: int
    """Distinct segment ids among the records."""
    lost: int
    """Utterances no whole record covers."""
    duplicated: int
    """Records beyond the first of their segment id."""
    truncated: int
    """Records that are not an exact slice of the input holding a whole utterance."""

    @property
    def exact(self) -> bool:
        return (self.lost, self.duplicated, self.truncated) == (0, 0, 0) and \
            self.records == self.sent

    def table(self, title: str) -> str:
        return (f"\n{title}\n| sent | records | segments | lost | duplicated | truncated |\n"
                f"|---|---|---|---|---|---|\n| {self.sent} | {self.records} | {self.segments} "
                f"| {self.lost} | {self.duplicated} | {self.truncated} |")


def account(signal: bytes, bursts: list[tuple[int, int]], events: list[ReadEvent]) -> Accounting:
    """`bursts` are (start, end) byte ranges of speech in `signal`. A record is whole when
    it is an exact slice of `signal` holding at least one whole burst; a burst is delivered
    when a whole record holds it."""
    whole_spans = []
    truncated = 0
    for event in events:
        pcm = event.pcm
        start = signal.find(pcm)
        span = (start, start + len(pcm))
        if start >= 0 and any(span[0] <= b0 and b1 <= span[1] for b0, b1 in bursts):
            whole_spans.append(span)
        else:
            truncated += 1
    lost = sum(1 for b0, b1 in bursts if not any(s0 <= b0 and b1 <= s1 for s0, s1 in whole_spans))
    ids = [e.headers.get("segment_id") for e in events]
    return Accounting(sent=len(bursts), records=len(events), segments=len(set(ids)), lost=lost,
                      duplicated=len(ids) - len(set(ids)), truncated=truncated)
