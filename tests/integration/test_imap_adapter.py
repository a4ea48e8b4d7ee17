"""The IMAP adapter against a real Dovecot (see dovecot.py), with injected faults."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator

import pytest
from dovecot import ImapAccount, free_port

from mailflow.adapters.imap import ImapMailbox
from mailflow.errors import ConnectionFailed, MailboxError


def make_message(i: int, body: bytes = b"") -> bytes:
    return (
        b"From: Mentee %d <mentee%d@example.org>\r\n"
        b"To: program@example.org\r\n"
        b"Subject: re: topic (month %d\r\n"
        b"Message-ID: <m%d@example.org>\r\n"
        b"\r\n"
        b"MET yesterday (we talked about goals\r\n%s" % (i, i, i, i, body)
    )


# lines that look like IMAP protocol inside a message must stay message content
TRICKY_BODY = (
    b")\r\n* 2 FETCH (UID 99 BODY[] {5}\r\n"
    b"A0001 OK Fetch completed\r\n"
    b"ends with a literal marker {12}\r\n"
    b"(((unbalanced\r\n"
    b"* BYE not really\r\n"
    b"\r\n"
)


# -- connecting -----------------------------------------------------------------------


async def test_implicit_tls_verified_with_test_ca(imap_account: ImapAccount) -> None:
    async with ImapMailbox(imap_account.settings("tls")) as box:
        assert {"MOVE", "UIDPLUS", "IDLE"} <= box.capabilities
        assert await box.select() > 0


async def test_tls_without_the_ca_is_refused(imap_account: ImapAccount) -> None:
    box = ImapMailbox(imap_account.settings("tls", ca_file=None))
    with pytest.raises(ConnectionFailed) as info:
        await box.connect()
    message = str(info.value)
    assert "certificate" in message and "imap.ca_file" in message
    await box.close()


async def test_starttls_verified_with_test_ca(imap_account: ImapAccount) -> None:
    async with ImapMailbox(imap_account.settings("starttls")) as box:
        assert box._transport.get_extra_info("sslcontext") is not None
        assert "MOVE" in box.capabilities
        assert await box.select() > 0


async def test_starttls_without_the_ca_is_refused(imap_account: ImapAccount) -> None:
    with pytest.raises(ConnectionFailed, match="certificate"):
        async with ImapMailbox(imap_account.settings("starttls", ca_file=None)):
            pass


async def test_plain_connection_when_security_is_none(imap_account: ImapAccount) -> None:
    async with ImapMailbox(imap_account.settings("none")) as box:
        assert await box.select() > 0


async def test_tls_against_the_plain_port_says_to_check_security(
        imap_account: ImapAccount) -> None:
    settings = imap_account.settings("tls", port=imap_account.server.imap_port)
    with pytest.raises(ConnectionFailed, match=r"imap\.security"):
        async with ImapMailbox(settings):
            pass


async def test_wrong_password_is_a_connection_failure_without_the_password(
        imap_account: ImapAccount, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "Wr0ng-\"pass\\word-" + os.urandom(4).hex()
    with pytest.raises(ConnectionFailed) as info:
        async with ImapMailbox(imap_account.settings(), password=wrong):
            pass
    message = str(info.value)
    assert "imap.username" in message and "MAILFLOW_TEST_IMAP_PASSWORD" in message
    assert wrong not in message and imap_account.password not in message
    async with ImapMailbox(imap_account.settings()):
        pass
    assert wrong not in caplog.text and imap_account.password not in caplog.text


async def test_nothing_listening_is_a_connection_failure(imap_account: ImapAccount) -> None:
    port = free_port()
    with pytest.raises(ConnectionFailed, match=f"127.0.0.1:{port}"):
        async with ImapMailbox(imap_account.settings("none", port=port)):
            pass


# -- reading ----------------------------------------------------------------------------


async def test_uids_are_incremental_and_uidvalidity_is_stable(
        imap_account: ImapAccount) -> None:
    settings = imap_account.settings()
    async with ImapMailbox(settings) as box:
        validity = await box.select()
        assert await box.uids_after(0) == []
    imap_account.append([make_message(i) for i in range(3)])
    async with ImapMailbox(settings) as box:
        assert await box.select() == validity
        assert await box.uids_after(0) == [1, 2, 3]
        assert await box.uids_after(2) == [3]
        # "4:*" matches UID 3 on the wire; the adapter must not return it
        assert await box.uids_after(3) == []
        assert await box.uids_after(100) == []
        imap_account.append([make_message(i) for i in range(3, 5)])
        assert await box.uids_after(3) == [4, 5]


async def test_fetch_one_message_byte_exact_and_unseen(imap_account: ImapAccount) -> None:
    raw = make_message(1, TRICKY_BODY)
    imap_account.append([raw])
    async with ImapMailbox(imap_account.settings()) as box:
        await box.select()
        assert await box.fetch([1]) == [(1, raw)]
        assert await box.fetch([]) == []
        assert await box.fetch([42]) == []
    assert "\\Seen" not in imap_account.messages()[1][1]


async def test_fetch_600_in_batches(imap_account: ImapAccount) -> None:
    raws = [make_message(i, TRICKY_BODY * (i % 3)) for i in range(600)]
    imap_account.append(raws)
    async with ImapMailbox(imap_account.settings(batch_size=250)) as box:
        await box.select()
        uids = await box.uids_after(0)
        assert len(uids) == 600
        got = await box.fetch(uids)
    assert [uid for uid, _ in got] == uids
    assert [raw for _, raw in got] == raws


async def test_fetch_2000_small_messages_in_one_batch(imap_account: ImapAccount) -> None:
    # aioimaplib's parser recursed once per line: thousands of short lines in one
    # read chunk used to raise RecursionError and drop the connection
    raws = [b"Subject: %d\r\n\r\nMET (\r\n" % i for i in range(2000)]
    imap_account.append(raws)
    async with ImapMailbox(imap_account.settings(batch_size=5000)) as box:
        await box.select()
        got = await box.fetch(await box.uids_after(0))
    assert [raw for _, raw in got] == raws


async def test_fetch_20_mb_message_byte_exact(imap_account: ImapAccount) -> None:
    line = os.urandom(57).hex().encode() + b"\r\n"
    body = TRICKY_BODY + line * (20 * 1024 * 1024 // len(line)) + TRICKY_BODY
    big = make_message(7, body)
    small = make_message(8)
    imap_account.append([small, big, small])
    async with ImapMailbox(imap_account.settings()) as box:
        await box.select()
        got = await box.fetch([1, 2, 3])
    assert [uid for uid, _ in got] == [1, 2, 3]
    assert got[1][1] == big
    assert got[0][1] == got[2][1] == small


# -- changing the mailbox -------------------------------------------------------------


async def test_ensure_folders_creates_them_once(imap_account: ImapAccount) -> None:
    settings = imap_account.settings(processed_folder="Traités", quarantine_folder="Quarantine")
    async with ImapMailbox(settings) as box:
        await box.ensure_folders()
        await box.ensure_folders()
    folders = imap_account.folders()
    assert {"INBOX", "Trait&AOk-s", "Quarantine"} <= folders


async def test_flag(imap_account: ImapAccount) -> None:
    imap_account.append([make_message(i) for i in range(3)])
    async with ImapMailbox(imap_account.settings()) as box:
        await box.select()
        await box.flag([1, 3], "\\Flagged")
        await box.flag([2], "$MailflowSeen")
        with pytest.raises(ValueError):
            await box.flag([2], "\\Seen) (\\Deleted")
    flags = {uid: flags for uid, (_, flags) in imap_account.messages().items()}
    assert "\\Flagged" in flags[1] and "\\Flagged" in flags[3]
    assert "$MailflowSeen" in flags[2] and "\\Flagged" not in flags[2]


@pytest.mark.parametrize("use_move", [True, False], ids=["MOVE", "COPY+UID-EXPUNGE"])
async def test_move_leaves_other_messages_untouched(imap_account: ImapAccount,
                                                    use_move: bool) -> None:
    raws = [make_message(i) for i in range(6)]
    imap_account.append(raws)
    # a message the owner marked \Deleted in their mail client must survive the fallback
    with imap_account.server.imaplib_session(imap_account.username,
                                             imap_account.password) as conn:
        conn.select("INBOX")
        conn.uid("STORE", "6", "+FLAGS", "(\\Deleted)")
    async with ImapMailbox(imap_account.settings(), use_move=use_move) as box:
        assert box.has_move is use_move
        await box.ensure_folders()
        await box.select()
        await box.move([2, 4], "Processed")
        assert await box.uids_after(0) == [1, 3, 5, 6]
    inbox = imap_account.messages()
    assert {uid: raw for uid, (raw, _) in inbox.items()} == {
        1: raws[0], 3: raws[2], 5: raws[4], 6: raws[5]}
    assert "\\Deleted" in inbox[6][1]
    processed = imap_account.messages("Processed")
    assert sorted(raw for raw, _ in processed.values()) == sorted([raws[1], raws[3]])
    assert all("\\Deleted" not in flags for _, flags in processed.values())


async def test_move_to_a_missing_folder_is_a_mailbox_error(imap_account: ImapAccount) -> None:
    imap_account.append([make_message(1)])
    async with ImapMailbox(imap_account.settings()) as box:
        await box.select()
        with pytest.raises(MailboxError, match="Nowhere"):
            await box.move([1], "Nowhere")
        assert await box.uids_after(0) == [1]


async def test_select_missing_folder_is_a_mailbox_error(imap_account: ImapAccount) -> None:
    async with ImapMailbox(imap_account.settings()) as box:
        with pytest.raises(MailboxError, match="Nowhere"):
            await box.select("Nowhere")
        assert await box.select() > 0


# -- IDLE ---------------------------------------------------------------------------------


async def test_idle_wakes_on_append_from_another_connection(
        imap_account: ImapAccount) -> None:
    async with ImapMailbox(imap_account.settings()) as box:
        await box.select()
        started = time.monotonic()
        waiter = asyncio.create_task(box.idle(60))
        await asyncio.sleep(0.5)
        await asyncio.to_thread(imap_account.append, [make_message(1)])
        assert await asyncio.wait_for(waiter, 30) is True
        assert time.monotonic() - started < 20
        assert await box.uids_after(0) == [1]
        # and the connection is still usable for another round
        assert await box.idle(0.5) is False


async def test_idle_times_out_without_mail(imap_account: ImapAccount) -> None:
    async with ImapMailbox(imap_account.settings()) as box:
        await box.select()
        started = time.monotonic()
        assert await box.idle(1.0) is False
        assert 0.9 < time.monotonic() - started < 5


# -- faults ---------------------------------------------------------------------------------


async def test_server_drop_between_commands(imap_account: ImapAccount) -> None:
    imap_account.append([make_message(1)])
    async with ImapMailbox(imap_account.settings(timeout_seconds=30)) as box:
        await box.select()
        await asyncio.to_thread(imap_account.kick)
        await asyncio.sleep(0.5)
        started = time.monotonic()
        with pytest.raises(ConnectionFailed):
            await box.uids_after(0)
        with pytest.raises(ConnectionFailed):
            await box.fetch([1])
        assert time.monotonic() - started < 5


async def test_server_drop_during_idle(imap_account: ImapAccount) -> None:
    async with ImapMailbox(imap_account.settings(timeout_seconds=30)) as box:
        await box.select()
        waiter = asyncio.create_task(box.idle(120))
        await asyncio.sleep(0.5)
        await asyncio.to_thread(imap_account.kick)
        with pytest.raises(ConnectionFailed, match="closed the connection"):
            await asyncio.wait_for(waiter, 10)


@contextlib.asynccontextmanager
async def cutting_proxy(target_port: int, cut_after: int) -> AsyncIterator[int]:
    """A TCP proxy to 127.0.0.1:target_port that drops both sides once the server
    has sent ``cut_after`` bytes."""

    handlers: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.add(asyncio.current_task())  # type: ignore[arg-type]
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target_port)
        sent = 0

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                       count: bool) -> None:
            nonlocal sent
            while data := await src.read(65536):
                if count:
                    sent += len(data)
                    if sent > cut_after:
                        break
                dst.write(data)
                await dst.drain()

        pumps = [asyncio.create_task(pump(reader, up_writer, False)),
                 asyncio.create_task(pump(up_reader, writer, True))]
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for w in (writer, up_writer):
            w.transport.abort()
        for task in pumps:
            task.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
        handlers.discard(asyncio.current_task())  # type: ignore[arg-type]

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        if handlers:
            await asyncio.wait(handlers, timeout=5)
        await server.wait_closed()


async def test_server_drop_mid_fetch(imap_account: ImapAccount) -> None:
    imap_account.append([make_message(1, b"x" * 2_000_000 + b"\r\n")])
    async with cutting_proxy(imap_account.server.imap_port, cut_after=500_000) as port:
        settings = imap_account.settings("none", port=port, timeout_seconds=30)
        async with ImapMailbox(settings) as box:
            await box.select()
            started = time.monotonic()
            with pytest.raises(ConnectionFailed, match="closed the connection"):
                await box.fetch([1])
            assert time.monotonic() - started < 5


async def test_silent_server_times_out(imap_account: ImapAccount) -> None:
    handlers: list[asyncio.Task[None]] = []

    async def greet_then_silence(reader: asyncio.StreamReader,
                                 writer: asyncio.StreamWriter) -> None:
        handlers.append(asyncio.current_task())  # type: ignore[arg-type]
        writer.write(b"* OK IMAP4rev1 ready\r\n")
        with contextlib.suppress(OSError):
            while await reader.read(1024):
                pass  # never answer
        writer.transport.abort()

    async def silence(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.append(asyncio.current_task())  # type: ignore[arg-type]
        with contextlib.suppress(OSError):
            await reader.read(1024)
        writer.transport.abort()

    for handler in (greet_then_silence, silence):
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        started = time.monotonic()
        try:
            with pytest.raises(ConnectionFailed, match=r"did not answer within 0\.5 s"):
                async with ImapMailbox(imap_account.settings(
                        "none", port=port, timeout_seconds=0.5)):
                    pass
        finally:
            server.close()
            if handlers:
                await asyncio.wait(handlers, timeout=5)
            await server.wait_closed()
        assert time.monotonic() - started < 3
