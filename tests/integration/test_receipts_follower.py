"""The receipts follower reads only when wanted (issue 13): a consumer that kept fetching
cost most of an idle gateway's CPU, because Tansu answers an empty fetch at once. Counted
here in librdkafka's own statistics, against a real broker."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable

from confluent_kafka import Producer

from devkit.broker import Broker
from edge_gateway.receipts.book import BookLimits, ReceiptBook
from edge_gateway.receipts.follower import REFRESH_S, ReceiptFollower, consumer_config
from edge_gateway.receipts.records import Claim, SegmentKey, encode_record
from ingress_common.kafka_topics import partition_for

IDLE_S = 3.0


class FetchCounter:
    """Fetch requests the consumer sent, from its statistics callback."""

    def __init__(self) -> None:
        self.fetches = 0
        self.updated = threading.Event()

    def __call__(self, stats_json: str) -> None:
        stats = json.loads(stats_json)
        self.fetches = sum(b.get("req", {}).get("Fetch", 0) for b in stats["brokers"].values())
        self.updated.set()

    def count_after(self, trigger: Callable[[], None]) -> int:
        """librdkafka hands statistics over in poll(), which a resting follower does not
        call: `trigger` makes it read (and so deliver them)."""
        self.updated.clear()
        for _ in range(20):
            trigger()
            if self.updated.wait(0.25):
                return self.fetches
        raise AssertionError("no statistics from the consumer")


def test_an_idle_follower_stops_fetching_and_reads_again_when_wanted(broker: Broker) -> None:
    topic = f"receipts-{uuid.uuid4().hex[:6]}"
    broker.create_topic(topic, partitions=2)
    counter = FetchCounter()
    config = {**consumer_config(broker.bootstrap, {}), "statistics.interval.ms": 200,
              "stats_cb": counter}
    book = ReceiptBook(BookLimits())
    follower = ReceiptFollower(config, topic, book)
    follower.start()
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
    try:
        assert follower.caught_up.wait(15)
        device = "dev-a"
        partition = partition_for(device, 2)
        assert follower.learn(device, 15), "its (empty) history read"
        before = counter.count_after(book.want)
        time.sleep(IDLE_S)  # idleness is the thing measured: nothing to await
        idle_fetches = counter.count_after(book.want) - before
        # a few wanted rounds (one or two fetches per partition each), no refresh within
        # IDLE_S; a consumer that kept fetching sends hundreds
        assert idle_fetches <= 12, idle_fetches

        key = SegmentKey(device, "dev-a:run:1")
        delivered = threading.Event()
        claim = Claim(key, "other-gateway", "inc", time.time_ns() // 1_000_000)
        producer.produce(topic, encode_record(claim), key=device, partition=partition,
                         on_delivery=lambda _err, _msg: delivered.set())
        producer.flush(5)
        assert delivered.is_set()
        began = time.monotonic()
        assert book.wait_past(partition, 0, 5.0), "a wanted read gets the new record"
        # after a rest: a resume alone waited for the fetcher's next tick (~0.7 s measured)
        assert time.monotonic() - began < 0.25, "read when wanted, at once"
        assert book.lookup(key) is not None
    finally:
        follower.stop()
        follower.join(timeout=REFRESH_S + 5)
