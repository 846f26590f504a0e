"""The claim protocol: a segment's audio is written at most once, and a repeat gets the
first receipt.

1. The book already has a receipt: answer with it (`duplicate`), write nothing.
2. Else write a `Claim` to the device's receipts partition and read that partition back
   up to the claim. The first claim of the segment in the log owns it. When the book had
   read the partition up to the claim's offset, nothing can be in between: the claim (and
   likewise the receipt, step 3) is applied to the book at once (`ReceiptBook.apply_own`),
   without waiting for the follower.
3. The owner publishes the audio, then writes `Receipt` with where it landed: it sends
   the receipt, the stream replies, and then waits for the receipt to be in Kafka before
   closing (`Decision.confirm`: one round trip off the reply). A publish
   Kafka refused for sure (nothing can land) writes `Abandoned`, so a retry may claim it
   again; a publish left unconfirmed keeps the claim, and its late delivery report
   writes the receipt.
4. A claim owned by someone else is waited out: the retry is told `segment_in_progress`.
   A claim whose owner must be gone (its own earlier process, or older than the expiry)
   is resolved by looking for its record in the audio topic (`scan`): found, it gets
   its `Receipt`; not found, `Abandoned`, and the segment is claimed anew.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from edge_gateway.landing import LateLocation, Location
from edge_gateway.publisher import Delivery, InFlight, LateReport
from edge_gateway.receipts.book import Landed, Pending, ReceiptBook
from edge_gateway.receipts.records import (
    Abandoned,
    Claim,
    Receipt,
    Record,
    SegmentKey,
    encode_record,
)
from edge_gateway.receipts.scan import ScanIncomplete
from ingress_common.kafka_topics import partition_for
from ingress_common.refusals import PublishFailed, PublishUnconfirmed, SegmentInProgress

_LOGGER = logging.getLogger(__name__)


class SegmentAudio(Protocol):
    """A segment's audio, as the ledger publishes it."""

    def prepare(self) -> None:
        """Build the event (runs while the claim is on its way to Kafka; may run twice)."""

    def publish(self, late: LateLocation) -> Location:
        """Publish the audio and return where it landed. When it gives up waiting, it tells
        `late` where the audio landed after all (or None when Kafka failed it)."""


FindRecord = Callable[[SegmentKey, int], Location | None]
"""(key, claimed_at_ms) → the segment's record in the audio topic, or None."""
FindHistory = Callable[[SegmentKey], Pending | Landed | None]
"""key → what the receipts topic says of it over the window; raises ScanIncomplete."""


@dataclass(frozen=True)
class LedgerTimes:
    claim_start_s: float = 2.0
    """The owner publishes only within this long of its claim, or gives the claim up."""
    publish_timeout_s: float = 10.0
    skew_s: float = 10.0
    """Allowed wall-clock difference between gateways."""
    read_back_s: float = 5.0
    """How long to wait to read one's own claim back."""
    learn_s: float = 5.0
    """How long a segment waits for its device's receipts to be read the first time."""

    @property
    def learn_wait_s(self) -> float:
        """No longer than Kafka's own answer may take: a dead broker is reported as soon."""
        return min(self.learn_s, self.publish_timeout_s)

    @property
    def orphan_after_s(self) -> float:
        """After this, no audio of a claim can still land (same host, same clock)."""
        return self.claim_start_s + self.publish_timeout_s + 1.0

    @property
    def expiry_s(self) -> float:
        """After this, any gateway may resolve a claim by looking in the audio topic."""
        return self.orphan_after_s + self.skew_s


def no_receipt_to_confirm() -> None:
    """What `Decision.confirm` is when there is nothing to wait for (a duplicate, a v1
    stream, a receipt that could not even be sent)."""


class RecordProducer(Protocol):
    """What the ledger needs of `KafkaPublisher`: devkit's fault gateway passes in a wrapper
    that fails or kills at the worst moments (`devkit/fault_gateway.py`)."""

    def send(self, value: bytes, key: str, headers: Mapping[str, str],
             topic: str | None = None, partition: int | None = None) -> InFlight: ...

    def wait(self, pending: InFlight, on_late: LateReport | None = None) -> Delivery: ...

    def partitions(self, topic_name: str | None = None) -> int: ...


@dataclass(frozen=True)
class Decision:
    location: Location
    duplicate: bool
    confirm: Callable[[], None] = no_receipt_to_confirm
    """Waits until this publish's receipt is in Kafka; the caller runs it after replying."""


class SegmentLedger:
    def __init__(self, kafka: RecordProducer, receipts_topic: str, book: ReceiptBook,
                 find_record: FindRecord, owner: str, times: LedgerTimes,
                 wall_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
                 find_history: FindHistory | None = None,
                 learn: Callable[[str, float], bool] = lambda _device_id, _timeout_s: True,
                 partitions: Callable[[], int] | None = None) -> None:
        self._kafka = kafka
        self._topic = receipts_topic
        self._book = book
        self._find_record = find_record
        self._find_history = find_history
        self._learn = learn
        self._partitions = partitions or (lambda: self._kafka.partitions(self._topic))
        """The receipts topic's partition count, as the follower reads it: claims go where
        the follower looks."""
        """(device, seconds) → its receipts are in the book (the first time they are read
        from Kafka, which a call starts); False when that did not finish in time."""
        self.on_lookup: Callable[[str], None] = lambda _result: None
        """Told each lookup in Kafka: "found", "claimed", "not_found" or "unknown"."""
        self.owner = owner
        self.incarnation = uuid.uuid4().hex[:12]
        self._times = times
        self._wall_ms = wall_ms
        self._unsettled: set[SegmentKey] = set()
        """Keys whose audio this process is publishing, or whose publish is unconfirmed."""
        self._lock = threading.Lock()
        self._late_work = ThreadPoolExecutor(max_workers=1, thread_name_prefix="late-receipts")
        """What late reports write: they arrive on the Kafka poller thread, which must not
        wait on Kafka."""

    def known(self, key: SegmentKey) -> Location | None:
        """The receipt the book has for `key`, if any. Does not wait: a device seen here
        for the first time has its receipts read meanwhile (for `publish_once`)."""
        if not self._learn(key.device_id, 0.0):
            return None
        state = self._book.lookup(key)
        return state.location if isinstance(state, Landed) else None

    def publish_once(self, key: SegmentKey, audio: SegmentAudio) -> Decision:
        """Publish `key`'s audio unless it was; raise a retryable refusal when unsure."""
        if not self._learn(key.device_id, self._times.learn_wait_s):
            self.on_lookup("unknown")
            raise SegmentInProgress("the gateway is still reading this device's receipts; "
                                    "nothing was published, retry")
        for _ in range(2):  # a second round after resolving a dead claim
            landed = self.known(key) or self._looked_up(key)
            if landed is not None:
                return Decision(landed, duplicate=True)
            claim, offset, state = self._claim(key, audio)
            if isinstance(state, Landed):
                return Decision(state.location, duplicate=True)
            if state is None or state.claim_offset == offset:
                location, confirm = self._publish_as_owner(claim, offset, audio)
                return Decision(location, duplicate=False, confirm=confirm)
            if self._mine_and_idle(key, state):
                self._write(Abandoned(key, state.claim_offset, self._wall_ms()),
                            self._partition(key))
                continue
            if not self._resolvable(state):
                raise SegmentInProgress(
                    f"segment {key.segment_id} is being published by {state.owner}; retry later")
            found = self._resolve(key, state)
            if found is not None:
                return Decision(found, duplicate=True)
        raise SegmentInProgress(f"segment {key.segment_id} is contended; retry later")

    def _looked_up(self, key: SegmentKey) -> Location | None:
        """When the book has forgotten entries of the window, it cannot tell that `key` is
        new: ask the receipts topic, and put its answer back in the book. A receipt found
        is returned; a pending claim goes through the claim rules as usual. When Kafka does
        not answer in time the stream is refused as retryable: never guessed new."""
        if self._find_history is None or self._book.lookup(key) is not None \
                or self._book.complete():
            return None
        log = {"segment_id": key.segment_id, "device_id": key.device_id}
        try:
            state = self._find_history(key)
        except ScanIncomplete:
            self.on_lookup("unknown")
            _LOGGER.warning("receipt lookup unfinished; stream refused", extra=log)
            raise SegmentInProgress("the gateway could not check this segment's history in "
                                    "time; nothing was published, retry") from None
        result = "not_found" if state is None else "found" if isinstance(state, Landed) \
            else "claimed"
        self.on_lookup(result)
        _LOGGER.info("receipt looked up in Kafka (the book had forgotten part of the window)",
                     extra={**log, "result": result})
        if state is None:
            return None
        self._book.restore(key, state)
        return state.location if isinstance(state, Landed) else None

    def _claim(self, key: SegmentKey,
               audio: SegmentAudio) -> tuple[Claim, int, Pending | Landed | None]:
        """Write a claim and read back to it: the state that decides who owns `key`. The
        audio's event is built while the claim travels (it is only sent if the claim wins)."""
        partition = self._partition(key)
        claim = Claim(key, self.owner, self.incarnation, self._wall_ms())
        sending = self._send(claim, partition)
        audio.prepare()
        offset = self._kafka.wait(sending, on_late=self._abandon_if_landed(claim)).offset
        if self._book.apply_own(partition, offset, claim):  # nothing can be in between
            return claim, offset, self._book.lookup(key)
        if not self._book.wait_past(partition, offset, self._times.read_back_s):
            self._write_quietly(Abandoned(key, offset, self._wall_ms()), partition)
            raise SegmentInProgress("the gateway could not read its claim back in time; retry")
        state = self._book.lookup(key)
        if state is None or (isinstance(state, Pending) and state.claim_offset > offset):
            # the log went back (a broker that lost its topics): read it again first
            raise SegmentInProgress("the claim was superseded; retry")
        return claim, offset, state

    def _publish_as_owner(self, claim: Claim, offset: int,
                          audio: SegmentAudio) -> tuple[Location, Callable[[], None]]:
        partition = self._partition(claim.key)
        if self._wall_ms() - claim.at_ms > self._times.claim_start_s * 1000:
            self._write_quietly(Abandoned(claim.key, offset, self._wall_ms()), partition)
            raise SegmentInProgress("the claim took too long; retry")
        with self._lock:
            self._unsettled.add(claim.key)
        try:
            location = audio.publish(self._receipt_when_late(claim.key, partition))
        except PublishUnconfirmed:
            raise  # it may land: the claim stays, the late report writes the receipt
        except PublishFailed:
            self._settle(claim.key)
            self._write_quietly(Abandoned(claim.key, offset, self._wall_ms()), partition)
            raise
        # Sent before the reply and confirmed before the close: a client that saw the
        # connection close finds the receipt, however soon the worker is killed after.
        return location, self._send_receipt(claim.key, location, partition)

    def _send_receipt(self, key: SegmentKey, location: Location,
                      partition: int) -> Callable[[], None]:
        """Send `key`'s Receipt; the call returned waits until it is in Kafka.
        The key stays unsettled until then: a receipt that failed leaves the claim to be
        resolved from the audio topic after its expiry, never freed for a second publish."""
        receipt = Receipt(key, location, self._wall_ms())
        try:
            sending = self._send(receipt, partition)
        except (PublishFailed, PublishUnconfirmed) as exc:
            self._receipt_lost(key, exc)
            return no_receipt_to_confirm

        def confirm() -> None:
            try:
                landed = self._kafka.wait(sending)
            except (PublishFailed, PublishUnconfirmed) as exc:
                self._receipt_lost(key, exc)
                self._book.want()
                return
            if not self._book.apply_own(partition, landed.offset, receipt):
                self._book.want()  # read it back in the background, before the next claim
            self._settle(key)
        return confirm

    def _receipt_lost(self, key: SegmentKey, exc: PublishFailed | PublishUnconfirmed) -> None:
        _LOGGER.warning("receipt not written; the claim will be resolved from the audio "
                        "topic: %s", exc.message, extra={"segment_id": key.segment_id})

    def _settle(self, key: SegmentKey) -> None:
        with self._lock:
            self._unsettled.discard(key)

    def _mine_and_idle(self, key: SegmentKey, state: Pending) -> bool:
        """A claim of this very process that is publishing nothing (it gave up before
        producing): safe to free at once."""
        with self._lock:
            unsettled = key in self._unsettled
        return state.owner == self.owner and state.incarnation == self.incarnation \
            and not unsettled

    def _resolvable(self, state: Pending) -> bool:
        age_s = (self._wall_ms() - state.at_ms) / 1000
        if state.owner == self.owner and state.incarnation != self.incarnation:
            return age_s > self._times.orphan_after_s
        return age_s > self._times.expiry_s

    def _resolve(self, key: SegmentKey, state: Pending) -> Location | None:
        """Look for a dead claim's record: found, write its receipt; else free the claim."""
        partition = self._partition(key)
        try:
            found = self._find_record(key, state.at_ms)
        except ScanIncomplete:
            raise SegmentInProgress("the gateway is still checking an earlier attempt; retry"
                                    ) from None
        self._settle(key)
        _LOGGER.warning("resolved a claim left without a receipt", extra={
            "segment_id": key.segment_id, "claim_owner": state.owner,
            "found": found is not None})
        if found is not None:
            self._write(Receipt(key, found, self._wall_ms()), partition)
            return found
        self._write(Abandoned(key, state.claim_offset, self._wall_ms()), partition)
        return None

    def _receipt_when_late(self, key: SegmentKey, partition: int) -> LateLocation:
        def late(location: Location | None) -> None:
            if location is None:
                return  # failed after the timeout: unknown; the claim expires and is resolved
            self._late_work.submit(lambda: self._send_receipt(key, location, partition)())
        return late

    def _abandon_if_landed(self, claim: Claim) -> LateReport:
        """A claim that landed after its writer gave up: nothing was published under it."""
        def late(delivery: Delivery | None) -> None:
            if delivery is not None:
                self._late_work.submit(self._write_quietly, Abandoned(
                    claim.key, delivery.offset, self._wall_ms()), delivery.partition)
        return late

    def close(self) -> None:
        self._late_work.shutdown(wait=True, cancel_futures=False)

    def _partition(self, key: SegmentKey) -> int:
        """The device's receipts partition: its claims are read back in one order."""
        partition = partition_for(key.device_id, self._partitions())
        if partition is None:
            raise SegmentInProgress("the receipts topic is not known yet; retry")
        return partition

    def _write(self, record: Record, partition: int,
               on_late: LateReport | None = None) -> Delivery:
        try:
            return self._kafka.wait(self._send(record, partition), on_late)
        finally:
            self._book.want()  # read it back in the background, before the next claim

    def _send(self, record: Record, partition: int) -> InFlight:
        """Produce `record` to the device's receipts partition, without waiting."""
        return self._kafka.send(encode_record(record), key=record.key.device_id, headers={},
                                topic=self._topic, partition=partition)

    def _write_quietly(self, record: Record, partition: int) -> None:
        """A receipt whose loss is recoverable (a claim without one is resolved later)."""
        try:
            self._write(record, partition)
        except (PublishFailed, PublishUnconfirmed) as exc:
            _LOGGER.warning("receipt not written: %s", exc.message,
                            extra={"segment_id": record.key.segment_id})
