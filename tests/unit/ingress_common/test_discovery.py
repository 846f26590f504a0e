"""An announcement read back: what the agent connects to, and what it refuses to take."""

from __future__ import annotations

import pytest

from ingress_common.discovery import advertised, txt_record


def _properties(**txt: str) -> dict[bytes, bytes | None]:
    return {k.encode(): v.encode() for k, v in txt.items()}


def test_an_announcement_gives_the_gateways_url() -> None:
    plain = advertised("gw._edge-audio-ingress._tcp.local.", "10.0.0.5", 8000,
                       _properties(**txt_record("/ws/audio", False, "gw-hall", "0.1.0")))
    assert (plain.url, plain.gateway_id, plain.tls) == ("ws://10.0.0.5:8000/ws/audio",
                                                        "gw-hall", False)
    secure = advertised("gw", "10.0.0.5", 8443,
                        _properties(**txt_record("/ws/audio", True, "gw-hall", "0.1.0")))
    assert secure.url == "wss://10.0.0.5:8443/ws/audio"


@pytest.mark.parametrize("txt", [{}, {"path": "ws/audio", "tls": "0"}, {"path": "/ws", "tls": "yes"}])
def test_what_is_not_ours_is_refused(txt: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        advertised("printer", "10.0.0.9", 631, _properties(**txt))
