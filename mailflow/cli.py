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
from mailflow.errors import MailflowError, RosterError

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    def __init__(self, config: Path, now: str | None) -> None:
        self.config_path = config
        self.clock: Clock = FixedClock(parse_now(now)) if now else SystemClock()
        self.now_given = now is not None
        self._app: App | None = None

    @property
    def app(self) -> App:
        if self._app is None:
            self._app = App.load(self.config_path, self.clock)
        return self._app


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
@click.version_option(package_name="mailflow")
@click.pass_context
def main(ctx: click.Context, config: Path, now: str | None) -> None:
    """mailflow runs a mentoring program by email."""
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
@pass_ctx
@user_errors
def check(ctx: Context, roster_file: Path | None) -> None:
    """Validate config, roster and templates."""
    from mailflow.checks import run_checks

    report = run_checks(ctx.app, roster_file)
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
    """Import pairs from a CSV file (all or nothing; updates pairs by pair_id)."""
    report = ctx.app.import_roster(file)
    click.echo(f"imported {file}: {len(report.added)} added, {len(report.updated)} updated, "
               f"{len(report.unchanged)} unchanged")
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
    from mailflow.status import program_status, render_status

    with ctx.app.repository(readonly=True) as repo:
        result = program_status(ctx.app.settings, repo, ctx.clock.now())
    if as_json:
        echo_json(result)
    else:
        click.echo(render_status(result))
