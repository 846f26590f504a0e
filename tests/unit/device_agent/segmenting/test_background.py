"""The levels the detector compares a window with besides its floor (background.py)."""

import math

from device_agent.segmenting.background import (
    BACKGROUND_WINDOWS,
    BackgroundTalker,
    LevelSmoother,
    RoomLevel,
)


def talk(talker: BackgroundTalker, windows: int, level: float, every: int = 1,
         holding: bool = False) -> None:
    """`windows` windows, one in `every` speech-like at `level`, the rest silent."""
    for i in range(windows):
        speaking = i % every == 0
        talker.hear(level if speaking else -90.0, speaking, holding, opened=False)


def test_a_talker_who_goes_on_and_on_raises_a_bar_above_its_median() -> None:
    television = BackgroundTalker(margin_db=6.0)
    talk(television, BACKGROUND_WINDOWS, -36.0, every=1)
    assert television.bar_dbfs == -30.0
    assert not television.lets_start(-33.0) and television.lets_start(-29.0)


def test_a_talker_who_pauses_between_requests_raises_no_bar() -> None:
    person = BackgroundTalker(margin_db=6.0)
    talk(person, BACKGROUND_WINDOWS, -26.0, every=3)  # a third of the time
    assert person.bar_dbfs is None and person.lets_start(-40.0)


def test_the_bar_stays_through_a_pause_and_goes_once_the_room_is_quiet() -> None:
    television = BackgroundTalker(margin_db=6.0)
    talk(television, BACKGROUND_WINDOWS, -36.0)
    talk(television, 150, -90.0, every=10**9)  # a 3 s scene change: still on
    assert television.bar_dbfs is not None
    talk(television, BACKGROUND_WINDOWS, -90.0, every=10**9)  # switched off
    assert television.bar_dbfs is None


def test_the_near_talker_who_started_over_the_bar_does_not_teach_it() -> None:
    television = BackgroundTalker(margin_db=6.0)
    talk(television, BACKGROUND_WINDOWS, -36.0)
    bar = television.bar_dbfs
    television.hear(-20.0, True, holding=True, opened=True)  # an utterance over the bar
    talk(television, 600, -20.0, holding=True)  # most of the 20 s
    assert television.bar_dbfs == bar


def test_levels_are_averaged_over_100_ms_of_power() -> None:
    smoother = LevelSmoother()
    for _ in range(4):
        smoother.add(-100.0)
    assert round(smoother.add(-20.0), 1) == round(-20.0 - 10 * math.log10(5), 1)


def test_the_room_level_is_the_median_of_the_last_5_s() -> None:
    room = RoomLevel()
    for i in range(250):
        room.add(-40.0 if i % 4 else -20.0)
    assert room.level == -40.0
