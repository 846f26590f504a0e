"""Real processes: the broker, the reader and the gateway fixtures (tests/process_fixtures.py)."""

from tests.process_fixtures import broker, gateway, reader  # noqa: F401
