"""Measure reply-extraction candidates on the labelled corpora.

    python bench/measure_reply_parsers.py [CORPORA_DIR]

Corpora default to $MAILFLOW_CORPORA or ../shared/corpora. Prints, per corpus set, how
many messages each candidate gets right:

- trimmer:     email_reply_trimmer emails/ vs trimmed/ (exact after strip, as upstream)
- talon-plain: talon standard_replies/*.eml, first text/plain part vs the label. talon's
               labels keep client signatures ("Sent from my iPhone", "-- \\nxxx"); the
               trimmer's drop them and so do we, so the label with its trailing signature
               block removed is accepted too (for every candidate alike).
- talon-html:  talon html_replies/*.html vs "Hi. I am fine. Thanks, Alex" (whitespace-free)
- talon-sig:   talon signature/emails/stripped/*_body minus *_signature (whitespace-free)

Candidates that are not installed are reported as such (quotequail's "unwrap" keeps
the text above what it recognises as a reply or forward header). Plus the bounce detectors on
flufl_bounce and sisimai (ours vs flufl.bounce alone).
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mailflow.domain.quotes import extract_new_text, html_to_text  # noqa: E402

Extractor = Callable[[str], str]
HtmlExtractor = Callable[[str], str]
_SIG_START = re.compile(r"^(-- ?|sent (from|with|via) .*)$", re.IGNORECASE)


def corpora_dir() -> Path:
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    if args:
        return Path(args[0])
    return Path(os.environ.get("MAILFLOW_CORPORA", REPO.parent / "shared" / "corpora"))


def label_variants(expected: str) -> set[str]:
    """The label, and the label without a trailing client signature block."""
    variants = {expected.strip()}
    lines = expected.strip().split("\n")
    for i, line in enumerate(lines):
        if i and _SIG_START.match(line.strip()):
            variants.add("\n".join(lines[:i]).strip())
            break
    return variants


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


# ---------------------------------------------------------------- candidates
def candidates() -> dict[str, tuple[Extractor | None, HtmlExtractor | None, str]]:
    found: dict[str, tuple[Extractor | None, HtmlExtractor | None, str]] = {}
    found["mailflow (ours)"] = (extract_new_text, lambda h: extract_new_text(html_to_text(h)), "")
    try:
        from email_reply_parser import EmailReplyParser as ERP

        found["email-reply-parser"] = (
            lambda t: ERP.parse_reply(t),
            lambda h: ERP.parse_reply(html_to_text(h)),
            "",
        )
    except ImportError as exc:
        found["email-reply-parser"] = (None, None, f"not installed ({exc})")
    try:
        from mailparser_reply import EmailReplyParser as MPR
        from mailparser_reply.constants import MAIL_LANGUAGES

        mpr = MPR(languages=[lang for lang in MAIL_LANGUAGES if lang != "david"])
        found["mail-parser-reply"] = (
            lambda t: mpr.parse_reply(t),
            lambda h: mpr.parse_reply(html_to_text(h)),
            "",
        )
    except ImportError as exc:
        found["mail-parser-reply"] = (None, None, f"not installed ({exc})")
    try:
        import quotequail

        def quotequail_plain(t: str) -> str:
            found = quotequail.unwrap(t)
            return str(found.get("text_top", "")) if found else t

        def quotequail_html(h: str) -> str:
            found = quotequail.unwrap_html(h)
            return html_to_text(str(found.get("html_top", ""))) if found else html_to_text(h)

        found["quotequail"] = (quotequail_plain, quotequail_html, "")
    except ImportError as exc:
        found["quotequail"] = (None, None, f"not installed ({exc})")
    try:
        from talon import quotations
        from talon.signature.bruteforce import extract_signature

        def talon_plain(t: str) -> str:
            reply = quotations.extract_from_plain(t)
            return str(extract_signature(reply)[0])

        found["talon (quotes only)"] = (
            lambda t: str(quotations.extract_from_plain(t)),
            lambda h: html_to_text(quotations.extract_from_html(h)),
            "",
        )
        found["talon (quotes+signature)"] = (
            talon_plain,
            lambda h: str(extract_signature(html_to_text(quotations.extract_from_html(h)))[0]),
            "",
        )
    except ImportError as exc:
        found["talon (quotes only)"] = (None, None, f"not installed ({exc})")
    return found


# ---------------------------------------------------------------- corpus sets
def trimmer_cases(root: Path) -> list[tuple[str, str, str]]:
    base = root / "email_reply_trimmer"
    out = []
    for row in map(json.loads, (base / "labels.jsonl").read_text().splitlines()):
        text = (base / row["input"]).read_bytes().decode("utf-8")
        expected = (base / row["expected_reply"]).read_bytes().decode("utf-8")
        out.append((row["input"], text, expected))
    return out


def first_plain(raw: bytes) -> str:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            return str(part.get_content())  # type: ignore[attr-defined]
    return ""


def talon_cases(root: Path) -> dict[str, list[tuple[str, str, str]]]:
    base = root / "talon"
    sets: dict[str, list[tuple[str, str, str]]] = {"talon-plain": [], "talon-html": []}
    for row in map(json.loads, (base / "labels.jsonl").read_text().splitlines()):
        name = row["input"]
        if name.startswith("standard_replies/"):
            text = first_plain((base / name).read_bytes())
            sets["talon-plain"].append((name, text, row["expected_reply"]))
        elif name.startswith("html_replies/"):
            html = (base / name).read_bytes().decode("utf-8", "replace")
            sets["talon-html"].append((name, html, row["expected_reply"]))
    sig: list[tuple[str, str, str]] = []
    for body in sorted((base / "signature/emails/stripped").glob("*_body")):
        text = body.read_text()
        signature = Path(str(body)[: -len("_body")] + "_signature").read_text()
        expected = text.rstrip()[: len(text.rstrip()) - len(signature.strip())]
        sig.append((body.name, text, expected))
    sets["talon-sig"] = sig
    return sets


def score(name: str, fn: Callable[[str], str], cases: list[tuple[str, str, str]]) -> tuple[
        int, list[str]]:
    ok, misses = 0, []
    for case, text, expected in cases:
        try:
            got = fn(text)
        except Exception as exc:  # a candidate that crashes scores a miss
            got = f"<{type(exc).__name__}>"
        if name in ("talon-html", "talon-sig"):
            good = squash(got) == squash(expected)
        else:
            good = got.strip() in label_variants(expected)
        ok += good
        if not good:
            misses.append(case)
    return ok, misses


# ---------------------------------------------------------------- bounces
def bounce_rows(root: Path) -> list[tuple[str, bytes, str, set[str] | int, bool | None]]:
    """(name, raw, expected kind, expected recipients (set, or a count), temporary)."""
    rows: list[tuple[str, bytes, str, set[str] | int, bool | None]] = []
    base = root / "flufl_bounce"
    for row in map(json.loads, (base / "labels.jsonl").read_text().splitlines()):
        raw = (base / row["input"]).read_bytes()
        addrs = {a.lower() for a in row["expected_addresses"]}
        rows.append((f"flufl:{row['input']}", raw, "bounce", addrs, bool(row["temporary"])))
    base = root / "sisimai"
    for row in map(json.loads, (base / "labels.jsonl").read_text().splitlines()):
        raw = (base / row["input"]).read_bytes()
        expected = row["expected"]
        if isinstance(expected, str):
            rows.append((f"sisimai:{row['input']}", raw, "human", 0, None))
            continue
        reasons = {e["reason"] for e in expected}
        kind = "auto_reply" if "vacation" in reasons else (
            "complaint" if "feedback" in reasons else "bounce")
        classes = {e["dsn"][:1] for e in expected if e["dsn"]}
        temporary = None if kind != "bounce" else classes == {"4"}
        rows.append((f"sisimai:{row['input']}", raw, kind, len(expected), temporary))
    return rows


def measure_bounces(root: Path, verbose: bool) -> None:
    from flufl.bounce import all_failures

    from mailflow.domain.replies import parse_message

    def ours(raw: bytes) -> tuple[str, set[str], bool | None]:
        parsed = parse_message(raw)
        b = parsed.bounce
        return parsed.kind, set(b.recipients) if b else set(), b.temporary if b else None

    def flufl_only(raw: bytes) -> tuple[str, set[str], bool | None]:
        temp, perm = all_failures(email.message_from_bytes(raw))
        found = {a.decode().lower() if isinstance(a, bytes) else a.lower() for a in temp | perm}
        return ("bounce" if found else "human"), found, (bool(temp) and not perm)

    rows = bounce_rows(root)
    print("\nbounces" + " " * 21 + "".join(f"{h:>16}" for h in (
        "flufl kind", "flufl rcpt", "flufl temp", "sisimai kind", "sisimai rcpt#", "sisimai h/s")))
    for name, fn in (("mailflow (ours)", ours), ("flufl.bounce alone", flufl_only)):
        tally: dict[str, list[int]] = {}
        missed: list[str] = []
        for case, raw, kind, rcpt, temporary in rows:
            corpus = case.split(":")[0]
            got_kind, got_rcpt, got_temp = fn(raw)
            checks = {"kind": got_kind == kind}
            if kind == "bounce":
                same = got_rcpt == rcpt if isinstance(rcpt, set) else len(got_rcpt) == rcpt
                checks["rcpt"] = same
                if temporary is not None:
                    checks["temp"] = got_temp == temporary
            for check, good in checks.items():
                tally.setdefault(f"{corpus} {check}", [0, 0])
                tally[f"{corpus} {check}"][0] += good
                tally[f"{corpus} {check}"][1] += 1
                if not good:
                    missed.append(f"{case}({check}:{got_kind},{len(got_rcpt)},{got_temp})")
        keys = ["flufl kind", "flufl rcpt", "flufl temp", "sisimai kind", "sisimai rcpt",
                "sisimai temp"]
        cells = [f"{tally[k][0]:>7}/{tally[k][1]:<3} {100 * tally[k][0] // tally[k][1]:3}%"
                 for k in keys]
        print(f"{name:28}" + "".join(cells))
        if verbose:
            print("   missed:", " ".join(missed))


def main() -> int:
    root = corpora_dir()
    if not root.is_dir():
        print(f"corpora not found at {root}")
        return 1
    sets = {"trimmer": trimmer_cases(root), **talon_cases(root)}
    verbose = "-v" in sys.argv
    print(f"{'candidate':28}" + "".join(f"{s:>16}" for s in sets))
    for cand, (plain, html, why) in candidates().items():
        if plain is None or html is None:
            print(f"{cand:28}{why}")
            continue
        row, missed = [], []
        for set_name, cases in sets.items():
            fn = html if set_name == "talon-html" else plain
            ok, misses = score(set_name, fn, cases)
            row.append(f"{ok}/{len(cases)} {100 * ok / len(cases):3.0f}%")
            missed += [f"{set_name}:{m}" for m in misses]
        print(f"{cand:28}" + "".join(f"{r:>16}" for r in row))
        if verbose:
            print("   missed:", " ".join(missed))
    measure_bounces(root, verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
