"""The demo's cast: a few mentoring pairs, two liaisons and a coordinator.

Each pair has a part to play over the term (see ``Scenario``): one mentee asks for
help, one mentor is away and their mail program answers for them, one mentor's
mailbox bounces a message, one mentee writes once from a personal address, and
the last pair never replies at all: its mentor is reminded to make first contact,
its liaison told, both are nudged, the liaison hears again, and at the liaison's
word the committee ends the match and rematches the mentee with a new mentor a week
later. The others simply meet and say so. Along the
way mentors record their first contact (CONTACTED), everyone rates the pairing at
the mid-term check-in (RATING; the mentee who asked for help rates it 2), pairs
mark a goal reached in month 7 (DONE), everyone rates the program in their
feedback, the first pair's mentor takes back a MET sent with last month's date
(UNDO), and the committee announces a mid-year get-together to everyone.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from enum import Enum

DOMAIN = "riverside-libraries.example"
COMMITTEE = f"mentoring@{DOMAIN}"
COORDINATOR = ("Ines Moreau", f"coordinator@{DOMAIN}")
LIAISONS = (("Grace Liu", f"gliu@{DOMAIN}"), ("Tomás Ferreira", f"tferreira@{DOMAIN}"))
REMATCH_MENTOR = ("Beatriz Santos", "riverside-pl.example")  # the quiet pair's new mentor

# (mentor, mentor's library domain, mentee, mentee's library domain)
_PAIRS = (
    ("Margaret Okafor", "riverside-pl.example", "Zoë Ñúñez", "lakeshore-college.example"),
    ("Siobhán Ní Bhriain", "cityu-library.example", "Daniel Kim", "elmcounty-library.example"),
    ("Rafael Gómez", "statelaw-library.example", "Priya Raman", "riverside-pl.example"),
    ("Henrik Åström", "northfield-univ.example", "Chloé Martin", "northfield-univ.example"),
    ("Łucja Nowak", "harbor-city-pl.example", "Marcus Bell", "westbrook-library.example"),
    ("Thandiwe Dlamini", "medschool-library.example", "José Álvarez", "harbor-city-pl.example"),
    ("Aiko Tanaka", "eastside-college.example", "Olivia Brennan", "pinecrest-library.example"),
    ("Dmitri Sokolov", "state-archives.example", "Fatma Yıldız", "cityu-library.example"),
)
_FIRST = ("Amara", "Björn", "Catalina", "Declan", "Eun-ji", "François", "Gabriela", "Hamid",
          "Ingrid", "Jamal", "Kalani", "Léa", "Mateus", "Nadia", "Oskar", "Paloma")
_LAST = ("Adeyemi", "Bergström", "Castillo", "Doyle", "Park", "Lefèvre", "Ortiz", "Karimi",
         "Johansen", "Wright", "Akana", "Rousseau", "Souza", "Haddad", "Lindqvist", "Vega")


class Scenario(Enum):
    STEADY = "meets and says so"
    HELP = "the mentee asks for help"
    AWAY = "the mentor is away: out-of-office replies"
    BOUNCE = "a message to the mentor bounces; the mentee once writes from home"
    QUIET = "never replies: first-contact reminder, nudged, escalated, then ended"


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    role: str  # mentor, mentee, liaison, coordinator
    pair_index: int = -1  # -1 for liaisons and the coordinator
    style: str = "gmail"  # how their mail program quotes

    @property
    def first_name(self) -> str:
        return self.name.split()[0]

    @property
    def header(self) -> str:
        return f"{self.name} <{self.email}>"


@dataclass(frozen=True)
class PairCast:
    index: int
    pair_id: str
    mentor: Person
    mentee: Person
    liaison: Person
    scenario: Scenario
    start: date | None = None  # a rematch starts when it is made; the others with the program

    def partner(self, person: Person) -> Person:
        return self.mentee if person == self.mentor else self.mentor


@dataclass(frozen=True)
class Cast:
    pairs: tuple[PairCast, ...]
    liaisons: tuple[Person, ...]
    coordinator: Person

    @property
    def people(self) -> dict[str, Person]:
        everyone = [p for pair in self.pairs for p in (pair.mentor, pair.mentee)]
        return {p.email: p for p in (*everyone, *self.liaisons, self.coordinator)}

    def roster_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["pair_id", "mentor_name", "mentor_email", "mentee_name",
                         "mentee_email", "liaison_name", "liaison_email", "start"])
        for p in self.pairs:
            writer.writerow([p.pair_id, p.mentor.name, p.mentor.email, p.mentee.name,
                             p.mentee.email, p.liaison.name, p.liaison.email,
                             p.start.isoformat() if p.start else ""])
        return out.getvalue()

    def rematch(self, ended: PairCast, start: date) -> tuple[Cast, PairCast]:
        """The cast with a new pair for ``ended``'s mentee and a new mentor (a rematch,
        SPEC 6: a new pair id for a person whose earlier pair has ended)."""
        index = len(self.pairs)
        name, domain = REMATCH_MENTOR
        mentor = Person(name, _address(name, domain), "mentor", index, "gmail")
        mentee = Person(ended.mentee.name, ended.mentee.email, "mentee", index,
                        ended.mentee.style)
        pair = PairCast(index, f"P{index + 1:02d}", mentor, mentee, ended.liaison,
                        Scenario.STEADY, start)
        return Cast((*self.pairs, pair), self.liaisons, self.coordinator), pair


def _address(name: str, domain: str) -> str:
    first, *rest = name.split()
    last = rest[-1] if rest else ""
    plain = (first[0] + last).lower()
    table = str.maketrans("áåäàçéèëíıñóöøúüłšž", "aaaaceeeiinooouulsz")
    return "".join(c for c in plain.translate(table) if c.isalnum()) + "@" + domain


def _names(index: int) -> tuple[str, str, str, str]:
    if index < len(_PAIRS):
        return _PAIRS[index]
    n = len(_FIRST)
    return (f"{_FIRST[index % n]} {_LAST[(index * 3) % n]}", "riverside-pl.example",
            f"{_FIRST[(index * 5 + 1) % n]} {_LAST[(index * 7 + 2) % n]}",
            "lakeshore-college.example")


def _scenario(index: int, count: int) -> Scenario:
    if index == count - 1:
        return Scenario.QUIET
    return {0: Scenario.HELP, 1: Scenario.AWAY, 2: Scenario.BOUNCE}.get(index, Scenario.STEADY)


def make_cast(count: int) -> Cast:
    """``count`` pairs (at least 4, so every part of the story is played)."""
    liaisons = tuple(Person(name, email, "liaison", style="outlook") for name, email in LIAISONS)
    pairs = []
    taken: set[str] = set()

    def address(name: str, domain: str, i: int) -> str:
        email = _address(name, domain)
        if email in taken:
            email = email.replace("@", f"{i}@")
        taken.add(email)
        return email

    for i in range(count):
        mentor_name, mentor_domain, mentee_name, mentee_domain = _names(i)
        mentor = Person(mentor_name, address(mentor_name, mentor_domain, i), "mentor", i,
                        "outlook" if i % 2 else "gmail")
        mentee = Person(mentee_name, address(mentee_name, mentee_domain, i), "mentee", i,
                        "gmail")
        pairs.append(PairCast(i, f"P{i + 1:02d}", mentor, mentee, liaisons[i % 2],
                              _scenario(i, count)))
    coordinator = Person(COORDINATOR[0], COORDINATOR[1], "coordinator")
    return Cast(tuple(pairs), liaisons, coordinator)


# What pairs talked about, by term month (1 = the intro).
MEETING_NOTES = {
    1: "coffee at the Main Street branch; we swapped stories of how we came to libraries",
    2: "went through the WebJunction catalogue and picked two courses",
    3: "talked about how decisions get made in a library system like ours",
    4: "looked at committees in the state library association worth volunteering for",
    5: "drafted a poster abstract for the state conference together",
    6: "walked through the annual review timeline and what evidence to collect",
    7: "rehearsed a difficult conversation about workload",
    8: "reviewed my CV and practised two interview questions",
    9: "final meeting: what was reached, and goals for next year",
}
GOALS = (
    "present a poster at the state library association conference",
    "lead one information literacy session on my own",
    "join a committee of the state library association",
)
FEEDBACK = (
    "Thank you for organising this. The monthly topic emails gave our conversations a "
    "shape, and having a liaison to turn to made it easy to ask for help when we got stuck.",
    "This was the most useful part of my first year. I would have liked a mid-year "
    "get-together of all the pairs, but the email reminders were just right.",
)
