import time
from pathlib import Path

import pytest

from device_agent.spool.directory import DirectorySpool
from device_agent.spool.memory import MemorySpool
from device_agent.spool.model import SegmentMeta, SpoolLimits


def meta(seq: int, created: float | None = None) -> SegmentMeta:
    base = time.time() if created is None else created
    return SegmentMeta(f"dev:boot:run:{seq}", seq, "dev", 1_790_000_000_000 + seq, seq,
                       created_wall_s=base + seq)


def fill_at(spool: MemorySpool, seqs: range, created: float) -> None:
    for seq in seqs:
        segment = spool.open_segment(meta(seq, created), b"x" * 100)
        assert segment is not None
        spool.complete(segment)


def fill(spool: MemorySpool, seqs: range, size: int = 100) -> None:
    for seq in seqs:
        segment = spool.open_segment(meta(seq), bytes([seq % 256]) * size)
        if segment is not None:
            spool.complete(segment)


def test_oldest_first_and_removed_only_on_ack() -> None:
    spool = MemorySpool(SpoolLimits())
    fill(spool, range(1, 4))
    first = spool.oldest(0)
    assert first is not None and first.meta.seq == 1
    assert spool.oldest(0) is first  # still there until acked
    spool.remove(first)
    nxt = spool.oldest(0)
    assert nxt is not None and nxt.meta.seq == 2


def test_full_by_bytes_drops_the_oldest_and_counts_it() -> None:
    spool = MemorySpool(SpoolLimits(max_bytes=1000))
    fill(spool, range(1, 13))  # 12 × 100 bytes into 1000
    assert spool.total_bytes <= 1000
    assert spool.counters.dropped_full == 2
    oldest = spool.oldest(0)
    assert oldest is not None and oldest.meta.seq == 3


def test_full_by_count_with_drop_newest_refuses_new_segments() -> None:
    spool = MemorySpool(SpoolLimits(max_segments=3, policy="drop_newest"))
    fill(spool, range(1, 6))
    assert spool.depth == 3 and spool.counters.refused_full == 2
    oldest = spool.oldest(0)
    assert oldest is not None and oldest.meta.seq == 1


def test_growing_open_segment_makes_room_by_dropping_older_ones() -> None:
    spool = MemorySpool(SpoolLimits(max_bytes=500))
    fill(spool, range(1, 4))
    live = spool.open_segment(meta(9), b"")
    assert live is not None
    spool.append(live, b"x" * 450)
    assert spool.counters.dropped_full == 3
    assert spool.oldest(0) is live


def test_segments_older_than_max_age_are_dropped() -> None:
    now = [1001.0]
    spool = MemorySpool(SpoolLimits(max_age_s=100), clock=lambda: now[0])
    fill_at(spool, range(1, 2), created=0.0)  # added at 1001
    now[0] = 1002.0
    fill_at(spool, range(2, 3), created=0.0)  # added at 1002
    now[0] = 1050.0
    assert spool.depth == 2 and spool.oldest(0) is not None
    now[0] = 1101.5
    oldest = spool.oldest(0)
    assert oldest is not None and oldest.meta.seq == 2
    assert spool.counters.dropped_age == 1


def test_directory_spool_survives_a_restart_in_order(tmp_path: Path) -> None:
    spool = DirectorySpool(tmp_path, SpoolLimits())
    fill(spool, range(1, 6))
    acked = spool.oldest(0)
    assert acked is not None
    spool.remove(acked)
    (tmp_path / "000000000000099-x.tmp").write_bytes(b"half-written")
    reopened = DirectorySpool(tmp_path, SpoolLimits())
    seqs = []
    while (segment := reopened.oldest(0)) is not None:
        seqs.append(segment.meta.seq)
        assert segment.pcm == bytes([segment.meta.seq]) * 100 and segment.complete
        reopened.remove(segment)
    assert seqs == [2, 3, 4, 5]
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob("*.seg"))


def test_open_segment_is_not_on_disk_until_complete(tmp_path: Path) -> None:
    spool = DirectorySpool(tmp_path, SpoolLimits())
    live = spool.open_segment(meta(1), b"ab")
    assert live is not None and not list(tmp_path.glob("*.seg"))
    spool.complete(live)
    assert len(list(tmp_path.glob("*.seg"))) == 1


def test_corrupt_spool_file_is_moved_aside(tmp_path: Path) -> None:
    (tmp_path / "000000000000001-bad.seg").write_bytes(b"not json\n\0\0")
    spool = DirectorySpool(tmp_path, SpoolLimits())
    assert spool.depth == 0
    assert list(tmp_path.glob("*.corrupt"))


@pytest.mark.parametrize("policy", ["drop_oldest", "drop_newest"])
def test_a_single_segment_is_never_dropped_for_its_own_size(policy: str) -> None:
    spool = MemorySpool(SpoolLimits(max_bytes=100, policy=policy))
    live = spool.open_segment(meta(1), b"x" * 50)
    assert live is not None
    spool.append(live, b"x" * 100)
    assert spool.contains(live)


def test_directory_spool_keeps_only_the_oldest_segments_pcm_in_memory(tmp_path: Path) -> None:
    spool = DirectorySpool(tmp_path, SpoolLimits())
    fill(spool, range(1, 5), size=1000)
    in_memory = [len(s.pcm) for s in spool._segments]
    assert in_memory == [1000, 0, 0, 0] and spool.total_bytes == 4000
    replayed = DirectorySpool(tmp_path, SpoolLimits())
    assert [len(s.pcm) for s in replayed._segments] == [0, 0, 0, 0]
    assert replayed.total_bytes == 4000
    delivered = []
    while (segment := replayed.oldest(0)) is not None:
        delivered.append(bytes(segment.pcm))
        replayed.remove(segment)
    assert delivered == [bytes([seq]) * 1000 for seq in range(1, 5)]
    assert replayed.total_bytes == 0


def test_a_wall_clock_jump_neither_expires_nor_reorders(tmp_path: Path) -> None:
    """A Pi without an RTC boots in the past, then NTP jumps it forward a year."""
    spool = DirectorySpool(tmp_path, SpoolLimits(max_age_s=3600))
    fill_at(spool, range(1, 3), created=1_000_000.0)  # before the jump
    fill_at(spool, range(3, 5), created=1_000.0)  # after a jump backwards
    assert spool.counters.dropped_age == 0 and spool.depth == 4
    reopened = DirectorySpool(tmp_path, SpoolLimits(max_age_s=3600))
    order = []
    while (segment := reopened.oldest(0)) is not None:
        order.append(segment.meta.seq)
        reopened.remove(segment)
    assert order == [1, 2, 3, 4]


def test_the_wait_policy_blocks_the_writer_until_delivery_makes_room() -> None:
    """`send`'s spool: a file can wait, so a full spool holds the reader back and drops nothing."""
    import threading

    spool = MemorySpool(SpoolLimits(max_bytes=250, policy="wait"))
    fill(spool, range(1, 3))  # 200 of 250 bytes
    written = threading.Event()

    def write_third() -> None:
        fill(spool, range(3, 4))
        written.set()

    writer = threading.Thread(target=write_third)
    writer.start()
    assert not written.wait(0.3), "a third segment would overfill the spool: the writer waits"
    oldest = spool.oldest(0)
    assert oldest is not None
    spool.remove(oldest)
    assert written.wait(5), "room made: the writer goes on"
    writer.join(5)
    delivered = []
    while (segment := spool.oldest(0)) is not None:
        delivered.append(segment.meta.seq)
        spool.remove(segment)
    assert delivered == [2, 3]
    assert spool.counters.dropped_full == spool.counters.refused_full == 0
