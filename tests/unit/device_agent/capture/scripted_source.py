"""A test-only source that plays xruns, unplugs and stalls: production never selects it."""

from __future__ import annotations

from collections.abc import Iterator

from device_agent.capture.source import Chunk, EndOfSource, SourceError, SourceStalled


class ScriptedSource:
    """Plays a script shared across reopenings, for xrun / unplug / stall tests.

    Steps: bytes (a chunk of audio), "xrun", "unplug" (the read fails), "stall"
    (no frames), "open_fails" (consumed by the next open()).
    """

    def __init__(self, script: Iterator[bytes | str], name: str = "scripted") -> None:
        self.name = name
        self._script = script
        self.opened = 0
        self.closed = 0
        self._pending: bytes | str | None = None

    def open(self) -> None:
        step = self._next()
        if step == "open_fails":
            raise SourceError("device busy")
        self._pending = step
        self.opened += 1

    def read(self, timeout_s: float) -> Chunk:
        step = self._pending if self._pending is not None else self._next()
        self._pending = None
        if step == "xrun":
            return Chunk(b"", xrun=True)
        if step == "unplug":
            raise SourceError("No such device")
        if step == "stall":
            raise SourceStalled(f"no frames for {timeout_s:g} s")
        assert isinstance(step, bytes)
        return Chunk(step)

    def close(self) -> None:
        self.closed += 1

    def _next(self) -> bytes | str:
        try:
            return next(self._script)
        except StopIteration:
            raise EndOfSource(self.name) from None
