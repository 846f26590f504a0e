"""The finder's choice among announced gateways (pure logic: announcements stand in for
the network; the real mDNS is in tests/integration/test_discovery.py)."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path

from zeroconf import ServiceStateChange

from device_agent.uplink.gateway_finder import GatewayFinder
from ingress_common.discovery import SERVICE_TYPE, txt_record


@dataclass
class Info:
    addresses: list[bytes]
    port: int
    properties: dict[bytes, bytes | None] = field(default_factory=dict)


class Network:
    def __init__(self) -> None:
        self.infos: dict[str, Info] = {}

    def announce(self, finder: GatewayFinder, gateway_id: str, address: str, tls: bool) -> None:
        name = f"{gateway_id}.{SERVICE_TYPE}"
        txt = txt_record("/ws/audio", tls, gateway_id, "0.1.0")
        self.infos[name] = Info([socket.inet_aton(address)], 8000,
                                {k.encode(): v.encode() for k, v in txt.items()})
        finder._changed(self, SERVICE_TYPE, name, ServiceStateChange.Added)  # noqa: SLF001

    def goodbye(self, finder: GatewayFinder, gateway_id: str) -> None:
        finder._changed(self, SERVICE_TYPE, f"{gateway_id}.{SERVICE_TYPE}",  # noqa: SLF001
                        ServiceStateChange.Removed)

    def get_service_info(self, _type: str, name: str, timeout: int) -> Info | None:
        return self.infos.get(name)


def test_it_prefers_the_gateway_it_used_last_and_waits_when_none_is_left(tmp_path: Path) -> None:
    memory = tmp_path / "gateway.json"
    net = Network()
    first = GatewayFinder(require_tls=False, memory=memory)
    assert first.url() is None
    net.announce(first, "gw-b", "10.0.0.2", tls=False)
    assert first.url() == "ws://10.0.0.2:8000/ws/audio"
    again = GatewayFinder(require_tls=False, memory=memory)  # the next start
    net.announce(again, "gw-a", "10.0.0.1", tls=False)
    assert again.url() == "ws://10.0.0.1:8000/ws/audio"  # the only one found, for now
    net.announce(again, "gw-b", "10.0.0.2", tls=False)
    assert again.url() == "ws://10.0.0.2:8000/ws/audio"  # the one used last, once it is back
    net.goodbye(again, "gw-b")
    net.goodbye(again, "gw-a")
    assert again.url() is None


def test_tls_is_never_given_up(tmp_path: Path) -> None:
    net = Network()
    with_ca = GatewayFinder(require_tls=True)
    net.announce(with_ca, "gw-plain", "10.0.0.3", tls=False)
    assert with_ca.url() is None
    net.announce(with_ca, "gw-tls", "10.0.0.4", tls=True)
    assert with_ca.url() == "wss://10.0.0.4:8000/ws/audio"
    memory = tmp_path / "gateway.json"
    used_tls = GatewayFinder(require_tls=False, memory=memory)
    net.announce(used_tls, "gw-tls", "10.0.0.4", tls=True)
    after = GatewayFinder(require_tls=False, memory=memory)  # remembers it used wss://
    net.announce(after, "gw-plain", "10.0.0.3", tls=False)
    assert after.url() is None
