"""A throwaway container with a real systemd as PID 1, for running the shipped units.

The container boots over a read-only bind of the host's `/` with `--volatile=overlay`: every
write lands in a tmpfs and vanishes at exit, so nothing reaches the host (booting systemd on
the host's own root would let its tmpfiles wipe /tmp). It shares the host's network, so a
gateway on loopback is reachable. Commands run inside with `nsenter -t PID -a`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

BOOT_TIMEOUT_S = 60.0


class NspawnUnavailable(RuntimeError):
    """No root, or no systemd-nspawn (Debian's systemd-container)."""


class Container:
    def __init__(self, workdir: Path, binds_ro: dict[Path, str]) -> None:
        if os.geteuid() != 0:
            raise NspawnUnavailable("booting a container needs root")
        if shutil.which("systemd-nspawn") is None or shutil.which("nsenter") is None:
            raise NspawnUnavailable("systemd-nspawn is missing (Debian's systemd-container)")
        self.workdir = workdir
        self.root = workdir / "rootfs"
        self.log_path = workdir / "nspawn.log"
        self.binds_ro = binds_ro
        self.process: subprocess.Popen[bytes] | None = None
        self.pid1 = 0

    def __enter__(self) -> Container:
        self.root.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "--bind", "/", str(self.root)], check=True, timeout=30)
        subprocess.run(["mount", "-o", "remount,bind,ro", str(self.root)], check=True, timeout=30)
        args = ["systemd-nspawn", "--quiet", "--boot", "--register=no", "--keep-unit",
                f"--directory={self.root}", "--volatile=overlay",
                f"--machine=edge-test-{os.getpid()}"]
        args += [f"--bind-ro={host}:{inside}" for host, inside in self.binds_ro.items()]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self.pid1 = self._wait_for_pid1()
            self._wait_for_boot()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_for_pid1(self) -> int:
        assert self.process is not None
        deadline = time.monotonic() + BOOT_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"systemd-nspawn exited: {self.log_path.read_text()[-2000:]}")
            for children in Path(f"/proc/{self.process.pid}/task").glob("*/children"):
                for pid in children.read_text().split():
                    if Path(f"/proc/{pid}/comm").read_text().strip() == "systemd":
                        return int(pid)
            time.sleep(0.05)
        raise TimeoutError("the container's systemd did not start")

    def _wait_for_boot(self) -> None:
        """Until systemd answers on its private socket and has finished starting up."""
        deadline = time.monotonic() + BOOT_TIMEOUT_S
        while time.monotonic() < deadline:
            state = self.run("systemctl", "is-system-running", "--wait", check=False,
                             timeout_s=BOOT_TIMEOUT_S).stdout.strip()
            if state in {"running", "degraded"}:
                return
            time.sleep(0.1)
        raise TimeoutError(f"the container did not finish booting: {self.log_path.read_text()[-2000:]}")

    def run(self, *command: str, timeout_s: float = 60.0, check: bool = True,
            stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(["nsenter", "-t", str(self.pid1), "-a", *command],
                                input=stdin.decode() if stdin is not None else None,
                                capture_output=True, text=True, timeout=timeout_s)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): "
                               f"{result.stdout[-1000:]}{result.stderr[-1000:]}")
        return result

    def write(self, path: str, text: str, mode: str = "0644") -> None:
        """A file inside the container (its overlay), e.g. a unit or a settings file."""
        self.run("install", "-D", "-m", mode, "/dev/stdin", path, stdin=text.encode())

    def __exit__(self, *_exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # nspawn asks the container to power off
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        with contextlib.suppress(subprocess.CalledProcessError):
            subprocess.run(["umount", str(self.root)], check=True, timeout=30)
