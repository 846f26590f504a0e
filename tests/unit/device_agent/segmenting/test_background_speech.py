from device_agent.segmenting.background_speech import BackgroundSpeech


def feed(background: BackgroundSpeech, level: float, speechlike: bool, holding: bool,
         windows: int) -> None:
    for _ in range(windows):
        background.observe(level, speechlike, holding)


def test_no_bar_until_enough_background_speech_was_heard() -> None:
    background = BackgroundSpeech(delay_windows=5, history_windows=100, min_windows=10)
    feed(background, -60.0, False, False, 200)  # steady noise: the model hears no speech
    assert background.bar_db() is None
    feed(background, -36.0, True, False, 14)  # 9 committed after the delay: not yet
    assert background.bar_db() is None
    feed(background, -36.0, True, False, 1)
    assert background.bar_db() == -36.0


def test_the_near_talkers_onset_is_not_background() -> None:
    background = BackgroundSpeech(delay_windows=5, history_windows=100, min_windows=3)
    feed(background, -36.0, True, False, 20)  # a television
    feed(background, -20.0, True, False, 4)  # the near talker, before the utterance opens
    feed(background, -20.0, True, True, 50)  # ... and inside it
    assert background.bar_db() == -36.0


def test_old_background_speech_expires() -> None:
    background = BackgroundSpeech(delay_windows=2, history_windows=50, min_windows=5)
    feed(background, -30.0, True, False, 20)
    assert background.bar_db() == -30.0
    feed(background, -70.0, False, False, 60)  # the television was switched off
    assert background.bar_db() is None
