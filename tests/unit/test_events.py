import struct

from edge_gateway.audio import pcm_to_wav, wav_to_pcm
from edge_gateway.events import (
    AudioInputEvent,
    RegistrySerializer,
    deserialize_schemaless,
    serialize_schemaless,
)


def test_wav_round_trip_is_exact() -> None:
    pcm = b"".join(struct.pack("<h", v) for v in range(-32768, 32768, 97))
    assert wav_to_pcm(pcm_to_wav(pcm)) == (pcm, 16000, 1)
    assert len(pcm_to_wav(pcm)) == len(pcm) + 44


def test_schemaless_round_trip() -> None:
    event = AudioInputEvent.create("c1", pcm_to_wav(b"\1\0" * 50), 16000, "edge-gateway", "en")
    back = deserialize_schemaless(serialize_schemaless(event))
    assert back.correlation_id == "c1" and back.wav == event.wav and back.language_hint == "en"
    assert back.event_id == event.event_id
    assert abs((back.timestamp - event.timestamp).total_seconds()) < 0.001


def test_registry_encoding_is_confluent_wire_format() -> None:
    event = AudioInputEvent.create("c1", pcm_to_wav(b"\1\0" * 50), 16000, "edge-gateway", None)
    data = RegistrySerializer("mock://unit")(event, "speech.audio.ingress")
    assert data[0] == 0  # magic byte
    schema_id = int.from_bytes(data[1:5], "big")
    assert schema_id >= 1
    assert deserialize_schemaless(data[5:]).correlation_id == "c1"


def test_the_schema_takes_the_speech_lib_namespace() -> None:
    """A registry that holds the ASR consumer's schema (speech-lib) must accept ours."""
    import json

    from edge_gateway.events import SCHEMA_TEXT

    schema = json.loads(SCHEMA_TEXT)
    assert (schema["namespace"], schema["name"]) == ("ai.speech.shared.events", "AudioInputEvent")
