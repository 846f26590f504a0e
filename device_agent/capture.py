"""ALSA capture through pyalsaaudio. The only module that imports alsaaudio.

Opens the device by name (e.g. "default", "plughw:CARD=Device,DEV=0") in PCM_NORMAL mode
for 16 kHz mono S16_LE, then checks what ALSA actually set up: pyalsaaudio accepts a
device that silently runs at other settings, and such audio must be refused, not sent.
"""

from __future__ import annotations

import errno
import select
from typing import Any

from device_agent.source import Chunk, SourceError, SourceStalled
from ingress_common.protocol import SAMPLE_RATE_HZ

RATE_HZ = SAMPLE_RATE_HZ
CHANNELS = 1
FORMAT_NAME = "S16_LE"
PERIODS = 4


def check_format(info: dict[str, Any], device: str) -> None:
    """Raise SourceError when the opened PCM is not 16 kHz mono S16_LE."""
    problems = []
    if info.get("rate") != RATE_HZ:
        problems.append(f"rate {info.get('rate')} Hz instead of {RATE_HZ}")
    if info.get("channels") != CHANNELS:
        problems.append(f"{info.get('channels')} channels instead of {CHANNELS}")
    if info.get("format_name") != FORMAT_NAME:
        problems.append(f"format {info.get('format_name')} instead of {FORMAT_NAME}")
    if problems:
        raise SourceError(
            f"ALSA device {device!r} opened with {', '.join(problems)}; use a plughw: device "
            "(e.g. plughw:CARD=<name>,DEV=0) so ALSA converts to 16 kHz mono S16_LE")


class AlsaSource:
    def __init__(self, device: str = "default", period_ms: int = 20) -> None:
        self.name = f"alsa:{device}"
        self.device = device
        self.period_frames = RATE_HZ * period_ms // 1000
        self._pcm: Any = None
        self._poll: select.poll | None = None

    def open(self) -> None:
        import alsaaudio

        try:
            self._pcm = alsaaudio.PCM(
                alsaaudio.PCM_CAPTURE, alsaaudio.PCM_NORMAL, device=self.device,
                channels=CHANNELS, rate=RATE_HZ, format=alsaaudio.PCM_FORMAT_S16_LE,
                periodsize=self.period_frames, periods=PERIODS)
            check_format(self._pcm.info(), self.device)
        except alsaaudio.ALSAAudioError as exc:
            self.close()
            raise SourceError(f"cannot open ALSA device {self.device!r}: {exc}") from None
        except SourceError:
            self.close()
            raise
        self._poll = select.poll()
        for fd, mask in self._pcm.polldescriptors():
            self._poll.register(fd, mask)

    def read(self, timeout_s: float) -> Chunk:
        import alsaaudio

        assert self._pcm is not None and self._poll is not None
        if not self._poll.poll(int(timeout_s * 1000)):
            raise SourceStalled(f"no frames from {self.device!r} for {timeout_s:g} s")
        try:
            length, data = self._pcm.read()
        except alsaaudio.ALSAAudioError as exc:
            raise SourceError(f"ALSA read failed on {self.device!r}: {exc}") from None
        if length == -errno.EPIPE:
            return Chunk(b"", xrun=True)
        if length < 0:
            raise SourceError(f"ALSA read on {self.device!r} returned {length}")
        return Chunk(bytes(data))

    def close(self) -> None:
        if self._pcm is not None:
            self._pcm.close()
        self._pcm = None
        self._poll = None


def list_capture_devices() -> list[str]:
    """ALSA capture PCM names and the sound cards present."""
    import alsaaudio

    cards = [f"plughw:CARD={name},DEV=0" for name in alsaaudio.cards()]
    return [*cards, *alsaaudio.pcms(alsaaudio.PCM_CAPTURE)]
