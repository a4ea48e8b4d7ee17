"""The value checks of config.toml, each raising ValueError with what was expected and what
was found, the field types built on them, and the base of every table (no unknown keys, frozen)."""

from __future__ import annotations

import re
from datetime import date, time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field


def check_address(value: str) -> str:
    """A bare address, normalised to lower case; raises ValueError with what is wrong."""
    try:
        result = validate_email(value.strip(), check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise ValueError(
            f"expected an email address like name@example.org, got {value!r} ({exc})"
        ) from None
    return result.normalized.lower()


NAMED_RE = re.compile(r"^\s*(?P<name>[^<>]*?)\s*<(?P<addr>[^<>]+)>\s*$")


def _check_named_address(value: str) -> str:
    match = NAMED_RE.match(value)
    if match:
        name = match.group("name").strip().strip('"')
        if any(ch in name for ch in "\r\n"):
            raise ValueError("a name must not contain a line break")
        return f"{name} <{check_address(match.group('addr'))}>"
    return check_address(value)


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f'expected an IANA time zone like "Europe/Berlin", got {value!r}'
        ) from None
    return value


def _check_date(value: Any) -> Any:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"expected a date like 2026-09-01, got {show_value(value)}")


def _check_hhmm(value: Any) -> Any:
    if isinstance(value, time):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{1,2}:\d{2}", value):
        hours, minutes = (int(x) for x in value.split(":"))
        if hours < 24 and minutes < 60:
            return time(hours, minutes)
    raise ValueError(f'expected a time like "09:00", got {show_value(value)}')


def show_value(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def _check_locale(value: str) -> str:
    from babel import Locale as BabelLocale
    from babel import UnknownLocaleError

    try:
        return str(BabelLocale.parse(value.replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValueError(f'expected a locale like "en_US" or "fr_FR", got {show_value(value)}') \
            from None


Address = Annotated[str, AfterValidator(check_address)]
Locale = Annotated[str, AfterValidator(_check_locale)]
NamedAddress = Annotated[str, AfterValidator(_check_named_address)]
TimeZone = Annotated[str, AfterValidator(_check_timezone)]
IsoDate = Annotated[date, BeforeValidator(_check_date)]
ClockTime = Annotated[time, BeforeValidator(_check_hhmm)]
Port = Annotated[int, Field(ge=1, le=65535)]
Security = Literal["tls", "starttls", "none"]

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_digest_spec(spec: str) -> tuple[int | None, time]:
    """``"mon 08:00"`` -> (0, 08:00); ``"daily 08:00"`` -> (None, 08:00)."""
    parts = spec.lower().split()
    if len(parts) == 2 and (parts[0] in _WEEKDAYS or parts[0] == "daily"):
        when = _check_hhmm(parts[1])
        return (None if parts[0] == "daily" else _WEEKDAYS.index(parts[0])), when
    raise ValueError(f'expected a day and time like "mon 08:00" or "daily 08:00", got "{spec}"')


def check_token_url(url: str) -> str:
    """An https URL, or http to a loopback address only (tokens must not cross a network
    in the clear); raises ValueError saying so."""
    from ipaddress import ip_address
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return url
    if parts.scheme == "http" and host:
        try:
            loopback = host == "localhost" or ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if loopback:
            return url
        raise ValueError(f"{url!r} is plain http to a host that is not on this machine: use "
                         "https (plain http is allowed only to a loopback address)")
    raise ValueError(f"expected an https URL, got {url!r}")


class Section(BaseModel):
    """A table of config.toml: unknown keys are mistakes, and settings never change."""

    model_config = ConfigDict(extra="forbid", frozen=True)
