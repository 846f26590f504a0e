"""Hostile input, generated: any sequence of text and binary frames, at any pace, leads only
to outcomes documented in docs/protocol.md, never an undocumented exception, and never more
buffered audio than the limit."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from edge_gateway.limits import StreamLimits
from edge_gateway.session import State, StreamSession
from ingress_common.protocol import Ack, Done, Start, parse_client_text
from ingress_common.refusals import StreamRefused, StreamTimedOut

LIMITS = StreamLimits(max_buffer_bytes=600, max_frame_bytes=100, idle_timeout_s=10,
                      session_timeout_s=60, max_messages_per_s=10, message_burst=20,
                      ack_every_frames=3)
PROTOCOL_DOC = Path(__file__).resolve().parents[3] / "docs" / "protocol.md"
DOCUMENTED = {
    (code, int(close))
    for code, close in re.findall(r"^\| `([a-z_]+)` \|.*\| (\d{4}) \|$", PROTOCOL_DOC.read_text(), re.M)
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children,
                                                                      max_size=3),
    max_leaves=8)
start_messages = st.fixed_dictionaries(
    {"event": st.just("start")},
    optional={"sample_rate_hz": st.sampled_from([16000, 8000, 44100]) | json_values,
              "device_id": st.text(max_size=30) | json_values,
              "segment_id": st.text(max_size=30) | json_values,
              "language_hint": st.sampled_from(["en-US", "pt-PT"]) | json_values,
              "captured_at_ms": st.integers() | json_values}).map(json.dumps)
texts = (start_messages
         | st.sampled_from(['{"event":"done"}', '{"event":"ack"}', "[]", "null", "{", ""])
         | st.dictionaries(st.text(max_size=8), json_values, max_size=4).map(json.dumps)
         | st.text(max_size=60)
         | st.text(min_size=4090, max_size=4200))
messages = st.lists(st.tuples(st.floats(0, 12), st.one_of(texts, st.binary(max_size=130))),
                    max_size=40)


@given(messages)
@settings(max_examples=300, deadline=None)
def test_any_message_sequence_ends_only_in_documented_ways(sequence: list[tuple[float, str | bytes]]) -> None:
    session = StreamSession(LIMITS, opened_at=0.0)
    now = 0.0
    for gap, message in sequence:
        now += gap
        try:
            if isinstance(message, bytes):
                outcome = session.on_binary(message, now)
                assert outcome is None or isinstance(outcome, Ack)
            else:
                outcome = session.on_text(message, now)
                assert isinstance(outcome, Start | Done)
        except StreamRefused as refusal:
            assert (refusal.code, refusal.close_code) in DOCUMENTED, refusal.code
            assert session.buffered_bytes <= LIMITS.max_buffer_bytes
            return
        except StreamTimedOut as timeout:
            assert (timeout.code, timeout.close_code) in DOCUMENTED, timeout.code
            return
        assert session.buffered_bytes <= LIMITS.max_buffer_bytes
        if isinstance(outcome, Done):
            assert session.state is State.FINISHED
            assert session.buffered_bytes > 0 and session.buffered_bytes % 2 == 0
            return


@given(st.text(max_size=5000) | start_messages)
@settings(max_examples=300, deadline=None)
def test_parsing_any_text_yields_an_event_or_a_documented_refusal(text: str) -> None:
    try:
        event = parse_client_text(text)
    except StreamRefused as refusal:
        assert (refusal.code, refusal.close_code) in DOCUMENTED
        return
    assert isinstance(event, Start | Done)


@given(start_messages)
@settings(max_examples=100, deadline=None)
def test_an_authenticated_device_id_always_wins(text: str) -> None:
    session = StreamSession(LIMITS, opened_at=0.0, authenticated_device_id="pi-from-token")
    try:
        session.on_text(text, now=0.1)
    except StreamRefused:
        return
    assert session.start.device_id == "pi-from-token"


def test_the_documented_codes_were_found() -> None:
    codes = {code for code, _ in DOCUMENTED}
    assert {"bad_json", "frame_too_large", "rate_limited", "idle_timeout", "buffer_full"} <= codes
