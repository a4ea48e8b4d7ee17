"""poll_once: fetch new mail, handle each message, store, then move it.

Incremental by UID, with UIDVALIDITY tracked: a changed UIDVALIDITY rescans
the folder, and Message-IDs already processed are only moved. A chunk's
effects are stored (one commit per `COMMIT_EVERY` messages) *before* its
messages are moved, so a crash in between reprocesses them harmlessly (they
are recognised and moved).

In a long poll each next chunk is fetched and parsed (in a worker process,
`mailflow.services.workers`) while this one is handled, and the mail each
commit queues (acks, escalations) is handed to the caller's `MailQueue` at
once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Protocol

from mailflow.adapters.imap import ImapMailbox
from mailflow.config import Settings
from mailflow.domain.model import OutboxEntry
from mailflow.domain.replies import ParsedMessage, parse_message
from mailflow.errors import ConnectionFailed, MailboxError
from mailflow.render.engine import Renderer
from mailflow.repository import Repository
from mailflow.services.drafting import sent_text
from mailflow.services.inbound import PROCESSED, Inbound, synthetic_message_id
from mailflow.services.state import ProgramState
from mailflow.services.workers import Batches, Pending, WorkerPool

log = logging.getLogger("mailflow.poller")

CURSOR = "imap_cursor"
COMMIT_EVERY = 100  # messages per commit: their acks go out while the rest are handled


@dataclass(repr=False)
class PollReport:
    outcomes: Counter[str] = field(default_factory=Counter)
    quarantined: list[tuple[str, str]] = field(default_factory=list)  # (from, reason)
    queued: list[OutboxEntry] = field(default_factory=list)
    would_handle: list[tuple[str, str, str]] = field(default_factory=list)  # dry run
    connection_error: str = ""
    state: ProgramState | None = None  # the pass's view of the store, kept current

    @property
    def handled(self) -> int:
        return sum(self.outcomes.values())

    def __repr__(self) -> str:
        # Short on purpose: asyncio.run (3.11) reprs its coroutine's result twice, and a
        # full repr of the state (the whole store) took longer than the poll at scale.
        return (f"PollReport(outcomes={dict(self.outcomes)}, queued={len(self.queued)}, "
                f"quarantined={len(self.quarantined)}, "
                f"connection_error={self.connection_error!r})")


MailboxFactory = Callable[[], ImapMailbox]


class MailQueue(Protocol):
    """Where the mail a pass queues (acks, escalations) goes as each chunk is stored."""

    def expect(self, count: int) -> None: ...  # about this many items of work (workers.py)

    def put(self, state: ProgramState, entries: list[OutboxEntry]) -> None: ...


def parse_all(trusted_authserv_id: str | None, raws: list[bytes]) -> list[ParsedMessage]:
    """Parse a chunk of messages (in a worker process, for a long poll)."""
    return [parse_message(raw, trusted_authserv_id=trusted_authserv_id) for raw in raws]


class Poller:
    def __init__(self, settings: Settings, mailbox: MailboxFactory,
                 renderer: Renderer | None = None) -> None:
        self.settings = settings
        self.renderer = renderer  # renders what was sent again, to know it in a reply
        self.mailbox = mailbox
        self.program = settings.program_model()

    async def poll_once(self, repo: Repository, now: datetime, *, dry_run: bool = False,
                        outbox: MailQueue | None = None,
                        pool: WorkerPool | None = None) -> PollReport:
        """Handle the new messages. The mail they call for is in `PollReport.queued`, and
        is also put in ``outbox`` chunk by chunk, as soon as each chunk is stored.
        ``pool``: a worker process to share (with the outbox's composing)."""
        report = PollReport()
        try:
            async with self.mailbox() as box:
                if not dry_run:
                    await box.ensure_folders()
                uidvalidity = await box.select(self.settings.imap.folder)
                last_uid = self._cursor(repo, uidvalidity)
                uids = await box.uids_after(last_uid)
                if dry_run:
                    for start in range(0, len(uids), self.settings.imap.batch_size):
                        chunk = uids[start:start + self.settings.imap.batch_size]
                        self._preview(await box.fetch(chunk), report)
                    return report
                items = 2 * len(uids)  # each parsed, and most answered with an ack
                if outbox is not None:
                    outbox.expect(items)
                with self._reader(pool) as reader:
                    reader.expect(items)
                    await self._handle_all(repo, now, box, uids, uidvalidity, reader, report,
                                           outbox)
        except (ConnectionFailed, MailboxError) as exc:
            report.connection_error = str(exc)
            log.debug("poll failed: %s", exc)
        return report

    def _reader(self, pool: WorkerPool | None) -> Batches[bytes, ParsedMessage]:
        """Parses replies; in a worker process, a chunk ahead, when a poll brings many."""
        parse = partial(parse_all, self.settings.imap.trusted_authserv_id)
        return Batches("reading", parse, parse, pool=pool)

    async def _handle_all(self, repo: Repository, now: datetime, box: ImapMailbox,
                          uids: list[int], uidvalidity: int,
                          reader: Batches[bytes, ParsedMessage], report: PollReport,
                          outbox: MailQueue | None) -> None:
        """Chunk by chunk: store the effects (a commit per `COMMIT_EVERY` messages), queue
        the mail they call for, then move the chunk. Each next chunk is fetched and
        handed to the reader before this one is handled."""
        size = self.settings.imap.batch_size
        starts = iter(range(0, len(uids), size))

        async def read_next() -> tuple[list[int], list[tuple[int, bytes]],
                                       Pending[bytes, ParsedMessage]] | None:
            start = next(starts, None)
            if start is None:
                return None
            chunk = uids[start:start + size]
            fetched = await box.fetch(chunk)
            return chunk, fetched, reader.submit([raw for _, raw in fetched])

        inbound: Inbound | None = None  # one read of the store per pass, kept current
        current = await read_next()
        while current is not None:
            following = await read_next()
            chunk, fetched, pending = current
            parsed = await pending.result()
            if inbound is None:
                report.state = ProgramState.load(repo, self.program, now)
                sent = partial(sent_text, self.renderer, report.state) if self.renderer else None
                inbound = Inbound(self.settings, repo, report.state, now, sent_text=sent)
            moves: dict[str, list[int]] = {}
            for start in range(0, len(fetched), COMMIT_EVERY):
                part = slice(start, start + COMMIT_EVERY)
                part_moves, queued = self._handle_chunk(inbound, fetched[part], parsed[part],
                                                        report)
                for folder, moved in part_moves.items():
                    moves.setdefault(folder, []).extend(moved)
                if outbox is not None and queued:
                    outbox.put(inbound.state, queued)
                    await asyncio.sleep(0)  # the stream starts on them while we go on
            for folder, moved in moves.items():
                if moved:
                    await box.move(moved, folder)
            repo.set_meta(CURSOR, folder=self.settings.imap.folder,
                          uidvalidity=uidvalidity, last_uid=max(chunk))
            current = following

    def _cursor(self, repo: Repository, uidvalidity: int) -> int:
        cursor = repo.meta(CURSOR)
        if cursor.get("folder") != self.settings.imap.folder:
            return 0
        if cursor.get("uidvalidity") != uidvalidity:
            log.warning("UIDVALIDITY of %s changed (%s -> %s): rescanning; messages already "
                        "processed are recognised by Message-ID", self.settings.imap.folder,
                        cursor.get("uidvalidity"), uidvalidity)
            return 0
        return int(cursor.get("last_uid", 0))

    def _handle_chunk(self, inbound: Inbound, fetched: list[tuple[int, bytes]],
                      parsed: list[ParsedMessage], report: PollReport,
                      ) -> tuple[dict[str, list[int]], list[OutboxEntry]]:
        """Handle messages in one commit; the moves they call for (to make after that)
        and the mail they queued."""
        repo = inbound.repo
        queued_before = len(inbound.queued)
        imap = self.settings.imap
        moves: dict[str, list[int]] = {imap.processed_folder: [], imap.quarantine_folder: []}
        with repo.transaction():
            for (uid, raw), message in zip(fetched, parsed, strict=True):
                handled = inbound.handle(raw, message)
                report.outcomes[handled.outcome] += 1
                if handled.folder == PROCESSED:
                    moves[imap.processed_folder].append(uid)
                else:
                    moves[imap.quarantine_folder].append(uid)
                    report.quarantined.append((str(uid), handled.reason))
        queued = inbound.queued[queued_before:]
        report.queued.extend(queued)
        return moves, queued

    def _preview(self, fetched: list[tuple[int, bytes]], report: PollReport) -> None:
        for _, raw in fetched:
            parsed = parse_message(raw)
            report.would_handle.append((parsed.message_id or synthetic_message_id(raw),
                                        parsed.kind, parsed.from_address))
