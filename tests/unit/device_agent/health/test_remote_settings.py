import json
from pathlib import Path

from device_agent.health.remote import RemoteSettings
from device_agent.settings import AgentSettings
from ingress_common.health import DesiredSettings

LOCAL = AgentSettings(hangover_s=0.3, channel="auto")


def test_valid_settings_apply_over_local_ones_and_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "remote.json"
    remote = RemoteSettings(LOCAL, path)
    applied = remote.offer(DesiredSettings(2, {"hangover_s": "1.5", "channel": "2"}))
    assert applied is not None and applied.hangover_s == 1.5 and applied.channel == "2"
    assert remote.version == 2 and remote.error == ""
    assert json.loads(path.read_text()) == {"version": 2, "values": {"hangover_s": "1.5",
                                                                     "channel": "2"}}
    again = RemoteSettings(LOCAL, path)
    again.load()
    assert again.version == 2 and again.settings.hangover_s == 1.5
    assert remote.offer(DesiredSettings(2, {"hangover_s": "1.5"})) is None  # in force


def test_a_key_dropped_from_the_desired_set_falls_back_to_the_local_value() -> None:
    remote = RemoteSettings(LOCAL, None)
    remote.offer(DesiredSettings(1, {"hangover_s": "2"}))
    applied = remote.offer(DesiredSettings(2, {}))
    assert applied is not None and applied.hangover_s == LOCAL.hangover_s


def test_invalid_or_forbidden_settings_are_refused_with_the_validators_reason() -> None:
    remote = RemoteSettings(LOCAL, None)
    assert remote.offer(DesiredSettings(3, {"hangover_s": "99"})) is None
    assert remote.error == "AGENT_HANGOVER_S: must be between 0.02 and 10 (got '99')"
    assert remote.version == 0
    assert remote.offer(DesiredSettings(3, {"hangover_s": "99"})) is None  # not retried
    assert remote.offer(DesiredSettings(4, {"gateway_url": "ws://evil/ws/audio"})) is None
    assert "cannot be changed remotely" in remote.error
    assert remote.settings.gateway_url == LOCAL.gateway_url
