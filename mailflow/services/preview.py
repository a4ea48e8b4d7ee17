"""`mailflow templates preview`: one template, rendered as a coordinator will see it."""

from __future__ import annotations

from dataclasses import replace

from mailflow.app import App
from mailflow.domain.keys import message_id, outbox_key
from mailflow.domain.model import Kind, OutboxEntry, Role
from mailflow.errors import TemplateError, UnknownPairError
from mailflow.render.engine import RenderedEmail, Renderer, template_names
from mailflow.render.mime import OutgoingMessage, build_message
from mailflow.render.samples import sample_contexts
from mailflow.services import drafting as context
from mailflow.services.announce import AnnounceReport, announce
from mailflow.services.state import ProgramState

_KIND_OF = {"intro_mentor": (Kind.INTRO, Role.MENTOR), "intro_mentee": (Kind.INTRO, Role.MENTEE),
            "closing_mentor": (Kind.CLOSING, Role.MENTOR),
            "closing_mentee": (Kind.CLOSING, Role.MENTEE), "letter": (Kind.LETTER, Role.MENTOR),
            "topic": (Kind.TOPIC, Role.MENTEE), "nudge": (Kind.NUDGE, Role.MENTEE),
            "feedback": (Kind.FEEDBACK, Role.MENTEE),
            "feedback_reminder": (Kind.FEEDBACK, Role.MENTEE),
            "first_contact": (Kind.FIRST_CONTACT, Role.MENTOR),
            "midpoint": (Kind.MIDPOINT, Role.MENTEE)}


def pair_templates() -> tuple[str, ...]:
    """The templates that can be previewed with a real pair's data."""
    return tuple(_KIND_OF)


def preview(app: App, name: str, pair_id: str | None, *,
            renderer: Renderer | None = None) -> tuple[RenderedEmail, OutgoingMessage]:
    """Render template ``name`` (from ``renderer``'s folder, default the program's)."""
    if name not in template_names():
        raise TemplateError(f"no template {name!r}; templates: {', '.join(template_names())}")
    renderer = renderer or app.renderer()
    now = app.clock.now()
    if pair_id is None:
        rendered = renderer.render(name, sample_contexts(name)[0])
        to, to_name, kind = "someone@example.org", "Sample Recipient", name
    else:
        if name not in _KIND_OF:
            raise TemplateError(
                f"--pair works with {', '.join(sorted(_KIND_OF))}; {name} uses sample data"
            )
        kind_, role = _KIND_OF[name]
        with app.repository(readonly=True) as repo:
            state = ProgramState.load(repo, app.settings.program_model(), now)
        rec = state.pairs.get(pair_id)
        if rec is None:
            raise UnknownPairError(f"no pair {pair_id!r} in the roster")
        person = rec.pair.mentor if role == Role.MENTOR else rec.pair.mentee
        key = outbox_key(pair_id, str(kind_), "preview", person.email)
        entry = OutboxEntry(key, pair_id, person.email, str(role), kind_, "preview", now,
                            message_id(key, app.settings.mail.domain))
        if kind_ == Kind.TOPIC:
            entry = replace(entry, period=f"m{state.month_of(rec, state.today)}")
        addressed = context.build(entry, state)
        rendered = renderer.render(name, addressed.context)
        to, to_name, kind = person.email, person.name, str(kind_)
    key = outbox_key("-", "preview", name, to)
    message = build_message(
        rendered, sender=app.settings.mail.from_, to=to, to_name=to_name,
        reply_to=app.settings.mail.reply_to, message_id=message_id(key, app.settings.mail.domain),
        kind=kind, pair_id=pair_id, date=now,
    )
    return rendered, message


async def preview_announcement(app: App, source: str, audience: str, *,
                               name: str = "announcement.md",
                               ) -> tuple[AnnounceReport, RenderedEmail]:
    """What `mailflow announce --dry-run` checks (every recipient's email renders), and
    the first recipient's email as it will read; nothing is stored or sent."""
    report = await announce(app, source, audience, dry_run=True, name=name)
    with app.repository(readonly=True) as repo:
        state = ProgramState.load(repo, app.settings.program_model(), app.clock.now())
    addressed = context.build(report.entries[0], state)
    given = addressed.given or (source, name)
    return report, app.renderer().render_given(given[0], given[1], addressed.context)
