"""A real `edge-gateway serve` process (gunicorn + gthread) on a free loopback port."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import requests

from devkit.ports import free_port
from devkit.processes import ChildProcess

READY_TIMEOUT_S = 30.0


class GatewayProcess:
    def __init__(self, workdir: Path, bootstrap: str, topic: str,
                 settings: dict[str, str] | None = None, port: int | None = None,
                 command: list[str] | None = None, tls_ca: Path | None = None,
                 host: str = "127.0.0.1") -> None:
        """`host`: the address it binds (loopback, or its end of a link to another host)."""
        self.port = port or free_port()
        self.host = host
        self.tls_ca = tls_ca
        """With TLS on, the CA that signed the gateway's certificate."""
        self.command = command or [sys.executable, "-m", "edge_gateway", "serve"]
        self.workdir = workdir
        self.env = {
            **os.environ,
            "GATEWAY_BIND": f"{host}:{self.port}",
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "KAFKA_TOPIC": topic,
            "GATEWAY_LOG_LEVEL": "INFO",
            **(settings or {}),
        }
        self.process: ChildProcess | None = None

    @property
    def http_url(self) -> str:
        return f"{'https' if self.tls_ca else 'http'}://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"{'wss' if self.tls_ca else 'ws'}://{self.host}:{self.port}/ws/audio"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"gateway-{self.port}.log"

    def start(self, wait_ready: bool = True) -> GatewayProcess:
        self.process = ChildProcess(self.command, self.log_path, env=self.env)
        if wait_ready:
            self.wait_ready()
        return self

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None
            if not self.process.alive():
                raise RuntimeError(f"gateway exited:\n{self.process.log_text()[-3000:]}")
            try:
                verify: str | bool = str(self.tls_ca) if self.tls_ca else True
                if requests.get(f"{self.http_url}/readyz", timeout=3,
                                verify=verify).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"gateway not ready in {timeout_s} s")

    def worker_pids(self) -> list[int]:
        """The arbiter and its worker(s)."""
        assert self.process is not None
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children")
        kids = [int(p) for p in children.read_text().split()] if children.exists() else []
        return [pid, *kids]

    def stop(self) -> int:
        return self.process.stop(grace_s=15) if self.process else 0
