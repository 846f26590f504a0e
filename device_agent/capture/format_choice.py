"""Which native format the agent opens a device at. Pure: what the device offers in, a
decision out (capture.py asks libasound).

libasound picks the nearest configuration the device supports to what is asked for, so the
agent asks for 16 kHz with the fewest channels it can use, in the first of S16_LE, S32_LE,
S24_3LE the device offers, and then accepts what ALSA set up if the rate lies within
8-48 kHz and the channels include the one asked for. A device offering 16 kHz mono gets
exactly that; one offering only 44.1 and 48 kHz gets 44.1 kHz (the nearest); one that
records only stereo gets two channels.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from device_agent.capture.channels import ChannelPolicy
from device_agent.capture.formats import MAX_RATE_HZ, MIN_RATE_HZ, SAMPLE_FORMATS, PcmFormat
from ingress_common.pcm import SAMPLE_RATE_HZ

WANTED_RATE_HZ = SAMPLE_RATE_HZ


class NoUsableFormat(ValueError):
    """The device offers nothing the agent can decode."""


@dataclass(frozen=True)
class Capabilities:
    """What a device offers, for `list-devices` (bounds; a device may skip values within)."""

    rate_range_hz: tuple[int, int]
    channel_range: tuple[int, int]
    formats: tuple[str, ...]

    def __str__(self) -> str:
        def span(low: int, high: int, unit: str = "") -> str:
            return f"{low}{unit}" if low == high else f"{low}-{high}{unit}"
        usable = [f for f in self.formats if f in SAMPLE_FORMATS]
        others = len(self.formats) - len(usable)
        formats = ", ".join(usable) + (f" (+{others} the agent cannot decode)" if others else "")
        return (f"rates {span(*self.rate_range_hz, ' Hz')}; channels {span(*self.channel_range)}; "
                f"formats {formats or 'none usable'}")


def wanted_channels(policy: ChannelPolicy) -> int:
    return policy.channel if policy.mode == "fixed" else 1


def sample_format_for(offered: Iterable[str]) -> str:
    offered = set(offered)
    for name in SAMPLE_FORMATS:
        if name in offered:
            return name
    raise NoUsableFormat(f"the device offers none of {', '.join(SAMPLE_FORMATS)}")


def accept(rate_hz: int, channels: int, sample_format: str, asked_format: str,
           policy: ChannelPolicy) -> PcmFormat:
    """The format ALSA set up, if the agent can use it."""
    if sample_format != asked_format:
        raise NoUsableFormat(f"asked for {asked_format}, the device gave {sample_format}")
    if not MIN_RATE_HZ <= rate_hz <= MAX_RATE_HZ:
        raise NoUsableFormat(f"the nearest rate the device offers is {rate_hz} Hz, outside "
                             f"{MIN_RATE_HZ}-{MAX_RATE_HZ} Hz")
    if channels < wanted_channels(policy):
        raise NoUsableFormat(f"{policy} asked for, the device has {channels} channels")
    return PcmFormat(rate_hz, channels, sample_format)
