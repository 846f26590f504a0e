"""The real libasound capture path without hardware: an ALSA `file` plugin PCM reads a raw
fixture, and the bytes the agent captures through pyalsaaudio equal the fixture's."""

import os
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from devkit.signals import speech_like_pcm

pytest.importorskip("alsaaudio", reason="pyalsaaudio is not installed (needs libasound2-dev)")


def alsa_home(tmp_path: Path, fixture: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text(
        'pcm.fixture {\n type file\n slave.pcm "null"\n file "/dev/null"\n'
        f' infile "{fixture}"\n format "raw"\n}}\n')
    return home


def test_agent_records_exactly_the_fixture_through_libasound(tmp_path: Path) -> None:
    pcm = speech_like_pcm(2.0, seed=11)
    fixture = tmp_path / "fixture.raw"
    fixture.write_bytes(pcm)
    out = tmp_path / "captured.wav"
    env = {**os.environ, "HOME": str(alsa_home(tmp_path, fixture))}
    subprocess.run([sys.executable, "-m", "device_agent", "record", "--source", "alsa:fixture",
                    "--seconds", "2", str(out)], env=env, check=True, timeout=60,
                   capture_output=True)
    with wave.open(str(out), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
        captured = wav.readframes(wav.getnframes())
    assert captured == pcm


def test_a_missing_alsa_device_is_a_clear_error(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c",
                             "from device_agent.capture.alsa import AlsaSource\n"
                             "AlsaSource('no_such_pcm').open()"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "cannot open ALSA device 'no_such_pcm'" in result.stderr
