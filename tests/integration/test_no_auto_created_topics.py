"""The gateway's producers never let the broker create a topic (real producer, real broker).

A broker that auto-creates topics gives them its own defaults (Tansu: 4 partitions, no
retention). When a restarted broker lost the receipts topic, the ledger's next write
recreated it that way, before the gateway's follower could create it with 64 partitions; the
claims then went to partitions that no longer existed and the producer stalled for minutes
(test_faults' broker-restart test). The topic must stay missing until the gateway creates it."""

from __future__ import annotations

from confluent_kafka.admin import AdminClient

from devkit.broker import Broker
from edge_gateway.publisher import KafkaPublisher, PublishFailed, PublishUnconfirmed, producer_config

MISSING = "never-created-by-a-producer"


def test_publishing_to_a_missing_topic_does_not_create_it(broker: Broker) -> None:
    broker.create_topic("auto-create-probe", partitions=1)
    publisher = KafkaPublisher(producer_config(broker.bootstrap, 10_000, 3.0, {}),
                               "auto-create-probe", 3.0)
    try:
        publisher.publish(b"lands", key="k", headers={})  # the producer is connected
        try:
            publisher.publish(b"nowhere", key="k", headers={}, topic=MISSING)
            outcome = "published"
        except (PublishFailed, PublishUnconfirmed) as refused:
            outcome = str(refused)
    finally:
        publisher.close()
    topics = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=10).topics
    assert MISSING not in topics, f"the broker created {MISSING} ({outcome})"
    assert outcome != "published"
    print(f"\npublishing to a missing topic: {outcome}")
