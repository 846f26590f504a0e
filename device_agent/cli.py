"""`device-agent`: run, list-devices, record (a mic check), send (a WAV file)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ingress_common.config import ConfigError, cli_overrides
from ingress_common.logs import configure_logging
from ingress_common.pcm import BYTES_PER_SECOND, SAMPLE_RATE_HZ, duration_ms, whole_samples
from ingress_common.protocol import encode_server


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="device-agent", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="capture, segment and deliver until stopped")
    _common(run)
    run.add_argument("--until-drained", action="store_true",
                     help="exit once a finite source (wav:) is delivered")
    devices = commands.add_parser(
        "list-devices", help="capture devices: stable names, formats offered, the agent's pick")
    devices.add_argument("--channel", default="auto", help="auto | mix | N (as for run)")
    devices.add_argument("--json", action="store_true", help="one JSON object per device")
    devices.add_argument("--all", action="store_true",
                         help="also the ALSA PCMs that cannot be opened (unconfigured plugins)")
    record = commands.add_parser("record", help="record from the microphone into a WAV file")
    _common(record)
    record.add_argument("--seconds", type=float, required=True)
    record.add_argument("out", type=Path)
    send = commands.add_parser(
        "send", help="deliver a WAV file (any rate, channels, width), whole; print the receipts")
    _common(send)
    send.add_argument("--vad", action="store_true",
                      help="cut the file by speech, as run does, instead of sending all of it")
    send.add_argument("--timeout-s", type=float, dest="send_timeout_s",
                      help="give up after this many seconds, exit 1 and say what was not "
                           "delivered (default: wait; also AGENT_SEND_TIMEOUT_S)")
    send.add_argument("file", type=Path)
    commands.add_parser("settings", help="print the settings as a Markdown table")
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="TOML config file (also AGENT_CONFIG_FILE)")
    parser.add_argument("--gateway-url")
    parser.add_argument("--device-id")
    parser.add_argument("--source", help="alsa:DEVICE | wav:PATH | wav-paced:PATH | tone:HZ | silence")
    parser.add_argument("--channel", help="auto | mix | N: the channel of a multi-channel device")
    parser.add_argument("--spool-dir")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "settings":
        from device_agent.settings import markdown_table

        print(markdown_table())
        return 0
    if args.command == "list-devices":
        return _list_devices(args.channel, args.json, args.all)
    from device_agent.settings import load_settings

    try:
        settings = load_settings(cli=_cli_values(args), config_file=args.config)
    except ConfigError as exc:
        print(f"device-agent: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    if args.command == "record":
        return _record(settings, args.seconds, args.out)
    if args.command == "send":
        return _send(settings, args.file, args.vad)
    return _run(settings, args.until_drained)


def _cli_values(args: argparse.Namespace) -> dict[str, Any]:
    flags = {k: getattr(args, k, None)
             for k in ("gateway_url", "device_id", "source", "spool_dir", "channel",
                       "send_timeout_s")}
    return cli_overrides(flags, args.set, "device-agent")


def _list_devices(channel: str, as_json: bool, show_all: bool) -> int:
    """Cards first (by their stable names), then the PCMs ALSA's configuration names."""
    from device_agent.capture.channels import ChannelPolicy
    from device_agent.capture.device_report import describe_devices

    rows = describe_devices(ChannelPolicy.parse(channel))
    for row in rows:
        if "error" in row and not row["description"] and not show_all:
            continue
        if as_json:
            print(json.dumps(row))
            continue
        print(f"{'  '.join(row['names'])}" + (f"  ({row['description']})" if row["description"] else ""))
        if row["names"] != [row["pcm"]]:
            print(f"    opens as {row['pcm']}")
        if "error" in row:
            print(f"    unusable: {row['error']}")
        else:
            print(f"    offers {row['offers']}\n    agent picks {row['picks']}")
    return 0


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handle(_signum: int, _frame: object) -> None:
        stop.set()  # only set a flag; the main loop does the work

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


def _run(settings: Any, until_drained: bool) -> int:
    from device_agent.agent import Agent
    from device_agent.capture.open import source_factory

    _, finite = source_factory(settings.source, settings.period_ms, settings.channel_policy)
    agent = Agent(settings, finite_source=finite, source_for_channel=lambda policy:
                  source_factory(settings.source, settings.period_ms, policy)[0])
    agent.run(_stop_on_signals(), until_drained=until_drained)
    if until_drained and agent.spool.counters.quarantined:
        return 1  # drained, but not everything was delivered
    return 0 if agent.spool.depth == 0 or settings.spool_dir else 1


def _send(settings: Any, path: Path, vad: bool) -> int:
    """Prints each reply as a JSON line, then a JSON summary, then one plain sentence on
    stderr. 0: the whole file is confirmed in Kafka; 1: not all of it (or, with --vad, no
    speech); 2: not a file it can send."""
    from device_agent.capture.source import SourceError
    from device_agent.file_send import send_file
    from ingress_common.client import Refused

    def print_reply(reply: Any) -> None:
        print(encode_server(reply) if reply else "{}", flush=True)

    stop = _stop_on_signals()
    expired = threading.Event()
    def give_up() -> None:
        expired.set()
        stop.set()
    if settings.send_timeout_s > 0:
        deadline = threading.Timer(settings.send_timeout_s, give_up)
        deadline.daemon = True
        deadline.start()
    try:
        report = send_file(settings, path, vad, stop, print_reply)
    except SourceError as exc:
        print(f"device-agent send: {exc}", file=sys.stderr)
        return 2
    except Refused as refused:
        print(f"device-agent send: {path}: nothing sent: {refused}", file=sys.stderr)
        return 1
    print(json.dumps({"seconds": round(report.seconds, 3), "segments": report.segments_cut,
                      "segments_acked": report.segments_acked,
                      "segments_quarantined": report.segments_quarantined,
                      "segments_undelivered": report.segments_undelivered}), flush=True)
    gave_up = settings.send_timeout_s if expired.is_set() else None
    print(f"device-agent send: {report.verdict(gave_up)}", file=sys.stderr)
    return 0 if report.complete else 1


def _record(settings: Any, seconds: float, out: Path) -> int:
    from device_agent.capture.open import source_factory

    factory, _ = source_factory(settings.source, settings.period_ms, settings.channel_policy)
    source = factory()
    source.open()
    pcm = bytearray()
    deadline = time.monotonic() + seconds + 5
    try:
        while len(pcm) < int(seconds * BYTES_PER_SECOND) and time.monotonic() < deadline:
            pcm += source.read(2.0).pcm
    finally:
        source.close()
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE_HZ)
        wav.writeframes(bytes(pcm[: whole_samples(int(seconds * BYTES_PER_SECOND))]))
    print(f"wrote {duration_ms(len(pcm))} ms to {out}")
    return 0
