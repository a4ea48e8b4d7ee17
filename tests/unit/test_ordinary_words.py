"""END, PAUSE, RESUME and LETTER are ordinary English words too (SPEC section 3).

Both sides, measured on tables: sentences a participant writes that begin with one of
those words yield no command, and every documented form still acts.
"""

from __future__ import annotations

from datetime import date

import pytest

from mailflow.domain.keywords import parse_keywords

REF = date(2026, 10, 10)

ORDINARY = [
    "End of semester is busy, sorry for the delay.",
    "End of the month works better for me.",
    "End-of-year reports are due, so I am slow to answer.",
    "End-of-term exams are keeping her busy.",
    "end of term exams are keeping her busy",
    "End result: a great first meeting.",
    "End users at our branch asked about the catalogue.",
    "End goal for her is a management role.",
    "End the call on time next time, we agreed.",
    "End game for the project is June.",
    "Pause for a moment and think about what you want from this.",
    "Pause button on my side: the kids are sick.",
    "Pause and reflect was the theme of our talk.",
    "pause between meetings was long this time",
    "Pause-and-reflect sessions help a lot.",
    "Pause the recording, she said, and we laughed.",
    "Pause to think before you answer, she told me.",
    "Resume writing is my topic this month.",
    "Resume review went well, thank you.",
    "Resume tips from Ana were very useful.",
    "resume and cover letter are next on our list",
    "Resume-building workshop next week!",
    "Resume of the last meeting: we talked about budgets.",
    "Resume hunting season, as she calls it.",
    "Letter of recommendation needed?",
    "Letter from the dean arrived today.",
    "Letter writing is a lost art, she says.",
    "letter grades are not used in our library school",
    "Letter-size paper is what the printer takes.",
    "Letter of intent: she drafted it with me.",
    "Letter carriers are on strike here, so email is best.",
    "End of story, we will meet next week.",
]

# (line, the command it must yield, its text, its date)
DOCUMENTED = [
    ("END We agreed our schedules do not fit", "end", "We agreed our schedules do not fit",
     None),
    ("END", "end", "", None),
    ("end", "end", "", None),
    ("end.", "end", "", None),
    ("End!", "end", "", None),
    ("End: our schedules do not fit", "end", "our schedules do not fit", None),
    ("End - our schedules do not fit", "end", "our schedules do not fit", None),
    ("END of the match, please", "end", "of the match, please", None),
    ("PAUSE until 15 January", "pause", "", date(2027, 1, 15)),
    ("Pause until 15 January", "pause", "", date(2027, 1, 15)),
    ("pause until January 15", "pause", "", date(2027, 1, 15)),
    ("Pause 15 January", "pause", "", date(2027, 1, 15)),
    ("Pause bis zum 15. Januar", "pause", "", date(2027, 1, 15)),
    ("PAUSE", "pause", "", date(2026, 11, 9)),
    ("pause", "pause", "", date(2026, 11, 9)),
    ("Pause.", "pause", "", date(2026, 11, 9)),
    ("PAUSE for the holidays", "pause", "for the holidays", date(2026, 11, 9)),
    ("Pause: the holidays", "pause", "the holidays", date(2026, 11, 9)),
    ("Pause - back in January", "pause", "back in January", date(2026, 11, 9)),
    ("RESUME", "resume", "", None),
    ("resume", "resume", "", None),
    ("Resume.", "resume", "", None),
    ("RESUME please", "resume", "please", None),
    ("Resume: back from leave", "resume", "back from leave", None),
    ("LETTER", "letter", "", None),
    ("letter", "letter", "", None),
    ("Letter.", "letter", "", None),
    ("LETTER please, for my dossier", "letter", "please, for my dossier", None),
    ("Letter: for my dossier", "letter", "for my dossier", None),
]


def _names(text: str) -> list[str]:
    return [c.name for c in parse_keywords(text, reference=REF).commands]


def test_ordinary_sentences_beginning_with_a_keyword_word_are_no_command() -> None:
    assert len(ORDINARY) >= 30
    acting = {s: names for s in ORDINARY if (names := _names(s))}
    assert acting == {}


@pytest.mark.parametrize(("line", "name", "text", "when"), DOCUMENTED)
def test_every_documented_form_still_acts(line: str, name: str, text: str,
                                          when: date | None) -> None:
    (command,) = parse_keywords(line, reference=REF).commands
    assert (command.name, command.text, command.date) == (name, text, when)
    assert command.line == line


def test_an_ordinary_sentence_does_not_cut_a_met_note_short() -> None:
    (command,) = parse_keywords("MET yesterday\nEnd of semester is busy for both of us.",
                                reference=REF).commands
    assert command.text == "End of semester is busy for both of us"  # the end stripped


def test_other_keywords_keep_their_rule() -> None:
    assert _names("Met with her at the branch\nHelp me plan the next one\nGoal: a poster") \
        == ["met", "help", "goal"]
