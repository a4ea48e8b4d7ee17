"""The passes: send-due, digest and poll once each, and `run`, the service that repeats them."""

from __future__ import annotations

import click

from mailflow.cli.base import (
    Context,
    fail,
    main,
    pass_ctx,
    print_send_report,
    user_errors,
    valid_now,
)
from mailflow.clock import parse_now


@main.command("send-due")
@click.option("--dry-run", is_flag=True, help="Show what would be sent; send and record nothing.")
@pass_ctx
@user_errors
def send_due(ctx: Context, dry_run: bool) -> None:
    """One pass: plan, render and send what is due."""
    import asyncio

    if not dry_run:
        ctx.refuse_far_off_sending()
    report = asyncio.run(ctx.app.send_due(dry_run=dry_run))
    print_send_report(report, "emails", dry_run)


@main.command()
@click.option("--dry-run", is_flag=True, help="Show what would be sent; send and record nothing.")
@pass_ctx
@user_errors
def digest(ctx: Context, dry_run: bool) -> None:
    """Send the liaison and coordinator digests that are due."""
    import asyncio

    if not dry_run:
        ctx.refuse_far_off_sending()
    report = asyncio.run(ctx.app.send_due(dry_run=dry_run, digests=True))
    print_send_report(report, "digests", dry_run)


@main.command()
@click.option("--dry-run", is_flag=True,
              help="Show what would be handled; store, move and send nothing.")
@pass_ctx
@user_errors
def poll(ctx: Context, dry_run: bool) -> None:
    """One pass over the inbox: replies, bounces and auto-replies."""
    import asyncio

    if not dry_run:
        ctx.refuse_far_off_sending()
    report, sent = asyncio.run(ctx.app.poll(dry_run=dry_run))
    if dry_run:
        click.echo(f"dry run: {len(report.would_handle)} new message(s); nothing was changed")
        for message_id, kind, sender in report.would_handle:
            click.echo(f"  {kind:<16} from {sender or '(unknown)'}  {message_id}")
    else:
        summary = ", ".join(f"{n} {kind}" for kind, n in sorted(report.outcomes.items()))
        click.echo(f"poll: {report.handled} message(s) handled" + (f" ({summary})"
                                                                   if summary else ""))
        for uid, reason in report.quarantined:
            click.echo(f"  quarantined uid {uid}: {reason}")
        if report.queued:
            click.echo(f"replies: {len(sent.sent)} sent, {len(sent.deferred)} deferred, "
                       f"{len(sent.failed)} failed")
    if report.connection_error:
        fail(report.connection_error)
    if sent.connection_error:
        fail(f"replies not sent yet (they stay queued): {sent.connection_error}")


@main.command()
@click.option("--speed", type=click.FloatRange(min=1.0), default=1.0, show_default=True,
              help="Run the program clock this many times faster, from --now (demos).")
@click.option("--until", "until", callback=valid_now, metavar="ISO-DATETIME",
              help="Stop once the program clock passes this moment (simulations).")
@click.option("--log-format", type=click.Choice(["plain", "json"]), default="plain",
              show_default=True)
@pass_ctx
@user_errors
def run(ctx: Context, speed: float, until: str | None, log_format: str) -> None:
    """The service: send-due, poll and digests on schedule, until stopped."""
    import asyncio

    from mailflow import logs
    from mailflow.services.service import Service, prepare_run
    from mailflow.services.signin import sign_in_at_start

    logs.configure(log_format)
    app = ctx.app
    ctx.refuse_far_off_sending()
    prepare_run(app, speed=speed, simulated=ctx.now_given)
    stop_at = parse_now(until, app.settings.program.timezone) if until else None
    with app.service_lock():
        refused = asyncio.run(sign_in_at_start(app))
        if refused:  # a refused login stops the service at start; an unreachable server waits
            fail("; ".join(str(p) for p in refused) + " (fix the settings, then start again)")
        asyncio.run(Service(app, speed=speed, until=stop_at).run())
