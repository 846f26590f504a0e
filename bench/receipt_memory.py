"""Memory of the gateway's receipt book: bytes per receipt and per 1,000 devices.

    .venv/bin/python -m bench.receipt_memory --devices 1000 --per-device 100

Fills a ReceiptBook the way the follower does (a Claim, then a Receipt, per segment,
ids shaped like the agent's) and measures it with tracemalloc.
"""

from __future__ import annotations

import argparse
import gc
import tracemalloc

from edge_gateway.landing import Location
from edge_gateway.receipts.book import BookLimits, ReceiptBook
from edge_gateway.receipts.records import Claim, Receipt, SegmentKey


def fill(book: ReceiptBook, devices: int, per_device: int) -> None:
    offset = 0
    for seq in range(per_device):
        for d in range(devices):
            device = f"kitchen-pi-{d:05d}"
            key = SegmentKey(device, f"{device}:3f2a9c1e:mx51f1zd:{seq + 1}")
            book.apply(d % 3, offset, Claim(key, "gw-1:8000", "a1b2c3d4e5f6", 1_796_000_000_000))
            location = Location("speech.audio.ingress", d % 3, offset, "5b8e" * 9, 64000, 2000)
            book.apply(d % 3, offset + 1, Receipt(key, location, 1_796_000_000_000))
            offset += 2


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--per-device", type=int, default=100)
    args = parser.parse_args()
    gc.collect()
    tracemalloc.start()
    book = ReceiptBook(BookLimits(window_s=1e9, max_entries=10_000_000),
                       wall_ms=lambda: 1_796_000_000_000)
    fill(book, args.devices, args.per_device)
    gc.collect()
    used, _peak = tracemalloc.get_traced_memory()
    entries = len(book)
    print(f"{entries} receipts ({args.devices} devices x {args.per_device}): "
          f"{used / 2**20:.1f} MiB, {used / entries:.0f} bytes per receipt, "
          f"{used / args.devices * 1000 / 2**20:.1f} MiB per 1,000 devices")


if __name__ == "__main__":
    main()
