import pytest

from edge_gateway.limits import StreamLimits
from edge_gateway.session import State, StreamSession
from ingress_common import refusals as errors
from ingress_common.protocol import Ack, Done, Start

LIMITS = StreamLimits(max_buffer_bytes=1000, max_frame_bytes=100, idle_timeout_s=10,
                      session_timeout_s=60, max_messages_per_s=10, message_burst=20,
                      ack_every_frames=3)


def session() -> StreamSession:
    return StreamSession(LIMITS, opened_at=0.0)


def test_frames_are_buffered_and_acked_every_n() -> None:
    s = session()
    acks = [s.on_binary(b"ab" * 10, now=0.1 * i) for i in range(1, 7)]
    assert acks == [None, None, Ack(3, 60), None, None, Ack(6, 120)]
    assert s.pcm == b"ab" * 60
    assert s.on_text('{"event":"done"}', now=1.0) == Done()
    assert s.state is State.FINISHED


def test_start_is_accepted_only_first() -> None:
    s = session()
    assert isinstance(s.on_text('{"event":"start","device_id":"d"}', 0.1), Start)
    assert s.start.device_id == "d"
    with pytest.raises(errors.UnexpectedEvent):
        s.on_text('{"event":"start"}', 0.2)


def test_start_after_audio_is_refused() -> None:
    s = session()
    s.on_binary(b"\0\0", 0.1)
    with pytest.raises(errors.UnexpectedEvent):
        s.on_text('{"event":"start"}', 0.2)


def test_frame_over_the_limit_is_refused() -> None:
    with pytest.raises(errors.FrameTooLarge):
        session().on_binary(b"\0" * 101, 0.1)


def test_buffer_cap_is_exact() -> None:
    s = session()
    for i in range(10):
        s.on_binary(b"\0" * 100, 0.01 * i)
    assert s.buffered_bytes == 1000
    with pytest.raises(errors.BufferFull):
        s.on_binary(b"\0\0", 0.2)
    assert s.buffered_bytes == 1000


def test_done_without_audio_or_with_odd_bytes_is_refused() -> None:
    with pytest.raises(errors.EmptyStream):
        session().on_text('{"event":"done"}', 0.1)
    s = session()
    s.on_binary(b"\0\0\0", 0.1)
    with pytest.raises(errors.MisalignedPcm):
        s.on_text('{"event":"done"}', 0.2)


def test_nothing_is_accepted_after_done() -> None:
    s = session()
    s.on_binary(b"\0\0", 0.1)
    s.on_text('{"event":"done"}', 0.2)
    with pytest.raises(errors.UnexpectedEvent):
        s.on_binary(b"\0\0", 0.3)


def test_rate_limit_allows_the_burst_then_refuses() -> None:
    s = session()
    for _ in range(20):
        s.on_binary(b"\0\0", 0.5)
    with pytest.raises(errors.RateLimited):
        s.on_binary(b"\0\0", 0.5)


def test_sustained_rate_within_limit_is_accepted() -> None:
    s = session()
    for i in range(400):  # 10/s for 40 s, below the 60 s session cap
        s.on_binary(b"\0\0", now=i * 0.1)
    assert s.frames == 400


def test_idle_deadline_and_timeout() -> None:
    s = session()
    s.on_binary(b"\0\0", 2.0)
    assert s.seconds_to_deadline(5.0) == pytest.approx(7.0)
    s.on_timeout(11.9)  # not yet idle: nothing raised
    with pytest.raises(errors.IdleTimeout):
        s.on_timeout(12.0)


def test_session_deadline_wins_over_idle() -> None:
    s = session()
    for i in range(1, 60):
        s.on_binary(b"\0\0", now=float(i))
    assert s.seconds_to_deadline(59.5) == pytest.approx(0.5)
    with pytest.raises(errors.SessionTimeout):
        s.on_timeout(60.0)


def test_a_late_message_raises_the_timeout_it_missed() -> None:
    s = session()
    with pytest.raises(errors.IdleTimeout):
        s.on_binary(b"\0\0", 10.5)


def test_a_released_buffer_keeps_its_size_and_refuses_a_second_read() -> None:
    s = session()
    s.on_binary(b"ab" * 16, 0.1)
    s.on_text('{"event":"done"}', 0.2)
    before = (s.buffered_bytes, s.duration_ms)
    s.release_pcm()
    assert (s.buffered_bytes, s.duration_ms) == before == (32, 1)
    with pytest.raises(RuntimeError):
        s.pcm  # noqa: B018 - a second event from a released buffer would be empty
