"""A second host for tests: a network namespace joined to this one by a veth pair.

`LinkedHost` makes the namespace, the pair (one end here, one end there, each with an
address of a /24 of its own), and removes all of it when the block ends. Processes run in
it with `ip netns exec`. Needs root and iproute2.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass


def available() -> bool:
    return os.geteuid() == 0 and shutil.which("ip") is not None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@dataclass
class LinkedHost:
    name: str
    subnet: int
    """The third octet of 10.231.N.0/24."""

    @property
    def here(self) -> str:
        """This host's address on the link."""
        return f"10.231.{self.subnet}.1"

    @property
    def there(self) -> str:
        """The other host's address on the link."""
        return f"10.231.{self.subnet}.2"

    @property
    def _links(self) -> tuple[str, str]:
        return f"{self.name[:8]}-h", f"{self.name[:8]}-n"

    def __enter__(self) -> LinkedHost:
        here, there = self._links
        _ip("netns", "add", self.name)
        try:
            _ip("link", "add", here, "type", "veth", "peer", "name", there)
            _ip("link", "set", there, "netns", self.name)
            _ip("addr", "add", f"{self.here}/24", "dev", here)
            _ip("link", "set", here, "up", "multicast", "on")
            _ip("-n", self.name, "addr", "add", f"{self.there}/24", "dev", there)
            _ip("-n", self.name, "link", "set", there, "up", "multicast", "on")
            _ip("-n", self.name, "link", "set", "lo", "up")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        subprocess.run(["ip", "link", "del", self._links[0]], capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=10)

    def command(self, args: list[str]) -> list[str]:
        """`args`, run on the other host."""
        return ["ip", "netns", "exec", self.name, *args]
