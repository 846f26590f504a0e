"""The levels the detector compares a window with besides its floor (background.py)."""

import math

from device_agent.segmenting.background import (
    BackgroundTalker,
    LevelSmoother,
    RoomLevel,
)


def talk(talker: BackgroundTalker, seconds: float, level: float, pause_s: float = 0.2,
         every_s: float = 1.0, holding: bool = False) -> None:
    """One voice at `level`: `every_s` of talk, then `pause_s` of quiet (-70 dBFS, not
    talk), over `seconds`."""
    period = round((every_s + pause_s) / 0.02)
    for i in range(round(seconds / 0.02)):
        talking = i % period < round(every_s / 0.02)
        talker.hear(level if talking else -70.0, talking, holding, opened=False)


def quiet(talker: BackgroundTalker, seconds: float) -> None:
    for _ in range(round(seconds / 0.02)):
        talker.hear(-70.0, False, False, opened=False)


def test_one_voice_that_talks_6_s_without_a_long_pause_raises_a_bar_above_its_median() -> None:
    television = BackgroundTalker(margin_db=6.0)
    talk(television, 5.5, -36.0)
    assert television.bar_dbfs is None
    talk(television, 1.0, -36.0)
    assert television.bar_dbfs == -30.0
    assert not television.lets_start(-33.0) and television.lets_start(-29.0)


def test_a_person_who_stops_for_the_answer_raises_no_bar() -> None:
    """5 s requests 1.5 s apart, for a minute: each pause ends the run."""
    person = BackgroundTalker(margin_db=6.0)
    for _ in range(10):
        talk(person, 5.0, -26.0)
        quiet(person, 1.5)
    assert person.bar_dbfs is None and person.lets_start(-40.0)


def test_one_short_request_after_another_raises_no_bar() -> None:
    """1 s requests with 1 s pauses: no pause ends the run, but it is only half talk."""
    person = BackgroundTalker(margin_db=6.0)
    talk(person, 30.0, -26.0, pause_s=1.0, every_s=1.0)
    assert person.bar_dbfs is None


def test_a_crowd_that_never_falls_silent_raises_no_bar() -> None:
    """Babble: talk all the time, its level within a few dB of its median."""
    crowd = BackgroundTalker(margin_db=6.0)
    for i in range(round(30 / 0.02)):
        crowd.hear(-36.0 + (i % 7) - 3, True, False, opened=False)
    assert crowd.bar_dbfs is None


def test_music_that_plays_on_raises_a_bar_above_its_median() -> None:
    """Notes that decay, one after another: no pause, but the level falls between them
    (8 dB from the median to the 10th percentile, as bench.rooms' music)."""
    radio = BackgroundTalker(margin_db=6.0)
    for i in range(round(8 / 0.02)):
        radio.hear(-30.0 - 1.6 * (i % 13), True, False, opened=False)  # a note each 0.26 s
    assert radio.bar_dbfs is not None


def test_the_bar_stays_through_a_pause_and_goes_once_the_room_is_quiet() -> None:
    television = BackgroundTalker(margin_db=6.0)
    talk(television, 20.0, -36.0)
    quiet(television, 3.0)  # a scene change: still on
    assert television.bar_dbfs is not None
    quiet(television, 20.0)  # switched off
    assert television.bar_dbfs is None


def test_the_near_talker_who_started_over_the_bar_does_not_teach_it() -> None:
    television = BackgroundTalker(margin_db=6.0)
    talk(television, 20.0, -36.0)
    bar = television.bar_dbfs
    television.hear(-20.0, True, holding=True, opened=True)  # an utterance over the bar
    talk(television, 12.0, -20.0, holding=True)  # most of the 20 s
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


def test_an_utterances_onset_is_forgotten_by_the_room() -> None:
    """The stretch that opened an utterance is the talker's: a loud tone's first 0.3 s
    must not make the room's upper level the tone's (it made the talker hold call that
    talker's own next phrase background; test_native_formats caught it)."""
    room = RoomLevel()
    for _ in range(100):
        room.add(-80.0)
    for _ in range(15):
        room.add(-15.0)  # the onset, before the segmenter opened the utterance
    room.forget(25)
    for _ in range(10):
        room.add(-80.0)
    assert room.upper == -80.0
