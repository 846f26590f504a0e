"""The event schema's registration in a schema registry, and the serializer the gateway's
operator chose (`GATEWAY_EVENT_FRAMING`; the framings themselves: `ingress_common.framing`).

With a registry URL the gateway registers the schema under the topic's value subject at
start-up, whatever the framing, as the seeds' gateway does. Confluent framing needs the id
that registration returns, so it is registered once and the body is spliced as for
schemaless (the WAV is still copied once).
"""
from __future__ import annotations

import threading
import time

try:  # confluent_kafka's registry client speaks httpx2, or httpx in older releases
    from httpx2 import HTTPError as TransportError
except ImportError:  # pragma: no cover - depends on the confluent_kafka release
    from httpx import HTTPError as TransportError  # type: ignore[no-redef]

from ingress_common.audio_event import (
    SCHEMA_TEXT,
    AudioInputEvent,
    EventSerializer,
    serialize_schemaless,
)
from ingress_common.framing import Framing, confluent_prefix

REGISTRY_TIMEOUT_S = 3
"""Seconds one request to the schema registry may take."""
RETRY_AFTER_FAILURE_S = 1.0
"""After a failed registration, the next attempt waits this long."""


class SchemaUnregistered(Exception):
    """The schema registry did not register the event schema (unreachable, or refused it)."""

    def __init__(self, registry_url: str, subject: str, reason: str) -> None:
        self.registry_url, self.subject, self.reason = registry_url, subject, reason
        super().__init__(f"schema not registered under {subject}: {reason}")


def value_subject(topic: str) -> str:
    """The registry subject of a topic's values (Confluent's TopicNameStrategy)."""
    return f"{topic}-value"


class SchemaRegistration:
    """Registers the event schema under the topic's value subject; remembers the id."""

    def __init__(self, registry_url: str, topic: str) -> None:
        from confluent_kafka.schema_registry import SchemaRegistryClient

        self.registry_url = registry_url
        self.subject = value_subject(topic)
        # new_client: a `mock://` URL gives confluent_kafka's in-process registry (unit tests)
        self._client = SchemaRegistryClient.new_client({"url": registry_url,
                                                        "timeout": REGISTRY_TIMEOUT_S,
                                                        "max.retries": 0})
        self._lock = threading.Lock()
        self._retry_at = 0.0
        self.schema_id: int | None = None
        self.problem: str | None = "not registered yet"

    def register(self) -> int:
        """The schema id, registering the schema first if this gateway has not yet. While
        another thread registers, or within a second of a failure, it raises at once: a
        registry that is down never holds a connection longer than one request."""
        from confluent_kafka.schema_registry import Schema
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        if self.schema_id is not None:
            return self.schema_id
        if time.monotonic() < self._retry_at or not self._lock.acquire(blocking=False):
            raise SchemaUnregistered(self.registry_url, self.subject, self.problem or "")
        try:
            self.schema_id = self._client.register_schema(self.subject, Schema(SCHEMA_TEXT, "AVRO"))
        except (SchemaRegistryError, TransportError, OSError, ValueError) as exc:
            self.problem = str(exc) or type(exc).__name__
            self._retry_at = time.monotonic() + RETRY_AFTER_FAILURE_S
            raise SchemaUnregistered(self.registry_url, self.subject, self.problem) from None
        finally:
            self._lock.release()
        self.problem = None
        return self.schema_id


def confluent_serializer(registration: SchemaRegistration) -> EventSerializer:
    """Confluent framing around the spliced schemaless body. Call only once registered."""

    def serialize(event: AudioInputEvent, topic: str) -> bytes:
        if registration.schema_id is None:
            raise SchemaUnregistered(registration.registry_url, registration.subject,
                                     registration.problem or "not registered")
        return confluent_prefix(registration.schema_id) + \
            serialize_schemaless(event, topic)

    return serialize


def serializer_for(framing: Framing, registration: SchemaRegistration | None) -> EventSerializer:
    if framing is Framing.SCHEMALESS:
        return serialize_schemaless
    if registration is None:
        raise ValueError("confluent framing needs a schema registry")
    return confluent_serializer(registration)
