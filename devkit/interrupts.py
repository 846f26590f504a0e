"""The demos end on SIGTERM (a service manager, `timeout`, a closed terminal's SIGHUP) as
on Ctrl-C: Python's own SIGINT handler raises KeyboardInterrupt in the main thread, so the
demo's `finally` stops every process it started, by PID."""

from __future__ import annotations

import signal


def stop_like_ctrl_c() -> None:
    """From now on SIGTERM and SIGHUP interrupt the main thread as SIGINT does."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)
