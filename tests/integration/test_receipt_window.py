"""A repeat inside the window gets its first receipt whatever the book forgot, and a
gateway keeps the receipts of the devices it serves only (issue 24).

Real gateways with a receipt book of 20 entries, then 60 segments of other devices, then
the first segment again: at the same gateway (its book forgot: a lookup in Kafka), after
its restart and at a second gateway (they learn the one device they see). Counted in
Kafka: one record for that segment."""

from __future__ import annotations

from pathlib import Path

from devkit.broker import Broker
from devkit.fault_rig import metric
from devkit.gateway_process import GatewayProcess
from devkit.kafka_reader import KafkaReader
from devkit.segments import new_segment_id, records_of, send_segment
from devkit.signals import tone
from devkit.waiting import wait_for
from tests.process_fixtures import TOPIC

BOOK = {"GATEWAY_RECEIPT_MAX_ENTRIES": "20"}
OTHERS = 60
PCM = tone(0.5, 440)


def lookups(gateway: GatewayProcess, result: str) -> float:
    return metric(gateway, f'edge_gateway_receipt_lookups_total{{result="{result}"}}')


def test_a_repeat_after_the_book_forgot_gets_its_first_receipt(
        broker: Broker, reader: KafkaReader, tmp_path: Path) -> None:
    gateway = GatewayProcess(tmp_path, broker.bootstrap, TOPIC, settings=BOOK).start()
    second: GatewayProcess | None = None
    try:
        device = "window-first"
        segment = new_segment_id(device)
        first = send_segment(gateway.ws_url, device, segment, PCM).final
        assert first["event"] == "published" and first["duplicate"] is False
        for i in range(OTHERS):
            other = f"window-other-{i}"
            assert send_segment(gateway.ws_url, other, new_segment_id(other),
                                PCM[:3200]).final["event"] == "published"

        again = send_segment(gateway.ws_url, device, segment, PCM).final
        assert again["event"] == "published" and again["duplicate"] is True, again
        assert again["offset"] == first["offset"]
        assert lookups(gateway, "found") >= 1, "found in Kafka, not in the book"

        gateway.stop()
        gateway = GatewayProcess(tmp_path, broker.bootstrap, TOPIC, settings=BOOK,
                                 port=gateway.port).start()
        after_restart = send_segment(gateway.ws_url, device, segment, PCM).final
        assert after_restart["duplicate"] is True and after_restart["offset"] == first["offset"]

        second = GatewayProcess(tmp_path, broker.bootstrap, TOPIC, settings=BOOK).start()
        elsewhere = send_segment(second.ws_url, device, segment, PCM).final
        assert elsewhere["duplicate"] is True and elsewhere["offset"] == first["offset"]

        new_one = new_segment_id(device)
        fresh = send_segment(second.ws_url, device, new_one, PCM).final
        assert fresh["duplicate"] is False, "a new segment is still published"
        assert metric(second, "edge_gateway_devices_served") == 1, "it keeps only its own"

        assert len(records_of(reader, gateway.ws_url, device, segment)) == 1
        assert len(records_of(reader, gateway.ws_url, device, new_one)) == 1
    finally:
        gateway.stop()
        if second is not None:
            second.stop()


def test_a_device_is_learned_when_first_seen_even_on_a_partition_already_followed(
        broker: Broker, reader: KafkaReader, tmp_path: Path) -> None:
    """One receipts partition for all devices: gateway B follows it for device C first, then
    A's repeat makes it go back for A's history, and the bound of one device makes it drop
    and learn devices again. Each repeat gets A's first receipt."""
    receipts = {"GATEWAY_RECEIPTS_TOPIC": f"receipts-{new_segment_id('t').split(':')[2]}",
                "GATEWAY_RECEIPTS_PARTITIONS": "1"}
    a = GatewayProcess(tmp_path, broker.bootstrap, TOPIC, settings=receipts).start()
    b = GatewayProcess(tmp_path, broker.bootstrap, TOPIC,
                       settings={**receipts, "GATEWAY_MAX_DEVICES": "1"}).start()
    try:
        device, other = "learn-a", "learn-c"
        segment = new_segment_id(device)
        first = send_segment(a.ws_url, device, segment, PCM).final
        assert first["duplicate"] is False
        for _ in range(3):
            assert send_segment(b.ws_url, other, new_segment_id(other),
                                PCM[:3200]).final["event"] == "published"
        for _ in range(2):  # learned by going back; then dropped for `other`, learned anew
            again = send_segment(b.ws_url, device, segment, PCM).final
            assert again["duplicate"] is True and again["offset"] == first["offset"], again
            assert send_segment(b.ws_url, other, new_segment_id(other),
                                PCM[:3200]).final["event"] == "published"
        wait_for(lambda: metric(b, "edge_gateway_devices_served") == 1, 10, "the bound kept")
        log = b.process.log_text() if b.process else ""
        assert log.count("device receipts read") >= 3 and "device dropped" in log
        assert len(records_of(reader, a.ws_url, device, segment)) == 1
    finally:
        a.stop()
        b.stop()
