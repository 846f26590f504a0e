"""The detector's talker hold against the room (voice_activity.py). Pure: windows in, kinds out."""

import pytest

from device_agent.capture.fakes import silence_pcm
from device_agent.segmenting.voice_activity import ROOM_KNOWN_S, DetectorConfig, RoomScore, VoiceDetector
from device_agent.segmenting.windows import WINDOW_BYTES, Kind, windows
from devkit.signals import mixed, quieter, room_noise, speech_like_pcm


def background_windows_in_a_soft_stretch(room: bytes, soft_db: float = 12.0) -> int:
    """4 s of `room` outside any utterance, then a talker (inside one) and a stretch of
    the same talker `soft_db` quieter, over the room's last 3 s: how many of the soft
    stretch's windows the talker hold calls BACKGROUND."""
    detector = VoiceDetector(DetectorConfig("energy"))
    before, under = room[: -3 * 32000], room[-3 * 32000:]
    for i in range(0, len(before), WINDOW_BYTES):
        detector.classify(before[i:i + WINDOW_BYTES], holding=False)
    talker = speech_like_pcm(1.5, seed=5) + quieter(speech_like_pcm(1.5, seed=8), soft_db)
    heard = mixed(talker, under)
    kinds = [detector.classify(heard[i:i + WINDOW_BYTES], holding=i >= 0.3 * 32000)
             for i in range(0, len(heard), WINDOW_BYTES)]
    return sum(kind == Kind.BACKGROUND for kind in kinds[75:])


def test_in_a_quiet_room_the_talkers_soft_speech_is_not_background() -> None:
    """Nothing else in the room reaches that level (its 90th percentile plus 6 dB), so a
    soft word or tail 12 dB under the talker is the talker's: it holds the utterance."""
    assert background_windows_in_a_soft_stretch(silence_pcm(4.0) + room_noise(3.0, seed=1)) == 0


def test_where_another_talker_fills_the_room_the_same_soft_stretch_is_background() -> None:
    """The same stretch while a talker at that level went on before the utterance (a TV)."""
    tv = quieter(speech_like_pcm(7.0, seed=6), 12.0)
    assert background_windows_in_a_soft_stretch(tv) > 20


def test_the_rooms_score_is_known_after_a_second_and_follows_its_quantiles() -> None:
    score = RoomScore()
    for i in range(windows(ROOM_KNOWN_S) - 1):
        score.add(float(i % 10))
        score.update()
    assert (score.center, score.spread) == (0.0, 0.0)  # not known yet
    for i in range(windows(5.0)):
        score.add(float(i % 10))
        score.update()
    assert score.center == pytest.approx(2.0, abs=0.5)  # 25th percentile of 0..9
    assert score.spread == pytest.approx(2.0, abs=0.6)  # minus the 5th


def test_window_kinds_are_ordered_by_how_much_they_count_as_speech() -> None:
    assert Kind.BACKGROUND < Kind.NOISE < Kind.WEAK < Kind.SPEECH
    assert min(Kind.SPEECH, Kind.WEAK) is Kind.WEAK


def test_only_levels_near_the_opening_talkers_could_be_the_talker() -> None:
    """After the talker's first speech windows in a room that sounds, a level near theirs
    could be the talker's, one far below could not (it is the room's, or another voice's)."""
    room = room_noise(4.0, seed=2, rms=600.0)
    detector = VoiceDetector(DetectorConfig("energy", talker_hold_db=7.0))
    talker = mixed(speech_like_pcm(0.6, seed=5, amplitude=12000), room_noise(0.6, seed=3, rms=600.0))
    for i in range(0, len(room), WINDOW_BYTES):
        detector.classify(room[i:i + WINDOW_BYTES], holding=False)
    loudest = -200.0
    for i in range(0, len(talker), WINDOW_BYTES):
        detector.classify(talker[i:i + WINDOW_BYTES], holding=False)
        loudest = max(loudest, detector.last_level_dbfs)
    could_be = detector.could_be_the_talker()
    assert could_be(loudest - 3.0) and not could_be(loudest - 20.0)
    assert VoiceDetector(DetectorConfig("energy", talker_hold_db=0.0)).could_be_the_talker()(-90)
