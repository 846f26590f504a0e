"""A real Producer with tiny timeouts and no broker: publishes end unconfirmed, in time."""

import time

import pytest

from devkit.ports import free_port
from edge_gateway.publisher import KafkaPublisher, producer_config
from ingress_common.refusals import PublishUnconfirmed


def test_publish_without_a_broker_is_unconfirmed_within_the_timeout() -> None:
    config = producer_config(f"127.0.0.1:{free_port()}", 1000, 1.0, {})
    publisher = KafkaPublisher(config, "t", publish_timeout_s=1.0)
    began = time.monotonic()
    with pytest.raises(PublishUnconfirmed) as info:
        publisher.publish(b"x", key="k", headers={})
    elapsed = time.monotonic() - began
    publisher.close(timeout_s=0.1)
    assert info.value.retryable and info.value.close_code == 1013
    assert 0.9 <= elapsed < 2.5


def test_producer_config_sizes_messages_above_the_largest_event() -> None:
    config = producer_config("b:9092", 1_500_000, 10.0, {"linger.ms": "5", "client.id": "x"})
    assert config["message.max.bytes"] > 1_500_000
    assert config["acks"] == "all" and config["enable.idempotence"] is True
    assert config["message.timeout.ms"] == 10000
    assert config["client.id"] == "x"
    assert config["linger.ms"] == "5", "KAFKA_CONFIG wins"
    assert producer_config("b:9092", 1, 1.0, {})["linger.ms"] == 0, "a lone event is not held"
