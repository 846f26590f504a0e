"""The follower: a consumer thread that reads the receipts topic into the receipt book.

It assigns every partition directly (no group join), starting a window before now, and
never commits. `caught_up` is set once every partition has been read to its end once;
the gateway reports ready only after that, so a restarted gateway knows what it
published before answering a retry.

Between reads it is paused: a consumer that keeps fetching costs a core's percent for
nothing on a broker that answers empty fetches at once (Tansu does; docs/benchmarks.md,
issue 13). It reads to the end again when the book is wanted (`ReceiptBook.want`: a claim
waiting to be read back, or a record the ledger wrote and could not apply itself) and
every `REFRESH_S`, so other gateways' receipts reach the book even when nothing here
asks. Resuming makes librdkafka report the end of every partition again, which is how a
round ends. A resume
alone waits for the broker thread's next tick (up to a second, measured: 690 ms after a
300 ms rest); a metadata request right after it wakes that thread (1.3 ms).
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Mapping

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from edge_gateway.kafka_logs import kafka_logger
from edge_gateway.receipts.book import ReceiptBook
from edge_gateway.receipts.records import decode_record
from ingress_common.log_throttle import throttled_logger

_LOGGER = throttled_logger(__name__)
POLL_S = 0.5
REFRESH_S = 5.0
"""Read to the end at least this often, wanted or not."""
FETCH_WAIT_MS = 10
"""How long the broker may hold an empty fetch: the delay before a claim is read back."""
RETRY_S = 1.0


def consumer_config(bootstrap_servers: str, passthrough: Mapping[str, str]) -> dict[str, object]:
    return {
        **{k: v for k, v in passthrough.items() if not k.startswith(("linger", "batch"))},
        "bootstrap.servers": bootstrap_servers,
        "group.id": f"edge-gateway-receipts-{uuid.uuid4()}",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "fetch.wait.max.ms": FETCH_WAIT_MS,
        "auto.offset.reset": "earliest",
        "logger": kafka_logger("receipts-follower"),
    }


class ReceiptFollower(threading.Thread):
    def __init__(self, config: dict[str, object], topic: str, book: ReceiptBook,
                 prepare: Callable[[], None] = lambda: None) -> None:
        super().__init__(name="receipts-follower", daemon=True)
        self.topic = topic
        self._config = config
        self._book = book
        self._prepare = prepare
        """Run before each (re)start: makes sure the topic exists."""
        self._stopping = threading.Event()
        self.caught_up = threading.Event()
        self.partitions = 0
        self.rounds = 0
        """Reads to the topic's end after a rest (the first one, at start, not counted)."""

    def stop(self) -> None:
        self._stopping.set()
        self._book.want()  # a resting follower wakes to see it

    def run(self) -> None:
        """The supervisor loop: a failure is logged and the consumer built anew."""
        while not self._stopping.is_set():
            try:
                self._follow()
            except Exception:  # noqa: BLE001 - the follower must outlive any one failure
                _LOGGER.exception("receipts follower failed; restarting it in %g s", RETRY_S)
                self._stopping.wait(RETRY_S)

    def _follow(self) -> None:
        self._prepare()
        consumer = Consumer(self._config)
        try:
            partitions = self._assign(consumer)
            assigned = [TopicPartition(self.topic, p) for p in range(partitions)]
            at_end: set[int] = set()
            while not self._stopping.is_set():
                if len(at_end) >= partitions:  # a round is over: rest until wanted
                    consumer.pause(assigned)
                    self._book.rest_until_wanted(REFRESH_S)  # cleared before the resume
                    at_end.clear()
                    self.rounds += 1
                    consumer.resume(assigned)
                    with contextlib.suppress(KafkaException):  # best effort: see above
                        consumer.list_topics(self.topic, timeout=RETRY_S)  # wakes the fetcher
                    continue
                msg = consumer.poll(POLL_S)
                if msg is None:
                    continue
                error = msg.error()
                partition = msg.partition() or 0
                if error is not None:
                    if error.fatal():
                        raise KafkaException(error)
                    if error.code() != KafkaError._PARTITION_EOF:
                        _LOGGER.warning("receipts consumer: %s", error.str())
                        continue
                    self._book.advance(partition, msg.offset() or 0)
                    at_end.add(partition)
                    if len(at_end) >= partitions and not self.caught_up.is_set():
                        _LOGGER.info("receipts read", extra={"receipts": len(self._book)})
                        self.caught_up.set()
                    continue
                self._book.apply(partition, msg.offset() or 0, decode_record(msg.value() or b""))
        finally:
            consumer.close()

    def _assign(self, consumer: Consumer) -> int:
        metadata = consumer.list_topics(self.topic, timeout=10)
        topic = metadata.topics.get(self.topic)
        if topic is None or topic.error is not None or not topic.partitions:
            raise KafkaException(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART,
                                            f"receipts topic {self.topic} does not exist"))
        # From the beginning: the topic's retention is the book's window.
        consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING)
                         for p in topic.partitions])
        self.partitions = len(topic.partitions)
        return self.partitions
