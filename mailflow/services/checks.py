"""`mailflow check`: everything that can be validated before anything is sent."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from mailflow.app import App
from mailflow.domain.model import Pair
from mailflow.domain.schedule import joining_month
from mailflow.errors import RosterError, StoreError, TemplateError
from mailflow.roster import Rules, read_roster


@dataclass
class CheckReport:
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def run_checks(app: App, roster_file: Path | None, *, sign_in: bool = False,
               roster: bool = True) -> CheckReport:
    report = CheckReport()
    settings = app.settings
    report.notes.append(f"config: {app.config_path} is valid ({settings.program.name!r}, "
                        f"{settings.program.months} months from {settings.program.start})")
    for section in (settings.smtp, settings.imap):
        if section.username and section.password_env and section.password_env not in os.environ:
            report.warnings.append(
                f"the environment variable {section.password_env} is not set; "
                "mailflow cannot log in to the mail server until it is"
            )
    oauth = settings.oauth2
    if oauth and oauth.client_secret_env and oauth.client_secret_env not in os.environ:
        report.warnings.append(
            f"the environment variable {oauth.client_secret_env} ([oauth2].client_secret_env) "
            "is not set; mailflow cannot get a token to sign in until it is")
    if oauth and oauth.service_account_file and not oauth.service_account_file.is_file():
        report.errors.append(
            f"[oauth2].service_account_file: {oauth.service_account_file} does not exist")
    for server, section in (("smtp", settings.smtp), ("imap", settings.imap)):
        if section.ca_file and not section.ca_file.is_file():
            report.errors.append(f"[{server}].ca_file: {section.ca_file} does not exist")
        if section.security == "none" and section.host not in ("localhost", "127.0.0.1", "::1"):
            report.warnings.append(
                f"[{server}].security is \"none\": passwords and mail cross the network "
                "unencrypted"
            )
    _check_templates(app, report)
    if roster:
        _check_roster(app, roster_file, report)
    if sign_in:
        _check_sign_in(app, report)
    return report


def _check_sign_in(app: App, report: CheckReport) -> None:
    import asyncio

    from mailflow.services.signin import sign_in

    problems = asyncio.run(sign_in(app))
    report.errors.extend(str(p) for p in problems)
    for server in ("smtp", "imap"):
        if not any(p.server == server for p in problems):
            section = getattr(app.settings, server)
            report.notes.append(f"[{server}]: signed in to {section.host}:{section.port}")


def _check_templates(app: App, report: CheckReport) -> None:
    from mailflow.render.engine import Renderer

    folder = app.settings.templates_dir
    if not folder.is_dir():
        report.errors.append(f"{folder}: the templates folder is missing "
                             "(`mailflow init` creates one)")
        return
    try:
        problems = Renderer(folder).check()
    except TemplateError as exc:
        problems = [str(exc)]
    report.errors.extend(problems)
    if not problems:
        report.notes.append(f"templates: every template in {folder} renders")


def _check_roster(app: App, roster_file: Path | None, report: CheckReport) -> None:
    path = roster_file or app.settings.base_dir / "roster.csv"
    if not path.exists():
        if roster_file is not None:
            report.errors.append(f"{path}: no such file")
        else:
            report.notes.append(f"roster: no {path.name} beside the config (nothing to check)")
        return
    try:
        with app.repository(readonly=True) as repo:
            rules = app.roster_rules(repo)
    except StoreError:  # no store yet, or one to be repaired (said elsewhere)
        rules = Rules(allow_multiple_mentors=app.settings.program.allow_multiple_mentors)
    try:
        pairs = read_roster(path, rules)
    except RosterError as exc:
        report.errors.extend(exc.problems)
        return
    report.notes.append(f"roster: {path.name} is valid ({len(pairs)} pairs)")
    _check_joining(app, pairs, report)


def _check_joining(app: App, pairs: list[Pair], report: CheckReport) -> None:
    """Name the pairs that join mid-term: already known ones by when they were first
    imported, new ones as if imported now (SPEC 2, "Joining mid-term")."""
    known: dict[str, datetime | None] = {}
    if app.settings.storage_path.exists():
        with app.repository(readonly=True) as repo:
            known = {pair_id: rec.first_seen for pair_id, rec in repo.pairs().items()}
    now = app.clock.now()
    program = app.settings.program_model()
    months = program.months
    for pair in pairs:
        first_seen = known.get(pair.pair_id, now)
        month = joining_month(program, pair, first_seen) if first_seen else None
        if month is not None:
            verb = "joined" if pair.pair_id in known else "joins"
            report.notes.append(
                f"roster: {pair.pair_id} {verb} mid-term, in month {month} of {months} "
                f"(it started on {pair.start_date(program)}, more than "
                f"{program.catch_up_days} days before mailflow first knew it): one intro "
                "that says so, no earlier topics")
