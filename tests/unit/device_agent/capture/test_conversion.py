"""The agent's one conversion path: decode, channel choice, soxr, S16_LE (pure parts)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from device_agent.capture.channels import SWITCH_WINDOWS, WINDOW_S, ChannelPicker, ChannelPolicy
from device_agent.capture.conversion import Converter
from device_agent.capture.format_choice import NoUsableFormat, accept, sample_format_for
from device_agent.capture.formats import FrameAligner, PcmFormat, decode_samples
from device_agent.capture.wav import read_blocks, wav_file_pcm
from devkit.audio_analysis import encode_frames, samples_of, tone_frequency


@pytest.mark.parametrize("sample_format", ["S16_LE", "S32_LE", "S24_3LE"])
def test_each_sample_format_decodes_to_the_same_samples(sample_format: str) -> None:
    x = np.array([[0.5, -0.25], [-1.0, 0.125], [0.0, 0.999]])
    decoded = decode_samples(encode_frames(x, sample_format), PcmFormat(16000, 2, sample_format))
    assert decoded.shape == (3, 2)
    assert np.allclose(decoded, x, atol=1 / 32768)


def test_a_partial_frame_waits_for_the_rest() -> None:
    aligner = FrameAligner(6)  # S24_3LE stereo
    assert aligner.whole_frames(b"\1" * 8) == b"\1" * 6
    assert aligner.whole_frames(b"\2" * 4) == b"\1\1" + b"\2" * 4


def test_the_wire_format_passes_through_byte_for_byte() -> None:
    pcm = bytes(range(256)) * 10
    converter = Converter(PcmFormat(16000, 1, "S16_LE"))
    assert converter.convert(pcm[:301]) + converter.convert(pcm[301:]) == pcm


def test_a_48k_stereo_tone_comes_out_16k_mono_at_its_frequency() -> None:
    rate = 48000
    t = np.arange(rate * 2) / rate
    stereo = np.stack([0.3 * np.sin(2 * np.pi * 1234 * t)] * 2, axis=1)
    data = encode_frames(stereo, "S16_LE")
    converter = Converter(PcmFormat(rate, 2, "S16_LE"), ChannelPolicy("mix"))
    out = b"".join(converter.convert(data[i:i + 3838]) for i in range(0, len(data), 3838))
    out += converter.flush()
    assert abs(len(out) // 2 - 32000) <= 2  # 2 s at 16 kHz, nothing lost in the chunking
    assert abs(tone_frequency(samples_of(out)[4000:28000], 1234) - 1234) < 0.5


def test_a_fixed_channel_is_taken_and_the_others_ignored() -> None:
    block = np.array([[0.1, 0.9, 0.3], [0.2, 0.8, 0.4]], dtype=np.float32)
    picker = ChannelPicker(ChannelPolicy.parse("2"), channels=3, rate_hz=16000)
    assert np.array_equal(picker.mono(block), block[:, 1])
    with pytest.raises(ValueError):
        ChannelPicker(ChannelPolicy.parse("4"), channels=3, rate_hz=16000)


def _speech_band_block(seconds: float, loud_channel: int, channels: int = 4) -> np.ndarray:
    rng = np.random.default_rng(loud_channel)
    n = int(16000 * seconds)
    block = rng.normal(0, 0.001, (n, channels)).astype(np.float32)
    block[:, loud_channel] += (0.3 * np.sin(2 * np.pi * 800 * np.arange(n) / 16000)).astype(np.float32)
    return block


def test_auto_moves_to_the_channel_with_the_speech_and_ignores_a_short_burst() -> None:
    picker = ChannelPicker(ChannelPolicy("auto"), channels=4, rate_hz=16000)
    picker.mono(_speech_band_block(WINDOW_S * (SWITCH_WINDOWS + 1), loud_channel=1))
    assert picker.current == 1
    picker.mono(_speech_band_block(WINDOW_S, loud_channel=3))  # one window: a cough
    picker.mono(_speech_band_block(WINDOW_S * 2, loud_channel=1))
    assert (picker.current, picker.switches) == (1, 1)


def test_the_sample_format_preference_and_what_is_refused() -> None:
    assert sample_format_for(["S32_LE", "S24_3LE"]) == "S32_LE"
    with pytest.raises(NoUsableFormat):
        sample_format_for(["FLOAT_LE", "U8"])
    assert accept(44100, 2, "S16_LE", "S16_LE", ChannelPolicy("auto")) == PcmFormat(44100, 2)
    with pytest.raises(NoUsableFormat, match="outside"):
        accept(96000, 1, "S16_LE", "S16_LE", ChannelPolicy("auto"))
    with pytest.raises(NoUsableFormat, match="channel 3"):
        accept(16000, 2, "S16_LE", "S16_LE", ChannelPolicy.parse("3"))


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox makes the 24-bit WAV")
def test_a_24_bit_stereo_extensible_wav_reads_and_converts(tmp_path: Path) -> None:
    wav = tmp_path / "tone.wav"
    subprocess.run(["sox", "-n", "-r", "22050", "-c", "2", "-b", "24", str(wav),
                    "synth", "1.5", "sine", "440", "vol", "0.5"], check=True, timeout=30)
    fmt, _ = read_blocks(wav)
    assert fmt == PcmFormat(22050, 2, "S24_3LE")
    pcm = wav_file_pcm(wav)
    assert abs(len(pcm) // 2 - 24000) <= 2
    assert abs(tone_frequency(samples_of(pcm)[2000:22000], 440) - 440) < 0.5
