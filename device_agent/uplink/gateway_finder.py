"""Where the agent sends: a fixed URL, or with `AGENT_GATEWAY_URL=auto` a gateway found on
the local network by mDNS (`ingress_common.discovery`, python-zeroconf).

The finder browses for `_edge-audio-ingress._tcp` for as long as the agent runs, and keeps
the gateways that announce themselves (a gateway that stops says goodbye and is dropped).
It chooses, in order: the gateway it used last (its id is remembered in `memory`, a small
file in the agent's state directory), then the first by id. It logs which one it chose and
why, and again when the choice changes. With none found, `url()` is None: the agent keeps
what it hears in its spool and tries again, and resumes when a gateway appears.

TLS is never given up: with a CA file (`AGENT_CA_FILE`), or once the remembered gateway
served wss://, a gateway that announces plain ws:// is not used.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ingress_common.discovery import SERVICE_TYPE, Advertised, advertised

_LOGGER = logging.getLogger(__name__)
INFO_TIMEOUT_MS = 3000
AUTO = "auto"

GatewayUrl = Callable[[], str | None]
"""The gateway to use now, or None while none is known."""


def fixed(url: str) -> GatewayUrl:
    return lambda: url


class GatewayFinder:
    def __init__(self, require_tls: bool, memory: Path | None = None) -> None:
        self._require_tls = require_tls
        self._memory = memory
        self._remembered = self._recall()
        self._preferred = self._remembered["gateway_id"] if self._remembered else None
        """The gateway used last before this start: chosen whenever it is found."""
        self._found: dict[str, Advertised] = {}
        self._chosen: Advertised | None = None
        self._lock = threading.Lock()
        self._zeroconf: Any = None
        self._browser: Any = None

    def start(self) -> GatewayFinder:
        from zeroconf import IPVersion, ServiceBrowser, Zeroconf

        self._zeroconf = Zeroconf(ip_version=IPVersion.V4Only)
        self._browser = ServiceBrowser(self._zeroconf, SERVICE_TYPE, handlers=[self._changed])
        _LOGGER.info("looking for a gateway by mDNS (%s)%s", SERVICE_TYPE,
                     f"; the one used last: {self._remembered['gateway_id']}"
                     if self._remembered else "")
        return self

    def stop(self) -> None:
        if self._zeroconf is not None:
            self._zeroconf.close()

    def url(self) -> str | None:
        with self._lock:
            return self._chosen.url if self._chosen is not None else None

    def _changed(self, zeroconf: Any, service_type: str, name: str, state_change: Any) -> None:
        from zeroconf import ServiceStateChange

        if state_change is ServiceStateChange.Removed:
            with self._lock:
                self._found.pop(name, None)
            self._choose(f"{name} said goodbye")
            return
        info = zeroconf.get_service_info(service_type, name, timeout=INFO_TIMEOUT_MS)
        if info is None or not info.addresses:
            return
        try:
            gateway = advertised(name, socket.inet_ntoa(info.addresses[0]), info.port or 0,
                                 info.properties)
        except ValueError as exc:
            _LOGGER.warning("ignoring an announcement: %s", exc)
            return
        if not gateway.tls and self._needs_tls():
            _LOGGER.warning("ignoring gateway %s at %s: it serves plain ws:// and this "
                            "device requires TLS", gateway.gateway_id, gateway.url)
            return
        with self._lock:
            self._found[name] = gateway
        self._choose(f"{gateway.gateway_id} announced itself")

    def _needs_tls(self) -> bool:
        return self._require_tls or bool(self._remembered and self._remembered.get("tls"))

    def _choose(self, event: str) -> None:
        with self._lock:
            found = sorted(self._found.values(), key=lambda g: g.gateway_id)
            preferred = next((g for g in found if g.gateway_id == self._preferred), None)
            chosen = preferred or (found[0] if found else None)
            if chosen == self._chosen:
                return
            self._chosen = chosen
        if chosen is None:
            _LOGGER.warning("no gateway found (%s); what the device hears waits in its spool",
                            event)
            return
        why = ("the gateway it used last" if preferred is not None
               else "the first by id of the gateways found" if len(found) > 1
               else "the only gateway found")
        _LOGGER.info("gateway chosen: %s at %s (%s; %d found)", chosen.gateway_id, chosen.url,
                     why, len(found), extra={"gateway_id": chosen.gateway_id})
        self._remember(chosen)

    def _recall(self) -> dict[str, Any] | None:
        if self._memory is None:
            return None
        try:
            remembered = json.loads(self._memory.read_text())
        except (OSError, ValueError):
            return None
        return remembered if isinstance(remembered, dict) and remembered.get("gateway_id") \
            else None

    def _remember(self, gateway: Advertised) -> None:
        if self._memory is None:
            return
        self._remembered = {"gateway_id": gateway.gateway_id, "tls": gateway.tls}
        try:
            partial = self._memory.with_suffix(".tmp")
            partial.write_text(json.dumps(self._remembered))
            partial.replace(self._memory)
        except OSError as exc:
            _LOGGER.warning("could not remember the gateway in %s: %s", self._memory, exc)
