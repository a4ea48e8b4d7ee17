"""One measured job, run in its own process: `python -m bench.child JOB JSON-ARGS`.

Prints one JSON object: the job's own figures (``seconds`` of the timed part,
``count`` of messages or records) plus ``maxrss_mb``, the process's peak
resident memory (VmHWM). With $BENCH_PROFILE set to a folder, the timed
part runs under cProfile and its stats are written there as ``JOB-TAG.prof``.
Any failure (a message not sent, a reply not handled) exits non-zero.
"""

from __future__ import annotations

import asyncio
import cProfile
import email
import email.policy
import imaplib
import json
import os
import resource
import smtplib
import ssl
import sys
import time
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from email.utils import formataddr
from pathlib import Path
from typing import Any

from mailflow.app import App
from mailflow.clock import FixedClock

Args = dict[str, Any]
Result = dict[str, Any]


LAST_CPU: list[float] = []
WORKER_CPU: list[float] = []  # of that, the worker processes' share


class Timed:
    """Times (and with $BENCH_PROFILE profiles) the block of a job that counts."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.seconds = 0.0
        self._profile: cProfile.Profile | None = None

    def __enter__(self) -> Timed:
        if os.environ.get("BENCH_PROFILE"):
            self._profile = cProfile.Profile()
            self._profile.enable()
        self._cpu = _cpu()
        self._own = _own_cpu()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start
        self.cpu = _cpu() - self._cpu
        LAST_CPU.append(self.cpu)
        WORKER_CPU.append(self.cpu - (_own_cpu() - self._own))
        if self._profile is not None:
            self._profile.disable()
            folder = Path(os.environ["BENCH_PROFILE"])
            folder.mkdir(parents=True, exist_ok=True)
            self._profile.dump_stats(str(folder / f"{self.tag}.prof"))


def _own_cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (mailflow's compose
    worker: a pass waits for it to end, so its time is counted)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _app(args: Args) -> App:
    return App.load(Path(args["config"]), FixedClock(datetime.fromisoformat(args["now"])))


# --- send ---------------------------------------------------------------------------


def send(args: Args) -> Result:
    """mailflow send-due: plan, record, render, MIME, SMTP, record."""
    with Timed(f"send-{args['tag']}") as timer:
        report = asyncio.run(_app(args).send_due())
    problems = report.failed + report.held + report.deferred
    if problems or report.connection_error or not report.sent:
        raise SystemExit(f"send-due did not send everything: {report.connection_error} "
                         f"{problems[:3]} ({len(report.sent)} sent)")
    return {"seconds": timer.seconds, "count": len(report.sent)}


def reference_texts() -> tuple[str, str]:
    """A text and an HTML body of about the size of mailflow's intro, for str.format."""
    from mailflow.app import default_templates_dir

    body = (default_templates_dir() / "intro_mentor.md").read_text()
    body = body.split("\n\n", 1)[1].replace("{", "{{").replace("}", "}}")
    text = "Dear {name},\n\n" + body
    paragraphs = "".join(f"<p>{p}</p>\n" for p in body.split("\n\n"))
    html = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head>"
            "<body style=\"font-family: sans-serif\"><p>Dear {name},</p>\n"
            + paragraphs + "</body></html>")
    return text, html


def reference_message(i: int, text: str, html: str) -> EmailMessage:
    name = ("Zoë Ñúñez" if i % 7 == 3 else "Alex") + f" Mentor {i}"
    msg = EmailMessage()
    msg["From"] = "Mentoring Committee <mentoring@lib.example>"
    msg["To"] = formataddr((name, f"mentor{i}@lib.example"))
    msg["Subject"] = "Welcome to the mentoring program"
    msg["Message-ID"] = f"<ref-{i}@lib.example>"
    msg.set_content(text.format(name=name))
    msg.add_alternative(html.format(name=name), subtype="html")
    return msg


def send_reference(args: Args) -> Result:
    """The committee's script: smtplib, one reused connection, EmailMessage, send_message."""
    text, html = reference_texts()
    size = 0
    with Timed(f"send_ref-{args['tag']}") as timer, \
            smtplib.SMTP("127.0.0.1", args["port"], timeout=60) as smtp:
        for i in range(args["count"]):
            msg = reference_message(i, text, html)
            smtp.send_message(msg)
            if i == 0:
                size = len(msg.as_bytes())
    return {"seconds": timer.seconds, "count": args["count"], "size": size}


# --- poll ---------------------------------------------------------------------------


def poll(args: Args) -> Result:
    """mailflow poll: fetch, classify, extract, keywords, store, move, then the acks."""
    from mailflow.services.poller import Poller

    inner: list[float] = []
    poll_once = Poller.poll_once

    async def timed_poll_once(self: Poller, *a: Any, **k: Any) -> Any:
        started = time.perf_counter()
        try:
            return await poll_once(self, *a, **k)
        finally:
            inner.append(time.perf_counter() - started)

    Poller.poll_once = timed_poll_once  # type: ignore[method-assign]
    with Timed(f"poll-{args['tag']}") as timer:
        report, sent = asyncio.run(_app(args).poll())
    replies = report.outcomes.get("reply", 0)
    if report.connection_error or sent.connection_error or replies != args["expect"]:
        raise SystemExit(f"poll did not handle every reply: {dict(report.outcomes)} "
                         f"{report.connection_error} {sent.connection_error}")
    return {"seconds": timer.seconds, "count": replies, "acks": len(sent.sent),
            "poll_once_s": sum(inner), "outcomes": dict(report.outcomes)}


def _imap(args: Args) -> imaplib.IMAP4_SSL:
    context = ssl.create_default_context(cafile=args["ca_file"])
    conn = imaplib.IMAP4_SSL("127.0.0.1", args["port"], ssl_context=context, timeout=120)
    conn.login(args["user"], os.environ[args["password_env"]])
    conn.select("INBOX", readonly=True)
    return conn


def fetch_all(args: Args, handle: Callable[[bytes], object]) -> int:
    """UID FETCH every message in batches of 500; `handle` each body."""
    conn = _imap(args)
    try:
        _typ, data = conn.uid("SEARCH", "ALL")
        uids = [int(u) for u in data[0].split()]
        count = 0
        for start in range(0, len(uids), 500):
            batch = uids[start:start + 500]
            _typ, items = conn.uid("FETCH", f"{batch[0]}:{batch[-1]}", "(UID BODY.PEEK[])")
            for item in items:
                if isinstance(item, tuple):
                    handle(item[1])
                    count += 1
        return count
    finally:
        conn.logout()


def poll_reference(args: Args) -> Result:
    """imaplib UID FETCH + email.message_from_bytes(policy=default) + get_body()."""
    texts: list[int] = []

    def parse(raw: bytes) -> None:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        body = msg.get_body()  # type: ignore[attr-defined]
        texts.append(len(body.get_content()) if body is not None else 0)

    with Timed(f"poll_ref-{args['tag']}") as timer:
        count = fetch_all(args, parse)
    return {"seconds": timer.seconds, "count": count}


def fetch_reference(args: Args) -> Result:
    """imaplib UID FETCH alone: what the IMAP transfer itself costs."""
    with Timed(f"fetch_ref-{args['tag']}") as timer:
        count = fetch_all(args, lambda raw: None)
    return {"seconds": timer.seconds, "count": count}


# --- plan and store -------------------------------------------------------------------


def plan(args: Args) -> Result:
    """One planner pass as send-due makes it: open the store, load the state, plan."""
    from mailflow.services.state import ProgramState

    app = _app(args)
    now = app.clock.now()
    dispatcher = app.dispatcher()
    with Timed(f"plan-{args['tag']}") as timer, app.repository(readonly=True) as repo:
        opened = time.perf_counter()
        state = ProgramState.load(repo, dispatcher.program, now)
        loaded = time.perf_counter()
        planned = dispatcher.due_now(repo, state, now)
        done = time.perf_counter()
    return {"seconds": timer.seconds, "count": len(planned),
            "open_s": opened - timer._start, "state_s": loaded - opened,
            "plan_s": done - loaded}


def plan_reference(args: Args) -> Result:
    """json.loads of the store file: the least any pass over the stored data costs."""
    path = Path(args["store"])
    with Timed(f"plan_ref-{args['tag']}") as timer:
        data = json.loads(path.read_bytes())
    return {"seconds": timer.seconds, "count": sum(len(t) for t in data.values()),
            "bytes": path.stat().st_size}


def store(args: Args) -> Result:
    from bench.storebench import record_events

    return record_events(Path(args["store"]), args["passes"], args["per_pass"])


def web(args: Args) -> Result:
    from bench.webbench import web as measure_web

    return measure_web(args)


JOBS: dict[str, Callable[[Args], Result]] = {
    "send": send, "send_ref": send_reference, "poll": poll, "poll_ref": poll_reference,
    "fetch_ref": fetch_reference, "plan": plan, "plan_ref": plan_reference, "store": store,
    "web": web,
}


def peak_rss_mb() -> float:
    """VmHWM: the peak RSS of this process's own memory since exec. (ru_maxrss would
    also count the parent's RSS at fork time, which Linux carries across exec.)"""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def use_worker(mode: str) -> None:
    """$BENCH_WORKER (`python -m bench --worker`): "auto" leaves mailflow's rule alone,
    "off" never starts a worker process, "on" starts one for a pass of any size."""
    from mailflow.services import workers

    if mode == "off":
        workers.worker_count = lambda: 0
    elif mode == "on":
        workers.MIN_FOR_WORKER = 1
    elif mode != "auto":
        raise SystemExit(f"BENCH_WORKER={mode!r}: use auto, off or on")


def main() -> None:
    job, raw = sys.argv[1], sys.argv[2]
    use_worker(os.environ.get("BENCH_WORKER", "auto"))
    result = JOBS[job](json.loads(raw))
    if LAST_CPU:
        result["cpu_s"] = sum(LAST_CPU)
        if sum(WORKER_CPU) > 0.001:
            result["worker_cpu_s"] = round(sum(WORKER_CPU), 3)
    result["maxrss_mb"] = peak_rss_mb()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
