"""Cuts a continuous PCM16 stream into utterances. Pure: no threads, no clock, no I/O.

VAD mode: each 20 ms window is voiced or not (voice_activity.py: speech-band energy against
the tracked noise floor). Speech starts when most of the last `start_s` is voiced; the
segment then begins `preroll_s` before its onset: the first voiced window of that stretch,
moved back over the soft windows just before it and over an earlier word at most 0.5 s
before (see `_onset`), so neither a soft first syllable nor a short first
word is clipped. It ends after `hangover_s` of silence (kept in the segment), at
`max_s`, or at a capture gap. A segment cut at `max_s` during speech is followed at once by
the next, contiguous one. Fixed mode cuts every `max_s` and drops nothing.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from device_agent.capture.source import Stamp
from device_agent.segmenting.heard import HeardTally, UtteranceHeard
from device_agent.segmenting.voice_activity import DetectorConfig, VoiceDetector
from device_agent.segmenting.windows import WINDOW_BYTES, WINDOW_S, Kind, windows
from ingress_common.pcm import SAMPLE_RATE_HZ, SAMPLE_WIDTH_BYTES, SILENT_DBFS, whole_samples

ONSET_VOICED_RATIO = 0.5
"""Share of voiced windows in the last start_s that starts an utterance."""
BACKGROUND_PAUSE_S = 0.06
"""After the talker was last heard, BACKGROUND windows for this long (the talker hold: sound far
below the talker) pause the silence count instead of adding to it: over 100 ms a word's
rising edge reads low, and a word after a short pause must not end the utterance on its
first syllable. Later ones count as silence, so a television's scattered loud windows
cannot restart the hangover again and again and hold an utterance open."""
BACKTRACK_GAP_S = 0.5
"""An earlier word at most this far before the onset stretch belongs to the utterance."""
RISING_EDGE_S = 0.1
"""Next to the talker's windows, this much reads low by the 100 ms level yet is theirs."""
LATE_START_S = 1.5
"""How much more the history keeps for the walk-back: in babble an utterance may start a
second or more after its first words (its first SPEECH windows come in short bursts), and
the walk-back still reaches them."""


@dataclass(frozen=True)
class SegmenterConfig:
    mode: str = "vad"
    """"vad" (utterances) or "fixed" (send everything in max_s pieces)."""
    detector: DetectorConfig = DetectorConfig()
    start_s: float = 0.3
    hangover_s: float = 0.3
    preroll_s: float = 0.2
    """In babble the onset's first syllable is often under the bar: it is kept by this."""
    max_s: float = 30.0


@dataclass(frozen=True)
class SegmentStarted:
    stamp: Stamp
    position: int
    """Sample index of the segment's first sample since the segmenter started."""
    pcm: bytes


@dataclass(frozen=True)
class SegmentExtended:
    pcm: bytes


@dataclass(frozen=True)
class SegmentEnded:
    reason: str
    """"silence", "max_length", "gap" or "end_of_stream"."""
    heard: UtteranceHeard | None = None
    """What the detector heard in it (None in fixed mode)."""


Event = SegmentStarted | SegmentExtended | SegmentEnded


@dataclass
class _Window:
    pcm: bytes
    stamp: Stamp
    position: int
    voiced: bool
    kind: Kind
    level_dbfs: float = SILENT_DBFS
    other_voice: bool = False
    """Another voice under the talker: the background bar up, or talk the hold called
    BACKGROUND."""


@dataclass
class SegmenterCounters:
    silence_bytes_dropped: int = 0
    segments: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)


class Segmenter:
    def __init__(self, config: SegmenterConfig) -> None:
        self.counters = SegmenterCounters()
        self.detector = VoiceDetector(config.detector)
        self._history: deque[_Window] = deque()
        self._fitted_bytes: int | None = None
        self.reconfigure(config)
        self._partial = b""
        self._partial_stamp: Stamp | None = None
        self._position = 0
        self._in_segment = False
        self._segment_bytes = 0
        self._silent_run = 0
        self._background_since_talker = 0
        self._tally: HeardTally | None = None

    def reconfigure(self, config: SegmenterConfig) -> None:
        """Run with `config` from the next window on (remote settings apply live). The
        recent windows and, unless the detector's own settings change, its learned noise
        floor are kept; an open segment goes on under the new hangover and length."""
        if config.detector != self.detector.config:
            self.detector = VoiceDetector(config.detector)
        self.config = config
        self._start_windows = max(1, windows(config.start_s))
        self._hangover_windows = max(1, windows(config.hangover_s))
        self._preroll_windows = windows(config.preroll_s)
        self._backtrack_windows = windows(BACKTRACK_GAP_S)
        keep = (self._start_windows + 2 * self._backtrack_windows + self._preroll_windows
                + windows(LATE_START_S))
        while len(self._history) > keep:
            self.counters.silence_bytes_dropped += len(self._history.popleft().pcm)
        self._history = deque(self._history, maxlen=keep)
        self._max_bytes = int(config.max_s * SAMPLE_RATE_HZ) * SAMPLE_WIDTH_BYTES
        if self._fitted_bytes is not None:
            self.fit_within(self._fitted_bytes)

    def fit_within(self, max_bytes: int) -> None:
        """Cut segments at `max_bytes` at the most (the gateway's announced buffer), or at
        `max_s`, whichever is shorter. Takes effect from the next cut."""
        self._fitted_bytes = max_bytes
        configured = int(self.config.max_s * SAMPLE_RATE_HZ) * SAMPLE_WIDTH_BYTES
        self._max_bytes = max(WINDOW_BYTES, min(configured, whole_samples(max_bytes)))

    def push(self, pcm: bytes, stamp: Stamp) -> list[Event]:
        """Feed captured audio whose first sample was taken at `stamp`."""
        if not self._partial:
            self._partial_stamp = stamp
        self._partial += pcm
        events: list[Event] = []
        while len(self._partial) >= WINDOW_BYTES:
            window_pcm, self._partial = self._partial[:WINDOW_BYTES], self._partial[WINDOW_BYTES:]
            assert self._partial_stamp is not None
            kind = (self.detector.classify(window_pcm, self._in_segment)
                    if self.config.mode == "vad" else Kind.NOISE)
            voiced = kind >= (Kind.WEAK if self._in_segment else Kind.SPEECH)
            other_voice = (self.detector.background_bar_dbfs is not None
                           or (kind == Kind.BACKGROUND and self.detector.last_talk))
            window = _Window(window_pcm, self._partial_stamp, self._position, voiced, kind,
                             self.detector.last_level_dbfs, other_voice)
            self._partial_stamp = self._partial_stamp.plus(WINDOW_S)
            self._position += WINDOW_BYTES // 2
            events += self._fixed(window) if self.config.mode == "fixed" else self._vad(window)
        return events

    def gap(self) -> list[Event]:
        """Audio was lost (xrun, reopen): end any segment; the next one starts afresh."""
        events = self._end("gap") if self._in_segment else []
        self._drop_unsent()
        return events

    def flush(self) -> list[Event]:
        """End of the stream: close the open segment with what remains."""
        events: list[Event] = []
        tail = self._partial[: whole_samples(len(self._partial))]
        if not self._in_segment and tail and self.config.mode == "fixed":
            # fixed mode drops nothing: a tail shorter than a window is a segment of its own
            assert self._partial_stamp is not None
            events.append(self._begin([_Window(tail, self._partial_stamp, self._position,
                                               False, Kind.NOISE)]))
        elif self._in_segment and tail:
            events.append(SegmentExtended(tail))
        if self._in_segment:
            events += self._end("end_of_stream")
            self._partial = b""
        self._drop_unsent()
        return events

    def _drop_unsent(self) -> None:
        """Forget the audio heard outside any segment (counted as silence not sent)."""
        self.counters.silence_bytes_dropped += sum(len(w.pcm) for w in self._history)
        self.counters.silence_bytes_dropped += len(self._partial)
        self._history.clear()
        self._partial = b""

    def _fixed(self, window: _Window) -> list[Event]:
        events: list[Event] = []
        if not self._in_segment:
            events.append(self._begin([window]))
        else:
            events.append(SegmentExtended(window.pcm))
            self._segment_bytes += len(window.pcm)
        if self._segment_bytes >= self._max_bytes:
            events += self._end("max_length")
        return events

    def _vad(self, window: _Window) -> list[Event]:
        if not self._in_segment:
            return self._listen(window)
        events: list[Event] = [SegmentExtended(window.pcm)]
        self._segment_bytes += len(window.pcm)
        self._tally_window(window)
        if window.voiced:
            self._silent_run, self._background_since_talker = 0, 0
        elif window.kind == Kind.BACKGROUND and self._background_since_talker < windows(BACKGROUND_PAUSE_S):
            self._background_since_talker += 1
        else:
            self._silent_run += 1
        if self._silent_run >= self._hangover_windows:
            events += self._end("silence")
        elif self._segment_bytes >= self._max_bytes:
            events += self._end("max_length")
            if window.voiced:
                self._in_segment, self._segment_bytes = True, 0
                self._history.clear()
                self._tally = HeardTally()
                events.append(SegmentStarted(window.stamp.plus(WINDOW_S),
                                             window.position + WINDOW_BYTES // 2, b""))
        return events

    def _listen(self, window: _Window) -> list[Event]:
        if len(self._history) == self._history.maxlen:
            oldest = self._history[0]
            self.counters.silence_bytes_dropped += len(oldest.pcm)
        self._history.append(window)
        recent = list(self._history)[-self._start_windows:]
        voiced = sum(w.voiced for w in recent)
        if len(recent) < self._start_windows or voiced < ONSET_VOICED_RATIO * self._start_windows:
            return []
        heard = list(self._history)
        self._history.clear()
        onset = self._onset(heard, len(heard) - len(recent)
                            + next(i for i, w in enumerate(recent) if w.voiced))
        unsent = heard[: max(0, onset - self._preroll_windows)]
        self.counters.silence_bytes_dropped += sum(len(w.pcm) for w in unsent)
        opening = heard[len(unsent):]
        self._tally = HeardTally()
        for each in opening:
            self._tally_window(each)
        return [self._begin(opening)]

    def _tally_window(self, window: _Window) -> None:
        if self._tally is not None:
            self._tally.add(window.voiced, window.level_dbfs, window.other_voice)

    def _onset(self, heard: list[_Window], first_voiced: int) -> int:
        """Walk back from the stretch that started the utterance: soft windows right before
        it belong to it, and so does an earlier word at most BACKTRACK_GAP_S before it
        (a short "What" or "Is" that was too brief to start an utterance on its own). But
        only what could be the talker's: a run of sounding windows is taken only if its
        loudest could be (the talker hold, applied backwards), so a television's words just
        before the talker's are left out. The first windows next to the stretch are its
        rising edge, which reads low over 100 ms, and are always taken."""
        talkers = self._talkers_runs(heard[:first_voiced])
        onset, gap = first_voiced, 0
        for j in range(first_voiced - 1, -1, -1):
            rising_edge = first_voiced - j <= windows(RISING_EDGE_S)
            kind = heard[j].kind if rising_edge or talkers[j] else Kind.NOISE
            if (kind >= Kind.WEAK and gap == 0) or kind == Kind.SPEECH:
                onset, gap = j, 0
            else:
                gap += 1
                if gap > self._backtrack_windows:
                    break
        return onset

    def _talkers_runs(self, heard: list[_Window]) -> list[bool]:
        """For each window: whether the run of sounding windows it is in could be the
        talker's, by the run's loudest window."""
        could_be = self.detector.could_be_the_talker()
        out = [False] * len(heard)
        start = 0
        for end in range(len(heard) + 1):
            if end < len(heard) and heard[end].kind >= Kind.WEAK:
                continue
            if end > start:
                loudest = max(w.level_dbfs for w in heard[start:end])
                out[start:end] = [could_be(loudest)] * (end - start)
            start = end + 1
        return out

    def _begin(self, opening: list[_Window]) -> SegmentStarted:
        self._in_segment = True
        self._silent_run = 0
        pcm = b"".join(w.pcm for w in opening)
        self._segment_bytes = len(pcm)
        return SegmentStarted(opening[0].stamp, opening[0].position, pcm)

    def _end(self, reason: str) -> list[Event]:
        self._in_segment = False
        self._segment_bytes = 0
        self._silent_run = 0
        self.counters.segments += 1
        self.counters.by_reason[reason] = self.counters.by_reason.get(reason, 0) + 1
        tally, self._tally = self._tally, None
        heard = tally.summary(self.detector.room_level_dbfs) if tally is not None else None
        return [SegmentEnded(reason, heard)]
