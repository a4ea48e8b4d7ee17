"""The web console (`web`), its OAuth 2.0 sign-in to the mailbox (`auth`), and the `demo`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mailflow.cli.base import Context, echo_json, main, pass_ctx, user_errors


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
