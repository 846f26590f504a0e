import numpy as np
import pytest

from device_agent.segmenting.levels import LevelMeter
from ingress_common.health import SILENT_DBFS


def test_a_full_scale_square_wave_is_0_dbfs_and_clipped() -> None:
    meter = LevelMeter()
    meter.add(np.tile(np.array([32767, -32768], dtype="<i2"), 800).tobytes())
    levels = meter.take()
    assert levels.rms_dbfs == pytest.approx(0.0, abs=0.01)
    assert levels.peak_dbfs == pytest.approx(0.0, abs=0.01)
    assert levels.clipped_ratio == 1.0


def test_a_quiet_tone_and_digital_silence() -> None:
    meter = LevelMeter()
    t = np.arange(16000) / 16000
    meter.add((3277 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes())  # -20 dBFS peak
    levels = meter.take()
    assert levels.peak_dbfs == pytest.approx(-20.0, abs=0.1)
    assert levels.rms_dbfs == pytest.approx(-23.0, abs=0.1)
    assert levels.clipped_ratio == 0.0
    meter.add(bytes(3200))
    assert meter.take().rms_dbfs == SILENT_DBFS
    assert meter.take().samples == 0  # each take starts a new interval
