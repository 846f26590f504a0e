"""A topic (or producer) that refuses events as too large is named by /readyz, not only in
the refusals: the gateway's readiness check says which setting to raise (issue 11)."""

from __future__ import annotations

import pytest

from devkit.broker import Broker
from edge_gateway.publisher import KafkaPublisher, producer_config
from ingress_common.refusals import PublishFailed

TOPIC = "too-small-probe"
"""Its own topic: the raw bytes it writes are no AudioInputEvent for other tests' readers."""


def test_a_too_large_refusal_makes_the_publisher_not_ready(broker: Broker) -> None:
    broker.create_topic(TOPIC)
    config = producer_config(broker.bootstrap, 10_000, 5.0, {})
    config["message.max.bytes"] = 20_000  # as if the topic took only 20 kB
    kafka = KafkaPublisher(config, TOPIC, 5.0)
    try:
        assert kafka.check_ready(5.0) is None
        with pytest.raises(PublishFailed):
            kafka.publish(b"x" * 50_000, key="d", headers={})
        problem = kafka.check_ready(5.0)
        assert problem is not None and "max.message.bytes" in problem and "50000" in problem
        kafka.publish(b"x" * 1000, key="d", headers={})  # small ones still go through
        assert kafka.check_ready(5.0) is not None, "still not ready for the large ones"
    finally:
        kafka.close(2.0)
