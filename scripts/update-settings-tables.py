"""Regenerates the settings tables in docs/gateway.md, docs/agent.md and docs/fleet.md from
the code."""

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from device_agent.settings import markdown_table as agent_table  # noqa: E402
from edge_console.settings import markdown_table as console_table  # noqa: E402
from edge_gateway.settings import markdown_table as gateway_table  # noqa: E402

TABLE = re.compile(r"^\| Environment variable \|.*?\n(?=[^|])", re.S | re.M)

for name, table in (("gateway.md", gateway_table()), ("agent.md", agent_table()),
                    ("fleet.md", console_table())):
    path = Path(__file__).resolve().parents[1] / "docs" / name
    text, count = TABLE.subn(table.rstrip("\n") + "\n", path.read_text(), count=1)
    if count != 1:
        raise SystemExit(f"no settings table in {path}")
    path.write_text(text)
    print(f"updated {path}")
