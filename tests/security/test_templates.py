"""Templates: coordinator-edited templates cannot reach Python internals, and roster values
cannot inject headers or HTML into a delivered email.

Each sandbox case names the escape it attempts; `mailflow templates check` must refuse it
with a clear error naming the file and line, and print nothing from Python's internals.
"""

from __future__ import annotations

import csv
import email
import email.policy
import io
import resource
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import START
from programs import ROSTER_HEADER, make_program
from smtp_server import RecordingSmtpServer

from mailflow.app import scaffold
from mailflow.cli import main
from mailflow.errors import TemplateError
from mailflow.render.engine import Renderer
from mailflow.render.limits import BoundedSandbox, Budget, RenderLimitError, bounded_render
from mailflow.render.samples import sample_contexts

ESCAPES = {
    "__class__/__mro__/__subclasses__": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "__globals__ through the cycler global": "{{ cycler.__init__.__globals__.os }}",
    "__globals__ through the joiner global": "{{ joiner.__init__.__globals__ }}",
    "__globals__ through the namespace global": "{{ namespace.__init__.__globals__ }}",
    "namespace instance internals": "{% set ns = namespace() %}{{ ns.__class__.__init__ }}",
    "the template's own context": "{{ self._TemplateReference__context }}",
    "context to os.popen": "{{ self._TemplateReference__context.cycler.__init__"
                           ".__globals__.os.popen('id').read() }}",
    "str.format reaching attributes": "{{ '{0.__class__.__mro__}'.format(recipient) }}",
    "str.format_map reaching attributes": "{{ '{r.__class__}'.format_map({'r': recipient}) }}",
    "format filter": "{{ '%s'|format(recipient.__class__) }}",
    "attr() filter": "{{ recipient|attr('__class__') }}",
    "attr() filter with escaped underscores": "{{ ()|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
    "map(attribute=) trick": "{{ [recipient]|map(attribute='__class__')|list }}",
    "dict global to a class": "{{ dict(a=1).__class__.__base__.__subclasses__() }}",
    "lipsum global (removed)": "{{ lipsum.__globals__ }}",
    "range to a builtin's __self__": "{{ range.__self__ }}",
    "a filter function's globals": "{{ (recipient.items).__self__ }}",
    "loop over object subclasses": "{% for c in ().__class__.__base__.__subclasses__() %}"
                                   "{{ c }}{% endfor %}",
    "mutating the context": "{{ recipient.update({'email': 'evil@evil.example'}) }}",
    "huge range": "{{ range(10**9)|list|length }}",
    "import statement": "{% import 'os' as os %}",
    "include outside the folder": "{% include '/etc/passwd' %}",
}
LEAKS = ("<module", "<class", "<function", "<built-in", "uid=", "environ", "subprocess")


@pytest.fixture(scope="module")
def program_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("templates") / "p"
    scaffold(folder)
    return folder


@pytest.mark.parametrize("escape", list(ESCAPES))
def test_sandbox_escape_fails_with_a_clear_error(program_folder: Path, escape: str) -> None:
    template = program_folder / "templates" / "ack.md"
    original = template.read_text(encoding="utf-8")
    try:
        template.write_text(f"Subject: Received\n\nDear reader,\n{ESCAPES[escape]}\n",
                            encoding="utf-8")
        result = CliRunner().invoke(main, ["-c", str(program_folder / "config.toml"),
                                           "templates", "check"])
    finally:
        template.write_text(original, encoding="utf-8")
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error: templates/ack.md:4: "), result.stderr
    assert not any(leak in result.stderr for leak in LEAKS), result.stderr
    assert "Traceback" not in result.output


# --- runaway templates: loops that never end, text that grows without bound ----------------

RUNAWAYS = {
    "a string multiplied 10**10 times": "{{ 'x' * 10**10 }}",
    "a list multiplied 10**9 times": "{{ [1, 2] * 10**9 }}",
    "a number with 10**8 digits": "{{ 10 ** 100000000 }}",
    "a product squared in a loop": "{% set ns = namespace(n=10) %}{% for i in range(64) %}"
                                   "{% set ns.n = ns.n * ns.n %}{% endfor %}{{ ns.n }}",
    "a loop over range(10**9)": "{% for i in range(10**9) %}{{ i }}{% endfor %}",
    "nested loops writing nothing": "{% for i in range(100000) %}{% for j in range(100000) %}"
                                    "{% endfor %}{% endfor %}",
    "three nested loops": "{% for i in range(1000) %}{% for j in range(1000) %}"
                          "{% for k in range(1000) %}{{ k }}{% endfor %}{% endfor %}{% endfor %}",
    "a loop writing text in a macro": "{% macro m() %}{% for i in range(100000) %}"
                                      "{% for j in range(100000) %}" + "x" * 200
                                      + "{% endfor %}{% endfor %}{% endmacro %}{{ m()|length }}",
    "a string doubled with ~": "{% set ns = namespace(s='x') %}{% for i in range(64) %}"
                               "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
    "a string doubled with +": "{% set ns = namespace(s='x') %}{% for i in range(64) %}"
                               "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}",
    "a list doubled with +": "{% set ns = namespace(s=[1]) %}{% for i in range(64) %}"
                             "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}",
    "a huge join separator": "{{ range(100000)|join('x' * 1000000) }}",
    "str.join of a huge list": "{{ ('y' * 1000000).join(range(100000)|map('string')) }}",
    "nested lists printed": "{% set a = range(100000)|list %}{% set b = [a, a, a, a, a, a] %}"
                            "{% set c = [b, b, b, b, b, b] %}{% set d = [c, c, c, c, c, c] %}"
                            "{{ d }}",
    "nested lists joined": "{% set a = range(100000)|list %}{% set b = [a, a, a, a, a, a] %}"
                           "{% set c = [b, b, b, b, b, b] %}{{ [c, c, c, c]|join }}",
    "nested lists as json": "{% set a = range(100000)|list %}{% set b = [a, a, a, a, a, a] %}"
                            "{% set c = [b, b, b, b, b, b] %}{{ [c, c, c, c]|tojson }}",
    "str.center": "{{ 'x'.center(10**10) }}",
    "str.ljust": "{{ 'x'.ljust(10**10) }}",
    "center filter": "{{ 'x'|center(10**10) }}",
    "indent filter": r"{{ ('a\n' * 100000)|indent(100000) }}",
    "str.format width": "{{ '{:>10000000000}'.format(1) }}",
    "% width": "{{ '%10000000000d' % 1 }}",
    "format filter width": "{{ '%10000000000d'|format(1) }}",
    "one value printed many times by format": "{% set big = 'x' * 1000000 %}"
                                              "{{ ('{0}' * 1000).format(big) }}",
    "one value printed many times by %": "{% set big = 'x' * 1000000 %}"
                                         "{{ ('%(a)s' * 1000) % {'a': big} }}",
    "one value printed many times by format_map": "{% set big = 'x' * 1000000 %}"
                                                  "{{ ('{a}' * 1000).format_map({'a': big}) }}",
    "str.replace growth": "{{ ('x' * 1000000).replace('x', 'y' * 64) }}",
    "replace filter growth": "{{ ('x' * 1000000)|replace('x', 'y' * 64) }}",
    "centered strings collected": "{{ range(100000)|map('center', 1000000)|list|length }}",
    "exponential macro recursion": "{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}"
                                   "{{ f(1) }}",
}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("runaway", list(RUNAWAYS))
def test_runaway_template_fails_fast_with_its_line(program_folder: Path, runaway: str) -> None:
    """`templates check` (the same render as a preview and a save) stops it within seconds,
    naming the file and line, without the memory it asks for."""
    template = program_folder / "templates" / "ack.md"
    original = template.read_text(encoding="utf-8")
    before = _peak_rss_mb()
    started = time.monotonic()
    try:
        template.write_text(f"Subject: Received\n\nDear reader,\n{RUNAWAYS[runaway]}\n",
                            encoding="utf-8")
        result = CliRunner().invoke(main, ["-c", str(program_folder / "config.toml"),
                                           "templates", "check"])
    finally:
        template.write_text(original, encoding="utf-8")
    elapsed = time.monotonic() - started
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: templates/ack.md:4: "), result.stderr
    assert "Traceback" not in result.output
    assert elapsed < 8, f"{runaway} took {elapsed:.1f}s"
    assert _peak_rss_mb() - before < 400, f"{runaway} grew the process by >400 MB"


def test_runaway_messages_say_what_went_wrong(program_folder: Path) -> None:
    renderer = Renderer(program_folder / "templates")
    cases = {
        RUNAWAYS["nested loops writing nothing"]: "loop steps",
        RUNAWAYS["a string multiplied 10**10 times"]: "characters or items",
        RUNAWAYS["a number with 10**8 digits"]: "too large a number",
    }
    for source, words in cases.items():
        (program_folder / "templates" / "runaway.md").write_text(
            f"Subject: x\n\n{source}\n", encoding="utf-8")
        with pytest.raises(TemplateError) as caught:
            renderer.render("runaway", sample_contexts("ack")[0])
        assert str(caught.value).startswith("templates/runaway.md:3: "), caught.value
        assert words in str(caught.value), caught.value


def test_a_large_real_digest_stays_within_the_budget(program_folder: Path) -> None:
    """The coordinators' digest of a 10,000-pair program renders: the limits are for
    runaways, not for big programs."""
    context = sample_contexts("digest_coordinator")[0]
    rows = context["rows"]
    context["rows"] = [{**rows[i % 2], "pair_id": f"P{i:05d}"} for i in range(10_000)]
    email = Renderer(program_folder / "templates").render("digest_coordinator", context)
    assert "P09999" in email.text and "P09999" in email.html


def test_a_budget_outside_a_render_still_refuses_one_huge_operation() -> None:
    sandbox = BoundedSandbox(filters={})
    with pytest.raises(RenderLimitError):
        sandbox.from_string("{{ 'x' * 10**9 }}").render()
    with bounded_render(Budget(steps=50)), pytest.raises(RenderLimitError, match="50 loop"):
        sandbox.from_string("{% for i in range(100) %}{% endfor %}").render()


# --- roster values in a delivered email ----------------------------------------------------

INJECTED_ROWS = {
    "CR/LF in a name": 'A,"Eve\r\nBcc: victim@evil.example",eve@lib.example,Zoe,zoe@lib.example,'
                       "Lia,l1@lib.example,,,",
    "LF in an address": 'A,Eve,"eve@lib.example\nBcc: victim@evil.example",Zoe,zoe@lib.example,'
                        "Lia,l1@lib.example,,,",
    "NUL in a name": "A,Eve\x00X,eve@lib.example,Zoe,zoe@lib.example,Lia,l1@lib.example,,,",
    "Unicode line separator in a name": "A,Eve\u2028Bcc: victim@evil.example,eve@lib.example,"
                                        "Zoe,zoe@lib.example,Lia,l1@lib.example,,,",
}


@pytest.mark.parametrize("case", list(INJECTED_ROWS))
def test_roster_with_line_breaks_is_refused(tmp_path: Path, case: str) -> None:
    folder = tmp_path / "p"
    scaffold(folder)
    roster = folder / "roster.csv"
    roster.write_bytes((ROSTER_HEADER + INJECTED_ROWS[case] + "\n").encode("utf-8"))
    result = CliRunner().invoke(main, ["-c", str(folder / "config.toml"), "roster", "import",
                                       str(roster)])
    assert result.exit_code == 1, result.output
    assert "line 2" in result.stderr and "nothing was changed" in result.stderr


MARKUP_NAME = ('Eve [click here](https://evil.example/login) ![x](https://evil.example/t.png) '
               '<script>alert(1)</script> <a href="https://evil.example">x</a> `code` **bold**')
HEADERISH_NAME = 'Mallory "Bcc: victim@evil.example" <evil@evil.example>; Trent, Esq.'
# long enough that the header is folded: the stdlib then dropped the quotes around it
ADDRESS_LIST_NAME = "Eve, victim@evil.example, " + "x" * 70


def test_markup_and_header_syntax_in_roster_values_reach_no_header_or_html(
        tmp_path: Path, smtp_server: RecordingSmtpServer) -> None:
    """Through a real send to aiosmtpd: names full of Markdown, HTML and address syntax."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["A", MARKUP_NAME, "eve@lib.example", HEADERISH_NAME, "mal@lib.example",
                     "Lia One", "l1@lib.example", "", "", ""])
    writer.writerow(["B", ADDRESS_LIST_NAME, "bob@lib.example", "Ben", "ben@lib.example",
                     "Lia One", "l1@lib.example", "", "", ""])
    rows = out.getvalue().rstrip("\n").split("\n")
    program = make_program(tmp_path / "p", start=START, rows=rows, smtp_port=smtp_server.port)
    program.at(START)
    report = program.send_due()
    assert not report.failed and report.sent
    received = {}
    for item in smtp_server.messages:
        assert len(item.rcpt_tos) == 1  # the envelope names the one roster address
        received[f'{item.message()["X-Mailflow-Kind"]}:{item.rcpt_tos[0]}'] = item
    assert set(received) >= {"intro:eve@lib.example", "intro:mal@lib.example",
                             "intro:bob@lib.example"}
    for key, item in received.items():
        msg = email.message_from_bytes(item.data, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        assert msg["Bcc"] is None and msg["Cc"] is None, key
        to = msg["To"].addresses
        assert len(to) == 1 and to[0].addr_spec == key.split(":", 1)[1], key
        assert "\n" not in str(msg["Subject"])
        html = msg.get_body(("html",)).get_content()
        tags = _attributes(html)
        assert not any("evil.example" in value for value in tags), key
        assert "<script>" not in tags and "<img>" not in tags, key
        text = msg.get_body(("plain",)).get_content()
        if "intro:mal" in key:  # the partner's name is shown as written, as text
            assert "[click here](https://evil.example/login)" in text


def _attributes(html: str) -> list[str]:
    """Every attribute value of every real tag in the HTML (not text that looks like one)."""
    from html.parser import HTMLParser

    found: list[str] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.extend(value or "" for _, value in attrs)
            found.append(f"<{tag}>")

    Collect().feed(html)
    return found


def test_the_wall_clock_stops_a_render_of_few_but_slow_steps() -> None:
    """The backstop: steps that each take long (a sort of 100,000 items) within budget
    otherwise; the deadline is looked at every 32 steps."""
    sandbox = BoundedSandbox(filters={})
    slow = ("{% set items = range(100000)|list|reverse|list %}"
            "{% for i in range(100000) %}{{ (items|sort|first) }}{% endfor %}")
    started = time.monotonic()
    with bounded_render(Budget(seconds=0.5)), pytest.raises(RenderLimitError, match="longer"):
        sandbox.from_string(slow).render()
    assert time.monotonic() - started < 10
