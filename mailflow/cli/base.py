"""The `mailflow` command group and what its commands share: the Context (config, --now),
`fail` and `user_errors` (exit status 1 with a message), and the printing of send reports.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from mailflow.app import App
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


def valid_now(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
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
@click.option("--now", callback=valid_now, metavar="ISO-DATETIME",
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


def print_send_report(report: Any, what: str, dry_run: bool) -> None:
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
    print_sent(report, what)


def print_sent(report: Any, what: str) -> None:
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

