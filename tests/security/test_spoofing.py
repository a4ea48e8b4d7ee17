"""Spoofing: replies that claim to be a participant but are not, through Dovecot.

Each case names the forgery it injects. None acts on a pair (no check-in, goal, pause,
escalation, state change or ack); each is moved to the quarantine folder, recorded as a
`quarantined` event (`mailflow export events`) and listed in the coordinators' digest.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from dovecot import ImapAccount
from helpers import events, program_on_servers, reply, sent_to
from smtp_server import RecordingSmtpServer

from mailflow.cli import main
from mailflow.domain.model import EventType, PairState, Person, Role
from mailflow.domain.replies import parse_message
from mailflow.services.digest import digest_context
from mailflow.services.state import ProgramState

TRUSTED = "mx.lib.example"

# forgery -> (From header as sent, extra headers); each says END and HELP, which would act
FORGERIES: dict[str, tuple[str, dict[str, str]]] = {
    "participant of pair B replying in pair A's thread": ("ben@lib.example", {}),
    "look-alike domain 1ib.example": ("Zoë Ñúñez <zoe@1ib.example>", {}),
    "Cyrillic а in the domain (raw UTF-8)": ("Zoë <zoe@lib.ex\u0430mple>", {}),
    "real address as a subdomain of evil.com": ("Zoe <zoe@lib.example.evil.com>", {}),
    "display name that is the address (quoted)": ('"zoe@lib.example" <attacker@evil.example>',
                                                  {}),
    "display name that is the address (unquoted)": ("zoe@lib.example <attacker@evil.example>",
                                                    {}),
    "display name that is the address (encoded word)": (
        "=?utf-8?q?zoe=40lib.example?= <attacker@evil.example>", {}),
    "two authors in From": ("zoe@lib.example, attacker@evil.example", {}),
    "DMARC failed at the trusted authserv-id": ("Zoë Ñúñez <zoe@lib.example>", {
        "Authentication-Results": f"{TRUSTED}; spf=fail smtp.mailfrom=evil.example; "
                                  "dkim=none; dmarc=fail (p=none) header.from=lib.example"}),
    "untrusted authserv-id says pass, the trusted one says fail": (
        "Zoë Ñúñez <zoe@lib.example>", {
            "Authentication-Results": f"{TRUSTED}; dmarc=fail header.from=lib.example",
            "X-Forged": "x"}),
}
# the second Authentication-Results of the last case, added by the attacker
FORGED_PASS = "evil.example; dmarc=pass header.from=lib.example"


@pytest.fixture
def program_and_intro(tmp_path: Path, smtp_server: RecordingSmtpServer,
                      imap_account: ImapAccount):  # type: ignore[no-untyped-def]
    program = program_on_servers(tmp_path / "p", smtp_server, imap_account,
                                 extra_imap=f'trusted_authserv_id = "{TRUSTED}"\n')
    return program, sent_to(smtp_server, "zoe@lib.example", "intro")


def _forgery(intro, name: str) -> bytes:  # type: ignore[no-untyped-def]
    sender, headers = FORGERIES[name]
    raw = reply(intro, sender, "END this match please\nHELP\nGOAL take over\nMET today\n",
                headers)
    if "untrusted" in name:
        raw = b"Authentication-Results: " + FORGED_PASS.encode() + b"\r\n" + raw
    return raw


def test_forged_replies_never_act_and_are_quarantined_and_reported(
        program_and_intro, smtp_server: RecordingSmtpServer,  # type: ignore[no-untyped-def]
        imap_account: ImapAccount) -> None:
    program, intro = program_and_intro
    sent_before = len(smtp_server.messages)
    forged = {name: _forgery(intro, name) for name in FORGERIES}
    imap_account.append(list(forged.values()))
    report, _ = program.poll()
    assert report.connection_error == ""

    # nothing acted on a pair
    found = events(program)
    assert {e.type for e in found} == {EventType.QUARANTINED}, [
        (e.type, e.person, e.text) for e in found if e.type != EventType.QUARANTINED]
    with program.app().repository(readonly=True) as repo:
        assert {p: r.state for p, r in repo.pairs().items()} == {
            "A": PairState.ACTIVE, "B": PairState.ACTIVE}
        assert repo.escalations() == []
    assert len(smtp_server.messages) == sent_before  # no ack, no escalation

    # every forgery kept in the quarantine folder, with its reason
    assert imap_account.messages("INBOX") == {}
    assert len(imap_account.messages("Quarantine")) == len(FORGERIES)
    assert len(report.quarantined) == len(FORGERIES)
    reasons = [reason for _, reason in report.quarantined]
    assert sum("DMARC failed" in r for r in reasons) == 2
    assert any("does not match zoe@lib.example" in r for r in reasons)  # ben in A's thread

    # reported: `mailflow export events` lists each as quarantined, with its Message-ID
    ids = {parse_message(raw).message_id for raw in forged.values()}
    out = CliRunner().invoke(main, ["-c", str(program.config), "export", "events",
                                    "--format", "json"])
    assert out.exit_code == 0, out.output
    exported = json.loads(out.output)
    assert {r["message_id"] for r in exported if r["type"] == "quarantined"} == ids
    # ... and the coordinators' digest lists them
    app = program.app()
    with app.repository(readonly=True) as repo:
        state = ProgramState.load(repo, app.settings.program_model(), program.clock.now())
    coordinator = Person("Committee", "committee@lib.example", Role.COORDINATOR)
    digest = digest_context(next(iter(state.outbox)), state, coordinator)
    assert len(digest["quarantined"]) == len(FORGERIES)
    assert all(item["reason"] for item in digest["quarantined"])


def test_genuine_reply_still_acts_with_trusted_dmarc_pass(
        program_and_intro, imap_account: ImapAccount) -> None:  # type: ignore[no-untyped-def]
    """Control: the same reply from the real address, DMARC pass at the trusted server."""
    program, intro = program_and_intro
    imap_account.append([reply(intro, "Zoë Ñúñez <zoe@lib.example>", "MET today\n", {
        "Authentication-Results": f"{TRUSTED}; dmarc=pass header.from=lib.example"})])
    report, _ = program.poll()
    assert report.outcomes["reply"] == 1
    assert [e.type for e in events(program)] == [EventType.MET]


@pytest.mark.parametrize("sender", [
    "\u212aen@lib.example",  # Kelvin sign: lower-cases to "ken@lib.example"
    "=?utf-8?q?Zoe_=3Czoe=40lib.example=3E?= <attacker@evil.example>",
    '"Zoe\\" <zoe@lib.example>" <attacker@evil.example>',
    "<zoe@lib.example>attacker@evil.example",
])
def test_from_header_forgeries_never_yield_the_participant(sender: str) -> None:
    """Parser-level forgeries of the From header: never read as a roster address."""
    parsed = parse_message(b"From: " + sender.encode() + b"\r\nSubject: x\r\n\r\nMET\r\n")
    assert parsed.from_address not in {"zoe@lib.example", "ken@lib.example"}
