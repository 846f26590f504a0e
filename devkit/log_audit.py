"""Audits every log the test processes wrote: no audio bytes, no tokens.

`ChildProcess` registers each log file it opens and tests register each secret they mint;
`tests/conftest.py` runs `audit()` when the session ends and fails the run on a finding.
"""

from __future__ import annotations

import re
from pathlib import Path

LOG_PATHS: list[Path] = []
SECRETS: list[str] = []

_BLOB = re.compile(r"[A-Za-z0-9+/=_-]{400,}")
"""A base64-like run this long is a payload (audio, a WAV, a token), never a log message."""
_ESCAPED_BYTES = re.compile(r"(\\x[0-9a-f]{2}|\\u00[0-9a-f]{2}){16,}")
"""Sixteen escaped bytes in a row: a bytes repr of audio."""
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
"""Control characters other than tab, newlines and ESC (colour codes) never appear in a log."""


def remember_secret(secret: str) -> str:
    SECRETS.append(secret)
    return secret


def audit(paths: list[Path], secrets: list[str]) -> list[str]:
    """Findings as 'file:line: what', empty when clean."""
    findings = []
    needles = [s.rsplit(".", 1)[-1] for s in secrets if s]  # a JWT's signature is unique to it
    for path in paths:
        if not path.exists():
            continue
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            findings.append(f"{path.name}: bytes that are not UTF-8 at {exc.start} (raw audio?)")
            continue
        if _CONTROL.search(text):
            findings.append(f"{path.name}: control characters (raw audio?)")
        for number, line in enumerate(text.splitlines(), 1):
            where = f"{path.name}:{number}"
            if _BLOB.search(line):
                findings.append(f"{where}: a long base64-like run (a payload in the log)")
            if _ESCAPED_BYTES.search(line):
                findings.append(f"{where}: a run of escaped bytes (audio in the log)")
            findings += [f"{where}: a token" for needle in needles if needle in line]
    return findings
