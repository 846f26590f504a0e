"""The Kafka poller rests while nothing is in flight, and a send or close() wakes it at once
(real producer, real broker). Counted in the poller thread's own scheduler runs
(/proc/self/task/TID/schedstat), and the records are read back from Kafka."""

from __future__ import annotations

import time
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from devkit.broker import Broker
from devkit.waiting import wait_for
from edge_gateway.publisher import IDLE_POLL_S, KafkaPublisher, producer_config

TOPIC = "publisher-rest-probe"
"""Its own topic: the raw bytes it writes are no AudioInputEvent for other tests' readers."""
IDLE_WINDOW_S = 2.0


def scheduled_runs(native_id: int) -> int:
    """How many times the kernel has run this thread (schedstat's third field)."""
    return int(Path(f"/proc/self/task/{native_id}/schedstat").read_text().split()[2])


def read_back(broker: Broker, partition: int, offsets: list[int]) -> list[bytes]:
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "rest-probe",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(TOPIC, partition, min(offsets))])
    values: dict[int, bytes] = {}
    deadline = time.monotonic() + 15
    try:
        while set(offsets) - set(values) and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                values[message.offset() or 0] = message.value() or b""
    finally:
        consumer.close()
    return [values[offset] for offset in offsets if offset in values]


def test_an_idle_poller_rests_and_a_send_wakes_it_at_once(broker: Broker) -> None:
    broker.create_topic(TOPIC, partitions=1)
    publisher = KafkaPublisher(producer_config(broker.bootstrap, 10_000, 10.0, {}), TOPIC, 10.0)
    try:
        first = publisher.publish(b"before the rest", key="k", headers={})
        poller = publisher.poller_thread_id
        seen = [scheduled_runs(poller)]

        def resting() -> bool:  # no run since the last look: the report's poll round ended
            seen.append(scheduled_runs(poller))
            return seen[-1] == seen[-2]

        wait_for(resting, 5.0, "the poller to rest after the report")
        runs_before = scheduled_runs(poller)
        time.sleep(IDLE_WINDOW_S)  # a window of idleness, measured as such
        idle_runs = scheduled_runs(poller) - runs_before
        began = time.monotonic()
        second = publisher.publish(b"after the rest", key="k", headers={})
        woken_in = time.monotonic() - began
    finally:
        began = time.monotonic()
        publisher.close(timeout_s=IDLE_POLL_S)
        closed_in = time.monotonic() - began

    # polling every POLL_INTERVAL_S would be IDLE_WINDOW_S / POLL_INTERVAL_S = 20 runs
    assert idle_runs <= 3, f"the poller ran {idle_runs} times in {IDLE_WINDOW_S:g} s of idleness"
    assert woken_in < 1.0 < IDLE_POLL_S, f"a send after the rest took {woken_in:.2f} s"
    assert closed_in < 1.0, f"close() of a resting poller took {closed_in:.2f} s"
    assert read_back(broker, first.partition, [first.offset, second.offset]) == [
        b"before the rest", b"after the rest"]
