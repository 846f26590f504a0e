"""The settings tables in the docs are generated; they must match the code."""

from pathlib import Path

from device_agent.settings import markdown_table as agent_table
from edge_console.settings import markdown_table as console_table
from edge_gateway.settings import markdown_table as gateway_table

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_gateway_doc_lists_the_current_settings() -> None:
    assert gateway_table() in (DOCS / "gateway.md").read_text()


def test_agent_doc_lists_the_current_settings() -> None:
    assert agent_table() in (DOCS / "agent.md").read_text()


def test_fleet_doc_lists_the_console_settings() -> None:
    assert console_table() in (DOCS / "fleet.md").read_text()
