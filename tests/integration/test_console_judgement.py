"""Issue 31: the console judges each device by its own report interval, tells the operator
when it is the console that cannot read Kafka, and shows why a device refused a setting it
lacks the package for. Real agents, gateway, broker and console; the page in Chromium."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from devkit.agent_process import AgentProcess
from devkit.broker import Broker
from devkit.browser import find_browser, headless_chromium
from devkit.console_process import ConsoleProcess
from devkit.gateway_process import GatewayProcess
from devkit.waiting import wait_for

pytestmark = pytest.mark.skipif(find_browser() is None, reason="no chromium/chromedriver")

CONSOLE_INTERVAL_S = 5.0
"""The console's fleet-wide setting: offline after 15 s. Neither agent reports at it."""
FAST_S, SLOW_S = 2.0, 20.0
REFRESH_S = 0.3
FROZEN_S = 30.0
NO_NOISE_GAIN = 'import sys\nsys.modules["webrtc_noise_gain"] = None  # a box without the wheel\n'


@dataclass
class Rig:
    workdir: Path
    broker: Broker
    gateway: GatewayProcess
    console: ConsoleProcess
    browser: WebDriver
    agents: dict[str, AgentProcess]

    def start_agent(self, name: str, interval_s: float, **env: str) -> AgentProcess:
        agent = AgentProcess(self.workdir, self.gateway.ws_url, "silence", name, settings={
            "AGENT_HEALTH_INTERVAL_S": str(interval_s), **env}, until_drained=False).start()
        self.agents[name] = agent
        return agent

    def view(self, device: str) -> dict[str, object]:
        return self.console.devices().get(device, {})

    def page_row(self, device: str) -> str:
        return str(self.browser.execute_script(
            "const r = document.querySelector(`tr[data-device='${arguments[0]}']`);"
            "return r ? r.cells[1].textContent : '';", device))

    def banner(self) -> str:
        return str(self.browser.execute_script(
            "const b = document.getElementById('kafka-outage'); return b.hidden ? '' : b.textContent;"))


@pytest.fixture(scope="module")
def rig(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    workdir = tmp_path_factory.mktemp("judgement")
    topic = "judgement.audio"
    broker.create_topic(topic, 1)
    gateway = GatewayProcess(workdir, broker.bootstrap, topic,
                             {"GATEWAY_HEALTH_MIN_INTERVAL_S": "0.2"}).start()
    console = ConsoleProcess(workdir, broker.bootstrap, {
        "CONSOLE_HEALTH_INTERVAL_S": str(CONSOLE_INTERVAL_S),
        "CONSOLE_REFRESH_S": str(REFRESH_S)}).start()
    browser = headless_chromium(workdir)
    rig = Rig(workdir, broker, gateway, console, browser, {})
    try:
        browser.get(console.url)
        wait_for(lambda: browser.find_element(By.ID, "fleet").is_displayed(), 15, "the page")
        yield rig
    finally:
        browser.quit()
        for agent in rig.agents.values():
            agent.stop()
        console.stop()
        gateway.stop()


def online(rig: Rig, device: str) -> bool:
    return bool(rig.view(device).get("online"))


def test_offline_is_judged_by_each_devices_own_interval(rig: Rig) -> None:
    fast = rig.start_agent("judged-fast", FAST_S)
    rig.start_agent("judged-slow", SLOW_S)
    for device in ("judged-fast", "judged-slow"):
        wait_for(lambda d=device: online(rig, d), 20, f"{device} online")
    assert fast.process is not None
    os.kill(fast.process.pid, signal.SIGKILL)
    killed = time.monotonic()
    wait_for(lambda: rig.page_row("judged-fast") == "offline", 20, "the fast device offline")
    assert time.monotonic() - killed <= 3 * FAST_S + REFRESH_S + 1.0  # + the last report's age

    watched_until = time.monotonic() + 2 * SLOW_S + 5  # across two of its intervals
    while time.monotonic() < watched_until:
        assert online(rig, "judged-slow"), rig.view("judged-slow")
        time.sleep(0.5)
    assert rig.page_row("judged-slow") == "online"


def test_kafka_frozen_says_so_and_turns_no_device_offline(rig: Rig) -> None:
    rig.start_agent("judged-steady", FAST_S)
    wait_for(lambda: online(rig, "judged-steady"), 20, "the steady device online")
    rig.broker.freeze()
    try:
        said = wait_for(lambda: (f := rig.console.fleet()) and not f["kafka"]["readable"] and f,
                        10, "the console to say it cannot read Kafka")
        frozen_until = time.monotonic() + FROZEN_S
        banner_seen = False
        while time.monotonic() < frozen_until:
            devices = rig.console.devices()
            for device in ("judged-steady", "judged-slow"):
                assert "offline" not in devices[device]["alerts"], devices[device]
            banner_seen = banner_seen or "cannot read Kafka" in rig.banner()
            time.sleep(0.5)
        assert banner_seen, "the page never said the console cannot read Kafka"
        assert said["kafka"]["problem"]
        assert requests_status(rig.console.url + "/healthz") == 503
    finally:
        rig.broker.thaw()
    thawed = time.monotonic()
    wait_for(lambda: rig.banner() == "" and rig.console.fleet()["kafka"]["readable"]
             and all(online(rig, d) for d in ("judged-steady", "judged-slow")), 3 * FAST_S,
             "everything green again")
    assert time.monotonic() - thawed <= FAST_S + 2.0  # one interval, the probe and a refresh
    assert requests_status(rig.console.url + "/healthz") == 200
    assert "edge_console_kafka_up 1.0" in metrics(rig.console.url)


def requests_status(url: str) -> int:
    return requests.get(url, timeout=10).status_code


def metrics(url: str) -> str:
    return requests.get(url + "/metrics", timeout=10).text


def test_an_agent_without_the_package_refuses_the_setting_and_the_console_shows_why(
        rig: Rig) -> None:
    blocker = rig.workdir / "without-noise-gain"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(NO_NOISE_GAIN)
    rig.start_agent("judged-bare", FAST_S, PYTHONPATH=str(blocker))
    wait_for(lambda: online(rig, "judged-bare"), 20, "the bare device online")
    stored = rig.console.change_settings("judged-bare", {"noise_suppression": "2"})
    assert stored.status_code == 200, stored.text  # the console cannot know; the device can
    settings = wait_for(lambda: (s := rig.view("judged-bare")["settings"]) and s["error"] and s,
                        20, "the device's refusal")
    assert settings["error"] == ("AGENT_NOISE_SUPPRESSION: 2 needs the webrtc_noise_gain "
                                 "package, which is not installed on this device (got '2')")
    assert (settings["desired_version"], settings["applied_version"]) == (1, 0)
    rig.browser.execute_script(
        "document.querySelector(`tr[data-device='judged-bare']`).click();")
    wait_for(lambda: "needs the webrtc_noise_gain package" in
             rig.browser.find_element(By.ID, "report").text, 10, "the reason in the page")
