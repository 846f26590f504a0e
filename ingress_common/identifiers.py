"""What a device id and a segment id may be: one rule for the wire, the health report and
the console's routes."""

from __future__ import annotations

import re

ID_PATTERN = re.compile(r"^[A-Za-z0-9._:@/-]{1,128}$")
"""1 to 128 characters: letters, digits and `._:@/-` (a host name, a MAC, a path-like id)."""


def is_id(text: str) -> bool:
    """Whether `text` is a valid device or segment id."""
    return ID_PATTERN.match(text) is not None
