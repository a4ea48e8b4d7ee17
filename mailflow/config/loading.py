"""Reading config.toml: every mistake becomes one line that names the file, the key and
what was expected; relative paths in it resolve against its folder."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mailflow.config.checks import show_value
from mailflow.config.settings import Settings
from mailflow.errors import ConfigError


def _location(loc: tuple[int | str, ...]) -> str:
    """('program', 'start') -> '[program].start'; ('topics', 2, 'month')
    -> '[[topics]] #3.month'."""
    parts = [p for p in loc if not (isinstance(p, str) and p.startswith(("function-", "[")))]
    if not parts:
        return "(top level)"
    head, *rest = parts
    if rest and isinstance(rest[0], int):
        text = f"[[{head}]] #{int(rest.pop(0)) + 1}"
    else:
        text = f"[{head}]"
    for part in rest:
        text += f".{part}" if isinstance(part, str) else f"[{part}]"
    return text


def _describe(error: Any) -> str:
    kind = error["type"]
    message = str(error["msg"])
    if kind == "missing":
        return "is required but missing"
    if kind == "extra_forbidden":
        return "is not a known key (check the spelling against config.example.toml)"
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    if kind == "literal_error":
        return message.replace("Input should be", "expected")
    got = error.get("input")
    return f"{message.replace('Input should be', 'expected')}, got {show_value(got)}"


def format_validation_error(filename: str, exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        if loc and loc[-1] == "from_":
            loc = (*loc[:-1], "from")
        lines.append(f"{filename}: {_location(loc)}: {_describe(error)}")
    return "\n".join(lines)


def load_settings(path: Path) -> Settings:
    """Read and validate a config file; raise ConfigError saying what to fix."""
    name = path.name
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such file. Create one with `mailflow init DIR`, or pass -c PATH."
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{name}: is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: is not valid TOML: {exc}") from None
    data["base_dir"] = path.resolve().parent
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(name, exc)) from None
    return _with_paths_resolved(settings)


def _with_paths_resolved(settings: Settings) -> Settings:
    """A relative ca_file means relative to the config file, wherever mailflow runs from."""
    updates: dict[str, Any] = {}
    for name in ("smtp", "imap"):
        section = getattr(settings, name)
        if section.ca_file is not None and not section.ca_file.is_absolute():
            updates[name] = section.model_copy(
                update={"ca_file": settings.base_dir / section.ca_file})
    oauth = settings.oauth2
    if oauth and oauth.service_account_file and not oauth.service_account_file.is_absolute():
        updates["oauth2"] = oauth.model_copy(
            update={"service_account_file": settings.base_dir / oauth.service_account_file})
    return settings.model_copy(update=updates) if updates else settings
