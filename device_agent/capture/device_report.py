"""`device-agent list-devices`: each capture device, what it offers, what the agent picks."""

from __future__ import annotations

from typing import Any

from device_agent.capture.alsa import capabilities, negotiate
from device_agent.capture.channels import ChannelPolicy
from device_agent.capture.devices import list_cards
from device_agent.capture.format_choice import NoUsableFormat
from device_agent.capture.source import SourceError


def describe_devices(channel: ChannelPolicy) -> list[dict[str, Any]]:
    """Each capture device: its stable names, what it offers and what the agent would pick."""
    import alsaaudio

    rows: list[dict[str, Any]] = []
    entries = [(card.pcm_name, card.stable_names, card.description) for card in list_cards()]
    entries += [(name, [name], "") for name in alsaaudio.pcms(alsaaudio.PCM_CAPTURE)
                if name not in {e[0] for e in entries}]
    for pcm_name, names, description in entries:
        row: dict[str, Any] = {"names": names, "pcm": pcm_name, "description": description}
        try:
            row.update(offers=str(capabilities(pcm_name)), picks=str(negotiate(pcm_name, channel)))
        except (SourceError, NoUsableFormat) as exc:
            row["error"] = str(exc)
        rows.append(row)
    return rows
