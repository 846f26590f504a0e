"""Device authentication (JWT) and TLS on a real gateway, provisioned with the real CLI."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.agent_process import AgentProcess, write_wav
from devkit.broker import Broker
from devkit.gateway_process import GatewayProcess
from devkit.kafka_reader import KafkaReader
from devkit.log_audit import remember_secret
from devkit.signals import utterances_with_pauses
from devkit.tls import make_ca_and_server_cert
from devkit.ws_client import RawWebSocket, frames_of, stream_utterance
from tests.process_fixtures import TOPIC, tone_pcm

ORIGIN = "https://edge-box.example"


def cli(*args: str) -> str:
    return subprocess.run([sys.executable, "-m", "edge_gateway", *args], check=True,
                          capture_output=True, text=True, timeout=60).stdout.strip()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("keys")
    cli("keygen", "--out-dir", str(directory))
    return directory


def token_for(keys: Path, device: str, ttl: str = "1h", audience: str = "edge-audio-ingress") -> str:
    return remember_secret(cli("token", "--key", str(keys / "device-signing-key.pem"),
                               "--device", device, "--ttl", ttl, "--audience", audience))


@pytest.fixture(scope="module")
def secured(broker: Broker, workdir: Path, keys: Path) -> Iterator[GatewayProcess]:
    g = GatewayProcess(workdir, broker.bootstrap, TOPIC, settings={
        "GATEWAY_AUTH_PUBLIC_KEYS": str(keys / "device-signing-key.pub.pem"),
        "GATEWAY_ALLOWED_ORIGINS": ORIGIN}).start()
    yield g
    g.stop()


def refusal(gateway: GatewayProcess, headers: dict[str, str], path: str = "") -> tuple[int, dict]:
    ws = RawWebSocket(gateway.ws_url + path, headers=headers)
    try:
        return int(ws.reject_status or 101), json.loads(ws.reject_body or b"{}")
    finally:
        ws.close()


def test_no_or_bad_token_is_refused_with_401_before_the_upgrade(
        secured: GatewayProcess, keys: Path) -> None:
    other = token_for(keys, "pi-1", audience="another-service")
    cases = {
        "missing": {},
        "garbage": {"Authorization": "Bearer not.a.jwt"},
        "wrong audience": {"Authorization": f"Bearer {other}"},
    }
    for name, extra in cases.items():
        status, body = refusal(secured, {"Origin": ORIGIN, **extra})
        assert status == 401, name
        assert body["code"] == "unauthorized" and body["published"] is False, (name, body)
        assert "Bearer" not in body["message"] and "jwt" not in body["message"]


def test_token_sub_is_the_device_id_whatever_the_client_claims(
        secured: GatewayProcess, keys: Path, reader: KafkaReader) -> None:
    token = token_for(keys, "pi-kitchen")
    result = stream_utterance(secured.ws_url, frames_of(tone_pcm(0.3), 3200),
                              start={"device_id": "pi-impostor", "segment_id": "auth-1"},
                              headers={"Origin": ORIGIN, "Authorization": f"Bearer {token}"})
    assert result.final["event"] == "published", result.messages
    event = reader.find(result.correlation_id)
    assert event.headers["device_id"] == "pi-kitchen" and event.key == "pi-kitchen"


def test_browser_style_token_in_the_subprotocol_and_the_query(
        secured: GatewayProcess, keys: Path) -> None:
    token = token_for(keys, "browser-1")
    result = stream_utterance(secured.ws_url, [tone_pcm(0.2)], headers={"Origin": ORIGIN},
                              subprotocols=["edge-audio.v1", f"bearer.{token}"])
    assert result.final["event"] == "published", result.messages
    assert result.subprotocol == "edge-audio.v1", "the browser needs one of its offers back"
    via_query = stream_utterance(f"{secured.ws_url}?token={token}", [tone_pcm(0.2)],
                                 headers={"Origin": ORIGIN})
    assert via_query.final["event"] == "published"


def test_cross_site_websocket_hijacking_is_refused_even_with_a_valid_token(
        secured: GatewayProcess, keys: Path) -> None:
    """A page on another site opening our socket from a victim's browser: refused by Origin
    (403) before the upgrade, whatever it carries; and the gateway has no cookies to ride on."""
    token = token_for(keys, "pi-1")
    for origin in ("https://evil.example", "null", "https://edge-box.example.evil.example"):
        status, body = refusal(secured, {"Origin": origin}, path=f"?token={token}")
        assert (status, body["code"]) == (403, "origin_forbidden"), origin
    status, body = refusal(secured, {}, path=f"?token={token}")
    assert status == 403, "no Origin at all is not on the allowlist either"


def test_gateway_logs_never_contain_a_token(secured: GatewayProcess, keys: Path) -> None:
    token = token_for(keys, "pi-log")
    stream_utterance(f"{secured.ws_url}?token={token}", [tone_pcm(0.1)], headers={"Origin": ORIGIN})
    refusal(secured, {"Origin": ORIGIN, "Authorization": f"Bearer {token}x"})
    log = secured.log_path.read_text()
    signature = token.rsplit(".", 1)[1]
    assert "pi-log" in log, "the stream was logged, with its device"
    assert signature not in log and token.split(".")[1] not in log


def test_agent_delivers_over_wss_with_its_token_file(
        broker: Broker, reader: KafkaReader, keys: Path, tmp_path: Path) -> None:
    ca, cert, key = make_ca_and_server_cert(tmp_path / "tls")
    gateway = GatewayProcess(tmp_path, broker.bootstrap, TOPIC, tls_ca=ca, settings={
        "GATEWAY_TLS_CERTFILE": str(cert), "GATEWAY_TLS_KEYFILE": str(key),
        "GATEWAY_AUTH_PUBLIC_KEYS": str(keys / "device-signing-key.pub.pem")}).start()
    token_file = tmp_path / "device.jwt"
    token_file.write_text(token_for(keys, "pi-tls") + "\n")
    signal, bursts = utterances_with_pauses(2, speech_s=1.0, pause_s=1.0, seed=9)
    mic = write_wav(tmp_path / "mic.wav", signal)
    agent = AgentProcess(tmp_path, gateway.ws_url, f"wav:{mic}", "claims-to-be-someone-else",
                         settings={"AGENT_TOKEN_FILE": str(token_file),
                                   "AGENT_CA_FILE": str(ca)})
    try:
        with pytest.raises(ssl.SSLError):  # without our CA the certificate is not trusted
            stream_utterance(gateway.ws_url, [tone_pcm(0.1)],
                             ssl_context=ssl.create_default_context())
        agent.start()
        assert agent.wait(60) == 0, agent.process.log_text()[-2000:] if agent.process else ""
    finally:
        agent.stop()
        gateway.stop()
    assert agent.status()["segments_acked"] == len(bursts)
    events = reader.read_until(
        lambda seen: sum(e.headers.get("device_id") == "pi-tls" for e in seen) >= len(bursts), 15)
    assert sum(e.headers.get("device_id") == "pi-tls" for e in events) == len(bursts)
