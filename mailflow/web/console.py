"""What the console's handlers share: the app, the sign-in records, who is who.

`Viewer` says what a signed-in person may see: coordinators everything, a
liaison the pairs they look after (from the roster as it is now, so a liaison
taken off the roster loses access at once). `send_login_link` is the whole
of sending a `login` email: the address must be a coordinator's or a roster
liaison's, at most five links an hour; it is rendered and sent like any other
email mailflow sends (same renderer, same MIME builder, same SMTP adapter),
but not through the outbox, because the outbox would keep the link's token.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from mailflow.app import App
from mailflow.clock import AcceleratedClock, Clock, SystemClock
from mailflow.config import check_address
from mailflow.domain.keys import message_id, outbox_key
from mailflow.domain.model import Person, Role
from mailflow.render.context import base_context
from mailflow.render.mime import build_message
from mailflow.web.auth import (
    LINK_VALID,
    AuthStore,
    Keyring,
    auth_path,
    key_path,
    load_or_create_key,
)

log = logging.getLogger("mailflow.web")


@dataclass(frozen=True)
class Viewer:
    """A signed-in person and what they may see."""

    email: str
    name: str
    is_coordinator: bool
    pair_ids: frozenset[str] = field(default_factory=frozenset)  # a liaison's own pairs

    @property
    def role(self) -> str:
        return "coordinator" if self.is_coordinator else "liaison"

    def may_see(self, pair_id: str) -> bool:
        return self.is_coordinator or pair_id in self.pair_ids


def normalise_address(text: str) -> str | None:
    try:
        return check_address(text)
    except ValueError:
        return None


class Console:
    """One per served console: the App, the signing key and the sign-in records."""

    def __init__(self, app: App, current: Callable[[], App] | None = None) -> None:
        self._app = app
        self._current = current  # under `mailflow run`: the service's App, reloaded on SIGHUP
        storage = app.settings.storage_path
        self.keyring = Keyring(load_or_create_key(key_path(storage)))
        self.auth = AuthStore(auth_path(storage), self.keyring)
        self.sending: set[asyncio.Task[bool]] = set()
        self._liaison_cache: tuple[tuple[int, ...], dict[str, tuple[str, frozenset[str]]]] \
            | None = None
        # links and sessions expire in real time, also when `run --speed` runs the program
        # clock faster; --now alone (a fixed moment) is kept, for tests and dry runs
        self.clock: Clock = SystemClock() if isinstance(app.clock, AcceleratedClock) \
            else app.clock

    @property
    def app(self) -> App:
        return self._current() if self._current is not None else self._app

    @property
    def base_url(self) -> str:
        return self.app.settings.web.url

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    def now(self) -> datetime:
        """The time sign-in links and sessions are measured by."""
        return self.clock.now()

    # --- who is who -----------------------------------------------------------------

    def viewer(self, email: str) -> Viewer | None:
        """The person behind a session, with what they may see; None if no longer allowed."""
        if email in self.app.settings.program.coordinators:
            return Viewer(email, "", True)
        found = self._liaisons().get(email)
        return None if found is None else Viewer(email, found[0], False, found[1])

    def _liaisons(self) -> dict[str, tuple[str, frozenset[str]]]:
        """Each roster liaison's name and pairs; read again only when the store changed."""
        stamp = self._store_stamp()
        if self._liaison_cache is None or self._liaison_cache[0] != stamp:
            with self.app.repository(readonly=True) as repo:
                pairs = repo.pairs()
            names: dict[str, str] = {}
            own: dict[str, set[str]] = {}
            for pair_id, rec in sorted(pairs.items()):
                if rec.in_roster:
                    liaison = rec.pair.liaison
                    names.setdefault(liaison.email, liaison.name)
                    own.setdefault(liaison.email, set()).add(pair_id)
            self._liaison_cache = (stamp, {e: (names[e], frozenset(p)) for e, p in own.items()})
        return self._liaison_cache[1]

    def _store_stamp(self) -> tuple[int, ...]:
        stamp: list[int] = []
        storage = self.app.settings.storage_path
        for path in (storage, storage.with_name(storage.name + ".journal")):
            try:
                info = path.stat()
                stamp += [info.st_mtime_ns, info.st_size, info.st_ino]
            except FileNotFoundError:
                stamp += [0, 0, 0]
        return tuple(stamp)

    # --- the login email ---------------------------------------------------------------

    def request_link(self, address: str) -> None:
        """Send a link in the background: the answer is the same, and as quick, for all."""
        task = asyncio.get_running_loop().create_task(self.send_login_link(address))
        self.sending.add(task)
        task.add_done_callback(self.sending.discard)

    async def send_login_link(self, address: str) -> bool:
        """Send a `login` email if the address may sign in; never raises."""
        try:
            return await self._send_login_link(address)
        except Exception:
            log.exception("the sign-in email could not be sent")
            return False

    async def _send_login_link(self, address: str) -> bool:
        email = normalise_address(address)
        if email is None:
            return False
        viewer = await asyncio.to_thread(self.viewer, email)
        if viewer is None:
            log.info("sign-in link asked for an address that may not sign in")
            return False
        now = self.now()
        token = await asyncio.to_thread(self.auth.issue_link_token, email, now)
        if token is None:
            log.warning("sign-in link not sent: %s asked for more than 5 in an hour", email)
            return False
        role = Role.COORDINATOR if viewer.is_coordinator else Role.LIAISON
        await self._deliver(Person(viewer.name, email, role), f"{self.base_url}/login/{token}",
                            now)
        log.info("sign-in link sent to %s", email)
        return True

    async def _deliver(self, person: Person, link: str, now: datetime) -> None:
        settings = self.app.settings
        program = settings.program_model()
        context = {**base_context(program, person, now.date(), "login"), "link": link,
                   "valid_minutes": int(LINK_VALID.total_seconds() // 60),
                   "expires_at": (now + LINK_VALID).astimezone(ZoneInfo(program.timezone))}
        rendered = await asyncio.to_thread(self.app.renderer().render, "login", context)
        key = outbox_key("-", "login", now.isoformat(), person.email)
        message = build_message(
            rendered, sender=settings.mail.from_, to=person.email, to_name=person.name,
            reply_to=settings.mail.reply_to, message_id=message_id(key, settings.mail.domain),
            kind="login", pair_id=None, date=now)
        async with self.app.smtp_sender() as smtp:
            await smtp.send(message, [person.email])

    async def drain(self) -> None:
        """Wait for sign-in emails still being sent (tests, shutdown)."""
        while self.sending:
            await asyncio.gather(*list(self.sending), return_exceptions=True)
