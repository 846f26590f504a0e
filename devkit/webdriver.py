"""A minimal W3C WebDriver client (chromedriver over HTTP) for headless Chromium.

Only what the browser test needs: open a session, load a page, click, run a script, take a
screenshot. chromedriver runs as a child process on a free loopback port, stopped by PID.
"""

from __future__ import annotations

import base64
import contextlib
import shutil
import time
from pathlib import Path
from typing import Any

import requests

from devkit.ports import free_port
from devkit.processes import ChildProcess
from devkit.waiting import wait_for

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C element key
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def find_browser() -> tuple[str, str] | None:
    """(browser, chromedriver) paths, or None when either is missing."""
    driver = shutil.which("chromedriver")
    browser = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    return (browser, driver) if browser and driver else None


class Browser:
    def __init__(self, workdir: Path, args: list[str]) -> None:
        found = find_browser()
        if found is None:
            raise RuntimeError("chromium and chromedriver are needed (apt install chromium chromium-driver)")
        binary, driver = found
        port = free_port()
        self._driver = ChildProcess([driver, f"--port={port}"], workdir / "chromedriver.log")
        self._url = f"http://127.0.0.1:{port}"
        self._wait_for_driver()
        capabilities = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": binary, "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=900,800", *args]},
        }}}
        self.session = self._call("POST", "/session", capabilities)["sessionId"]

    def _wait_for_driver(self, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self._url}/status", timeout=2).json()["value"]["ready"]:
                    return
            except (requests.RequestException, ValueError, KeyError):
                pass
            time.sleep(0.1)
        raise TimeoutError("chromedriver did not start")

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = requests.request(method, f"{self._url}{path}", json=body, timeout=60)
        value = response.json().get("value")
        if response.status_code != 200:
            raise RuntimeError(f"WebDriver {method} {path}: {value}")
        return value

    def _session_call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._call(method, f"/session/{self.session}{path}", body)

    def open(self, url: str) -> None:
        self._session_call("POST", "/url", {"url": url})

    def click(self, css: str) -> None:
        element = self._session_call("POST", "/element", {"using": "css selector", "value": css})
        element_id = element.get(ELEMENT)
        if element_id is None:
            raise RuntimeError(f"no element {css!r}: {element}")
        self._session_call("POST", f"/element/{element_id}/click", {})

    def run(self, script: str, *args: Any) -> Any:
        return self._session_call("POST", "/execute/sync", {"script": script, "args": list(args)})

    def wait_until(self, script: str, timeout_s: float, what: str) -> Any:
        """Poll `script` until it returns something truthy."""
        return wait_for(lambda: self.run(script), timeout_s, what)

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self._session_call("GET", "/screenshot")))
        return path

    def close(self) -> None:
        with contextlib.suppress(requests.RequestException, RuntimeError):
            self._session_call("DELETE", "")
        self._driver.stop(grace_s=5)

