"""Health reports at fleet scale (issue 25): `--devices` simulated devices reporting every
`--interval-s` through one real gateway (device tokens on), and a real console following.

    .venv/bin/python -m bench.fleet_health --devices 1000 --interval-s 30 --seconds 120

1. A Tansu broker, a gateway with authentication, a console. Both are measured idle for
   `--idle-s` (no device reports).
2. `--devices` devices, each with its own ES256 token, post a report every `--interval-s`,
   spread evenly over the interval, from a pool of threads with kept-alive connections, for
   `--seconds`. The gateway's CPU and PSS (arbiter + worker) and the console's PSS are
   sampled meanwhile.
3. Kafka's bytes: the health records written during the load, read back from the topic
   (key + value, and with the record batch framing that one record per produce costs).
Per-1,000 figures are the loaded minus the idle ones, scaled. The load generator runs on
the same 2 cores: the gateway's CPU is its own process's, not the machine's.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import requests
from confluent_kafka import Consumer, TopicPartition

from bench.report import write_report
from devkit.broker import Broker
from devkit.console_process import ConsoleProcess
from devkit.gateway_process import GatewayProcess
from devkit.health_reports import sample_report
from devkit.procstat import Watch, sample_total
from edge_gateway.provisioning import issue_token, write_key_pair
from ingress_common.auth import DEVICE_AUDIENCE
from ingress_common.fleet_records import HEALTH_TOPIC
from ingress_common.health import HEALTH_PATH

BATCH_FRAMING_BYTES = 61 + 12
"""A record batch's header, and one record's own framing (lengths, deltas): with
linger.ms 0 each report is its own batch."""
SENDERS = 8


def load(url: str, tokens: dict[str, str], interval_s: float, seconds: float
         ) -> tuple[list[float], dict[int, int]]:
    """Post every device's reports on schedule; (latencies in s, count by HTTP status)."""
    devices = sorted(tokens)
    began = time.monotonic()
    slots = [(began + k * interval_s + i * interval_s / len(devices), device)
             for k in range(int(seconds / interval_s)) for i, device in enumerate(devices)]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def sender(index: int) -> None:
        session = requests.Session()
        rng = random.Random(index)
        for due, device in slots[index::SENDERS]:
            time.sleep(max(0.0, due - time.monotonic()))
            body = sample_report(device, rng).encode()
            start = time.monotonic()
            answer = session.post(url, data=body, timeout=10, headers={
                "Authorization": f"Bearer {tokens[device]}", "Content-Type": "application/json"})
            with lock:
                latencies.append(time.monotonic() - start)
                statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
    threads = [threading.Thread(target=sender, args=(i,)) for i in range(SENDERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, statuses


def health_bytes(bootstrap: str, prefix: str) -> list[int]:
    """key + value bytes of each health record of the simulated devices."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench",
                         "enable.auto.commit": False})
    sizes: list[int] = []
    try:
        partitions = consumer.list_topics(HEALTH_TOPIC, timeout=10).topics[HEALTH_TOPIC].partitions
        consumer.assign([TopicPartition(HEALTH_TOPIC, p, 0) for p in partitions])
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < 3:
            msg = consumer.poll(0.5)
            if msg is None or msg.error() is not None:
                continue
            quiet_since = time.monotonic()
            key = msg.key() or b""
            if key.startswith(prefix.encode()):
                sizes.append(len(key) + len(msg.value() or b""))
    finally:
        consumer.close()
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--interval-s", type=float, default=30.0)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--idle-s", type=float, default=30.0)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="fleet-health-"))
    broker = Broker(workdir).start()
    broker.create_topic("bench.audio", 1)
    key, public = write_key_pair(workdir / "keys", "signing", "ES256")
    prefix = "sim-"
    tokens = {f"{prefix}{i:05d}": issue_token(key.read_bytes(), f"{prefix}{i:05d}", 7200,
                                               DEVICE_AUDIENCE) for i in range(args.devices)}
    gateway = GatewayProcess(workdir, broker.bootstrap, "bench.audio", {
        "GATEWAY_AUTH_PUBLIC_KEYS": str(public),
        "GATEWAY_MAX_DEVICES": str(max(100, args.devices)), "GATEWAY_LOG_LEVEL": "WARNING"})
    console = ConsoleProcess(workdir, broker.bootstrap, {"CONSOLE_LOG_LEVEL": "WARNING"})
    try:
        gateway.start()
        console.start()
        assert console.process is not None
        console_pids = [console.process.pid, *_children(console.process.pid)]
        with Watch(gateway.worker_pids()) as idle:
            time.sleep(args.idle_s)
        idle_gateway_pss = sample_total(gateway.worker_pids()).pss_bytes
        idle_console_pss = sample_total(console_pids).pss_bytes
        with Watch(gateway.worker_pids()) as loaded:
            latencies, statuses = load(f"{gateway.http_url}{HEALTH_PATH}", tokens,
                                       args.interval_s, args.seconds)
        busy_s = args.seconds
        time.sleep(2)
        wait_until = time.monotonic() + 30
        while time.monotonic() < wait_until and \
                requests.get(f"{console.url}/healthz", timeout=5).json()["devices"] < args.devices:
            time.sleep(0.5)
        loaded_gateway_pss = sample_total(gateway.worker_pids()).pss_bytes
        loaded_console_pss = sample_total(console_pids).pss_bytes
        sizes = health_bytes(broker.bootstrap, prefix)
    finally:
        console.stop()
        gateway.stop()
        broker.stop()
    per_k = 1000 / args.devices
    idle_cpu = 100 * idle.cpu_s / args.idle_s
    busy_cpu = 100 * loaded.cpu_s / busy_s
    record = statistics.median(sizes)
    per_day = 86400 / args.interval_s
    mib = 1024 * 1024
    lines = [
        f"# Health reports at fleet scale — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"`python -m bench.fleet_health --devices {args.devices} --interval-s "
        f"{args.interval_s:g} --seconds {args.seconds:g} --idle-s {args.idle_s:g}`: "
        f"{args.devices} simulated devices (ES256 tokens, five recent utterances each) "
        f"through one gateway, one console following; {sum(statuses.values())} reports, "
        f"HTTP statuses {dict(sorted(statuses.items()))}.",
        "",
        "| figure | idle | loaded | per 1,000 devices |",
        "|---|---|---|---|",
        f"| gateway CPU (% of one core) | {idle_cpu:.2f} | {busy_cpu:.2f} "
        f"| {(busy_cpu - idle_cpu) * per_k:.2f} |",
        f"| gateway PSS (arbiter + worker) | {idle_gateway_pss / mib:.1f} MiB "
        f"| {loaded_gateway_pss / mib:.1f} MiB "
        f"| {(loaded_gateway_pss - idle_gateway_pss) / mib * per_k:.1f} MiB |",
        f"| console PSS | {idle_console_pss / mib:.1f} MiB | {loaded_console_pss / mib:.1f} MiB "
        f"| {(loaded_console_pss - idle_console_pss) / mib * per_k:.1f} MiB |",
        "",
        f"- Report round trip (client side, kept-alive): median "
        f"{statistics.median(latencies) * 1000:.1f} ms, p99 "
        f"{sorted(latencies)[int(0.99 * len(latencies))] * 1000:.1f} ms.",
        f"- Kafka: median record {record:.0f} B (key + Avro value), "
        f"{record + BATCH_FRAMING_BYTES:.0f} B with its batch framing; every "
        f"{args.interval_s:g} s that is {per_day * (record + BATCH_FRAMING_BYTES) / 1024:.0f} "
        f"KiB per device per day written (the compacted topic keeps one record per device).",
    ]
    text = "\n".join(lines) + "\n"
    write_report("fleet-health", text, stamp=f"{datetime.now(UTC):%Y%m%d}")
    return 0


def _children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


if __name__ == "__main__":
    raise SystemExit(main())
