"""Jinja filters available to every template (documented in docs/templates.md).

Dates may arrive as ``date`` or ``datetime`` objects or ISO strings; names of
days and months are English whatever the server's locale.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup, escape

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)


# Markdown punctuation that can make links, images, code or emphasis out of a value.
# In the HTML rendering these become character references, which Markdown passes
# through untouched and a mail program shows as the characters themselves.
_MARKDOWN_ACTIVE = str.maketrans({ch: f"&#{ord(ch)};" for ch in "[]()!`*_\\"})


def escape_for_markdown(value: Any) -> Markup:
    """A value for the Markdown that becomes HTML: HTML-escaped, and unable to form a
    link, an image or other markup (``[x](https://evil)`` stays text)."""
    if isinstance(value, Markup):
        return value
    return Markup(str(escape(value)).translate(_MARKDOWN_ACTIVE))


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


def longdate(value: Any) -> str:
    """``Tuesday, 1 September 2026``"""
    day = _as_date(value)
    if day is None:
        return ""
    return f"{_DAYS[day.weekday()]}, {day.day} {_MONTHS[day.month - 1]} {day.year}"


def shortdate(value: Any) -> str:
    """``1 September 2026``"""
    day = _as_date(value)
    return "" if day is None else f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def monthname(value: Any) -> str:
    """``September 2026``"""
    day = _as_date(value)
    return "" if day is None else f"{_MONTHS[day.month - 1]} {day.year}"


def isodate(value: Any) -> str:
    """``2026-09-01``"""
    day = _as_date(value)
    return "" if day is None else day.isoformat()


def datetime_filter(value: Any) -> str:
    """``1 September 2026, 09:30`` (the time as given, no zone conversion)."""
    moment = _as_datetime(value)
    if moment is None:
        return ""
    return f"{shortdate(moment)}, {moment:%H:%M}"


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


FILTERS: dict[str, Callable[..., Any]] = {
    "longdate": longdate,
    "shortdate": shortdate,
    "monthname": monthname,
    "isodate": isodate,
    "datetime": datetime_filter,
    "add_days": add_days,
    "plural": plural,
    "oneline": oneline,
    "quote": quote,
}
