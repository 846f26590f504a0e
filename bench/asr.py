"""What a real speech recognizer hears: the front end judged by word error rate.

For each room and each seed (rooms built as in bench.segmentation, plus a reverberant room
and music under speech), the recognizer (devkit.asr: Whisper tiny.en, faster-whisper, int8,
offline) transcribes, over the same script of phrases:
- agent: the records the real agent (`device-agent send --vad`, the same segmenter as `run`)
  delivers through a real gateway to Kafka, each transcribed alone, in log order;
- oracle: the room cut at the true phrase spans, each transcribed alone: what a perfect
  segmenter would give. A true span runs from the first to the last 5 ms frame within
  15.9 dB of the phrase's active level (ITU-T P.56's threshold), which leaves a soft first
  or last sound outside; the cut keeps the agent's own margins around it (0.2 s before,
  as its pre-roll, 0.3 s after, as its hangover), so the two differ only in where they
  cut;
- whole room: the whole room in one go, with the recognizer's own VAD: what a user might
  run instead of us;
- clean: the clean phrases alone: the recognizer's own floor on these voices.

Reported per condition, each figure the mean over the seeds' rooms: the four WERs, the
agent's minus the oracle's, insertions and deletions apart (a television's words getting
in vs. a word cut off), and the agent's end lag p95 (from where each record lies in the
room). Then WER by the records' `heard_snr_db` header, and records cut from 10 minutes of a
television and of music alone (each one a record of no phrase).

    .venv/bin/python -m bench.asr                        # about 25 minutes
    .venv/bin/python -m bench.asr --seeds 1 --phrases 6  # a quick look
    .venv/bin/python -m bench.asr --before REVISION      # the agent at REVISION too
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.report import RESULTS, write_report
from bench.rooms import ROOMS, Room, alone, build_room
from bench.segmentation import RATE, checkout_of, p95, score
from devkit.agent_process import write_wav
from devkit.asr import Errors, Recognizer, word_errors
from devkit.bench_stack import broker_and_gateway
from devkit.file_send import delivered_segments, run_send
from devkit.interrupts import stop_like_ctrl_c
from devkit.kafka_reader import KafkaReader, ReadEvent
from edge_gateway.settings import DEFAULT_TOPIC

ORACLE_BEFORE, ORACLE_AFTER = int(0.2 * RATE), int(0.3 * RATE)
"""The oracle's margins around a true span, in samples: the agent's pre-roll and hangover."""
SNR_BUCKETS = ((-99.0, 5.0), (5.0, 10.0), (10.0, 20.0), (20.0, 999.0))


@dataclass
class Tally:
    """One condition's figures, summed or listed over its rooms."""

    wers: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, Errors] = field(default_factory=dict)
    lags_ms: dict[str, list[float]] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)

    def add(self, who: str, errors: Errors, lags_ms: Sequence[float] = (), records: int = 0) -> None:
        self.wers.setdefault(who, []).append(errors.wer)
        self.errors[who] = self.errors[who] + errors if who in self.errors else errors
        self.lags_ms.setdefault(who, []).extend(lags_ms)
        self.records[who] = self.records.get(who, 0) + records


class Agent:
    """The real agent delivering a room through a gateway: its records, in log order."""

    def __init__(self, url: str, reader: KafkaReader, checkout: Path | None) -> None:
        self.url, self.reader, self.checkout = url, reader, checkout

    def records(self, wav: Path, device_id: str) -> list[ReadEvent]:
        sent = run_send(self.url, device_id, wav.resolve(), "--vad", timeout_s=600,
                        checkout=self.checkout)
        if sent.returncode not in (0, 1):  # 1: no speech found, nothing sent
            raise RuntimeError(f"send failed: {sent.verdict}")
        return delivered_segments(self.reader, self.url, device_id) if sent.returncode == 0 else []


def device_id(name: str) -> str:
    """A valid device id made of `name` (ids hold no spaces)."""
    return "".join(c if c.isalnum() or c in "._:@/-" else "-" for c in name)[:128]


def located(room_pcm: bytes, records: list[ReadEvent]) -> list[tuple[int, int]]:
    """Where each record lies in the room, in samples: each is an exact slice of it."""
    spans = []
    for record in records:
        pcm = record.pcm
        head = pcm[: min(len(pcm), 3200)]
        at = room_pcm.find(head)
        while at > 0 and at % 2:  # a match must start on a sample
            at = room_pcm.find(head, at + 1)
        if at < 0:
            raise LookupError(f"record {record.headers.get('segment_id')} is not a slice of its room")
        spans.append((at // 2, (at + len(pcm)) // 2))
    return spans


def script_of(room: Room, span: tuple[int, int]) -> str:
    """The phrases a record overlaps, as its reference."""
    return " ".join(text for text, truth in zip(room.texts, room.truth, strict=True)
                    if span[0] < truth.end and span[1] > truth.start)


def judge(room: Room, asr: Recognizer, agents: dict[str, Agent], workdir: Path, tally: Tally,
          by_snr: dict[tuple[float, float], Errors]) -> None:
    reference = " ".join(room.texts)
    pcm = room.pcm
    oracle = " ".join(asr.transcribe(pcm[2 * max(0, t.start - ORACLE_BEFORE):
                                         2 * (t.end + ORACLE_AFTER)]) for t in room.truth)
    tally.add("oracle", word_errors(reference, oracle))
    tally.add("whole room", word_errors(reference, asr.transcribe(pcm, vad=True)))
    wav = write_wav(workdir / f"{room.name}.wav", pcm)
    for who, agent in agents.items():
        records = agent.records(wav, device_id(f"asr-{who}-{room.name}"))
        heard = [asr.transcribe(r.pcm) for r in records]
        spans = located(pcm, records)
        tally.add(who, word_errors(reference, " ".join(heard)),
                  score(spans, room.truth).lags_ms, len(records))
        if who != "agent":
            continue
        for record, text, span in zip(records, heard, spans, strict=True):
            snr = float(record.headers.get("heard_snr_db", "nan"))
            bucket = next((b for b in SNR_BUCKETS if b[0] <= snr < b[1]), None)
            if bucket is not None:
                errors = word_errors(script_of(room, span), text)
                by_snr[bucket] = by_snr[bucket] + errors if bucket in by_snr else errors
    wav.unlink()


def clean_floor(asr: Recognizer, phrases: int) -> Errors:
    room = build_room(ROOMS[0], 0, phrases)
    return word_errors(" ".join(room.texts),
                       " ".join(asr.transcribe(p) for p in room.clean_phrases))


def render(results: dict[str, Tally], clean: Errors, by_snr: dict[tuple[float, float], Errors],
           alone_counts: dict[str, dict[str, int]], seeds: int, minutes: float) -> str:
    agents = [w for w in next(iter(results.values())).wers if w not in ("oracle", "whole room")]
    lines = [f"Recognizer: Whisper tiny.en (faster-whisper, int8). Clean phrases: WER "
             f"{clean.wer:.3f}. Each figure the mean over {seeds} rooms (seeds).", "",
             "| condition | " + " | ".join(f"{a} WER" for a in agents) +
             " | oracle WER | whole-room WER | agent − oracle | agent ins / del per word "
             "| oracle ins / del | agent end lag p95 ms | agent records |",
             "|---" * (8 + len(agents)) + "|"]
    for condition, t in results.items():
        mean = {who: statistics.mean(w) for who, w in t.wers.items()}
        a, o = t.errors["agent"], t.errors["oracle"]
        lines.append(
            f"| {condition} | " + " | ".join(f"{mean[w]:.3f}" for w in agents) +
            f" | {mean['oracle']:.3f} | {mean['whole room']:.3f} | "
            f"{mean['agent'] - mean['oracle']:+.3f} | "
            f"{a.insertions / a.reference_words:.3f} / {a.deletions / a.reference_words:.3f} | "
            f"{o.insertions / o.reference_words:.3f} / {o.deletions / o.reference_words:.3f} | "
            f"{p95(t.lags_ms['agent']):.0f} | {t.records['agent']} |")
    lines += ["", "WER of the agent's records by their `heard_snr_db` header (all conditions):",
              "", "| heard_snr_db | words | WER |", "|---|---|---|"]
    for (low, high), errors in sorted(by_snr.items()):
        lines.append(f"| {low:g} to {high:g} dB | {errors.reference_words} | {errors.wer:.3f} |")
    lines += ["", f"Records cut from {minutes:g} minutes of each alone (each is a record of no "
              "phrase):", "", "| noise | " + " | ".join(alone_counts) + " |",
              "|---" * (1 + len(alone_counts)) + "|"]
    for noise in next(iter(alone_counts.values())):
        lines.append(f"| {noise} | " + " | ".join(str(c[noise]) for c in alone_counts.values())
                     + " |")
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def agents_for(url: str, reader: KafkaReader, before: str | None) -> Iterator[dict[str, Agent]]:
    with contextlib.ExitStack() as stack:
        agents = {"agent": Agent(url, reader, None)}
        if before:
            agents[f"agent at {before}"] = Agent(url, reader, stack.enter_context(checkout_of(before)))
        yield agents


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--phrases", type=int, default=12)
    parser.add_argument("--conditions", nargs="*", help="room names (default: all)")
    parser.add_argument("--alone-minutes", type=float, default=10.0)
    parser.add_argument("--before", metavar="REVISION", help="also the agent at this revision")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    stop_like_ctrl_c()  # SIGTERM, too, removes the worktree and stops the broker and gateway
    asr = Recognizer()
    workdir = Path(tempfile.mkdtemp(prefix="bench-asr-"))
    rooms = [r for r in ROOMS if not args.conditions or r.name in args.conditions]
    results: dict[str, Tally] = {}
    by_snr: dict[tuple[float, float], Errors] = {}
    with broker_and_gateway("bench-asr-gw-") as gateway:
        reader = KafkaReader(gateway.env["KAFKA_BOOTSTRAP_SERVERS"], DEFAULT_TOPIC)
        with agents_for(gateway.ws_url, reader, args.before) as agents:
            for spec in rooms:
                tally = results.setdefault(spec.name, Tally())
                for seed in range(1, args.seeds + 1):
                    judge(build_room(spec, seed, args.phrases), asr, agents, workdir, tally, by_snr)
                print(f"{spec.name}: " + ", ".join(
                    f"{who} {statistics.mean(w):.3f}" for who, w in tally.wers.items()), flush=True)
            alone_counts = {who: {noise: len(agent.records(
                write_wav(workdir / f"{noise}.wav", pcm), device_id(f"asr-alone-{who}-{noise}")))
                for noise, pcm in alone(args.alone_minutes).items()} for who, agent in agents.items()}
        reader.close()
    report = render(results, clean_floor(asr, args.phrases), by_snr, alone_counts, args.seeds,
                    args.alone_minutes)
    write_report("asr", report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
