"""Runs a real `device-agent send` process, and puts what it delivered back together from
Kafka's records, in segment order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from devkit.kafka_reader import KafkaReader, ReadEvent
from devkit.segments import segment_records_of

RETRY_FAST = {"AGENT_RETRY_BASE_S": "0.2", "AGENT_RETRY_CAP_S": "1"}
"""Retries a test can wait for."""


@dataclass(frozen=True)
class SendRun:
    returncode: int
    replies: list[dict[str, object]]
    summary: dict[str, object]
    verdict: str
    """The plain sentence on stderr."""
    peak_rss_kib: int
    """The agent process's peak RSS (its own, from getrusage of a wrapper)."""


def send_command(url: str, device_id: str, wav: Path, *flags: str) -> list[str]:
    return [sys.executable, "-m", "device_agent", "send", "--gateway-url", url, "--device-id",
            device_id, *flags, str(wav)]


def run_send(url: str, device_id: str, wav: Path, *flags: str, timeout_s: float = 120,
             env: dict[str, str] | None = None, checkout: Path | None = None) -> SendRun:
    """Run `send` to its end, measured by `devkit.peak_rss`; `checkout`: another checkout's
    agent (run from there: `python -m` looks in the working directory first)."""
    process = start_send(url, device_id, wav, *flags, env=env, checkout=checkout)
    out, err = process.communicate(timeout=timeout_s)
    return parse_send(process.returncode, out, err)


def start_send(url: str, device_id: str, wav: Path, *flags: str,
               env: dict[str, str] | None = None,
               checkout: Path | None = None) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "devkit.peak_rss", *send_command(url, device_id, wav, *flags)]
    where = {"PYTHONPATH": str(checkout)} if checkout else {}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **RETRY_FAST, **where, **(env or {})}, cwd=checkout)


def parse_send(returncode: int, out: str, err: str) -> SendRun:
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    verdicts = [line for line in err.splitlines() if line.startswith("device-agent send:")]
    rss = [line for line in err.splitlines() if line.startswith("peak_rss_kib ")]
    return SendRun(returncode, lines[:-1], lines[-1] if lines else {},
                   verdicts[-1] if verdicts else err[-2000:],
                   int(rss[-1].split()[1]) if rss else -1)


def delivered_segments(reader: KafkaReader, url: str, device_id: str) -> list[ReadEvent]:
    """The device's segment records, in segment order (the id's last part is the sequence)."""
    records = segment_records_of(reader, url, device_id, timeout_s=60)
    return sorted(records, key=lambda e: int(e.headers["segment_id"].rsplit(":", 1)[1]))
