"""Where an utterance's one audio record landed: the one type for it inside the gateway.

`ingest` returns it, the receipts keep it, and the wire's `Published` is built from it only
where the reply is sent (`stream.py`). Kafka's own report for any message is
`publisher.Delivery` (a claim or a receipt has no utterance to describe).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Location:
    """Where a segment's (or a v1 stream's) audio record is, and what it holds."""

    topic: str
    partition: int
    offset: int
    correlation_id: str
    audio_bytes: int
    duration_ms: int


LateLocation = Callable[[Location | None], None]
"""Told where a publish that stopped waiting landed after all (None: Kafka failed it)."""
