"""Editing the program's templates safely: check before save, keep every earlier version.

A new text is checked exactly as `mailflow templates check` checks the folder,
on a copy of the folder that holds the new text, so a template that fails
never reaches the folder the service sends from. The version it replaces is
kept in `templates/.history/<file>/<n>.<ext>` (n = 1, 2, ...), and any of them
can be restored (which itself keeps the version it replaces).
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mailflow.errors import TemplateError
from mailflow.render.engine import DEFAULT_TEMPLATE_DIR, LAYOUT, TEMPLATE_NAMES, Renderer

HISTORY = ".history"
LAYOUT_NAME = "layout"


def editable_names() -> tuple[str, ...]:
    """Every template a coordinator may edit: the mail templates and the layout."""
    return (*TEMPLATE_NAMES, LAYOUT_NAME)


def file_name(name: str) -> str:
    if name not in editable_names():
        raise TemplateError(f"no template {name!r}")
    return LAYOUT if name == LAYOUT_NAME else f"{name}.md"


@dataclass(frozen=True)
class Version:
    number: int
    saved_at: datetime
    text: str


def read_template(folder: Path, name: str) -> str:
    """The folder's text of a template, or the shipped default it is rendered from."""
    for directory in (folder, DEFAULT_TEMPLATE_DIR):
        try:
            return (directory / file_name(name)).read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
    return ""


@contextmanager
def folder_with(folder: Path, name: str, source: str) -> Iterator[Path]:
    """A throwaway copy of ``folder`` named ``templates`` in which ``name`` holds ``source``."""
    with tempfile.TemporaryDirectory(prefix="mailflow-check-") as tmp:
        copy = Path(tmp) / folder.name
        shutil.copytree(folder, copy, ignore=shutil.ignore_patterns(HISTORY))
        (copy / file_name(name)).write_text(source, encoding="utf-8")
        yield copy


def check_source(folder: Path, name: str, source: str) -> list[str]:
    """The problems `mailflow templates check` would report with ``source`` saved."""
    with folder_with(folder, name, source) as copy:
        try:
            return Renderer(copy).check()
        except TemplateError as exc:
            return [str(exc)]


def _history_dir(folder: Path, name: str) -> Path:
    return folder / HISTORY / file_name(name)


def versions(folder: Path, name: str) -> list[Version]:
    """Earlier versions, newest first."""
    found = []
    directory = _history_dir(folder, name)
    if directory.is_dir():
        for path in directory.iterdir():
            stem = path.name.split(".", 1)[0]
            if stem.isdigit():
                saved = datetime.fromtimestamp(path.stat().st_mtime, UTC)
                found.append(Version(int(stem), saved, path.read_text(encoding="utf-8")))
    return sorted(found, key=lambda v: v.number, reverse=True)


def diff(old: str, new: str, old_label: str, new_label: str) -> list[str]:
    return list(difflib.unified_diff(old.splitlines(), new.splitlines(), old_label, new_label,
                                     lineterm=""))


def _write(path: Path, text: str) -> None:
    """Replace the file whole (a crash leaves the old or the new text), keeping its mode."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_template(folder: Path, name: str, source: str) -> list[str]:
    """Save ``source`` if the folder then passes the check; else return the problems."""
    source = source.replace("\r\n", "\n")
    problems = check_source(folder, name, source)
    if problems:
        return problems
    current = read_template(folder, name)
    if current == source:
        return []
    if current:
        directory = _history_dir(folder, name)
        directory.mkdir(parents=True, exist_ok=True)
        number = max((v.number for v in versions(folder, name)), default=0) + 1
        suffix = Path(file_name(name)).suffix
        _write(directory / f"{number}{suffix}", current)
    _write(folder / file_name(name), source)
    return []


def revert_template(folder: Path, name: str, number: int) -> list[str]:
    """Restore version ``number`` (checked like any save)."""
    version = next((v for v in versions(folder, name) if v.number == number), None)
    if version is None:
        raise TemplateError(f"{file_name(name)} has no version {number}")
    return save_template(folder, name, version.text)
