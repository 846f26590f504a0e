"""A repeat inside the window gets its first receipt whatever the book forgot (issue 24).

Real gateways with a receipt book of 20 entries, then 60 segments of other devices, then
the first segment again: at the same gateway, after its restart, and at a second gateway.
Counted in Kafka: one record for that segment."""

from __future__ import annotations

from pathlib import Path

from devkit.broker import Broker
from devkit.fault_rig import metric
from devkit.gateway_process import GatewayProcess
from devkit.kafka_reader import KafkaReader
from devkit.segments import new_segment_id, records_of, send_segment
from devkit.signals import tone
from tests.conftest import TOPIC

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
        assert lookups(second, "not_found") >= 1

        assert len(records_of(reader, gateway.ws_url, device, segment)) == 1
        assert len(records_of(reader, gateway.ws_url, device, new_one)) == 1
    finally:
        gateway.stop()
        if second is not None:
            second.stop()
