"""The level of speech that is not the near talker's: a television, a radio, a room of
voices. Pure.

The near talker is louder and closer than the background. Windows a speech model calls
speech while no utterance is open are background speech, unless an utterance starts within
`delay_windows` after them (then they were the near talker's own onset, and are dropped).
The bar is a high percentile of those levels over the last `history_windows`: to start an
utterance a window must lie `margin_db` above it, and to keep one going half that, so the
background alone cannot hold a segment open. Until enough background speech was heard
(`min_windows`) there is no bar: in steady noise or a quiet room the rule stays out of the
way.
"""

from __future__ import annotations

from collections import deque

import numpy as np

PERCENTILE = 90


class BackgroundSpeech:
    def __init__(self, delay_windows: int = 30, history_windows: int = 750,
                 min_windows: int = 25) -> None:
        self._delay = delay_windows
        self._history_windows = history_windows
        self._min = min_windows
        self._pending: deque[tuple[int, float]] = deque()
        self._levels: deque[tuple[int, float]] = deque()
        self._index = 0
        self._bar: float | None = None
        self._changed = False

    def observe(self, level_db: float, speechlike: bool, holding: bool) -> None:
        """One window: its speech-band level, whether a model calls it speech, and whether
        an utterance is open."""
        self._index += 1
        if holding:
            self._pending.clear()  # the near talker's onset, not the background
            return
        self._pending.append((self._index, level_db if speechlike else float("nan")))
        while self._pending and self._pending[0][0] <= self._index - self._delay:
            index, level = self._pending.popleft()
            if level == level:  # not NaN: speech
                self._levels.append((index, level))
                self._changed = True
        while self._levels and self._levels[0][0] <= self._index - self._history_windows:
            self._levels.popleft()
            self._changed = True

    def bar_db(self) -> float | None:
        """The background speech level (None: not enough heard lately)."""
        if self._changed:
            self._changed = False
            self._bar = (float(np.percentile([level for _, level in self._levels], PERCENTILE))
                         if len(self._levels) >= self._min else None)
        return self._bar
