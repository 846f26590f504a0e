"""How a gateway is found on the local network: mDNS/DNS-SD, one definition for the
gateway that announces itself and the agent that looks (`AGENT_GATEWAY_URL=auto`).

The service type is `_edge-audio-ingress._tcp`: 18 characters, over the 15 that RFC 6335
allows a service name, so python-zeroconf registers it with `strict=False` (mDNS itself,
and browsers such as avahi-browse, take it as it is). Its TXT record says:
- `path`: the audio route (`/ws/audio`);
- `tls`: `1` when the gateway serves wss://, else `0`;
- `gateway_id`: the gateway's stable id (GATEWAY_ID, or host:port);
- `version`: the gateway's version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

SERVICE_TYPE = "_edge-audio-ingress._tcp.local."


@dataclass(frozen=True)
class Advertised:
    """One gateway as its announcement describes it."""

    name: str
    """The service instance name (unique on the link)."""
    gateway_id: str
    address: str
    port: int
    path: str
    tls: bool

    @property
    def url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{'wss' if self.tls else 'ws'}://{host}:{self.port}{self.path}"


def txt_record(path: str, tls: bool, gateway_id: str, version: str) -> dict[str, str]:
    return {"path": path, "tls": "1" if tls else "0", "gateway_id": gateway_id,
            "version": version}


def advertised(name: str, address: str, port: int,
               properties: Mapping[bytes, bytes | None]) -> Advertised:
    """The gateway an announcement describes (ValueError: not one of ours)."""
    text = {k.decode(errors="replace"): (v or b"").decode(errors="replace")
            for k, v in properties.items()}
    path = text.get("path", "")
    if not path.startswith("/") or text.get("tls") not in {"0", "1"}:
        raise ValueError(f"{name}: not an edge-audio-ingress announcement")
    return Advertised(name, text.get("gateway_id") or name, address, port, path,
                      text["tls"] == "1")
