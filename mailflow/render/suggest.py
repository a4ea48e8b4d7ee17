""""Did you mean `pair.liaison`?": the close variable name for an unknown one.

A template that says ``{{ pair.liason }}`` fails with Jinja's "'dict object'
has no attribute 'liason'"; the coordinator needs the name they meant. The
names a template can use are the context's keys and, inside them, the keys of
the dicts they hold (``pair.liaison.name``); the closest one (difflib) to the
unknown name is suggested.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from typing import Any

_UNKNOWN = re.compile(r"no (?:attribute|element) '([^']+)'|^'([^']+)' is undefined")
_DEPTH = 3


def _names(value: Mapping[str, Any], prefix: str = "", depth: int = 0) -> Iterator[str]:
    for key, item in value.items():
        if not isinstance(key, str):
            continue
        path = f"{prefix}{key}"
        yield path
        if isinstance(item, Mapping) and depth + 1 < _DEPTH:
            yield from _names(item, f"{path}.", depth + 1)


def did_you_mean(message: str, context: Mapping[str, Any]) -> str | None:
    """The dotted name closest to the unknown one in Jinja's ``message``, if one is close."""
    match = _UNKNOWN.search(message)
    if match is None:
        return None
    unknown = match.group(1) or match.group(2)
    top_level = match.group(2) is not None
    paths = [p for p in _names(context) if not top_level or "." not in p]
    leaves = sorted({p.rpartition(".")[2] for p in paths} - {unknown})
    close = difflib.get_close_matches(unknown, leaves, n=1, cutoff=0.75)
    if not close:
        return None
    return min((p for p in paths if p.rpartition(".")[2] == close[0]),
               key=lambda p: (p.count("."), p))
