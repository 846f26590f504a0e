"""`python -m devkit.alsa_fixture`: build the test microphone plugin, print its path."""

from devkit.alsa_fixture import build

print(build())
