"""Issue 34: the agent's CPU per audio-second, counted in instructions (callgrind), may not
grow more than 10 % over the committed baseline (bench/baselines/agent_instructions.json,
written by `python -m bench.agent_instructions --only default --short-s 5 --long-s 20
--write-baseline`). A count, not a time: a shared 2-core machine cannot blur it."""

from __future__ import annotations

import json
import shutil

import pytest

from bench.agent_instructions import BASELINE, measure

pytestmark = pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
ALLOWED_GROWTH = 1.10


def test_the_default_configuration_costs_no_more_instructions_than_its_baseline() -> None:
    baseline = json.loads(BASELINE.read_text())
    counted = measure(["default"], baseline["short_s"], baseline["long_s"])["default"]
    ratio = counted.per_audio_second / baseline["instructions_per_audio_second"]
    assert ratio <= ALLOWED_GROWTH, (
        f"{counted.per_audio_second / 1e6:.1f} M instructions per audio-second, "
        f"{ratio:.2f}× the baseline's {baseline['instructions_per_audio_second'] / 1e6:.1f} M")
    assert counted.long > counted.short, "the longer run must cost more: the count is real"
