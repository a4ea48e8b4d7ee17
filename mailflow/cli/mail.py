"""Commands about single emails: outbox retry, quarantine list and accept, announce."""

from __future__ import annotations

from pathlib import Path

import click

from mailflow.cli.base import Context, fail, main, pass_ctx, print_sent, user_errors, valid_now
from mailflow.clock import parse_now

# --- outbox ---------------------------------------------------------------------------------


@main.group()
def outbox() -> None:
    """Failed emails: send them again."""


@outbox.command("retry")
@click.option("--kind", help="Only emails of this kind (intro, topic, liaison_welcome, ...).")
@click.option("--pair", "pair_id", help="Only this pair's emails.")
@click.option("--key", help="Only the email with this outbox key.")
@pass_ctx
@user_errors
def outbox_retry(ctx: Context, kind: str | None, pair_id: str | None, key: str | None) -> None:
    """Failed emails back to pending: the next pass sends them, same key and Message-ID."""
    from mailflow.services.outbox import retry_failed

    retried = retry_failed(ctx.app, kind=kind, pair_id=pair_id, key=key)
    if not retried:
        click.echo("no failed email matches: nothing to send again")
        return
    for entry in retried:
        click.echo(f"  pending again {entry.key} (was: {entry.last_error or 'failed'})")
    click.echo(f"{len(retried)} failed email(s) will be sent by the next pass "
               "(`mailflow send-due`, or the running service within minutes)")


# --- quarantine -----------------------------------------------------------------------------


@main.group()
def quarantine() -> None:
    """Quarantined messages: list them; accept a reply sent from another address."""


@quarantine.command("list")
@pass_ctx
@user_errors
def quarantine_list(ctx: Context) -> None:
    """Quarantined messages, with the roster person each most likely comes from."""
    from mailflow.render.filters import datetime_filter
    from mailflow.services.quarantine import quarantined

    rows = quarantined(ctx.app)
    if not rows:
        click.echo("the quarantine is empty")
        return
    zone, locale = ctx.app.settings.program.timezone, ctx.app.settings.program.locale
    for q in rows:
        when = datetime_filter(q.received_at, locale, zone) if q.received_at else "?"
        sender = f"{q.name} <{q.sender}>" if q.name else q.sender or "(no sender)"
        click.echo(f"{q.message_id}\n  {when} ({zone}) from {sender}: {q.subject!r} "
                   f"({q.reason})")
        if q.likely is not None:
            pairs = f", pair {', '.join(q.likely_pairs)}" if q.likely_pairs else ""
            click.echo(f"  most likely {q.likely.name} ({q.likely.email}{pairs}): "
                       f"mailflow quarantine accept '{q.message_id}' --as {q.likely.email}")
    click.echo(f"{len(rows)} quarantined message(s)")


@quarantine.command("accept")
@click.argument("message_id")
@click.option("--as", "as_email", required=True, metavar="EMAIL",
              help="The roster address of the person who sent it.")
@click.option("--remember", is_flag=True,
              help="Count later mail from its From address as this person's too.")
@pass_ctx
@user_errors
def quarantine_accept(ctx: Context, message_id: str, as_email: str, remember: bool) -> None:
    """Process a quarantined reply as the reply of a roster person."""
    import asyncio

    from mailflow.services.quarantine import accept

    ctx.refuse_far_off_sending()
    done = asyncio.run(accept(ctx.app, message_id, as_email, remember=remember))
    click.echo(f"{done.message_id} from {done.sender} processed as {done.person}'s reply "
               f"({done.outcome}); replies: {len(done.replies.sent)} sent")
    if done.remembered:
        click.echo(f"{done.sender} is now one of {done.person}'s addresses")
    if done.replies.connection_error:
        fail(f"replies not sent yet (they stay queued): {done.replies.connection_error}")


# --- announce -------------------------------------------------------------------------------


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--to", "audience", required=True, metavar="all|mentors|mentees|liaisons|PAIR_ID,...",
              help="Who gets it: everyone, one role, or both people of the pairs named.")
@click.option("--at", "at", callback=valid_now, metavar="ISO-DATETIME",
              help="Send it with the first send pass from this moment (default: now). "
                   "Without an offset: the program's time zone.")
@click.option("--dry-run", is_flag=True,
              help="Render it for everyone and say who would get it; send and record nothing.")
@pass_ctx
@user_errors
def announce(ctx: Context, file: Path, audience: str, at: str | None, dry_run: bool) -> None:
    """A one-off email (FILE.md: Subject line, Markdown, Jinja2), sent once per person."""
    import asyncio

    from mailflow.services.announce import announce as run_announce

    if not dry_run:
        ctx.refuse_far_off_sending()
    try:
        source = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{file}: cannot be read as UTF-8 text ({exc})")
    when = parse_now(at, ctx.app.settings.program.timezone) if at is not None else None
    report = asyncio.run(run_announce(ctx.app, source, audience, at=when, dry_run=dry_run,
                                      name=file.name))
    head = f"announcement {report.announcement_id} ({file.name}) to {report.audience}"
    if dry_run:
        click.echo(f"dry run: {head}: rendered for {len(report.entries)} recipient(s); "
                   "nothing was sent or recorded")
        for entry in report.entries:
            click.echo(f"  would send to {entry.person:<32} ({entry.key})")
        return
    click.echo(f"{head}: {len(report.entries)} recipient(s), {report.recorded} recorded now, "
               f"{report.already} recorded by an earlier run")
    if report.scheduled_at is not None:
        click.echo(f"scheduled: the send pass sends it from {report.scheduled_at.isoformat()}")
        return
    print_sent(report.sent, "announcement emails")
