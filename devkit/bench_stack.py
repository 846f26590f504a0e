"""A broker and a gateway for one benchmark run: started together, stopped together."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from devkit.broker import Broker
from devkit.gateway_process import GatewayProcess
from edge_gateway.settings import DEFAULT_TOPIC


@contextlib.contextmanager
def broker_and_gateway(prefix: str, topic: str = DEFAULT_TOPIC) -> Iterator[GatewayProcess]:
    """A Tansu broker with `topic`, and a real gunicorn gateway publishing to it, in a fresh
    work directory; both are stopped (by PID) when the block ends, however it ends."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    broker = Broker(workdir).start()
    try:
        broker.create_topic(topic)
        gateway = GatewayProcess(workdir, broker.bootstrap, topic).start()
        try:
            yield gateway
        finally:
            gateway.stop()
    finally:
        broker.stop()
