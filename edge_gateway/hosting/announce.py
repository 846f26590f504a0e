"""The gateway announces itself on the local network by mDNS (python-zeroconf), so that an
agent with `AGENT_GATEWAY_URL=auto` finds it (`ingress_common.discovery`).

`GATEWAY_ANNOUNCE=auto` (the default) announces unless the gateway listens on loopback
only, where no other host could reach it anyway. The announcement names the bound address,
or every non-loopback IPv4 address of the host when bound to all of them. It runs in the
worker, starts in the background (probing a name takes a second or two), and says goodbye
when the worker exits. A failure to announce is logged; the gateway serves regardless.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from typing import Any

from edge_gateway.settings import GatewaySettings
from ingress_common.discovery import SERVICE_TYPE, txt_record
from ingress_common.version import VERSION

_LOGGER = logging.getLogger(__name__)
AUDIO_PATH = "/ws/audio"


def should_announce(settings: GatewaySettings) -> bool:
    if settings.announce == "off":
        return False
    if settings.announce == "on":
        return True
    host = settings.bind.rpartition(":")[0].strip("[]")
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host not in {"localhost", ""}


def announced_addresses(settings: GatewaySettings) -> list[str]:
    from zeroconf import get_all_addresses

    host = settings.bind.rpartition(":")[0].strip("[]")
    if host not in {"0.0.0.0", ""}:
        return [host]
    return [a for a in get_all_addresses() if not ipaddress.ip_address(a).is_loopback]


class Announcer:
    def __init__(self, settings: GatewaySettings) -> None:
        self._settings = settings
        self._zeroconf: Any = None
        self._info: Any = None
        self._lock = threading.Lock()

    def start(self) -> None:
        threading.Thread(target=self._announce, name="mdns-announce", daemon=True).start()

    def _announce(self) -> None:
        try:
            from zeroconf import IPVersion, ServiceInfo, Zeroconf

            settings = self._settings
            addresses = announced_addresses(settings)
            gateway_id = settings.resolved_gateway_id
            port = int(settings.bind.rpartition(":")[2])
            instance = "".join(c if c.isalnum() or c in "-_" else "-" for c in gateway_id)
            info = ServiceInfo(
                SERVICE_TYPE, f"{instance}.{SERVICE_TYPE}", port=port,
                addresses=[socket.inet_aton(a) for a in addresses],
                properties=txt_record(AUDIO_PATH, bool(settings.tls_certfile), gateway_id,
                                      VERSION),
                server=f"{socket.gethostname()}.local.")
            zeroconf = Zeroconf(ip_version=IPVersion.V4Only)
            # strict=False: the service name is 18 characters, over RFC 6335's 15
            zeroconf.register_service(info, allow_name_change=True, strict=False)
            with self._lock:
                self._zeroconf, self._info = zeroconf, info
            _LOGGER.info("announced by mDNS as %s on %s, port %d", info.name,
                         ", ".join(addresses), port)
        except Exception as exc:  # noqa: BLE001 - announcing is a convenience, never fatal
            _LOGGER.warning("could not announce the gateway by mDNS: %s", exc)

    def stop(self) -> None:
        with self._lock:
            zeroconf, info, self._zeroconf = self._zeroconf, self._info, None
        if zeroconf is not None:
            try:
                zeroconf.unregister_service(info)
            finally:
                zeroconf.close()
