import json

import pytest

from ingress_common import refusals as errors
from ingress_common.protocol import (
    Ack,
    Connected,
    Done,
    Error,
    Heard,
    Published,
    Start,
    encode_server,
    parse_client_text,
    parse_server_text,
)


def test_start_round_trips_through_its_message() -> None:
    start = Start(language_hint="en-US", device_id="pi-7", segment_id="pi-7:boot1:42",
                  captured_at_ms=1_790_000_000_000, capture_monotonic_ms=12345)
    assert parse_client_text(json.dumps(start.message())) == start


def test_done_parses() -> None:
    assert parse_client_text('{"event":"done"}') == Done()


def test_done_round_trips_what_the_device_heard() -> None:
    done = Done(Heard(snr_db=12.5, speech_share=0.62, background_talk=True))
    assert parse_client_text(json.dumps(done.message())) == done
    assert Done().message() == {"event": "done"}


@pytest.mark.parametrize(
    ("text", "refusal"),
    [
        ("not json", errors.BadJson),
        ("[1,2]", errors.BadJson),
        ('{"event":"pause"}', errors.UnknownEvent),
        ('{"no_event":1}', errors.UnknownEvent),
        ('{"event":"start","sample_rate_hz":44100}', errors.UnsupportedSampleRate),
        ('{"event":"start","sample_rate_hz":"16000"}', errors.BadStart),
        ('{"event":"start","device_id":"has space"}', errors.BadStart),
        ('{"event":"start","language_hint":"english please"}', errors.BadStart),
        ('{"event":"start","captured_at_ms":-1}', errors.BadStart),
        ('{"event":"start","device_id":"' + "x" * 200 + '"}', errors.BadStart),
        ('"' + "x" * 5000 + '"', errors.BadJson),
        ('{"event":"done","heard":"loud"}', errors.BadDone),
        ('{"event":"done","heard":{"snr_db":"12","speech_share":0.5,"background_talk":false}}',
         errors.BadDone),
        ('{"event":"done","heard":{"snr_db":12,"speech_share":1.5,"background_talk":false}}',
         errors.BadDone),
        ('{"event":"done","heard":{"snr_db":12,"speech_share":0.5,"background_talk":1}}',
         errors.BadDone),
    ],
)
def test_bad_client_text_is_refused_with_its_code(text: str, refusal: type) -> None:
    with pytest.raises(refusal):
        parse_client_text(text)


def test_close_codes_follow_the_documented_table() -> None:
    assert errors.BadJson.close_code == 1007
    assert errors.UnknownEvent.close_code == 1003
    assert errors.UnsupportedSampleRate.close_code == 1003
    assert errors.FrameTooLarge.close_code == 1009
    assert errors.BufferFull.close_code == 1009
    assert errors.RateLimited.close_code == 1008
    assert errors.PublishUnconfirmed.close_code == 1013
    assert errors.PublishFailed.close_code == 1011
    assert errors.SegmentInProgress.close_code == 1013 and errors.SegmentInProgress.retryable


def test_server_events_encode_as_the_wire_format() -> None:
    published = Published("c1", "t", 2, 40, audio_bytes=32000, duration_ms=1000, segment_id="s")
    assert parse_server_text(encode_server(published)) == {
        "event": "published", "correlation_id": "c1", "topic": "t", "partition": 2,
        "offset": 40, "audio_bytes": 32000, "duration_ms": 1000, "segment_id": "s",
        "duplicate": False}
    assert parse_server_text(encode_server(Ack(seq=10, bytes=3200))) == {
        "event": "ack", "seq": 10, "bytes": 3200}
    connected = parse_server_text(encode_server(Connected("c1", {"max_frame_bytes": 65536})))
    assert connected["event"] == "connected" and connected["correlation_id"] == "c1"


def test_error_carries_the_location_only_when_published() -> None:
    refused = parse_server_text(encode_server(Error("bad_json", "m", False, False, "c1")))
    assert refused["published"] is False and "offset" not in refused
    where = Published("c1", "t", 0, 7, 2, 0)
    timed_out = parse_server_text(encode_server(Error("idle_timeout", "m", True, False, "c1", where)))
    assert timed_out["published"] is True and timed_out["offset"] == 7
