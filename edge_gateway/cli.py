"""`edge-gateway`: serve, and print the settings table."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from edge_gateway.errors import ConfigError
from edge_gateway.settings import load_settings, markdown_table
from ingress_common.logs import configure_logging


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge-gateway", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gateway under gunicorn")
    serve.add_argument("--config", help="TOML config file (also GATEWAY_CONFIG_FILE)")
    serve.add_argument("--bind", help="HOST:PORT (also GATEWAY_BIND)")
    serve.add_argument("--kafka-bootstrap-servers", help="also KAFKA_BOOTSTRAP_SERVERS")
    serve.add_argument("--kafka-topic", help="also KAFKA_TOPIC")
    serve.add_argument("--create-topic", action="store_const", const="true",
                       dest="kafka_create_topic", help="create the topic if missing")
    serve.add_argument("--log-level", help="also GATEWAY_LOG_LEVEL")
    serve.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                       help="any setting by its config-file key, e.g. --set max_connections=20")
    table = commands.add_parser("settings", help="print the settings as a Markdown table")
    table.add_argument("--markdown", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "settings":
        print(markdown_table())
        return 0
    try:
        settings = load_settings(cli=_cli_values(args), config_file=args.config)
    except ConfigError as exc:
        print(f"edge-gateway: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    from edge_gateway.server import GatewayServer

    GatewayServer(settings).run()
    return 0


def _cli_values(args: argparse.Namespace) -> dict[str, str]:
    values = {key: getattr(args, key) for key in
              ("bind", "kafka_bootstrap_servers", "kafka_topic", "kafka_create_topic", "log_level")}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"edge-gateway: --set expects NAME=VALUE, got {item!r}")
        values[name.strip()] = value
    return {k: v for k, v in values.items() if v is not None}
