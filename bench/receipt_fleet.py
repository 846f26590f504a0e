"""Receipts at fleet scale (issue 24): a gateway serving 2 devices, with a fleet's window of
claims and receipts already in the receipts topic, this design beside another checkout's.

    .venv/bin/python -m bench.receipt_fleet --devices 1000 --hours 24 --before /tmp/before-tree

1. A Tansu broker; the receipts topic with 64 partitions; `--devices` devices × `--hours`
   of one utterance a minute written straight into it (a claim and a receipt each, with
   producer timestamps in the past).
2. For each tree, in turn, with the same broker and topic: a real gateway started from
   that tree (time to ready); its first answer for a device with a full window of history
   (a repeat of that device's last segment: connect → `published`, learning included); its
   PSS (arbiter + worker) and its CPU over `--follow-s`, once both served devices were
   seen, while the fleet goes on writing live (one utterance per device per minute) and
   the 2 devices stream a segment a second.
Each design is measured in the same run, on the same topic. The broker holds everything
in memory, which bounds `--devices` here; the figures per device and per record scale.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

from confluent_kafka import Producer

from devkit.broker import Broker
from devkit.gateway_process import GatewayProcess
from devkit.procstat import sample_total
from devkit.segments import send_segment
from devkit.signals import tone
from edge_gateway.landing import Location
from edge_gateway.receipts.records import Claim, Receipt, SegmentKey, encode_record
from edge_gateway.settings import DEFAULT_RECEIPTS_TOPIC, DEFAULT_TOPIC
from ingress_common.kafka_topics import partition_for

PARTITIONS = 64
SERVED = ("fleet-device-0", "fleet-device-1")
PCM = tone(0.5, 440)


def segment_id(device: str, minute: int) -> str:
    return f"{device}:fleet:{minute}"


def write_fleet(producer: Producer, devices: int, minutes: int, end_ms: int) -> int:
    """Each device's claims and receipts, one utterance a minute, ending at `end_ms`."""
    written = 0
    for minute in range(minutes):
        at_ms = end_ms - (minutes - minute) * 60_000
        for d in range(devices):
            device = f"fleet-device-{d}"
            written += _write_one(producer, device, segment_id(device, minute), at_ms, minute)
        producer.poll(0)
    producer.flush(120)
    return written


def _write_one(producer: Producer, device: str, segment: str, at_ms: int, offset: int) -> int:
    key = SegmentKey(device, segment)
    partition = partition_for(device, PARTITIONS)
    assert partition is not None
    receipt = Receipt(key, Location(DEFAULT_TOPIC, 0, offset, str(uuid.uuid4()), 16000, 500),
                      at_ms + 300)
    for record, ts in ((Claim(key, "fleet-gateway", "inc", at_ms), at_ms), (receipt, at_ms + 300)):
        while True:
            try:
                producer.produce(DEFAULT_RECEIPTS_TOPIC, encode_record(record), key=device,
                                 partition=partition, timestamp=ts)
                break
            except BufferError:
                producer.poll(0.05)
    return 2


def gateway_from(tree: Path, workdir: Path, bootstrap: str) -> GatewayProcess:
    command = [sys.executable, "-c",
               f"import sys; sys.path.insert(0, {str(tree)!r}); "
               "from edge_gateway.cli import main; sys.exit(main(['serve']))"]
    return GatewayProcess(workdir, bootstrap, DEFAULT_TOPIC, command=command,
                          settings={"GATEWAY_RECEIPTS_PARTITIONS": str(PARTITIONS),
                                    "KAFKA_STARTUP_TIMEOUT_S": "600"})


def measure(tree: Path, workdir: Path, broker: Broker, producer: Producer, devices: int,
            minutes: int, follow_s: float) -> dict[str, float]:
    gateway = gateway_from(tree, workdir, broker.bootstrap)
    began = time.monotonic()
    gateway.start(wait_ready=False)
    gateway.wait_ready(timeout_s=900)
    ready_s = time.monotonic() - began
    try:
        device = SERVED[0]
        t0 = time.monotonic()
        reply = send_segment(gateway.ws_url, device, segment_id(device, minutes - 1), PCM).final
        first_answer_s = time.monotonic() - t0
        for name in SERVED[1:]:  # learned before the window: following is measured, not learning
            send_segment(gateway.ws_url, name, f"{name}:warm", PCM[:6400])
        pids = gateway.worker_pids()
        before = sample_total(pids)
        live_end = time.monotonic() + follow_s
        minute = minutes
        while time.monotonic() < live_end:  # the fleet goes on: one utterance a device a minute
            now_ms = time.time_ns() // 1_000_000
            per_second = max(1, devices // 60)
            for d in range(per_second):
                name = f"fleet-device-{(minute * per_second + d) % devices}"
                _write_one(producer, name, f"{name}:live:{minute}:{d}", now_ms, minute)
            producer.poll(0)
            for name in SERVED:
                send_segment(gateway.ws_url, name, f"{name}:live:{minute}", PCM[:6400])
            minute += 1
            time.sleep(1.0)
        after = sample_total(pids)
        return {"ready_s": ready_s, "first_answer_s": first_answer_s,
                "duplicate": float(reply.get("duplicate") is True),
                "pss_mib": after.pss_bytes / 2**20,
                "cpu_pct": 100 * (after.cpu_s - before.cpu_s) / follow_s}
    finally:
        gateway.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--hours", type=float, default=24)
    parser.add_argument("--follow-s", type=float, default=30)
    parser.add_argument("--before", type=Path, help="another checkout, measured the same way")
    parser.add_argument("--runs", type=int, default=1, help="rounds, the order alternating")
    args = parser.parse_args()
    here = Path(__file__).resolve().parents[1]
    trees = {"this design": here, **({"before": args.before.resolve()} if args.before else {})}
    workdir = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    broker = Broker(workdir).start()
    try:
        broker.create_topic(DEFAULT_TOPIC)
        broker.create_topic(DEFAULT_RECEIPTS_TOPIC, partitions=PARTITIONS)
        producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 50,
                             "batch.num.messages": 10000, "queue.buffering.max.messages": 500000})
        minutes = int(args.hours * 60)
        began = time.monotonic()
        written = write_fleet(producer, args.devices, minutes, time.time_ns() // 1_000_000)
        print(f"fleet: {args.devices} devices × {minutes} minutes: {written} records written "
              f"in {time.monotonic() - began:.0f} s", flush=True)
        print("| design | time to ready | first answer, deep history | duplicate | "
              "PSS (arbiter + worker) | worker CPU while following |")
        print("|---|---|---|---|---|---|")
        for run in range(args.runs):
            order = list(trees.items())
            for name, tree in order if run % 2 == 0 else order[::-1]:
                m = measure(tree, workdir, broker, producer, args.devices, minutes,
                            args.follow_s)
                print(f"| {name} (run {run + 1}) | {m['ready_s']:.1f} s | "
                      f"{m['first_answer_s'] * 1000:.0f} ms | "
                      f"{'yes' if m['duplicate'] else 'NO'} | {m['pss_mib']:.1f} MiB | "
                      f"{m['cpu_pct']:.1f} % |", flush=True)
        producer.flush(10)
    finally:
        broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
