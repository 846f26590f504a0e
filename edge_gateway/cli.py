"""`edge-gateway`: serve, and print the settings table."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from edge_gateway.settings import load_settings, markdown_table
from ingress_common.auth import DEVICE_AUDIENCE, OPERATOR_AUDIENCE
from ingress_common.config import ConfigError, cli_overrides
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
    keygen = commands.add_parser("keygen", help="create the key pair that signs device tokens")
    keygen.add_argument("--out-dir", type=Path, required=True)
    keygen.add_argument("--name", default="device-signing-key")
    keygen.add_argument("--algorithm", default="ES256", choices=("ES256", "EdDSA", "RS256"))
    token = commands.add_parser("token", help="issue a device or operator token (JWT) on stdout")
    token.add_argument("--key", type=Path, required=True, help="the private key from keygen")
    token.add_argument("--device", help="device id: the token's sub (a device token)")
    token.add_argument("--role", choices=("device", "operator"), default="device",
                       help="operator: a token for edge-console (audience edge-audio-console), "
                            "which no gateway accepts; its sub is --operator")
    token.add_argument("--operator", help="the operator's name: an operator token's sub")
    token.add_argument("--ttl", default="365d", help="lifetime: 3600, 90m, 12h, 30d (default 365d)")
    token.add_argument("--audience", help="default: edge-audio-ingress for a device, "
                                          "edge-audio-console for an operator")
    token.add_argument("--issuer")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "settings":
        print(markdown_table())
        return 0
    if args.command in ("keygen", "token"):
        return _provision(args)
    try:
        settings = load_settings(cli=_cli_values(args), config_file=args.config)
    except ConfigError as exc:
        print(f"edge-gateway: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    from edge_gateway.hosting.gunicorn_app import GatewayServer

    GatewayServer(settings).run()
    return 0


def _provision(args: argparse.Namespace) -> int:
    from edge_gateway import provisioning

    try:
        if args.command == "keygen":
            private, public = provisioning.write_key_pair(args.out_dir, args.name, args.algorithm)
            print(f"private key (keep it off the gateway): {private}\n"
                  f"public key (GATEWAY_AUTH_PUBLIC_KEYS): {public}")
            return 0
        operator = args.role == "operator"
        subject = args.operator if operator else args.device
        if not subject:
            raise ValueError("--operator is required with --role operator" if operator
                             else "--device is required")
        audience = args.audience or (OPERATOR_AUDIENCE if operator else DEVICE_AUDIENCE)
        print(provisioning.issue_token(args.key.read_bytes(), subject,
                                       provisioning.parse_ttl(args.ttl), audience,
                                       args.issuer))
        return 0
    except (OSError, ValueError) as exc:
        print(f"edge-gateway {args.command}: {exc}", file=sys.stderr)
        return 2


def _cli_values(args: argparse.Namespace) -> dict[str, str]:
    flags = {key: getattr(args, key) for key in
             ("bind", "kafka_bootstrap_servers", "kafka_topic", "kafka_create_topic", "log_level")}
    return cli_overrides(flags, args.set, "edge-gateway")
