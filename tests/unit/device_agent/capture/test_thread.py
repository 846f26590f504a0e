"""The capture thread with scripted fake sources: xruns, unplugs, stalls, a full queue."""

import queue
import threading
import time

from device_agent.backoff import Backoff
from device_agent.capture.alsa import check_format
from device_agent.capture.formats import PcmFormat
from device_agent.capture.source import SourceError, Stamp
from device_agent.capture.thread import Captured, CaptureThread, Item
from device_agent.segmenting.segmenter import SegmentEnded, Segmenter, SegmenterConfig, SegmentStarted
from device_agent.stats import AgentStats
from devkit.signals import room_noise, speech_like_pcm
from tests.unit.device_agent.capture.scripted_source import ScriptedSource

A, B, C = b"\1\0" * 160, b"\2\0" * 160, b"\3\0" * 160


def run_script(script: list, maxsize: int = 100) -> tuple[list[Item], AgentStats, ScriptedSource]:
    source = ScriptedSource(iter(script))
    out: queue.Queue[Item] = queue.Queue(maxsize=maxsize)
    stats = AgentStats()
    loop = CaptureThread(lambda: source, out, stats, threading.Event(),
                       backoff=Backoff(base_s=0.001, cap_s=0.002))
    loop.start()
    loop.join(5)
    assert not loop.is_alive()
    items = []
    while not out.empty():
        items.append(out.get_nowait())
    return items, stats, source


def kinds(items: list[Item]) -> list[object]:
    return [i.pcm if isinstance(i, Captured) else type(i).__name__ for i in items]


def test_xrun_is_counted_marked_as_a_gap_and_capture_goes_on() -> None:
    items, stats, source = run_script([A, "xrun", B])
    assert kinds(items) == [A, "Gap", B, "SourceEnded"]
    assert stats.xruns == 1 and stats.reopens == 0 and source.opened == 1


def test_unplug_closes_and_reopens_with_backoff() -> None:
    items, stats, source = run_script([A, "unplug", "open_fails", "open_fails", B, C])
    assert kinds(items) == [A, "Gap", B, C, "SourceEnded"]
    assert stats.reopens == 1 and stats.open_failures == 2
    assert source.opened == 2 and source.closed == 2


def test_a_stalled_device_is_reopened() -> None:
    items, stats, _ = run_script([A, "stall", B])
    assert kinds(items) == [A, "Gap", B, "SourceEnded"]
    assert stats.reopens == 1


def test_a_full_queue_drops_and_counts_instead_of_blocking() -> None:
    source = ScriptedSource(iter([A, B, C, A, B]))
    out: queue.Queue[Item] = queue.Queue(maxsize=2)
    stats = AgentStats()
    loop = CaptureThread(lambda: source, out, stats, threading.Event())
    loop.start()
    deadline = time.monotonic() + 5
    while stats.queue_overflows < 3 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert stats.queue_overflows == 3  # C, A, B were dropped, not waited for
    items = [out.get(timeout=1) for _ in range(4)]
    loop.join(5)
    assert kinds(items) == [A, B, "Gap", "SourceEnded"]


def test_frames_and_timestamps_are_recorded() -> None:
    items, stats, _ = run_script([A, B])
    assert stats.frames == 320
    first, second = items[0], items[1]
    assert isinstance(first, Captured) and isinstance(second, Captured)
    assert first.stamp.monotonic_ns <= second.stamp.monotonic_ns


def test_a_pcm_opened_with_other_settings_than_asked_is_refused() -> None:
    info = {"rate": 44100, "channels": 2, "format_name": "S16_LE"}
    try:
        check_format(info, "hw:1", PcmFormat(48000, 1, "S16_LE"))
    except SourceError as exc:
        assert "44100" in str(exc) and "2 channels" in str(exc)
    else:
        raise AssertionError("a PCM at other settings than asked for was accepted")
    check_format(info, "hw:1", PcmFormat(44100, 2, "S16_LE"))


def test_a_gap_ends_the_open_segment_and_drops_nothing_it_held() -> None:
    segmenter = Segmenter(SegmenterConfig(start_s=0.02, preroll_s=0.0))
    stamp = Stamp(0, 0)
    # nothing starts in the detector's first second (the room is not known yet)
    started = segmenter.push(room_noise(1.0, seed=3) + speech_like_pcm(0.5, seed=3), stamp)
    assert any(isinstance(e, SegmentStarted) for e in started)
    ended = segmenter.gap()
    assert [e.reason for e in ended if isinstance(e, SegmentEnded)] == ["gap"]
    assert segmenter.gap() == [], "nothing open after the gap"
