"""App.repository's gate: readers in other threads let a waiting or working writer go first."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from mailflow.app import WriterFirst, store_gate


def test_a_reader_in_another_thread_waits_for_the_writer() -> None:
    gate = WriterFirst()
    order: list[str] = []
    with gate.writing():
        reader = threading.Thread(target=lambda: (gate.reading().__enter__(),
                                                  order.append("read")))
        reader.start()
        time.sleep(0.2)
        order.append("write done")
    reader.join(5)
    assert order == ["write done", "read"]


def test_a_reader_in_the_writers_own_thread_does_not_wait_for_itself() -> None:
    gate = WriterFirst()
    with gate.writing(), gate.reading():
        pass  # would hang if it waited


def test_readers_go_together_when_no_writer_is_there() -> None:
    gate = WriterFirst()
    with gate.reading():
        done = threading.Event()
        threading.Thread(target=lambda: (gate.reading().__enter__(), done.set())).start()
        assert done.wait(2)


def test_every_app_on_one_store_shares_its_gate(tmp_path: Path) -> None:
    assert store_gate(tmp_path / "a.json") is store_gate(tmp_path / "a.json")
    assert store_gate(tmp_path / "a.json") is not store_gate(tmp_path / "b.json")
