"""The shipped device-agent unit under a real systemd (PID 1 of a throwaway container).

The unit file is installed verbatim, sandbox and all (DynamicUser, ProtectHome,
ProcSubset=pid, MemoryDenyWriteExecute, the syscall filter...); a drop-in only points
ExecStart at this checkout. The microphone is devkit's fixed-format ioplug device
(48 kHz stereo). The segment ids that reach Kafka must carry no placeholder (the unit's
ProcSubset=pid hides the kernel's boot id), and the journal must show the device format.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from devkit.alsa_fixture import FixtureDevice, build
from devkit.audio_analysis import encode_frames
from devkit.fault_rig import events_of
from devkit.gateway_process import GatewayProcess
from devkit.kafka_reader import KafkaReader
from devkit.nspawn import Container, NspawnUnavailable
from devkit.speech import spoken_at

REPO = Path(__file__).resolve().parents[2]
SRC = "/opt/edge-audio-ingress/src"
ETC = "/etc/edge-audio-ingress"
RATE = 48000


def checkout_binds() -> dict[Path, str]:
    """What the unit needs from this checkout, bound piece by piece: a checkout made with
    `mktemp -d` is mode 0700, and the unit's DynamicUser could not enter it if it were
    bound whole (its subdirectories are 0755)."""
    found = sorted((REPO / ".venv/lib").glob("python3*/site-packages"))
    assert found, "no .venv: run scripts/bootstrap.sh"
    return {REPO / "device_agent": f"{SRC}/device_agent",
            REPO / "ingress_common": f"{SRC}/ingress_common",
            build().parent: f"{SRC}/alsa_fixture",
            found[0].resolve(): f"{SRC}/site-packages"}


def test_the_shipped_agent_unit_runs_under_real_systemd(
        gateway: GatewayProcess, reader: KafkaReader, tmp_path: Path) -> None:
    build()
    speech = spoken_at("Close the blinds in the bedroom", RATE)
    mono = np.concatenate([np.zeros(RATE), speech, np.zeros(RATE)])
    device_id = "nspawn-pi"
    audio = tmp_path / "audio"
    audio.mkdir(mode=0o755)
    (audio / "mic.raw").write_bytes(encode_frames(np.stack([mono, mono], axis=1), "S16_LE"))
    (audio / "mic.raw").chmod(0o644)
    mic = FixtureDevice("usbmic", Path("/srv/edge-mic/mic.raw"), RATE, 2)
    try:
        container = Container(tmp_path, {**checkout_binds(), audio: "/srv/edge-mic"})
    except NspawnUnavailable as exc:
        pytest.skip(str(exc))
    with container:
        container.write(f"{ETC}/asound.conf",
                        f'pcm_type.fixture {{ lib "{SRC}/alsa_fixture/{build().name}" }}\n'
                        + mic.asoundrc())
        container.write(f"{ETC}/agent.env", "\n".join([
            f"AGENT_GATEWAY_URL={gateway.ws_url}", f"AGENT_DEVICE_ID={device_id}",
            "AGENT_SOURCE=alsa:usbmic", "AGENT_STATUS_INTERVAL_S=5",
            f"ALSA_CONFIG_PATH=/usr/share/alsa/alsa.conf:{ETC}/asound.conf", ""]), mode="0640")
        container.write(f"{ETC}/device.jwt", "", mode="0600")
        container.write("/etc/systemd/system/device-agent.service",
                        (REPO / "systemd/device-agent.service").read_text())
        container.write("/etc/systemd/system/device-agent.service.d/checkout.conf", "\n".join([
            "[Service]", "ExecStart=", "ExecStart=/usr/bin/python3 -m device_agent run",
            f"Environment=PYTHONPATH={SRC}:{SRC}/site-packages", ""]))
        container.run("systemctl", "daemon-reload")
        container.run("systemctl", "start", "device-agent.service", timeout_s=60)

        events = events_of(reader, device_id, 1, timeout_s=60)
        journal = container.run("journalctl", "-u", "device-agent.service", "-o", "cat",
                                "--no-pager").stdout
        state = container.run("systemctl", "show", "device-agent.service", "-p",
                              "ActiveState,SubState,NRestarts").stdout
    print(f"\n{state.strip()}\nsegment ids: {[e.headers['segment_id'] for e in events]}")
    assert len(events) == 1, f"one phrase, one record; journal:\n{journal[-3000:]}"
    for event in events:
        device, run, seq = event.headers["segment_id"].split(":")
        assert (device, seq.isdigit(), len(run) >= 6, "noboot" not in run) == \
               (device_id, True, True, True)
    formats = [json.loads(line) for line in journal.splitlines()
               if line.startswith("{") and '"capture format"' in line]
    assert formats and (formats[0]["rate_hz"], formats[0]["channels"],
                        formats[0]["sample_format"]) == (RATE, 2, "S16_LE"), journal[-3000:]
    assert "ActiveState=active" in state and "NRestarts=0" in state
