"""Issue 32, end to end as the seeds ask: one spoken phrase through the real agent on the
ALSA test microphone (real libasound), a real gateway and Kafka, then a real speech
recognizer (Whisper tiny.en, offline). The transcript holds the phrase's words, the record
carries the correlation_id of the `connected` message the agent was given, and its headers
say what the device heard."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from devkit.agent_process import AgentProcess
from devkit.alsa_fixture import FixtureDevice, alsa_env
from devkit.fault_rig import events_of
from devkit.gateway_process import GatewayProcess
from devkit.kafka_reader import KafkaReader
from devkit.signals import room_noise
from devkit.speech import spoken_pcm
from ingress_common.pcm import BYTES_PER_SECOND, SAMPLE_RATE_HZ

pytest.importorskip("alsaaudio", reason="pyalsaaudio is not installed (needs libasound2-dev)")
pytest.importorskip("faster_whisper", reason="the recognizer is in the dev extra")

PHRASE = "please turn on the kitchen lights"


def microphone_file(path: Path) -> bytes:
    """A quiet room, the phrase at about -26 dBFS, the room again."""
    speech = np.frombuffer(spoken_pcm(PHRASE), "<i2").astype(np.float64)
    speech *= 32768 * 10 ** (-26 / 20) / np.sqrt(np.mean(speech[np.abs(speech) > 300] ** 2))
    room = np.frombuffer(room_noise(6.0, seed=3, rms=30.0), "<i2").astype(np.float64)
    signal = room.copy()
    at = int(2.0 * SAMPLE_RATE_HZ)
    signal[at: at + len(speech)] += speech
    pcm = np.clip(signal, -32768, 32767).astype("<i2").tobytes()
    path.write_bytes(pcm)
    return pcm


def streamed(log: Path) -> dict[str, str]:
    """segment_id → the correlation_id of its stream's `connected`, from the agent's log."""
    found = {}
    for line in log.read_text().splitlines():
        if line.startswith("{") and '"segment streamed"' in line:
            entry = json.loads(line)
            found[entry["segment_id"]] = entry["correlation_id"]
    return found


def test_a_spoken_phrase_reaches_the_recognizer_whole(gateway: GatewayProcess,
                                                      reader: KafkaReader, tmp_path: Path) -> None:
    from devkit.asr import Recognizer, normalized

    mic = tmp_path / "mic.raw"
    pcm = microphone_file(mic)
    env = alsa_env(tmp_path / "home", [FixtureDevice("asrmic", mic, SAMPLE_RATE_HZ, 1)])
    agent = AgentProcess(tmp_path, gateway.ws_url, "alsa:asrmic", "asr-e2e", settings={
        "HOME": env["HOME"], "AGENT_LOG_LEVEL": "DEBUG"}, until_drained=False).start()
    try:
        [record] = events_of(reader, "asr-e2e", 1, timeout_s=len(pcm) / BYTES_PER_SECOND + 15)
    finally:
        agent.stop()
    transcript = normalized(Recognizer().transcribe(record.pcm))
    assert set(normalized(PHRASE).split()) <= set(transcript.split()), transcript
    connected = streamed(agent.log_path)[record.headers["segment_id"]]
    assert record.event.correlation_id == connected == record.headers["correlation_id"]
    assert float(record.headers["heard_snr_db"]) > 20  # a quiet room
    assert 0.3 < float(record.headers["heard_speech_share"]) < 1.0
    assert record.headers["heard_background_talk"] == "false"
