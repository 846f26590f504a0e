"""Which change of state sends a health report at once. Pure."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Watched:
    mic_open: bool
    quarantined: int
    spool_half: bool
    """The spool holds at least half its segment or byte limit."""
    settings_version: int
    settings_error: str


class StateWatch:
    """Remembers the state last reported; `change()` names the first thing that changed
    since, as a report reason, or None."""

    def __init__(self) -> None:
        self._reported: Watched | None = None

    def change(self, now: Watched) -> str | None:
        before = self._reported
        if before is None:
            return None
        if now.mic_open != before.mic_open:
            return "mic_back" if now.mic_open else "mic_lost"
        if now.quarantined > before.quarantined:
            return "quarantined"
        if now.spool_half and not before.spool_half:
            return "spool_half"
        if now.settings_version != before.settings_version:
            return "settings_applied"
        if now.settings_error and now.settings_error != before.settings_error:
            return "settings_refused"
        return None

    def reported(self, state: Watched) -> None:
        self._reported = state
