"""The page served by the gateway, in real headless Chromium with a fake microphone playing a
440 Hz tone: Start, speak, Stop, "published"; the event read back from Kafka is 16 kHz mono
with a dominant frequency of 440 ± 5 Hz. A screenshot is kept in test-artifacts/."""

from __future__ import annotations

import io
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.agent_process import write_wav
from devkit.broker import Broker
from devkit.browser import Browser, find_browser
from devkit.gateway_process import GatewayProcess
from devkit.kafka_reader import KafkaReader
from devkit.log_audit import remember_secret
from devkit.signals import dominant_frequency, tone
from edge_gateway.provisioning import generate_key_pair, issue_token
from ingress_common.wav import wav_to_pcm
from tests.process_fixtures import TOPIC

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
RECORD_S = 2.0

pytestmark = pytest.mark.skipif(
    find_browser() is None,
    reason="no browser: chromium and chromium-driver could not be installed on this machine "
           "(scripts/bootstrap.sh tries apt)")


@pytest.fixture
def page(broker: Broker, tmp_path: Path) -> Iterator[tuple[Browser, GatewayProcess]]:
    gateway = GatewayProcess(tmp_path, broker.bootstrap, TOPIC).start()
    microphone = write_wav(tmp_path / "tone-440.wav", tone(10.0, 440.0))
    browser = Browser(tmp_path, ["--use-fake-ui-for-media-stream",
                                 "--use-fake-device-for-media-stream",
                                 f"--use-file-for-fake-audio-capture={microphone}"])
    try:
        yield browser, gateway
    finally:
        browser.close()
        gateway.stop()


def test_browser_streams_the_microphone_and_shows_where_it_landed(
        page: tuple[Browser, GatewayProcess], reader: KafkaReader) -> None:
    browser, gateway = page
    browser.open(f"{gateway.http_url}/")
    browser.click("#start")
    correlation_id = browser.wait_until(
        "const m = document.querySelector('#status').textContent.match(/correlation_id (\\S+)/);"
        "return m && m[1];", 15, "the connected message")
    browser.wait_until("return parseFloat(document.querySelector('#level').style.width) > 0;",
                       10, "the level meter to move")
    time.sleep(RECORD_S)  # the length of the utterance, by definition: speak for 2 s
    browser.click("#stop")
    shown = browser.wait_until(
        "const li = document.querySelector('#results li'); return li && li.textContent;",
        20, "the result line")
    browser.screenshot(ARTIFACTS / "browser-client.png")
    assert shown.startswith("published speech.audio.ingress["), shown
    assert correlation_id in shown

    event = reader.find(correlation_id)
    pcm, rate, channels = wav_to_pcm(event.event.wav)
    with wave.open(io.BytesIO(event.event.wav)) as wav:
        assert wav.getsampwidth() == 2
    assert (rate, channels) == (16000, 1) and len(pcm) >= 32000 * (RECORD_S - 0.5)
    hz = dominant_frequency(pcm[32000:])  # past the first second (device warm-up)
    print(f"\nbrowser utterance: {len(pcm) / 32000:.2f} s, dominant frequency {hz:.1f} Hz")
    assert abs(hz - 440.0) <= 5.0
    assert event.headers["device_id"] == "browser"


def test_browser_sends_the_token_from_its_field_when_auth_is_on(
        broker: Broker, reader: KafkaReader, tmp_path: Path) -> None:
    private, public = generate_key_pair("ES256")
    (tmp_path / "keys.pem").write_bytes(public)
    token = remember_secret(issue_token(private, "browser-kitchen", 600, "edge-audio-ingress"))
    gateway = GatewayProcess(tmp_path, broker.bootstrap, TOPIC, settings={
        "GATEWAY_AUTH_PUBLIC_KEYS": str(tmp_path / "keys.pem")}).start()
    microphone = write_wav(tmp_path / "tone-440.wav", tone(10.0, 440.0))
    browser = Browser(tmp_path, ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                                 f"--use-file-for-fake-audio-capture={microphone}"])
    last_result = "const li = document.querySelector('#results li'); return li && li.textContent;"
    try:
        browser.open(f"{gateway.http_url}/")
        browser.click("#start")  # no token yet: refused before the upgrade
        refused = browser.wait_until(last_result, 15, "the refusal")
        assert refused.startswith("error:"), refused
        browser.run("document.querySelector('#token').value = arguments[0];", token)
        browser.click("#start")
        correlation_id = browser.wait_until(
            "const m = document.querySelector('#status').textContent.match(/correlation_id (\\S+)/);"
            "return m && m[1];", 15, "the connected message")
        time.sleep(1.0)  # a one-second utterance
        browser.click("#stop")
        browser.wait_until(f"return document.querySelector('#results').textContent"
                           f".includes('{correlation_id}');", 20, "the published line")
    finally:
        browser.close()
        gateway.stop()
    assert reader.find(correlation_id).headers["device_id"] == "browser-kitchen"
