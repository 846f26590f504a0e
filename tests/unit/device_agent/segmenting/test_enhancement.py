import numpy as np
import pytest

from device_agent.segmenting.enhancement import FRAME_BYTES, EnhancementConfig, Enhancer

pytest.importorskip("webrtc_noise_gain", reason="the front-end extra is not installed")


def test_enhancement_streams_whole_frames_and_keeps_the_rest() -> None:
    enhancer = Enhancer(EnhancementConfig(noise_suppression=2, auto_gain_dbfs=0))
    noise = np.random.default_rng(0).normal(0, 2000, 16000).astype("<i2").tobytes()
    out = [enhancer.process(noise[i: i + 1000]) for i in range(0, len(noise), 1000)]
    assert all(len(chunk) % FRAME_BYTES == 0 for chunk in out)
    assert sum(map(len, out)) + enhancer.pending_bytes == len(noise)
    suppressed = np.frombuffer(b"".join(out)[16000:], "<i2").astype(float)
    assert np.sqrt(np.mean(suppressed**2)) < 2000 / 2  # white noise, suppressed


def test_gain_raises_a_quiet_signal() -> None:
    enhancer = Enhancer(EnhancementConfig(noise_suppression=0, auto_gain_dbfs=3))
    t = np.arange(3 * 16000) / 16000
    quiet = (300 * np.sin(2 * np.pi * 300 * t)).astype("<i2").tobytes()
    raised = np.frombuffer(enhancer.process(quiet)[32000:], "<i2").astype(float)
    assert np.sqrt(np.mean(raised**2)) > 2 * 300 / np.sqrt(2)


def test_the_description_names_the_levels() -> None:
    assert EnhancementConfig(2, 3).describe() == "ns=2;agc=3"
    assert not EnhancementConfig().enabled
