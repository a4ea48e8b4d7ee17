"""Jinja filters available to every template (documented in docs/templates.md).

Dates may arrive as ``date`` or ``datetime`` objects or ISO strings. They are
written the way the program's locale (``[program].locale``, default "en_US")
writes them, by Babel (CLDR): "Monday, December 21, 2026", "lundi 21
décembre 2026". A moment (a ``datetime`` with its offset) is shown in the
recipient's time zone, else the program's. Inside a template the locale and
zone come from the context (``program.locale``, ``recipient.timezone``,
``program.timezone``); the plain functions take them as arguments.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_skeleton, format_time, get_datetime_format
from jinja2 import pass_context, pass_eval_context
from jinja2.nodes import EvalContext
from jinja2.runtime import Context as JinjaContext
from markupsafe import Markup, escape

DEFAULT_LOCALE = "en_US"


# Markdown punctuation that can make links, images, code or emphasis out of a value.
# In the HTML rendering these become character references, which Markdown passes
# through untouched and a mail program shows as the characters themselves.
_MARKDOWN_ACTIVE = str.maketrans({ch: f"&#{ord(ch)};" for ch in "[]()!`*_\\"})
_ANY_ACTIVE = re.compile(r"[\[\]()!`*_\\]")  # most values (names, dates) have none


def escape_for_markdown(value: Any) -> Markup:
    """A value for the Markdown that becomes HTML: HTML-escaped, and unable to form a
    link, an image or other markup (``[x](https://evil)`` stays text)."""
    if isinstance(value, Markup):
        return value
    text = str(escape(value))
    if _ANY_ACTIVE.search(text) is not None:  # translate costs more than this look
        text = text.translate(_MARKDOWN_ACTIVE)
    return Markup(text)


def _as_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return datetime.fromisoformat(value).date() if "T" in value else date.fromisoformat(value)
    raise TypeError(f"expected a date, got {type(value).__name__} {value!r}")


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value)
    if value is None or isinstance(value, datetime):
        return value
    day = _as_date(value)
    return None if day is None else datetime(day.year, day.month, day.day)


@functools.lru_cache(maxsize=4096)
def _formatted(day: date, form: str, locale: str) -> str:
    """Babel's ``format_date`` (``form`` "full" or "long"), kept: a pass writes the same
    few dates in many emails, and each costs Babel tens of microseconds."""
    return str(format_date(day, form, locale=locale))


def longdate(value: Any, locale: str = DEFAULT_LOCALE) -> str:
    """``Tuesday, September 1, 2026`` (en_US); ``mardi 1 septembre 2026`` (fr_FR)"""
    day = _as_date(value)
    return "" if day is None else _formatted(day, "full", str(locale))


def shortdate(value: Any, locale: str = DEFAULT_LOCALE) -> str:
    """``September 1, 2026`` (en_US); ``1 September 2026`` (en_GB)"""
    day = _as_date(value)
    return "" if day is None else _formatted(day, "long", str(locale))


def monthname(value: Any, locale: str = DEFAULT_LOCALE) -> str:
    """``September 2026``"""
    day = _as_date(value)
    return "" if day is None else str(format_skeleton("yMMMM", day, locale=locale))


def isodate(value: Any) -> str:
    """``2026-09-01``"""
    day = _as_date(value)
    return "" if day is None else day.isoformat()


def datetime_filter(value: Any, locale: str = DEFAULT_LOCALE, timezone: str | None = None,
                    ) -> str:
    """``September 1, 2026, 9:30 AM``: a moment with an offset in ``timezone``; one
    without, as given."""
    moment = _as_datetime(value)
    if moment is None:
        return ""
    if moment.tzinfo is not None and timezone:
        moment = moment.astimezone(ZoneInfo(timezone))
    local = moment.replace(tzinfo=None)
    pattern = str(get_datetime_format("long", locale=locale)).replace("'", "")
    return pattern.format(format_time(local, "short", locale=locale),
                          format_date(local, "long", locale=locale))


_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


def dates_in_text(value: Any, locale: str = DEFAULT_LOCALE) -> str:
    """``Meeting on 2026-12-15`` -> ``Meeting on December 15, 2026``: the ISO dates in a
    line of mailflow's own text (an ack's "We recorded"), written the locale's way."""
    def written(found: re.Match[str]) -> str:
        try:
            day = date(int(found[1]), int(found[2]), int(found[3]))
        except ValueError:
            return found[0]
        return shortdate(day, locale)

    return "" if value is None else _ISO_DATE.sub(written, str(value))


def add_days(value: Any, days: int) -> date | None:
    """``{{ sent_on|add_days(7)|longdate }}``: the date ``days`` later (earlier if negative)."""
    day = _as_date(value)
    return None if day is None else day + timedelta(days=int(days))


def plural(count: Any, singular: str, plural_form: str | None = None) -> str:
    """``{{ 3|plural("day") }}`` -> ``3 days``; ``{{ 1|plural("day") }}`` -> ``1 day``."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count} {word}"


def oneline(value: Any) -> str:
    """Line breaks and runs of spaces become single spaces (for table cells and lists)."""
    if isinstance(value, Markup):  # already escaped: keep it marked safe
        return Markup(" ".join(value.split()))
    return "" if value is None else " ".join(str(value).split())


@pass_eval_context
def quote(eval_ctx: EvalContext, value: Any) -> str:
    """Someone's own words as a Markdown block quote (``> ...`` on every line)."""
    text = "" if value is None else str(value)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").strip("\n").split("\n")
    if eval_ctx.autoescape:
        return Markup("\n".join(Markup("> ") + escape_for_markdown(line) for line in lines))
    return "\n".join(f"> {line}" for line in lines)


def _locale(ctx: JinjaContext) -> str:
    program = ctx.get("program")
    value = program.get("locale") if isinstance(program, Mapping) else None
    return str(value or DEFAULT_LOCALE)


def _zone(ctx: JinjaContext) -> str | None:
    for name in ("recipient", "program"):
        holder = ctx.get(name)
        zone = holder.get("timezone") if isinstance(holder, Mapping) else None
        if zone:
            return str(zone)
    return None


@pass_context
def _longdate(ctx: JinjaContext, value: Any) -> str:
    return longdate(value, _locale(ctx))


@pass_context
def _shortdate(ctx: JinjaContext, value: Any) -> str:
    return shortdate(value, _locale(ctx))


@pass_context
def _monthname(ctx: JinjaContext, value: Any) -> str:
    return monthname(value, _locale(ctx))


@pass_context
def _datetime(ctx: JinjaContext, value: Any) -> str:
    return datetime_filter(value, _locale(ctx), _zone(ctx))


@pass_context
def _dates(ctx: JinjaContext, value: Any) -> str:
    return dates_in_text(value, _locale(ctx))


FILTERS: dict[str, Callable[..., Any]] = {
    "longdate": _longdate,
    "shortdate": _shortdate,
    "monthname": _monthname,
    "isodate": isodate,
    "datetime": _datetime,
    "dates": _dates,
    "add_days": add_days,
    "plural": plural,
    "oneline": oneline,
    "quote": quote,
}
