"""`mailflow quarantine list | accept` (and the web console): replies from other addresses.

A participant who answers from a personal account is an unknown sender: the
reply is quarantined and nothing happens. A coordinator sees it listed, with
the roster person it most likely belongs to, and accepts it as that person's:
the message is fetched from the quarantine folder, handled as their reply
(keywords, ack, escalations), and moved to the processed folder. With
`remember`, later mail from that address counts as theirs at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from zoneinfo import ZoneInfo

from mailflow.app import App
from mailflow.domain.matching import PeopleIndex, likely_person
from mailflow.domain.model import Person
from mailflow.errors import MailflowError
from mailflow.ports import Record
from mailflow.services.dispatch import SendReport
from mailflow.services.inbound import PROCESSED, Inbound
from mailflow.services.state import ProgramState

log = logging.getLogger("mailflow.quarantine")

FETCH_BATCH = 50


@dataclass(frozen=True)
class Quarantined:
    message_id: str
    sender: str
    name: str
    subject: str
    reason: str
    received_at: datetime | None  # in the program's time zone
    likely: Person | None  # the roster person it most likely belongs to
    likely_pairs: tuple[str, ...]


@dataclass(frozen=True)
class Accepted:
    message_id: str
    sender: str
    person: str
    outcome: str
    replies: SendReport
    remembered: bool


def _listed(record: Record, people: PeopleIndex, zone: ZoneInfo) -> Quarantined:
    at = record.get("at")
    sender, name = str(record.get("from", "")), str(record.get("from_name", ""))
    likely = likely_person(sender, name, people.people()) if sender else None
    pairs = tuple(p.pair_id for p in people.pairs_of(likely.email)) if likely else ()
    return Quarantined(
        message_id=str(record["id"]), sender=sender, name=name,
        subject=str(record.get("subject", "")), reason=str(record.get("reason", "")),
        received_at=datetime.fromisoformat(at).astimezone(zone) if at else None,
        likely=likely, likely_pairs=pairs)


def quarantined(app: App) -> list[Quarantined]:
    """The quarantined messages not yet accepted, oldest first."""
    zone = ZoneInfo(app.settings.program.timezone)
    with app.repository(readonly=True) as repo:
        state = ProgramState.load(repo, app.settings.program_model(), app.clock.now())
        people = PeopleIndex((r.pair for r in state.pairs.values() if r.in_roster),
                             remembered=repo.remembered_addresses())
        listed = [_listed(r, people, zone) for r in state.quarantined]
    return sorted(listed, key=lambda q: (q.received_at is None, q.received_at or 0, q.message_id))


async def _fetch(app: App, message_id: str) -> tuple[int, bytes]:
    """The UID and bytes of the message with ``message_id`` in the quarantine folder."""
    imap = app.settings.imap
    parser = BytesHeaderParser(policy=default_policy)
    async with app.imap_mailbox() as box:
        await box.select(imap.quarantine_folder)
        uids = await box.uids_after(0)
        for start in range(0, len(uids), FETCH_BATCH):
            for uid, raw in await box.fetch(uids[start:start + FETCH_BATCH]):
                found = str(parser.parsebytes(raw).get("Message-ID", "")).strip()
                if found == message_id:
                    return uid, raw
    raise MailflowError(f"{message_id} is not in the {imap.quarantine_folder} folder any more "
                        "(moved or deleted by hand?)")


async def _move(app: App, uid: int) -> None:
    imap = app.settings.imap
    async with app.imap_mailbox() as box:
        await box.ensure_folders()
        await box.select(imap.quarantine_folder)
        await box.move([uid], imap.processed_folder)


async def accept(app: App, message_id: str, as_email: str, *,
                 remember: bool = False) -> Accepted:
    """Handle a quarantined reply as the reply of roster person ``as_email``; with
    ``remember``, their From address becomes one of that person's addresses."""
    now = app.clock.now()
    as_email = as_email.strip().lower()
    with app.repository(readonly=True) as repo:
        record = repo.processed(message_id)
        pairs = [r.pair for r in repo.pairs().values() if r.in_roster]
    if record is None or record.get("outcome") != "quarantined":
        raise MailflowError(f"no quarantined message {message_id!r} (`mailflow quarantine "
                            "list` shows them)")
    if not PeopleIndex(pairs).knows(as_email) or not any(p.person(as_email) for p in pairs):
        raise MailflowError(f"{as_email} is nobody's roster address: give the address of the "
                            "mentor, mentee or liaison the reply belongs to")
    uid, raw = await _fetch(app, message_id)
    sender = str(record.get("from", ""))
    with app.repository() as repo:
        state = ProgramState.load(repo, app.settings.program_model(), now)
        inbound = Inbound(app.settings, repo, state, now)
        with repo.transaction():
            handled = inbound.accept(raw, as_email)  # stores nothing unless it was handled
            if handled.folder == PROCESSED and remember and sender:
                repo.remember_address(sender, as_email)
        if handled.folder != PROCESSED:
            raise MailflowError(f"{message_id} could not be handled as {as_email}'s reply: "
                                f"{handled.reason}")
        log.info("quarantined message_id=%s from=%s accepted as %s (%s)", message_id, sender,
                 as_email, handled.outcome)
        await _move(app, uid)
        replies = SendReport()
        await app.send_entries(repo, state, inbound.queued, now, replies)
    return Accepted(message_id, sender, as_email, handled.outcome, replies,
                    remember and bool(sender))
