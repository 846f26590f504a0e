"""Settings declared once as a table, read from defaults < TOML file < environment < CLI.

Each `Setting` names its environment variable, parser, check and help text. `load`
returns plain validated values; each package turns them into its own frozen dataclass.
A bad value raises `ConfigError` naming the setting.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A setting has a value the program cannot run with. The message names the setting."""

    def __init__(self, setting: str, message: str) -> None:
        self.setting = setting
        super().__init__(f"{setting}: {message}")


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    help: str
    parse: Callable[[str], Any]
    check: Callable[[Any], str | None] = lambda _value: None


def positive(v: float) -> str | None:
    return None if v > 0 else "must be greater than 0"


def at_least(low: float) -> Callable[[float], str | None]:
    return lambda v: None if v >= low else f"must be at least {low:g}"


def between(low: float, high: float) -> Callable[[float], str | None]:
    return lambda v: None if low <= v <= high else f"must be between {low:g} and {high:g}"


def one_of(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return text
    return parse


def boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected true/false")


def comma_list(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def log_level(text: str) -> str:
    level = text.strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
    return level


def cli_overrides(flags: Mapping[str, Any], set_items: Sequence[str], prog: str) -> dict[str, Any]:
    """The settings given on a command line: named flags (None = not given) plus any number
    of `--set NAME=VALUE`, which win over the flags."""
    values = {name: value for name, value in flags.items() if value is not None}
    for item in set_items:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"{prog}: --set expects NAME=VALUE, got {item!r}")
        values[name.strip()] = value
    return values


def read_toml(path: Path, file_setting: str) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(file_setting, f"cannot read {path}: {exc}") from None


def load_sources(table: Sequence[Setting], file_setting: str, cli: Mapping[str, Any] | None,
                 env: Mapping[str, str] | None, config_file: str | None) -> dict[str, Any]:
    """Defaults < the TOML file (`config_file`, or the one `file_setting` names in the
    environment) < the environment < `cli`: validated values by setting name."""
    env = os.environ if env is None else env
    path = config_file or env.get(file_setting)
    file_values = read_toml(Path(path), file_setting) if path else {}
    return load(table, file_values, env, cli or {}, file_setting)


def load(table: Sequence[Setting], file_values: Mapping[str, Any], env: Mapping[str, str],
         cli: Mapping[str, Any], file_setting: str) -> dict[str, Any]:
    """Merge the sources (later wins) and return validated values by setting name."""
    by_name = {s.name: s for s in table}
    unknown = sorted(set(file_values) - set(by_name))
    if unknown:
        raise ConfigError(file_setting, f"unknown settings {unknown}")
    raw: dict[str, Any] = dict(file_values)
    raw.update({s.name: env[s.env] for s in table if s.env in env})
    unknown_cli = sorted(set(cli) - set(by_name))
    if unknown_cli:
        raise ConfigError("--set", f"unknown settings {unknown_cli}")
    raw.update({k: v for k, v in cli.items() if v is not None})
    return {name: convert(by_name[name], value) for name, value in raw.items()}


def convert(setting: Setting, value: Any) -> Any:
    try:
        if isinstance(value, str):
            converted = setting.parse(value)
        elif isinstance(value, list):
            converted = tuple(value)
        else:
            converted = value
        problem = setting.check(converted)
    except (ValueError, TypeError) as exc:
        raise ConfigError(setting.env, f"cannot use {value!r}: {exc}") from None
    if problem:
        raise ConfigError(setting.env, f"{problem} (got {value!r})")
    return converted


def markdown_table(table: Sequence[Setting], settings_class: type) -> str:
    """The README's configuration table: variable, file key, default, meaning."""
    defaults = {f.name: f.default for f in fields(settings_class)}
    rows = ["| Environment variable | Config file key | Default | Meaning |", "|---|---|---|---|"]
    for s in table:
        default = defaults.get(s.name)
        shown = ",".join(default) if isinstance(default, tuple) else default
        rows.append(f"| `{s.env}` | `{s.name}` | `{shown}` | {s.help} |")
    return "\n".join(rows)
