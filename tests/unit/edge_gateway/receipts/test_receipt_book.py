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
