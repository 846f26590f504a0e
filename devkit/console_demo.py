"""`make console`: the demo's broker and gateway, three agents on ALSA test microphones (real
libasound), and edge-console, until Ctrl-C or SIGTERM. Stops everything it started, by PID.

- kitchen-pi hears spoken requests (espeak-ng) with pauses, then the room;
- hall-pi hears a quiet room;
- garage-pi's microphone delivers digital silence: a dead or muted mic, so `no_sound`;
- porch-pi is new: it starts unenrolled and waits in the page's "Waiting to join" list
  until you Accept it; then what it heard while waiting arrives.

The gateway has enrollment on (docs/security.md, "Device identities"): each agent makes its
own key; the first three join with a join code the demo creates (no click), porch-pi has
none.

    python -m devkit.console_demo                  # until Ctrl-C
    python -m devkit.console_demo --screenshot docs/img/fleet-console.png --seconds 45
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

from devkit.agent_process import AgentProcess
from devkit.alsa_fixture import FixtureDevice, alsa_env
from devkit.broker import Broker
from devkit.console_process import ConsoleProcess
from devkit.gateway_process import GatewayProcess
from devkit.interrupts import stop_like_ctrl_c
from devkit.ports import free_port
from devkit.signals import room_noise
from devkit.speech import phrases_with_pauses
from edge_gateway.settings import DEFAULT_TOPIC
from ingress_common.pcm import BYTES_PER_SECOND

INTERVAL_S = 5
REQUESTS = ["turn on the kitchen light", "what is the weather tomorrow",
            "set a timer for ten minutes", "play some quiet music", "remind me at noon"]
CONSOLE_PORT = 8100
NEW_DEVICE = "porch-pi"


def microphones(workdir: Path) -> dict[str, Path]:
    speech, _ = phrases_with_pauses(REQUESTS * 4, pause_s=3.0)
    files = {"kitchen-pi": workdir / "kitchen.raw", "hall-pi": workdir / "hall.raw",
             "garage-pi": workdir / "garage.raw", NEW_DEVICE: workdir / "porch.raw"}
    files["kitchen-pi"].write_bytes(speech)
    files[NEW_DEVICE].write_bytes(phrases_with_pauses(REQUESTS[::-1] * 4, pause_s=4.0)[0])
    files["hall-pi"].write_bytes(room_noise(600, seed=5, rms=200.0))
    files["garage-pi"].write_bytes(bytes(600 * BYTES_PER_SECOND))
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--screenshot", type=Path, help="save the page here, then stop")
    parser.add_argument("--seconds", type=float, default=45, help="wait before the screenshot")
    args = parser.parse_args()
    stop_like_ctrl_c()
    workdir = Path(tempfile.mkdtemp(prefix="edge-console-demo-"))
    broker = Broker(workdir)
    started: list[GatewayProcess | ConsoleProcess | AgentProcess] = []
    try:
        broker.start()
        broker.create_topic(DEFAULT_TOPIC)
        gateway = GatewayProcess(workdir, broker.bootstrap, DEFAULT_TOPIC,
                                 {"GATEWAY_ENROLLMENT": "on"}).start()
        started.append(gateway)
        port = CONSOLE_PORT if _free(CONSOLE_PORT) else free_port()
        console = ConsoleProcess(workdir, broker.bootstrap, {
            "CONSOLE_HEALTH_INTERVAL_S": str(INTERVAL_S), "CONSOLE_NO_SOUND_S": "20",
            "CONSOLE_REFRESH_S": "1"}, port=port).start()
        started.append(console)
        code = console.call("POST", "/api/join-codes", body={"ttl_s": 600, "max_devices": 3})
        code.raise_for_status()
        files = microphones(workdir)
        env = alsa_env(workdir / "home", [FixtureDevice(name, path, 16000, 1)
                                          for name, path in files.items()])
        for name in files:
            settings = {"HOME": env["HOME"], "AGENT_HEALTH_INTERVAL_S": str(INTERVAL_S),
                        "AGENT_REMOTE_SETTINGS_FILE": str(workdir / f"{name}-settings.json"),
                        "AGENT_KEY_FILE": str(workdir / "keys" / f"{name}.key")}
            if name != NEW_DEVICE:
                settings["AGENT_JOIN_CODE"] = code.json()["code"]
            started.append(AgentProcess(workdir, gateway.ws_url, f"alsa:{name}", name,
                                        settings=settings, until_drained=False).start())
        print(f"edge-console: {console.url}  (gateway {gateway.http_url}, broker "
              f"{broker.bootstrap}, logs in {workdir})")
        if args.screenshot:
            return _screenshot(console.url, args.screenshot, args.seconds, workdir)
        print(f"four agents, each with its own key, report every {INTERVAL_S} s; three joined "
              f"with a join code; garage-pi's microphone is silent. {NEW_DEVICE} is new: it "
              "waits under \"Waiting to join\" until you Accept it. Ctrl-C (or SIGTERM) stops.")
        threading.Event().wait()
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        for process in reversed(started):
            process.stop()
        broker.stop()
        print(f"stopped the console, the agents, the gateway and the broker (logs in {workdir})")


def _screenshot(url: str, path: Path, seconds: float, workdir: Path) -> int:
    from selenium.webdriver.common.by import By

    from devkit.browser import headless_chromium

    time.sleep(seconds)
    browser = headless_chromium(workdir, "--window-size=1280,1000")
    try:
        browser.get(url)
        time.sleep(3)
        browser.execute_script("document.querySelector(\"tr[data-device='kitchen-pi']\").click();")
        time.sleep(2)
        assert browser.find_element(By.ID, "detail").is_displayed()
        path.parent.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(path))
        print(f"screenshot saved to {path}")
    finally:
        browser.quit()
    return 0


def _free(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


if __name__ == "__main__":
    sys.exit(main())
