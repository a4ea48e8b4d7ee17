"""Command line: parses arguments, calls the app, prints. No logic here.

Exit status: 0 success, 1 a user error with a message saying what to fix,
2 a usage error (click's own).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from mailflow.app import App, scaffold
from mailflow.clock import Clock, FixedClock, SystemClock, parse_now
from mailflow.config import load_settings
from mailflow.errors import MailflowError, RosterError

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    def __init__(self, config: Path, now: str | None) -> None:
        self.config_path = config
        self.now_text = now
        self.now_given = now is not None
        self._app: App | None = None

    @property
    def app(self) -> App:
        if self._app is None:
            settings = load_settings(self.config_path)
            zone = settings.program.timezone  # a --now without an offset is the program's
            clock: Clock = FixedClock(parse_now(self.now_text, zone)) if self.now_text \
                else SystemClock()
            self._app = App(settings, clock, self.config_path)
        return self._app

    @property
    def clock(self) -> Clock:
        return self.app.clock

    def refuse_far_off_sending(self) -> None:
        """A simulation (a --now far from now) must not email real people."""
        if self.now_given:
            from mailflow.services.simulation import refuse_far_off_sending

            refuse_far_off_sending(self.clock.now(), SystemClock().now(),
                                   self.app.settings.smtp.host)


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def user_errors(func: F) -> F:
    """Turn MailflowError into `error: ...` on stderr and exit status 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RosterError as exc:
            click.echo(f"error: the roster was not imported ({len(exc.problems)} "
                       f"problem{'s' if len(exc.problems) != 1 else ''}); nothing was changed:",
                       err=True)
            for problem in exc.problems:
                click.echo(f"  {problem}", err=True)
            sys.exit(1)
        except MailflowError as exc:
            fail(str(exc))

    return wrapper  # type: ignore[return-value]


def _valid_now(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        try:
            parse_now(value)
        except ValueError:
            raise click.BadParameter(
                f"expected an ISO date or date-time like 2026-09-01T09:00, got {value!r}"
            ) from None
    return value


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-c", "--config", "config", type=click.Path(path_type=Path),
              default=Path("config.toml"), show_default=True, help="The program's config file.")
@click.option("--now", callback=_valid_now, metavar="ISO-DATETIME",
              help="Decide everything as if it were this moment (dry runs, tests, simulations).")
@click.option("-v", "--verbose", is_flag=True,
              help="Also show the log (every connection, message and decision) on stderr.")
@click.version_option(package_name="mailflow")
@click.pass_context
def main(ctx: click.Context, config: Path, now: str | None, verbose: bool) -> None:
    """mailflow runs a mentoring program by email."""
    from mailflow import logs

    if verbose:
        logs.configure()
    else:
        logs.quiet()
    ctx.obj = Context(config, now)


pass_ctx = click.make_pass_decorator(Context)


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


# --- init / check / roster ----------------------------------------------------


@main.command()
@click.argument("directory", type=click.Path(path_type=Path))
@user_errors
def init(directory: Path) -> None:
    """Scaffold a program folder: config.toml, templates/, roster.example.csv."""
    for path in scaffold(directory):
        click.echo(f"created {path}")
    click.echo(
        f"\nNext: edit {directory / 'config.toml'}, put your pairs in roster.csv "
        "(columns as in roster.example.csv), then run:\n"
        f"  cd {directory} && mailflow check && mailflow roster import roster.csv"
    )


@main.command()
@click.option("--roster", "roster_file", type=click.Path(path_type=Path),
              help="Also validate this roster file (default: roster.csv beside the config).")
@click.option("--offline", is_flag=True, help="Do not sign in to the SMTP and IMAP servers.")
@pass_ctx
@user_errors
def check(ctx: Context, roster_file: Path | None, offline: bool) -> None:
    """Validate config, roster and templates, and sign in to the mail servers."""
    from mailflow.services.checks import run_checks

    report = run_checks(ctx.app, roster_file, sign_in=not offline)
    for line in report.notes:
        click.echo(line)
    for line in report.warnings:
        click.echo(f"warning: {line}", err=True)
    if report.errors:
        for line in report.errors:
            click.echo(f"error: {line}", err=True)
        sys.exit(1)
    click.echo("ok: configuration, templates and roster are valid")


@main.group()
def roster() -> None:
    """Import the roster of pairs."""


@roster.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@pass_ctx
@user_errors
def roster_import(ctx: Context, file: Path) -> None:
    """Import pairs from a roster file (all or nothing; updates pairs by pair_id).

    FILE is what a spreadsheet saves: CSV separated by commas or semicolons (UTF-8, with or
    without BOM), or the Excel workbook (.xlsx) itself, whose first sheet is read."""
    report = ctx.app.import_roster(file)
    click.echo(f"imported {file}: {len(report.added)} added, {len(report.updated)} updated, "
               f"{len(report.unchanged)} unchanged")
    for pair_id, month in report.joining:
        click.echo(f"{pair_id} joins mid-term, in month {month}: one intro that says so, "
                   "no earlier topics, quiet spells counted from it")
    if report.missing:
        click.echo(f"note: {len(report.missing)} stored pair(s) are not in this file and were "
                   f"kept (end them with `mailflow pair end ID`): {', '.join(report.missing)}")


# --- status ---------------------------------------------------------------------


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
@user_errors
def status(ctx: Context, as_json: bool) -> None:
    """Pairs, last check-in, open escalations, service health."""
    from mailflow.services.status import program_status, render_status

    with ctx.app.repository(readonly=True) as repo:
        result = program_status(ctx.app.settings, repo, ctx.clock.now())
    if as_json:
        echo_json(result)
    else:
        click.echo(render_status(result))


# --- plan / send-due / digest ------------------------------------------------------


@main.command()
@click.option("--days", type=click.IntRange(0, 3660), default=14, show_default=True,
              help="How far ahead to look.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
@user_errors
def plan(ctx: Context, days: int, as_json: bool) -> None:
    """What will be sent, to whom, when."""
    from mailflow.services.forecast import forecast, render_forecast

    rows = forecast(ctx.app, days)
    if as_json:
        echo_json(rows)
    else:
        click.echo(render_forecast(rows, ctx.app.settings.program.timezone, days))


def _print_send_report(report: Any, what: str, dry_run: bool) -> None:
    if dry_run:
        click.echo(f"dry run: {len(report.would_send)} {what} would be sent now, "
                   f"{len(report.skipped)} skipped; nothing was sent or recorded")
        for entry in report.would_send:
            click.echo(f"  would send {entry.kind:<16} to {entry.person:<32} ({entry.key})")
        for entry in report.skipped:
            click.echo(f"  would skip {entry.key}: {entry.last_error}")
        for key, error in report.held:
            click.echo(f"  NOT RENDERED {key}: {error}")
        if report.held:
            fail(f"{len(report.held)} of these could not be rendered: the real pass would "
                 "send nothing; fix the template (`mailflow templates check`)")
        return
    _print_sent(report, what)


def _print_sent(report: Any, what: str) -> None:
    click.echo(f"{what}: {len(report.sent)} sent, {len(report.deferred)} deferred (will retry), "
               f"{len(report.failed)} failed, {len(report.skipped)} skipped, "
               f"{len(report.held)} not rendered")
    for key, error in report.deferred:
        click.echo(f"  deferred {key}: {error}")
    for key, error in report.failed:
        click.echo(f"  FAILED {key}: {error}")
    for key, error in report.held:
        click.echo(f"  NOT RENDERED {key}: {error}")
    for entry in report.skipped:
        click.echo(f"  skipped {entry.key}: {entry.last_error}")
    if report.failed:
        click.echo("  (send them again with `mailflow outbox retry` once the cause is fixed)")
    if report.blocked:
        fail(f"{report.blocked} (the coordinators were alerted)")
    if report.connection_error:
        fail(f"{report.connection_error} (nothing unsent was marked sent; run again later)")


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
    _print_send_report(report, "emails", dry_run)


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
    _print_send_report(report, "digests", dry_run)


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
@click.option("--until", "until", callback=_valid_now, metavar="ISO-DATETIME",
              help="Stop once the program clock passes this moment (simulations).")
@click.option("--log-format", type=click.Choice(["plain", "json"]), default="plain",
              show_default=True)
@pass_ctx
@user_errors
def run(ctx: Context, speed: float, until: str | None, log_format: str) -> None:
    """The service: send-due, poll and digests on schedule, until stopped."""
    import asyncio

    from mailflow import logs
    from mailflow.clock import AcceleratedClock
    from mailflow.services.service import Service

    logs.configure(log_format)
    app = ctx.app
    ctx.refuse_far_off_sending()
    if speed != 1.0 or ctx.now_given:
        app.clock = AcceleratedClock(app.clock.now(), speed)
    app.settings.smtp.password()  # fail now, not at the first pass, if a secret is missing
    app.settings.imap.password()
    stop_at = parse_now(until, app.settings.program.timezone) if until else None
    with app.service_lock():
        _sign_in_or_exit(app)
        asyncio.run(Service(app, speed=speed, until=stop_at).run())


def _sign_in_or_exit(app: App) -> None:
    """A refused login stops the service at start; an unreachable server only waits."""
    import asyncio
    import logging

    from mailflow.services.signin import sign_in

    log = logging.getLogger("mailflow.service")
    problems = asyncio.run(sign_in(app))
    for problem in problems:
        if not problem.refused:
            log.warning("%s (starting anyway: each pass tries again)", problem)
    refused = [p for p in problems if p.refused]
    if refused:
        fail("; ".join(str(p) for p in refused) + " (fix the settings, then start again)")


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


@main.command()
@click.option("--host", help="Listen on this address (default: [web].host, loopback).")
@click.option("--port", type=click.IntRange(0, 65535), help="Listen on this port (default: "
              "[web].port; 0 picks a free one).")
@click.option("--log-format", type=click.Choice(["plain", "json"]), default="plain",
              show_default=True)
@pass_ctx
@user_errors
def web(ctx: Context, host: str | None, port: int | None, log_format: str) -> None:
    """The web console for coordinators and liaisons (sign-in by an emailed link)."""
    import asyncio

    from mailflow import logs
    from mailflow.web.app import serve_until_signalled

    logs.configure(log_format)
    asyncio.run(serve_until_signalled(ctx.app, host, port))


# --- auth (OAuth 2.0) -----------------------------------------------------------------


@main.group()
def auth() -> None:
    """Sign in to the mailbox with OAuth 2.0 (Microsoft 365, Google Workspace, custom)."""


@auth.command("login")
@pass_ctx
@user_errors
def auth_login(ctx: Context) -> None:
    """Sign in once (a code to enter, or a browser); keeps the refresh token in token_cache."""
    import asyncio
    import webbrowser

    from mailflow.oauth.login import login

    oauth, account = ctx.app.oauth_account()
    cache = ctx.app.token_cache()
    result = asyncio.run(login(oauth, account, cache, click.echo, open_browser=webbrowser.open))
    click.echo(f"ok: signed in to {result.account} (scope: {result.scope}); the access token "
               f"expires {result.expires_at}; {cache.path} keeps what mailflow needs")


@auth.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
@user_errors
def auth_status(ctx: Context, as_json: bool) -> None:
    """Account, scopes, expiry and last refresh (never a token)."""
    from mailflow.oauth.tokens import auth_status as read_status

    oauth, account = ctx.app.oauth_account()
    result = {"configured_account": account, **read_status(oauth, ctx.app.token_cache())}
    if as_json:
        echo_json(result)
        return
    for key, value in result.items():
        click.echo(f"{key.replace('_', ' ')}: {value if value is not None else '-'}")


# --- export / backup ---------------------------------------------------------------------


@main.command()
@click.argument("what", type=click.Choice(["events", "escalations", "outbox"]))
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv",
              show_default=True)
@click.option("--out", type=click.Path(path_type=Path), help="Write to this file, not stdout.")
@pass_ctx
@user_errors
def export(ctx: Context, what: str, fmt: str, out: Path | None) -> None:
    """Export events, escalations or the outbox."""
    from mailflow.services import export as exporter

    with ctx.app.repository(readonly=True) as repo:
        text = exporter.render(exporter.rows(repo, what), what, fmt)
    if out:
        out.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        click.echo(f"wrote {out}", err=True)
    else:
        click.echo(text.rstrip("\n"))


@main.command()
@click.argument("destination", type=click.Path(path_type=Path))
@pass_ctx
@user_errors
def backup(ctx: Context, destination: Path) -> None:
    """Write the whole store as one consistent file (restore: use it as [storage].path)."""
    with ctx.app.repository() as repo:
        repo.store.backup(destination)
    click.echo(f"backed up {ctx.app.settings.storage_path} to {destination}")


@main.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("report.html"),
              show_default=True, help="Where to write the report.")
@click.option("--share-notes", is_flag=True,
              help="Include check-in notes (they stay between mentor and mentee by default).")
@pass_ctx
@user_errors
def report(ctx: Context, out: Path, share_notes: bool) -> None:
    """The committee's report: engagement by month, escalations, goals, feedback (HTML)."""
    from mailflow.report.page import build_report
    from mailflow.services.state import ProgramState

    with ctx.app.repository(readonly=True) as repo:
        state = ProgramState.load(repo, ctx.app.settings.program_model(), ctx.clock.now())
    html = build_report(state, generated_at=ctx.clock.now(), share_notes=share_notes)
    out.write_text(html, encoding="utf-8")
    click.echo(f"wrote {out} (open it in a browser, or print it)")


# --- templates -------------------------------------------------------------------------------


@main.group()
def templates() -> None:
    """Check and preview the email templates."""


@templates.command("check")
@pass_ctx
@user_errors
def templates_check(ctx: Context) -> None:
    """Render every template against sample data; report file:line of any error."""
    problems = ctx.app.renderer().check()
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    if problems:
        sys.exit(1)
    click.echo(f"ok: every template in {ctx.app.renderer().template_dir} renders")


@templates.command("preview")
@click.argument("name")
@click.option("--pair", "pair_id", help="Render with this pair's real data.")
@click.option("--out", type=click.Path(path_type=Path),
              help="Write .html (open in a browser) or .eml (open in a mail program).")
@pass_ctx
@user_errors
def templates_preview(ctx: Context, name: str, pair_id: str | None, out: Path | None) -> None:
    """Render one template (sample data, or a real pair's)."""
    from mailflow.services.preview import preview

    rendered, message = preview(ctx.app, name, pair_id)
    if out is None:
        click.echo(f"Subject: {rendered.subject}\n\n{rendered.text}")
    elif out.suffix.lower() == ".eml":
        out.write_bytes(bytes(message))
        click.echo(f"wrote {out}")
    else:
        out.write_text(rendered.html, encoding="utf-8")
        click.echo(f"wrote {out}")


# --- pair ---------------------------------------------------------------------------------------


@main.group()
def pair() -> None:
    """Pause, resume or end a pair."""


@pair.command("pause")
@click.argument("pair_id")
@click.option("--until", "until", type=click.DateTime(["%Y-%m-%d"]),
              help="Last day of the pause is the day before this (default: 30 days).")
@pass_ctx
@user_errors
def pair_pause(ctx: Context, pair_id: str, until: Any) -> None:
    """Pause topic emails and nudges for both people in the pair."""
    from mailflow.services.pairs import pause_pair

    until_day = pause_pair(ctx.app, pair_id, until.date() if until else None)
    click.echo(f"{pair_id}: paused until {until_day}")


@pair.command("resume")
@click.argument("pair_id")
@pass_ctx
@user_errors
def pair_resume(ctx: Context, pair_id: str) -> None:
    """End a pause."""
    from mailflow.services.pairs import resume_pair

    resume_pair(ctx.app, pair_id)
    click.echo(f"{pair_id}: resumed")


@pair.command("end")
@click.argument("pair_id")
@click.option("--reason", default="", help="Kept with the pair's record.")
@pass_ctx
@user_errors
def pair_end(ctx: Context, pair_id: str, reason: str) -> None:
    """End the match: only the feedback request (and a mentor's letter) follow."""
    from mailflow.services.pairs import end_pair

    end_pair(ctx.app, pair_id, reason)
    click.echo(f"{pair_id}: ended")


# --- demo ---------------------------------------------------------------------------------------


@main.command()
@click.option("--dir", "directory", type=click.Path(path_type=Path),
              default=Path("mailflow-demo"), show_default=True,
              help="Where to create the demo program (a previous demo folder is replaced).")
@click.option("--pairs", type=click.IntRange(4, 40), default=4, show_default=True,
              help="How many mentoring pairs.")
@click.option("--web", is_flag=True,
              help="Then serve the program in the web console and print a sign-in link for "
                   "its coordinator (until Ctrl-C).")
@click.option("--port", type=click.IntRange(0, 65535), default=0,
              help="The console's port with --web (default: a free one).")
@user_errors
def demo(directory: Path, pairs: int, web: bool, port: int) -> None:
    """A whole 9-month program, end to end, on SMTP and IMAP servers run in process."""
    from mailflow.demo.program import run_demo
    from mailflow.demo.summary import guide, render

    click.echo(f"Running a {pairs}-pair, 9-month mentoring program in {directory} ...\n")
    summary = run_demo(directory, pairs)
    click.echo(render(summary) + "\n\n" + guide(summary))
    if summary.problems:
        sys.exit(1)
    if web:
        from mailflow.demo.console import serve_console

        serve_console(summary, port, say=lambda line: click.echo(line))


# --- purge ----------------------------------------------------------------------------------


@main.command()
@click.option("--before", "before", required=True, type=click.DateTime(["%Y-%m-%d"]),
              metavar="YYYY-MM-DD", help="Purge the pairs whose term ended before this day.")
@click.option("--dry-run", is_flag=True, help="Say what would be removed; change nothing.")
@pass_ctx
@user_errors
def purge(ctx: Context, before: Any, dry_run: bool) -> None:
    """Remove what people wrote (notes, HELP texts, subjects) once their term is over."""
    from zoneinfo import ZoneInfo

    from mailflow.services.purge import purge as run_purge

    program = ctx.app.settings.program
    today = ctx.clock.now().astimezone(ZoneInfo(program.timezone)).date()
    with ctx.app.repository(readonly=dry_run) as repo:
        report = run_purge(repo, before=before.date(), today=today, program_start=program.start,
                           months=program.months, timezone=program.timezone, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{'dry run: ' if dry_run else ''}{verb} the texts of {report.events} event(s), "
               f"{report.escalations} escalation(s), {report.outbox} outbox entr"
               f"{'y' if report.outbox == 1 else 'ies'} and {report.messages} received "
               f"message record(s) of {len(report.pairs)} pair(s) whose term ended before "
               f"{report.before}" + (f": {', '.join(report.pairs)}" if report.pairs else ""))


# --- announce -------------------------------------------------------------------------------


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--to", "audience", required=True, metavar="all|mentors|mentees|liaisons|PAIR_ID,...",
              help="Who gets it: everyone, one role, or both people of the pairs named.")
@click.option("--at", "at", callback=_valid_now, metavar="ISO-DATETIME",
              help="Send it with the first send pass from this moment (default: now). "
                   "Without an offset: the program's time zone.")
@click.option("--dry-run", is_flag=True,
              help="Render it for everyone and say who would get it; send and record nothing.")
@pass_ctx
@user_errors
def announce(ctx: Context, file: Path, audience: str, at: str | None, dry_run: bool) -> None:
    """A one-off email (FILE.md: Subject line, Markdown, Jinja2), sent once per person."""
    import asyncio
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from mailflow.services.announce import announce as run_announce

    if not dry_run:
        ctx.refuse_far_off_sending()
    try:
        source = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{file}: cannot be read as UTF-8 text ({exc})")
    when = None
    if at is not None:
        when = datetime.fromisoformat(at)
        if when.tzinfo is None:
            when = when.replace(tzinfo=ZoneInfo(ctx.app.settings.program.timezone))
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
    _print_sent(report.sent, "announcement emails")
