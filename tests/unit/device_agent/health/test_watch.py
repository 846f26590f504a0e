from device_agent.health.watch import StateWatch, Watched

CALM = Watched(mic_open=True, quarantined=0, spool_half=False, settings_version=1,
               settings_error="")


def test_nothing_before_the_first_report_and_nothing_when_calm() -> None:
    watch = StateWatch()
    assert watch.change(CALM) is None
    watch.reported(CALM)
    assert watch.change(CALM) is None


def test_each_change_has_its_reason() -> None:
    watch = StateWatch()
    watch.reported(CALM)
    cases = {
        "mic_lost": Watched(False, 0, False, 1, ""),
        "quarantined": Watched(True, 1, False, 1, ""),
        "spool_half": Watched(True, 0, True, 1, ""),
        "settings_applied": Watched(True, 0, False, 2, ""),
        "settings_refused": Watched(True, 0, False, 1, "AGENT_HANGOVER_S: must be between"),
    }
    for reason, state in cases.items():
        assert watch.change(state) == reason
    watch.reported(Watched(False, 0, False, 1, ""))
    assert watch.change(CALM) == "mic_back"
