"""How every part reads the device-keyed topics it shares: which partition holds a device's
records, how many partitions a topic has, and the consumer that follows one.

Followers assign partitions directly instead of joining a consumer group (a group join
takes seconds, and each follower wants what it reads anyway), never commit, and start from
the earliest record.
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic


def partition_for(key: str, partitions: int) -> int | None:
    """The partition a key's records go to: CRC-32 of the key (like librdkafka's
    `consistent` partitioner), stable for a given partition count; None when the count is
    not known yet (librdkafka then chooses). A device's records thus share one partition:
    the receipts' recovery scan, the gateway's settings follower and the console's settings
    writer rely on it."""
    return zlib.crc32(key.encode()) % partitions if partitions > 0 else None


def follower_config(bootstrap_servers: str, group: str, fetch_wait_ms: int,
                    passthrough: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A consumer that follows topics by direct assignment: a group id of its own (`group`
    plus a random suffix; nothing is ever committed), from the earliest record, with
    end-of-partition events. `passthrough` (the operator's librdkafka settings) comes
    first, so these always win; producer-only keys are left out."""
    kept = {k: v for k, v in (passthrough or {}).items() if not k.startswith(("linger", "batch"))}
    return {**kept, "bootstrap.servers": bootstrap_servers,
            "group.id": f"{group}-{uuid.uuid4()}", "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "enable.partition.eof": True,
            "fetch.wait.max.ms": fetch_wait_ms}


def partition_count(client: Consumer | Producer, topic: str, timeout_s: float) -> int:
    """How many partitions `topic` has. KafkaException (UNKNOWN_TOPIC_OR_PART) when it does
    not exist, or Kafka's own when the broker does not answer within `timeout_s`."""
    metadata = client.list_topics(topic, timeout=timeout_s).topics.get(topic)
    if metadata is None or metadata.error is not None or not metadata.partitions:
        raise KafkaException(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART,
                                        f"topic {topic} does not exist"))
    return len(metadata.partitions)


def ensure_topic(bootstrap_servers: str, topic: str, partitions: int, replication: int,
                 config: Mapping[str, str], passthrough: Mapping[str, str],
                 timeout_s: float, logger: Any = None) -> bool:
    """Create `topic` with `config` (topic configs) unless it exists. True when created.
    `logger` takes librdkafka's own log lines (a logging.Logger)."""
    admin_config: dict[str, Any] = {**passthrough, "bootstrap.servers": bootstrap_servers}
    if logger is not None:
        admin_config["logger"] = logger
    admin = AdminClient(admin_config)
    if topic in admin.list_topics(timeout=timeout_s).topics:
        return False
    new = NewTopic(topic, num_partitions=partitions, replication_factor=replication,
                   config=dict(config))
    future = admin.create_topics([new], operation_timeout=timeout_s)[topic]
    try:
        future.result(timeout=timeout_s)
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise
        return False
    return True
