"""A real `edge-console serve` process (gunicorn) on a free loopback port."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import requests

from devkit.ports import free_port
from devkit.processes import ChildProcess

READY_TIMEOUT_S = 30.0


class ConsoleProcess:
    def __init__(self, workdir: Path, bootstrap: str, settings: dict[str, str] | None = None,
                 port: int | None = None) -> None:
        self.port = port or free_port()
        self.workdir = workdir
        self.env = {**os.environ, "CONSOLE_BIND": f"127.0.0.1:{self.port}",
                    "KAFKA_BOOTSTRAP_SERVERS": bootstrap, **(settings or {})}
        self.log_path = workdir / f"console-{self.port}.log"
        self.process: ChildProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ConsoleProcess:
        self.process = ChildProcess([sys.executable, "-m", "edge_console", "serve"],
                                    self.log_path, env=self.env)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if not self.process.alive():
                raise RuntimeError(f"console exited:\n{self.process.log_text()[-3000:]}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=3).json().get("following"):
                    return self
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.1)
        raise TimeoutError(f"console not following its topics in {READY_TIMEOUT_S} s")

    def devices(self, token: str | None = None) -> dict[str, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = requests.get(f"{self.url}/api/devices", headers=headers, timeout=10).json()
        return {d["device_id"]: d for d in body["devices"]}

    def stop(self) -> int:
        return self.process.stop(grace_s=10) if self.process else 0
