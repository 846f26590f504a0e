import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingress_common.sd_notify import HIDDEN_NOTIFY_SOCKET, Notifier, hide_from_gunicorn


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2)
    yield path, sock
    sock.close()


def test_ready_and_status_reach_the_socket(listener: tuple[str, socket.socket]) -> None:
    path, sock = listener
    notifier = Notifier({"NOTIFY_SOCKET": path})
    notifier.ready("serving")
    assert sock.recv(1024) == b"READY=1\nSTATUS=serving"
    notifier.stopping()
    assert sock.recv(1024) == b"STOPPING=1"


def test_watchdog_is_rate_limited_to_half_the_interval(listener: tuple[str, socket.socket]) -> None:
    path, sock = listener
    now = [100.0]
    notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "4000000"}, clock=lambda: now[0])
    assert notifier.watchdog() is True
    assert sock.recv(1024) == b"WATCHDOG=1"
    now[0] += 1.9
    assert notifier.watchdog() is False
    now[0] += 0.2
    assert notifier.watchdog() is True


def test_without_systemd_everything_is_a_no_op() -> None:
    notifier = Notifier({"WATCHDOG_USEC": "1000000"})
    notifier.ready()
    assert not notifier.enabled and notifier.watchdog() is False


def test_hidden_socket_is_still_used_by_the_worker(listener: tuple[str, socket.socket]) -> None:
    path, sock = listener
    env = {"NOTIFY_SOCKET": path}
    hide_from_gunicorn(env)
    assert env == {HIDDEN_NOTIFY_SOCKET: path}
    Notifier(env).ready()
    assert sock.recv(1024) == b"READY=1"
