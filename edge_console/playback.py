"""An utterance read back from Kafka at the location its device reported, as WAV."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, TopicPartition

from ingress_common.framing import decode_event
from ingress_common.health import RecentUtterance

READ_TIMEOUT_S = 10.0


class NotFound(Exception):
    pass


def read_wav(bootstrap_servers: str, where: RecentUtterance,
             timeout_s: float = READ_TIMEOUT_S) -> bytes:
    consumer = Consumer({"bootstrap.servers": bootstrap_servers,
                         "group.id": f"edge-console-playback-{uuid.uuid4()}",
                         "enable.auto.commit": False, "fetch.message.max.bytes": 4 * 1024 * 1024})
    try:
        consumer.assign([TopicPartition(where.topic, where.partition, where.offset)])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error() is not None:
                continue
            if msg.offset() == where.offset and msg.value() is not None:
                wav = decode_event(msg.value() or b"").wav
                return bytes(wav)
            if (msg.offset() or 0) > where.offset:
                break
        raise NotFound(f"no record at {where.topic}/{where.partition}@{where.offset}")
    finally:
        consumer.close()
