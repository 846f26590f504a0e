"""A stream's buffer is freed as soon as its event is built: while Kafka confirms a
1.4 MiB utterance, the gateway holds librdkafka's copy of it, not its own as well."""

from __future__ import annotations

import pytest

from edge_gateway.limits import StreamLimits
from edge_gateway.metrics import GatewayMetrics
from edge_gateway.stream import AudioConnection, StreamHandler
from tests.unit.test_stream_verdict import Publisher, ScriptedSocket


def test_the_buffer_is_released_once_the_event_is_built() -> None:
    frames = [b"\1\2" * 800 for _ in range(5)]
    ws = ScriptedSocket([*frames, '{"event":"done"}'], [])
    handler = StreamHandler(StreamLimits(), Publisher(fail=False), GatewayMetrics())  # type: ignore[arg-type]
    connection = AudioConnection(handler, ws, "cid", None, lambda: None)  # type: ignore[arg-type]
    connection._receive_until_done()
    assert connection.session.buffered_bytes == 8000

    prepared = connection._prepare()

    assert prepared == ("cid", 8000), "the event was built from the whole stream"
    assert connection.session.buffered_bytes == 8000, "its size is still known (logs, errors)"
    with pytest.raises(RuntimeError):
        connection.session.pcm  # noqa: B018 - the buffer is gone
