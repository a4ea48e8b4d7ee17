"""One incoming message -> what to store, what to send, and where it goes.

`Inbound.handle` runs inside the poll pass's transaction: it reads the
message, decides in SPEC order (already seen, bounce, auto-reply, unknown
sender, reply), stores the effects and queues reply-triggered mail. It never
raises for a bad message: the message is quarantined with its reason.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from email import message_from_bytes
from zoneinfo import ZoneInfo

from mailflow.config import Settings
from mailflow.domain.echo import without_sent_text
from mailflow.domain.effects import (
    EmailToSend,
    Outcome,
    Reply,
    decide,
    escalation_id,
)
from mailflow.domain.keys import message_id, reply_token, token_in
from mailflow.domain.keywords import KeywordResult, parse_keywords
from mailflow.domain.matching import Match, PeopleIndex, match_reply
from mailflow.domain.model import (
    Escalation,
    EscalationReason,
    Event,
    EventType,
    Kind,
    OutboxEntry,
    Pair,
    PairState,
)
from mailflow.domain.quotes import extract_new_text
from mailflow.domain.replies import ParsedMessage, body_text, parse_message
from mailflow.repository import Repository
from mailflow.services.state import ProgramState, last_ack_times

log = logging.getLogger("mailflow.poller")

PROCESSED, QUARANTINED = "processed", "quarantined"


@dataclass(frozen=True)
class Handled:
    outcome: str  # what happened, for the report: human, bounce, auto_reply, duplicate...
    folder: str  # PROCESSED or QUARANTINED
    reason: str = ""


def synthetic_message_id(raw: bytes) -> str:
    """A stable id for a message that has none, so it is still processed only once."""
    return f"<{hashlib.sha256(raw).hexdigest()[:32]}.no-message-id@mailflow.invalid>"


class Inbound:
    """``sent_text(entry)``: the text of the email mailflow sent for an outbox entry, to
    tell our own words repeated in a reply (with no quoting marks) from the reply."""

    def __init__(self, settings: Settings, repo: Repository, state: ProgramState,
                 now: datetime, sent_text: Callable[[OutboxEntry], str] | None = None) -> None:
        self.settings = settings
        self.sent_text = sent_text
        self.repo = repo
        self.state = state
        self.now = now
        self.zone = ZoneInfo(settings.program.timezone)
        self.domain = settings.mail.domain
        self.people = PeopleIndex((r.pair for r in state.pairs.values() if r.in_roster),
                                  ended=(r.pair_id for r in state.pairs.values()
                                         if r.state == PairState.ENDED),
                                  remembered=repo.remembered_addresses())
        self.by_token = {reply_token(e.key): e for e in state.outbox}
        self.last_ack = last_ack_times(state.outbox)
        self.queued: list[OutboxEntry] = []

    # --- entry point -------------------------------------------------------------

    def handle(self, raw: bytes, parsed: ParsedMessage | None = None) -> Handled:
        """Handle one message; ``parsed`` is ``parse_message(raw)`` when already made."""
        if parsed is None:
            parsed = parse_message(raw,
                                   trusted_authserv_id=self.settings.imap.trusted_authserv_id)
        msg_id = parsed.message_id or synthetic_message_id(raw)
        if self.repo.processed(msg_id):
            return Handled("duplicate", PROCESSED)
        try:
            handled = self._classified(parsed, msg_id, raw)
        except Exception as exc:  # never let one message stop the poll
            log.exception("message_id=%s could not be handled", msg_id)
            handled = Handled("error", QUARANTINED, f"internal error: {type(exc).__name__}")
        details = {"from": parsed.from_address, "subject": parsed.subject[:200],
                   "reason": handled.reason, "kind": parsed.kind,
                   "from_name": parsed.from_name[:200]}
        if handled.folder == QUARANTINED:
            self._event("", parsed.from_address, "", EventType.QUARANTINED, msg_id,
                        f"{handled.reason}: {parsed.subject[:200]}")
            log.warning("quarantined message_id=%s from=%s: %s", msg_id,
                        parsed.from_address, handled.reason)
        self.repo.mark_processed(msg_id, handled.folder, self.now, outcome_kind=handled.outcome,
                                 **details)
        return handled

    def accept(self, raw: bytes, as_person: str) -> Handled:
        """A quarantined reply, handled as if ``as_person`` (a roster address) had sent it:
        a coordinator vouched for it (`mailflow quarantine accept`)."""
        parsed = parse_message(raw, trusted_authserv_id=self.settings.imap.trusted_authserv_id)
        msg_id = parsed.message_id or synthetic_message_id(raw)
        handled = self._human(replace(parsed, from_address=as_person.lower()), msg_id, raw)
        if handled.folder == PROCESSED:
            self.repo.mark_processed(msg_id, PROCESSED, self.now, outcome_kind=handled.outcome,
                                     **{"from": parsed.from_address, "accepted_as": as_person,
                                        "subject": parsed.subject[:200], "kind": parsed.kind,
                                        "from_name": parsed.from_name[:200]})
        return handled

    def _classified(self, parsed: ParsedMessage, msg_id: str, raw: bytes) -> Handled:
        if parsed.unreadable:  # only its headers were read: a person must look at it
            return Handled("unreadable", QUARANTINED, f"unreadable: {parsed.unreadable}")
        if parsed.kind == "bounce":
            return self._bounce(parsed, msg_id)
        if parsed.kind == "delivery_report":
            return Handled("delivery_report", PROCESSED)
        if parsed.kind in ("auto_reply", "complaint"):
            return self._robot(parsed, msg_id)
        if parsed.dmarc_failed:
            return Handled("spoofed", QUARANTINED, "DMARC failed at the trusted server")
        if not parsed.from_address:
            return Handled("unreadable", QUARANTINED, "no readable From address")
        return self._human(parsed, msg_id, raw)

    # --- helpers -------------------------------------------------------------------

    def _answered(self, parsed: ParsedMessage) -> OutboxEntry | None:
        for mid in parsed.thread_ids + (parsed.bounce.original_message_ids
                                        if parsed.bounce else ()):
            entry = self.repo.outbox_by_message_id(mid)
            if entry is not None:
                return entry
        for address in parsed.to_addresses:
            token = token_in(address)
            if token and token in self.by_token:
                return self.by_token[token]
        return None

    def _event(self, pair_id: str, person: str, role: str, kind: EventType, msg_id: str,
               text: str = "", day: date | None = None, *, value: str = "",
               ref: str = "") -> Event:
        event = Event(self.now, pair_id, person.lower(), role, kind, day, text, msg_id, value,
                      ref)
        index = len(self.state.events_by_pair.get(pair_id, ()))
        self.repo.add_event(f"{msg_id}#{kind}#{index}", event)
        return event

    def _queue(self, pair_id: str, email: EmailToSend) -> None:
        key = email.key(pair_id)
        if self.repo.outbox_entry(key) is not None:
            return  # e.g. a letter already sent: never twice
        context = dict(email.context)
        if email.in_reply_to:
            context["in_reply_to"] = email.in_reply_to
        entry = OutboxEntry(key, pair_id, email.person.email, str(email.person.role),
                            email.kind, email.period, self.now, message_id(key, self.domain),
                            context=context)
        self.repo.put_outbox(entry)
        self.queued.append(entry)
        if email.kind == Kind.ACK:
            self.last_ack[email.person.email] = self.now

    # --- kinds ------------------------------------------------------------------------

    def _bounce(self, parsed: ParsedMessage, msg_id: str) -> Handled:
        info = parsed.bounce
        answered = self._answered(parsed)
        recipients = info.recipients if info and info.recipients else (
            (answered.person,) if answered else ())
        pair_id = answered.pair_id if answered and answered.pair_id in self.state.pairs else ""
        hard = info is not None and not info.temporary
        status = info.status if info else ""
        for address in recipients or ("",):
            pairs = [pair_id] if pair_id else [p.pair_id for p in self.people.pairs_of(address)]
            for pid in pairs or [""]:
                self._event(pid, address, "", EventType.BOUNCE, msg_id,
                            f"{'hard' if hard else 'soft'} bounce {status}".strip())
            if hard:
                self.repo.set_meta("bouncing", **{address: self.now.isoformat()})
                for pid in pairs:
                    self._escalate_bounce(pid, address, status, msg_id)
        return Handled("bounce", PROCESSED)

    def _escalate_bounce(self, pair_id: str, address: str, status: str, msg_id: str) -> None:
        rec = self.state.pairs.get(pair_id)
        if rec is None:
            return
        text = f"Mail to {address} bounced ({status or 'permanent failure'})."
        esc = Escalation(escalation_id(pair_id, EscalationReason.BOUNCE, msg_id + address),
                         pair_id, rec.pair.liaison.email, EscalationReason.BOUNCE, text, self.now)
        self._open(esc)
        if address != rec.pair.liaison.email:
            self._queue(pair_id, EmailToSend(Kind.ESCALATION, rec.pair.liaison, esc.id,
                                             {"escalation_id": esc.id}))

    def _open(self, esc: Escalation) -> None:
        if self.repo.escalation(esc.id) is None:
            self.repo.put_escalation(esc)

    def _robot(self, parsed: ParsedMessage, msg_id: str) -> Handled:
        """Auto-replies and complaints are recorded, never parsed for keywords or answered."""
        kind = EventType.AUTO_REPLY if parsed.kind == "auto_reply" else EventType.COMPLAINT
        answered = self._answered(parsed)
        pair_id = answered.pair_id if answered and answered.pair_id in self.state.pairs else ""
        if not pair_id:
            pairs = self.people.pairs_of(parsed.from_address)
            pair_id = pairs[0].pair_id if len(pairs) == 1 else ""
        self._event(pair_id, parsed.from_address, "", kind, msg_id, parsed.subject[:200])
        return Handled(str(kind), PROCESSED)

    def _human(self, parsed: ParsedMessage, msg_id: str, raw: bytes) -> Handled:
        match = match_reply(
            parsed.from_address, parsed.thread_ids, parsed.to_addresses, self.people,
            outbox_by_message_id=self.repo.outbox_by_message_id, outbox_by_token=self.by_token,
        )
        if not isinstance(match, Match):
            return Handled("unknown_sender", QUARANTINED, match.reason)
        outcome = self._decide(parsed, msg_id, match, raw)
        self._apply(match.pair, outcome)
        return Handled("reply", PROCESSED)

    def _reference_day(self, parsed: ParsedMessage) -> date:
        sent = parsed.date
        if sent is None or sent > self.now + timedelta(days=1):
            sent = self.now
        return sent.astimezone(self.zone).date()

    def _keywords(self, text: str, parsed: ParsedMessage) -> KeywordResult:
        return parse_keywords(text, synonyms=self.settings.keywords,
                              reference=self._reference_day(parsed),
                              date_order=self.settings.program.date_order)

    def _without_our_email(self, new_text: str, match: Match, raw: bytes) -> str:
        """The new text without a copy of the email this reply answers, which a client may
        have put below it with no "> " marks and under an attribution no parser knows
        (`mailflow.domain.echo`). Our emails are longer than two lines: a shorter new text
        holds no copy of them, and needs no email rendered again."""
        if (match.answered is None or self.sent_text is None
                or sum(1 for line in new_text.split("\n") if line.strip()) <= 2):
            return new_text
        sent = self.sent_text(match.answered)
        if not sent or without_sent_text(new_text, sent) == new_text:
            return new_text
        # The copy may run on past where the parser stopped (our emails have a "---" rule
        # above their list of keywords), and a bottom-poster's reply is below it: read the
        # whole body again, drop the copy, and take the new text of what is left.
        whole = body_text(message_from_bytes(raw), [])
        return extract_new_text(without_sent_text(whole, sent))

    def _decide(self, parsed: ParsedMessage, msg_id: str, match: Match, raw: bytes) -> Outcome:
        new_text = self._without_our_email(parsed.new_text, match, raw)
        keywords = self._keywords(new_text, parsed)
        rec = self.state.pairs[match.pair.pair_id]
        reply = Reply(
            pair=match.pair, person=match.person, message_id=msg_id, received_at=self.now,
            answered=match.answered, commands=keywords.commands,
            free_text=keywords.unrecognised if keywords.commands
            else keywords.unrecognised or new_text,
            term_ended=self.state.term_ended(rec), last_ack_at=self.last_ack.get(
                match.person.email),
            history=tuple(self.state.events_by_pair.get(match.pair.pair_id, ())),
            reply_day=self._reference_day(parsed),
            pair_start=rec.pair.start_date(self.state.program),
        )
        return decide(reply, self.state.open_escalations(match.pair.pair_id))

    def _apply(self, pair: Pair, outcome: Outcome) -> None:
        for event in outcome.events:
            self._event(event.pair_id, event.person, event.role, event.type, event.message_id,
                        event.text, event.date, value=event.value, ref=event.ref)
        for esc in outcome.opened:
            self._open(esc)
        for esc in outcome.resolved:
            if esc.reason == EscalationReason.BOUNCE:  # the liaison sorted the address out
                self.repo.clear_bouncing({p.email for p in pair.participants})
            self.repo.put_escalation(esc)
        if outcome.new_state is not None:
            rec = self.state.pairs[pair.pair_id]
            updated = replace(rec, state=outcome.new_state, state_since=self.now)
            self.repo.put_pair(updated)
        for email in outcome.emails:
            self._queue(pair.pair_id, email)
