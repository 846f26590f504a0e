"""Levels the detector compares a window with, besides its noise floor. Pure: no threads,
no clock, no I/O. Levels are the speech band's, in dBFS, averaged over 100 ms
(`LevelSmoother`): a syllable's peak and its gap then read as one level, as a talker's does.

- `RoomLevel`: the room's usual level, the median over the last 5 s outside utterances. A
  near talker stands well above it, even where babble hides the harmonics the score
  looks for. Its 90th percentile is the loudest the room usually is: a window well above
  that is nobody's but the talker's.
- `BackgroundTalker`: the level of a source that goes on and on (a television, a radio,
  music). One voice, or music, that sounds like talk for 6 s without a pause of 1.2 s,
  most of that time, is not a person talking to the device, who stops and waits for the
  answer. While one is heard, a
  new utterance must start `margin_db` above the median of that talker's levels; the bar
  stays until speech fills less than a quarter of the last 20 s. An utterance that started over the bar is
  the near talker's, and its windows do not teach the bar, so it does not rise on the
  person it is meant to let through. The cost: a person who talks like a television (6 s
  on end) is taken for one, and must then speak up to start the next request until the
  room has been mostly quiet for a while (docs/agent.md).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from device_agent.segmenting.windows import windows

SMOOTHING_WINDOWS = windows(0.1)
"""100 ms."""
ROOM_WINDOWS = windows(5.0)
ROOM_KNOWN_WINDOWS = windows(1.0)
"""The room's level is not known before a second of it is heard."""
ROOM_UPPER_PERCENTILE = 90
BACKGROUND_WINDOWS = windows(20.0)
"""How long a background talker's speech is remembered."""
RUN_WINDOWS = windows(6.0)
PAUSE_WINDOWS = windows(1.2)
"""Talk that goes on for 6 s without a 1.2 s pause raises the bar: a person talking to the
device stops and waits for the answer, a television does not (its sentences follow each
other closer than that)."""
RUN_TALK_SHARE = 0.6
"""...that is mostly talk: more than someone giving one 1 s request after another with
1 s pauses (half talk), less than a television's read speech."""
ONE_SOURCE_DB = 6.0
"""...if it is one source, a voice or music: its level falls between words and sentences,
or between notes, so the run's median lies this far over its 10th percentile. A crowd's
babble never falls silent (about 3 dB over its 10th percentile); the score already treats
it as noise."""
CONTINUOUS_SHARE_OFF = 0.25
"""The bar goes when speech fills less than a quarter of the last 20 s."""
BACKGROUND_PERCENTILE = 50
MIN_BACKGROUND_LEVELS = windows(1.0)
UPDATE_WINDOWS = windows(0.2)


class LevelSmoother:
    """The power average of the last 100 ms of window levels, in dBFS."""

    def __init__(self) -> None:
        self._powers: deque[float] = deque(maxlen=SMOOTHING_WINDOWS)

    def add(self, level_dbfs: float) -> float:
        self._powers.append(10 ** (level_dbfs / 10))
        return 10 * math.log10(sum(self._powers) / len(self._powers))


class RoomLevel:
    """The median level outside utterances over the last 5 s, and its 90th percentile (the
    loudest the room usually is); None for the first second."""

    def __init__(self) -> None:
        self._levels: deque[float] = deque(maxlen=ROOM_WINDOWS)
        self._since_update = 0
        self.level: float | None = None
        self.upper: float | None = None

    def add(self, level_dbfs: float) -> None:
        self._levels.append(level_dbfs)
        self._since_update += 1
        if len(self._levels) >= ROOM_KNOWN_WINDOWS and self._since_update >= UPDATE_WINDOWS:
            self._since_update = 0
            middle, upper = np.percentile(self._levels, [50, ROOM_UPPER_PERCENTILE])
            self.level, self.upper = float(middle), float(upper)

    def forget(self, windows: int) -> None:
        """The last `windows` were an utterance's onset, not the room."""
        for _ in range(min(windows, len(self._levels))):
            self._levels.pop()


class BackgroundTalker:
    """The bar a new utterance must reach while a continuous talker is heard."""

    def __init__(self, margin_db: float) -> None:
        self.margin_db = margin_db
        self._levels = np.full(BACKGROUND_WINDOWS, np.nan)
        self._speechlike = np.zeros(BACKGROUND_WINDOWS, dtype=bool)
        self._teaches = np.zeros(BACKGROUND_WINDOWS, dtype=bool)
        """Speech-like windows that are not the near talker's: the bar's levels."""
        self._heard = 0
        self._run = 0
        """Windows since the last pause of PAUSE_WINDOWS (the quiet since the last talk
        included)."""
        self._quiet = 0
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
        self._levels[slot] = level_dbfs
        self._speechlike[slot] = speechlike
        self._teaches[slot] = speechlike and not self._near_talker_speaking
        self._heard += 1
        self._quiet = 0 if speechlike else self._quiet + 1
        self._run = 0 if self._quiet >= PAUSE_WINDOWS else self._run + 1
        if self._heard % UPDATE_WINDOWS == 0:
            self._update()

    def lets_start(self, level_dbfs: float) -> bool:
        return self.bar_dbfs is None or level_dbfs >= self.bar_dbfs

    def _update(self) -> None:
        count = min(self._heard, BACKGROUND_WINDOWS)
        if self.bar_dbfs is None:
            if not self._talks_on_and_on():
                return
        elif self._speechlike[:count].sum() < CONTINUOUS_SHARE_OFF * BACKGROUND_WINDOWS:
            self.bar_dbfs = None
            return
        levels = self._levels[:count][self._teaches[:count]]
        if len(levels) >= MIN_BACKGROUND_LEVELS:
            self.bar_dbfs = float(np.percentile(levels, BACKGROUND_PERCENTILE)) + self.margin_db

    def _talks_on_and_on(self) -> bool:
        """Whether the current run is a television's or music's: long, mostly talk, and
        one source."""
        if self._run - self._quiet < RUN_WINDOWS:
            return False
        run = (self._heard - 1 - np.arange(min(self._run, BACKGROUND_WINDOWS))) % BACKGROUND_WINDOWS
        if self._speechlike[run].mean() < RUN_TALK_SHARE:
            return False
        low, middle = np.percentile(self._levels[run], [10, 50])
        return bool(middle - low >= ONE_SOURCE_DB)
