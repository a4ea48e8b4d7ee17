"""New-text extraction: what the sender wrote now, without quoted history or signatures.

Each line is classified (empty, delimiter, mobile signature, "On ... wrote:" marker,
header line, quote, text) and the reply is cut at the first point where history
starts. The idea — a line-type pattern rather than one big regex — is the one
Discourse's email_reply_trimmer uses; the matchers here are our own and are
measured against its labelled corpus and talon's (see bench/measure_reply_parsers.py).

Pure: text in, text out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import html2text

from mailflow.domain.clientwords import HEADER_NAMES, SEPARATORS, WROTE_WORDS

EMPTY, DELIM, SIG, MARKER, HEADER, QUOTE, TEXT = "e", "d", "s", "b", "h", "q", "t"

# Most of a reply is quoted history, and the history is mostly mailflow's own emails: the
# same lines, reply after reply. The costlier per-line tests remember their answers.
_REMEMBERED_LINES = 20_000  # per test; then it starts again
_REMEMBERED_LENGTH = 1_000  # longer lines are not kept


def _remembered(test: Callable[[str], bool]) -> Callable[[str], bool]:
    """`test` (a pure function of one line), with its answers kept for lines seen again."""
    answers: dict[str, bool] = {}

    def remembered(line: str) -> bool:
        answer = answers.get(line)
        if answer is None:
            answer = test(line)
            if len(line) <= _REMEMBERED_LENGTH:
                if len(answers) >= _REMEMBERED_LINES:
                    answers.clear()
                answers[line] = answer
        return answer

    remembered.__doc__ = test.__doc__
    return remembered


_QUOTE_RE = re.compile(r"^\s*(?:[A-Za-z]{1,10}>|>|\|)")
_QUOTE_PREFIX_RE = re.compile(r"^(?:\s*(?:[A-Za-z]{1,10}>|>|\|))+\s?")
_DELIM_RE = re.compile(r"^\s*(?:[-_=*#~+—–•·](?:\s?[-_=*#~+—–•·])+|ᐧ|--\s)\s*$")
# "26.06.2014, 14:41, "Alexander L" <abc@example.com>:" (Yandex, Mail.ru) above a quote.
_DATE_ADDR_COLON_RE = re.compile(r"\d{1,2}:\d{2}.*<[^<>@\s]+@[^<>\s]+>\s*:\s*$")
# An attribution known by its shape, with no verb: it starts with a date (after at most a
# weekday), has a time soon after, and an address that ends the line but for a colon.
# Yandex "26.06.2014, 14:41, "Name" <addr>:", Mail.ru "Friday, 9 October 2026, 8:00 +03:00
# from addr <addr>:", Gmail in Russian "пт, 9 окт. 2026 г. в 08:00, Name <addr>:" and in
# Japanese "2026年10月9日(金) 8:00 Name <addr>:".
_SHAPE_DATE = (r"(?:\d{1,4}[./-]\s?\d{1,2}[./-]\s?\d{1,4}|\d{4}\s*[年년]"
               r"|\d{1,2}\.?\s+[^\W\d_]{3,}\.?,?\s+\d{4}|[^\W\d_]{3,}\.?\s+\d{1,2},?\s+\d{4})")
_SHAPE_TIME = r"\d{1,2}[:.]\d{2}(?!\d)"
_ADDRESS = r"(?:<\s*[^<>@\s]+@[^<>\s]+>|(?<![^\s(\[\"'])[^<>@\s(\[\"']+@[\w-]+(?:\.[\w-]+)+)"
_ATTRIBUTION_RE = re.compile(
    r"^\s*(?:[^\W\d_]{1,12}\.?,?\s+)?" + _SHAPE_DATE + r".{0,40}?" + _SHAPE_TIME + r".{0,160}?"
    + _ADDRESS + r"[>)\]\"'»]*\s*[:：]\s*$"
)
# "Name <addr>:" alone: an attribution only directly above a quote.
_NAME_ADDR_RE = re.compile(r"^\s*[^<>:@]{1,80}<[^<>@\s]+@[^<>\s]+>\s*[:：]\s*$")
_FENCE_RE = re.compile(r"^\s*(```|~~~)")

# Mobile and client signatures ("Sent from my iPhone" and friends), whole line. One
# alternation matched once, not nine patterns tried one by one: the same lines match.
_SIG_RE = re.compile(
    "|".join(
        f"(?:{p})"
        for p in (
        r"^[(<\[]*\s*(sent|envoyé|enviado|inviato|verzonden|gesendet|sendt|skickat|"
        r"wysłane|отправлено|надіслано)\s+(from|via|with|by|using|on|depuis|de|desde|do|da|"
        r"met|vanaf|von|fra|från|z|с|з)\b.{0,100}$",
        r"^[(<\[]*\s*sent\s+from\s+\S.{0,80}[)>\]]*$",
        r"^\S+(\s\S+)?\s+from\s+(my\s+)?(mobile|phone|iphone|ipad|android)\b.{0,40}$",
        r"^from\s+my\s+(iphone|ipad|ipod|android|mobile|phone|samsung|galaxy|blackberry)\b.{0,40}$",
        r"^von\s+meinem\s+.{1,60}\s+gesendet\.?$",
        r"^diese\s+nachricht\s+wurde\s+von\s+meinem\s+.{1,80}\s+gesendet\.?$",
        r"^(從我的|从我的|发自我的|來自我的).{1,40}$",
        r"^get\s+(\[?outlook|the\s+\S+\s+app)\b.{0,80}$",
        r"^verzonden\s+(met|vanaf|van)\s+.{1,60}$",
        # Finnish, Czech, Slovak, Turkish, Japanese, Korean phone clients: "Lähetetty
        # iPhonesta", "Odesláno z iPhonu", "iPhone'umdan gönderildi", "iPhoneから送信",
        # "iPhone에서 보냄" (only with a device's name: the verbs alone start sentences)
        r"^(lähetetty|odesláno|odoslané)\s.{0,30}(iphon|ipad|android|samsung|galaxy|"
        r"outlook|mobiil)\S*\.?$",
        r"^.{0,20}(iphone|ipad|android|samsung|galaxy|outlook)\S*\s*(から送信|에서\s*보냄|"
        r"\s+gönderildi)\.?$",
        )
    ),
    re.IGNORECASE,
)

# "On <date>, <someone> wrote:" closers in many languages.
_WROTE = "(" + "|".join(r"\s+".join(map(re.escape, w.split())) for w in WROTE_WORDS) + ")"
_WROTE_END_RE = re.compile(
    _WROTE + r"(\s*[:：]?\s*(-{2,})?|\s[^:]{1,120}:)\s*$|^\s*>:\s*$"
    # German, Scandinavian: "<name> schrieb am <date> um 11:53 Uhr:", "skrev <name> <addr>:"
    r"|\b(schrieb|skrev|schreef)\b.{0,160}(@\S*|\buhr):\s*$",
    re.IGNORECASE,
)
# _WROTE_END_RE.search(line) costs a try of every closer word at every position of the
# line, though a match can only end the line. The same pattern written backwards and
# matched once at the start of the reversed line finds the same lines (each branch
# reversed: its end anchor becomes the start, its words are spelled backwards) at a
# fraction of the cost. tests/corpus checks the two agree on every corpus line.
_WROTE_REVERSED = "(?:" + "|".join(
    r"\s+".join(re.escape(piece[::-1]) for piece in reversed(w.split())) for w in WROTE_WORDS
) + ")"
_WROTE_END_REVERSED_RE = re.compile(
    r"\s*(?:(?:-{2,})?\s*[:：]?\s*|:[^:]{1,120}\s)" + _WROTE_REVERSED
    + r"|\s*:>\s*\Z"
    + r"|\s*:(?:\S*@|rhu\b).{0,160}\b(?:beirhcs|verks|feerhcs)\b",
    re.IGNORECASE,
)


@_remembered
def _wrote_end(line: str) -> bool:
    """Does a "wrote:" closer end this line? (`_WROTE_END_RE.search(line)`, reversed.)"""
    return _WROTE_END_REVERSED_RE.match(line[::-1]) is not None


_DATE_FIRST_RE = re.compile(r"^\s*\d")
_HAS_DATE_OR_ADDR_RE = re.compile(r"\d|@|\bmailto:", re.IGNORECASE)
_GMAIL_DATE_RE = re.compile(
    r"^\s*\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\s+(\d{1,2}:\d{2}\s+GMT[+-]\d{1,2}:?\d{2}\b|.*@\S+>?:?\s*$)"
)
# The leading runs are possessive (*+): the phrase starts with a letter, so giving back
# any of those characters can never make a match; trying it cost most of the time.
_SEPARATOR = "|".join(r"\s+".join(map(re.escape, p.split())) for p in SEPARATORS)
_ORIGINAL_RE = re.compile(
    r"^[\s>*_]*+(-{2,}|_{2,})?[\s*]*+(" + _SEPARATOR + r")[\s*]*(-{2,}|_{2,})?[\s*]*[:：]?\s*$",
    re.IGNORECASE,
)
_HEADER_NAMES = "|".join(r"\s+".join(map(re.escape, h.split())) for h in HEADER_NAMES)
_HEADER_RE = re.compile(
    r"^\s*[*_]{0,2}(" + _HEADER_NAMES + r")\s*[*_]{0,2}\s*[:：]\s*[*_]{0,2}\s*\S", re.IGNORECASE
)


@_remembered
def _is_sig(line: str) -> bool:
    s = line.strip()
    return len(s) <= 120 and _SIG_RE.match(s) is not None


_OPENER_RE = re.compile(
    r"^\s*(on|le|am|el|em|op|il|den|dnia|w dniu|в|在|at|pada|op|på|dne|el día)\b", re.IGNORECASE
)


@_remembered
def _single_marker(line: str) -> bool:
    return bool(_ORIGINAL_RE.match(line) or _GMAIL_DATE_RE.match(line))


@_remembered
def _date_addr_end(line: str) -> bool:
    """`_DATE_ADDR_COLON_RE.search(line)`, which needs the line to end with ":"."""
    return line.rstrip().endswith(":") and _DATE_ADDR_COLON_RE.search(line) is not None


@_remembered
def _header_line(line: str) -> bool:
    return _HEADER_RE.match(line) is not None


def _could_be_attribution(line: str) -> bool:
    return "@" in line and line.rstrip().endswith((":", "：")) and len(line) <= 300


@_remembered
def _attribution(line: str) -> bool:
    """Is this (unquoted) line an attribution by its shape: date, time, address, ":"?"""
    return _could_be_attribution(line) and _ATTRIBUTION_RE.match(line) is not None


def _wrapped_attribution(lines: Sequence[str], j: int) -> bool:
    """Is lines[j] the second half of an attribution wrapped over two lines?"""
    above = lines[j - 1].rstrip()
    if not above.strip() or len(above) > 200 or _QUOTE_RE.match(above):
        return False
    glue = "" if above.endswith("<") else " "
    return _ATTRIBUTION_RE.match(above + glue + lines[j].strip()) is not None


def _quote_follows(lines: Sequence[str], j: int) -> bool:
    nxt = next((line for line in lines[j + 1 : j + 4] if line.strip()), "")
    return bool(_QUOTE_RE.match(nxt))


def _markers(lines: Sequence[str]) -> dict[int, int]:
    """Quote markers: first line index -> number of lines the marker spans.

    A marker ends with a "wrote:" closer; it may wrap over a few lines, so we walk back
    from the closer until the joined text names a date or an address, then on to an
    "On"/"Le"/"Am"... opener if one starts a line just above.
    """
    found: dict[int, int] = {}
    for j, line in enumerate(lines):
        if _single_marker(line) or (_date_addr_end(line) and _quote_follows(lines, j)):
            found[j] = 1
            continue
        if _could_be_attribution(line) and not _QUOTE_RE.match(line):
            if _attribution(line) or (_NAME_ADDR_RE.match(line) and _quote_follows(lines, j)):
                found[j] = 1
                continue
            if j and j - 1 not in found and _wrapped_attribution(lines, j):
                found[j - 1] = 2
                continue
        if len(line) > 300:
            continue
        if not _wrote_end(line):
            # The closer itself may wrap: "... schrieb am Fr., 28.\nApr. 2017 um 11:53 Uhr:"
            pair = f"{lines[j - 1]} {line}" if j and 0 < len(line.strip()) < 40 else ""
            if not (pair and _wrote_end(pair) and _HAS_DATE_OR_ADDR_RE.search(pair)):
                continue
            if _QUOTE_RE.match(lines[j - 1]) or _wrote_end(lines[j - 1]):
                continue
            found[j - 1] = 2
            continue
        if _QUOTE_RE.match(line) and (j == 0 or _QUOTE_RE.match(lines[j - 1])):
            continue  # a quoted marker belongs to the quote
        joined, start = _QUOTE_PREFIX_RE.sub("", line).strip(), -1
        for i in range(j, max(j - 6, -1), -1):
            if i < j:
                joined = f"{lines[i].strip()} {joined}"
            if len(joined) > 320 or (i < j and lines[i].rstrip().endswith((".", "!", "?"))):
                break
            if _HAS_DATE_OR_ADDR_RE.search(joined):
                start = i
                break
        if start < 0:
            continue
        for i in range(start - 1, max(start - 5, -1), -1):
            if _OPENER_RE.match(lines[start]) or _DATE_FIRST_RE.match(lines[start]):
                break
            if len(lines[i]) > 100 or _QUOTE_RE.match(lines[i]) or lines[i].rstrip().endswith("."):
                break
            if _OPENER_RE.match(lines[i]) or _DATE_FIRST_RE.match(lines[i]):
                start = i
                break
        if lines[j].strip() == ">:" and start == j:
            continue
        found[start] = j - start + 1
    return found


def classify(lines: Sequence[str]) -> tuple[list[str], list[int]]:
    """Line types, and for each marker line how many lines it spans (else 0)."""
    types: list[str] = []
    spans: list[int] = []
    in_fence = False
    markers = _markers(lines)
    for i, line in enumerate(lines):
        span = 0
        if _FENCE_RE.match(line):
            in_fence = not in_fence
            kind = TEXT
        elif in_fence:
            kind = TEXT
        elif not (stripped := line.strip()) or stripped in {"\u200b", "\ufeff"}:
            kind = EMPTY
        elif _DELIM_RE.match(line):
            kind = DELIM
        elif _is_sig(stripped):
            kind = SIG
        elif i in markers:
            kind, span = MARKER, markers[i]
        elif _header_line(line):
            kind = HEADER
        elif _QUOTE_RE.match(line):
            kind = QUOTE
        else:
            kind = TEXT
        types.append(kind)
        spans.append(span)
    return types, spans


def _header_block(types: Sequence[str], i: int) -> int:
    """Length of an email-header block starting at i (3+ header lines), else 0."""
    if types[i] != HEADER:
        return 0
    headers, j, end = 0, i, i
    while j < len(types) and types[j] in (HEADER, TEXT) and j - i < 12:
        if types[j] == HEADER:
            headers += 1
            end = j + 1
        elif j + 1 < len(types) and types[j + 1] not in (HEADER, TEXT):
            break
        j += 1
    return end - i if headers >= 3 else 0


def _after_marker_is_inline(types: Sequence[str], start: int, depth: int) -> bool:
    """Is the text after this marker an inline (interleaved) reply rather than history?

    Quotes, then text, then quotes again: inline. Quotes then text to the end: at the top
    level that text is a footer under the history; below a marker (a bottom-poster) it is
    more of the reply.
    """
    rest = "".join(t for t in types[start:] if t not in (EMPTY, SIG))
    rest = rest.split(DELIM, 1)[0]
    if depth and re.fullmatch(r"[qbh]+t.*", rest):
        return True
    return re.fullmatch(r"[qbh]+t[tqbh]*q.*", rest) is not None


def _trim(lines: list[str], depth: int = 0) -> list[str]:
    types, spans = classify(lines)
    keep: list[int] = []
    has_text = False  # is any kept line TEXT? (kept up to date, not recounted per line)
    i = 0
    if depth:
        # Below a marker: the quote right under it is the history being answered.
        while i < len(lines) and types[i] in (EMPTY, QUOTE):
            i += 1
    while i < len(lines):
        kind = types[i]
        if kind == DELIM:
            if has_text or depth > 2:
                break
            i += 1
            continue
        block = _header_block(types, i) if kind == HEADER else 0
        if kind == MARKER or block:
            span = spans[i] or block
            if not has_text and depth <= 2:
                # The reply sits below the marker (bottom posting, a forward): start again there.
                rest = _trim(lines[i + span :], depth + 1)
                return rest or _drop_trailing_quotes(
                    [lines[k] for k in keep], [types[k] for k in keep]
                )
            if kind == MARKER and _after_marker_is_inline(types, i + span, depth):
                i += span
                continue
            break
        if kind == SIG and has_text:
            break  # the client signs below the reply: what follows is history
        if kind != SIG:
            keep.append(i)
            has_text = has_text or kind == TEXT
        i += 1
    return _drop_trailing_quotes([lines[k] for k in keep], [types[k] for k in keep])


def _drop_trailing_quotes(lines: list[str], types: list[str]) -> list[str]:
    if TEXT not in types:
        # Nothing but quotes: history if it carries its own "wrote:" markers, else keep it.
        quoted = [_QUOTE_PREFIX_RE.sub("", line) for line in lines]
        qtypes, _ = classify(quoted)
        return [] if MARKER in qtypes else lines
    end = len(types)
    while end and types[end - 1] in (EMPTY, QUOTE, HEADER):
        end -= 1
    return [line for line, kind in zip(lines[:end], types[:end], strict=True) if kind != HEADER]


def extract_new_text(body: str) -> str:
    """The new text of a plain-text reply: quoted history, forwards and signatures removed."""
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        return ""
    return "\n".join(_trim(text.split("\n"))).strip()


def quote_prefix(line: str) -> str:
    """The quoting prefix of a line ("> ", ">> ", "| "), or ""."""
    match = _QUOTE_PREFIX_RE.match(line)
    return match.group(0) if match else ""


def html_to_text(html: str) -> str:
    """HTML mail as plain text: blockquotes become "> " lines, links keep their words."""
    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_images = True
    converter.ignore_links = True
    converter.ignore_emphasis = True
    converter.ignore_tables = True
    converter.unicode_snob = True
    text = "\n".join(line.rstrip() for line in str(converter.handle(html)).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()
