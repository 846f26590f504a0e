"""ALSA capture through pyalsaaudio. The only module that imports alsaaudio.

Opening a device: resolve its stable name (devices.py), ask libasound which rates, channel
counts and sample formats it offers, pick one (format_choice.py), open it at exactly that,
check what ALSA really set up, and convert every period to the wire format (conversion.py).
A `plughw:` device offers everything, so it is opened at 16 kHz mono S16_LE as before.
"""

from __future__ import annotations

import errno
import logging
import select
import time
from typing import Any

from device_agent.capture.channels import ChannelPolicy
from device_agent.capture.conversion import Converter
from device_agent.capture.devices import DeviceNotFound, resolve
from device_agent.capture.format_choice import (
    WANTED_RATE_HZ,
    Capabilities,
    NoUsableFormat,
    accept,
    sample_format_for,
    wanted_channels,
)
from device_agent.capture.formats import PcmFormat
from device_agent.capture.source import Chunk, SourceError, SourceStalled

_LOGGER = logging.getLogger(__name__)
PERIODS = 4


def check_format(info: dict[str, Any], device: str, wanted: PcmFormat) -> None:
    """Raise SourceError when the opened PCM is not at the format asked for: pyalsaaudio
    accepts a device that silently runs at other settings, and such audio must not be sent."""
    problems = []
    if info.get("rate") != wanted.rate_hz:
        problems.append(f"rate {info.get('rate')} Hz instead of {wanted.rate_hz}")
    if info.get("channels") != wanted.channels:
        problems.append(f"{info.get('channels')} channels instead of {wanted.channels}")
    if info.get("format_name") != wanted.sample_format:
        problems.append(f"format {info.get('format_name')} instead of {wanted.sample_format}")
    if problems:
        raise SourceError(f"ALSA device {device!r} opened with {', '.join(problems)}")


def _pcm(pcm_name: str, **params: Any) -> Any:
    import alsaaudio

    return alsaaudio.PCM(alsaaudio.PCM_CAPTURE, alsaaudio.PCM_NONBLOCK, device=pcm_name, **params)


def _format_code(name: str) -> int:
    import alsaaudio

    return int(getattr(alsaaudio, f"PCM_FORMAT_{name}"))


def _actual(pcm: Any) -> tuple[int, int, str]:
    info = pcm.info()
    return int(info["rate"]), int(info["channels"]), str(info["format_name"])


def negotiate(pcm_name: str, policy: ChannelPolicy) -> PcmFormat:
    """Ask for 16 kHz and the fewest usable channels; accept what libasound sets up
    (format_choice.py). pyalsaaudio's getrates()/getchannels() are not used: they never
    return on devices with unbounded ranges, such as ALSA's `null`."""
    import alsaaudio

    try:
        probe = _pcm(pcm_name)
        try:
            asked = sample_format_for(probe.getformats())
        finally:
            probe.close()
        trial = _pcm(pcm_name, rate=WANTED_RATE_HZ, channels=wanted_channels(policy),
                     format=_format_code(asked))
        try:
            return accept(*_actual(trial), asked, policy)
        finally:
            trial.close()
    except alsaaudio.ALSAAudioError as exc:
        raise SourceError(f"cannot open ALSA device {pcm_name!r}: {exc}") from None


def capabilities(pcm_name: str) -> Capabilities:
    """Rate bounds, channel bounds (nearest to 1 and to 64) and formats, for list-devices."""
    import alsaaudio

    try:
        pcm = _pcm(pcm_name)
        try:
            rates, formats = pcm.getratebounds(), tuple(pcm.getformats())
        finally:
            pcm.close()
        channels = []
        for asked in (1, 64):
            trial = _pcm(pcm_name, channels=asked)
            channels.append(_actual(trial)[1])
            trial.close()
    except alsaaudio.ALSAAudioError as exc:
        raise SourceError(f"cannot open ALSA device {pcm_name!r}: {exc}") from None
    return Capabilities((int(rates[0]), int(rates[1])), (channels[0], channels[1]), formats)


class AlsaSource:
    def __init__(self, device: str = "default", period_ms: int = 20,
                 channel: ChannelPolicy | None = None) -> None:
        self.name = f"alsa:{device}"
        self.device = device
        self.period_ms = period_ms
        self.channel = channel or ChannelPolicy("auto")
        self.format: PcmFormat | None = None
        self._converter: Converter | None = None
        self._pcm: Any = None
        self._poll: select.poll | None = None
        self._descriptors: list[tuple[int, int]] = []
        self._period_frames = 0
        self._started = False
        """The first read starts the prepared stream."""

    def open(self) -> None:
        import alsaaudio

        try:
            pcm_name = resolve(self.device)
            fmt = negotiate(pcm_name, self.channel)
        except (DeviceNotFound, NoUsableFormat) as exc:
            raise SourceError(f"ALSA device {self.device!r}: {exc}") from None
        try:
            self._pcm = _pcm(pcm_name, channels=fmt.channels, rate=fmt.rate_hz,
                             format=_format_code(fmt.sample_format),
                             periodsize=fmt.rate_hz * self.period_ms // 1000, periods=PERIODS)
            check_format(self._pcm.info(), self.device, fmt)
        except alsaaudio.ALSAAudioError as exc:
            self.close()
            raise SourceError(f"cannot open ALSA device {self.device!r}: {exc}") from None
        except SourceError:
            self.close()
            raise
        self.format = fmt
        self._period_frames = int(self._pcm.info()["period_size"])
        self._started = False
        self._converter = Converter(fmt, self.channel)
        self._poll = select.poll()
        self._descriptors = self._pcm.polldescriptors()
        for fd, mask in self._descriptors:
            self._poll.register(fd, mask)
        _LOGGER.info("capture format", extra={
            "device": self.device, "pcm": pcm_name, "rate_hz": fmt.rate_hz,
            "channels": fmt.channels, "sample_format": fmt.sample_format,
            "conversion": self._converter.describe()})

    def read(self, timeout_s: float) -> Chunk:
        """One period, converted. Non-blocking reads between polls: the first read starts
        the prepared stream (a poll before it would wait forever); after that a read is
        made only once a whole period is available (a non-blocking read takes whatever is
        there, and hundreds of slivers a second would cost more than the audio); a dead
        device costs at most `timeout_s`."""
        import alsaaudio

        assert self._pcm is not None and self._poll is not None and self._converter is not None
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                ready = not self._started or self._pcm.avail() >= self._period_frames
                length, data = self._pcm.read() if ready else (0, b"")
                self._started = True
            except alsaaudio.ALSAAudioError as exc:
                raise SourceError(f"ALSA read failed on {self.device!r}: {exc}") from None
            if length == -errno.EPIPE:
                return Chunk(b"", xrun=True)
            if length < 0:
                raise SourceError(f"ALSA read on {self.device!r} returned {length}")
            if length > 0 and (pcm := self._converter.convert(data)):
                return Chunk(pcm)
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            if remaining_ms <= 0 or not self._poll.poll(remaining_ms):
                raise SourceStalled(f"no frames from {self.device!r} for {timeout_s:g} s")
            # Let the driver (or plugin) consume the wake-up, or poll stays ready forever.
            self._pcm.polldescriptors_revents(self._descriptors)

    def close(self) -> None:
        if self._pcm is not None:
            self._pcm.close()
        self._pcm = None
        self._poll = None
