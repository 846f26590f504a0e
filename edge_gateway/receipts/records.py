"""The records of the receipts topic, keyed by device id. Pure: JSON in, JSON out.

A device's records all land on one partition, in one order, which every gateway reads the
same way: the first `Claim` of a segment after any `Abandoned` one owns it; `Receipt`
ends it for good; `Abandoned` frees a claim that is known to have published nothing.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from edge_gateway.landing import Location

RECORD_VERSION = 1


@dataclass(frozen=True, slots=True)
class SegmentKey:
    device_id: str
    segment_id: str


@dataclass(frozen=True)
class Claim:
    key: SegmentKey
    owner: str
    """The gateway's stable id (GATEWAY_ID): the same across its restarts."""
    incarnation: str
    """This worker process's own id: a claim of the same owner with another incarnation
    was left by a gateway that died."""
    at_ms: int
    """Wall clock of the claimant, milliseconds since the Unix epoch."""


@dataclass(frozen=True)
class Receipt:
    """The segment's audio is in Kafka at `location` (its record kind on the wire:
    "published")."""

    key: SegmentKey
    location: Location
    at_ms: int


@dataclass(frozen=True)
class Abandoned:
    key: SegmentKey
    claim_offset: int
    """The receipts-topic offset of the claim that published nothing."""
    at_ms: int


Record = Claim | Receipt | Abandoned
_KINDS: dict[str, type] = {"claim": Claim, "published": Receipt, "abandoned": Abandoned}
_NAMES = {cls: name for name, cls in _KINDS.items()}


def encode_record(record: Record) -> bytes:
    body = asdict(record)
    key = body.pop("key")
    return json.dumps({"v": RECORD_VERSION, "kind": _NAMES[type(record)], **key, **body},
                      separators=(",", ":")).encode()


def decode_record(value: bytes) -> Record | None:
    """The record, or None for anything this version does not understand (skipped)."""
    try:
        body: dict[str, Any] = json.loads(value)
        kind = _KINDS[body.pop("kind")]
        body.pop("v", None)
        key = SegmentKey(body.pop("device_id"), body.pop("segment_id"))
        if kind is Receipt:
            return Receipt(key, Location(**body["location"]), body["at_ms"])
        return kind(key=key, **body)
    except (ValueError, KeyError, TypeError):
        return None
