"""Levels the detector compares a window with, besides its noise floor. Pure: no threads,
no clock, no I/O. Levels are the speech band's, in dBFS, averaged over 100 ms
(`LevelSmoother`): a syllable's peak and its gap then read as one level, as a talker's does.

- `RoomLevel`: the room's usual level, the median over the last 5 s outside utterances. A
  near talker stands well above it, even where babble hides the harmonics the score
  looks for.
- `BackgroundTalker`: the level of a talker who goes on and on (a television, a radio).
  Someone who fills at least half of the last 20 s with speech is not a person talking
  to the device, who pauses between requests. While one is heard, a new utterance must
  start `margin_db` above the median of that talker's levels; the bar stays until the
  speech fills less than a quarter of the 20 s. An utterance that started over the bar is
  the near talker's, and its windows do not teach the bar, so it does not rise on the
  person it is meant to let through.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

SMOOTHING_WINDOWS = 5
"""100 ms of 20 ms windows."""
ROOM_WINDOWS = 250
"""5 s."""
BACKGROUND_WINDOWS = 1000
"""20 s: how long a background talker's speech is remembered."""
BACKGROUND_FIRST_WINDOWS = 250
"""The bar is not judged before 5 s have been heard."""
CONTINUOUS_SHARE_ON = 0.5
CONTINUOUS_SHARE_OFF = 0.25
"""Speech-like share of the last 20 s that raises the bar, and that lowers it again."""
BACKGROUND_PERCENTILE = 50
MIN_BACKGROUND_LEVELS = 50
UPDATE_WINDOWS = 10
ROOM_UPPER_PERCENTILE = 90


class LevelSmoother:
    """The power average of the last 100 ms of window levels, in dBFS."""

    def __init__(self) -> None:
        self._powers: deque[float] = deque(maxlen=SMOOTHING_WINDOWS)

    def add(self, level_dbfs: float) -> float:
        self._powers.append(10 ** (level_dbfs / 10))
        return 10 * math.log10(sum(self._powers) / len(self._powers))


class RoomLevel:
    """The median level outside utterances over the last 5 s (None for the first second)."""

    def __init__(self) -> None:
        self._levels: deque[float] = deque(maxlen=ROOM_WINDOWS)
        self._since_update = 0
        self.level: float | None = None
        self.upper: float | None = None

    def add(self, level_dbfs: float) -> None:
        self._levels.append(level_dbfs)
        self._since_update += 1
        if len(self._levels) >= 50 and self._since_update >= UPDATE_WINDOWS:
            self._since_update = 0
            self.level = float(np.median(self._levels))
            self.upper = float(np.percentile(self._levels, ROOM_UPPER_PERCENTILE))


class BackgroundTalker:
    """The bar a new utterance must reach while a continuous talker is heard."""

    def __init__(self, margin_db: float) -> None:
        self.margin_db = margin_db
        self._levels = np.full(BACKGROUND_WINDOWS, np.nan)
        """Levels of background speech-like windows (NaN: not one)."""
        self._speechlike = np.zeros(BACKGROUND_WINDOWS, dtype=bool)
        self._heard = 0
        self._near_talker_speaking = False
        self.bar_dbfs: float | None = None

    def hear(self, level_dbfs: float, speechlike: bool, holding: bool, opened: bool) -> None:
        """One window: its level, whether it sounds like speech, whether an utterance is
        open, and whether this window is the first of one."""
        if opened:
            self._near_talker_speaking = self.bar_dbfs is not None
        elif not holding:
            self._near_talker_speaking = False
        slot = self._heard % BACKGROUND_WINDOWS
        background = speechlike and not self._near_talker_speaking
        self._levels[slot] = level_dbfs if background else np.nan
        self._speechlike[slot] = speechlike
        self._heard += 1
        if self._heard >= BACKGROUND_FIRST_WINDOWS and self._heard % UPDATE_WINDOWS == 0:
            self._update()

    def lets_start(self, level_dbfs: float) -> bool:
        return self.bar_dbfs is None or level_dbfs >= self.bar_dbfs

    def _update(self) -> None:
        count = min(self._heard, BACKGROUND_WINDOWS)
        share = self._speechlike[:count].sum() / count
        levels = self._levels[:count]
        levels = levels[~np.isnan(levels)]
        needed = CONTINUOUS_SHARE_OFF if self.bar_dbfs is not None else CONTINUOUS_SHARE_ON
        if share >= needed and len(levels) >= MIN_BACKGROUND_LEVELS:
            self.bar_dbfs = float(np.percentile(levels, BACKGROUND_PERCENTILE)) + self.margin_db
        else:
            self.bar_dbfs = None
