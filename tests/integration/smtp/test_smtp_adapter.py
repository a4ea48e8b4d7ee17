"""The SMTP adapter against a real (in-process aiosmtpd) server with injected faults."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from datetime import UTC, datetime

import pytest
from smtp_server import RecordingSmtpServer, free_port, iter_bodies

from mailflow.adapters.smtp import SmtpSender, TokenBucket
from mailflow.config import SmtpSettings
from mailflow.errors import ConnectionFailed, DeliveryError
from mailflow.render.mime import OutgoingMessage, RenderedEmail, build_message

SettingsFactory = Callable[..., SmtpSettings]
NAME = "Zoë Ångström-Łukasiewicz"
TEXT = "Hallo Zoë — grüße aus Köln ✓\nZweite Zeile: ½ € ñ\n.a line that starts with a dot\n"


def make_message(i: int, *, to: str = "mentee@example.org", name: str = NAME) -> OutgoingMessage:
    """What mailflow sends: an `OutgoingMessage` from render/mime.py."""
    rendered = RenderedEmail(f"Thema {i}: Ziele für den Monat ✓", TEXT, f"<p>{TEXT}</p>\n")
    return build_message(
        rendered, sender="Comité de mentorat <committee@example.org>", to=to, to_name=name,
        reply_to="replies@example.org", message_id=f"<msg-{i}@mailflow.test>", kind="topic",
        pair_id=None, date=datetime(2026, 10, 1, 9, 0, tzinfo=UTC),
    )


async def collect(
    sender: SmtpSender, count: int, *, to: Callable[[int], str] = lambda i: "a@example.org"
) -> dict[int, DeliveryError | None]:
    items = [(i, make_message(i), [to(i)]) for i in range(count)]
    results: dict[int, DeliveryError | None] = {}
    async with aclosing(sender.send_many(items)) as stream:
        async for key, error in stream:
            assert key not in results
            results[key] = error
    return results


# --- connection reuse, concurrency, rate --------------------------------------------


async def test_many_messages_over_one_reused_connection(
    smtp_server: RecordingSmtpServer, smtp_settings: SettingsFactory
) -> None:
    async with SmtpSender(smtp_settings(smtp_server)) as sender:
        for i in range(25):
            await sender.send(make_message(i), ["a@example.org"])
        results = await collect(sender, 25)
    assert all(error is None for error in results.values())
    assert len(smtp_server.messages) == 50
    assert smtp_server.sessions == 1
    smtp_server.wait_idle()  # closing the sender QUITs


async def test_send_many_spreads_over_at_most_max_connections(
    smtp_server: RecordingSmtpServer, smtp_settings: SettingsFactory
) -> None:
    smtp_server.delay = 0.02  # slow enough that connections overlap
    async with SmtpSender(smtp_settings(smtp_server, max_connections=3)) as sender:
        results = await collect(sender, 30)
    assert sorted(results) == list(range(30))
    assert all(error is None for error in results.values())
    assert len(smtp_server.messages) == 30
    assert 2 <= smtp_server.max_concurrent <= 3
    assert smtp_server.sessions <= 3
    assert len({m.session for m in smtp_server.messages}) >= 2


async def test_send_many_streams_results_and_pulls_items_lazily(
    smtp_server: RecordingSmtpServer, smtp_settings: SettingsFactory
) -> None:
    log: list[str] = []

    async def items() -> AsyncIterator[tuple[int, OutgoingMessage, list[str]]]:
        for i in range(5):
            log.append(f"sending {i}")  # what the dispatcher records before the transaction
            yield i, make_message(i), ["a@example.org"]

    sender = SmtpSender(smtp_settings(smtp_server))
    async with sender, aclosing(sender.send_many(items())) as stream:
        async for key, error in stream:
            assert error is None
            assert f"sending {key}" in log
            log.append(f"sent {key}")
    assert log.index("sent 0") < log.index("sending 4")  # streamed, not collected at the end
    assert [m.message()["Message-ID"] for m in smtp_server.messages] == [
        f"<msg-{i}@mailflow.test>" for i in range(5)
    ]


async def test_rate_limit_spaces_messages(
    smtp_server: RecordingSmtpServer, smtp_settings: SettingsFactory
) -> None:
    settings = smtp_settings(smtp_server, rate_per_minute=600, max_connections=2)  # one per 0.1 s
    started = time.monotonic()
    async with SmtpSender(settings) as sender:
        results = await collect(sender, 6)
    elapsed = time.monotonic() - started
    assert all(error is None for error in results.values())
    assert len(smtp_server.messages) == 6
    assert elapsed >= 0.5 * 0.99  # five intervals between six tokens: a lower bound only


async def test_token_bucket_burst_and_unlimited() -> None:
    unlimited = TokenBucket(0)
    burst = TokenBucket(60, burst=3)  # one a second, three at once
    started = time.monotonic()
    for _ in range(100):
        await unlimited.acquire()
    for _ in range(3):
        await burst.acquire()
    assert burst._next - started >= 3 * 0.99  # the next token is a second after the third
    assert burst.interval == 1.0


# --- TLS and login ------------------------------------------------------------------


async def test_implicit_tls_with_test_ca_and_env_password(
    smtp_tls_server: RecordingSmtpServer, smtp_settings: SettingsFactory,
    smtp_login: tuple[str, str, str],
) -> None:
    settings = smtp_settings(smtp_tls_server)
    assert settings.security == "tls" and settings.ca_file is not None
    async with SmtpSender(settings) as sender:  # the password comes from the environment
        await sender.send(make_message(1), ["a@example.org"])
    (received,) = smtp_tls_server.messages
    assert received.tls
    assert received.login == smtp_login[0]
    assert smtp_tls_server.logins == [(smtp_login[0], True)]


async def test_starttls_with_test_ca(
    smtp_starttls_server: RecordingSmtpServer, smtp_settings: SettingsFactory,
    smtp_login: tuple[str, str, str],
) -> None:
    async with SmtpSender(smtp_settings(smtp_starttls_server)) as sender:
        await sender.send(make_message(1), ["a@example.org"])
        await sender.send(make_message(2), ["b@example.org"])
    assert [m.tls for m in smtp_starttls_server.messages] == [True, True]
    assert [m.login for m in smtp_starttls_server.messages] == [smtp_login[0]] * 2
    assert smtp_starttls_server.sessions == 1


@pytest.mark.parametrize("fixture", ["smtp_tls_server", "smtp_starttls_server"])
async def test_certificate_not_trusted_without_the_ca(
    fixture: str, request: pytest.FixtureRequest, smtp_settings: SettingsFactory,
    smtp_login: tuple[str, str, str],
) -> None:
    server: RecordingSmtpServer = request.getfixturevalue(fixture)
    async with SmtpSender(smtp_settings(server, ca_file=None)) as sender:
        with pytest.raises(ConnectionFailed) as caught:
            await sender.send(make_message(1), ["a@example.org"])
    assert "certificate" in str(caught.value) and "ca_file" in str(caught.value)
    assert smtp_login[1] not in str(caught.value)
    assert server.messages == [] and server.logins == []


async def test_wrong_password_is_connection_failed_without_the_password(
    smtp_tls_server: RecordingSmtpServer, smtp_settings: SettingsFactory,
    smtp_login: tuple[str, str, str], caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="mailflow")
    wrong = smtp_login[1] + "-wrong"
    async with SmtpSender(smtp_settings(smtp_tls_server), password=wrong) as sender:
        with pytest.raises(ConnectionFailed) as caught:
            await sender.send(make_message(1), ["a@example.org"])
        with pytest.raises(ConnectionFailed):  # a batch stops the same way
            await collect(sender, 3)
    message = str(caught.value)
    assert "login" in message and smtp_login[2] in message  # says which env var to check
    assert wrong not in message and smtp_login[1] not in message
    assert wrong not in caplog.text
    assert smtp_tls_server.messages == []
    assert (smtp_login[0], False) in smtp_tls_server.logins


async def test_unreachable_server_is_connection_failed(smtp_settings: SettingsFactory) -> None:
    settings = SmtpSettings(host="127.0.0.1", port=free_port(), security="none",
                            timeout_seconds=5)
    async with SmtpSender(settings) as sender:
        with pytest.raises(ConnectionFailed, match=r"127\.0\.0\.1:\d+"):
            await sender.send(make_message(1), ["a@example.org"])
        results: list[object] = []
        with pytest.raises(ConnectionFailed):
            async with aclosing(sender.send_many([(1, make_message(1), ["a@x.org"])])) as s:
                results.extend([r async for r in s])
        assert results == []


# --- refusals and faults ------------------------------------------------------------------


@pytest.mark.parametrize(("code", "stage"), [(451, "data"), (450, "rcpt"), (452, "mail")])
async def test_4xx_is_temporary_and_the_connection_is_kept(
    code: int, stage: str, smtp_server: RecordingSmtpServer, smtp_settings: SettingsFactory
) -> None:
    async with SmtpSender(smtp_settings(smtp_server)) as sender:
        await sender.send(make_message(0), ["a@example.org"])
        smtp_server.fail_next(code, stage=stage)  # type: ignore[arg-type]
        with pytest.raises(DeliveryError) as caught:
            await sender.send(make_message(1), ["a@example.org"])
        await sender.send(make_message(2), ["a@example.org"])
    assert caught.value.temporary and caught.value.code == code
    assert len(smtp_server.messages) == 2 and smtp_server.sessions == 1


@pytest.mark.parametrize(("code", "stage"), [(554, "data"), (550, "rcpt"), (553, "mail")])
async def test_5xx_is_permanent_with_its_code(
    code: int, stage: str, smtp_server: RecordingSmtpServer, smtp_settings: SettingsFactory
) -> None:
    smtp_server.fail_next(code, stage=stage)  # type: ignore[arg-type]
    async with SmtpSender(smtp_settings(smtp_server)) as sender:
        with pytest.raises(DeliveryError) as caught:
            await sender.send(make_message(1), ["a@example.org"])
        await sender.send(make_message(2), ["a@example.org"])
    assert not caught.value.temporary and caught.value.code == code
    assert str(code) in str(caught.value)
    assert len(smtp_server.messages) == 1 and smtp_server.sessions == 1


async def test_one_refused_recipient_of_two_is_still_sent(
    smtp_server: RecordingSmtpServer, smtp_settings: SettingsFactory
) -> None:
    smtp_server.fail_next(550, stage="rcpt")
    async with SmtpSender(smtp_settings(smtp_server)) as sender:
        await sender.send(make_message(1), ["gone@example.org", "b@example.org"])
    assert [m.rcpt_tos for m in smtp_server.messages] == [["b@example.org"]]


async def test_421_is_temporary_and_the_next_message_gets_a_new_connection(
    smtp_server: RecordingSmtpServer, smtp_settings: SettingsFactory
) -> None:
    smtp_server.fail_next(421)
    async with SmtpSender(smtp_settings(smtp_server)) as sender:
        with pytest.raises(DeliveryError) as caught:
            await sender.send(make_message(1), ["a@example.org"])
        await sender.send(make_message(2), ["a@example.org"])
    assert caught.value.temporary and caught.value.code == 421
    assert len(smtp_server.messages) == 1 and smtp_server.sessions == 2


async def test_reused_connection_closed_before_mail_from_is_reopened_transparently(
    smtp_server: RecordingSmtpServer, smtp_settings: SettingsFactory
) -> None:
    async with SmtpSender(smtp_settings(smtp_server)) as sender:
        await sender.send(make_message(1), ["a@example.org"])
        smtp_server.fail_next(421, stage="mail")  # e.g. the server's idle timeout
        await sender.send(make_message(2), ["a@example.org"])  # nothing of it was sent yet
    assert len(smtp_server.messages) == 2 and smtp_server.sessions == 2


async def test_drop_mid_data_is_temporary_and_never_retried(
    smtp_server: RecordingSmtpServer, smtp_settings: SettingsFactory
) -> None:
    smtp_server.drop_next()
    async with SmtpSender(smtp_settings(smtp_server)) as sender:
        with pytest.raises(DeliveryError) as caught:
            await sender.send(make_message(1), ["a@example.org"])
        await sender.send(make_message(2), ["a@example.org"])
    assert caught.value.temporary
    assert len(smtp_server.dropped) == 1  # the server had the data: a retry may duplicate
    assert [m.message()["Message-ID"] for m in smtp_server.messages] == ["<msg-2@mailflow.test>"]
    assert smtp_server.sessions == 2


async def test_stall_times_out_as_temporary(
    smtp_server: RecordingSmtpServer, smtp_settings: SettingsFactory
) -> None:
    smtp_server.stall_next(60)
    started = time.monotonic()
    async with SmtpSender(smtp_settings(smtp_server, timeout_seconds=0.5)) as sender:
        with pytest.raises(DeliveryError) as caught:
            await sender.send(make_message(1), ["a@example.org"])
        await sender.send(make_message(2), ["a@example.org"])
    assert caught.value.temporary and caught.value.code is None
    assert time.monotonic() - started < 30  # bounded by the timeout, not the 60 s stall
    assert len(smtp_server.messages) == 1 and smtp_server.sessions == 2


async def test_send_many_reports_each_fault_and_carries_on(
    smtp_server: RecordingSmtpServer, smtp_settings: SettingsFactory
) -> None:
    smtp_server.fail_next(550, stage="rcpt")  # the first message
    async with SmtpSender(smtp_settings(smtp_server, timeout_seconds=0.5)) as sender:
        first = await collect(sender, 3)
        smtp_server.drop_next()
        second = await collect(sender, 3)
        smtp_server.stall_next(60)
        third = await collect(sender, 3)
    assert first[0] is not None and first[0].code == 550 and not first[0].temporary
    for batch in (second, third):
        assert batch[0] is not None and batch[0].temporary
    assert [first[1], first[2], second[1], second[2], third[1], third[2]] == [None] * 6
    assert len(smtp_server.messages) == 6
    assert smtp_server.sessions == 3  # the first, then one fresh one after each fault


# --- content ------------------------------------------------------------------------------


async def test_non_ascii_names_and_utf8_bodies_arrive_intact(
    smtp_server: RecordingSmtpServer, smtp_settings: SettingsFactory
) -> None:
    async with SmtpSender(smtp_settings(smtp_server)) as sender:
        await sender.send(make_message(7), ["mentee@example.org"])
    (received,) = smtp_server.messages
    assert received.mail_from == "committee@example.org"
    assert received.rcpt_tos == ["mentee@example.org"]
    assert "BODY=8BITMIME" in received.mail_options
    head, _, _body = received.data.partition(b"\r\n\r\n")
    assert head.isascii()  # non-ASCII names and subject are RFC 2047 encoded
    parsed = received.message()
    assert parsed["To"].addresses[0].display_name == NAME
    assert parsed["Subject"] == "Thema 7: Ziele für den Monat ✓"
    assert dict(iter_bodies(parsed)) == {"text/plain": TEXT, "text/html": f"<p>{TEXT}</p>\n"}


async def test_data_is_the_messages_bytes_with_crlf_and_no_bcc(
    smtp_server: RecordingSmtpServer, smtp_settings: SettingsFactory
) -> None:
    """The server gets the composed bytes unchanged (the line starting with a dot is
    dot-stuffed on the wire and unstuffed by the server): CRLF only, and never a Bcc
    header, which a message from render/mime.py cannot carry."""
    message = make_message(1)
    async with SmtpSender(smtp_settings(smtp_server)) as sender:
        await sender.send(message, ["secret@example.org"])
    (received,) = smtp_server.messages
    assert received.data == message.data
    assert b"\r\n" in received.data and b"\n" not in received.data.replace(b"\r\n", b"")
    assert b"bcc:" not in received.data.lower()
    assert b"secret@example.org" not in received.data


async def test_cancelled_batch_leaves_no_half_open_session(
    smtp_server: RecordingSmtpServer, smtp_settings: SettingsFactory
) -> None:
    smtp_server.delay = 0.05
    async with SmtpSender(smtp_settings(smtp_server, max_connections=2)) as sender:
        taken = 0
        items = [(i, make_message(i), ["a@example.org"]) for i in range(20)]
        async with aclosing(sender.send_many(items)) as stream:
            async for _key, error in stream:
                assert error is None
                taken += 1
                if taken == 2:
                    break
        await sender.send(make_message(99), ["a@example.org"])  # the pool still works
    await asyncio.to_thread(smtp_server.wait_idle)
    assert "<msg-99@mailflow.test>" in [m.message()["Message-ID"] for m in smtp_server.messages]


async def test_a_connect_cancelled_before_ehlo_is_answered_closes_its_socket() -> None:
    """A batch that ends cancels workers that are still connecting; their sockets
    must be closed, not left for the garbage collector (a leaked connection)."""
    closed = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 mx.test ESMTP\r\n")  # greets, then never answers EHLO
        await writer.drain()
        while await reader.read(1024):  # until the client closes its end
            pass
        closed.set()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = SmtpSettings(host="127.0.0.1", port=port, security="none", timeout_seconds=30)
    try:
        sender = SmtpSender(settings, local_hostname="client.test")
        opening = asyncio.create_task(sender._open(1))
        await asyncio.sleep(0.2)  # connected and greeted, waiting for the EHLO reply
        opening.cancel()
        with pytest.raises(asyncio.CancelledError):
            await opening
        await asyncio.wait_for(closed.wait(), timeout=5)
    finally:
        server.close()
        await server.wait_closed()
