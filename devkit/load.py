"""A load generator for the gateway's protocol: concurrent clients streaming utterances, each
one remembered by a hash of its PCM so Kafka can be checked for lost, duplicated and
corrupted events."""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import simple_websocket

from devkit.kafka_reader import KafkaReader
from devkit.signals import tone
from devkit.ws_client import StreamResult, frames_of, stream_utterance
from ingress_common.protocol import BYTES_PER_SECOND

BYTES_PER_S = BYTES_PER_SECOND


@dataclass
class Sent:
    """One utterance a client streamed, and what the gateway answered."""

    client: int
    segment_id: str
    sha256: str
    audio_bytes: int
    result: StreamResult | None = None
    error: str = ""

    @property
    def published(self) -> bool:
        return self.result is not None and self.result.final.get("event") == "published"

    @property
    def latency_s(self) -> float | None:
        """From sending done to receiving published."""
        r = self.result
        if not self.published or r is None or r.done_sent_at is None or r.final_at is None:
            return None
        return r.final_at - r.done_sent_at


_BASE_TONES = {hz: tone(1.0, hz=hz, amplitude=6000) for hz in (220, 440, 880)}


def utterance_pcm(seconds: float, seed: int) -> bytes:
    """A tone that starts with 0.1 s of noise unique to `seed`, so every event's PCM hash is
    unique; built by repetition, so the load generator spends no time making audio."""
    rng = random.Random(seed)
    size = int(seconds * BYTES_PER_S) // 2 * 2
    head = rng.randbytes(min(size, 3200))
    base = _BASE_TONES[rng.choice(list(_BASE_TONES))]
    body = base * (size // len(base) + 1)
    return (head + body)[:size]


def stream_one(url: str, client: int, seq: int, seconds: float, frame_s: float, paced: bool,
               run_id: str) -> Sent:
    pcm = utterance_pcm(seconds, seed=hash((run_id, client, seq)) & 0xFFFFFFFF)
    segment_id = f"{run_id}:{client}:{seq}"
    sent = Sent(client, segment_id, hashlib.sha256(pcm).hexdigest(), len(pcm))
    frame_bytes = int(frame_s * BYTES_PER_S) // 2 * 2
    try:
        sent.result = stream_utterance(url, frames_of(pcm, frame_bytes),
                                       start={"segment_id": segment_id, "device_id": f"load-{client}"},
                                       pace_s=frame_s if paced else 0.0, timeout_s=60)
    except simple_websocket.ConnectionError as exc:  # refused before the upgrade
        sent.error = f"HTTP {exc.status_code}"
    except Exception as exc:  # noqa: BLE001 - a load test records every failure, then goes on
        sent.error = f"{type(exc).__name__}: {exc}"
    return sent


def run_clients(url: str, clients: int, seconds: float, frame_s: float, paced: bool,
                run_id: str, until: Callable[[], bool] | None = None,
                rounds: int = 1, stagger_s: float = 0.0) -> list[Sent]:
    """`clients` threads, each streaming `rounds` utterances back to back (or until `until()`).
    Client i starts after i x `stagger_s`: devices do not speak in lockstep."""
    results: list[Sent] = []
    lock = threading.Lock()

    def client_loop(client: int) -> None:
        time.sleep(client * stagger_s)
        seq = 0
        while (until is None and seq < rounds) or (until is not None and not until()):
            sent = stream_one(url, client, seq, seconds, frame_s, paced, run_id)
            with lock:
                results.append(sent)
            seq += 1

    threads = [threading.Thread(target=client_loop, args=(c,), daemon=True) for c in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@dataclass
class Verdict:
    sent: int
    published: int
    refused: Counter[str] = field(default_factory=Counter)
    lost: int = 0
    duplicated: int = 0
    corrupted: int = 0


def verify(results: list[Sent], reader: KafkaReader, run_id: str, timeout_s: float = 60) -> Verdict:
    """Read Kafka back: each published utterance must appear once with its exact PCM."""
    published = [s for s in results if s.published]
    expected = {s.segment_id: s for s in published}

    def mine(events: list) -> list:
        return [e for e in events if e.headers.get("segment_id", "").startswith(f"{run_id}:")]

    def complete(events: list) -> bool:
        return {e.headers["segment_id"] for e in mine(events)} >= set(expected)

    events = mine(reader.read_until(complete, timeout_s))
    seen = Counter(e.headers["segment_id"] for e in events)
    verdict = Verdict(sent=len(results), published=len(published))
    for s in results:
        if not s.published:
            code = s.result.final.get("code") if s.result and s.result.messages else None
            verdict.refused[str(code or s.error or "no answer")] += 1
    verdict.lost = sum(1 for segment_id in expected if seen[segment_id] == 0)
    verdict.duplicated = sum(n - 1 for n in seen.values() if n > 1)
    verdict.corrupted = sum(
        1 for e in events if e.headers["segment_id"] in expected
        and hashlib.sha256(e.pcm).hexdigest() != expected[e.headers["segment_id"]].sha256)
    return verdict
