"""The worker keeps the memory it frees for the next utterance instead of handing it back.

glibc's malloc serves an allocation over its mmap threshold (128 KiB at first) with a fresh
mmap, and gives freed memory at the top of a heap back to the kernel (trim threshold). A
1.4 MiB utterance's buffers (the stream's PCM, the event, librdkafka's copy) are therefore
fresh pages on every utterance, and each page costs a page fault that zeroes it: measured in
a burst, 891 minor faults per 1.4 MiB utterance (2.5 x its own pages), 19.3 ms of worker CPU
per utterance; with the thresholds below, 79 faults and 16.3 ms.

What is kept is bounded by the worker's own peak (at most `max_connections` streams of
`max_buffer_bytes`, and their events): memory is reused, not grown. `mallopt` is glibc's; on
another libc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 4 * 2**20
"""Above a 1.4 MiB utterance and its event: they come from the heap and are reused."""
TRIM_THRESHOLD_BYTES = 64 * 2**20
"""Free memory at a heap's top is given back only beyond this much."""
TOP_PAD_BYTES = 16 * 2**20
"""How much a heap grows by at once (address space; pages are faulted in as used)."""


def keep_freed_memory() -> bool:
    """Set the thresholds for this process; False when the libc has no `mallopt`."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):
        mallopt = None
    if mallopt is None:
        return False
    return all(mallopt(option, value) == 1 for option, value in (
        (M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES),
        (M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES),
        (M_TOP_PAD, TOP_PAD_BYTES),
    ))
