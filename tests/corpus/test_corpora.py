"""Real-world mail that nobody on this project wrote (see ../shared/corpora/README.md).

Thresholds sit just below what was measured with `python bench/measure_reply_parsers.py`
(numbers in the comments); a drop below them is a regression. No file is special-cased.
"""

from __future__ import annotations

import difflib
import json
import re
from datetime import date
from email.message import EmailMessage
from itertools import pairwise
from pathlib import Path

from mailflow.domain.keywords import parse_keywords
from mailflow.domain.quotes import quote_prefix
from mailflow.domain.replies import parse_message

REF = date(2026, 10, 10)
_SIG_START = re.compile(r"^(-- ?|sent (from|with|via) .*)$", re.IGNORECASE)


def _rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _wrap(body: str) -> bytes:
    """A plain-text corpus body as a minimal message for parse_message."""
    msg = EmailMessage()
    msg["From"] = "Some One <someone@example.com>"
    msg["To"] = "mentoring@example.org"
    msg["Subject"] = "Re: test"
    msg.set_content(body)
    return msg.as_bytes()


def _new_text(body: str) -> str:
    parsed = parse_message(_wrap(body))
    assert parsed.kind == "human"
    return parsed.new_text


def _trimmer(corpora: Path) -> list[tuple[str, str, str]]:
    base = corpora / "email_reply_trimmer"
    return [
        (str(r["input"]), (base / str(r["input"])).read_bytes().decode(),
         (base / str(r["expected_reply"])).read_bytes().decode())
        for r in _rows(base / "labels.jsonl")
    ]


def test_every_corpus_message_parses(corpora_dir: Path) -> None:
    files = [p for p in corpora_dir.rglob("*") if p.is_file() and p.suffix in {".eml", ".txt", ""}]
    assert len(files) > 400
    for path in files:
        parsed = parse_message(path.read_bytes())
        assert parsed.kind in {"bounce", "delivery_report", "complaint", "auto_reply", "human"}


def test_email_reply_trimmer_new_text(corpora_dir: Path) -> None:
    cases = _trimmer(corpora_dir)
    good = [name for name, body, expected in cases if _new_text(body) == expected.strip()]
    assert len(cases) == 64
    # measured: 64/64 exact (email-reply-parser 28, mail-parser-reply 18, talon 32)
    assert len(good) >= 62, sorted({n for n, _, _ in cases} - set(good))


def _label_variants(expected: str) -> set[str]:
    """talon's labels keep client signatures; we drop them like the trimmer's labels do."""
    variants = {expected.strip()}
    lines = expected.strip().split("\n")
    cut = next((i for i, line in enumerate(lines) if i and _SIG_START.match(line.strip())), None)
    if cut is not None:
        variants.add("\n".join(lines[:cut]).strip())
    return variants


def test_talon_replies(corpora_dir: Path) -> None:
    base = corpora_dir / "talon"
    plain = html = plain_total = html_total = 0
    for row in _rows(base / "labels.jsonl"):
        name, expected = str(row["input"]), str(row.get("expected_reply", ""))
        if name.startswith("standard_replies/"):
            plain_total += 1
            got = parse_message((base / name).read_bytes()).new_text
            plain += got in _label_variants(expected)
        elif name.startswith("html_replies/"):
            html_total += 1
            msg = EmailMessage()
            msg["From"] = "alex@example.com"
            msg.set_content((base / name).read_bytes().decode("utf-8", "replace"), subtype="html")
            got = parse_message(msg.as_bytes()).new_text
            html += re.sub(r"\s+", "", got) == re.sub(r"\s+", "", expected)
    assert (plain_total, html_total) == (12, 9)
    assert plain >= 11  # measured 12/12 (talon itself 12, email-reply-parser 11)
    assert html >= 8  # measured 9/9 (talon itself 7)


def _bounce_cases(corpora: Path) -> list[tuple[str, bytes, str, set[str] | int, bool | None]]:
    rows: list[tuple[str, bytes, str, set[str] | int, bool | None]] = []
    for r in _rows(corpora / "flufl_bounce" / "labels.jsonl"):
        raw = (corpora / "flufl_bounce" / str(r["input"])).read_bytes()
        addrs = {str(a).lower() for a in r["expected_addresses"]}  # type: ignore[attr-defined]
        rows.append(("flufl", raw, "bounce", addrs, bool(r["temporary"])))
    for r in _rows(corpora / "sisimai" / "labels.jsonl"):
        raw = (corpora / "sisimai" / str(r["input"])).read_bytes()
        expected = r["expected"]
        if not isinstance(expected, list):
            rows.append(("sisimai", raw, "human", 0, None))
            continue
        reasons = {e["reason"] for e in expected}
        kind = ("auto_reply" if "vacation" in reasons
                else "complaint" if "feedback" in reasons else "bounce")
        classes = {e["dsn"][:1] for e in expected if e["dsn"]}
        rows.append(("sisimai", raw, kind, len(expected), classes == {"4"}))
    return rows


def test_bounces_auto_replies_and_complaints(corpora_dir: Path) -> None:
    tally: dict[str, list[int]] = {}

    def count(key: str, good: bool) -> None:
        tally.setdefault(key, [0, 0])
        tally[key][0] += good
        tally[key][1] += 1

    for corpus, raw, kind, rcpt, temporary in _bounce_cases(corpora_dir):
        parsed = parse_message(raw)
        count(f"{corpus} kind", parsed.kind == kind)
        if kind == "bounce":
            got = set(parsed.bounce.recipients) if parsed.bounce else set()
            count(f"{corpus} rcpt", got == rcpt if isinstance(rcpt, set) else len(got) == rcpt)
            soft = parsed.bounce.temporary if parsed.bounce else None
            count(f"{corpus} temp", soft is temporary)
    # measured (flufl.bounce alone in brackets):
    assert tally["flufl kind"][0] >= 102  # 102/102 [98]
    assert tally["flufl rcpt"][0] >= 95  # 96/102 [95]
    assert tally["flufl temp"][0] >= 97  # 98/102 [102]
    assert tally["sisimai kind"][0] >= 310  # 311/312 [247]
    assert tally["sisimai rcpt"][0] >= 252  # 255/296 (count of recipients) [241]
    assert tally["sisimai temp"][0] >= 262  # 265/296 (DSN class 4 = soft) [268]


def _elided_lines(body: str, trimmed: str) -> list[int]:
    """Indexes of the body's lines that the labels say are not new text."""
    lines = body.replace("\r\n", "\n").split("\n")
    kept = trimmed.replace("\r\n", "\n").strip().split("\n") if trimmed.strip() else []
    matcher = difflib.SequenceMatcher(  # labels are strip()ped: compare lines stripped too
        a=[line.strip() for line in lines], b=[line.strip() for line in kept], autojunk=False
    )
    used = {a + k for a, _, size in matcher.get_matching_blocks() for k in range(size)}
    return [i for i, line in enumerate(lines) if i not in used and line.strip()]


def _next_line(lines: list[str], i: int) -> int | None:
    return next((j for j in range(i + 1, len(lines)) if lines[j].strip()), None)


def test_keywords_injected_into_history_never_count(corpora_dir: Path) -> None:
    """A keyword written into the quoted/elided part never counts; one in the new text does."""
    found_new = tested_new = leaks = tested_old = 0
    leaked: list[str] = []
    for name, body, expected in _trimmer(corpora_dir):
        lines = body.replace("\r\n", "\n").split("\n")
        elided = _elided_lines(body, expected)
        # Into the elided part: after its first, middle and last line, where the next line is
        # elided too, quoted like the history it joins. Unquoted history (an Outlook header
        # block, a wrapped "On ... wrote:") gets it as a paragraph of its own, not mid-line.
        inside = [i for i in elided if _next_line(lines, i) in (None, *elided)
                  and (quote_prefix(lines[i]) or i + 1 >= len(lines) or not lines[i + 1].strip())]
        for at in sorted({inside[0], inside[len(inside) // 2], inside[-1]} if inside else set()):
            nxt = _next_line(lines, at)
            prefix = quote_prefix(lines[nxt] if nxt is not None else lines[at])
            injected = [*lines[: at + 1], prefix + "HELP injected", *lines[at + 1:]]
            names = [c.name for c in parse_keywords(
                _new_text("\n".join(injected)), reference=REF).commands]
            tested_old += 1
            if "help" in names:
                leaks += 1
                leaked.append(f"{name}@{at}")
        # Into the new text: a line of its own right after its first line.
        first = expected.strip().split("\n")[0] if expected.strip() else ""
        if first and first in lines and not first.startswith(">"):
            at = lines.index(first)
            injected = [*lines[: at + 1], "GOAL injected goal", *lines[at + 1:]]
            names = [c.name for c in parse_keywords(
                _new_text("\n".join(injected)), reference=REF).commands]
            tested_new += 1
            found_new += "goal" in names
    assert tested_old > 100 and tested_new > 55
    assert leaks == 0, leaked
    assert found_new == tested_new


def test_the_reversed_wrote_pattern_finds_the_same_lines(corpora_dir: Path) -> None:
    """quotes._wrote_end matches a reversed pattern; it must agree with _WROTE_END_RE."""
    from mailflow.domain.quotes import _WROTE_END_RE, _wrote_end

    lines: set[str] = set()
    for path in corpora_dir.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", "replace").replace("\r\n", "\n")
            split = text.split("\n")
            lines.update(split)
            lines.update(f"{a} {b}" for a, b in pairwise(split))
    lines.update({"On Mon, Jan 4, 2027 at 9:30 AM Ana <ana@lib.example> wrote:",
                  "Am 28.04.2017 um 11:53 schrieb Hans Müller <hans@example.de>:",
                  "Hans schrieb am Fr., 28. Apr. 2017 um 11:53 Uhr:", " >: ", "Ana wrote --",
                  "Le 3 oct. 2026 à 10:00, Ana a \u00a0écrit :", "\u0160ime napisał(a):",
                  "ſchrieb x@y:", "yazdI", "Ana wrote:\n"})
    differ = [line for line in lines
              if _wrote_end(line) != (_WROTE_END_RE.search(line) is not None)]
    assert differ == []
    assert sum(_wrote_end(line) for line in lines) > 100


def _through_parse_message(body: str, html: bool) -> str:
    msg = EmailMessage()
    msg["From"] = "Some One <someone@example.com>"
    msg["Subject"] = "Re: test"
    if html:
        msg.set_content(body, subtype="html")
    else:
        msg.set_content(body)
    parsed = parse_message(msg.as_bytes())
    assert parsed.kind == "human"
    return parsed.new_text


def test_keyword_precision_and_recall_with_a_quoted_help_in_every_history(
        corpora_dir: Path) -> None:
    """bench/measure_keywords.py's table, for mailflow, through parse_message: a GOAL in
    each reply's new text and a quoted HELP in its history (SPEC 3 targets: >= 99%)."""
    from bench.measure_keywords import Tally, all_cases

    total = Tally()
    problems: list[str] = []
    for set_name, cases in all_cases(corpora_dir).items():
        for case in cases:
            found = total.add(_through_parse_message(case.body, case.html), case)
            problems += [f"{set_name}:{case.name}: {p}" for p in found]
    # measured: 333 (143 trimmer, 25 talon plain, 9 talon html, 156 client formats)
    assert total.cases >= 330
    assert total.help_acted == 0 and total.lost == 0, problems
    assert total.read_right >= 0.99 * total.read  # precision: measured 100%
    assert total.read_right >= 0.99 * total.written  # recall: measured 100%


def test_bounce_and_auto_reply_recall(corpora_dir: Path) -> None:
    from bench.measure_reply_parsers import bounce_rows

    seen: dict[str, list[int]] = {}
    for _, raw, kind, _, _ in bounce_rows(corpora_dir):
        seen.setdefault(kind, [0, 0])
        seen[kind][0] += parse_message(raw).kind == kind
        seen[kind][1] += 1
    assert seen["bounce"][0] >= 0.99 * seen["bounce"][1]  # measured 398/398
    assert seen["auto_reply"][0] == seen["auto_reply"][1]  # measured 2/2
