"""The demos end on SIGTERM (a service manager, `timeout`, a closed terminal's SIGHUP) as
on Ctrl-C: the first signal raises KeyboardInterrupt in the main thread, so the demo's
`finally` stops every process it started, by PID. Later signals are ignored: a second
Ctrl-C, or `timeout` passing its own SIGTERM on, must not interrupt that cleanup halfway
and leave processes behind."""

from __future__ import annotations

import signal
from types import FrameType


def stop_like_ctrl_c() -> None:
    """From now on SIGINT, SIGTERM and SIGHUP interrupt the main thread once."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt_once)


def _interrupt_once(_signum: int, _frame: FrameType | None) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    raise KeyboardInterrupt
