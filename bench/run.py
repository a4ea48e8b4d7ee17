"""Run every measurement for one roster size; each timed job in its own process.

For N pairs: a first-day program sends its intros and liaison welcomes to
smtp-sink (then the reference script and smtp-source send as many); one reply
per pair is APPENDed to a fresh Dovecot account (the reference fetches and
parses them read-only, then mailflow polls them); a second program gets a
year of history for the planner pass, and then the store figure's passes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench import program as progs
from bench.replies import intros_by_person, replies
from bench.servers import REPO, BenchError, multiappend, smtp_source

START = date(2027, 1, 4)
HISTORY_MONTHS = 12


@dataclass
class Servers:
    smtp_port: int
    dovecot: Any  # tests/integration/dovecot.py's Dovecot


@dataclass
class SizeResult:
    pairs: int
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, float] = field(default_factory=dict)

    def rate(self, job: str) -> float:
        j = self.jobs[job]
        return float(j["count"] / j["seconds"]) if j["seconds"] else 0.0


def child(job: str, env: dict[str, str], **args: Any) -> dict[str, Any]:
    """Run `python -m bench.child JOB ARGS`; its JSON result, or BenchError with its stderr."""
    cmd = [sys.executable, "-m", "bench.child", job, json.dumps(args)]
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                            check=False, timeout=1800)
    if result.returncode != 0:
        raise BenchError(f"bench job {job} (pairs tag {args.get('tag')}) failed "
                         f"({result.returncode}):\n{result.stdout[-2000:]}\n"
                         f"{result.stderr[-4000:]}")
    out: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return out


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


FIGURES = ("send", "poll", "plan", "store", "memory", "web")


def run_size(pairs: int, work: Path, servers: Servers, *, references: bool,
             profile: Path | None, quick: bool = False,
             only: frozenset[str] = frozenset(FIGURES)) -> SizeResult:
    """Every figure's measurements at one size; `references` adds the same-run references.

    `only` limits the work to some figures (see FIGURES). The send job always runs when
    poll is wanted: the replies are threaded to the intros it sends.
    """
    result = SizeResult(pairs)
    everything = "memory" in only  # the memory figure needs send, poll and plan
    want_send = everything or "send" in only
    want_poll = everything or "poll" in only
    want_plan = everything or "plan" in only
    want_store = "store" in only
    want_web = "web" in only
    dovecot = servers.dovecot
    user, password = dovecot.add_user()
    env = dict(os.environ, **{progs.PASSWORD_ENV: password})
    if profile is not None:
        env["BENCH_PROFILE"] = str(profile)
    imap = progs.Imap(dovecot.imaps_port, user, str(dovecot.ca_file))
    tag = str(pairs)

    if not (want_send or want_poll):
        return _history(result, pairs, work, env, tag, references=references and want_plan,
                        plan=want_plan, store=want_store, web=want_web, quick=quick)
    log(f"{pairs} pairs: importing the roster")
    config = progs.make_program(work / f"send-{pairs}", pairs, start=START,
                                smtp_port=servers.smtp_port, imap=imap)
    first_day = progs.at_nine(START)
    log(f"{pairs} pairs: send-due")
    result.jobs["send"] = child("send", env, config=str(config), now=first_day.isoformat(),
                                tag=tag)
    count = result.jobs["send"]["count"]
    if references and want_send:
        log(f"{pairs} pairs: reference send of {count} messages")
        result.jobs["send_ref"] = child("send_ref", env, port=servers.smtp_port, count=count,
                                        tag=tag)
        size = result.jobs["send_ref"]["size"]
        result.extra["smtp_source_s"] = smtp_source(servers.smtp_port, count, size)

    log(f"{pairs} pairs: APPENDing {pairs} replies to Dovecot")
    app = progs.app(config, first_day)
    with app.repository(readonly=True) as repo:
        intros = intros_by_person(repo.outbox())
        rows = [(r.pair_id, r.pair.mentor.email, r.pair.mentee.email)
                for r in repo.pairs().values()]
    started = time.perf_counter()
    appended = multiappend(dovecot.host, dovecot.imap_port, user, password,
                           replies(rows, intros, first_day))
    result.extra["append_s"] = time.perf_counter() - started
    if not want_poll:
        return _history(result, pairs, work, env, tag, references=references and want_plan,
                        plan=want_plan, store=want_store, web=want_web, quick=quick)
    imap_args = {"port": dovecot.imaps_port, "user": user, "ca_file": str(dovecot.ca_file),
                 "password_env": progs.PASSWORD_ENV, "tag": tag}
    if references:
        log(f"{pairs} pairs: reference fetch and parse")
        result.jobs["poll_ref"] = child("poll_ref", env, **imap_args)
        result.jobs["fetch_ref"] = child("fetch_ref", env, **imap_args)
    log(f"{pairs} pairs: poll")
    result.jobs["poll"] = child("poll", env, config=str(config), expect=appended, tag=tag,
                                now=progs.at_nine(START + timedelta(days=2)).isoformat())
    return _history(result, pairs, work, env, tag, references=references and want_plan,
                    plan=want_plan, store=want_store, web=want_web, quick=quick)


def _history(result: SizeResult, pairs: int, work: Path, env: dict[str, str], tag: str, *,
             references: bool, plan: bool, store: bool, web: bool,
             quick: bool) -> SizeResult:
    """The plan, web and store figures, on a second program with a year of history."""
    if not (plan or store or web):
        return result
    log(f"{pairs} pairs: a year of history for the planner")
    started = time.perf_counter()
    history_start = START - timedelta(days=365)
    hconfig = progs.make_program(work / f"plan-{pairs}", pairs, start=history_start,
                                 months=HISTORY_MONTHS)
    moment = progs.add_history(hconfig, history_start, HISTORY_MONTHS)
    result.extra["history_s"] = time.perf_counter() - started
    store_path = hconfig.parent / "mailflow.json"
    if plan:
        log(f"{pairs} pairs: planner pass")
        result.jobs["plan"] = child("plan", env, config=str(hconfig), now=moment.isoformat(),
                                    tag=tag)
        if references:
            result.jobs["plan_ref"] = child("plan_ref", env, store=str(store_path), tag=tag)
    if web:
        log(f"{pairs} pairs: the web console's dashboard and a pair page vs status --json")
        result.jobs["web"] = child("web", env, config=str(hconfig), now=moment.isoformat(),
                                   tag=tag)
    if not store:
        return result
    log(f"{pairs} pairs: store passes")
    result.jobs["store"] = child("store", env, store=str(store_path), passes=4 if quick else 20,
                                 per_pass=50 if quick else 500, tag=tag)
    return result
