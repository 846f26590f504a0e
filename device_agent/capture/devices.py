"""Capture devices by stable names, resolved again at every open so a replugged microphone
is found on whatever card number it comes back as.

Names the agent accepts after `alsa:`:
- `card:ID`: the ALSA card id (`/proc/asound/cards`, e.g. `card:Device` or `card:ArrayUAC10`),
  stable across reboots and replugs of the same model; opened as `hw:CARD=ID,DEV=0`;
- `usb:PATH`: the USB port path (`usb:1-1.3`), stable while the microphone stays in the same
  port, and the way to tell two identical microphones apart;
- any ALSA PCM name (`default`, `hw:1,0`, `plughw:CARD=Device,DEV=0`, a name from .asoundrc).
`hw:` devices are opened at their native format and converted by the agent (soxr);
`plughw:` ones are converted by ALSA's plug layer, as before.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

_CARD_LINE = re.compile(r"^\s*(\d+)\s+\[(\S+)\s*\]:\s*(.*)$")


class DeviceNotFound(LookupError):
    """No card with that stable name is plugged in (now)."""


@dataclass(frozen=True)
class Card:
    index: int
    card_id: str
    description: str
    usb_path: str | None

    @property
    def pcm_name(self) -> str:
        return f"hw:CARD={self.card_id},DEV=0"

    @property
    def stable_names(self) -> list[str]:
        names = [f"card:{self.card_id}"]
        return [*names, f"usb:{self.usb_path}"] if self.usb_path else names


def usb_path_of(device_link: Path) -> str | None:
    """The USB port path ("1-1.3") of a card's sysfs device, or None when not on USB."""
    try:
        parts = Path(os.path.realpath(device_link)).parts
    except OSError:
        return None
    ports = [p for p in parts if re.fullmatch(r"\d+-[\d.]+", p)]
    return ports[-1] if ports else None


def list_cards(proc: Path = Path("/proc/asound"), sys_class: Path = Path("/sys/class/sound")) -> list[Card]:
    try:
        text = (proc / "cards").read_text()
    except OSError:
        return []
    cards = []
    for line in text.splitlines():
        match = _CARD_LINE.match(line)
        if match:
            index = int(match[1])
            cards.append(Card(index, match[2], match[3].strip(),
                              usb_path_of(sys_class / f"card{index}" / "device")))
    return cards


def resolve(name: str, cards: list[Card] | None = None) -> str:
    """The ALSA PCM name to open for a stable name; other names pass through unchanged."""
    kind, _, value = name.partition(":")
    if kind not in {"card", "usb"} or not value:
        return name
    for card in list_cards() if cards is None else cards:
        if (kind == "card" and card.card_id == value) or (kind == "usb" and card.usb_path == value):
            return card.pcm_name
    raise DeviceNotFound(f"no sound card {name!r} is plugged in")
