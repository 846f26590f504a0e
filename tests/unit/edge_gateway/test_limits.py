import threading

import pytest

from edge_gateway.limits import ConnectionSlots, TokenBucket


def test_token_bucket_refills_at_its_rate() -> None:
    bucket = TokenBucket(rate=2.0, burst=2, now=0.0)
    assert bucket.take(0.0) and bucket.take(0.0)
    assert not bucket.take(0.0)
    assert not bucket.take(0.4)
    assert bucket.take(0.5)


def test_connection_slots_refuse_at_capacity_and_free_on_release() -> None:
    slots = ConnectionSlots(2)
    assert slots.try_acquire() and slots.try_acquire()
    assert not slots.try_acquire()
    slots.release()
    assert slots.try_acquire()
    assert slots.in_use == 2


def test_connection_slots_never_exceed_capacity_under_contention() -> None:
    slots = ConnectionSlots(10)
    barrier = threading.Barrier(50)
    won: list[bool] = []

    def contend() -> None:
        barrier.wait()
        won.append(slots.try_acquire())

    threads = [threading.Thread(target=contend) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert won.count(True) == 10


def test_releasing_an_unheld_slot_is_a_bug() -> None:
    with pytest.raises(RuntimeError):
        ConnectionSlots(1).release()
