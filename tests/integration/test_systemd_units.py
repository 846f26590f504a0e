"""The shipped units pass `systemd-analyze verify` and meet the exposure targets of
`systemd-analyze security --offline=yes`; the install script puts everything in place."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNITS = REPO / "systemd"
MAX_EXPOSURE = {"edge-gateway.service": 2.0, "device-agent.service": 2.5,
                "edge-console.service": 2.0}


def analyze(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing: scripts/bootstrap.sh installs Debian's systemd")
    return subprocess.run(["systemd-analyze", *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd)


@pytest.fixture(scope="module")
def unit_copies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The units with ExecStart pointing at this checkout's virtualenv (verify checks that
    the binaries exist; on a box they live in /opt/edge-audio-ingress/bin)."""
    directory = tmp_path_factory.mktemp("units")
    bin_dir = str(Path(sys.executable).parent)
    for unit in MAX_EXPOSURE:
        text = (UNITS / unit).read_text().replace("/opt/edge-audio-ingress/bin", bin_dir)
        (directory / unit).write_text(text)
    return directory


@pytest.mark.parametrize("unit", sorted(MAX_EXPOSURE))
def test_unit_verifies_clean(unit_copies: Path, unit: str) -> None:
    result = analyze("verify", unit, cwd=unit_copies)
    assert result.returncode == 0, result.stderr
    own_lines = [line for line in (result.stdout + result.stderr).splitlines() if unit in line]
    assert own_lines == [], own_lines


@pytest.mark.parametrize("unit", sorted(MAX_EXPOSURE))
def test_unit_exposure_is_within_target(unit_copies: Path, unit: str) -> None:
    result = analyze("security", "--offline=yes", unit, cwd=unit_copies)
    match = re.search(rf"Overall exposure level for {re.escape(unit)}: (\d+\.\d+)", result.stdout)
    assert match, result.stdout[-2000:] + result.stderr
    exposure = float(match.group(1))
    print(f"\n{unit}: exposure {exposure}")
    assert exposure <= MAX_EXPOSURE[unit]


def directives(unit: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in (UNITS / unit).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_both_edge_units_notify_and_watchdog_with_start_limits() -> None:
    for unit in ("edge-gateway.service", "device-agent.service"):
        d = directives(unit)
        assert d["Type"] == ["notify"] and "WatchdogSec" in d, unit
        assert d["Restart"] == ["always"] and "StartLimitBurst" in d and "StartLimitIntervalSec" in d
        assert d["CapabilityBoundingSet"] == [""] and d["NoNewPrivileges"] == ["yes"]
        assert d["DynamicUser"] == ["yes"] and d["ProtectSystem"] == ["strict"]
        assert "@system-service" in d["SystemCallFilter"] and "MemoryMax" in d and "CPUQuota" in d


def test_the_console_unit_is_as_locked_down_and_keeps_the_agents_remote_settings() -> None:
    d = directives("edge-console.service")
    assert d["Restart"] == ["always"] and d["DynamicUser"] == ["yes"]
    assert d["CapabilityBoundingSet"] == [""] and d["PrivateDevices"] == ["yes"]
    assert "MemoryMax" in d and "@system-service" in d["SystemCallFilter"]
    agent = directives("device-agent.service")
    assert "AGENT_REMOTE_SETTINGS_FILE=/var/lib/device-agent/remote-settings.json" in \
        agent["Environment"], "inside the StateDirectory, so a restart keeps the operator's settings"


def test_agent_gets_alsa_devices_and_a_state_directory_not_private_devices() -> None:
    d = directives("device-agent.service")
    assert d["DeviceAllow"] == ["char-alsa rw"] and d["SupplementaryGroups"] == ["audio"]
    assert "PrivateDevices" not in d, "PrivateDevices hides /dev/snd"
    assert d["StateDirectory"] == ["device-agent"]
    assert "AGENT_SPOOL_DIR=/var/lib/device-agent" in d["Environment"]
    assert directives("edge-gateway.service")["NotifyAccess"] == ["all"], \
        "the worker, not the arbiter, sends READY=1"


def test_install_script_places_units_and_settings_without_overwriting(tmp_path: Path) -> None:
    env = {**os.environ, "ROOT": str(tmp_path), "SYSTEMCTL": "true", "INSTALL_VENV": "0"}
    run = [str(REPO / "scripts" / "install.sh"), "both"]
    subprocess.run(run, env=env, check=True, capture_output=True, timeout=60)
    etc = tmp_path / "etc" / "edge-audio-ingress"
    units = tmp_path / "etc" / "systemd" / "system"
    assert (units / "edge-gateway.service").read_text() == (UNITS / "edge-gateway.service").read_text()
    assert (units / "device-agent.service").exists() and (etc / "device.jwt").stat().st_mode & 0o077 == 0
    (etc / "gateway.env").write_text("GATEWAY_BIND=0.0.0.0:9000\n")
    subprocess.run(run, env=env, check=True, capture_output=True, timeout=60)
    assert (etc / "gateway.env").read_text() == "GATEWAY_BIND=0.0.0.0:9000\n", "operator's edits kept"
    subprocess.run([str(REPO / "scripts" / "install.sh"), "console"], env=env, check=True,
                   capture_output=True, timeout=60)
    assert (units / "edge-console.service").exists()
    assert (etc / "console.env").read_text() == (UNITS / "console.env.example").read_text()
