"""The demo's closing summary: every number read from the store, checked against
the mailboxes (the delivered .eml files) and the IMAP folders."""

from __future__ import annotations

import email
import email.policy
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from mailflow.domain.ledger import LOW_RATING, in_force
from mailflow.domain.model import EventType, Kind, OutboxStatus, PairState
from mailflow.repository import Repository


@dataclass
class DemoSummary:
    directory: Path
    pairs: int
    term: tuple[date, date]
    sent_by_kind: dict[str, int] = field(default_factory=dict)  # store: outbox entries sent
    delivered_by_kind: dict[str, int] = field(default_factory=dict)  # .eml files by header
    replies_by_outcome: dict[str, int] = field(default_factory=dict)  # store: processed mail
    written: int = 0  # messages the simulated people sent to the inbox
    imap_folders: dict[str, int] = field(default_factory=dict)
    events_by_type: dict[str, int] = field(default_factory=dict)
    escalations_opened: dict[str, int] = field(default_factory=dict)
    escalations_resolved: int = 0
    ratings_midterm: int = 0  # RATING replies (in force) before the term's end
    ratings_low: int = 0  # of 1 or 2
    announcements: int = 0  # distinct announcements sent
    ended_pairs: list[str] = field(default_factory=list)
    rematches: list[str] = field(default_factory=list)  # new pairs for someone whose pair ended
    report: Path | None = None
    report_note: str = ""
    elapsed_seconds: float = 0.0
    simulated_until: datetime | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def config(self) -> Path:
        return self.directory / "config.toml"

    @property
    def mailboxes(self) -> Path:
        return self.directory / "mailboxes"

    @property
    def emails_sent(self) -> int:
        return sum(self.sent_by_kind.values())


def delivered_by_kind(mailboxes: Path) -> dict[str, int]:
    """Count the delivered .eml files by their X-Mailflow-Kind header."""
    counts: Counter[str] = Counter()
    for path in sorted(mailboxes.glob("*/*.eml")):
        with path.open("rb") as handle:
            msg = email.message_from_binary_file(handle, policy=email.policy.default)
        counts[str(msg.get("X-Mailflow-Kind", "unknown"))] += 1
    return dict(sorted(counts.items()))


def collect(summary: DemoSummary, repo: Repository) -> DemoSummary:
    """Fill the summary from the store and the mailboxes, and list any disagreement."""
    sent = Counter(str(e.kind) for e in repo.outbox() if e.status == OutboxStatus.SENT)
    summary.sent_by_kind = dict(sorted(sent.items()))
    summary.delivered_by_kind = delivered_by_kind(summary.mailboxes)
    outcomes = Counter(str(r.get("outcome_kind", r.get("outcome"))) for r in
                       repo.processed_records())
    summary.replies_by_outcome = dict(sorted(outcomes.items()))
    summary.events_by_type = dict(sorted(Counter(str(e.type) for e in repo.events()).items()))
    escalations = repo.escalations()
    summary.escalations_opened = dict(sorted(Counter(str(e.reason) for e in escalations)
                                             .items()))
    summary.escalations_resolved = sum(1 for e in escalations if e.resolved_at is not None)
    ratings = [e for e in in_force(repo.events()) if e.type == EventType.RATING]
    summary.ratings_midterm = sum(1 for e in ratings if e.time.date() < summary.term[1])
    summary.ratings_low = sum(1 for e in ratings if e.value.isdigit()
                              and int(e.value) <= LOW_RATING)
    summary.announcements = len({e.period for e in repo.outbox()
                                 if e.kind == Kind.ANNOUNCEMENT and e.status == OutboxStatus.SENT})
    pairs = repo.pairs()
    summary.ended_pairs = sorted(pid for pid, rec in pairs.items()
                                 if rec.state == PairState.ENDED)
    ended_people = {p.email for pid in summary.ended_pairs
                    for p in pairs[pid].pair.participants}
    summary.rematches = sorted(pid for pid, rec in pairs.items()
                               if rec.state != PairState.ENDED
                               and any(p.email in ended_people for p in rec.pair.participants))
    _check(summary, repo)
    return summary


def _check(s: DemoSummary, repo: Repository) -> None:
    if s.sent_by_kind != s.delivered_by_kind:
        s.problems.append(f"emails sent per the store {s.sent_by_kind} differ from the "
                          f"mailboxes {s.delivered_by_kind}")
    unsent = [e.key for e in repo.outbox() if e.status not in (OutboxStatus.SENT,
                                                                OutboxStatus.SKIPPED)]
    if unsent:
        s.problems.append(f"{len(unsent)} email(s) not sent: {', '.join(unsent[:5])}")
    handled = sum(s.replies_by_outcome.values())
    if handled != s.written:
        s.problems.append(f"{s.written} messages were sent to the inbox but the store "
                          f"records {handled}")
    folders = s.imap_folders
    if folders.get("INBOX", 0) != 0:
        s.problems.append(f"{folders['INBOX']} message(s) left unprocessed in the INBOX")
    quarantined = s.events_by_type.get(str(EventType.QUARANTINED), 0)
    if folders.get("Quarantine", 0) != quarantined:
        s.problems.append(f"the Quarantine folder holds {folders.get('Quarantine', 0)}, the "
                          f"store records {quarantined} quarantined")
    if folders.get("Processed", 0) + folders.get("Quarantine", 0) != s.written:
        s.problems.append(f"the IMAP folders hold {sum(folders.values())} message(s), "
                          f"{s.written} were sent")


_OUTCOME_LABELS = {"reply": "human replies", "auto_reply": "auto-replies", "bounce": "bounces",
                   "unknown_sender": "unknown senders (quarantined)"}


def _line(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in counts.items()) or "none"


def render(s: DemoSummary) -> str:
    ev = s.events_by_type
    checkins = ev.get(str(EventType.MET), 0)
    received = ", ".join(f"{n} {_OUTCOME_LABELS.get(k, k)}"
                         for k, n in s.replies_by_outcome.items())
    lines = [
        f"mailflow demo: {s.pairs} pairs, term {s.term[0]} to {s.term[1]}, "
        f"run in {s.elapsed_seconds:.1f} s of wall-clock time",
        "",
        f"Emails sent:        {s.emails_sent} ({_line(s.sent_by_kind)})",
        f"  in the mailboxes: {sum(s.delivered_by_kind.values())} .eml files "
        + ("(match the store, kind by kind)" if s.sent_by_kind == s.delivered_by_kind
           else f"(MISMATCH: {_line(s.delivered_by_kind)})"),
        f"Mail received:      {s.written} ({received})",
        f"  IMAP folders:     {_line(s.imap_folders)}",
        f"Check-ins:          {checkins} MET, {ev.get(str(EventType.NOT_MET), 0)} NOT MET",
        f"Goals recorded:     {ev.get(str(EventType.GOAL), 0)}",
        f"Goals reached:      {ev.get(str(EventType.GOAL_DONE), 0)}",
        f"First contacts:     {ev.get(str(EventType.CONTACTED), 0)} CONTACTED; "
        f"{s.sent_by_kind.get(str(Kind.FIRST_CONTACT), 0)} mentor(s) reminded, "
        f"{s.escalations_opened.get('no_contact', 0)} pair(s) never made contact "
        "(liaison told)",
        f"Ratings:            {ev.get(str(EventType.RATING), 0)} ({s.ratings_midterm} at the "
        f"mid-term check-in, {s.ratings_low} low)",
        f"Withdrawn by UNDO:  {ev.get(str(EventType.UNDONE), 0)}",
        f"Escalations:        {sum(s.escalations_opened.values())} opened "
        f"({_line(s.escalations_opened)}), {s.escalations_resolved} resolved",
        f"Bounces:            {ev.get(str(EventType.BOUNCE), 0)}",
        f"Auto-replies:       {ev.get(str(EventType.AUTO_REPLY), 0)}",
        f"Quarantined:        {ev.get(str(EventType.QUARANTINED), 0)}",
        f"Feedback replies:   {ev.get(str(EventType.FEEDBACK), 0)}; letters requested: "
        f"{ev.get(str(EventType.LETTER_REQUEST), 0)}",
        f"Announcements:      {s.announcements} "
        f"({s.sent_by_kind.get(str(Kind.ANNOUNCEMENT), 0)} emails)",
        f"Matches ended:      {len(s.ended_pairs)}"
        + (f" ({', '.join(s.ended_pairs)})" if s.ended_pairs else "")
        + f"; rematches: {len(s.rematches)}"
        + (f" ({', '.join(s.rematches)})" if s.rematches else ""),
    ]
    if s.problems:
        lines += ["", "PROBLEMS (the store, the mailboxes and the IMAP folders disagree):"]
        lines += [f"  - {p}" for p in s.problems]
    return "\n".join(lines)


def guide(s: DemoSummary) -> str:
    """Where to look, and what to run next."""
    d = s.directory
    cli = f"mailflow -c {s.config}"
    now = f" --now {s.simulated_until.isoformat(timespec='minutes')}" if s.simulated_until \
        else ""
    report = str(s.report) if s.report else f"(report {s.report_note})"
    return "\n".join([
        "Where to look:",
        f"  {s.mailboxes}/<address>/NNN-<kind>.eml   every message delivered, by recipient",
        f"  {d / 'replies'}/NNN-<pair>-<who>-<what>.eml   what people sent back (IMAP APPEND)",
        f"  {report}   the committee's report",
        f"  {d / 'mailflow.json'}   the store (with its .journal): the one thing to back up",
        f"  {d / 'demo.log'}   the service's log lines",
        f"  {s.config}, {d / 'roster.csv'}, {d / 'templates'}/   the program itself",
        "",
        "Explore:",
        f"  {cli}{now} status",
        f"  {cli} export events",
        f"  {cli} export escalations --format json",
        f"  {cli} plan --days 14",
        f"  {cli} templates preview topic --pair P01",
        "",
        "The demo's SMTP (aiosmtpd) and IMAP (pymap) servers ran inside this process on "
        "127.0.0.1 with",
        'security = "none", acceptable on loopback only; they stopped when the demo ended. '
        "A real program",
        "uses your mail provider's servers with TLS (see the comments in config.toml).",
    ])
