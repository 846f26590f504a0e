"""Issue 26: a television under the near talker does not run phrases together.

The real agent captures from devkit's ALSA test microphone (real libasound): three spoken
requests 1.5 s apart, with a television talking without a pause under them and through
the gaps too, 16 dB below them. The records read back from Kafka are one per phrase (a
record may begin with the television: it speaks first). With the talker hold off
(`AGENT_TALKER_HOLD_DB=0`, the detector before issue 26) the television holds the segment
open across the gaps and the phrases arrive run together: the rule is what separates them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from devkit.agent_process import AgentProcess
from devkit.alsa_fixture import FixtureDevice, alsa_env
from devkit.fault_rig import events_of
from devkit.gateway_process import GatewayProcess
from devkit.kafka_reader import KafkaReader
from devkit.speech import spoken_pcm
from ingress_common.pcm import BYTES_PER_SECOND, SAMPLE_RATE_HZ

pytest.importorskip("alsaaudio", reason="pyalsaaudio is not installed (needs libasound2-dev)")

REQUESTS = ["turn on the kitchen light", "set a timer for ten minutes", "what time is it"]
TELEVISION = ("and after the break we travel along the coast to meet the families who have "
              "kept bees on the cliffs for generations and sell their honey in the square")
GAP_S = 1.5


def at_level(pcm: bytes, dbfs: float) -> np.ndarray:
    """As float samples, scaled so that its active level (the loud half) is `dbfs`."""
    x = np.frombuffer(pcm, "<i2").astype(np.float64)
    frames = x[: len(x) // 80 * 80].reshape(-1, 80)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    active = np.sqrt(np.mean(frames[rms >= np.median(rms[rms > 0])] ** 2))
    return x * (32768 * 10 ** (dbfs / 20) / active)


def near_talker_over_television() -> tuple[bytes, list[float]]:
    """The microphone's file, and each phrase's length in seconds."""
    gap = np.zeros(int(GAP_S * SAMPLE_RATE_HZ))
    phrases = [at_level(spoken_pcm(text), -26) for text in REQUESTS]
    near = np.concatenate([gap, *(np.concatenate([p, gap]) for p in phrases), gap, gap])
    tv = at_level(spoken_pcm(TELEVISION, voice="en-us+m7", words_per_minute=175), -42)
    tv = np.tile(tv, int(np.ceil(len(near) / len(tv))))[: len(near)]
    mixed = np.clip(near + tv, -32768, 32767).astype("<i2").tobytes()
    return mixed, [len(p) / SAMPLE_RATE_HZ for p in phrases]


@pytest.mark.parametrize(("hold_db", "separated"), [("8", True), ("0", False)])
def test_phrases_over_a_television_arrive_one_record_each(
        gateway: GatewayProcess, reader: KafkaReader, tmp_path: Path, hold_db: str,
        separated: bool) -> None:
    signal, lengths = near_talker_over_television()
    mic = tmp_path / "mic.raw"
    mic.write_bytes(signal)
    env = alsa_env(tmp_path / "home", [FixtureDevice("tvroom", mic, SAMPLE_RATE_HZ, 1)])
    device = f"tv-room-hold-{hold_db}"
    agent = AgentProcess(tmp_path, gateway.ws_url, "alsa:tvroom", device, settings={
        "HOME": env["HOME"], "AGENT_TALKER_HOLD_DB": hold_db}, until_drained=False).start()
    try:
        # the file plays in real time; its end is the television's end, then silence
        records = events_of(reader, device, len(REQUESTS),
                            timeout_s=len(signal) / BYTES_PER_SECOND + 15)
    finally:
        agent.stop()
    durations = sorted(len(r.pcm) / BYTES_PER_SECOND for r in records)
    # a record holding two phrases is at least as long as the two shortest and a gap
    two_phrases = sum(sorted(lengths)[:2]) + GAP_S
    if separated:
        assert len(records) == len(REQUESTS), durations
        assert max(durations) < two_phrases, (durations, lengths)
    else:
        assert len(records) < len(REQUESTS) or max(durations) >= two_phrases, durations
