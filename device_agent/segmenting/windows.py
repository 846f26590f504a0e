"""The segmenter's unit of time, a 20 ms window, and what the detector calls each one.

Every count of windows is derived here from seconds (`windows`), so a rule reads in
seconds wherever it is written, and the window's length is said once.
"""

from __future__ import annotations

from enum import IntEnum

from ingress_common.pcm import SAMPLE_RATE_HZ, SAMPLE_WIDTH_BYTES

WINDOW_S = 0.02
WINDOW_SAMPLES = int(SAMPLE_RATE_HZ * WINDOW_S)
WINDOW_BYTES = WINDOW_SAMPLES * SAMPLE_WIDTH_BYTES


def windows(seconds: float) -> int:
    """How many windows make `seconds`."""
    return round(seconds / WINDOW_S)


class Kind(IntEnum):
    """What a window is, in order of how much it counts as speech."""

    BACKGROUND = -1
    """Sound far below the talker, inside an utterance (the talker hold): silence to the
    hangover."""
    NOISE = 0
    WEAK = 1
    """Enough to hold an utterance open or to extend its onset backwards, not to start one."""
    SPEECH = 2
