"""The receipt book: what the receipts topic says about each recent segment, bounded.

Built only from the log, in log order per partition (`apply`, and `apply_own` for this
process's own records when nothing can be before them unread), so every gateway that has
read a partition up to the same offset holds the same answers. It also knows how far it
has read each partition, and lets a caller wait until it has read past an offset: that is
how a claimant learns whether its claim came first. Bounded by a window (entries older
than `window_s` are forgotten) and by a total count; the oldest go first.

An entry forgotten for the count while still inside the window leaves the book
*incomplete*: until that entry would have aged out anyway, a segment the book does not
know may still have a receipt, and the ledger must ask Kafka (`complete()`, `restore`).
"""

from __future__ import annotations

import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace

from edge_gateway.landing import Location
from edge_gateway.receipts.records import Abandoned, Claim, Receipt, Record, SegmentKey


@dataclass(frozen=True, slots=True)
class Pending:
    """Claimed; its audio may or may not be in Kafka yet."""

    claim_offset: int
    owner: str
    incarnation: str
    at_ms: int


@dataclass(frozen=True, slots=True)
class Landed:
    """Receipt: this is the segment's one record."""

    location: Location
    at_ms: int


State = Pending | Landed


@dataclass(frozen=True)
class BookLimits:
    window_s: float = 25 * 3600.0
    """How long a receipt is remembered: longer than the agent's spool max age (24 h)."""
    max_entries: int = 100_000
    """All devices together; the oldest entry goes first."""


class ReceiptBook:
    def __init__(self, limits: BookLimits, wall_ms: Callable[[], int] | None = None) -> None:
        self.limits = limits
        self._wall_ms = wall_ms or (lambda: time.time_ns() // 1_000_000)
        self._entries: OrderedDict[SegmentKey, State] = OrderedDict()
        self._positions: dict[int, int] = {}
        self._changed = threading.Condition()
        self._wanted = threading.Event()
        """Set when someone needs the book read to the log's end (the follower's cue)."""
        self.evicted = 0
        self._incomplete_until_ms = 0
        """Wall clock until which an entry of the window may be missing (forgotten for the
        count, not for its age)."""

    def apply(self, partition: int, offset: int, record: Record | None) -> None:
        """One record of the log (None: a record this version skips)."""
        with self._changed:
            self._apply_at(partition, offset, record)

    def apply_own(self, partition: int, offset: int, record: Record) -> bool:
        """A record this process wrote, landed at `offset`: applied at once when the book
        has read everything before it (then nothing can be in between, and the follower
        need not read it back before the next claim). False when something may be in
        between: the follower must read up to it. Reading it again later changes nothing."""
        with self._changed:
            if self._positions.get(partition, 0) != offset:
                return False
            self._apply_at(partition, offset, record)
            return True

    def advance(self, partition: int, next_offset: int) -> None:
        """The partition holds nothing before `next_offset` that is not applied. Exact, not
        a maximum: a log that went back (a broker that lost its topics) moves it back."""
        with self._changed:
            self._positions[partition] = next_offset
            self._changed.notify_all()

    def lookup(self, key: SegmentKey) -> State | None:
        with self._changed:
            return self._entries.get(key)

    def forget_device(self, device_id: str) -> int:
        """Drop a device this gateway no longer serves; how many entries went."""
        with self._changed:
            keys = [key for key in self._entries if key.device_id == device_id]
            for key in keys:
                del self._entries[key]
            return len(keys)

    def forget_position(self, partition: int) -> None:
        """The partition is no longer followed: nothing is known of where it was read."""
        with self._changed:
            self._positions.pop(partition, None)
            self._changed.notify_all()

    def forget_positions(self) -> None:
        """No partition is followed any more (the follower starts over)."""
        with self._changed:
            self._positions.clear()
            self._changed.notify_all()

    def complete(self) -> bool:
        """True when a segment of the window missing from the book has no record: nothing
        of the window was forgotten for the count."""
        with self._changed:
            return self._wall_ms() >= self._incomplete_until_ms

    def restore(self, key: SegmentKey, state: State) -> None:
        """Put back what Kafka says of a segment the book had forgotten (unless the log
        has since told the book about it)."""
        with self._changed:
            if key not in self._entries:
                self._put(key, state)
                self._changed.notify_all()

    def position(self, partition: int) -> int:
        """The next offset this book will read in `partition` (all before it are applied)."""
        with self._changed:
            return self._positions.get(partition, 0)

    def want(self) -> None:
        """Ask for the log to be read to its end soon (the follower rests until then)."""
        self._wanted.set()

    def rest_until_wanted(self, timeout_s: float) -> None:
        """The follower's rest: until `want()` or the timeout. A want that comes after this
        returns asks for another read."""
        self._wanted.wait(timeout_s)
        self._wanted.clear()

    def wait_past(self, partition: int, offset: int, timeout_s: float) -> bool:
        """True once the record at `offset` in `partition` is applied."""
        self.want()
        with self._changed:
            return self._changed.wait_for(lambda: self._positions.get(partition, 0) > offset,
                                          timeout_s)

    def __len__(self) -> int:
        with self._changed:
            return len(self._entries)

    def _apply_at(self, partition: int, offset: int, record: Record | None) -> None:
        if record is not None:
            self._apply(offset, record)
        self._positions[partition] = offset + 1
        self._forget_old()
        self._changed.notify_all()

    def _apply(self, offset: int, record: Record) -> None:
        key, current = record.key, self._entries.get(record.key)
        if isinstance(record, Receipt):
            key = SegmentKey(sys.intern(key.device_id), key.segment_id)
            where = record.location
            self._put(key, Landed(replace(where, topic=sys.intern(where.topic)), record.at_ms))
        elif isinstance(record, Claim):
            if current is None:
                self._put(key, Pending(offset, record.owner, record.incarnation, record.at_ms))
        elif isinstance(record, Abandoned) and isinstance(current, Pending) \
                and current.claim_offset == record.claim_offset:
            del self._entries[key]

    def _put(self, key: SegmentKey, state: State) -> None:
        self._entries[key] = state
        self._entries.move_to_end(key)

    def _forget_old(self) -> None:
        window_ms = int(self.limits.window_s * 1000)
        cutoff = self._wall_ms() - window_ms
        while self._entries:
            key, oldest = next(iter(self._entries.items()))
            if oldest.at_ms >= cutoff and len(self._entries) <= self.limits.max_entries:
                return
            del self._entries[key]
            self.evicted += 1
            if oldest.at_ms >= cutoff:  # forgotten for the count: the window has a hole
                self._incomplete_until_ms = max(self._incomplete_until_ms,
                                                oldest.at_ms + window_ms)
