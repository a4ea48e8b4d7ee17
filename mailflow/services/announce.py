"""`mailflow announce`: a one-off email to everyone, one role, or some pairs (SPEC 2, 7).

The file is a mail template like the others (a ``Subject:`` line, a Markdown
body, Jinja2 with the recipient's, and for participants the pair's,
variables). `announce` renders it for every recipient before anything is
stored or sent: one failure sends nothing. Each recipient's email is then an
outbox entry under ``pair/announcement/<id>/person`` (``-`` for a liaison),
where ``<id>`` is a hash of the file's text and the audience, all recorded in
one commit before the first email goes out. A crash mid-send, or running the
same command again, therefore sends nobody a second copy: the second run
finds the keys, sends only what is still pending, and records the newcomers
of an audience that has grown (a re-imported roster). The template text is
kept in each entry, so an email is sent as it was checked even if the file
changes; ``--at`` leaves the entries for the send pass that finds them due.

The web console calls `announce` as the command line does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from mailflow.domain.keys import NO_PAIR, message_id, outbox_key
from mailflow.domain.model import Kind, OutboxEntry, OutboxStatus, PairState, Person
from mailflow.errors import ConnectionFailed, MailflowError, TemplateError
from mailflow.repository import Repository
from mailflow.services.composer import compose
from mailflow.services.dispatch import Dispatcher, SendReport
from mailflow.services.drafting import MissingContext
from mailflow.services.state import ProgramState

if TYPE_CHECKING:
    from mailflow.app import App

ROLES = {"all": ("mentor", "mentee", "liaison"), "mentors": ("mentor",),
         "mentees": ("mentee",), "liaisons": ("liaison",)}
SHOWN_PROBLEMS = 10


@dataclass(frozen=True)
class Audience:
    """Who an announcement is for: ``all``, ``mentors``, ``mentees``, ``liaisons``, or
    pair ids (``P-001,P-007``: both people of each pair)."""

    spec: str  # as it goes into the announcement's id
    roles: tuple[str, ...] = ()
    pair_ids: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Audience:
        words = [w.strip() for w in text.split(",") if w.strip()]
        if len(words) == 1 and words[0].lower() in ROLES:
            word = words[0].lower()
            return cls(word, roles=ROLES[word])
        if not words or any(w.lower() in ROLES for w in words):
            raise MailflowError(f"--to {text!r}: use all, mentors, mentees, liaisons, or "
                              "pair ids separated by commas (e.g. P-001,P-007)")
        pair_ids = tuple(sorted(set(words)))
        return cls(",".join(pair_ids), roles=("mentor", "mentee"), pair_ids=pair_ids)


def announcement_id(source: str, audience: Audience) -> str:
    """Stable: the same text to the same audience is the same announcement."""
    digest = hashlib.sha256(f"{audience.spec}\n{source}".encode()).hexdigest()
    return f"a{digest[:12]}"


@dataclass(repr=False)
class AnnounceReport:
    announcement_id: str
    audience: str
    entries: list[OutboxEntry] = field(default_factory=list)  # one per recipient
    recorded: int = 0  # stored by this run
    already: int = 0  # stored by an earlier run (sent, or still queued)
    scheduled_at: datetime | None = None  # for the send pass, when later than now
    dry_run: bool = False
    sent: SendReport = field(default_factory=SendReport)

    def __repr__(self) -> str:
        return (f"AnnounceReport({self.announcement_id}, {len(self.entries)} recipients, "
                f"recorded={self.recorded}, already={self.already}, {self.sent!r})")


def recipients(state: ProgramState, audience: Audience) -> list[tuple[str, Person]]:
    """(pair id or ``-``, person), one per address, in a stable order. Pairs that have
    ended get nothing (SPEC section 2); paused ones do."""
    running = {pid: rec for pid, rec in sorted(state.pairs.items())
               if rec.in_roster and rec.state != PairState.ENDED}
    if audience.pair_ids:
        unknown = [p for p in audience.pair_ids if p not in state.pairs]
        ended = [p for p in audience.pair_ids if p in state.pairs and p not in running]
        if unknown or ended:
            raise MailflowError("; ".join(
                [f"no pair {p!r} in the roster" for p in unknown]
                + [f"pair {p!r} has ended (or left the roster): it gets no announcements"
                   for p in ended]))
        running = {pid: running[pid] for pid in audience.pair_ids}
    chosen: dict[str, tuple[str, Person]] = {}
    for role in audience.roles:
        for pid, rec in running.items():
            person = getattr(rec.pair, role)
            pair_id = NO_PAIR if role == "liaison" else pid
            chosen.setdefault(person.email, (pair_id, person))
    return list(chosen.values())


def _entries(state: ProgramState, audience: Audience, aid: str, source: str, name: str,
             due: datetime, domain: str) -> list[OutboxEntry]:
    entries = []
    for pair_id, person in recipients(state, audience):
        key = outbox_key(pair_id, str(Kind.ANNOUNCEMENT), aid, person.email)
        entries.append(OutboxEntry(
            key, pair_id, person.email, str(person.role), Kind.ANNOUNCEMENT, aid, due,
            message_id(key, domain),
            context={"announcement": aid, "audience": audience.spec, "file": name,
                     "source": source},
        ))
    return entries


def check(dispatcher: Dispatcher, state: ProgramState, entries: list[OutboxEntry],
          now: datetime) -> list[str]:
    """Render and build every recipient's email; the problems (none: all can be sent)."""
    problems: list[str] = []
    for entry in entries:
        try:
            compose(dispatcher.renderer, dispatcher.settings.mail.from_, now,
                    dispatcher.draft(entry, state))
        except (TemplateError, ValueError, MissingContext) as exc:
            problem = f"{exc} (to {entry.person})" if isinstance(exc, ValueError) else str(exc)
            if problem not in problems:
                problems.append(problem)
    return problems


async def announce(app: App, source: str, audience: str, *, at: datetime | None = None,
                   dry_run: bool = False, name: str = "announcement.md") -> AnnounceReport:
    """Check, record and send (or schedule, with ``at``) one announcement.

    ``source`` is the template's text, ``name`` the file name its errors show;
    ``audience`` as for ``--to``. Raises TemplateError naming every problem (file,
    line, recipient) when any recipient's email cannot be made: then nothing is
    stored or sent. MailflowError for an unknown audience or pair.
    """
    chosen = Audience.parse(audience)
    aid = announcement_id(source, chosen)
    now = app.clock.now()
    due = at if at is not None and at > now else now
    report = AnnounceReport(aid, chosen.spec, dry_run=dry_run,
                            scheduled_at=due if due > now else None)
    dispatcher = app.dispatcher()
    with app.repository(readonly=dry_run) as repo:
        state = ProgramState.load(
            repo, dispatcher.program, now,
            share_notes_with_liaison=app.settings.privacy.share_notes_with_liaison)
        report.entries = _entries(state, chosen, aid, source, name, due, dispatcher.domain)
        if not report.entries:
            raise MailflowError(f"--to {audience}: nobody to send to (no running pair)")
        problems = check(dispatcher, state, report.entries, now)
        if problems:
            shown = problems[:SHOWN_PROBLEMS]
            more = len(problems) - len(shown)
            raise TemplateError("the announcement was not sent to anyone:\n  " + "\n  ".join(
                shown + ([f"... and {more} more"] if more else [])))
        if dry_run:
            return report
        _record(repo, report)
        if report.scheduled_at is None:
            await _send(dispatcher, repo, state, aid, now, report.sent)
    return report


def _record(repo: Repository, report: AnnounceReport) -> None:
    """Every recipient's entry in one commit, before anything is sent."""
    with repo.transaction():
        for entry in report.entries:
            if repo.outbox_entry(entry.key) is None:
                repo.put_outbox(entry)
                report.recorded += 1
            else:
                report.already += 1


async def _send(dispatcher: Dispatcher, repo: Repository, state: ProgramState, aid: str,
                now: datetime, report: SendReport) -> None:
    """What of this announcement is pending and due; a sent key is never sent again."""
    ready = sorted(
        (e for e in state.outbox
         if e.kind == Kind.ANNOUNCEMENT and e.period == aid and e.status == OutboxStatus.PENDING
         and e.due_at <= now and (e.next_attempt_at is None or e.next_attempt_at <= now)),
        key=lambda e: e.key)
    ready = dispatcher.hold_bouncing(repo, state, ready, report)
    try:
        await dispatcher.send_entries(repo, state, ready, now, report)
    except ConnectionFailed as exc:
        report.connection_error = str(exc)
