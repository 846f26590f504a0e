"""Which channel of a multi-channel capture becomes the mono stream.

Policies: a fixed channel (numbered from 1, as `sox remix` and `arecord` number them), a
downmix (the mean of all channels), or "auto": the channel with the most speech-band
energy (300-3400 Hz), judged over 0.5 s windows. Auto switches only when another channel
is louder in that band by `SWITCH_MARGIN_DB` for `SWITCH_WINDOWS` windows in a row, so
one cough next to the wrong microphone does not flip it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingress_common.remote_settings import channel

SPEECH_BAND_HZ = (300.0, 3400.0)
WINDOW_S = 0.5
SWITCH_MARGIN_DB = 3.0
SWITCH_WINDOWS = 2


@dataclass(frozen=True)
class ChannelPolicy:
    mode: str
    """"auto", "mix" or "fixed"."""
    channel: int = 1
    """1-based; only for "fixed"."""

    @classmethod
    def parse(cls, text: str) -> ChannelPolicy:
        text = channel(text)
        return cls(text) if text in {"auto", "mix"} else cls("fixed", int(text))

    def __str__(self) -> str:
        return f"channel {self.channel}" if self.mode == "fixed" else self.mode


def band_energy_db(samples: np.ndarray, rate_hz: int) -> np.ndarray:
    """Speech-band energy of each channel of a (frames, channels) block, in dB."""
    spectrum = np.abs(np.fft.rfft(samples, axis=0)) ** 2
    freqs = np.fft.rfftfreq(samples.shape[0], 1.0 / rate_hz)
    band = (freqs >= SPEECH_BAND_HZ[0]) & (freqs <= SPEECH_BAND_HZ[1])
    return 10 * np.log10(spectrum[band].sum(axis=0) + 1e-12)


class ChannelPicker:
    """Turns (frames, channels) blocks into mono, by the policy."""

    def __init__(self, policy: ChannelPolicy, channels: int, rate_hz: int) -> None:
        if policy.mode == "fixed" and policy.channel > channels:
            raise ValueError(f"channel {policy.channel} asked for, the device has {channels}")
        self.policy = policy
        self.channels = channels
        self.current = policy.channel - 1 if policy.mode == "fixed" else 0
        """0-based index of the channel in use (auto and fixed)."""
        self.switches = 0
        self._rate_hz = rate_hz
        self._window_frames = int(rate_hz * WINDOW_S)
        self._pending = np.zeros((0, channels), dtype=np.float32)
        self._challenger: int | None = None
        self._challenger_wins = 0

    def mono(self, block: np.ndarray) -> np.ndarray:
        if self.channels == 1:
            return block[:, 0]
        if self.policy.mode == "mix":
            return block.mean(axis=1, dtype=np.float32)
        if self.policy.mode == "auto":
            self._judge(block)
        return block[:, self.current]

    def _judge(self, block: np.ndarray) -> None:
        self._pending = np.concatenate([self._pending, block]) if len(self._pending) else block
        while len(self._pending) >= self._window_frames:
            window, self._pending = (self._pending[: self._window_frames],
                                     self._pending[self._window_frames:])
            self._vote(band_energy_db(window, self._rate_hz))

    def _vote(self, energy_db: np.ndarray) -> None:
        best = int(np.argmax(energy_db))
        if best == self.current or energy_db[best] - energy_db[self.current] < SWITCH_MARGIN_DB:
            self._challenger, self._challenger_wins = None, 0
            return
        if best != self._challenger:
            self._challenger, self._challenger_wins = best, 0
        self._challenger_wins += 1
        if self._challenger_wins >= SWITCH_WINDOWS:
            self.current, self.switches = best, self.switches + 1
            self._challenger, self._challenger_wins = None, 0
