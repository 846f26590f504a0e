"""Settings changed by the operator: checked by the agent's own validators, applied over
the local configuration, and kept on disk so that a restart keeps them."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from device_agent.settings import AgentSettings, check_remote
from ingress_common.config import ConfigError
from ingress_common.health import DesiredSettings

_LOGGER = logging.getLogger(__name__)


class RemoteSettings:
    """The remote settings in force over `local` (the device's own configuration): the
    desired values replace the local ones key by key; a key the operator drops falls back
    to the local value."""

    def __init__(self, local: AgentSettings, path: Path | None) -> None:
        self.local = local
        self.path = path
        self.version = 0
        self.values: dict[str, str] = {}
        self.error = ""
        self._refused_version = 0

    @property
    def settings(self) -> AgentSettings:
        return self.with_values(self.values)

    def with_values(self, values: dict[str, str]) -> AgentSettings:
        changes: dict[str, Any] = check_remote(values)
        return replace(self.local, **changes)

    def load(self) -> None:
        """The settings kept by an earlier run; a file that no longer passes the checks
        (the agent was upgraded, the local configuration changed) is logged and ignored."""
        if self.path is None or not self.path.exists():
            return
        try:
            kept = json.loads(self.path.read_text())
            desired = DesiredSettings(int(kept["version"]), {str(k): str(v) for k, v
                                                             in dict(kept["values"]).items()})
            self.with_values(desired.values)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            _LOGGER.error("ignoring the kept remote settings in %s: %s", self.path, exc)
            return
        self.version, self.values = desired.version, desired.values
        _LOGGER.info("remote settings version %d kept from the last run", self.version,
                     extra={"settings": self.values})

    def offer(self, desired: DesiredSettings) -> AgentSettings | None:
        """The settings to run if `desired` is new and valid (then kept on disk), else None.
        A refused version is not tried again; its reason stays in `error`."""
        if desired.version in (self.version, self._refused_version):
            return None
        try:
            settings = self.with_values(desired.values)
        except ConfigError as exc:
            self._refused_version, self.error = desired.version, str(exc)
            _LOGGER.error("remote settings version %d refused: %s", desired.version, exc)
            return None
        self.version, self.values, self.error = desired.version, dict(desired.values), ""
        self._keep()
        _LOGGER.info("remote settings version %d applied", desired.version,
                     extra={"settings": desired.values})
        return settings

    def _keep(self) -> None:
        if self.path is None:
            return
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        try:
            tmp.write_text(json.dumps({"version": self.version, "values": self.values}))
            os.replace(tmp, self.path)
        except OSError as exc:
            _LOGGER.error("could not keep the remote settings in %s: %s; they apply until "
                          "the agent restarts", self.path, exc)
