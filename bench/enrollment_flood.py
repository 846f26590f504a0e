"""Enrollment flooding (issue 33): `--requests` made-up devices ask one real gateway to join,
from one client, while accepted devices stream audio through it.

    .venv/bin/python -m bench.enrollment_flood --requests 10000

1. A Tansu broker and a gateway with GATEWAY_ENROLLMENT=on (its bound,
   GATEWAY_MAX_PENDING_ENROLLMENTS, at its default of 100). Two devices with their own keys
   are accepted by writing their records to the identity topic, as the console does.
2. Idle: the accepted devices stream `--utterances` one-second utterances, one at a time;
   each one's time from connect to `published` is taken.
3. Flood: `--requests` health reports, each from a fresh key and a fresh device id (the
   per-device rate never helps the gateway), from `--senders` processes of one client with
   kept-alive connections; the accepted devices stream the same utterances meanwhile.
4. Counted where it takes effect: the gateway's answers by code, and the records in the
   enrollment topic (read back from Kafka).

The ratio of the utterances' median times (flood / idle) is measured in one run: this
2-core machine is shared, and the flood's client runs on it too.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import requests
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from bench.report import write_report
from devkit.broker import Broker
from devkit.gateway_process import GatewayProcess
from devkit.health_reports import sample_report
from ingress_common.client import ClientOptions, send_utterance
from ingress_common.device_keys import DeviceKey
from ingress_common.health import HEALTH_PATH
from ingress_common.identity_records import (
    ACCEPTED,
    ENROLLMENT_TOPIC,
    IDENTITY_TOPIC,
    DeviceIdentity,
    encode_identity,
)
from ingress_common.kafka_topics import partition_count, partition_for
from ingress_common.pcm import BYTES_PER_SECOND

MAX_PENDING = 100
TOPIC = "flood.audio"


def accept(bootstrap: str, keys: dict[str, DeviceKey]) -> None:
    """Write the devices' accepted keys to the identity topic, as the console does."""
    producer = Producer({"bootstrap.servers": bootstrap, "allow.auto.create.topics": False})
    partitions = partition_count(producer, IDENTITY_TOPIC, 10)
    for device, key in keys.items():
        record = DeviceIdentity(device, ACCEPTED, key.thumbprint, json.dumps(key.jwk), "bench",
                                time.time_ns() // 1_000_000)
        producer.produce(IDENTITY_TOPIC, encode_identity(record), device,
                         partition=partition_for(device, partitions) or 0)
    assert producer.flush(10) == 0, "the identities were not written"


def stream(url: str, keys: dict[str, DeviceKey], count: int, stop: threading.Event | None = None
           ) -> list[float]:
    """`count` one-second utterances, alternating devices; seconds from connect to receipt."""
    times = []
    pcm = bytes(BYTES_PER_SECOND)
    devices = sorted(keys)
    for i in range(count):
        device = devices[i % len(devices)]
        key = keys[device]
        options = ClientOptions(token_source=lambda k=key, d=device: k.sign_token(d))
        began = time.monotonic()
        send_utterance(url, pcm, device, f"{device}:{uuid.uuid4().hex[:8]}:{i}", options=options)
        times.append(time.monotonic() - began)
        if stop is not None and stop.is_set():
            break
    return times


def send_requests(base_url: str, first: int, count: int) -> Counter[str]:
    """One sender process's share: `count` reports, each from a fresh key and id."""
    answers: Counter[str] = Counter()
    session = requests.Session()
    for i in range(first, first + count):
        key = DeviceKey.from_seed(os.urandom(32))
        device = f"flood-{i}"
        try:
            reply = session.post(f"{base_url}{HEALTH_PATH}",
                                 data=sample_report(device).encode(), timeout=30,
                                 headers={"Authorization": f"Bearer {key.sign_token(device)}",
                                          "Content-Type": "application/json"})
        except requests.ConnectionError:
            answers["(connection reset)"] += 1  # the gateway may shed a flooding connection
            continue
        answers[reply.json().get("code", str(reply.status_code))] += 1
    return answers


def flood(base_url: str, requests_total: int, senders: int) -> tuple[Counter[str], float]:
    """Health reports from fresh keys and ids, from `senders` processes (so that the client
    measuring the audio shares no interpreter lock with them); (the gateway's answers by
    code, seconds)."""
    share = -(-requests_total // senders)
    began = time.monotonic()
    with multiprocessing.get_context("spawn").Pool(senders) as pool:
        parts = pool.starmap(send_requests, [(base_url, k * share,
                                              min(share, requests_total - k * share))
                                             for k in range(senders)])
    return sum(parts, Counter()), time.monotonic() - began


def enrollment_records(bootstrap: str, settle_s: float = 5.0) -> int:
    """The records in the enrollment topic, read from Kafka (to a deadline, never to the
    high watermark: Tansu's is the last batch's base offset + 1)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4()}",
                         "enable.auto.commit": False})
    try:
        count = partition_count(consumer, ENROLLMENT_TOPIC, 10)
        consumer.assign([TopicPartition(ENROLLMENT_TOPIC, p, OFFSET_BEGINNING)
                         for p in range(count)])
        seen = 0
        quiet_until = time.monotonic() + settle_s
        while time.monotonic() < quiet_until:
            msg = consumer.poll(0.2)
            if msg is not None and not msg.error():
                seen += 1
                quiet_until = time.monotonic() + settle_s
        return seen
    finally:
        consumer.close()


def run(requests_total: int, utterances: int, senders: int) -> str:
    workdir = Path(tempfile.mkdtemp(prefix="enrollment-flood-"))
    broker = Broker(workdir).start()
    try:
        broker.create_topic(TOPIC, 1)
        gateway = GatewayProcess(workdir, broker.bootstrap, TOPIC, {
            "GATEWAY_ENROLLMENT": "on",
            "GATEWAY_MAX_PENDING_ENROLLMENTS": str(MAX_PENDING)}).start()
        try:
            keys = {f"accepted-{i}": DeviceKey.from_seed(os.urandom(32)) for i in range(2)}
            accept(broker.bootstrap, keys)
            stream(gateway.ws_url, keys, 2)  # warm: each device's identity and receipts read
            idle = stream(gateway.ws_url, keys, utterances)
            result: dict[str, object] = {}
            done = threading.Event()

            def flooding() -> None:
                result["answers"], result["seconds"] = flood(gateway.http_url, requests_total,
                                                             senders)
                done.set()
            flooder = threading.Thread(target=flooding)
            flooder.start()
            loaded: list[float] = []
            while not done.is_set():  # stream for as long as the flood lasts
                loaded += stream(gateway.ws_url, keys, 1)
            flooder.join()
            records = enrollment_records(broker.bootstrap)
        finally:
            gateway.stop()
    finally:
        broker.stop()
    answers = result["answers"]
    assert isinstance(answers, Counter)
    ratio = statistics.median(loaded) / statistics.median(idle)
    rows = "\n".join(f"| {code} | {count} |" for code, count in answers.most_common())
    return (
        f"# Enrollment flood, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
        f"`python -m bench.enrollment_flood --requests {requests_total} --utterances "
        f"{utterances} --senders {senders}`\n\n"
        f"{requests_total} health reports from fresh keys and device ids, {senders} sender "
        f"processes of one client, in {result['seconds']:.1f} s; GATEWAY_MAX_PENDING_ENROLLMENTS = "
        f"{MAX_PENDING}.\n\n"
        f"| the gateway's answer | count |\n|---|---|\n{rows}\n\n"
        f"Records in {ENROLLMENT_TOPIC}: **{records}** (the bound: {MAX_PENDING}).\n\n"
        f"| accepted devices' utterances (1 s each) | count | connect → published, median ms "
        f"| p95 ms |\n|---|---|---|---|\n"
        f"| idle gateway | {len(idle)} | {statistics.median(idle) * 1000:.1f} | "
        f"{_p95(idle) * 1000:.1f} |\n"
        f"| during the flood | {len(loaded)} | {statistics.median(loaded) * 1000:.1f} | "
        f"{_p95(loaded) * 1000:.1f} |\n\n"
        f"Median during the flood / idle: **{ratio:.2f}×** (target ≤ 2×). Every utterance "
        f"was published (a refusal would have raised).\n")


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--utterances", type=int, default=40)
    parser.add_argument("--senders", type=int, default=4)
    args = parser.parse_args()
    report = run(args.requests, args.utterances, args.senders)
    print(report)
    print(write_report("enrollment-flood", report))


if __name__ == "__main__":
    main()
