"""A microphone unplugged and plugged back is captured again within 2 s, without a restart.

The device is devkit's fixed-format ioplug plugin (48 kHz stereo): renaming its file away
is the unplug (reads fail with ENODEV, opens fail), renaming it back is the replug.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from devkit.agent_process import AgentProcess
from devkit.alsa_fixture import FixtureDevice, alsa_env
from devkit.audio_analysis import encode_frames
from devkit.fault_rig import events_of, status_value
from devkit.gateway_process import GatewayProcess
from devkit.kafka_reader import KafkaReader
from devkit.waiting import wait_for

pytest.importorskip("alsaaudio", reason="pyalsaaudio is not installed (needs libasound2-dev)")

RATE = 48000
RESUME_LIMIT_S = 2.0


def capture_starts(log: Path) -> list[float]:
    """Wall-clock times (s) of each 'capture format' line: one per successful open."""
    times = []
    for line in log.read_text().splitlines():
        if line.startswith("{") and '"msg": "capture format"' in line:
            stamp = json.loads(line)["ts"].replace("Z", "+00:00")
            times.append(datetime.fromisoformat(stamp).timestamp())
    return times


def test_a_replugged_microphone_is_captured_again_within_two_seconds(
        gateway: GatewayProcess, reader: KafkaReader, tmp_path: Path) -> None:
    t = np.arange(int(1.5 * RATE)) / RATE
    mono = np.concatenate([np.zeros(RATE // 2), 0.3 * np.sin(2 * np.pi * 700 * t), np.zeros(RATE)])
    plugged = tmp_path / "mic.raw"
    unplugged = tmp_path / "mic.raw.away"
    plugged.write_bytes(encode_frames(np.stack([mono, mono], axis=1), "S16_LE"))
    env = alsa_env(tmp_path / "home", [FixtureDevice("usbmic", plugged, RATE, 2)])
    device_id = "replug-1"
    agent = AgentProcess(tmp_path, gateway.ws_url, "alsa:usbmic", device_id,
                         settings={"HOME": env["HOME"], "AGENT_DETECTOR": "energy"},  # a tone, not speech
                         until_drained=False).start()
    try:
        assert len(events_of(reader, device_id, 1, timeout_s=30)) == 1
        pid = agent.process.process.pid if agent.process else None

        plugged.rename(unplugged)  # unplug
        wait_for(lambda: status_value(agent, "open_failures") >= 2, timeout_s=15,
                   what="the agent to notice the unplug and fail to reopen")
        assert not agent.status()["mic_open"]

        unplugged.rename(plugged)  # plug back in
        replugged_at = time.time()
        wait_for(lambda: len(capture_starts(agent.log_path)) >= 2, timeout_s=10,
                   what="capture to start again")
        resumed_after = capture_starts(agent.log_path)[-1] - replugged_at
        print(f"\ncapture resumed {resumed_after:.2f} s after the replug")
        assert resumed_after <= RESUME_LIMIT_S

        events = events_of(reader, device_id, 2, timeout_s=30)
        ids = [e.headers["segment_id"] for e in events]
        assert len(ids) == 2 and len(set(ids)) == 2, f"one record per utterance: {ids}"
        assert agent.process is not None and agent.process.process.pid == pid
        assert agent.process.process.poll() is None, "no restart"
    finally:
        agent.stop()
