"""The agent's unit tests are collected on a box that has only the agent's packages and
pytest (issue 34): neither Kafka's client nor the gateway's or the console's web stack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ABSENT = ("confluent_kafka", "flask", "flask_sock", "gunicorn", "fastavro", "jwt",
          "cryptography", "prometheus_client")
BLOCKER = f"""
import sys
class Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {ABSENT!r}:
            raise ImportError(name + " is not installed on this box")
sys.meta_path.insert(0, Absent())
"""


def test_the_agents_unit_tests_need_none_of_the_servers_packages(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(BLOCKER)
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--collect-only",
         "tests/unit/device_agent"], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert collected.returncode == 0, collected.stdout[-3000:] + collected.stderr[-2000:]
    assert "tests collected" in collected.stdout
