"""mailflow benchmarks: `python -m bench --pairs N [--json] [--smoke] [--profile DIR]
[--only FIGURES] [--worker auto|off|on]`.

Every figure is a ratio to a reference measured in the same run on this
machine (see bench/RESULTS.md and issue 6):

  send        mailflow send-due vs a plain smtplib script, same count   >= 1.0x
  send limit  mailflow send-due vs smtp-source (8 sessions)              report
  poll        mailflow poll vs imaplib FETCH + email parsing + get_body  >= 1.0x
  poll, stored  until every reply is handled and stored (the acks
              of earlier chunks go out meanwhile) vs the same            report
  poll limit  mailflow poll vs imaplib FETCH alone                       report
  plan        one planner pass (open, load, plan) vs json.loads          <= 3x
  store       per-event recording cost at N vs N/10 pairs                <= 1.5x
  memory      peak RSS of send, poll and plan at N vs N/10 pairs         report
  web         the console's dashboard (GET /, paged) and a pair page,
              each vs building `status --json` from the same store       <= 1.5x

The scale figures (store, memory) measure N/10 pairs too, in the same run.
Exit status: 0 when every figure was measured and (without --smoke) every
target met; 1 when a target was missed; 2 when the benchmark itself failed.
`--smoke` runs everything at a small N and never fails on a target.
`--only poll` (or `send`, `plan`, `store`, `memory`, `web`, comma-separated) measures only
those figures: e.g. `python -m bench --pairs 1000 --only poll --profile /tmp/pp`.
`--worker off` never starts mailflow's worker process, `--worker on` starts it for
a pass of any size (default `auto`: mailflow's own rule).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.run import FIGURES, Servers, SizeResult, log, run_size
from bench.servers import BenchError, dovecot_module, smtp_sink


@dataclass
class Row:
    name: str
    value: float
    unit: str
    reference: str
    reference_value: float
    ratio: float
    target: str
    passed: bool | None

    def as_json(self) -> dict[str, object]:
        row = asdict(self)
        row["pass"] = row.pop("passed")
        return row


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("inf")


def rows(big: SizeResult, small: SizeResult | None) -> list[Row]:
    """The figures whose jobs were measured (all of them unless --only limited the run)."""
    jobs = big.jobs
    out: list[Row] = []
    if "send_ref" in jobs:
        send, ref = big.rate("send"), big.rate("send_ref")
        out.append(Row("send", send, "msgs/s", "smtplib script", ref, _ratio(send, ref),
                       ">= 1.0x", _ratio(send, ref) >= 1.0))
        count = jobs["send"]["count"]
        limit = count / big.extra["smtp_source_s"]
        out.append(Row("send limit", send, "msgs/s", "smtp-source, 8 sessions", limit,
                       _ratio(send, limit), "report", None))
    if "poll_ref" in jobs:
        poll, ref = big.rate("poll"), big.rate("poll_ref")
        out.append(Row("poll", poll, "msgs/s", "imaplib FETCH + parse + get_body", ref,
                       _ratio(poll, ref), ">= 1.0x", _ratio(poll, ref) >= 1.0))
        inner = jobs["poll"]["count"] / jobs["poll"]["poll_once_s"]
        out.append(Row("poll, stored", inner, "msgs/s", "imaplib FETCH + parse + get_body",
                       ref, _ratio(inner, ref), "report", None))
        fetch = big.rate("fetch_ref")
        out.append(Row("poll limit", poll, "msgs/s", "imaplib FETCH alone", fetch,
                       _ratio(poll, fetch), "report", None))
    if "plan_ref" in jobs:
        plan, ref = jobs["plan"]["seconds"], jobs["plan_ref"]["seconds"]
        out.append(Row("plan", plan, "s", "json.loads of the store file", ref,
                       _ratio(plan, ref), "<= 3.0x", _ratio(plan, ref) <= 3.0))
    if "web" in jobs:
        web = jobs["web"]
        for name, key in (("web dashboard", "dashboard_s"), ("web pair page", "pair_s")):
            ratio = _ratio(web[key], web["status_s"])
            out.append(Row(name, web[key], "s", "status --json, same store", web["status_s"],
                           ratio, "<= 1.5x", ratio <= 1.5))
    if small is None:
        return out
    m = small.pairs
    if "store" in jobs and "store" in small.jobs:
        store, ref = jobs["store"]["per_event_us"], small.jobs["store"]["per_event_us"]
        out.append(Row("store", store, "us/event", f"same at {m} pairs", ref, _ratio(store, ref),
                       "<= 1.5x", _ratio(store, ref) <= 1.5))
    for job in ("send", "poll", "plan"):
        if job not in jobs or job not in small.jobs:
            continue
        value, ref = jobs[job]["maxrss_mb"], small.jobs[job]["maxrss_mb"]
        out.append(Row(f"memory {job}", value, "MB", f"same at {m} pairs", ref,
                       _ratio(value, ref), "report", None))
    return out


CPU_RATIOS = {"send": ("send", "send_ref"), "poll": ("poll", "poll_ref")}


def cpu_ratio(row: Row, big: SizeResult) -> str:
    """The same ratio from the client processes' CPU seconds: steadier on a busy machine."""
    jobs = CPU_RATIOS.get(row.name)
    if jobs is None:
        return ""
    ours, ref = (big.jobs[j] for j in jobs)
    return f"{_ratio(ours['count'] / ours['cpu_s'], ref['count'] / ref['cpu_s']):.2f}x"


def table(result: list[Row], big: SizeResult, small: SizeResult | None) -> str:
    scale = f"scale reference: {small.pairs} pairs" if small else "no scale reference"
    lines = [f"mailflow benchmarks at {big.pairs} pairs ({scale})",
             "",
             f"| {'figure':<13} | {'mailflow':>12} | {'unit':<8} | {'reference':<34} | "
             f"{'reference':>10} | {'ratio':>7} | {'target':<8} | pass | cpu ratio |",
             "|" + "|".join("-" * w for w in (15, 14, 10, 36, 12, 9, 10, 6, 11)) + "|"]
    for r in result:
        verdict = "-" if r.passed is None else ("yes" if r.passed else "NO")
        lines.append(f"| {r.name:<13} | {r.value:>12.4g} | {r.unit:<8} | {r.reference:<34} | "
                     f"{r.reference_value:>10.4g} | {r.ratio:>6.2f}x | {r.target:<8} | "
                     f"{verdict:<4} | {cpu_ratio(r, big):>9} |")
    lines += ["", "details:"]
    for size in (big, small) if small else (big,):
        for job, data in size.jobs.items():
            shown = {k: round(v, 4) if isinstance(v, float) else v for k, v in data.items()}
            lines.append(f"  {size.pairs:>6} {job:<9} {json.dumps(shown)}")
        extra = {k: round(v, 2) for k, v in size.extra.items()}
        lines.append(f"  {size.pairs:>6} setup     {json.dumps(extra)}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=1000, help="roster size N (default 1000)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("--smoke", action="store_true",
                        help="quick run for CI: every figure, targets not enforced")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="write cProfile stats of every timed job to DIR")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--only", metavar="FIGURES",
                        help="measure only these figures, comma-separated, from: "
                        f"{', '.join(FIGURES)} (default: all; the N/10 run is made only for "
                        "store and memory)")
    parser.add_argument("--worker", choices=("auto", "off", "on"), default="auto",
                        help="mailflow's worker process: its own rule (auto), never, or for "
                        "every pass")
    args = parser.parse_args(argv)
    if args.pairs < 10:
        parser.error("--pairs must be at least 10")
    if args.only is None:
        args.only = frozenset(FIGURES)
    else:
        args.only = frozenset(f.strip() for f in args.only.split(",") if f.strip())
        unknown = sorted(args.only - set(FIGURES))
        if unknown or not args.only:
            parser.error(f"--only: unknown figure {', '.join(unknown) or '(none)'}; "
                         f"choose from {', '.join(FIGURES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ["BENCH_WORKER"] = args.worker  # read by each job's process (bench/child.py)
    started = time.monotonic()
    dovecot_lib = dovecot_module()
    missing = dovecot_lib.dovecot_available()
    if missing:
        print(f"bench: {missing}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="mailflow-bench-"))
    try:
        with smtp_sink() as port, dovecot_lib.running_dovecot() as dovecot:
            servers = Servers(port, dovecot)
            big = run_size(args.pairs, work, servers, references=True, profile=args.profile,
                           quick=args.smoke, only=args.only)
            small = None
            if args.only & {"store", "memory"}:
                small = run_size(max(args.pairs // 10, 5), work, servers, references=False,
                                 profile=args.profile, quick=args.smoke,
                                 only=args.only - {"web"})  # web is a ratio within one size
    except BenchError as exc:
        print(f"bench: FAILED: {exc}", file=sys.stderr)
        return 2
    finally:
        if args.keep:
            log(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    result = rows(big, small)
    if args.json:
        print(json.dumps([r.as_json() for r in result], indent=1))
    else:
        print(table(result, big, small))
    log(f"done in {time.monotonic() - started:.0f} s")
    missed = [r.name for r in result if r.passed is False]
    if missed and not args.smoke:
        log(f"targets missed: {', '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
