"""Keywords in the new text of a reply: table-driven."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from mailflow.domain.effects import Decision, Reply, decide
from mailflow.domain.keywords import (
    KEYWORD_NAMES,
    REGISTRY,
    Command,
    Context,
    help_lines,
    parse_keywords,
    register,
)
from mailflow.domain.keywords.base import ParticipantKeyword
from mailflow.domain.model import EventType, Kind, Pair, Person, Role

REF = date(2026, 10, 10)  # a Saturday

# (new text, expected [(name, text, date)], expected unrecognised)
CASES = [
    ("MET", [("met", "", REF)], ""),
    ("met", [("met", "", REF)], ""),
    ("MET.", [("met", "", REF)], ""),
    ("MET: had coffee", [("met", "had coffee", REF)], ""),
    ("MET - library visit", [("met", "library visit", REF)], ""),
    ("  Met yesterday, talked about CVs", [("met", "talked about CVs", date(2026, 10, 9))], ""),
    ("MET today", [("met", "", REF)], ""),
    ("MET 2026-10-03 good chat", [("met", "good chat", date(2026, 10, 3))], ""),
    ("MET Oct 3", [("met", "", date(2026, 10, 3))], ""),
    ("MET October 3rd: notes", [("met", "notes", date(2026, 10, 3))], ""),
    ("MET on 3 October 2026", [("met", "", date(2026, 10, 3))], ""),
    ("MET 10/3", [("met", "", date(2026, 10, 3))], ""),
    ("MET 10/3/2026 lunch", [("met", "lunch", date(2026, 10, 3))], ""),
    ("MET Dec 20", [("met", "", date(2026, 12, 20))], ""),  # no year: the nearest one
    ("MET Oct 12", [("met", "", date(2026, 10, 12))], ""),  # nearest (and within 2 days)
    ("MET Aug 3", [("met", "", date(2026, 8, 3))], ""),  # nearest: this August
    ("MET Jan 3", [("met", "", date(2027, 1, 3))], ""),  # nearest, in the future: see MET
    ("MET Monday", [("met", "", date(2026, 10, 5))], ""),
    ("MET 3 times this month", [("met", "3 times this month", REF)], ""),
    ("NOT MET", [("not_met", "", None)], ""),
    ("not met: travelling", [("not_met", "travelling", None)], ""),
    ("METADATA is not a keyword", [], "METADATA is not a keyword"),
    ("Helpful notes", [], "Helpful notes"),
    ("Ending soon", [], "Ending soon"),
    ("We MET on Tuesday", [], "We MET on Tuesday"),
    ("> MET", [], "> MET"),
    ("GOAL finish my portfolio", [("goal", "finish my portfolio", None)], ""),
    ("goal: learn SQL\nand some Python\n\nThanks!", [("goal", "learn SQL\nand some Python", None)],
     "Thanks!"),
    ("HELP", [("help", "", None)], ""),
    ("HELP my mentor has not replied\nfor two months", [
        ("help", "my mentor has not replied\nfor two months", None)], ""),
    ("PAUSE", [("pause", "", date(2026, 11, 9))], ""),
    ("PAUSE until Nov 1", [("pause", "", date(2026, 11, 1))], ""),
    ("pause until 2026-12-01", [("pause", "", date(2026, 12, 1))], ""),
    ("PAUSE Jan 5", [("pause", "", date(2027, 1, 5))], ""),  # no year: the next one
    ("PAUSE 12/1", [("pause", "", date(2026, 12, 1))], ""),
    ("RESUME", [("resume", "", None)], ""),
    ("END we both changed jobs", [("end", "we both changed jobs", None)], ""),
    ("LETTER please", [("letter", "please", None)], ""),
    ("RESOLVED talked to both", [("resolved", "talked to both", None)], ""),
    ("CONTACTED sent my first email", [("contacted", "sent my first email", None)], ""),
    ("DONE 2", [("done", "2", None)], ""),
    ("done: join a committee", [("done", "join a committee", None)], ""),
    ("UNDO", [("undo", "", None)], ""),
    ("Undo\nMET", [("undo", "", None), ("met", "", REF)], ""),
    ("UNDOING this", [], "UNDOING this"),
    ("Rating 4", [("rating", "", None)], ""),
    ("Hi!\nMET yesterday\nGOAL: apply for jobs\nthanks", [
        ("met", "", date(2026, 10, 9)), ("goal", "apply for jobs\nthanks", None)], "Hi!"),
    ("MET\nNOT MET", [("met", "", REF), ("not_met", "", None)], ""),
    ("", [], ""),
    ("Just a note, no keyword.", [], "Just a note, no keyword."),
]


@pytest.mark.parametrize(("text", "expected", "rest"), CASES)
def test_keywords(text: str, expected: list[tuple[str, str, date | None]], rest: str) -> None:
    result = parse_keywords(text, reference=REF)
    assert [(c.name, c.text, c.date) for c in result.commands] == expected
    assert result.unrecognised == rest


@pytest.mark.parametrize(
    ("text", "order", "expected"),
    [("MET 3/10", "dmy", date(2026, 10, 3)), ("MET 9/10", "mdy", date(2026, 9, 10)),
     ("MET 3.10.2026", "dmy", date(2026, 10, 3)), ("MET 2026/10/03", "mdy", date(2026, 10, 3))],
)
def test_numeric_date_order(text: str, order: str, expected: date) -> None:
    (command,) = parse_keywords(text, reference=REF, date_order=order).commands
    assert command.date == expected


def test_synonyms_add_to_the_defaults() -> None:
    synonyms = {"met": ["WE MET", "Getroffen"], "help": ["HILFE"], "not_met": ["NICHT GETROFFEN"]}
    text = "we met yesterday\nHILFE bitte\nMET\nnicht getroffen\nGetroffen heute"
    result = parse_keywords(text, synonyms=synonyms, reference=REF)
    assert [(c.name, c.date) for c in result.commands] == [
        ("met", date(2026, 10, 9)), ("help", None), ("met", REF), ("not_met", None), ("met", REF)
    ]
    assert result.commands[1].text == "bitte"


@pytest.mark.parametrize(("text", "value", "note"), [
    ("RATING 4", "4", ""),
    ("rating: 5 - going really well", "5", "going really well"),
    ("RATING 1\nwe have not met since October", "1", "we have not met since October"),
    ("RATING 3/5 fine", "3", "fine"),
    ("RATING 2 out of 5", "2", ""),
    ("RATING 4.", "4", ""),
    ("RATING 0", "", "0"),
    ("RATING 6", "", "6"),
    ("RATING 45", "", "45"),
    ("RATING 4.5", "", "4.5"),
    ("RATING five", "", "five"),
    ("RATING", "", ""),
])
def test_rating_reads_a_number_from_one_to_five(text: str, value: str, note: str) -> None:
    (command,) = parse_keywords(text, reference=REF).commands
    assert (command.name, command.value, command.text) == ("rating", value, note)


def test_line_is_kept_for_the_ack() -> None:
    (command,) = parse_keywords("  MET: Oct 3 - good", reference=REF).commands
    assert command.line == "MET: Oct 3 - good"


def test_every_keyword_has_its_words_and_help_line_and_is_listed_somewhere() -> None:
    assert tuple(REGISTRY) == KEYWORD_NAMES == (
        "met", "not_met", "contacted", "rating", "goal", "done", "help", "pause", "resume",
        "end", "letter", "undo", "resolved")
    listed = {line for kind in Kind for role in Role for ended in (False, True)
              for line in help_lines(kind, role, term_ended=ended)}
    for name, cls in REGISTRY.items():
        assert cls.name == name and cls.words and cls.help, name
        assert (cls.words[0], cls.help) in listed, name


class Thanks(ParticipantKeyword):
    """A keyword made in a test: its class is all it takes."""

    name, words, takes_note = "thanks", ("THANKS", "CHEERS"), False
    help = "say thank you"

    def command(self, rest: str, line: str, ctx: Context) -> Command:
        return Command(self.name, rest.strip(" ,").upper(), None, line, self)

    def by_participant(self, d: Decision, cmd: Command) -> None:
        d.event(EventType.NOTE, f"thanks {cmd.text}")
        d.record("Your thanks")


def test_a_new_keyword_is_one_registered_class() -> None:
    register(Thanks)
    try:
        result = parse_keywords("cheers, all of you\nMET", reference=REF)
        assert [(c.name, c.text) for c in result.commands] == [("thanks", "ALL OF YOU"),
                                                                 ("met", "")]
        assert ("THANKS", "say thank you") in help_lines("topic", "mentee")
        assert ("THANKS", "say thank you") not in help_lines("escalation", "liaison")
        mentee = Person("Mo Mentee", "mo@example.org", Role.MENTEE)
        pair = Pair("P1", Person("Al", "al@example.org", Role.MENTOR), mentee,
                    Person("Li", "li@example.org", Role.LIAISON))
        when = datetime(2026, 10, 10, 9, tzinfo=UTC)
        outcome = decide(Reply(pair, mentee, "<m1>", when, None, result.commands, "", False),
                         [])
        assert [(e.type, e.text) for e in outcome.events] == [
            (EventType.NOTE, "thanks ALL OF YOU"), (EventType.MET, "")]
        assert outcome.recorded == ["Your thanks", "Meeting on 2026-10-10"]
    finally:
        del REGISTRY["thanks"]
    assert parse_keywords("THANKS", reference=REF).commands == ()
