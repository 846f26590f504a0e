"""Issue 25: the fleet seen and steered through edge-console, with real processes only.

Three real agents capture from devkit's ALSA test microphones (real libasound), report
their health through a real gateway into the broker, and a real console follows it. Its
page is driven in headless Chromium with selenium, signed in with an operator token. Every
outcome is read where it takes effect: alerts in the page, settings in the segments Kafka
received, playback in the browser's audio element.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from devkit.agent_process import AgentProcess
from devkit.alsa_fixture import FixtureDevice, alsa_env
from devkit.broker import Broker
from devkit.browser import find_browser
from devkit.console_process import ConsoleProcess
from devkit.gateway_process import GatewayProcess
from devkit.kafka_reader import KafkaReader, ReadEvent
from devkit.log_audit import remember_secret
from devkit.signals import room_noise
from devkit.speech import loud_bounds, phrases_with_pauses
from devkit.waiting import wait_for
from edge_gateway.provisioning import issue_token, write_key_pair
from ingress_common.auth import OPERATOR_AUDIENCE
from ingress_common.pcm import BYTES_PER_SECOND

pytest.importorskip("alsaaudio", reason="pyalsaaudio is not installed (needs libasound2-dev)")
pytestmark = pytest.mark.skipif(find_browser() is None, reason="no chromium/chromedriver")

INTERVAL_S = 1.0
PHRASES = ["turn on the kitchen light", "what is the weather tomorrow", "set a timer for ten "
           "minutes", "play some quiet music", "how far is the station", "remind me at noon",
           "switch off the radio", "open the garage door", "what time is it now",
           "call the front desk", "lock the back door", "read my messages"]
NEW_HANGOVER_S = 1.2


@dataclass
class Fleet:
    workdir: Path
    broker: Broker
    gateway: GatewayProcess
    console: ConsoleProcess
    agents: dict[str, AgentProcess]
    files: dict[str, Path]
    token: str
    browser: WebDriver
    env: dict[str, str]
    reader: KafkaReader

    def agent(self, name: str) -> AgentProcess:
        return self.agents[name]

    def start_agent(self, name: str) -> AgentProcess:
        agent = AgentProcess(self.workdir, self.gateway.ws_url, f"alsa:{name}", name, settings={
            "HOME": self.env["HOME"], "AGENT_HEALTH_INTERVAL_S": str(INTERVAL_S),
            "AGENT_REMOTE_SETTINGS_FILE": str(self.workdir / f"{name}-remote.json")},
            until_drained=False).start()
        self.agents[name] = agent
        return agent

    def row(self, device: str) -> dict[str, object]:
        """The device's row in the page as the operator sees it."""
        # One script, so the page's refresh cannot replace the row between two reads.
        cells = self.browser.execute_script(
            "const r = document.querySelector(`tr[data-device='${arguments[0]}']`);"
            "return r ? Array.from(r.cells, (c) => c.textContent) : null;", device)
        if not cells:
            return {}
        return {"state": cells[1], "alerts": cells[2].split() if cells[2] else [],
                "settings": cells[5]}

    def select(self, device: str) -> None:
        self.browser.execute_script(
            "document.querySelector(`tr[data-device='${arguments[0]}']`).click();", device)
        wait_for(lambda: device in self.browser.find_element(By.ID, "detail-title").text, 10,
                 f"the detail of {device}")


@pytest.fixture(scope="module")
def fleet(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    workdir = tmp_path_factory.mktemp("fleet")
    speech, _ = phrases_with_pauses(PHRASES, pause_s=2.5)
    files = {"fleet-speech": workdir / "speech.raw", "fleet-unplug": workdir / "noise.raw",
             "fleet-silent": workdir / "silent.raw"}
    files["fleet-speech"].write_bytes(speech)
    files["fleet-unplug"].write_bytes(room_noise(120, seed=7, rms=300.0))
    files["fleet-silent"].write_bytes(bytes(120 * BYTES_PER_SECOND))  # digital silence
    env = alsa_env(workdir / "home", [FixtureDevice(name, path, 16000, 1)
                                      for name, path in files.items()])
    private, public = write_key_pair(workdir / "keys", "operators", "ES256")
    token = remember_secret(issue_token(private.read_bytes(), "alice", 3600, OPERATOR_AUDIENCE))
    topic = "fleet.audio"
    broker.create_topic(topic, 1)
    gateway = GatewayProcess(workdir, broker.bootstrap, topic,
                             {"GATEWAY_HEALTH_MIN_INTERVAL_S": "0.2"}).start()
    console = ConsoleProcess(workdir, broker.bootstrap, {
        "CONSOLE_AUTH_PUBLIC_KEYS": str(public), "CONSOLE_HEALTH_INTERVAL_S": str(INTERVAL_S),
        "CONSOLE_NO_SOUND_S": "2", "CONSOLE_REFRESH_S": "0.3"}).start()
    from devkit.browser import headless_chromium

    browser = headless_chromium(workdir)
    fleet = Fleet(workdir, broker, gateway, console, {}, files, token, browser, env,
                  KafkaReader(broker.bootstrap, topic))
    try:
        for name in files:
            fleet.start_agent(name)
        browser.get(console.url)
        wait_for(lambda: browser.find_element(By.ID, "token").is_displayed(), 15, "sign-in")
        browser.find_element(By.ID, "token").send_keys(token)
        browser.find_element(By.ID, "sign-in").click()
        wait_for(lambda: browser.find_element(By.ID, "fleet").is_displayed(), 15, "the fleet")
        yield fleet
    finally:
        browser.quit()
        fleet.reader.close()
        for agent in fleet.agents.values():
            agent.stop()
        console.stop()
        gateway.stop()


def events_of(reader: KafkaReader, device: str, since_ms: int, count: int,
              timeout_s: float) -> list[ReadEvent]:
    def mine(events: list[ReadEvent]) -> list[ReadEvent]:
        return [e for e in events if e.headers.get("device_id") == device
                and int(e.headers.get("captured_at_ms", 0)) >= since_ms]
    return mine(reader.read_until(lambda events: len(mine(events)) >= count, timeout_s))


def trailing_quiet_s(event: ReadEvent) -> float:
    pcm = event.pcm
    _, end = loud_bounds(pcm)
    return (len(pcm) - end) / BYTES_PER_SECOND


def test_the_page_lists_every_device_and_digital_silence_shows_no_sound(fleet: Fleet) -> None:
    for device in fleet.files:
        wait_for(lambda d=device: fleet.row(d).get("state") == "online", 20, f"{device} online")
    wait_for(lambda: "no_sound" in fleet.row("fleet-silent").get("alerts", []), 15,
             "no_sound on the silent microphone")
    assert "no_sound" not in fleet.row("fleet-unplug")["alerts"]  # type: ignore[operator]
    assert "no_sound" not in fleet.row("fleet-speech")["alerts"]  # type: ignore[operator]


def test_an_unplugged_mic_shows_mic_closed_and_a_killed_agent_offline(fleet: Fleet) -> None:
    plugged = fleet.files["fleet-unplug"]
    plugged.rename(plugged.with_suffix(".away"))
    wait_for(lambda: "mic_closed" in fleet.row("fleet-unplug").get("alerts", []), 15,
             "mic_closed after the unplug")
    agent = fleet.agent("fleet-unplug")
    assert agent.process is not None
    os.kill(agent.process.pid, signal.SIGKILL)
    killed = time.monotonic()
    wait_for(lambda: fleet.row("fleet-unplug").get("state") == "offline", 15, "offline")
    # Offline is due after 3 intervals without a report; the page refreshes every 0.3 s.
    assert time.monotonic() - killed <= 3 * INTERVAL_S + 1.5
    assert fleet.row("fleet-speech")["state"] == "online"


def test_a_frozen_broker_shows_the_backlog_growing_then_clearing(fleet: Fleet) -> None:
    device = "fleet-speech"
    fleet.broker.freeze()
    frozen_ms = time.time_ns() // 1_000_000
    try:
        time.sleep(8)  # phrases keep coming every ~4 s; their segments wait in the spool
    finally:
        fleet.broker.thaw()
    thawed_ms = time.time_ns() // 1_000_000

    def history() -> list[list[int]]:
        return list(fleet.console.devices(fleet.token)[device]["spool_depths"])
    cleared = wait_for(lambda: (h := history()) and h[-1][0] > thawed_ms and h[-1][1] == 0
                       and h, 30, "the backlog to clear")
    # Reports are stamped by the gateway when they arrive, which needs no Kafka.
    during = [depth for at, depth in cleared if frozen_ms <= at <= thawed_ms]
    assert during, f"no report while the broker was frozen: {cleared}"
    assert max(during) >= 2 and max(during) > during[0], \
        f"no backlog grew while the broker was frozen: {cleared}"


def test_a_hangover_change_in_the_page_reaches_the_next_segments(
        fleet: Fleet) -> None:
    device = "fleet-speech"
    before = events_of(fleet.reader, device, 0, 2, 30)
    assert max(trailing_quiet_s(e) for e in before) < 0.7  # the default hangover, 0.3 s
    fleet.select(device)
    field = fleet.browser.find_element(By.CSS_SELECTOR, 'input[name="hangover_s"]')
    field.clear()
    field.send_keys(str(NEW_HANGOVER_S))
    fleet.browser.find_element(By.ID, "save-settings").click()
    wait_for(lambda: "Stored as version 1" in
             fleet.browser.find_element(By.ID, "settings-message").text, 10, "stored")
    wait_for(lambda: fleet.row(device).get("settings") == "v1 / v1", 15, "v1 applied")
    applied_ms = time.time_ns() // 1_000_000
    after = events_of(fleet.reader, device, applied_ms, 2, 40)
    assert after, "no segment after the change"
    assert all(trailing_quiet_s(e) >= NEW_HANGOVER_S - 0.2 for e in after), \
        [trailing_quiet_s(e) for e in after]


def test_an_invalid_value_is_refused_in_the_page_with_the_validators_message(
        fleet: Fleet) -> None:
    device = "fleet-speech"
    fleet.select(device)
    field = fleet.browser.find_element(By.CSS_SELECTOR, 'input[name="hangover_s"]')
    field.clear()
    field.send_keys("99")
    fleet.browser.find_element(By.ID, "save-settings").click()
    message = wait_for(lambda: fleet.browser.find_element(By.ID, "settings-message").text, 10,
                       "the refusal")
    assert message == "AGENT_HANGOVER_S: must be between 0.02 and 10 (got '99')"
    assert fleet.console.devices(fleet.token)[device]["settings"]["desired_version"] == 1


def test_an_agent_restart_keeps_the_remote_settings(fleet: Fleet) -> None:
    device = "fleet-speech"
    fleet.agent(device).stop()
    restarted_ms = time.time_ns() // 1_000_000
    agent = fleet.start_agent(device)
    wait_for(lambda: "remote settings version 1 kept" in agent.log_path.read_text(), 15,
             "the kept settings")
    wait_for(lambda: fleet.row(device).get("settings") == "v1 / v1"
             and fleet.row(device).get("state") == "online", 15, "v1 still applied")
    after = events_of(fleet.reader, device, restarted_ms, 1, 40)
    assert all(trailing_quiet_s(e) >= NEW_HANGOVER_S - 0.2 for e in after)


def test_playback_in_the_browser_matches_the_record(fleet: Fleet) -> None:
    device = "fleet-speech"
    fleet.select(device)
    item = wait_for(lambda: fleet.browser.find_elements(By.CSS_SELECTOR, "#utterances li"),
                    20, "an utterance to play")[0]
    segment_id = item.text.split(" ")[0]
    audio = item.find_element(By.TAG_NAME, "audio")
    duration = wait_for(lambda: fleet.browser.execute_script(
        "const a = arguments[0]; return a.readyState >= 1 ? a.duration : 0;", audio), 15,
        "the audio's metadata")
    record = next(e for e in fleet.reader.read_until(
        lambda events: any(e.headers.get("segment_id") == segment_id for e in events), 20)
        if e.headers.get("segment_id") == segment_id)
    assert duration == pytest.approx(len(record.pcm) / BYTES_PER_SECOND, abs=0.01)
    assert np.frombuffer(record.pcm, "<i2").size > 0
    assert "utterance played" in fleet.console.log_path.read_text()
