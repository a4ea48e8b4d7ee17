"""Which pair a reply belongs to, with rematches and several mentors (SPEC sections 3, 6)."""

from __future__ import annotations

from datetime import UTC, datetime

from mailflow.domain.keys import message_id, outbox_key
from mailflow.domain.matching import Match, NoMatch, PeopleIndex, match_reply
from mailflow.domain.model import Kind, OutboxEntry, Pair, Person, Role

T = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
LIAISON = Person("Lia", "lia@lib.example", Role.LIAISON)
ZOE = "zoe@lib.example"


def _pair(pair_id: str, mentor: str, mentee: str = ZOE) -> Pair:
    return Pair(pair_id, Person(f"Mentor {pair_id}", mentor, Role.MENTOR),
                Person("Zoë", mentee, Role.MENTEE), LIAISON)


def _sent(pair_id: str, person: str) -> OutboxEntry:
    key = outbox_key(pair_id, "topic", "m2", person)
    return OutboxEntry(key, pair_id, person, "mentee", Kind.TOPIC, "m2", T,
                       message_id(key, "lib.example"))


def _match(people: PeopleIndex, sender: str, *answered: OutboxEntry) -> Match | NoMatch:
    by_id = {e.message_id: e for e in answered}
    return match_reply(sender, [e.message_id for e in answered], [], people,
                       outbox_by_message_id=by_id.get, outbox_by_token={})


FIRST, SECOND = _pair("P1", "ann@lib.example"), _pair("P2", "bo@lib.example")


def test_a_rematched_mentee_without_a_thread_goes_to_the_active_pair() -> None:
    people = PeopleIndex([FIRST, SECOND], ended=["P1"])
    match = _match(people, ZOE)
    assert isinstance(match, Match) and match.pair.pair_id == "P2"
    # ... and a reply in the ended pair's thread (its feedback email) stays with it
    match = _match(people, ZOE, _sent("P1", ZOE))
    assert isinstance(match, Match) and match.pair.pair_id == "P1"


def test_a_person_whose_only_pair_ended_is_still_matched_to_it() -> None:
    people = PeopleIndex([FIRST], ended=["P1"])
    match = _match(people, ZOE)
    assert isinstance(match, Match) and match.pair.pair_id == "P1"


def test_several_mentors_the_thread_decides() -> None:
    people = PeopleIndex([FIRST, SECOND])
    for pair_id in ("P1", "P2"):
        match = _match(people, ZOE, _sent(pair_id, ZOE))
        assert isinstance(match, Match) and match.pair.pair_id == pair_id
        assert match.answered is not None and match.answered.pair_id == pair_id


def test_several_mentors_and_no_thread_is_never_guessed() -> None:
    people = PeopleIndex([FIRST, SECOND, _pair("P3", "cy@lib.example")], ended=["P3"])
    no = _match(people, ZOE)
    assert isinstance(no, NoMatch)
    assert no.reason == (f"{ZOE} is in 2 active pairs (P1, P2) and the reply names no "
                         "email mailflow sent, so the pair is unknown")
    # each mentor is in one pair: their own replies need no thread
    match = _match(people, "bo@lib.example")
    assert isinstance(match, Match) and match.pair.pair_id == "P2"


def test_a_thread_sent_to_someone_else_is_refused_even_with_several_pairs() -> None:
    people = PeopleIndex([FIRST, SECOND])
    no = _match(people, ZOE, _sent("P2", "bo@lib.example"))
    assert isinstance(no, NoMatch) and "does not match bo@lib.example" in no.reason
