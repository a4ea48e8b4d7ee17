"""Commands that prepare a program: init, check, roster import, templates check and preview."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mailflow.app import scaffold
from mailflow.cli.base import Context, main, pass_ctx, user_errors

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
