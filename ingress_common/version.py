"""The product's version: one definition, read by pyproject.toml (setuptools' dynamic
version) and by the agent's health reports without importlib.metadata, whose import costs
a small device about 3 MiB of RSS."""

VERSION = "0.1.0"
