"""The worker's malloc keeps freed memory: a 1.4 MiB buffer built and freed again and again
costs no fresh pages once it has been built once."""

from __future__ import annotations

import subprocess
import sys

PROGRAM = """
import resource, sys
from edge_gateway.hosting.heap import keep_freed_memory
if sys.argv[1] == "tuned":
    assert keep_freed_memory()
frame = bytes(65536)
def utterance():
    pcm = bytearray()
    for _ in range(22):
        pcm += frame
    return b"".join([b"head", pcm, b"tail"])
utterance()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    utterance()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", PROGRAM, mode], check=True,
                         capture_output=True, text=True).stdout
    return int(out)


def test_a_tuned_process_reuses_freed_pages_an_untuned_one_faults_them_in_again() -> None:
    pages_per_utterance = 2 * 22 * 65536 // 4096  # the buffer and the joined event
    untuned, tuned = _faults("plain"), _faults("tuned")
    assert untuned >= 20 * pages_per_utterance // 2  # the premise: glibc faults them anew
    assert tuned < 20 * pages_per_utterance // 20
