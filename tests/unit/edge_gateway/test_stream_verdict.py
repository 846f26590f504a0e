"""The connection slot is freed before the final message goes out, on every way a stream
ends: a client that reconnects the moment it reads `published` must find a free slot (the
soak saw 10 refusals in 5939 reconnects when the slot was freed after the request)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from edge_gateway.landing import Location
from edge_gateway.limits import StreamLimits
from edge_gateway.metrics import GatewayMetrics
from edge_gateway.stream import StreamHandler
from ingress_common.protocol import Start
from ingress_common.refusals import PublishUnconfirmed


class ScriptedSocket:
    """Stands in for the WebSocket: plays client messages, records what the server does."""

    def __init__(self, incoming: list[Any], journal: list[str]) -> None:
        self.incoming = incoming
        self.journal = journal

    def receive(self, timeout: float | None = None) -> Any:
        return self.incoming.pop(0) if self.incoming else None

    def send(self, data: Any) -> None:
        self.journal.append(json.loads(data)["event"])

    def close(self, reason: int | None = None, message: str | None = None) -> None:
        self.journal.append(f"close {reason}")


class Publisher:
    def __init__(self, fail: bool) -> None:
        self.fail = fail

    def prepare(self, pcm: Any, start: Start, correlation_id: str,
                release: Any = None, heard: Any = None) -> tuple[str, int]:
        return correlation_id, len(pcm)

    def publish(self, prepared: tuple[str, int], on_late: Any = None) -> Location:
        if self.fail:
            raise PublishUnconfirmed("broker stalled")
        correlation_id, audio_bytes = prepared
        return Location("t", 0, 1, correlation_id, audio_bytes, 10)


@pytest.mark.parametrize(("incoming", "fail", "final"), [
    ([b"\0\0" * 80, '{"event":"done"}'], False, "published"),
    ([b"\0\0" * 80, '{"event":"done"}'], True, "error"),
    (['{"event":"nonsense"}'], False, "error"),
    ([], False, "error"),  # idle timeout
])
def test_the_slot_is_freed_before_the_final_message(incoming: list[Any], fail: bool,
                                                     final: str) -> None:
    journal: list[str] = []
    handler = StreamHandler(StreamLimits(idle_timeout_s=0.05), Publisher(fail),  # type: ignore[arg-type]
                            GatewayMetrics())
    handler.serve(ScriptedSocket(incoming, journal), "cid",  # type: ignore[arg-type]
                  on_verdict=lambda: journal.append("slot freed"))
    assert journal[0] == "connected"
    assert journal[-3:-1] == ["slot freed", final], journal
    assert journal.count("slot freed") == 1
