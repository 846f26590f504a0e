"""The spans a segmenter cuts from PCM: `bench.segmentation` measures today's code with it,
and runs it as a script under another checkout's code for `--before` (the checkout first on
PYTHONPATH; it imports nothing of bench):

    PYTHONPATH=CHECKOUT python bench/segment_spans.py '{"detector": "webrtc", ...}' < PCM
"""

from __future__ import annotations

import json
import sys
import time

from device_agent.capture.source import Stamp
from device_agent.segmenting.segmenter import (
    SegmentEnded,
    Segmenter,
    SegmenterConfig,
    SegmentExtended,
    SegmentStarted,
)
from device_agent.segmenting.voice_activity import DetectorConfig

CHUNK_BYTES = 640 * 5
"""100 ms, the agent's default ALSA period."""


def spans_of(segmenter: Segmenter, pcm: bytes) -> tuple[list[tuple[int, int]], float]:
    """(start, end) sample index of every segment, and CPU seconds spent."""
    spans: list[tuple[int, int]] = []
    start = length = 0
    began = time.process_time()
    events = []
    for i in range(0, len(pcm), CHUNK_BYTES):
        events += segmenter.push(pcm[i: i + CHUNK_BYTES], Stamp(i * 31250, i * 31250))
    events += segmenter.flush()
    cpu = time.process_time() - began
    for event in events:
        if isinstance(event, SegmentStarted):
            start, length = event.position, len(event.pcm) // 2
        elif isinstance(event, SegmentExtended):
            length += len(event.pcm) // 2
        elif isinstance(event, SegmentEnded):
            spans.append((start, start + length))
    return spans, cpu


def main() -> int:
    detector = DetectorConfig(**json.loads(sys.argv[1]))
    spans, cpu = spans_of(Segmenter(SegmenterConfig(detector=detector)), sys.stdin.buffer.read())
    json.dump({"spans": spans, "cpu_s": cpu}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
