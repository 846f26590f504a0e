"""Fixed-format ALSA capture devices for tests, through real libasound.

`pcm_fixture.c` is an external ioplug plugin that offers only one rate, channel count and
sample format and plays a raw file at real time (what a USB microphone with a fixed native
format looks like); a renamed-away file is an unplugged microphone. `build()` compiles it
with gcc against libasound2-dev (scripts/bootstrap.sh calls it); `alsa_env()` writes an
.asoundrc naming the devices and returns the environment that makes libasound read it.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

SOURCE = Path(__file__).with_name("pcm_fixture.c")
LIBRARY = Path(__file__).with_name("build") / "libasound_module_pcm_fixture.so"


def build() -> Path:
    """Compile the plugin unless an up-to-date build exists; return its path."""
    if LIBRARY.exists() and LIBRARY.stat().st_mtime >= SOURCE.stat().st_mtime:
        return LIBRARY
    LIBRARY.parent.mkdir(exist_ok=True)
    partial = LIBRARY.with_suffix(".tmp")
    subprocess.run(["gcc", "-DPIC", "-O2", "-Wall", "-Wextra", "-shared", "-fPIC", "-o",
                    str(partial), str(SOURCE), "-lasound"], check=True, capture_output=True,
                   timeout=120)
    partial.replace(LIBRARY)
    return LIBRARY


@dataclass(frozen=True)
class FixtureDevice:
    name: str
    file: Path
    rate_hz: int
    channels: int
    sample_format: str = "S16_LE"

    def asoundrc(self) -> str:
        return (f'pcm.{self.name} {{\n type fixture\n file "{self.file}"\n rate {self.rate_hz}\n'
                f' channels {self.channels}\n format "{self.sample_format}"\n}}\n')


def alsa_env(home: Path, devices: list[FixtureDevice], extra: str = "") -> dict[str, str]:
    """An environment whose libasound knows `devices` (via HOME/.asoundrc)."""
    home.mkdir(parents=True, exist_ok=True)
    text = f'pcm_type.fixture {{ lib "{build()}" }}\n' + "".join(d.asoundrc() for d in devices)
    (home / ".asoundrc").write_text(text + extra)
    return {**os.environ, "HOME": str(home)}
