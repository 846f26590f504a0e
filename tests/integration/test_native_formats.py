"""Microphones that offer only their own format, through real libasound (issue 12).

Each device is devkit's ioplug plugin, which offers exactly one rate, channel count and
sample format and plays a file at real time. A real agent captures from it, a real gateway
publishes, and the event read back from Kafka must be 16 kHz mono and match the signal:
a 1 kHz tone within ±2 Hz; a 10 kHz tone of the same level (above the 8 kHz Nyquist limit
of 16 kHz) at least 50 dB under it wherever it could have folded to; speech with a
normalized cross-correlation of at least 0.99 against sox's own resampling of it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from devkit.agent_process import AgentProcess
from devkit.alsa_fixture import FixtureDevice, alsa_env
from devkit.audio_analysis import best_alignment, encode_frames, peak_db, samples_of, tone_frequency
from devkit.fault_rig import events_of
from devkit.gateway_process import GatewayProcess
from devkit.kafka_reader import KafkaReader
from devkit.speech import sox_convert, spoken_at
from ingress_common.protocol import SAMPLE_RATE_HZ
from ingress_common.wav import wav_to_pcm

pytest.importorskip("alsaaudio", reason="pyalsaaudio is not installed (needs libasound2-dev)")

TONE_HZ, OUT_OF_BAND_HZ, LEVEL = 1000.0, 10000.0, 0.25
LEAD_S, TONE_S, PAUSE_S = 0.8, 2.0, 1.5
PHRASE = "Turn the kitchen lights off at half past ten"
ARTIFACT = Path("test-artifacts/native-formats.md")


@dataclass(frozen=True)
class Case:
    name: str
    rate_hz: int
    channels: int
    sample_format: str
    speech_channel: int = 1
    """1-based; the other channels carry a 440 Hz tone and noise, so a wrong pick shows."""
    agent_channel: str = "auto"

    @property
    def has_out_of_band_tone(self) -> bool:
        return self.rate_hz > 2 * OUT_OF_BAND_HZ


CASES = [
    Case("stereo48", 48000, 2, "S16_LE"),
    Case("mono44k1", 44100, 1, "S16_LE"),
    Case("quad16", 16000, 4, "S16_LE", speech_channel=2, agent_channel="2"),
    Case("s32mono48", 48000, 1, "S32_LE"),
]


def capture_content(case: Case, speech: np.ndarray, seed: int) -> np.ndarray:
    """(frames, channels) at the device rate: lead silence, tone, pause, speech, tail."""
    rate = case.rate_hz
    t = np.arange(int(TONE_S * rate)) / rate
    tone = LEVEL * np.sin(2 * np.pi * TONE_HZ * t)
    if case.has_out_of_band_tone:
        tone += LEVEL * np.sin(2 * np.pi * OUT_OF_BAND_HZ * t)
    mono = np.concatenate([np.zeros(int(LEAD_S * rate)), tone, np.zeros(int(PAUSE_S * rate)),
                           speech, np.zeros(int(1.0 * rate))])
    rng = np.random.default_rng(seed)
    frames = np.empty((len(mono), case.channels))
    for ch in range(case.channels):
        if ch == case.speech_channel - 1 or case.agent_channel == "auto":
            frames[:, ch] = mono + rng.normal(0, 1e-4, len(mono))  # a -80 dBFS hiss
        else:
            distractor = 0.2 * np.sin(2 * np.pi * 440 * np.arange(len(mono)) / rate)
            frames[:, ch] = distractor + rng.normal(0, 0.01, len(mono))
    return frames


@pytest.fixture(scope="module")
def figures() -> list[str]:
    rows: list[str] = []
    yield rows
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(
        "| device | read back | 1 kHz tone | 10 kHz alias vs 1 kHz | speech xcorr vs sox |\n"
        "|---|---|---|---|---|\n" + "".join(rows))
    print("\n" + ARTIFACT.read_text())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_fixed_format_microphone_lands_as_16k_mono_matching_the_signal(
        case: Case, gateway: GatewayProcess, reader: KafkaReader, tmp_path: Path,
        figures: list[str]) -> None:
    speech = spoken_at(PHRASE, case.rate_hz)
    content = capture_content(case, speech, seed=len(case.name))
    raw = tmp_path / f"{case.name}.raw"
    raw.write_bytes(encode_frames(content, case.sample_format))
    env = alsa_env(tmp_path / "home", [FixtureDevice(
        case.name, raw, case.rate_hz, case.channels, case.sample_format)])
    device_id = f"native-{case.name}"
    agent = AgentProcess(tmp_path, gateway.ws_url, f"alsa:{case.name}", device_id,
                         settings={"HOME": env["HOME"], "AGENT_CHANNEL": case.agent_channel,
                                   "AGENT_PERIOD_MS": "20",
                                   "AGENT_DETECTOR": "energy"},  # the tones are not speech
                         until_drained=False).start()
    try:
        events = events_of(reader, device_id, 2, timeout_s=60)
    finally:
        agent.stop()
    log = agent.log_path.read_text()
    assert f'"rate_hz": {case.rate_hz}, "channels": {case.channels}, "sample_format": ' \
           f'"{case.sample_format}"' in log, "the device's real format is logged at start-up"
    by_seq = sorted(events, key=lambda e: int(e.headers["segment_id"].rsplit(":", 1)[1]))
    assert len(by_seq) == 2, [e.headers["segment_id"] for e in events]
    for event in by_seq:
        _, wav_rate, wav_channels = wav_to_pcm(event.event.wav)
        assert (event.event.sample_rate_hz, wav_rate, wav_channels) == (SAMPLE_RATE_HZ,) * 2 + (1,)

    tone_part = samples_of(by_seq[0].pcm)[int(0.5 * SAMPLE_RATE_HZ): int(1.7 * SAMPLE_RATE_HZ)]
    measured_hz = tone_frequency(tone_part, TONE_HZ)
    assert abs(measured_hz - TONE_HZ) <= 2.0
    alias_text = "n/a (16 kHz device)"
    if case.has_out_of_band_tone:
        alias_db = peak_db(tone_part, 4000, 8000) - peak_db(tone_part, 900, 1100)
        assert alias_db <= -50.0, f"the 10 kHz tone folded back at {alias_db:.1f} dB"
        alias_text = f"{alias_db:.1f} dB"

    reference = (speech if case.rate_hz == SAMPLE_RATE_HZ
                 else sox_convert(speech, case.rate_hz, SAMPLE_RATE_HZ))
    _, score = best_alignment(samples_of(by_seq[1].pcm), reference)
    assert score >= 0.99
    figures.append(f"| {case.rate_hz} Hz, {case.channels} ch, {case.sample_format}"
                   f"{f', speech on ch {case.speech_channel}' if case.channels > 2 else ''} "
                   f"| 16000 Hz, 1 ch | {measured_hz:.2f} Hz | {alias_text} | {score:.5f} |\n")


def test_alsa_linear_plug_folds_the_10khz_tone_back_so_the_check_has_teeth(
        tmp_path: Path, figures: list[str]) -> None:
    """The same 48 kHz device behind ALSA's `plug` with its linear rate converter (what the
    agent relied on before): the 10 kHz tone comes back as a 6 kHz one, far above -50 dB."""
    case = CASES[0]
    content = capture_content(case, np.zeros(0), seed=1)
    raw = tmp_path / "plugged.raw"
    raw.write_bytes(encode_frames(content, case.sample_format))
    plug = ('pcm.linear16k { type plug rate_converter "linear"\n'
            ' slave.pcm { type mmap_emul slave.pcm "native" } }\n')  # the rate plugin needs mmap
    env = alsa_env(tmp_path / "home", [FixtureDevice("native", raw, 48000, 2)], extra=plug)
    out = tmp_path / "plugged.wav"
    subprocess.run([sys.executable, "-m", "device_agent", "record", "--source", "alsa:linear16k",
                    "--seconds", str(LEAD_S + TONE_S), str(out)],
                   env={**os.environ, **env}, check=True, capture_output=True, timeout=60)
    x = samples_of(out.read_bytes()[44:])
    tone_part = x[int((LEAD_S + 0.3) * SAMPLE_RATE_HZ): int((LEAD_S + 1.5) * SAMPLE_RATE_HZ)]
    alias_db = peak_db(tone_part, 4000, 8000) - peak_db(tone_part, 900, 1100)
    assert alias_db > -50.0
    figures.append(f"| same 48 kHz stereo, through ALSA `plug` (linear) | 16000 Hz, 1 ch "
                   f"| {tone_frequency(tone_part, TONE_HZ):.2f} Hz | {alias_db:.1f} dB | - |\n")


def test_send_takes_a_wav_of_any_format_through_the_same_conversion(
        gateway: GatewayProcess, reader: KafkaReader, tmp_path: Path) -> None:
    """`device-agent send` with a 22.05 kHz stereo 24-bit WAV (WAVE_FORMAT_EXTENSIBLE)."""
    rate = 22050
    speech = spoken_at(PHRASE, rate)
    padded = np.concatenate([np.zeros(rate // 2), speech, np.zeros(rate)])
    wav = tmp_path / "speech-22k-stereo-24bit.wav"
    subprocess.run(["sox", "-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1", "-r",
                    str(rate), "-", "-b", "24", "-c", "2", str(wav)],
                   input=padded.astype("<f4").tobytes(), check=True, timeout=30)
    device_id = "send-any-wav"
    result = subprocess.run([sys.executable, "-m", "device_agent", "send", "--gateway-url",
                             gateway.ws_url, "--device-id", device_id, str(wav)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    events = events_of(reader, device_id, 1, timeout_s=30)
    assert len(events) == 1
    _, score = best_alignment(samples_of(events[0].pcm), sox_convert(speech, rate, SAMPLE_RATE_HZ))
    assert score >= 0.99
