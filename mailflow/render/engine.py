"""Templates -> email: sandboxed Jinja2, Markdown -> HTML in a layout, CSS inlined.

A mail template (``templates/<name>.md``) reads like an email::

    Subject: Month {{ pair.month }}: {{ topic.title }}

    Dear {{ recipient.first_name }},
    ...Markdown with Jinja2 expressions...

The body is rendered twice: once as-is, which becomes the text/plain part,
and once with every value HTML-escaped, which is converted from Markdown to
HTML, put inside ``layout.html`` and has its CSS inlined. Roster values can
therefore never inject markup; coordinator-written Markdown (the templates
and ``topic.body`` from config.toml) is trusted. The context every template
receives is documented in ``docs/templates.md`` and mirrored by the sample
contexts in :mod:`mailflow.render.context`.
"""

from __future__ import annotations

import hashlib
import re
import traceback
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cmarkgfm
import css_inline
from cmarkgfm.cmark import Options
from jinja2 import (
    BaseLoader,
    Environment,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
)
from jinja2.exceptions import SecurityError
from jinja2.loaders import split_template_path
from markupsafe import Markup

from mailflow.errors import TemplateError
from mailflow.render.filters import FILTERS, escape_for_markdown
from mailflow.render.limits import BoundedSandbox, RenderLimitError, bounded_render
from mailflow.render.mime import RenderedEmail, build_message
from mailflow.render.samples import sample_contexts
from mailflow.render.suggest import did_you_mean

__all__ = [
    "DEFAULT_TEMPLATE_DIR",
    "LAYOUT",
    "OPTIONAL_TEMPLATES",
    "TEMPLATE_NAMES",
    "RenderedEmail",
    "Renderer",
    "build_message",
    "template_for",
    "template_names",
]

DEFAULT_TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "default_templates"
EXTENSION = ".md"
LAYOUT = "layout.html"
TEMPLATE_NAMES: tuple[str, ...] = (
    "intro_mentor", "intro_mentee", "topic", "nudge", "closing_mentor", "closing_mentee",
    "feedback", "letter", "ack", "escalation", "digest", "digest_coordinator",
    "liaison_welcome", "alert", "login", "first_contact", "midpoint", "feedback_reminder",
)
# A program folder made before a template existed may lack it: the default is used.
OPTIONAL_TEMPLATES = frozenset({"login", "first_contact", "midpoint", "feedback_reminder"})
_ROLE_SPECIFIC = {"intro", "closing"}
# CommonMark plus GitHub's tables, rendered by cmark-gfm (C). Templates and topic
# bodies are coordinators' own (trusted) Markdown, so their HTML is kept (UNSAFE);
# roster values reach it HTML-escaped. A single line break is a line break.
_MARKDOWN_EXTENSIONS = ["table"]
_MARKDOWN_OPTIONS = Options.CMARK_OPT_UNSAFE | Options.CMARK_OPT_HARDBREAKS
_BLANK_RUNS = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
_BREAKING = {"Cc", "Zl", "Zp"}  # control characters, line and paragraph separators


def template_names() -> tuple[str, ...]:
    """Every mail template mailflow uses (file ``<name>.md``), without the layout."""
    return TEMPLATE_NAMES


def template_for(kind: str, role: str) -> str:
    """Which template serves an email of ``kind`` to someone in ``role``.

    ``("intro", "mentor") -> "intro_mentor"``, ``("digest", "coordinator") ->
    "digest_coordinator"``, ``("topic", "mentee") -> "topic"``.
    """
    kind, role = str(kind), str(role)
    if kind in _ROLE_SPECIFIC:
        if role not in ("mentor", "mentee"):
            raise TemplateError(f"no {kind} template for role {role!r} (mentor or mentee only)")
        return f"{kind}_{role}"
    if kind == "digest" and role == "coordinator":
        return "digest_coordinator"
    if kind not in TEMPLATE_NAMES:
        raise TemplateError(f"no template for the kind of email {kind!r}")
    return kind


@dataclass(frozen=True)
class _MailSource:
    subject: str
    body: str
    body_line: int  # the file's line number where the body starts


def split_mail_source(source: str, where: str) -> _MailSource:
    """``Subject: ...`` on line 1, an optional blank line, then the body."""
    lines = source.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    head, colon, subject = lines[0].partition(":")
    if not colon or head.strip().lower() != "subject":
        raise TemplateError(
            f"{where}:1: the first line must be the subject, like 'Subject: Welcome, "
            "{{ recipient.first_name }}', followed by a blank line and the body"
        )
    start = 2 if len(lines) > 1 and not lines[1].strip() else 1
    return _MailSource(subject.strip(), "\n".join(lines[start:]), start + 1)


class _Loader(BaseLoader):
    """Loads ``<name>.md#subject`` / ``<name>.md#body`` parts of a mail template, or
    any other file (the layout, partials) as it is. Line numbers stay the file's own."""

    def __init__(self, directory: Path, display: Callable[[str], str]) -> None:
        self.directory = directory
        self.display = display
        # mail templates given as text (an announcement): key -> (source, file name shown)
        self.given: dict[str, tuple[str, str]] = {}

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        name, _, part = template.partition("#")
        if name in self.given:
            source, shown = self.given[name]
            return self._part(source, shown, part), shown, lambda: name in self.given
        path = self.directory.joinpath(*split_template_path(name))
        if not path.exists():  # a kind added after `mailflow init` made this folder
            path = DEFAULT_TEMPLATE_DIR.joinpath(*split_template_path(name))
        try:
            source = path.read_text(encoding="utf-8")
            mtime = path.stat().st_mtime
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise TemplateNotFound(name) from None
        except UnicodeDecodeError:
            raise TemplateError(f"{self.display(str(path))}: is not UTF-8 text") from None
        except OSError as exc:
            raise TemplateError(f"{self.display(str(path))}: cannot be read ({exc})") from None
        source = self._part(source, self.display(str(path)), part)

        def uptodate() -> bool:
            try:
                return path.stat().st_mtime == mtime
            except OSError:
                return False

        return source, str(path), uptodate

    @staticmethod
    def _part(source: str, shown: str, part: str) -> str:
        if part:
            mail = split_mail_source(source, shown)
            if part == "subject":
                source = mail.subject
            else:  # a comment spanning the header keeps Jinja's line numbers the file's
                source = "{#" + "\n" * (mail.body_line - 1) + "#}" + mail.body
        return source


class _StrictUndefined(StrictUndefined):
    """StrictUndefined that also fails when shown inside a list or dict (by its repr),
    so ``{{ [x]|map(attribute='__class__')|list }}`` or ``{{ [typo] }}`` is an error,
    not the word ``Undefined`` in someone's email."""

    def __repr__(self) -> str:
        self._fail_with_undefined_error()
        return "Undefined"  # not reached


def _finalize(value: Any) -> Any:
    """An empty value (None) prints nothing rather than the word "None"."""
    return "" if value is None else value


def _finalize_html(value: Any) -> Any:
    """As `_finalize`; and a text value cannot form Markdown links, images or code."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return escape_for_markdown(value)
    return _finalize(value)


def _clean_subject(text: str) -> str:
    """One line, no control characters: a subject can never start a new header."""
    if not text.isprintable():  # a printable text has no Cc, Zl or Zp: nothing to replace
        text = "".join(" " if unicodedata.category(ch) in _BREAKING else ch for ch in text)
    return " ".join(text.split())


class Renderer:
    """Renders the templates of one folder; compiled templates are cached until edited."""

    def __init__(self, template_dir: Path) -> None:
        self.template_dir = Path(template_dir)
        self._prefix = str(self.template_dir)
        self._shown_dir = self.template_dir.resolve().name or str(self.template_dir)
        loader = self._loader = _Loader(self.template_dir, self.display)
        self._text_env = self._environment(loader, autoescape=False)
        self._html_env = self._environment(loader, autoescape=True)
        self._inliner = css_inline.CSSInliner(load_remote_stylesheets=False)

    @staticmethod
    def _environment(loader: BaseLoader, *, autoescape: bool) -> Environment:
        env = BoundedSandbox(
            filters=FILTERS,
            loader=loader,
            undefined=_StrictUndefined,
            autoescape=autoescape,
            finalize=_finalize_html if autoescape else _finalize,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=True,
        )
        env.globals.pop("lipsum", None)
        return env

    def display(self, filename: str) -> str:
        """``/prog/templates/topic.md`` -> ``templates/topic.md``."""
        if filename.startswith(self._prefix):
            rest = filename[len(self._prefix):].lstrip("/\\")
            return f"{self._shown_dir}/{rest}"
        return filename

    def render(self, name: str, context: Mapping[str, Any]) -> RenderedEmail:
        """Render template ``name`` (e.g. ``"topic"``) with ``context``; raise TemplateError."""
        return self._render(f"{name}{EXTENSION}", f"{self._shown_dir}/{name}{EXTENSION}",
                            context)

    def render_given(self, source: str, shown: str, context: Mapping[str, Any]) -> RenderedEmail:
        """Render a mail template given as text (an announcement's file), in the layout of
        this folder; errors name ``shown`` (e.g. ``news.md``) and the line."""
        key = f"given-{hashlib.sha256(source.encode()).hexdigest()[:24]}"
        self._loader.given[key] = (source, shown)
        return self._render(key, shown, context)

    def _render(self, file: str, shown: str, context: Mapping[str, Any]) -> RenderedEmail:
        ctx = dict(context)
        html_ctx = _trust_coordinator_markdown(ctx)
        subject = _clean_subject(self._run(self._text_env, f"{file}#subject", ctx))
        if not subject:
            raise TemplateError(f"{shown}:1: the subject is empty")
        text = self._run(self._text_env, f"{file}#body", {**ctx, "for_html": False})
        text = _BLANK_RUNS.sub("\n\n", text).strip()
        body_md = self._run(self._html_env, f"{file}#body", {**html_ctx, "for_html": True})
        body_html = markdown_to_html(body_md)
        page = self._run(
            self._html_env,
            LAYOUT,
            {**html_ctx, "for_html": True, "subject": subject, "content": Markup(body_html)},
        )
        try:
            html = self._inliner.inline(page)
        except ValueError as exc:
            where = f"{self._shown_dir}/{LAYOUT}"
            raise TemplateError(f"{where}: CSS could not be inlined: {exc}") from None
        return RenderedEmail(subject=subject, text=text + "\n", html=html)

    def check(self) -> list[str]:
        """Render every template against the sample contexts; problems as ``file:line: msg``."""

        problems: list[str] = []
        if not (self.template_dir / LAYOUT).is_file():
            problems.append(f"{self._shown_dir}/{LAYOUT}:1: missing (copy it from the defaults)")
            return problems
        for name in TEMPLATE_NAMES:
            if not (self.template_dir / f"{name}{EXTENSION}").is_file():
                if name in OPTIONAL_TEMPLATES:
                    continue
                problems.append(
                    f"{self._shown_dir}/{name}{EXTENSION}:1: missing (copy it from the defaults)"
                )
                continue
            for ctx in sample_contexts(name):
                try:
                    self.render(name, ctx)
                except TemplateError as exc:
                    if str(exc) not in problems:
                        problems.append(str(exc))
                    break
        return problems

    def _run(self, env: Environment, template: str, ctx: Mapping[str, Any]) -> str:
        try:
            with bounded_render():
                return env.get_template(template).render(ctx)
        except TemplateError:
            raise
        except TemplateSyntaxError as exc:
            where = f"{self.display(exc.filename or template)}:{exc.lineno}"
            raise TemplateError(f"{where}: {exc.message}") from None
        except Exception as exc:
            raise TemplateError(self._describe(exc, template, ctx)) from None

    def _describe(self, exc: BaseException, template: str, ctx: Mapping[str, Any]) -> str:
        name = template.partition("#")[0]
        given = self._loader.given.get(name)
        where = self._where(exc) or (given[1] if given else f"{self._shown_dir}/{name}")
        if isinstance(exc, SecurityError):
            return f"{where}: not allowed in a template (sandbox): {exc}"
        if isinstance(exc, TemplateNotFound):
            return f"{where}: the included template {exc.name!r} does not exist"
        if isinstance(exc, UndefinedError):
            close = did_you_mean(str(exc), ctx)
            return f"{where}: {exc}" + (f" (did you mean `{close}`?)" if close else "")
        if isinstance(exc, RenderLimitError):
            return f"{where}: {exc}"
        return f"{where}: {type(exc).__name__}: {exc}"

    def _where(self, exc: BaseException) -> str | None:
        """The innermost template file and line in the traceback, as ``file:line``."""
        found = None
        given = {shown for _, shown in self._loader.given.values()}
        for frame in traceback.extract_tb(exc.__traceback__):
            if (frame.filename.startswith(self._prefix) or frame.filename in given) \
                    and frame.lineno:
                found = f"{self.display(frame.filename)}:{frame.lineno}"
        return found


def markdown_to_html(source: str) -> str:
    """CommonMark with tables; line breaks kept; raw HTML in the source passes through."""
    return str(cmarkgfm.markdown_to_html_with_extensions(
        source, options=_MARKDOWN_OPTIONS, extensions=_MARKDOWN_EXTENSIONS))


def _trust_coordinator_markdown(ctx: dict[str, Any]) -> dict[str, Any]:
    """``topic.body`` comes from config.toml, written by coordinators: keep it Markdown."""
    topic = ctx.get("topic")
    if topic is None:
        return ctx
    if isinstance(topic, Mapping):
        fields = dict(topic)
    else:
        fields = {k: getattr(topic, k) for k in ("month", "title", "body")}
    fields["body"] = Markup(fields.get("body") or "")
    return {**ctx, "topic": fields}
