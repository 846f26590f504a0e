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
                 port: int | None = None, command: list[str] | None = None) -> None:
        """`command` runs another install's console (default: this checkout's), from
        `workdir`, so the checkout's packages are not on its path."""
        self.port = port or free_port()
        self.command = command or [sys.executable, "-m", "edge_console", "serve"]
        self.workdir = workdir
        self.env = {**os.environ, "CONSOLE_BIND": f"127.0.0.1:{self.port}",
                    "KAFKA_BOOTSTRAP_SERVERS": bootstrap, **(settings or {})}
        self.log_path = workdir / f"console-{self.port}.log"
        self.process: ChildProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ConsoleProcess:
        self.process = ChildProcess(self.command, self.log_path, env=self.env,
                                    cwd=None if self.command[0] == sys.executable else self.workdir)
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
        return {d["device_id"]: d for d in self.fleet(token)["devices"]}

    def fleet(self, token: str | None = None) -> dict[str, Any]:
        """The whole `/api/devices` answer: the devices, and whether Kafka is readable."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body: dict[str, Any] = requests.get(f"{self.url}/api/devices", headers=headers,
                                            timeout=10).json()
        return body

    def change_settings(self, device_id: str, values: dict[str, str],
                        token: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.put(f"{self.url}/api/devices/{device_id}/settings", headers=headers,
                            json={"values": values}, timeout=20)

    def enrollments(self, token: str | None = None) -> dict[str, dict[str, Any]]:
        """The devices waiting to join (`GET /api/enrollments`), by id."""
        body = self.call("GET", "/api/enrollments", token).json()
        return {e["device_id"]: e for e in body["enrollments"]}

    def call(self, method: str, path: str, token: str | None = None,
             body: dict[str, Any] | None = None) -> requests.Response:
        """One API request; a change (POST, PUT) always goes as JSON, as the page sends it."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        change = method != "GET"
        return requests.request(method, f"{self.url}{path}", headers=headers,
                                json=(body or {}) if change else None, timeout=20)

    def stop(self) -> int:
        return self.process.stop(grace_s=10) if self.process else 0
