"""Turns the `source` setting into a factory of audio sources (ALSA or a fake)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from device_agent.capture.channels import ChannelPolicy
from device_agent.capture.fakes import PcmSource, silence_pcm, tone_pcm
from device_agent.capture.source import AudioSource
from device_agent.capture.wav import WavFileSource


def source_factory(spec: str, period_ms: int, channel: ChannelPolicy | None = None,
                   ) -> tuple[Callable[[], AudioSource], bool]:
    """(factory, finite): finite sources end; the capture loop may block on them."""
    kind, _, arg = spec.partition(":")
    if kind == "alsa":
        from device_agent.capture.alsa import AlsaSource

        return (lambda: AlsaSource(arg or "default", period_ms, channel)), False
    if kind in {"wav", "wav-paced"}:
        source = WavFileSource(Path(arg), period_ms, paced=kind == "wav-paced", channel=channel)
        return (lambda: source), kind == "wav"
    if kind == "tone":
        pcm = tone_pcm(1.0, float(arg or 440))  # whole cycles for integer Hz: loops seamlessly
        return (lambda: PcmSource(pcm, period_ms, paced=True, name=spec, loop=True)), False
    if kind == "silence":
        pcm = silence_pcm(1.0)
        return (lambda: PcmSource(pcm, period_ms, paced=True, name=spec, loop=True)), False
    raise ValueError(f"unknown source {spec!r}")
