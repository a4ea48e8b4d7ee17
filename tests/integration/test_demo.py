"""`mailflow demo`: a whole term on in-process servers; its summary matches the mailboxes
and the store."""

from __future__ import annotations

import email
import email.policy
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from mailflow.demo.program import MARKER, prepare_folder, replace_tables
from mailflow.demo.servers import DemoImapServer, MailCatcher
from mailflow.errors import MailflowError


def _mailflow(*args: str | Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-W", "error", "-m", "mailflow", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, check=False)


def _counts(text: str) -> dict[str, int]:
    """'40 ack, 8 closing' -> {'ack': 40, 'closing': 8}"""
    return {kind: int(n) for n, kind in re.findall(r"(\d+) ([A-Za-z_]+)", text)}


def _summary_line(stdout: str, label: str) -> str:
    match = re.search(rf"^ *{re.escape(label)}:\s+(.*)$", stdout, re.M)
    assert match, f"no {label!r} line in:\n{stdout}"
    return match.group(1)


def _delivered(mailboxes: Path) -> Counter[str]:
    kinds: Counter[str] = Counter()
    for path in mailboxes.glob("*/*.eml"):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        kind = str(msg["X-Mailflow-Kind"])
        assert path.name.endswith(f"-{kind}.eml")
        kinds[kind] += 1
    return kinds


def _export(config: Path, what: str) -> list[dict[str, Any]]:
    result = _mailflow("-c", config, "export", what, "--format", "json", timeout=60)
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


@pytest.mark.slow
def test_demo_runs_a_term_and_its_summary_matches_the_mailboxes_and_the_store(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "demo"
    result = _mailflow("demo", "--dir", folder, "--pairs", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stderr, result.stderr
    out = result.stdout
    assert "PROBLEMS" not in out

    # emails: the summary, the .eml files by kind header, and the store's outbox agree
    sent = _counts(_summary_line(out, "Emails sent").split("(", 1)[1])
    delivered = _delivered(folder / "mailboxes")
    outbox = _export(folder / "config.toml", "outbox")
    stored = Counter(row["kind"] for row in outbox if row["status"] == "sent")
    assert sent == dict(delivered) == dict(stored)
    assert {"intro", "topic", "nudge", "closing", "feedback", "letter", "ack", "escalation",
            "digest", "liaison_welcome"} <= set(sent)
    assert all(row["status"] in ("sent", "skipped") for row in outbox)
    # every delivered message went to the one person its outbox entry names
    for row in outbox:
        if row["status"] == "sent":
            assert list((folder / "mailboxes" / row["person"]).glob(f"*-{row['kind']}.eml"))

    # replies: what the simulated people sent, handled once each
    received = _summary_line(out, "Mail received")
    written = len(list((folder / "replies").glob("*.eml")))
    assert int(received.split()[0]) == written
    assert "1 auto-replies" in received and "1 bounces" in received
    assert _counts(_summary_line(out, "IMAP folders")) == {
        "INBOX": 0, "Processed": written - 1, "Quarantine": 1}

    # events and escalations: the summary's numbers are the store's
    events = Counter(row["type"] for row in _export(folder / "config.toml", "events"))
    assert _summary_line(out, "Check-ins") == f"{events['met']} MET, {events['not_met']} NOT MET"
    assert events["met"] >= 20
    assert _summary_line(out, "Goals recorded") == str(events["goal"])
    # the new keywords (SPEC 3): a first contact, goals reached, ratings, an UNDO
    assert _summary_line(out, "Goals reached") == str(events["goal_done"]) != "0"
    # first contact (SPEC 2): three mentors said CONTACTED (the rematch's among them); the
    # quiet pair's mentor was reminded and its liaison told
    assert events["contacted"] == 3 and sent["first_contact"] == 1
    assert _summary_line(out, "First contacts") == (
        f"{events['contacted']} CONTACTED; 1 mentor(s) reminded, 1 pair(s) never made "
        "contact (liaison told)")
    # ratings at the mid-term check-in (one of them low) and with the feedback
    ratings = [row for row in _export(folder / "config.toml", "events")
               if row["type"] == "rating"]
    low = [row for row in ratings if int(row["value"]) <= 2]
    assert sent["midpoint"] == 8 and len(low) == 1 and len(ratings) == 14
    assert _summary_line(out, "Ratings") == f"{len(ratings)} (8 at the mid-term check-in, 1 low)"
    # the committee's mid-year announcement, to everyone in a running pair (P01-P03 and the
    # rematch P05, not the ended P04) and the two liaisons
    assert sent["announcement"] == 10
    assert _summary_line(out, "Announcements") == "1 (10 emails)"
    assert _summary_line(out, "Withdrawn by UNDO") == str(events["undone"]) == "1"
    assert _summary_line(out, "Bounces") == str(events["bounce"]) == "1"
    assert _summary_line(out, "Auto-replies") == str(events["auto_reply"]) == "1"
    assert _summary_line(out, "Quarantined") == str(events["quarantined"]) == "1"
    assert events["help"] == events["letter_request"] == 1
    assert events["feedback"] == 6
    escalations = _export(folder / "config.toml", "escalations")
    opened = Counter(row["reason"] for row in escalations)
    resolved = sum(1 for row in escalations if row["resolved_at"])
    # the quiet pair never made first contact: no_contact, then quiet (SPEC 2); the liaison
    # answers both, the second time asking the committee to end the match
    assert opened == {"help": 1, "bounce": 1, "no_contact": 1, "quiet": 1} and resolved == 4
    assert _summary_line(out, "Escalations") == (
        f"4 opened (1 bounce, 1 help, 1 no_contact, 1 quiet), {resolved} resolved")
    assert _summary_line(out, "Matches ended") == "1 (P04); rematches: 1 (P05)"
    # the rematch: P04's mentee, a new mentor, a new pair id, welcomed like any pair
    p04 = {row["role"]: row["person"] for row in outbox
           if row["pair_id"] == "P04" and row["kind"] == "intro"}
    p05 = {row["role"]: row["person"] for row in outbox
           if row["pair_id"] == "P05" and row["kind"] == "intro" and row["status"] == "sent"}
    assert p05["mentee"] == p04["mentee"] and p05["mentor"] != p04["mentor"]

    # the quiet pair was reminded, nudged, then escalated, never wrote, and was ended
    quiet = [row for row in outbox if row["pair_id"] == "P04"]
    assert {row["kind"] for row in quiet} >= {"first_contact", "nudge", "escalation"}
    assert "midpoint" not in {row["kind"] for row in quiet}  # ended in month 3
    assert not any(row["pair_id"] == "P04" and row["type"] == "met"
                   for row in _export(folder / "config.toml", "events"))

    # the committee's report, when the report module offers one
    import mailflow.report.page

    if hasattr(mailflow.report.page, "build_report"):
        assert (folder / "report.html").stat().st_size > 1000
    assert re.search(r"run in \d+\.\d s", out)
    status = _mailflow("-c", folder / "config.toml", "status", timeout=60)
    assert status.returncode == 0 and "P04" in status.stdout


def test_demo_refuses_a_folder_that_is_not_a_demo(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    result = _mailflow("demo", "--dir", tmp_path / "mine", timeout=60)
    assert result.returncode == 1
    assert "not a mailflow demo folder" in result.stderr
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_a_previous_demo_folder_is_replaced(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    prepare_folder(folder)
    (folder / "left-over.txt").write_text("from the last run")
    prepare_folder(folder)
    assert (folder / MARKER).exists() and (folder / "config.toml").exists()
    assert not (folder / "left-over.txt").exists()
    (folder / MARKER).unlink()
    with pytest.raises(MailflowError):
        prepare_folder(folder)


def test_replace_tables_swaps_whole_tables_and_keeps_the_rest() -> None:
    text = '# top\n[program]\nname = "x"\n\n[mail]\nfrom = "a"\n\n[[topics]]\nmonth = 1\n'
    out = replace_tables(text, {"mail": '[mail]\nfrom = "b"\n'})
    assert out == '# top\n[program]\nname = "x"\n\n[mail]\nfrom = "b"\n\n[[topics]]\nmonth = 1\n'


def test_the_demo_servers_deliver_append_count_and_stop_cleanly(tmp_path: Path) -> None:
    import asyncio
    import smtplib

    from mailflow.adapters.imap import ImapMailbox
    from mailflow.config import ImapSettings

    raw = (b"From: a@lib.example\r\nTo: b@lib.example\r\nSubject: hi\r\n"
           b"Message-ID: <1@lib.example>\r\nX-Mailflow-Kind: topic\r\n\r\nhello\r\n")
    with MailCatcher(tmp_path / "boxes") as smtp, DemoImapServer("box", "secret") as imap:
        with smtplib.SMTP("127.0.0.1", smtp.port, timeout=10) as client:
            client.sendmail("a@lib.example", ["B@lib.example", "c@lib.example"], raw)
        new = smtp.take_new()
        assert [(d.recipient, d.path.name, d.kind) for d in new] == [
            ("b@lib.example", "001-topic.eml", "topic"),
            ("c@lib.example", "001-topic.eml", "topic")]
        assert smtp.take_new() == []

        assert imap.append([raw, raw]) == 2

        async def move_one() -> None:
            settings = ImapSettings(host="127.0.0.1", port=imap.port, security="none",
                                    username="box", password_env="UNUSED")
            async with ImapMailbox(settings, password="secret") as box:
                assert {"MOVE", "UIDPLUS", "IDLE"} <= box.capabilities
                await box.ensure_folders()
                await box.select("INBOX")
                uids = await box.uids_after(0)
                await box.move(uids[:1], "Processed")

        asyncio.run(move_one())
        assert imap.count(["INBOX", "Processed", "Nowhere"]) == {
            "INBOX": 1, "Processed": 1, "Nowhere": 0}
