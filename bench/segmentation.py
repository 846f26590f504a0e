"""Segmentation on real speech in noise and under background speech: today's default,
the model detectors and the candidates for a new default, side by side on the same audio.

Speech: espeak-ng phrases (several voices and speeds) normalized to an active speech level
of -26 dBFS, placed 1.5-3 s apart in a continuous noise bed, so every phrase's true start
and end are known: the first and last 5 ms frame of the clean phrase within 15.9 dB of its
active speech level (ITU-T P.56's threshold). Noise: sox pink and brown noise, and a babble
of 8 overlapped espeak talkers, and a single background talker (a television: long read
speech in another voice, with its own pauses between sentences and scenes), at 20, 10 and
5 dB SNR (the television's active speech level against the phrases'); then 10 minutes of
each alone at the 10 dB level, where every segment is a false trigger. Plus a soft talker
(-45 dBFS) in a quiet room (-75 dBFS).

Reported per condition: utterances found (overlapped by a segment) of the truth, found
whole (one segment holds all of it and no other phrase), merged (phrases that share their
segment with another phrase), splits (one utterance in several segments), the onset lead
(truth start - segment start: the pre-roll kept; negative = a clipped onset), the end lag
(segment end - truth end), and false triggers per 10 minutes of noise. Medians and p95.

    .venv/bin/python -m bench.segmentation            # about 3 minutes
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from bench.report import RESULTS, write_report
from bench.segment_spans import spans_of
from device_agent.segmenting.segmenter import Segmenter, SegmenterConfig
from device_agent.segmenting.voice_activity import DetectorConfig
from devkit.interrupts import stop_like_ctrl_c
from ingress_common.protocol import SAMPLE_RATE_HZ

RATE = SAMPLE_RATE_HZ
ROOT = Path(__file__).resolve().parents[1]
SPEECH_DBFS = -26.0
PHRASES = [
    "Turn on the kitchen lights", "What is the weather like tomorrow morning",
    "Set a timer for twelve minutes", "Play some jazz in the living room",
    "Remind me to call Ana at five", "How long will it take to get to the airport",
    "Open the garage door", "Add milk and eggs to the shopping list",
    "What time is it in Tokyo", "Lower the volume a little",
    "Is the front door locked", "Call the office and tell them I am late",
    "Start the dishwasher at midnight", "Read me the news headlines",
    "Switch off every light downstairs", "When does the pharmacy open",
]
VOICES = [("en-us", 160), ("en-gb", 150), ("en-us+f3", 175), ("en-gb+m3", 140)]
FRAME = RATE // 200  # 5 ms
ACTIVE_RANGE_DB = 15.9
TV_VOICE = ("en-us+m7", 170)
TV_SCRIPT = [
    "Good evening and welcome to the programme, where tonight we travel along the coast",
    "The old harbour was built more than two hundred years ago by the fishing families",
    "Every morning the boats leave before sunrise and return when the tide turns",
    "Scientists have been measuring the temperature of the water for several decades",
    "The results suggest that the currents are changing faster than anyone expected",
    "In the village, the bakery opens at six and closes when the bread is gone",
    "Visitors often ask why the lighthouse is painted in red and white stripes",
    "The answer, as so often, lies in the weather and the long winter nights",
    "After the break we meet a family who has kept bees on the cliffs for generations",
    "Their honey is sold in the market square every Saturday from spring to autumn",
    "Stay with us, because later in the programme we look at the story of the ferry",
    "It carried passengers and cattle between the islands until the bridge was finished",
]


@dataclass(frozen=True)
class Utterance:
    start: int
    end: int
    """Sample indices of the speech within the stream."""


def espeak(text: str, voice: str, wpm: int) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "s.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(wav), text],
                       check=True, capture_output=True, timeout=30)
        raw = subprocess.run(["sox", str(wav), "-t", "raw", "-e", "floating-point", "-b", "32",
                              "-c", "1", "-r", str(RATE), "-"], check=True, capture_output=True,
                             timeout=30).stdout
    return np.frombuffer(raw, dtype="<f4").astype(np.float64)


def speech_bounds(x: np.ndarray) -> tuple[int, int, float]:
    """(first, last+1 sample of speech, active RMS). Active RMS: over the 5 ms frames within
    40 dB of the loudest; speech: from the first to the last frame within ACTIVE_RANGE_DB of
    that active level (15.9 dB, as ITU-T P.56)."""
    frames = x[: len(x) // FRAME * FRAME].reshape(-1, FRAME)
    level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-20)
    rms = float(np.sqrt(np.mean(frames[level > level.max() - 40] ** 2)))
    active = np.flatnonzero(level > 20 * np.log10(rms) - ACTIVE_RANGE_DB)
    return int(active[0] * FRAME), int((active[-1] + 1) * FRAME), rms


def sox_noise(kind: str, seconds: float, seed: int) -> np.ndarray:
    raw = subprocess.run(["sox", "-R", "-n", "-t", "raw", "-e", "floating-point", "-b", "32", "-c",
                          "1", "-r", str(RATE), "-", "synth", str(seconds), kind],
                         check=True, capture_output=True, timeout=120).stdout
    x = np.frombuffer(raw, dtype="<f4").astype(np.float64)
    return np.roll(x, seed * 7919)


def babble(seconds: float, talkers: list[np.ndarray], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    out = np.zeros(n)
    for _ in range(8):
        stream = np.concatenate([talkers[i] for i in rng.permutation(len(talkers))] * 4)
        reps = int(np.ceil((n + len(stream)) / len(stream)))
        looped = np.tile(stream, reps)
        offset = int(rng.integers(0, len(stream)))
        out += looped[offset: offset + n]
    return out


def television(seconds: float, seed: int) -> np.ndarray:
    """One talker reading on and on: sentence pauses of 0.2-0.9 s, and a scene change of
    1.5-3 s every few sentences, looped to `seconds`."""
    rng = np.random.default_rng(seed)
    sentences = [espeak(text, *TV_VOICE) for text in TV_SCRIPT]
    parts: list[np.ndarray] = []
    total = 0
    while total < seconds * RATE:
        for i in rng.permutation(len(sentences)):
            pause = rng.uniform(1.5, 3.0) if rng.random() < 0.2 else rng.uniform(0.2, 0.9)
            parts += [sentences[i], np.zeros(int(pause * RATE))]
            total += len(sentences[i]) + int(pause * RATE)
    out = np.concatenate(parts)[: int(seconds * RATE)]
    return out + rng.normal(0, 1e-5, len(out))  # a set's hiss, not digital silence


def at_active_level(x: np.ndarray, dbfs: float) -> np.ndarray:
    """Scaled so that its active speech level (as for the phrases) is `dbfs`."""
    frames = x[: len(x) // FRAME * FRAME].reshape(-1, FRAME)
    level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-20)
    active = frames[level > level.max() - 40]
    return x * (10 ** (dbfs / 20) / np.sqrt(np.mean(active**2)))


def at_rms(x: np.ndarray, dbfs: float) -> np.ndarray:
    return x * (10 ** (dbfs / 20) / np.sqrt(np.mean(x**2)))


def build_stream(phrases: list[np.ndarray], noise: np.ndarray, speech_dbfs: float,
                 seed: int) -> tuple[np.ndarray, list[Utterance]]:
    rng = np.random.default_rng(seed)
    gaps = rng.uniform(1.5, 3.0, len(phrases) + 1)
    total = int((sum(len(p) for p in phrases) / RATE + gaps.sum()) * RATE)
    signal = noise[:total].copy()
    truth, at = [], int(gaps[0] * RATE)
    for phrase, gap in zip(phrases, gaps[1:], strict=True):
        first, last, rms = speech_bounds(phrase)
        scaled = phrase * (10 ** (speech_dbfs / 20) / rms)
        signal[at: at + len(phrase)] += scaled
        truth.append(Utterance(at + first, at + last))
        at += len(phrase) + int(gap * RATE)
    return signal[:at], truth


def pcm16(x: np.ndarray) -> bytes:
    return np.clip(np.rint(x * 32768), -32768, 32767).astype("<i2").tobytes()


Cut = Callable[[bytes], tuple[list[tuple[int, int]], float]]
"""A segmenter under test: PCM in; the spans it cuts and the CPU seconds it spent out."""


def today(config: DetectorConfig) -> Cut:
    """This checkout's segmenter, in this process."""
    return lambda pcm: spans_of(Segmenter(SegmenterConfig(detector=config)), pcm)


def at_revision(checkout: Path, config: DetectorConfig) -> Cut:
    """The segmenter of another checkout of this repository, in a process of its own."""
    def cut(pcm: bytes) -> tuple[list[tuple[int, int]], float]:
        done = subprocess.run([sys.executable, str(Path(__file__).with_name("segment_spans.py")),
                               json.dumps(asdict(config))], input=pcm, capture_output=True,
                              check=True, env={**os.environ, "PYTHONPATH": str(checkout)})
        answer = json.loads(done.stdout)
        return [tuple(span) for span in answer["spans"]], float(answer["cpu_s"])
    return cut


@contextlib.contextmanager
def checkout_of(revision: str) -> Iterator[Path]:
    """A throwaway git worktree of `revision`, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="segmentation-before-")) / "tree"
    subprocess.run(["git", "worktree", "add", "--detach", str(path), revision], check=True,
                   capture_output=True, cwd=ROOT)
    try:
        yield path
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(path)], capture_output=True,
                       cwd=ROOT)


@dataclass
class Scores:
    found: int
    total: int
    whole: int
    merged: int
    splits: int
    leads_ms: list[float]
    lags_ms: list[float]
    extra: int
    wer: float | None = None
    """The recognizer's word error rate on the segments, with --wer (bench.asr's judge)."""

    @property
    def clipped(self) -> int:
        return sum(lead < 0 for lead in self.leads_ms)


def score(spans: list[tuple[int, int]], truth: list[Utterance]) -> Scores:
    found = splits = whole = merged = 0
    leads, lags = [], []
    used = set()
    phrases_in = [sum(1 for u in truth if s < u.end and e > u.start) for s, e in spans]
    for u in truth:
        hits = [i for i, (s, e) in enumerate(spans) if s < u.end and e > u.start]
        used.update(hits)
        if not hits:
            continue
        found += 1
        splits += len(hits) > 1
        alone = all(phrases_in[i] == 1 for i in hits)
        merged += not alone
        s0, e0 = spans[hits[0]]
        whole += len(hits) == 1 and alone and s0 <= u.start and e0 >= u.end
        leads.append((u.start - spans[hits[0]][0]) * 1000 / RATE)
        lags.append((spans[hits[-1]][1] - u.end) * 1000 / RATE)
    return Scores(found, len(truth), whole, merged, splits, leads, lags, len(spans) - len(used))


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95)) if values else float("nan")


NO_TALKER_RULES = {"talker_hold_db": 0.0, "background_margin_db": 0.0}
SEGMENTERS: dict[str, DetectorConfig] = {
    "energy + webrtcvad, no talker rules": DetectorConfig("webrtc", **NO_TALKER_RULES),
    "energy + micro-vad": DetectorConfig("micro", **NO_TALKER_RULES),
    "energy + silero": DetectorConfig("silero", **NO_TALKER_RULES),
    "default: webrtcvad + talker hold 7 dB + background bar 6 dB": DetectorConfig("webrtc"),
    "default without the background bar": DetectorConfig("webrtc", background_margin_db=0.0),
    "micro-vad + talker hold + background bar": DetectorConfig("micro"),
}
"""Every row runs today's code: the level rules of issue 26 (100 ms levels, the first
second, louder than the room) apply to all; the rows differ in the model and the talker
rules. The code before issue 26 is measured in bench/results/segmentation-20261206-160741.md."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--noise-minutes", type=float, default=10.0)
    parser.add_argument("--only", nargs="*", help="segmenters by name (default: all)")
    parser.add_argument("--hold-db", type=float, help="talker hold to try")
    parser.add_argument("--conditions", nargs="*", help="e.g. babble television (default: all)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--wer", action="store_true",
                        help="also transcribe each segment (devkit.asr) and report the word "
                             "error rate beside the figures (bench.asr is the full judge)")
    parser.add_argument("--before", metavar="REVISION",
                        help="also run the chosen segmenters as they were at this git revision, "
                             "on the same audio (a row each, marked with the revision)")
    args = parser.parse_args()
    stop_like_ctrl_c()  # SIGTERM, too, removes the worktree and stops the broker and gateway
    with contextlib.ExitStack() as stack:
        before = stack.enter_context(checkout_of(args.before)) if args.before else None
        return run(args, before)


def run(args: argparse.Namespace, before: Path | None) -> int:
    chosen = {name: config for name, config in SEGMENTERS.items()
              if not args.only or name in args.only}
    if args.hold_db is not None:
        chosen = {name: (replace(c, talker_hold_db=args.hold_db) if c.talker_hold_db else c)
                  for name, c in chosen.items()}
    segmenters = {name: today(config) for name, config in chosen.items()}
    if before is not None:
        segmenters |= {f"{name} (at {args.before})": at_revision(before, config)
                       for name, config in chosen.items()}
    print("synthesizing speech...", flush=True)
    phrases = [espeak(text, *VOICES[i % len(VOICES)]) for i, text in enumerate(PHRASES)]
    talkers = [espeak(text, *VOICES[(i + 1) % len(VOICES)]) for i, text in enumerate(PHRASES)]
    noise_seconds = args.noise_minutes * 60
    bed_seconds = max(noise_seconds, 120.0)  # at least a whole stream of phrases
    beds = {"pink": sox_noise("pinknoise", bed_seconds, 1),
            "brown": sox_noise("brownnoise", bed_seconds, 2),
            "babble": babble(bed_seconds, talkers, 3),
            "television": television(bed_seconds, 4)}
    beds = {k: v for k, v in beds.items() if not args.conditions or k in args.conditions}
    rows = []
    judge = word_error_rate(args.wer)
    for kind, bed in beds.items():
        for snr in (20, 10, 5):
            level = SPEECH_DBFS - snr
            noise = at_active_level(bed, level) if kind == "television" else at_rms(bed, level)
            stream, truth = build_stream(phrases, noise, SPEECH_DBFS, snr)
            pcm = pcm16(stream)
            for name, cut in segmenters.items():
                spans, _ = cut(pcm)
                rows.append((f"{kind} {snr} dB", name,
                             replace(score(spans, truth), wer=judge(pcm, spans))))
                print(f"{kind} {snr} dB  {name}: {rows[-1][2]}", flush=True)
    quiet, truth = build_stream(phrases, at_rms(sox_noise("pinknoise", 120, 1), -75), -45, 7)
    for name, cut in segmenters.items():
        spans, _ = cut(pcm16(quiet))
        rows.append(("soft talker -45 dBFS, quiet room", name,
                     replace(score(spans, truth), wer=judge(pcm16(quiet), spans))))
    false_rows, cpu = [], {}
    for kind, bed in beds.items():
        level = SPEECH_DBFS - 10
        noise = at_active_level(bed, level) if kind == "television" else at_rms(bed, level)
        pcm = pcm16(noise[: int(noise_seconds * RATE)])
        for name, cut in segmenters.items():
            spans, seconds = cut(pcm)
            cpu.setdefault(name, []).append(seconds / noise_seconds)
            false_rows.append((kind, name, len(spans) * 10 / args.noise_minutes,
                               sum(e - s for s, e in spans) / RATE))
            print(f"noise {kind} {name}: {len(spans)} segments", flush=True)
    report = render(rows, false_rows, cpu, args.noise_minutes)
    write_report("segmentation", report, args.out)
    return 0


def word_error_rate(wanted: bool) -> Callable[[bytes, list[tuple[int, int]]], float | None]:
    """The recognizer's WER on a stream's segments against the script (None: not wanted)."""
    if not wanted:
        return lambda _pcm, _spans: None
    from devkit.asr import Recognizer, word_errors

    asr = Recognizer()
    script = " ".join(PHRASES)
    return lambda pcm, spans: word_errors(script, " ".join(
        asr.transcribe(pcm[2 * s: 2 * e]) for s, e in spans)).wer


def render(rows: list[tuple[str, str, Scores]], false_rows: list[tuple[str, str, float, float]],
           cpu: dict[str, list[float]], minutes: float) -> str:
    def ms(values: list[float]) -> str:
        return f"{statistics.median(values):.0f} / {p95(values):.0f}" if values else "-"
    lines = ["| condition | segmenter | found | whole | merged | splits | onset lead ms, median "
             "/ p95 | clipped onsets | end lag ms, median / p95 | extra segments | WER |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for condition, name, s in rows:
        wer = "-" if s.wer is None else f"{s.wer:.3f}"
        lines.append(f"| {condition} | {name} | {s.found}/{s.total} | {s.whole} | {s.merged} "
                     f"| {s.splits} | {ms(s.leads_ms)} | {s.clipped} | {ms(s.lags_ms)} "
                     f"| {s.extra} | {wer} |")
    lines += ["", f"Noise alone at the 10 dB-SNR level (-36 dBFS), {minutes:g} minutes each:", "",
              "| noise | segmenter | false triggers per 10 min | seconds sent |", "|---|---|---|---|"]
    for kind, name, per10, seconds in false_rows:
        lines.append(f"| {kind} | {name} | {per10:.1f} | {seconds:.0f} |")
    lines += ["", "| segmenter | CPU, % of one core (median over the noise runs) |", "|---|---|"]
    for name, shares in cpu.items():
        lines.append(f"| {name} | {100 * statistics.median(shares):.2f} % |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
