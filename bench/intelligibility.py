"""Intelligibility of what the agent delivers (issue 26): STOI of each phrase's delivered
audio against its clean source, with enhancement off and at each level.

    .venv/bin/python -m bench.intelligibility            # about 3 minutes

The streams are bench.segmentation's: 16 espeak-ng phrases at -26 dBFS in pink noise, brown
noise, 8-talker babble and a television, at 20, 10 and 5 dB SNR. Each stream goes through
the agent's own front end, as `SegmentingThread` runs it: `Enhancer` (webrtc-noise-gain at
the level under test) in 100 ms chunks, then the default `Segmenter`. The delivered audio of
a phrase is the segment that holds it, which is byte for byte what the agent spools and the
gateway publishes. Reported: the median STOI over the phrases delivered whole, and how many
were (a phrase missed, clipped or run together with another is the segmenter's failure, not
the enhancement's, but enhancement can cause it). STOI (pystoi,
16 kHz, the phrase's span plus 50 ms each side, aligned by cross-correlation within 30 ms).
Also the soft talker's (-45 dBFS, quiet room) delivered active level with gain off and on.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np

from bench.report import RESULTS, write_report
from bench.segmentation import (
    PHRASES,
    RATE,
    SPEECH_DBFS,
    VOICES,
    at_active_level,
    at_rms,
    babble,
    build_stream,
    espeak,
    pcm16,
    sox_noise,
    speech_bounds,
    television,
)
from device_agent.capture.source import Stamp
from device_agent.segmenting.enhancement import EnhancementConfig, Enhancer
from device_agent.segmenting.segmenter import (
    SegmentEnded,
    Segmenter,
    SegmenterConfig,
    SegmentExtended,
    SegmentStarted,
)

LEVELS = {"off": EnhancementConfig(0, 0), "ns 1": EnhancementConfig(1, 0),
          "ns 2": EnhancementConfig(2, 0), "ns 3": EnhancementConfig(3, 0),
          "ns 4": EnhancementConfig(4, 0), "agc 3": EnhancementConfig(0, 3),
          "ns 2 + agc 3": EnhancementConfig(2, 3)}
PAD = RATE // 20
CHUNK = 3200  # 100 ms, the agent's default ALSA period


def deliver(pcm: bytes, enhancement: EnhancementConfig) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """(the stream as delivered where segments hold it, zeros elsewhere; the segments)."""
    enhancer = Enhancer(enhancement) if enhancement.enabled else None
    segmenter = Segmenter(SegmenterConfig())
    out = np.zeros(len(pcm) // 2)
    spans: list[tuple[int, int]] = []
    start = length = 0
    parts: list[bytes] = []
    done = 0
    for i in range(0, len(pcm), CHUNK):
        chunk = pcm[i: i + CHUNK]
        if enhancer is not None:
            chunk = enhancer.process(chunk)
        events = segmenter.push(chunk, Stamp(done * 31250, done * 31250))
        done += len(chunk)
        for event in events + (segmenter.flush() if i + CHUNK >= len(pcm) else []):
            if isinstance(event, SegmentStarted):
                start, parts = event.position, [event.pcm]
            elif isinstance(event, SegmentExtended):
                parts.append(event.pcm)
            elif isinstance(event, SegmentEnded):
                audio = np.frombuffer(b"".join(parts), "<i2").astype(np.float64) / 32768
                length = len(audio)
                out[start: start + length] = audio[: len(out) - start]
                spans.append((start, start + length))
    return out, spans


def stoi_of(clean: np.ndarray, delivered: np.ndarray) -> float:
    from pystoi import stoi

    best, shift = -1.0, 0
    for lag in range(-RATE * 30 // 1000, RATE * 30 // 1000 + 1, 16):
        a = delivered[max(0, lag): len(delivered) + min(0, lag)]
        b = clean[max(0, -lag): len(clean) - max(0, lag)]
        n = min(len(a), len(b))
        corr = float(np.dot(a[:n], b[:n]))
        if corr > best:
            best, shift = corr, lag
    a = delivered[max(0, shift): len(delivered) + min(0, shift)]
    b = clean[max(0, -shift): len(clean) - max(0, shift)]
    n = min(len(a), len(b))
    return float(stoi(b[:n], a[:n], RATE, extended=False))


def phrase_scores(clean_stream: np.ndarray, delivered: np.ndarray,
                  spans: list[tuple[int, int]], truths: list[tuple[int, int]]) -> list[float]:
    """STOI of each phrase delivered whole (one segment holds it, and no other phrase)."""
    scores = []
    for first, last in truths:
        holders = [(s, e) for s, e in spans if s <= first and e >= last]
        alone = holders and sum(1 for f, la in truths if f < holders[0][1]
                                and la > holders[0][0]) == 1
        if alone:
            lo, hi = max(0, first - PAD), last + PAD
            scores.append(stoi_of(clean_stream[lo:hi], delivered[lo:hi]))
    return scores


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    print("synthesizing speech...", flush=True)
    phrases = [espeak(text, *VOICES[i % len(VOICES)]) for i, text in enumerate(PHRASES)]
    talkers = [espeak(text, *VOICES[(i + 1) % len(VOICES)]) for i, text in enumerate(PHRASES)]
    seconds = 120.0
    beds = {"pink": sox_noise("pinknoise", seconds, 1), "brown": sox_noise("brownnoise", seconds, 2),
            "babble": babble(seconds, talkers, 3), "television": television(seconds, 4)}
    rows: list[tuple[str, dict[str, tuple[float, int]]]] = []
    for kind, bed in beds.items():
        for snr in (20, 10, 5):
            level = SPEECH_DBFS - snr
            noise = at_active_level(bed, level) if kind == "television" else at_rms(bed, level)
            stream, truth = build_stream(phrases, noise, SPEECH_DBFS, snr)
            clean, _ = build_stream(phrases, np.zeros_like(noise), SPEECH_DBFS, snr)
            truths = [(u.start, u.end) for u in truth]
            medians = {}
            for name, config in LEVELS.items():
                delivered, spans = deliver(pcm16(stream), config)
                scores = phrase_scores(clean, delivered, spans, truths)
                medians[name] = (statistics.median(scores) if scores else float("nan"),
                                 len(scores))
            rows.append((f"{kind} {snr} dB", medians))
            print(rows[-1], flush=True)
    quiet, truth = build_stream(phrases, at_rms(sox_noise("pinknoise", seconds, 1), -75), -45, 7)
    soft = {}
    for name in ("off", "agc 3", "ns 2 + agc 3"):
        delivered, spans = deliver(pcm16(quiet), LEVELS[name])
        levels = [20 * np.log10(speech_bounds(delivered[u.start:u.end])[2] + 1e-12)
                  for u in truth if any(s <= u.start and e >= u.end for s, e in spans)]
        soft[name] = (statistics.median(levels) if levels else float("nan"), len(levels))
    lines = ["Median STOI over the phrases delivered whole (how many of 16 were).", "",
             "| condition | " + " | ".join(LEVELS) + " |", "|---|" + "---|" * len(LEVELS)]
    for condition, medians in rows:
        lines.append(f"| {condition} | " + " | ".join(f"{medians[n][0]:.3f} ({medians[n][1]})"
                                                     for n in LEVELS) + " |")
    lines += ["", "Soft talker (-45 dBFS active level, quiet room): delivered active level, "
              "median over the phrases delivered whole.", "", "| enhancement | level | phrases |",
              "|---|---|---|"]
    lines += [f"| {name} | {level:.1f} dBFS | {count}/16 |" for name, (level, count) in soft.items()]
    report = "\n".join(lines) + "\n"
    write_report("intelligibility", report, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
