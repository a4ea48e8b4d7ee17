"""Keyword precision and recall on every reply corpus, with a HELP planted in each history.

    python bench/measure_keywords.py [CORPORA_DIR] [-v]

Each labelled reply of ../shared/corpora (email_reply_trimmer's 64, talon's 12 plain and
9 HTML) is read up to three times, each time with a ``GOAL planted goal`` line added to its new
text (after its first line) and a ``HELP planted`` line added to its quoted history: at
the history's first, middle and last line, quoted like the lines around it (for HTML,
above the history's first line). The new text each candidate extracts is then read by
mailflow's keyword parser, so the candidates differ only in what they keep:

- precision: keywords read that the participant wrote / all keywords read
- recall:    keywords the participant wrote (the planted GOAL and any keyword line of the
             labelled new text) that were read / all of them
- HELP acted: replies where the planted, quoted HELP was read as a keyword
- lost lines: replies whose extracted text lacks a line of the labelled new text

A fourth set, "client formats (written out)", is bench/reply_formats.py's histories in the
languages popular clients ship (verbless attributions, Outlook separators and header
blocks, forwards, "wrote" verbs), each holding an email of ours whose lines start with
keywords, quoted with ">" and not marked at all: a GOAL above it must count, none below.

Plus bounce and auto-reply recall on flufl_bounce and sisimai (mailflow's classifier).
Candidates that are not installed are reported as such (install talon,
mail-parser-reply, quotequail and email-reply-parser in a throwaway venv to compare).
"""

from __future__ import annotations

import difflib
import re
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measure_reply_parsers import (
    bounce_rows,
    candidates,
    corpora_dir,
    talon_cases,
    trimmer_cases,
)
from bench.reply_formats import HISTORIES, SENT, quoted
from mailflow.domain.keywords import parse_keywords
from mailflow.domain.quotes import quote_prefix
from mailflow.domain.replies import parse_message

REF = date(2026, 10, 10)
GOAL_LINE, HELP_LINE = "GOAL planted goal", "HELP planted"


@dataclass(frozen=True)
class Case:
    name: str
    body: str  # plain text, or HTML when html
    html: bool
    label: str  # the labelled new text, with the planted GOAL


def _names(text: str) -> Counter[str]:
    return Counter(c.name for c in parse_keywords(text, reference=REF).commands)


def _elided(lines: list[str], label: str) -> list[int]:
    kept = [line.strip() for line in label.strip().split("\n")] if label.strip() else []
    matcher = difflib.SequenceMatcher(a=[line.strip() for line in lines], b=kept,
                                      autojunk=False)
    used = {a + k for a, _, size in matcher.get_matching_blocks() for k in range(size)}
    return [i for i, line in enumerate(lines) if i not in used and line.strip()]


def _next_line(lines: list[str], i: int) -> int | None:
    return next((j for j in range(i + 1, len(lines)) if lines[j].strip()), None)


def _with_goal(lines: list[str], label: str) -> tuple[list[str], str] | None:
    first = label.strip().split("\n")[0] if label.strip() else ""
    if not first or first not in lines:
        return None
    at = lines.index(first)
    label_lines = label.strip().split("\n")
    return ([*lines[: at + 1], GOAL_LINE, *lines[at + 1:]],
            "\n".join([label_lines[0], GOAL_LINE, *label_lines[1:]]))


def plain_cases(name: str, body: str, label: str) -> list[Case]:
    """The reply with a GOAL in its new text and a HELP at three places of its history."""
    lines = body.replace("\r\n", "\n").split("\n")
    planted = _with_goal(lines, label)
    if planted is None:
        return []
    lines, new_label = planted
    elided = _elided(lines, new_label)
    # where a HELP line can go inside the history: after an elided line whose next line
    # is elided too; in unquoted history only as a paragraph of its own
    inside = [i for i in elided if _next_line(lines, i) in (None, *elided)
              and (quote_prefix(lines[i]) or i + 1 >= len(lines) or not lines[i + 1].strip())]
    cases = []
    for at in sorted({inside[0], inside[len(inside) // 2], inside[-1]} if inside else set()):
        nxt = _next_line(lines, at)
        prefix = quote_prefix(lines[nxt] if nxt is not None else lines[at])
        body_planted = "\n".join([*lines[: at + 1], prefix + HELP_LINE, *lines[at + 1:]])
        cases.append(Case(f"{name}@{at}", body_planted, False, new_label))
    return cases


def html_case(name: str, html: str, label: str) -> list[Case]:
    first_new, first_old = "Hi. I am fine.", "Hello! How are you?"
    if first_new not in html or first_old not in html:
        return []
    html = html.replace(first_new, f"{first_new}<br>{GOAL_LINE}", 1)
    html = html.replace(first_old, f"{HELP_LINE}<br>{first_old}", 1)
    label_lines = label.strip().split("\n")
    return [Case(name, html, True, "\n".join([label_lines[0], GOAL_LINE, *label_lines[1:]]))]


def all_cases(root: Path) -> dict[str, list[Case]]:
    talon = talon_cases(root)
    sets = {
        "email_reply_trimmer": [c for n, b, e in trimmer_cases(root) for c in plain_cases(n, b, e)],
        "talon plain": [c for n, b, e in talon["talon-plain"] for c in plain_cases(n, b, e)],
        "talon html": [c for n, h, e in talon["talon-html"] for c in html_case(n, h, e)],
    }
    sets["client formats (written out)"] = format_cases()
    return sets


def format_cases() -> list[Case]:
    """bench/reply_formats.py's histories in the clients' languages, each holding our email
    (keywords at the start of its lines) quoted with ">" and not marked at all."""
    label = f"Thanks, see you soon.\n{GOAL_LINE}"
    return [Case(f"{style}-{'quoted' if marked else 'unmarked'}",
                 f"{label}\n\n" + history.format(ours=quoted(SENT) if marked else SENT),
                 False, label)
            for style, history in sorted(HISTORIES.items()) for marked in (True, False)]


@dataclass
class Tally:
    read_right: int = 0
    read: int = 0
    written: int = 0
    help_acted: int = 0
    lost: int = 0
    cases: int = 0

    def add(self, got_text: str, case: Case) -> list[str]:
        got, want = _names(got_text), _names(case.label)
        self.read_right += sum((got & want).values())
        self.read += sum(got.values())
        self.written += sum(want.values())
        self.cases += 1
        problems = []
        if got["help"] > want["help"]:
            self.help_acted += 1
            problems.append("HELP acted")
        kept = {" ".join(line.split()) for line in got_text.split("\n")}
        label = [" ".join(line.split()) for line in case.label.split("\n") if line.strip()]
        if any(line not in kept for line in label if not _SIG_RE.match(line)):
            self.lost += 1
            problems.append("lost a line")
        return problems


_SIG_RE = re.compile(r"^(-- ?|sent (from|with|via) .*|xxx)$", re.IGNORECASE)


def measure(root: Path, verbose: bool) -> list[tuple[str, dict[str, Tally]]]:
    sets = all_cases(root)
    rows = []
    for cand, (plain, html, why) in candidates().items():
        if plain is None or html is None:
            print(f"{cand:28} {why}")
            continue
        tallies: dict[str, Tally] = {}
        for set_name, cases in sets.items():
            tally = tallies[set_name] = Tally()
            for case in cases:
                fn: Callable[[str], str] = html if case.html else plain
                try:
                    text = str(fn(case.body))
                except Exception as exc:  # a candidate that crashes keeps nothing
                    text = f"<{type(exc).__name__}>"
                problems = tally.add(text, case)
                if verbose and problems:
                    print(f"   {cand}: {set_name}:{case.name}: {', '.join(problems)}")
        rows.append((cand, tallies))
    return rows


def _pct(a: int, b: int) -> str:
    return f"{100 * a / b:5.1f}%" if b else "    -"


def print_table(rows: list[tuple[str, dict[str, Tally]]]) -> None:
    print("\n| candidate | corpus | replies | precision | recall | quoted HELP acted "
          "| lost a line |")
    print("|---|---|---|---|---|---|---|")
    for cand, tallies in rows:
        total = Tally()
        for set_name, t in [*tallies.items(), ("all", total)]:
            if set_name != "all":
                for field in ("read_right", "read", "written", "help_acted", "lost", "cases"):
                    setattr(total, field, getattr(total, field) + getattr(t, field))
            print(f"| {cand} | {set_name} | {t.cases} | {_pct(t.read_right, t.read)} "
                  f"| {_pct(t.read_right, t.written)} | {t.help_acted} | {t.lost} |")


def robot_recall(root: Path, verbose: bool) -> None:
    """Bounce and auto-reply recall (and what else was taken for one) of our classifier."""
    found: Counter[tuple[str, str]] = Counter()
    for case, raw, kind, _rcpt, _temp in bounce_rows(root):
        got = parse_message(raw).kind
        found[(kind, got)] += 1
        if verbose and got != kind:
            print(f"   {case}: labelled {kind}, read as {got}")
    print("\n| labelled | messages | read as that | recall |")
    print("|---|---|---|---|")
    for kind in ("bounce", "auto_reply", "complaint", "human"):
        total = sum(n for (k, _), n in found.items() if k == kind)
        right = found[(kind, kind)]
        print(f"| {kind} | {total} | {right} | {_pct(right, total)} |")


def main() -> int:
    root = corpora_dir()
    if not root.is_dir():
        print(f"corpora not found at {root}")
        return 1
    verbose = "-v" in sys.argv
    print_table(measure(root, verbose))
    robot_recall(root, verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
