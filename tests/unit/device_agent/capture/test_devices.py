"""Stable device names (card id, USB port path) resolved from /proc/asound and sysfs."""

from __future__ import annotations

from pathlib import Path

import pytest

from device_agent.capture.devices import Card, DeviceNotFound, list_cards, resolve

CARDS = """ 0 [vc4hdmi        ]: vc4-hdmi - vc4-hdmi
                      vc4-hdmi
 2 [ArrayUAC10     ]: USB-Audio - ReSpeaker 4 Mic Array (UAC1.0)
                      SEEED ReSpeaker 4 Mic Array (UAC1.0) at usb-0000:01:00.0-1.3, full speed
"""


def fake_system(root: Path) -> tuple[Path, Path]:
    proc, sys_class = root / "proc", root / "sys"
    proc.mkdir()
    (proc / "cards").write_text(CARDS)
    usb = root / "devices/platform/scb/pci0000:00/0000:01:00.0/usb1/1-1/1-1.3/1-1.3:1.0"
    usb.mkdir(parents=True)
    hdmi = root / "devices/platform/soc/fef00700.hdmi"
    hdmi.mkdir(parents=True)
    for index, target in ((2, usb), (0, hdmi)):
        (sys_class / f"card{index}").mkdir(parents=True)
        (sys_class / f"card{index}" / "device").symlink_to(target)
    return proc, sys_class


def test_cards_are_listed_with_their_id_and_usb_port(tmp_path: Path) -> None:
    cards = list_cards(*fake_system(tmp_path))
    assert cards == [Card(0, "vc4hdmi", "vc4-hdmi - vc4-hdmi", None),
                     Card(2, "ArrayUAC10", "USB-Audio - ReSpeaker 4 Mic Array (UAC1.0)", "1-1.3")]
    assert cards[1].stable_names == ["card:ArrayUAC10", "usb:1-1.3"]


def test_stable_names_resolve_to_the_card_wherever_it_is_now(tmp_path: Path) -> None:
    cards = list_cards(*fake_system(tmp_path))
    assert resolve("usb:1-1.3", cards) == "hw:CARD=ArrayUAC10,DEV=0"
    assert resolve("card:ArrayUAC10", cards) == "hw:CARD=ArrayUAC10,DEV=0"
    assert resolve("plughw:CARD=ArrayUAC10,DEV=0", cards) == "plughw:CARD=ArrayUAC10,DEV=0"
    with pytest.raises(DeviceNotFound):
        resolve("usb:1-1.4", cards)  # unplugged, or in another port
