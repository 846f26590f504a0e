"""The Kafka publisher: one idempotent producer per worker process, one poller thread.

`publish()` blocks only its calling connection thread: it produces the event and waits on
that message's own delivery report, which the poller thread delivers (`send()` and
`wait()` are its two halves, for a caller with something to do in between). A stalled broker
therefore stalls the streams that are publishing, never the others.

An idempotent producer can be left unusable by an outage: after in-flight messages time
out it must bump its epoch, and a broker may answer that (or any later produce) with
PRODUCER_FENCED, forever. Measured here with Tansu after a 10 s SIGSTOP. So when a delivery
report or the error callback says the producer's identity is gone, the poller thread builds
a new producer (a new producer id), swaps it in, and lets the old one flush in the
background. The message that met the error is reported as failed and retryable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from edge_gateway.kafka_logs import kafka_logger
from ingress_common.kafka_topics import partition_for
from ingress_common.log_throttle import throttled_logger
from ingress_common.refusals import PublishFailed, PublishUnconfirmed

_LOGGER = throttled_logger(__name__)
"""Throttled: an outage makes the error callback repeat itself many times a second."""
POLL_INTERVAL_S = 0.1
IDLE_POLL_S = 5.0
"""With nothing queued or in flight the poller rests on an Event instead of polling (each
poll wakes a thread and takes the GIL: that was half an idle gateway's CPU); a send, a
replacement request or close() wakes it. Error and log events that librdkafka raises while
nothing is in flight are still served this often."""
DEFAULT_LINGER_MS = 0
"""Each connection waits on its own message, so nothing would join a batch while a lone
utterance lingered: linger.ms 1 cost 1.0 ms per write, 5 (librdkafka's default) 5 ms
(docs/benchmarks.md, issue 13). KAFKA_CONFIG can still set it."""
HEADROOM_BYTES = 256 * 1024
"""message.max.bytes is the largest event plus this much (record batch framing, headers)."""
_UNCONFIRMED_CODES = frozenset({KafkaError._MSG_TIMED_OUT, KafkaError._TIMED_OUT,
                                KafkaError.REQUEST_TIMED_OUT})
PRODUCER_LOST_CODES = frozenset({KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH,
                                 KafkaError.UNKNOWN_PRODUCER_ID,
                                 KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER, KafkaError._FATAL})
"""Errors after which this producer instance can never publish again: replace it."""


@dataclass(frozen=True)
class Delivery:
    """Where a message landed, from the broker's delivery report."""

    topic: str
    partition: int
    offset: int


LateReport = Callable[[Delivery | None], None]
"""Told the outcome of a message whose publish() gave up waiting: where it landed, or
None when Kafka failed it (it may still have landed if the failure was a timeout)."""


class InFlight:
    """One produced message, until its delivery report; `KafkaPublisher.wait` awaits it."""

    def __init__(self, generation: int, size: int) -> None:
        self.generation = generation
        self.size = size
        self.done = threading.Event()
        self.error: KafkaError | None = None
        self.delivery: Delivery | None = None
        self._late: LateReport | None = None
        self._lock = threading.Lock()

    def __call__(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self.error = err
        else:
            self.delivery = Delivery(msg.topic() or "", msg.partition() or 0, msg.offset() or 0)
        with self._lock:
            self.done.set()
            late = self._late
        if late is not None:
            late(self.delivery)

    def report_late(self, late: LateReport) -> None:
        """Call `late` when the report arrives (at once if it just did)."""
        with self._lock:
            if not self.done.is_set():
                self._late = late
                return
        late(self.delivery)


def producer_config(bootstrap_servers: str, max_event_bytes: int, publish_timeout_s: float,
                    passthrough: Mapping[str, str]) -> dict[str, Any]:
    return {
        **passthrough,
        "bootstrap.servers": bootstrap_servers,
        "acks": "all",
        "enable.idempotence": True,
        "message.max.bytes": max_event_bytes + HEADROOM_BYTES,
        "message.timeout.ms": int(publish_timeout_s * 1000),
        "linger.ms": passthrough.get("linger.ms", DEFAULT_LINGER_MS),
        # The gateway creates its topics with their partitions and retention; a producer
        # that let the broker create one would get its defaults (Tansu: 4 partitions).
        "allow.auto.create.topics": passthrough.get("allow.auto.create.topics", False),
        "logger": kafka_logger("producer"),
    }


class KafkaPublisher:
    """Publishes byte payloads and reports where each one landed."""

    def __init__(self, config: dict[str, Any], topic: str, publish_timeout_s: float,
                 producer_factory: Callable[[dict[str, Any]], Producer] = Producer) -> None:
        self.topic = topic
        self.publish_timeout_s = publish_timeout_s
        self._config = {**config, "error_cb": self._on_error}
        self._factory = producer_factory
        self._producer = producer_factory(self._config)
        self._generation = 0
        self._swap_lock = threading.Lock()
        self._replace_requested = threading.Event()
        self.replacements = 0
        self.on_replaced: Callable[[str], None] = lambda _reason: None
        self._replace_reason = ""
        self._stopping = threading.Event()
        self._work = threading.Event()
        """Set by whatever gives a resting poller something to do."""
        self._partitions: dict[str, int] = {}
        self._too_large = 0
        """The smallest event the topic refused as too large (0: none since the last
        success at that size); /readyz says so."""
        self._poller = threading.Thread(target=self._poll_loop, name="kafka-poller", daemon=True)
        self._poller.start()

    def publish(self, value: bytes, key: str, headers: Mapping[str, str],
                topic: str | None = None, partition: int | None = None,
                on_late: LateReport | None = None) -> Delivery:
        """Produce and wait for the delivery report; raise PublishUnconfirmed/PublishFailed.
        When the wait times out, `on_late` is told the outcome once it is known."""
        return self.wait(self.send(value, key, headers, topic, partition), on_late)

    def send(self, value: bytes, key: str, headers: Mapping[str, str],
             topic: str | None = None, partition: int | None = None) -> InFlight:
        """Produce without waiting; raise at once when the producer refuses the message."""
        with self._swap_lock:
            producer, pending = self._producer, InFlight(self._generation, len(value))
        try:
            producer.produce(topic or self.topic, value=value, key=key,
                             partition=-1 if partition is None else partition,
                             headers=list(headers.items()), on_delivery=pending)
        except BufferError:
            raise PublishUnconfirmed("the gateway's Kafka queue is full; retry later") from None
        except KafkaException as exc:
            err = exc.args[0]
            if err.code() == KafkaError.MSG_SIZE_TOO_LARGE:
                self._too_large = min(self._too_large or len(value), len(value))
            raise PublishFailed(f"Kafka refused the event: {err.name()}") from None
        self._work.set()
        return pending

    def wait(self, pending: InFlight, on_late: LateReport | None = None) -> Delivery:
        """Wait for a sent message's delivery report (at most the publish timeout)."""
        if not pending.done.wait(self.publish_timeout_s):
            if on_late is not None:
                pending.report_late(on_late)
            raise PublishUnconfirmed(
                f"no delivery report within {self.publish_timeout_s:g} s; the event may still "
                "land: retry with the same segment_id")
        if pending.error is not None:
            if pending.error.code() in PRODUCER_LOST_CODES:
                self._request_replacement(pending.error.name(), pending.generation)
                raise PublishFailed(f"Kafka refused this producer ({pending.error.name()}); "
                                    "the gateway is replacing it: retry")
            if pending.error.code() == KafkaError.MSG_SIZE_TOO_LARGE:
                self._too_large = min(self._too_large or pending.size, pending.size)
            raise _refusal_for(pending.error)
        assert pending.delivery is not None
        if self._too_large and pending.size >= self._too_large:
            self._too_large = 0  # the topic takes events this large again
        return pending.delivery

    def check_ready(self, timeout_s: float, topic_name: str | None = None) -> str | None:
        """None when the broker answers and the topic exists, else the reason."""
        name = topic_name or self.topic
        try:
            metadata = self._current().list_topics(name, timeout=timeout_s)
        except KafkaException as exc:
            return f"Kafka unreachable: {exc.args[0].name()}"
        topic = metadata.topics.get(name)
        if topic is None or topic.error is not None or not topic.partitions:
            return f"topic {name} does not exist"
        self._partitions[name] = len(topic.partitions)
        if self._too_large and name == self.topic:
            return (f"topic {name} rejected an event of {self._too_large} bytes "
                    "(MSG_SIZE_TOO_LARGE): raise its max.message.bytes")
        return None

    @property
    def poller_thread_id(self) -> int:
        """The poller thread's native id (for /proc/self/task/ID)."""
        assert self._poller.native_id is not None
        return self._poller.native_id

    def partition_of(self, key: str) -> int:
        """The audio topic's partition of `key`'s records (0 before the count is known)."""
        return partition_for(key, self.partitions()) or 0

    def partitions(self, topic_name: str | None = None) -> int:
        """The topic's partition count, as last seen by check_ready (0 before that)."""
        return self._partitions.get(topic_name or self.topic, 0)

    def close(self, timeout_s: float = 10.0) -> int:
        """Flush what is queued and stop the poller; returns messages still undelivered."""
        self._stopping.set()
        self._work.set()
        self._poller.join(timeout=timeout_s)
        return self._current().flush(timeout_s)

    def _current(self) -> Producer:
        with self._swap_lock:
            return self._producer

    def _poll_loop(self) -> None:
        """Serve delivery reports until close(). Never dies: a fatal producer error raised
        from poll() (e.g. UNKNOWN_PRODUCER_ID after a broker lost its state) gets the
        producer replaced, anything else is logged and polling goes on."""
        while not self._stopping.is_set():
            if self._replace_requested.is_set():
                self._replace_producer()
            try:
                producer = self._current()
                producer.poll(POLL_INTERVAL_S)
                self._rest_while_idle(producer)
            except KafkaException as exc:
                err = exc.args[0]
                _LOGGER.error("Kafka producer poll failed: %s", err.str() if err else exc)
                if err is not None and (err.fatal() or err.code() in PRODUCER_LOST_CODES):
                    self._replace_current(err.name())
                else:
                    self._stopping.wait(POLL_INTERVAL_S)
            except Exception:  # noqa: BLE001 - the poller must outlive any one bad report
                _LOGGER.exception("Kafka producer poll failed")
                self._stopping.wait(POLL_INTERVAL_S)

    def _rest_while_idle(self, producer: Producer) -> None:
        """Wait for work (at most IDLE_POLL_S) when `producer` has nothing queued, in flight
        or unreported. The Event is cleared before the checks, so a send, a replacement
        request or close() in between is not missed."""
        if len(producer) == 0:
            self._work.clear()
            if (len(producer) == 0 and not self._replace_requested.is_set()
                    and not self._stopping.is_set()):
                self._work.wait(IDLE_POLL_S)

    def _replace_current(self, reason: str) -> None:
        """Replace whichever producer is current (for errors not tied to one message)."""
        with self._swap_lock:
            generation = self._generation
        self._request_replacement(reason, generation)

    def _request_replacement(self, reason: str, generation: int) -> None:
        with self._swap_lock:
            if generation != self._generation:
                return  # an error from a producer that was already replaced
            self._replace_reason = reason
        self._replace_requested.set()
        self._work.set()

    def _replace_producer(self) -> None:
        try:
            new = self._factory(self._config)
        except KafkaException as exc:
            _LOGGER.error("could not create a new Kafka producer: %s", exc)
            return  # stays requested: retried on the next poll
        with self._swap_lock:
            old, self._producer = self._producer, new
            self._generation += 1
            self._replace_requested.clear()
            reason = self._replace_reason
        self.replacements += 1
        _LOGGER.error("Kafka producer replaced after %s", reason,
                      extra={"replacements": self.replacements})
        self.on_replaced(reason)
        threading.Thread(target=old.flush, args=(self.publish_timeout_s,),
                         name="kafka-retired-producer", daemon=True).start()

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            _LOGGER.error("fatal Kafka producer error: %s", err.str())
            self._replace_current(err.name())
        else:
            _LOGGER.warning("Kafka producer error: %s", err.str())


def _refusal_for(err: KafkaError) -> PublishFailed | PublishUnconfirmed:
    if err.code() in _UNCONFIRMED_CODES:
        return PublishUnconfirmed(
            f"Kafka did not confirm the event ({err.name()}); it may still land: "
            "retry with the same segment_id")
    return PublishFailed(f"Kafka rejected the event: {err.name()}")
