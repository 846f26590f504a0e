"""The import contracts `make lint` checks (pyproject.toml, [tool.importlinter]) each catch
a deliberate wrong import: the packages are copied, one import is added, and lint-imports
must name that contract as broken, and the added import as the reason. (A wrong import
may break other contracts through what it pulls in: indirect imports count.)"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ingress_common", "edge_gateway", "device_agent", "edge_console", "devkit", "bench")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONTRACTS = {
    "floors": "Floors: ingress_common below the gateway, the agent and the console",
    "console": "The console imports only ingress_common",
    "independence": "The gateway and the agent never import each other",
    "gateway": "The gateway, each module boundary crossed one way",
    "stages": "The agent's stages import only downward",
    "wire": "Capture and segmenting know nothing of the wire",
}


def lint_copy(tmp_path: Path, module: str | None = None, wrong_import: str = "") -> str:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__", "build", "*.so", "*.c"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    if module is not None:
        path = tmp_path / (module.replace(".", "/") + ".py")
        path.write_text(path.read_text() + f"\n{wrong_import}  # deliberately wrong\n")
    result = subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(tmp_path)})
    return result.stdout + result.stderr


def broken(output: str) -> set[str]:
    """The contracts whose status line (the first KEPT or BROKEN after the name) is BROKEN."""
    flat = " ".join(output.split())
    statuses = {key: re.search(re.escape(name) + r".*?(KEPT|BROKEN)", flat)
                for key, name in CONTRACTS.items()}
    return {key for key, found in statuses.items() if found and found.group(1) == "BROKEN"}


def test_the_tree_keeps_every_contract(tmp_path: Path) -> None:
    output = lint_copy(tmp_path)
    assert f"{len(CONTRACTS)} kept, 0 broken" in output, output[-2000:]


@pytest.mark.parametrize(("contract", "module", "wrong_import"), [
    ("floors", "ingress_common.logs", "import devkit.ports"),
    ("independence", "device_agent.stats", "import edge_gateway.publisher"),
    ("console", "edge_console.settings_writer", "import device_agent.settings"),
    ("console", "edge_console.fleet", "import edge_gateway.publisher"),
    ("console", "edge_console.alerts", "import numpy"),
    ("gateway", "edge_gateway.app", "import edge_gateway.hosting.inline_websocket"),
    ("gateway", "edge_gateway.receipts.ledger", "import edge_gateway.stream"),
    ("stages", "device_agent.capture.fakes", "import device_agent.uplink.sender"),
    ("wire", "device_agent.segmenting.segmenter", "import ingress_common.protocol"),
])
def test_a_wrong_import_breaks_its_contract(tmp_path: Path, contract: str, module: str,
                                            wrong_import: str) -> None:
    output = lint_copy(tmp_path, module, wrong_import)
    assert f"{module} -> {wrong_import.split()[-1]}" in output, output[-2000:]
    assert contract in broken(output), output[-2000:]
