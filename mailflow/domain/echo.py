"""Our own email, repeated in a reply: history, whatever marks it has or lacks.

Webmail and phone clients often put the email being answered below the reply with no
"> " marks, under an attribution no parser knows. mailflow knows what it sent, so a block
of the new text that repeats it is history: `without_sent_text(new_text, sent_text)`.

Lines are compared by their words (lower case, no Markdown or quoting marks, any
wrapping): a line repeats the sent text when most runs of four of its words occur in it.
Short lines ("Thanks!", "Hello Ana,") say nothing either way. History starts at the first
block of at least two repeating lines and ten words. If the sender wrote something above
it, everything from there on is history (a top-posted reply); if not, the reply is what
follows the last repeating line (a bottom-posted one). Pure: text in, text out.
"""

from __future__ import annotations

import re

SHINGLE = 4  # words in a run
MIN_LINES, MIN_WORDS = 2, 10  # the smallest block that starts history
_SHARE = 0.8  # of a line's runs found in the sent text

_MARKS_RE = re.compile(r"^(?:\s*(?:>|\|))+|[*_`#\[\]()]+|^\s*(?:[-+•]|\d+[.)])\s+")
_WORD_RE = re.compile(r"\w+(?:['’.@-]\w+)*")

REPEATS, SHORT, NEUTRAL, OWN = "r", "s", "n", "o"  # SHORT: a short line of ours


def words(line: str) -> list[str]:
    """The line's words, lower case, without quoting, list or Markdown marks."""
    return _WORD_RE.findall(_MARKS_RE.sub(" ", line).lower())


def _runs(seq: list[str]) -> set[tuple[str, ...]]:
    return {tuple(seq[i:i + SHINGLE]) for i in range(len(seq) - SHINGLE + 1)}


class SentText:
    """The email we sent, ready to be compared with the lines of a reply."""

    def __init__(self, text: str) -> None:
        self.words = [w for line in text.split("\n") for w in words(line)]
        self.runs = _runs(self.words)
        self.short_lines = {tuple(w) for line in text.split("\n")
                            if 0 < len(w := words(line)) < SHINGLE}

    def judge(self, line: str) -> str:
        """REPEATS (a line of ours), OWN (the sender's) or NEUTRAL (too short to say)."""
        seq = words(line)
        if len(seq) < SHINGLE:
            return SHORT if tuple(seq) in self.short_lines else NEUTRAL
        runs = _runs(seq)
        found = sum(run in self.runs for run in runs)
        return REPEATS if found >= _SHARE * len(runs) else OWN


def _history_start(kinds: list[str], sizes: list[int]) -> tuple[int, int] | None:
    """(first, last) line of the first block that starts history and the last repeating
    line after it, or None. A block starts with a repeating line and has only short or
    neutral ones between its repeating lines; short lines of ours (a greeting, a heading)
    and empty ones just above it belong to it too."""
    for first, kind in enumerate(kinds):
        if kind != REPEATS:
            continue
        lines = count = 0
        for i in range(first, len(kinds)):
            if kinds[i] == OWN:
                break
            if kinds[i] == REPEATS:
                lines, count = lines + 1, count + sizes[i]
            if lines >= MIN_LINES and count >= MIN_WORDS:
                last = max(j for j, k in enumerate(kinds) if k in (REPEATS, SHORT))
                while first and (kinds[first - 1] == SHORT or not sizes[first - 1]):
                    first -= 1
                return first, last
    return None


def without_sent_text(new_text: str, sent_text: str) -> str:
    """The new text without the block that repeats the email we sent (see the module)."""
    if not sent_text.strip() or not new_text.strip():
        return new_text
    sent = SentText(sent_text)
    lines = new_text.split("\n")
    kinds = [sent.judge(line) for line in lines]
    found = _history_start(kinds, [len(words(line)) for line in lines])
    if found is None:
        return new_text
    first, last = found
    above = [line for line in lines[:first] if line.strip() and not line.rstrip().endswith(":")]
    kept = lines[:first] if above else lines[last + 1:]
    return "\n".join(kept).strip()
