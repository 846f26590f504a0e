"""`python -m devkit.peak_rss CMD ...`: run CMD, pass its output and exit code through, and
print `peak_rss_kib N` (CMD's own peak resident set, from getrusage) last on stderr."""

from __future__ import annotations

import resource
import subprocess
import sys


def main(argv: list[str]) -> int:
    code = subprocess.call(argv)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"peak_rss_kib {peak}", file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
