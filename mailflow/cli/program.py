"""Commands that look at and change the program in place: status, plan, export, backup,
report, pair pause/resume/end, purge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mailflow.cli.base import Context, echo_json, main, pass_ctx, user_errors

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


# --- purge ----------------------------------------------------------------------------------


@main.command()
@click.option("--before", "before", required=True, type=click.DateTime(["%Y-%m-%d"]),
              metavar="YYYY-MM-DD", help="Purge the pairs whose term ended before this day.")
@click.option("--dry-run", is_flag=True, help="Say what would be removed; change nothing.")
@pass_ctx
@user_errors
def purge(ctx: Context, before: Any, dry_run: bool) -> None:
    """Remove what people wrote (notes, HELP texts, subjects) once their term is over."""
    from mailflow.services.purge import purge_program

    report = purge_program(ctx.app, before=before.date(), dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{'dry run: ' if dry_run else ''}{verb} the texts of {report.events} event(s), "
               f"{report.escalations} escalation(s), {report.outbox} outbox entr"
               f"{'y' if report.outbox == 1 else 'ies'} and {report.messages} received "
               f"message record(s) of {len(report.pairs)} pair(s) whose term ended before "
               f"{report.before}" + (f": {', '.join(report.pairs)}" if report.pairs else ""))
