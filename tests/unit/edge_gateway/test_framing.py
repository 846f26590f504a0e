"""The two framings of an event (issue 22), against confluent_kafka's own serializer and
its in-process `mock://` registry: no network."""

from __future__ import annotations

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from edge_gateway.schema_registration import SchemaRegistration, SchemaUnregistered, serializer_for
from edge_gateway.settings import load_settings
from ingress_common.audio_event import SCHEMA_TEXT, AudioInputEvent, serialize_schemaless
from ingress_common.config import ConfigError
from ingress_common.framing import Framing, decode_event, unframe
from ingress_common.wav import pcm_to_wav

TOPIC = "speech.audio.ingress"
VALUE = SerializationContext(TOPIC, MessageField.VALUE)


def an_event(correlation_id: str = "c1") -> AudioInputEvent:
    return AudioInputEvent.create(correlation_id, pcm_to_wav(b"\1\0" * 50), 16000, "edge-gateway",
                                  "en")


def test_confluent_framing_is_byte_for_byte_what_avro_serializer_writes() -> None:
    registration = SchemaRegistration("mock://framing-a", TOPIC)
    schema_id = registration.register()
    event = an_event()
    ours = serializer_for(Framing.CONFLUENT, registration)(event, TOPIC)

    client = SchemaRegistryClient.new_client({"url": "mock://framing-a"})
    theirs = AvroSerializer(client, SCHEMA_TEXT, to_dict=lambda e, _ctx: e.record())(event, VALUE)
    assert ours == theirs
    assert unframe(ours)[:2] == (Framing.CONFLUENT, schema_id)
    back: dict = AvroDeserializer(client)(ours, VALUE)  # type: ignore[assignment]
    assert back["correlation_id"] == "c1" and back["payload"]["audio_bytes"] == event.wav


def test_registration_uses_the_topic_value_subject_and_keeps_its_id() -> None:
    registration = SchemaRegistration("mock://framing-b", TOPIC)
    first = registration.register()
    assert registration.register() == first
    assert registration.subject == f"{TOPIC}-value"  # what a stub registry records: integration


def test_schemaless_framing_is_the_body_alone_and_both_are_decoded() -> None:
    event = an_event("c2")
    plain = serializer_for(Framing.SCHEMALESS, None)(event, TOPIC)
    assert plain == serialize_schemaless(event)
    assert unframe(plain) == (Framing.SCHEMALESS, None, plain)
    registration = SchemaRegistration("mock://framing-c", TOPIC)
    registration.register()
    framed = serializer_for(Framing.CONFLUENT, registration)(event, TOPIC)
    assert decode_event(plain).correlation_id == decode_event(framed).correlation_id == "c2"


def test_an_unreachable_registry_raises_at_once_and_holds_no_one() -> None:
    import time

    registration = SchemaRegistration("http://127.0.0.1:9", TOPIC)  # nothing listens on 9
    with pytest.raises(SchemaUnregistered, match=f"{TOPIC}-value"):
        registration.register()
    began = time.monotonic()
    with pytest.raises(SchemaUnregistered):  # within the retry pause: no second request
        registration.register()
    assert time.monotonic() - began < 0.1
    with pytest.raises(SchemaUnregistered):
        serializer_for(Framing.CONFLUENT, registration)(an_event(), TOPIC)


def test_framing_defaults_to_schemaless_even_with_a_registry() -> None:
    assert load_settings(env={}).event_framing is Framing.SCHEMALESS
    settings = load_settings(env={"SCHEMA_REGISTRY_URL": "http://registry:8081"})
    assert settings.event_framing is Framing.SCHEMALESS


def test_confluent_framing_without_a_registry_names_both_settings() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env={"GATEWAY_EVENT_FRAMING": "confluent"})
    assert "GATEWAY_EVENT_FRAMING" in str(info.value) and "SCHEMA_REGISTRY_URL" in str(info.value)
    settings = load_settings(env={"GATEWAY_EVENT_FRAMING": "confluent",
                                  "SCHEMA_REGISTRY_URL": "http://registry:8081"})
    assert settings.event_framing is Framing.CONFLUENT


def test_an_unknown_framing_says_what_is_accepted() -> None:
    with pytest.raises(ConfigError, match="schemaless, confluent"):
        load_settings(env={"GATEWAY_EVENT_FRAMING": "avro"})
