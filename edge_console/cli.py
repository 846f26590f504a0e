"""`edge-console`: serve the fleet console, and print its settings table."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from edge_console.settings import load_settings, markdown_table
from ingress_common.config import ConfigError, cli_overrides
from ingress_common.logs import configure_logging


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge-console", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the console under gunicorn")
    serve.add_argument("--config", help="TOML config file (also CONSOLE_CONFIG_FILE)")
    serve.add_argument("--bind", help="HOST:PORT (also CONSOLE_BIND)")
    serve.add_argument("--kafka-bootstrap-servers", help="also KAFKA_BOOTSTRAP_SERVERS")
    serve.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                       help="any setting by its config-file key, e.g. --set no_sound_s=120")
    table = commands.add_parser("settings", help="print the settings as a Markdown table")
    table.add_argument("--markdown", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "settings":
        print(markdown_table())
        return 0
    flags = {"bind": args.bind, "kafka_bootstrap_servers": args.kafka_bootstrap_servers}
    try:
        settings = load_settings(cli=cli_overrides(flags, args.set, "edge-console"),
                                 config_file=args.config)
    except ConfigError as exc:
        print(f"edge-console: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    from edge_console.hosting import ConsoleServer

    ConsoleServer(settings).run()
    return 0
