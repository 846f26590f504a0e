"""`device-agent send FILE` delivers the file (issue 23): the real agent command, the real
gateway and broker, and the PCM put back together from Kafka's records."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

from device_agent.capture.wav import wav_file_pcm
from devkit.file_send import delivered_segments, run_send
from devkit.gateway_process import GatewayProcess
from devkit.kafka_reader import KafkaReader
from devkit.signals import speech_like_pcm
from devkit.speech import loud_bounds, phrases_with_pauses
from ingress_common.protocol import BYTES_PER_SECOND
from ingress_common.wav import pcm_to_wav

PHRASES = ["turn on the kitchen lights", "what is the weather tomorrow", "play some music"]


def sox(*args: str) -> None:
    subprocess.run(["sox", *args], check=True, capture_output=True, timeout=120)


def tone_wav(path: Path) -> Path:
    sox("-n", "-r", "16000", "-c", "1", "-b", "16", str(path), "synth", "3", "sine", "440")
    return path


def silence_wav(path: Path) -> Path:
    sox("-n", "-r", "16000", "-c", "1", "-b", "16", str(path), "trim", "0", "5")
    return path


def music_48k_stereo_wav(path: Path) -> Path:
    """Chords that differ per channel, with a tremolo: not speech, not a steady tone."""
    sox("-n", "-r", "48000", "-c", "2", "-b", "16", str(path), "synth", "4", "pluck", "C3",
        "pluck", "E3", "tremolo", "5", "40", "gain", "-6")
    return path


def sweep_wav(path: Path, seconds: int) -> Path:
    sox("-n", "-r", "16000", "-c", "1", "-b", "16", str(path), "synth", str(seconds),
        "sine", "200-3000", "gain", "-10")
    return path


def assert_arrived_whole(reader: KafkaReader, url: str, device: str, wav: Path) -> list[bytes]:
    segments = delivered_segments(reader, url, device)
    ids = [e.headers["segment_id"] for e in segments]
    assert len(ids) == len(set(ids)), "each segment once"
    pcm = [e.pcm for e in segments]
    assert b"".join(pcm) == wav_file_pcm(wav), "the segments concatenate to the converted file"
    return pcm


@pytest.mark.parametrize("make", [tone_wav, silence_wav, music_48k_stereo_wav])
def test_a_file_without_speech_arrives_whole(gateway: GatewayProcess, reader: KafkaReader,
                                             tmp_path: Path, make) -> None:
    device = f"send-{make.__name__}"
    wav = make(tmp_path / f"{make.__name__}.wav")
    run = run_send(gateway.ws_url, device, wav)
    assert run.returncode == 0, run.verdict
    assert "delivered as 1 segment(s)" in run.verdict
    assert len(assert_arrived_whole(reader, gateway.ws_url, device, wav)) == 1


def test_a_100_s_file_arrives_as_consecutive_segments(gateway: GatewayProcess,
                                                      reader: KafkaReader, tmp_path: Path) -> None:
    wav = sweep_wav(tmp_path / "sweep-100s.wav", 100)
    run = run_send(gateway.ws_url, "send-100s", wav)
    assert run.returncode == 0, run.verdict
    pcm = assert_arrived_whole(reader, gateway.ws_url, "send-100s", wav)
    assert [len(p) // BYTES_PER_SECOND for p in pcm] == [30, 30, 30, 10]  # max_segment_s 30
    assert run.summary["segments_acked"] == run.summary["segments"] == 4
    assert len(run.replies) == 4 and all(r["event"] == "published" for r in run.replies)


def test_vad_on_speech_gives_one_record_per_phrase(gateway: GatewayProcess, reader: KafkaReader,
                                                   tmp_path: Path) -> None:
    signal, spans = phrases_with_pauses(PHRASES, pause_s=1.5, seed=7)
    wav = tmp_path / "phrases.wav"
    wav.write_bytes(pcm_to_wav(signal))
    run = run_send(gateway.ws_url, "send-vad", wav, "--vad")
    assert run.returncode == 0, run.verdict
    segments = delivered_segments(reader, gateway.ws_url, "send-vad")
    assert len(segments) == len(PHRASES)
    for event, (start, end) in zip(segments, spans, strict=True):
        at = signal.find(event.pcm)
        assert at >= 0, "an exact slice of the file"
        first_loud, last_loud = loud_bounds(signal[start:end])
        assert at <= start + first_loud and start + last_loud <= at + len(event.pcm), \
            "the whole phrase"


def test_vad_on_a_tone_says_no_speech_and_fails(gateway: GatewayProcess, reader: KafkaReader,
                                               tmp_path: Path) -> None:
    run = run_send(gateway.ws_url, "send-vad-tone", tone_wav(tmp_path / "tone.wav"), "--vad")
    assert run.returncode == 1
    assert "no speech found" in run.verdict and "nothing was sent" in run.verdict
    assert delivered_segments(reader, gateway.ws_url, "send-vad-tone") == []


def test_a_file_that_is_not_a_wav_is_refused_with_a_reason(gateway: GatewayProcess,
                                                          tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not audio")
    run = run_send(gateway.ws_url, "send-bogus", bogus)
    assert run.returncode == 2
    assert "cannot read it as a PCM WAV file" in run.verdict


def test_send_to_an_unreachable_gateway_gives_up_at_its_timeout(tmp_path: Path) -> None:
    """Issue 34: a script on a box that calls `send` cannot hang: past --timeout-s it exits
    1 and says what was not delivered."""
    wav = tmp_path / "speech.wav"
    wav.write_bytes(pcm_to_wav(speech_like_pcm(3.0, seed=4)))
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        url = f"ws://127.0.0.1:{closed.getsockname()[1]}/ws/audio"
    began = time.monotonic()
    run = run_send(url, "send-timeout", wav, "--timeout-s", "3", timeout_s=60)
    assert run.returncode == 1
    assert 3.0 <= time.monotonic() - began < 20
    assert "gave up after 3 s (--timeout-s); nothing delivered" in run.verdict
