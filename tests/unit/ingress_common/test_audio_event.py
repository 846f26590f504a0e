import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from ingress_common.audio_event import (
    AudioInputEvent,
    deserialize_schemaless,
    serialize_schemaless,
)
from ingress_common.wav import pcm_to_wav, wav_parts, wav_to_pcm


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


def test_the_schema_takes_the_speech_lib_namespace() -> None:
    """A registry that holds the ASR consumer's schema (speech-lib) must accept ours."""
    import json

    from ingress_common.audio_event import SCHEMA_TEXT

    schema = json.loads(SCHEMA_TEXT)
    assert (schema["namespace"], schema["name"]) == ("ai.speech.shared.events", "AudioInputEvent")


def _fastavro_reference(event: AudioInputEvent) -> bytes:
    import io

    import fastavro

    from ingress_common.audio_event import PARSED_SCHEMA

    out = io.BytesIO()
    fastavro.schemaless_writer(out, PARSED_SCHEMA, event.record())
    return out.getvalue()


@settings(max_examples=200, deadline=None)
@given(pcm_bytes=st.sampled_from([0, 2, 126, 128, 8190, 8192, 1_048_576]) | st.integers(0, 20000),
       correlation_id=st.text(max_size=80), source=st.text(max_size=40),
       language=st.none() | st.text(max_size=20), rate=st.integers(1, 2**31 - 1))
def test_the_spliced_encoding_is_what_fastavro_writes(pcm_bytes: int, correlation_id: str,
                                                      source: str, language: str | None,
                                                      rate: int) -> None:
    """Lengths straddle the varint's byte boundaries (63/64 and 8191/8192 zig-zagged)."""
    pcm = memoryview(bytes(range(256)) * (pcm_bytes // 256 + 1))[:pcm_bytes]
    event = AudioInputEvent.create(correlation_id, wav_parts(pcm, rate), rate, source, language)
    spliced = serialize_schemaless(event)
    assert spliced == _fastavro_reference(event)
    assert deserialize_schemaless(spliced).wav == bytes(event.wav)


def test_the_wav_header_is_what_the_wave_module_writes() -> None:
    import io
    import wave

    pcm = bytes(range(200)) * 7
    for rate in (8000, 16000, 48000):
        out = io.BytesIO()
        with wave.open(out, "wb") as reference:
            reference.setnchannels(1)
            reference.setsampwidth(2)
            reference.setframerate(rate)
            reference.writeframes(pcm)
        assert pcm_to_wav(pcm, rate) == out.getvalue()
