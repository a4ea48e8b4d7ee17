"""Which pair and which person a reply belongs to — or that it belongs to none.

Threads decide first (In-Reply-To/References naming a Message-ID mailflow
sent, or the +mf-<token> in the address the reply was sent to); the From
address alone decides only when the person belongs to exactly one active
pair (a rematched person's ended pair does not count), or, having none, to
exactly one pair. A person in several active pairs (several mentors) whose
reply names no pair is never guessed: the reply is quarantined with that
reason. A From that is not the person the thread was sent to is an unknown
sender, so a forged or look-alike address can never act on a pair.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from difflib import SequenceMatcher

from mailflow.domain.keys import token_in
from mailflow.domain.model import OutboxEntry, Pair, Person


@dataclass(frozen=True)
class Match:
    pair: Pair
    person: Person
    answered: OutboxEntry | None  # the email this replies to, when the thread says so


@dataclass(frozen=True)
class NoMatch:
    reason: str


class PeopleIndex:
    """Pairs by the addresses of the people in them; a person's other addresses (roster
    ``*_other_emails``, or ``remembered`` by `quarantine accept --remember`) stand for
    their roster address."""

    def __init__(self, pairs: Iterable[Pair], ended: Iterable[str] = (),
                 remembered: Mapping[str, str] | None = None) -> None:
        self.pairs: dict[str, Pair] = {}
        self.ended = frozenset(ended)  # ids of pairs that have ended
        self._by_address: dict[str, list[Pair]] = {}
        self._aliases: dict[str, str] = {}
        for pair in pairs:
            self.pairs[pair.pair_id] = pair
            for person in (pair.mentor, pair.mentee, pair.liaison):
                self._by_address.setdefault(person.email, []).append(pair)
                for other in person.other_emails:
                    self._aliases.setdefault(other, person.email)
        for other, email in (remembered or {}).items():
            self._aliases.setdefault(other.lower(), email.lower())

    def canonical(self, address: str) -> str:
        """The roster address of whoever writes from ``address`` (itself if unknown)."""
        address = address.lower()
        if address in self._by_address:
            return address
        return self._aliases.get(address, address)

    def pairs_of(self, address: str) -> list[Pair]:
        return self._by_address.get(self.canonical(address), [])

    def active_pairs_of(self, address: str) -> list[Pair]:
        return [p for p in self.pairs_of(address) if p.pair_id not in self.ended]

    def knows(self, address: str) -> bool:
        return self.canonical(address) in self._by_address

    def people(self) -> list[Person]:
        """Everyone in the index, once."""
        seen: dict[str, Person] = {}
        for pair in self.pairs.values():
            for person in (pair.mentor, pair.mentee, pair.liaison):
                seen.setdefault(person.email, person)
        return list(seen.values())


def likely_person(address: str, name: str, people: Iterable[Person]) -> Person | None:
    """Whom an unknown sender most likely is: display name and the address's local part
    compared with each person's name and local part (the closest, if close enough)."""
    local = address.lower().partition("@")[0]
    words = _letters(name) or _letters(local)
    best, best_score = None, 0.0
    for person in people:
        score = max(
            SequenceMatcher(None, words, _letters(person.name)).ratio() if words else 0.0,
            SequenceMatcher(None, _letters(local),
                            _letters(person.email.partition("@")[0])).ratio(),
        )
        if score > best_score:
            best, best_score = person, score
    return best if best_score >= 0.6 else None


def _letters(text: str) -> str:
    """``"Zoë Ñúñez"`` -> ``"zoe nunez"``: lower case, accents and punctuation gone."""
    plain = unicodedata.normalize("NFKD", text.lower())
    kept = "".join(ch if ch.isalnum() else " " for ch in plain if not unicodedata.combining(ch))
    return " ".join(kept.split())


def match_reply(
    from_address: str,
    thread_ids: Iterable[str],
    to_addresses: Iterable[str],
    people: PeopleIndex,
    *,
    outbox_by_message_id: Callable[[str], OutboxEntry | None],
    outbox_by_token: Mapping[str, OutboxEntry] | Callable[[str], OutboxEntry | None],
) -> Match | NoMatch:
    sender = people.canonical(from_address)
    if not sender or not people.knows(sender):
        return NoMatch("unknown sender")
    answered = _answered(thread_ids, to_addresses, outbox_by_message_id, outbox_by_token)
    if answered is not None and answered.pair_id in people.pairs:
        if answered.person != sender:
            return NoMatch(
                f"sender {sender} does not match {answered.person}, to whom the answered "
                "email was sent"
            )
        pair = people.pairs[answered.pair_id]
        person = pair.person(sender)
        if person is None:
            return NoMatch(f"{sender} is no longer in pair {pair.pair_id}")
        return Match(pair, person, answered)
    candidates = people.active_pairs_of(sender) or people.pairs_of(sender)
    if len(candidates) != 1:
        ids = ", ".join(sorted(p.pair_id for p in candidates))
        return NoMatch(
            f"{sender} is in {len(candidates)} active pairs ({ids}) and the reply names "
            "no email mailflow sent, so the pair is unknown"
        )
    pair = candidates[0]
    person = pair.person(sender)
    assert person is not None
    return Match(pair, person, None)


def _answered(
    thread_ids: Iterable[str],
    to_addresses: Iterable[str],
    by_message_id: Callable[[str], OutboxEntry | None],
    by_token: Mapping[str, OutboxEntry] | Callable[[str], OutboxEntry | None],
) -> OutboxEntry | None:
    for message_id in thread_ids:
        entry = by_message_id(message_id)
        if entry is not None:
            return entry
    lookup = by_token.get if isinstance(by_token, Mapping) else by_token
    for address in to_addresses:
        token = token_in(address)
        if token:
            entry = lookup(token)
            if entry is not None:
                return entry
    return None
