"""Drafts -> messages: render and build each email, in a worker process for long passes.

Composing an email (Jinja2, Markdown, CSS inlining, MIME) is most of the CPU a
send pass spends, and needs no store: a long pass composes its later chunks in
a worker process (`mailflow.services.workers`) while this process sends and
records earlier ones, or, in a poll, reads the next replies. A `Draft` carries
everything composing needs: the template, its context and the addresses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from mailflow.errors import TemplateError
from mailflow.render.engine import Renderer
from mailflow.render.mime import OutgoingMessage, build_message
from mailflow.services.workers import Batches, Pending, WorkerPool

__all__ = ["Composed", "Composer", "Draft", "Message", "Pending", "compose", "compose_all"]


@dataclass(frozen=True)
class Draft:
    """One email to compose: what the template needs and where the message goes."""

    key: str
    template: str
    context: dict[str, Any]
    to: str
    to_name: str
    reply_to: str
    message_id: str
    kind: str
    pair_id: str | None
    in_reply_to: str | None
    given: tuple[str, str] | None = None  # a template given as text: (source, file name)


# a message, or why it could not be composed (a template error, a bad address)
Message = OutgoingMessage | str
Composed = tuple[Draft, Message]


def compose(renderer: Renderer, sender: str, now: datetime, draft: Draft) -> OutgoingMessage:
    """Render the draft's template and build the message; TemplateError or ValueError."""
    rendered = renderer.render_given(*draft.given, draft.context) if draft.given \
        else renderer.render(draft.template, draft.context)
    return build_message(
        rendered, sender=sender, to=draft.to, to_name=draft.to_name, reply_to=draft.reply_to,
        message_id=draft.message_id, kind=draft.kind, pair_id=draft.pair_id, date=now,
        in_reply_to=draft.in_reply_to,
    )


def compose_all(renderer: Renderer, sender: str, now: datetime,
                drafts: list[Draft]) -> list[Message]:
    """Each draft's message, or why it could not be composed; in the drafts' order."""
    messages: list[Message] = []
    for draft in drafts:
        try:
            messages.append(compose(renderer, sender, now, draft))
        except (TemplateError, ValueError) as exc:
            messages.append(str(exc))
    return messages


class Composer:
    """Makes one `Batches` of drafts per pass: `session(now)`."""

    def __init__(self, renderer: Renderer, sender: str, *, workers: int | None = None,
                 min_for_worker: int | None = None) -> None:
        self.renderer = renderer
        self.sender = sender
        self.workers = workers
        self.min_for_worker = min_for_worker

    def session(self, now: datetime, *, pool: WorkerPool | None = None,
                ) -> Batches[Draft, Message]:
        """A pass's composing; in ``pool``'s worker (shared), or its own."""
        return Batches(
            "composing", partial(compose_all, self.renderer, self.sender, now),
            partial(_compose_in_worker, str(self.renderer.template_dir), self.sender, now),
            pool=pool, workers=self.workers, min_for_worker=self.min_for_worker,
        )


# --- in the worker process -----------------------------------------------------------

_renderers: dict[str, Renderer] = {}  # by template folder: compiled templates are kept


def _compose_in_worker(template_dir: str, sender: str, now: datetime,
                       drafts: list[Draft]) -> list[Message]:
    renderer = _renderers.get(template_dir)
    if renderer is None:
        renderer = _renderers[template_dir] = Renderer(Path(template_dir))
    return compose_all(renderer, sender, now, drafts)
