"""Headless Debian Chromium driven by selenium, the well-kept WebDriver client (it replaced
a hand-written one). Debian's chromedriver is found on PATH; no browser is downloaded.

`headless_chromium` gives selenium's own driver (the console's page tests use it);
`Browser` is a small wrapper for scripted pages (the gateway's microphone check page).
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from devkit.waiting import wait_for

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def find_browser() -> tuple[str, str] | None:
    """(browser, chromedriver) paths, or None when either is missing."""
    driver = shutil.which("chromedriver")
    browser = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    return (browser, driver) if browser and driver else None


def headless_chromium(workdir: Path, *args: str) -> webdriver.Chrome:
    found = find_browser()
    if found is None:
        raise RuntimeError("chromium and chromedriver are needed "
                           "(apt install chromium chromium-driver)")
    binary, driver = found
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", *args):
        options.add_argument(arg)
    service = Service(executable_path=driver, log_output=str(workdir / "chromedriver.log"))
    return webdriver.Chrome(options=options, service=service)


class Browser:
    def __init__(self, workdir: Path, args: list[str]) -> None:
        self.driver = headless_chromium(workdir, *args)

    def open(self, url: str) -> None:
        self.driver.get(url)

    def click(self, css: str) -> None:
        self.driver.find_element(By.CSS_SELECTOR, css).click()

    def run(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def wait_until(self, script: str, timeout_s: float, what: str) -> Any:
        """Poll `script` until it returns something truthy."""
        return wait_for(lambda: self.run(script), timeout_s, what)

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(path))
        return path

    def close(self) -> None:
        with contextlib.suppress(WebDriverException):
            self.driver.quit()
