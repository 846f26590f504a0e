"""12 simultaneous clients against max_connections=10: exactly 10 streams, 2 clean refusals."""

import json
import threading

import requests

from devkit.gateway_process import GatewayProcess
from devkit.health_reports import sample_report
from devkit.kafka_reader import KafkaReader
from devkit.ws_client import RawWebSocket
from ingress_common.health import HEALTH_PATH
from tests.process_fixtures import tone_pcm

CLIENTS = 12


def open_all_at_once(url: str, count: int) -> list[RawWebSocket]:
    barrier = threading.Barrier(count)
    sockets: list[RawWebSocket] = []
    lock = threading.Lock()

    def connect() -> None:
        barrier.wait(10)
        ws = RawWebSocket(url)
        with lock:
            sockets.append(ws)

    threads = [threading.Thread(target=connect) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(sockets) == count
    return sockets


def test_twelve_clients_give_ten_streams_and_two_refusals(gateway: GatewayProcess,
                                                         reader: KafkaReader) -> None:
    sockets = open_all_at_once(gateway.ws_url, CLIENTS)
    try:
        accepted = [ws for ws in sockets if ws.reject_status is None]
        refused = [ws for ws in sockets if ws.reject_status is not None]
        # The refusals arrived while all ten streams were still open: refused, not queued.
        assert len(accepted) == 10 and len(refused) == 2
        for ws in refused:
            assert ws.reject_status == 503
            headers = {k.decode().lower(): v.decode() for k, v in ws.accepted.headers}
            assert headers["retry-after"] == "1"
            body = json.loads(ws.reject_body)
            assert body["code"] == "over_capacity" and body["published"] is False
            assert body["retryable"] is True

        health = requests.get(f"{gateway.http_url}/healthz", timeout=5)
        assert health.status_code == 200 and health.json()["active_connections"] == 10
        # A device's health report never takes an audio slot: accepted while all ten are busy.
        report = requests.post(f"{gateway.http_url}{HEALTH_PATH}",
                               data=sample_report("capacity-pi").encode(), timeout=5)
        assert report.status_code == 200 and report.json()["accepted"] is True
        assert requests.get(f"{gateway.http_url}/healthz", timeout=5).json()[
            "active_connections"] == 10

        correlation_ids = []
        for ws in accepted:
            correlation_ids.append(ws.next_text()["correlation_id"])
            ws.send_bytes(tone_pcm(0.2))
            ws.send_text('{"event":"done"}')
        finals = [ws.next_text() for ws in accepted]
        assert [f["event"] for f in finals] == ["published"] * 10
        assert {f["correlation_id"] for f in finals} == set(correlation_ids)
        for cid in correlation_ids:
            reader.find(cid)
    finally:
        for ws in sockets:
            ws.close()
    assert requests.get(f"{gateway.http_url}/healthz", timeout=5).json()["active_connections"] <= 10

