"""A stream that names a segment_id is published whole, exactly once, or not at all
(issue 11). Real gateway processes and a real broker; outcomes are counted in Kafka,
as records per segment, not as replies."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devkit.broker import Broker
from devkit.fault_gateway import fault_gateway_command
from devkit.fault_rig import metric
from devkit.gateway_process import GatewayProcess
from devkit.kafka_reader import KafkaReader
from devkit.segments import new_segment_id, records_of, send_segment
from devkit.signals import tone
from devkit.tcp_proxy import TcpProxy
from devkit.ws_client import RawWebSocket
from edge_gateway.receipts.follower import REFRESH_S
from ingress_common.client import ClientOptions, Refused, send_utterance
from tests.process_fixtures import TOPIC

PCM = tone(2.0, 440)


@pytest.fixture
def own_gateway(broker: Broker, tmp_path: Path) -> Iterator[GatewayProcess]:
    g = GatewayProcess(tmp_path, broker.bootstrap, TOPIC,
                       settings={"GATEWAY_IDLE_TIMEOUT_S": "1"}).start()
    yield g
    g.stop()


def retry_while_told_to(url: str, device: str, segment: str,
                        attempts: int = 40) -> tuple[dict[str, Any], list[str]]:
    """Send the segment again as a client would: with a pause, while the answer says a
    retry can help. The last answer, and what each answer was."""
    replies: list[str] = []
    for _ in range(attempts):
        reply = send_segment(url, device, segment, PCM).final
        replies.append(reply.get("code") or reply["event"])
        if reply["event"] == "published" or not reply.get("retryable"):
            break
        time.sleep(0.5)
    return reply, replies


def test_a_cut_mid_stream_publishes_nothing_and_v1_keeps_its_rule(
        own_gateway: GatewayProcess, reader: KafkaReader) -> None:
    url, device = own_gateway.ws_url, "eo-cut"
    segment = new_segment_id(device)
    send_segment(url, device, segment, PCM[: len(PCM) // 2], send_done=False)
    assert records_of(reader, url, device, segment) == [], "no prefix of a segment is published"
    v1 = send_segment(url, device, None, PCM[: len(PCM) // 2], send_done=False)
    assert reader.find(v1.correlation_id).pcm == PCM[: len(PCM) // 2], "v1: what was buffered"


def test_an_idle_timeout_publishes_nothing_and_says_a_retry_helps(
        own_gateway: GatewayProcess, reader: KafkaReader) -> None:
    url, device = own_gateway.ws_url, "eo-idle"
    segment = new_segment_id(device)
    raw = RawWebSocket(url)
    raw.next_text()  # connected
    raw.send_text(f'{{"event":"start","device_id":"{device}","segment_id":"{segment}"}}')
    raw.send_bytes(PCM[:8000])
    final = raw.final_message()
    raw.close()
    assert final["code"] == "idle_timeout"
    assert final["published"] is False and final["retryable"] is True
    assert records_of(reader, url, device, segment) == []


def test_a_repeat_gets_the_first_receipt_and_writes_nothing(
        own_gateway: GatewayProcess, reader: KafkaReader) -> None:
    url, device = own_gateway.ws_url, "eo-repeat"
    segment = new_segment_id(device)
    send_segment(url, device, segment, PCM[:16000], send_done=False)  # a cut first
    first = send_segment(url, device, segment, PCM).final
    again = send_segment(url, device, segment, PCM).final
    assert first["event"] == again["event"] == "published"
    assert first["duplicate"] is False and again["duplicate"] is True
    assert (again["partition"], again["offset"], again["correlation_id"]) == \
        (first["partition"], first["offset"], first["correlation_id"])
    records = records_of(reader, url, device, segment)
    assert len(records) == 1 and records[0].pcm == PCM, "one whole record"


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_a_repeat_after_a_gateway_restart_is_still_a_duplicate(
        broker: Broker, reader: KafkaReader, tmp_path: Path, how: str) -> None:
    gateway = GatewayProcess(tmp_path, broker.bootstrap, TOPIC).start()
    try:
        device = f"eo-restart-{how}"
        segment = new_segment_id(device)
        first = send_segment(gateway.ws_url, device, segment, PCM).final
        assert gateway.process is not None
        if how == "sigkill":
            gateway.process.kill()
        gateway.stop()
        gateway.start()
        again = send_segment(gateway.ws_url, device, segment, PCM).final
        assert again["duplicate"] is True and again["offset"] == first["offset"]
        assert len(records_of(reader, gateway.ws_url, device, segment)) == 1
    finally:
        gateway.stop()


def test_a_gateway_killed_between_delivery_and_receipt_recovers_the_receipt(
        broker: Broker, reader: KafkaReader, tmp_path: Path) -> None:
    """The worst moment: Kafka has the record, the receipt was never written. The worker
    dies (SIGKILL from devkit's fault gateway) and gunicorn starts a new one; the retry finds the
    claim of the dead incarnation, looks in the audio partition, and answers with the
    record that is there instead of writing a second one."""
    gateway = GatewayProcess(
        tmp_path, broker.bootstrap, TOPIC, settings={"GATEWAY_PUBLISH_TIMEOUT_S": "2"},
        command=fault_gateway_command(crash_before_receipt=1, once_file=tmp_path / "fired"),
    ).start()
    try:
        device = "eo-worst-moment"
        segment = new_segment_id(device)
        cut = send_segment(gateway.ws_url, device, segment, PCM)
        assert cut.final["event"] == "connected", "no verdict: the worker died"
        gateway.wait_ready()
        reply, replies = retry_while_told_to(gateway.ws_url, device, segment)
        assert reply["event"] == "published" and reply["duplicate"] is True, replies
        records = records_of(reader, gateway.ws_url, device, segment)
        assert len(records) == 1 and records[0].offset == reply["offset"]
    finally:
        gateway.stop()


def test_a_receipt_kafka_refused_never_frees_the_segment_for_a_second_record(
        broker: Broker, reader: KafkaReader, tmp_path: Path) -> None:
    """The audio is in Kafka, its receipt is not (refused by devkit's fault gateway). A prompt
    retry on the same process must not take the claim for an idle one of its own and
    publish again: it is told to wait until the claim expires, and is then answered from
    the record found in the audio topic."""
    gateway = GatewayProcess(
        tmp_path, broker.bootstrap, TOPIC,
        settings={"GATEWAY_PUBLISH_TIMEOUT_S": "2", "GATEWAY_CLAIM_SKEW_S": "0"},
        command=fault_gateway_command(refuse_receipt=1)).start()
    try:
        device = "eo-receipt-refused"
        segment = new_segment_id(device)
        first = send_segment(gateway.ws_url, device, segment, PCM).final
        assert first["event"] == "published" and first["duplicate"] is False
        reply, replies = retry_while_told_to(gateway.ws_url, device, segment)
        assert reply["event"] == "published" and reply["duplicate"] is True, replies
        assert reply["offset"] == first["offset"]
        assert "segment_in_progress" in replies, "the claim was waited out, not freed"
        records = records_of(reader, gateway.ws_url, device, segment)
        assert len(records) == 1 and records[0].offset == first["offset"]
    finally:
        gateway.stop()


def test_two_gateways_share_the_receipts(broker: Broker, reader: KafkaReader,
                                         tmp_path: Path) -> None:
    a = GatewayProcess(tmp_path, broker.bootstrap, TOPIC).start()
    b = GatewayProcess(tmp_path, broker.bootstrap, TOPIC).start()
    try:
        device = "eo-two-gateways"
        segment = new_segment_id(device)
        first = send_segment(a.ws_url, device, segment, PCM).final
        again = send_segment(b.ws_url, device, segment, PCM).final
        assert again["duplicate"] is True and again["offset"] == first["offset"]
        assert len(records_of(reader, b.ws_url, device, segment)) == 1
    finally:
        a.stop()
        b.stop()


def test_the_python_client_retries_a_lost_reply_into_the_first_receipt(
        own_gateway: GatewayProcess, reader: KafkaReader) -> None:
    proxy = TcpProxy(own_gateway.port)
    try:
        proxy.cut_on(b'"event":"published"', times=1)
        device = "eo-client"
        segment = new_segment_id(device)
        receipt = send_utterance(f"ws://127.0.0.1:{proxy.port}/ws/audio", PCM, device, segment,
                                 options=ClientOptions(backoff_s=0.1))
    finally:
        proxy.close()
    assert proxy.pattern_cuts == 1 and receipt.duplicate is True
    records = records_of(reader, own_gateway.ws_url, device, segment)
    assert [r.offset for r in records] == [receipt.offset] and records[0].pcm == PCM


def test_the_python_client_raises_on_a_refusal_no_retry_can_fix(
        own_gateway: GatewayProcess) -> None:
    with pytest.raises(Refused) as refused:
        send_utterance(own_gateway.ws_url, b"\0", "eo-client", new_segment_id("eo-client"))
    assert refused.value.error is not None and refused.value.error.code == "misaligned_pcm"


def test_a_lone_gateway_applies_its_own_claims_and_receipts_without_the_follower(
        own_gateway: GatewayProcess, reader: KafkaReader) -> None:
    """One gateway, segments one after another: the book takes each claim and receipt as it
    is written (nothing can be before them unread), so the follower is not woken per
    segment, and a repeat straight after the publish still gets the first receipt."""
    url, device = own_gateway.ws_url, "eo-own"
    send_segment(url, device, new_segment_id(device), PCM[:3200])  # the partition is known
    rounds_before, began = metric(own_gateway, "edge_gateway_receipt_read_rounds"), time.monotonic()
    segments = [new_segment_id(device) for _ in range(6)]
    for segment in segments:
        first = send_segment(url, device, segment, PCM).final
        repeat = send_segment(url, device, segment, PCM).final
        assert first["event"] == "published" and not first["duplicate"], first
        assert repeat["duplicate"] and repeat["offset"] == first["offset"], repeat
    rounds = metric(own_gateway, "edge_gateway_receipt_read_rounds") - rounds_before
    refreshes = (time.monotonic() - began) // REFRESH_S + 1
    assert rounds_before >= 0 and rounds <= refreshes, f"{rounds} follower rounds for 6 segments"
    assert all(len(records_of(reader, url, device, s)) == 1 for s in segments)
