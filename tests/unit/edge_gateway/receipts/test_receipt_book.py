"""The receipt book applies this process's own records only where nothing can be unread
before them; the follower reading them again changes nothing."""

from __future__ import annotations

import time

from edge_gateway.landing import Location
from edge_gateway.receipts.book import BookLimits, Landed, Pending, ReceiptBook
from edge_gateway.receipts.records import Claim, Receipt, SegmentKey

KEY = SegmentKey("dev", "seg-1")
NOW_MS = time.time_ns() // 1_000_000


def test_an_own_record_is_applied_only_right_after_what_the_book_has_read() -> None:
    book = ReceiptBook(BookLimits())
    book.advance(0, 5)  # offsets 0-4 read
    claim = Claim(KEY, "gw-a", "inc", NOW_MS)
    assert not book.apply_own(0, 6, claim), "offset 5 is unread: it may be someone's claim"
    assert book.lookup(KEY) is None and book.position(0) == 5
    assert book.apply_own(0, 5, claim)
    assert book.lookup(KEY) == Pending(5, "gw-a", "inc", NOW_MS) and book.position(0) == 6


def test_reading_an_own_record_again_changes_nothing() -> None:
    book = ReceiptBook(BookLimits())
    other = Claim(KEY, "gw-b", "inc-b", NOW_MS)
    mine = Claim(KEY, "gw-a", "inc-a", NOW_MS)
    book.apply(0, 0, other)
    assert book.apply_own(0, 1, mine)
    assert book.lookup(KEY) == Pending(0, "gw-b", "inc-b", NOW_MS), "the first claim owns it"
    receipt = Receipt(KEY, Location("audio", 0, 7, "c", 2, 1), NOW_MS)
    assert book.apply_own(0, 2, receipt)
    for offset, record in ((0, other), (1, mine), (2, receipt)):  # the follower, later
        book.apply(0, offset, record)
    assert book.lookup(KEY) == Landed(receipt.location, NOW_MS) and book.position(0) == 3
    assert len(book) == 1


def test_forgetting_for_the_count_leaves_the_book_incomplete_for_one_window() -> None:
    """Issue 24: a book that forgot a receipt of the window must not be read as 'new'."""
    clock = [NOW_MS]
    book = ReceiptBook(BookLimits(window_s=3600.0, max_entries=2), wall_ms=lambda: clock[0])
    assert book.complete()
    first = SegmentKey("dev", "seg-first")
    book.apply(0, 0, Receipt(first, Location("audio", 0, 1, "c", 2, 1), NOW_MS))
    for i in range(2):
        book.apply(0, 1 + i, Claim(SegmentKey("other", f"seg-{i}"), "gw", "inc", NOW_MS + i))
    assert book.lookup(first) is None and book.evicted == 1
    assert not book.complete(), "the forgotten receipt is still inside the window"
    clock[0] = NOW_MS + 3_600_000
    assert book.complete(), "a window later it would have aged out anyway"


def test_aging_out_keeps_the_book_complete_and_restore_puts_an_answer_back() -> None:
    clock = [NOW_MS]
    book = ReceiptBook(BookLimits(window_s=10.0, max_entries=100), wall_ms=lambda: clock[0])
    book.apply(0, 0, Claim(SegmentKey("dev", "old"), "gw", "inc", NOW_MS))
    clock[0] = NOW_MS + 20_000
    book.apply(0, 1, Claim(SegmentKey("dev", "new"), "gw", "inc", clock[0]))
    assert book.evicted == 1 and book.complete(), "out of the window: nothing is missing"
    landed = Landed(Location("audio", 0, 9, "c", 2, 1), NOW_MS)
    book.restore(KEY, landed)
    assert book.lookup(KEY) == landed
    book.restore(KEY, Pending(3, "gw", "inc", NOW_MS))
    assert book.lookup(KEY) == landed, "what the book already knows wins"
