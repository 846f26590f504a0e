"""Issue 33: zero-touch devices, with real processes only, counted in Kafka.

A real broker, a real gateway with GATEWAY_ENROLLMENT=on, a real console signed in with an
operator token, and real agents that make their own keys. A new agent asks to join and is
listed; accepted, what it heard while waiting lands whole and once; revoked, its open
stream ends and nothing more of it lands; forged and over-long tokens are refused; join
codes admit up to their bound and not after they expire.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jwt
import pytest
import requests
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from cryptography.hazmat.primitives.asymmetric import ed25519
from selenium.webdriver.common.by import By

from devkit.agent_process import AgentProcess, account, write_wav
from devkit.broker import Broker
from devkit.browser import find_browser, headless_chromium
from devkit.console_process import ConsoleProcess
from devkit.gateway_process import GatewayProcess
from devkit.health_reports import sample_report
from devkit.kafka_reader import KafkaReader, ReadEvent
from devkit.log_audit import remember_secret
from devkit.speech import loud_spans, phrases_with_pauses
from devkit.waiting import wait_for
from edge_gateway.provisioning import issue_token, write_key_pair
from ingress_common.auth import DEVICE_AUDIENCE, OPERATOR_AUDIENCE
from ingress_common.client import ClientOptions, Conversation
from ingress_common.device_keys import DeviceKey
from ingress_common.health import HEALTH_PATH
from ingress_common.identity_records import IDENTITY_TOPIC, DeviceIdentity, decode_identity
from ingress_common.pcm import BYTES_PER_SECOND
from ingress_common.protocol import Error, Start
from ingress_common.websocket_client import HandshakeRefused

PHRASES = ["turn on the kitchen light", "what is the weather tomorrow", "set a timer for ten "
           "minutes"]
TOPIC = "enrollment.audio"


@dataclass
class Stack:
    workdir: Path
    broker: Broker
    gateway: GatewayProcess
    console: ConsoleProcess
    operator: str
    reader: KafkaReader
    agents: list[AgentProcess]
    signing_key: bytes
    """The operators' signing key: it signs operator tokens and, here, a device token too."""

    def agent(self, name: str, source: str, join_code: str | None = None) -> AgentProcess:
        settings = {"AGENT_KEY_FILE": str(self.key_path(name)), "AGENT_HEALTH_INTERVAL_S": "1"}
        if join_code:
            settings["AGENT_JOIN_CODE"] = join_code
        agent = AgentProcess(self.workdir, self.gateway.ws_url, source, name, settings,
                             until_drained=False).start()
        self.agents.append(agent)
        return agent

    def key_path(self, name: str) -> Path:
        return self.workdir / "keys" / f"{name}.key"

    def waiting(self) -> dict[str, dict[str, object]]:
        return self.console.enrollments(self.operator)

    def decide(self, path: str) -> requests.Response:
        return self.console.call("POST", path, self.operator)

    def records_of(self, device: str) -> list[ReadEvent]:
        events = self.reader.read_until(lambda _events: False, 0.5)
        return [e for e in events if e.headers.get("device_id") == device]

    def own_token(self, key: DeviceKey, device: str) -> ClientOptions:
        return ClientOptions(token_source=lambda: key.sign_token(device), attempts=1)


@pytest.fixture(scope="module")
def stack(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("enrollment")
    private, public = write_key_pair(workdir / "operators", "operators", "ES256")
    operator = remember_secret(issue_token(private.read_bytes(), "alice", 3600,
                                           OPERATOR_AUDIENCE))
    broker.create_topic(TOPIC, 1)
    gateway = GatewayProcess(workdir, broker.bootstrap, TOPIC, {
        "GATEWAY_ENROLLMENT": "on", "GATEWAY_AUTH_PUBLIC_KEYS": str(public),
        "GATEWAY_HEALTH_MIN_INTERVAL_S": "0.2",
        "GATEWAY_MAX_PENDING_ENROLLMENTS": "20"}).start()
    console = ConsoleProcess(workdir, broker.bootstrap, {
        "CONSOLE_AUTH_PUBLIC_KEYS": str(public), "CONSOLE_HEALTH_INTERVAL_S": "1"}).start()
    stack = Stack(workdir, broker, gateway, console, operator,
                  KafkaReader(broker.bootstrap, TOPIC), [], private.read_bytes())
    try:
        yield stack
    finally:
        stack.reader.close()
        for agent in stack.agents:
            agent.stop()
        gateway.stop()
        console.stop()


def test_a_new_device_waits_is_accepted_and_what_it_heard_lands_once(stack: Stack) -> None:
    speech, spoken = phrases_with_pauses(PHRASES, pause_s=1.5)
    wav = write_wav(stack.workdir / "kitchen.wav", speech)
    started = time.monotonic()
    agent = stack.agent("pi-kitchen", f"wav:{wav}")
    listed = wait_for(lambda: stack.waiting().get("pi-kitchen"), 10, "the new device listed")
    assert time.monotonic() - started <= 10
    key = DeviceKey.load_or_create(stack.key_path("pi-kitchen"))  # the one the agent made
    assert listed["thumbprint"] == key.thumbprint and listed["agent_version"]
    assert listed["hostname"] and listed["conflict"] is False
    # what it hears while it waits stays on the device, and nothing reaches Kafka
    wait_for(lambda: agent.status().get("segments_started", 0) >= len(PHRASES), 30,
             "the phrases segmented while waiting")
    assert agent.status()["segments_acked"] == 0 and stack.records_of("pi-kitchen") == []

    accepted = stack.decide("/api/enrollments/pi-kitchen/accept")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["changed_by"] == "alice"
    clicked = time.monotonic()
    records = wait_for(lambda: (r := stack.records_of("pi-kitchen")) and len(r) >= len(PHRASES)
                       and r, 15, "the waiting speech in Kafka")
    assert time.monotonic() - clicked <= 10, "speech landed more than 10 s after Accept"
    time.sleep(1.0)  # anything extra would be a duplicate: give it the time to show
    records = stack.records_of("pi-kitchen")
    segment_ids = [r.headers["segment_id"] for r in records]
    assert len(records) == len(PHRASES) and len(set(segment_ids)) == len(PHRASES)
    for record in records:
        assert len(record.pcm) >= int(0.8 * BYTES_PER_SECOND), "a phrase arrived clipped"
    counted = account(speech, loud_spans(speech, spoken), records)
    assert counted.exact, counted.table("pi-kitchen, heard while waiting")
    assert "pi-kitchen" not in stack.waiting()
    audit = stack.console.process.log_text() if stack.console.process else ""
    assert "enrollment accepted" in audit and "alice" in audit


def _forge_claims(token: str, **changes: object) -> str:
    head, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims.update(changes)
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{body}.{signature}"


def _refusal(stack: Stack, token: str) -> tuple[int, str]:
    """What the gateway answers a health report with this token: (status, code)."""
    answer = requests.post(f"{stack.gateway.http_url}{HEALTH_PATH}", data=b"{}", timeout=10,
                           headers={"Authorization": f"Bearer {token}",
                                    "Content-Type": "application/json"})
    return answer.status_code, answer.json().get("code", "")


def test_forged_and_overlong_tokens_are_refused(stack: Stack, tmp_path: Path) -> None:
    owner = DeviceKey.load_or_create(tmp_path / "owner")
    thief = DeviceKey.load_or_create(tmp_path / "thief")
    # accept `pi-hall` with the owner's key, through the real path
    assert _refusal(stack, owner.sign_token("pi-hall"))[1] == "enrollment_pending"
    wait_for(lambda: "pi-hall" in stack.waiting(), 10, "pi-hall listed")
    assert stack.decide("/api/enrollments/pi-hall/accept").status_code == 200
    ok = wait_for(lambda: _refusal(stack, owner.sign_token("pi-hall"))[0] == 400 or None, 10,
                  "pi-hall admitted (its empty report is then a bad report, not a 401)")
    assert ok
    # a forged key for the accepted id: refused, and shown as a conflict
    assert _refusal(stack, thief.sign_token("pi-hall")) == (401, "unknown_key")
    conflict = wait_for(lambda: stack.waiting().get("pi-hall"), 10, "the conflict listed")
    assert conflict["conflict"] is True and conflict["thumbprint"] == thief.thumbprint
    # a token signed by the owner's key, claims changed to another device: bad signature
    assert _refusal(stack, _forge_claims(owner.sign_token("pi-hall"), sub="pi-other"))[0] == 401
    # pi-hall's accepted key signing for another device is not admitted as that device
    assert _refusal(stack, owner.sign_token("pi-other")) == (401, "enrollment_pending")
    # a far exp, validly signed
    now = int(time.time())
    far = jwt.encode({"sub": "pi-hall", "aud": "edge-audio-ingress", "iat": now,
                      "exp": now + 86400}, ed25519.Ed25519PrivateKey.from_private_bytes(owner.seed),
                     algorithm="EdDSA", headers={"kid": owner.thumbprint, "jwk": owner.jwk})
    assert _refusal(stack, far) == (401, "unauthorized")
    # alg none, with the owner's key in the header
    unsigned = jwt.encode({"sub": "pi-hall", "aud": "edge-audio-ingress", "exp": now + 60},
                          None, algorithm="none",
                          headers={"kid": owner.thumbprint, "jwk": owner.jwk})
    assert _refusal(stack, unsigned) == (401, "unauthorized")


def _stream(stack: Stack, options: ClientOptions, device: str, seconds: float) -> Conversation:
    conversation = Conversation.open(stack.gateway.ws_url, options)
    assert conversation.connected is not None, conversation.refusal
    conversation.start(Start(device_id=device, segment_id=f"{device}:run:1"))
    conversation.send_audio(bytes(int(seconds * BYTES_PER_SECOND)))
    return conversation


def test_a_revoked_device_is_cut_off_within_5_s(stack: Stack, tmp_path: Path) -> None:
    key = DeviceKey.load_or_create(tmp_path / "porch")
    options = stack.own_token(key, "pi-porch")
    with pytest.raises(HandshakeRefused) as pending:
        Conversation.open(stack.gateway.ws_url, options)
    assert (pending.value.status_code, pending.value.code) == (401, "enrollment_pending")
    assert pending.value.retryable and pending.value.retry_after_s
    wait_for(lambda: "pi-porch" in stack.waiting(), 10, "pi-porch listed")
    assert stack.decide("/api/enrollments/pi-porch/accept").status_code == 200
    open_stream = wait_for(lambda: _try_stream(stack, options, "pi-porch"), 10,
                           "pi-porch admitted")

    revoked = stack.decide("/api/devices/pi-porch/revoke")
    assert revoked.status_code == 200, revoked.text
    clicked = time.monotonic()
    verdict = wait_for(lambda: open_stream.early_verdict() or _closed_verdict(open_stream), 5,
                       "the open stream ended")
    assert isinstance(verdict, Error) and verdict.code == "revoked_while_streaming"
    assert verdict.published is False and verdict.retryable is False
    with pytest.raises(HandshakeRefused) as refused:
        Conversation.open(stack.gateway.ws_url, options)
    assert refused.value.code == "revoked" and time.monotonic() - clicked <= 5
    assert _refusal(stack, key.sign_token("pi-porch")) == (401, "revoked")
    time.sleep(1.0)
    assert stack.records_of("pi-porch") == [], "Kafka holds audio of the revoked device"
    # only a new key may ask again
    fresh = DeviceKey.load_or_create(tmp_path / "porch-new")
    assert _refusal(stack, fresh.sign_token("pi-porch"))[1] == "enrollment_pending"
    identity = _identity(stack, "pi-porch")
    assert identity is not None and identity.status == "revoked" and \
        identity.thumbprint == key.thumbprint and identity.changed_by == "alice"


def test_revocation_reaches_a_device_with_an_operator_signed_token(stack: Stack) -> None:
    """With enrollment on, a revocation is by device id, whatever the token."""
    token = remember_secret(issue_token(stack.signing_key, "pi-legacy", 3600, DEVICE_AUDIENCE))
    report = requests.post(f"{stack.gateway.http_url}{HEALTH_PATH}",
                           data=sample_report("pi-legacy").encode(), timeout=10,
                           headers={"Authorization": f"Bearer {token}",
                                    "Content-Type": "application/json"})
    assert report.status_code == 200, report.text
    wait_for(lambda: "pi-legacy" in stack.console.devices(stack.operator), 10, "pi-legacy known")
    options = ClientOptions(token=token, attempts=1)
    open_stream = _stream(stack, options, "pi-legacy", 1.0)
    assert stack.decide("/api/devices/pi-legacy/revoke").status_code == 200
    clicked = time.monotonic()
    verdict = wait_for(lambda: open_stream.early_verdict() or _closed_verdict(open_stream), 5,
                       "the open stream ended")
    assert isinstance(verdict, Error) and verdict.code == "revoked_while_streaming"
    with pytest.raises(HandshakeRefused) as refused:
        Conversation.open(stack.gateway.ws_url, options)
    assert refused.value.code == "revoked" and time.monotonic() - clicked <= 5
    assert stack.records_of("pi-legacy") == []


def _try_stream(stack: Stack, options: ClientOptions, device: str) -> Conversation | None:
    try:
        return _stream(stack, options, device, 1.0)
    except HandshakeRefused:
        return None


def _closed_verdict(conversation: Conversation) -> Error | None:
    verdict = conversation.verdict_after_close()
    return verdict if isinstance(verdict, Error) else None


def _identity(stack: Stack, device: str) -> DeviceIdentity | None:
    """The device's newest record in the identity topic, read from Kafka itself."""
    consumer = Consumer({"bootstrap.servers": stack.broker.bootstrap,
                         "group.id": f"test-{uuid.uuid4()}", "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(IDENTITY_TOPIC, timeout=10).topics[IDENTITY_TOPIC].partitions
        consumer.assign([TopicPartition(IDENTITY_TOPIC, p, OFFSET_BEGINNING) for p in partitions])
        found = None
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None and not msg.error() and msg.key() == device.encode() \
                    and msg.value() is not None:
                found = decode_identity(msg.value())
        return found
    finally:
        consumer.close()


def test_join_codes_admit_up_to_their_bound_and_not_once_expired(stack: Stack) -> None:
    created = stack.console.call("POST", "/api/join-codes", stack.operator,
                                 {"ttl_s": 300, "max_devices": 3})
    assert created.status_code == 201, created.text
    code = remember_secret(created.json()["code"])
    assert code not in json.dumps(stack.console.call("GET", "/api/join-codes",
                                                     stack.operator).json())
    names = [f"pi-room-{i}" for i in range(4)]
    for name in names:
        stack.agent(name, "silence", join_code=code)

    def identities() -> dict[str, str]:
        return {d: v["identity"] for d, v in stack.console.devices(stack.operator).items()
                if d in names and v["identity"]}
    admitted = wait_for(lambda: len(i := identities()) >= 3 and i, 30, "3 devices admitted")
    wait_for(lambda: len([n for n in names if n in stack.waiting()]) == 1, 15,
             "the 4th waiting for the operator")
    time.sleep(2.0)  # the 4th stays waiting: the code is used up
    assert sorted(admitted.values()) == ["accepted"] * 3
    assert len([n for n in names if n in stack.waiting()]) == 1
    codes = stack.console.call("GET", "/api/join-codes", stack.operator).json()["join_codes"]
    used = next(c for c in codes if c["code_id"] == created.json()["code_id"])
    assert sorted(used["devices"]) == sorted(admitted)

    expiring = stack.console.call("POST", "/api/join-codes", stack.operator,
                                  {"ttl_s": 1, "max_devices": 5}).json()
    remember_secret(expiring["code"])
    time.sleep(1.5)
    stack.agent("pi-late", "silence", join_code=expiring["code"])
    wait_for(lambda: "pi-late" in stack.waiting(), 15, "pi-late asking")
    time.sleep(2.0)
    assert "pi-late" in stack.waiting(), "an expired join code admitted a device"


@pytest.mark.skipif(find_browser() is None, reason="no chromium/chromedriver")
def test_the_operator_accepts_and_revokes_in_the_page(stack: Stack) -> None:
    """Selenium drives the page as an operator would: the waiting list, Accept, Revoke."""
    browser = headless_chromium(stack.workdir)
    try:
        browser.get(stack.console.url)
        wait_for(lambda: browser.find_element(By.ID, "token").is_displayed(), 15, "sign-in")
        browser.find_element(By.ID, "token").send_keys(stack.operator)
        browser.find_element(By.ID, "sign-in").click()
        wait_for(lambda: browser.find_element(By.ID, "fleet").is_displayed(), 15, "the fleet")
        agent = stack.agent("pi-attic", "silence")
        row = "#waiting tr[data-device='pi-attic']"
        wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, row), 15, "pi-attic waiting")
        shown = browser.find_element(By.CSS_SELECTOR, f"{row} code.thumbprint").text
        assert shown == DeviceKey.load_or_create(stack.key_path("pi-attic")).thumbprint
        browser.find_element(By.CSS_SELECTOR, f"{row} button[data-decision='accept']").click()
        wait_for(lambda: not browser.find_elements(By.CSS_SELECTOR, row), 10, "pi-attic accepted")
        # accepted, its health reports get through: it appears among the devices
        device_row = "#devices tr[data-device='pi-attic']"
        wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, device_row), 15, "pi-attic listed")
        browser.execute_script(f'document.querySelector("{device_row}").click();')
        wait_for(lambda: "pi-attic" in browser.find_element(By.ID, "detail-title").text, 10,
                 "the detail of pi-attic")
        browser.find_element(By.ID, "revoke").click()
        wait_for(lambda: "revoked" in browser.find_element(By.ID, "revoke-message").text, 10,
                 "the revocation confirmed")
        identity = wait_for(lambda: _identity(stack, "pi-attic"), 10, "the identity record")
        assert identity.status == "revoked" and identity.changed_by == "alice"
        wait_for(lambda: "revoked" in (agent.process.log_text() if agent.process else ""), 10,
                 "the agent told it is revoked")
    finally:
        browser.quit()
