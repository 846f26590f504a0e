"""The follower: a consumer thread that reads the receipts of the devices this gateway
serves into the receipt book (issue 24: its cost grows with those devices, not the fleet).

Nothing is read at start-up: `caught_up` is set once the topic's partitions are known. The
first time a device's segment reaches this gateway (`learn`), the device's partition is
assigned (no group join, no commits) from the window's start (`offsets_for_times`), or, if
this gateway already follows that partition for another device, read again from there up to
where it was, keeping only the new device's records. Records of devices it does not serve
are skipped by their key, without decoding. Devices idle too long, or past the bound, are
dropped (`devices.py`), and a partition no served device needs is unassigned.

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

import logging
import threading
import time
from collections.abc import Callable, Mapping

from confluent_kafka import OFFSET_END, Consumer, KafkaError, KafkaException, Message, TopicPartition

from edge_gateway.kafka_logs import kafka_logger
from edge_gateway.receipts.book import ReceiptBook
from edge_gateway.receipts.devices import DeviceLimits, ServedDevice, ServedDevices
from edge_gateway.receipts.records import decode_record
from ingress_common.kafka_topics import follower_config, partition_count, partition_for
from ingress_common.log_throttle import throttled_logger

_LOGGER = throttled_logger(__name__)
"""Throttled: an outage makes the consumer's errors repeat many times a second."""
_LIFECYCLE = logging.getLogger(f"{__name__}.devices")
"""Each device learned or dropped is worth its line (once per device, not per record)."""
POLL_S = 0.5
REFRESH_S = 5.0
"""Read to the end at least this often, wanted or not."""
FETCH_WAIT_MS = 10
"""How long the broker may hold an empty fetch: the delay before a claim is read back."""
RETRY_S = 1.0
LOOKUP_TIMEOUT_S = 5.0
"""offsets_for_times: where a device's window starts in its partition."""
DROP_CHECK_S = 5.0


def consumer_config(bootstrap_servers: str, passthrough: Mapping[str, str]) -> dict[str, object]:
    return {**follower_config(bootstrap_servers, "edge-gateway-receipts", FETCH_WAIT_MS, passthrough),
            "logger": kafka_logger("receipts-follower")}


class _Learning:
    """Devices of one partition whose history is being read; `until` is where the follower
    was when it went back for them (None: the partition was new, read to its end)."""

    def __init__(self, devices: list[ServedDevice], until: int | None) -> None:
        self.devices = devices
        self.ids = {d.device_id for d in devices}
        self.until = until
        self.began = time.monotonic()
        self.records = 0


class ReceiptFollower(threading.Thread):
    def __init__(self, config: dict[str, object], topic: str, book: ReceiptBook,
                 devices: ServedDevices | None = None, window_s: float = 25 * 3600.0,
                 prepare: Callable[[], None] = lambda: None) -> None:
        super().__init__(name="receipts-follower", daemon=True)
        self.topic = topic
        self._config = config
        self._book = book
        self.devices = devices if devices is not None else ServedDevices(DeviceLimits())
        self._window_s = window_s
        self._prepare = prepare
        """Run before each (re)start: makes sure the topic exists."""
        self._stopping = threading.Event()
        self.caught_up = threading.Event()
        """Set once the topic's partitions are known: nothing else is read before serving."""
        self.partitions = 0
        self.rounds = 0
        """Reads to the end after a rest."""
        self._assigned: set[int] = set()
        self._at_end: set[int] = set()
        self._learning: dict[int, _Learning] = {}
        self._next_drop = 0.0

    def learn(self, device_id: str, timeout_s: float) -> bool:
        """Make sure `device_id`'s receipts of the window are in the book (the first time,
        by reading them); False when that did not finish within `timeout_s`."""
        partition = partition_for(device_id, self.partitions) if self.caught_up.is_set() else None
        if partition is None:
            return False
        device, new = self.devices.see(device_id, partition)
        if new:
            self._book.want()  # wakes a resting follower
        return device.learned.wait(timeout_s)

    def stop(self) -> None:
        self._stopping.set()
        self._book.want()  # a resting follower wakes to see it

    def run(self) -> None:
        """The supervisor loop: a failure is logged and the consumer built anew (every served
        device is then learned again: the new consumer starts with nothing assigned)."""
        while not self._stopping.is_set():
            try:
                self._follow()
            except Exception:  # noqa: BLE001 - the follower must outlive any one failure
                _LOGGER.exception("receipts follower failed; restarting it in %g s", RETRY_S)
                self._stopping.wait(RETRY_S)

    def _relearn(self) -> None:
        """After a restart: every served device again, in the partition it now maps to."""
        if len(self.devices):
            self.devices.relearn_all(self._partition_of)
            self._book.forget_positions()

    def _follow(self) -> None:
        self._prepare()
        consumer = Consumer(self._config)
        self._assigned, self._at_end, self._learning = set(), set(), {}
        try:
            self.partitions = self._partition_count(consumer)
            self._relearn()
            self.caught_up.set()
            while not self._stopping.is_set():
                self._start_learning(consumer)
                self._drop_devices(consumer)
                if not self._learning and self._at_end >= self._assigned:
                    self._rest(consumer)
                    continue
                msg = consumer.poll(POLL_S)
                if msg is not None:
                    self._take(msg)
        finally:
            consumer.close()

    def _rest(self, consumer: Consumer) -> None:
        """A round is over: pause until wanted (or REFRESH_S), then read to the end again.
        The metadata request that wakes the fetcher also shows a topic that changed its
        partition count or vanished (a broker that lost it): then the follower starts over,
        so that devices map to partitions as the topic now has them."""
        assigned = [TopicPartition(self.topic, p) for p in self._assigned]
        consumer.pause(assigned)
        self._book.rest_until_wanted(REFRESH_S)  # cleared before the resume
        self._at_end.clear()
        self.rounds += 1
        consumer.resume(assigned)
        try:
            count = self._partition_count(consumer)
        except KafkaException as exc:
            if exc.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise
            return  # unreachable now: the next round asks again
        if count != self.partitions:
            raise KafkaException(KafkaError(KafkaError._UNKNOWN_PARTITION,
                                            f"receipts topic {self.topic} has {count} "
                                            f"partitions, not {self.partitions}"))

    def _take(self, msg: Message) -> None:
        error = msg.error()
        partition, offset = msg.partition() or 0, msg.offset() or 0
        if error is not None:
            if error.fatal():
                raise KafkaException(error)
            if error.code() != KafkaError._PARTITION_EOF:
                _LOGGER.warning("receipts consumer: %s", error.str())
                return
            self._book.advance(partition, offset)
            self._at_end.add(partition)
            self._end_learning(partition, offset)
            return
        device_id = (msg.key() or b"").decode(errors="replace")
        learning = self._learning.get(partition)
        if learning is not None and learning.until is not None and offset < learning.until:
            wanted = device_id in learning.ids  # the others were applied the first time
        else:
            wanted = self.devices.served(device_id)
        if learning is not None and wanted:
            learning.records += 1
        record = decode_record(msg.value() or b"") if wanted else None
        self._book.apply(partition, offset, record)

    def _start_learning(self, consumer: Consumer) -> None:
        by_partition: dict[int, list[ServedDevice]] = {}
        for device in self.devices.take_waiting():
            by_partition.setdefault(device.partition, []).append(device)
        busy = [d for p, ds in by_partition.items() if p in self._learning for d in ds]
        if busy:
            self.devices.put_back(busy)
        for partition, devices in by_partition.items():
            if partition not in self._learning:
                self._go_back_for(consumer, partition, devices)

    def _go_back_for(self, consumer: Consumer, partition: int,
                     devices: list[ServedDevice]) -> None:
        since_ms = time.time_ns() // 1_000_000 - int(self._window_s * 1000)
        found = consumer.offsets_for_times([TopicPartition(self.topic, partition, since_ms)],
                                           timeout=LOOKUP_TIMEOUT_S)[0]
        start = found.offset  # -1: nothing in the partition is that recent
        if partition not in self._assigned:
            first = start if start >= 0 else OFFSET_END
            consumer.incremental_assign([TopicPartition(self.topic, partition, first)])
            self._assigned.add(partition)
            self._learning[partition] = _Learning(devices, until=None)
        else:
            position = self._book.position(partition)
            if start < 0 or start >= position:  # nothing of the window was skipped
                self._learned(partition, _Learning(devices, until=None))
                return
            consumer.seek(TopicPartition(self.topic, partition, start))
            self._learning[partition] = _Learning(devices, until=position)
        self._at_end.discard(partition)

    def _end_learning(self, partition: int, end: int) -> None:
        learning = self._learning.get(partition)
        if learning is not None and (learning.until is None or end >= learning.until):
            del self._learning[partition]
            self._learned(partition, learning)

    def _learned(self, partition: int, learning: _Learning) -> None:
        for device in learning.devices:
            device.learned.set()
        _LIFECYCLE.info("device receipts read", extra={
            "devices": sorted(learning.ids), "partition": partition,
            "records": learning.records,
            "seconds": round(time.monotonic() - learning.began, 3)})

    def _drop_devices(self, consumer: Consumer) -> None:
        over = len(self.devices) > self.devices.limits.max_devices
        if time.monotonic() < self._next_drop and not over:
            return
        self._next_drop = time.monotonic() + DROP_CHECK_S
        for device in self.devices.to_drop():
            forgotten = self._book.forget_device(device.device_id)
            _LIFECYCLE.info("device dropped", extra={"device_id": device.device_id,
                                                  "receipts": forgotten})
        unneeded = self._assigned - self.devices.partitions() - set(self._learning)
        if unneeded:
            consumer.incremental_unassign([TopicPartition(self.topic, p) for p in unneeded])
            for partition in unneeded:
                self._book.forget_position(partition)
            self._assigned -= unneeded
            self._at_end -= unneeded

    def _partition_of(self, device_id: str) -> int:
        partition = partition_for(device_id, self.partitions)
        assert partition is not None, "called once the partition count is known"
        return partition

    def _partition_count(self, consumer: Consumer) -> int:
        return partition_count(consumer, self.topic, RETRY_S * 10)
