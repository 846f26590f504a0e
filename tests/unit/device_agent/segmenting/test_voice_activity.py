"""The detector's talker hold against the room (voice_activity.py). Pure: windows in, kinds out."""

from device_agent.capture.fakes import silence_pcm
from device_agent.segmenting.voice_activity import (
    BACKGROUND,
    WINDOW_BYTES,
    DetectorConfig,
    VoiceDetector,
)
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
    return sum(kind == BACKGROUND for kind in kinds[75:])


def test_in_a_quiet_room_the_talkers_soft_speech_is_not_background() -> None:
    """Nothing else in the room reaches that level (its 90th percentile plus 6 dB), so a
    soft word or tail 12 dB under the talker is the talker's: it holds the utterance."""
    assert background_windows_in_a_soft_stretch(silence_pcm(4.0) + room_noise(3.0, seed=1)) == 0


def test_where_another_talker_fills_the_room_the_same_soft_stretch_is_background() -> None:
    """The same stretch while a talker at that level went on before the utterance (a TV)."""
    tv = quieter(speech_like_pcm(7.0, seed=6), 12.0)
    assert background_windows_in_a_soft_stretch(tv) > 20
