"""Issue 26: a television under the near talker does not run phrases together, and a
television alone does not open utterances.

The real agent captures from devkit's ALSA test microphone (real libasound).
- Three spoken requests 1.5 s apart, with a television talking without a pause under them
  and through the gaps too, 16 dB below them. The records read back from Kafka are one per
  phrase (a record may begin with the television: it speaks first). With the talker hold
  off (`AGENT_TALKER_HOLD_DB=0`, the detector before issue 26) the television holds the
  segment open across the gaps and the phrases arrive run together: the rule is what
  separates them.
- A television alone, sentence after sentence with 0.5 s pauses, for 30 s: with the default
  background bar at most two records reach Kafka (its first two sentences, before the
  agent has heard 6 s of it: the segmenter alone gives 2 on this signal); with the bar off
  (`AGENT_BACKGROUND_MARGIN_DB=0`) its sentences keep arriving as utterances (6).
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
from devkit.signals import music
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


def agent_on(tmp_path: Path, gateway: GatewayProcess, signal: bytes, device: str,
             settings: dict[str, str]) -> AgentProcess:
    """The real agent on a test microphone that plays `signal` in real time."""
    mic = tmp_path / "mic.raw"
    mic.write_bytes(signal)
    env = alsa_env(tmp_path / "home", [FixtureDevice("tvroom", mic, SAMPLE_RATE_HZ, 1)])
    return AgentProcess(tmp_path, gateway.ws_url, "alsa:tvroom", device,
                        settings={"HOME": env["HOME"], **settings}, until_drained=False).start()


@pytest.mark.parametrize(("hold_db", "separated"), [(None, True), ("0", False)])
def test_phrases_over_a_television_arrive_one_record_each(
        gateway: GatewayProcess, reader: KafkaReader, tmp_path: Path, hold_db: str | None,
        separated: bool) -> None:
    signal, lengths = near_talker_over_television()
    device = f"tv-room-hold-{hold_db or 'default'}"
    agent = agent_on(tmp_path, gateway, signal, device,
                     {"AGENT_TALKER_HOLD_DB": hold_db} if hold_db else {})
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


TV_SENTENCES = [
    "Good evening and welcome to the programme, where tonight we travel along the coast",
    "The old harbour was built more than two hundred years ago by the fishing families",
    "Every morning the boats leave before sunrise and return when the tide turns",
    "In the village, the bakery opens at six and closes when the bread is gone",
    "Visitors often ask why the lighthouse is painted in red and white stripes",
]


def television_alone(seconds: float) -> bytes:
    pause = np.zeros(int(0.5 * SAMPLE_RATE_HZ))
    spoken = [at_level(spoken_pcm(text, voice="en-us+m7", words_per_minute=170), -36)
              for text in TV_SENTENCES]
    tv = np.concatenate([part for sentence in spoken for part in (sentence, pause)])
    tv = np.tile(tv, int(np.ceil(seconds * SAMPLE_RATE_HZ / len(tv))))
    tail = np.zeros(2 * SAMPLE_RATE_HZ)  # then the room is quiet
    return np.clip(np.concatenate([tv[: int(seconds * SAMPLE_RATE_HZ)], tail]),
                   -32768, 32767).astype("<i2").tobytes()


def music_alone(seconds: float) -> bytes:
    """devkit's music (plucked notes over a bass line, a hi-hat), at -36 dBFS."""
    x = music(seconds, seed=9)
    x *= 32768 * 10 ** (-36 / 20) / np.sqrt(np.mean(x**2))
    tail = np.zeros(2 * SAMPLE_RATE_HZ)
    return np.clip(np.concatenate([x, tail]), -32768, 32767).astype("<i2").tobytes()


@pytest.mark.parametrize(("source", "bar_db", "at_most"), [
    ("television", None, 2), ("television", "0", None),
    ("music", None, 1), ("music", "0", None)])
def test_a_television_or_music_alone_opens_utterances_only_before_it_is_known(
        gateway: GatewayProcess, reader: KafkaReader, tmp_path: Path, source: str,
        bar_db: str | None, at_most: int | None) -> None:
    """Music that plays on is one source, like a television (issue 32): with the default
    bar at most its first sentences or bars open records in 30 s; with the bar off they
    keep arriving as utterances, one after another."""
    signal = television_alone(30.0) if source == "television" else music_alone(30.0)
    device = f"{source}-alone-bar-{bar_db or 'default'}"
    agent = agent_on(tmp_path, gateway, signal, device,
                     {"AGENT_BACKGROUND_MARGIN_DB": bar_db} if bar_db else {})
    try:
        # the whole file plays, then the agent has 10 s to deliver what it cut
        records = events_of(reader, device, 100,
                            timeout_s=len(signal) / BYTES_PER_SECOND + 10)
    finally:
        agent.stop()
    segments = {r.headers["segment_id"] for r in records}
    if at_most is not None:
        assert len(segments) <= at_most, sorted(segments)
    else:
        assert len(segments) >= 4, sorted(segments)
