"""The agent's settings: a detector or front end whose package is missing, or present in a
version without what the code calls, is refused with its reason, locally and remotely,
never run broken (issue 34: pymicro-vad 1.x has Process10ms, the code calls process_10ms)."""

import importlib.machinery
import importlib.util
import sys
import types

import pytest

from device_agent.settings import check_remote, load_settings
from ingress_common.config import ConfigError


def an_old_module(name: str, owner: str, method: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)
    module.__version__ = "1.0.2"  # type: ignore[attr-defined]
    setattr(module, owner, type(owner, (), {method: lambda self: None}))
    return module


def test_a_model_of_a_version_without_the_api_is_refused_at_start_and_remotely(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pymicro_vad", an_old_module("pymicro_vad", "MicroVad",
                                                                  "Process10ms"))
    with pytest.raises(ConfigError, match=r"AGENT_DETECTOR: micro needs pymicro_vad's "
                                          r"MicroVad.process_10ms, which the installed "
                                          r"pymicro_vad \(1.0.2\) lacks"):
        load_settings(cli={"detector": "micro"}, env={})
    with pytest.raises(ConfigError, match="process_10ms"):
        check_remote({"detector": "micro"})


def test_noise_gain_without_its_frame_call_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "webrtc_noise_gain",
                        an_old_module("webrtc_noise_gain", "AudioProcessor", "process"))
    with pytest.raises(ConfigError, match="AudioProcessor.Process10ms"):
        check_remote({"noise_suppression": "2"})
    assert check_remote({"noise_suppression": "0"}) == {"noise_suppression": 0}


@pytest.mark.skipif(importlib.util.find_spec("webrtc_noise_gain") is None
                    or importlib.util.find_spec("pymicro_vad") is None,
                    reason="the front-end extra is not installed (a box without it)")
def test_the_installed_versions_pass() -> None:
    assert check_remote({"detector": "micro", "noise_suppression": "2"}) == \
        {"detector": "micro", "noise_suppression": 2}
