"""The Composer: chunks composed here or ahead in a real worker process, same messages.

These start real (spawned) worker processes; no part of composing is faked.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailflow.render.engine import DEFAULT_TEMPLATE_DIR, Renderer
from mailflow.render.mime import OutgoingMessage
from mailflow.render.samples import sample_contexts
from mailflow.services.composer import Composed, Composer, Draft

NOW = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
SENDER = "Mentoring Committee <mentoring@example.org>"


def _draft(i: int, template: str = "topic", to: str = "") -> Draft:
    return Draft(
        key=f"k{i}", template=template, context=sample_contexts("topic")[0],
        to=to or f"person{i}@example.org", to_name=f"Person {i}",
        reply_to=f"mentoring+mf-{i:04d}@example.org", message_id=f"<m{i}@example.org>",
        kind="topic", pair_id=f"P{i}", in_reply_to=None,
    )


def _chunks(count: int, size: int) -> list[list[Draft]]:
    drafts = [_draft(i) for i in range(count * size)]
    return [drafts[i:i + size] for i in range(0, len(drafts), size)]


def _run(composer: Composer, chunks: list[list[Draft]], *, kill_after: int | None = None,
         stop_after: int | None = None) -> list[list[Composed]]:
    """Submit every chunk at once, as a pass does, and take the results in order."""
    async def collect() -> list[list[Composed]]:
        out: list[list[Composed]] = []
        with composer.session(NOW) as session:
            session.expect(sum(map(len, chunks)))
            pending = [session.submit(chunk) for chunk in chunks]
            for item in pending:
                out.append(list(zip(item.batch, await item.result(), strict=True)))
                if kill_after is not None and len(out) == kill_after:
                    for child in multiprocessing.active_children():
                        os.kill(child.pid or 0, signal.SIGKILL)
                if stop_after is not None and len(out) == stop_after:
                    break
        return out

    return asyncio.run(collect())


def _content(message: OutgoingMessage | str) -> tuple[str, ...]:
    """What a reader sees: headers that do not vary, and both bodies."""
    assert isinstance(message, OutgoingMessage), message
    parsed = message.email()
    plain, rich = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert plain is not None and rich is not None
    return (str(parsed["To"]), str(parsed["Subject"]), str(parsed["Message-ID"]),
            plain.get_content(), rich.get_content())


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(DEFAULT_TEMPLATE_DIR)


def test_a_worker_composes_the_same_messages_in_the_same_order(renderer: Renderer) -> None:
    chunks = _chunks(4, 5)
    here = _run(Composer(renderer, SENDER, workers=0), chunks)
    ahead = _run(Composer(renderer, SENDER, workers=1, min_for_worker=1), chunks)
    assert [[d.key for d, _ in c] for c in ahead] == [[d.key for d in c] for c in chunks]
    assert [[_content(m) for _, m in c] for c in ahead] == \
        [[_content(m) for _, m in c] for c in here]
    assert not multiprocessing.active_children()  # the pass's worker has ended


def test_what_cannot_be_composed_comes_back_as_a_reason(renderer: Renderer) -> None:
    chunks = [[_draft(0), _draft(1, template="no_such_template")],
              [_draft(2, to="not an address"), _draft(3)]]
    for composer in (Composer(renderer, SENDER, workers=0),
                     Composer(renderer, SENDER, workers=1, min_for_worker=1)):
        results = [m for chunk in _run(composer, chunks) for _, m in chunk]
        assert isinstance(results[0], OutgoingMessage)
        assert isinstance(results[1], str) and "no_such_template" in results[1]
        assert isinstance(results[2], str) and "not an address" in results[2]
        assert isinstance(results[3], OutgoingMessage)


def test_a_dead_worker_leaves_the_rest_to_this_process(
    renderer: Renderer, caplog: pytest.LogCaptureFixture
) -> None:
    chunks = _chunks(5, 4)
    composed = _run(Composer(renderer, SENDER, workers=1, min_for_worker=1), chunks,
                    kill_after=1)
    assert [[d.key for d, _ in c] for c in composed] == [[d.key for d in c] for c in chunks]
    assert all(isinstance(m, OutgoingMessage) for c in composed for _, m in c)
    assert "composing worker stopped" in caplog.text
    assert not multiprocessing.active_children()


def test_a_short_pass_starts_no_worker(renderer: Renderer) -> None:
    seen: list[int] = []

    async def collect() -> None:
        composer = Composer(renderer, SENDER, workers=1, min_for_worker=100)
        with composer.session(NOW) as session:
            session.expect(9)
            for pending in [session.submit(chunk) for chunk in _chunks(3, 3)]:
                await pending.result()
                seen.append(len(multiprocessing.active_children()))

    asyncio.run(collect())
    assert seen == [0, 0, 0]


def test_stopping_early_ends_the_worker(renderer: Renderer) -> None:
    composed = _run(Composer(renderer, SENDER, workers=1, min_for_worker=1), _chunks(6, 3),
                    stop_after=2)
    assert len(composed) == 2
    assert not multiprocessing.active_children()


KILLED_MID_PASS = """
import asyncio, multiprocessing, sys, time
from datetime import datetime, UTC
sys.path.insert(0, {tests!r})
from test_composer import SENDER, _chunks
from mailflow.render.engine import DEFAULT_TEMPLATE_DIR, Renderer
from mailflow.services.composer import Composer

async def main():
    composer = Composer(Renderer(DEFAULT_TEMPLATE_DIR), SENDER, workers=1, min_for_worker=1)
    with composer.session(datetime.now(UTC)) as session:
        session.expect(1000)
        pending = [session.submit(chunk) for chunk in _chunks(50, 20)]
        await pending[0].result()
        for child in multiprocessing.active_children():
            print(child.pid, flush=True)
        time.sleep(60)  # killed here, with the worker composing the next chunks

if __name__ == "__main__":
    asyncio.run(main())
"""


def test_a_killed_main_process_leaves_no_worker_behind(tmp_path: Path) -> None:
    script = tmp_path / "killed_mid_pass.py"
    script.write_text(KILLED_MID_PASS.format(tests=str(Path(__file__).parent)))
    with subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                          text=True) as proc:
        assert proc.stdout is not None
        worker = int(proc.stdout.readline())
        proc.kill()
    deadline = time.monotonic() + 20
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(worker), "the compose worker outlived its killed main process"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


def test_passes_of_programs_of_100_to_500_pairs_start_no_worker() -> None:
    """The one rule both passes use (bench/RESULTS.md, "The worker process"): a send
    pass counts its emails, a poll its replies twice (parsed, then acked)."""
    from mailflow.services.workers import worker_pays

    assert not worker_pays(2 * 500 + 20)  # first day of 500 pairs: intros + welcomes
    assert not worker_pays(2 * 500)  # a poll of one reply from each of 500 pairs
    assert not worker_pays(1999)
    assert worker_pays(2000)
    assert worker_pays(2 * 1000 + 40)  # first day of 1,000 pairs (the benchmark)
    assert worker_pays(9, minimum=9) and not worker_pays(8, minimum=9)
