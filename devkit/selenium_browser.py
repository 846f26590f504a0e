"""Headless Debian Chromium driven by selenium (the well-kept WebDriver client), for the
console's page tests. Debian's chromedriver is found on PATH; no browser is downloaded."""

from __future__ import annotations

from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from devkit.webdriver import find_browser


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
