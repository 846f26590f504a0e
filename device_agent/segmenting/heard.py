"""What the detector heard in one utterance, tallied window by window: the talker's level
over the room's, the share of speech, and whether another voice was under it. Pure.

A consumer of the records can then flag a doubtful transcript without decoding audio
(the record's `heard_*` headers, docs/protocol.md)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from device_agent.segmenting.windows import windows

OTHER_VOICE_S = 0.1
"""Another voice heard for this long in all, in the utterance, makes it `background_talk`."""


@dataclass(frozen=True)
class UtteranceHeard:
    snr_db: float
    """The median level of its speech windows over the room's usual level, dB."""
    speech_share: float
    """Its speech windows over all its windows (pre-roll and hangover included)."""
    background_talk: bool
    """Another voice was under the talker: the background bar was up (a continuous talker),
    or the talker hold called windows that sound like talk BACKGROUND (a quieter voice; a
    steady noise never sounds like talk)."""


class HeardTally:
    def __init__(self) -> None:
        self._windows = 0
        self._speech_levels: list[float] = []
        self._other_voice = 0

    def add(self, voiced: bool, level_dbfs: float, other_voice: bool) -> None:
        """One window of the utterance: voiced by the segmenter's rule, its 100 ms level,
        and whether another voice was heard in it."""
        self._windows += 1
        if voiced:
            self._speech_levels.append(level_dbfs)
        self._other_voice += other_voice

    def summary(self, room_dbfs: float) -> UtteranceHeard | None:
        """The tally against the room's usual level; None before any window."""
        if not self._windows:
            return None
        talker = float(np.median(self._speech_levels)) if self._speech_levels else room_dbfs
        return UtteranceHeard(round(talker - room_dbfs, 1),
                              round(len(self._speech_levels) / self._windows, 2),
                              self._other_voice >= windows(OTHER_VOICE_S))
