"""The real gateway with a receipts fault passed in: for fault tests, never for operators.

    python -m devkit.fault_gateway --crash-before-receipt 2 --once-file /tmp/fired

is `edge-gateway serve` (the same settings from the environment, the same gunicorn, worker
and app), except that the receipts ledger writes through `ReceiptFaults`. That wrapper fails
the worst moment on purpose: the segment's audio is in Kafka (its delivery report is in)
and its `Receipt` is about to be written. It either SIGKILLs the worker there
(gunicorn starts a new one) or fails the receipt as if Kafka had refused it. Each fires
once per `--once-file`, so a respawned worker does not fire again.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from edge_gateway.publisher import Delivery, InFlight, KafkaPublisher, LateReport
from edge_gateway.receipts.records import Receipt, decode_record
from ingress_common.refusals import PublishFailed

if TYPE_CHECKING:
    from flask import Flask

    from edge_gateway.settings import GatewaySettings

_LOGGER = logging.getLogger(__name__)


class ReceiptFaults:
    """A `RecordProducer` for the ledger: passes everything to `inner`, except the Nth
    `Receipt` this worker writes (N counts from 1; 0 never)."""

    def __init__(self, inner: KafkaPublisher, crash_before_receipt: int = 0,
                 refuse_receipt: int = 0, once_file: Path | None = None) -> None:
        self._inner = inner
        self._crash_at = crash_before_receipt
        self._refuse_at = refuse_receipt
        self._once_file = once_file
        self._receipts = 0

    def send(self, value: bytes, key: str, headers: Mapping[str, str],
             topic: str | None = None, partition: int | None = None) -> InFlight:
        if isinstance(decode_record(value), Receipt):
            self._receipts += 1
            if self._receipts == self._crash_at and self._fire():
                _LOGGER.warning("fault injection: SIGKILL before the receipt")
                os.kill(os.getpid(), signal.SIGKILL)
            if self._receipts == self._refuse_at and self._fire():
                _LOGGER.warning("fault injection: receipt refused")
                raise PublishFailed("fault injection: receipt refused")
        return self._inner.send(value, key, headers, topic=topic, partition=partition)

    def wait(self, pending: InFlight, on_late: LateReport | None = None) -> Delivery:
        return self._inner.wait(pending, on_late)

    def partitions(self, topic_name: str | None = None) -> int:
        return self._inner.partitions(topic_name)

    def _fire(self) -> bool:
        """True the first time across the gateway's workers (with a once-file)."""
        if self._once_file is None:
            return True
        try:
            self._once_file.touch(exist_ok=False)
        except FileExistsError:
            return False
        return True


def fault_gateway_command(crash_before_receipt: int = 0, refuse_receipt: int = 0,
                          once_file: Path | None = None) -> list[str]:
    """The command line for `GatewayProcess(command=...)`."""
    command = [sys.executable, "-m", "devkit.fault_gateway",
               "--crash-before-receipt", str(crash_before_receipt),
               "--refuse-receipt", str(refuse_receipt)]
    return command + (["--once-file", str(once_file)] if once_file else [])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devkit.fault_gateway", description=__doc__)
    parser.add_argument("--crash-before-receipt", type=int, default=0)
    parser.add_argument("--refuse-receipt", type=int, default=0)
    parser.add_argument("--once-file", type=Path)
    args = parser.parse_args(argv)
    from edge_gateway.hosting.gunicorn_app import GatewayServer
    from edge_gateway.settings import load_settings
    from ingress_common.logs import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level)

    def build(gateway_settings: GatewaySettings) -> Flask:
        from edge_gateway.hosting.app_factory import build_app

        return build_app(gateway_settings, lambda kafka: ReceiptFaults(
            kafka, args.crash_before_receipt, args.refuse_receipt, args.once_file))

    GatewayServer(settings, build).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
