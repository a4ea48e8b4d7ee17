"""Fetch speed of mailflow's IMAP adapter, as a ratio to the standard library's imaplib.

    .venv/bin/python bench/imap_fetch_vs_imaplib.py [COUNT] [SIZE_BYTES]

Starts the tests' throwaway Dovecot (tests/integration/dovecot.py), fills an INBOX
with COUNT messages (default 2000) of about SIZE_BYTES (default 1500), then over
implicit TLS fetches them all with ``ImapMailbox.fetch`` (batches of 500) and with
imaplib ``UID FETCH`` in the same batches; best of 5 runs each. Also one 20 MB message.
"""

from __future__ import annotations

import asyncio
import imaplib
import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mailflow.adapters.imap import ImapMailbox  # noqa: E402
from mailflow.config import ImapSettings  # noqa: E402

BATCH = 500
RUNS = 5


def load_dovecot() -> ModuleType:
    path = REPO / "tests" / "integration" / "dovecot.py"
    spec = importlib.util.spec_from_file_location("mailflow_bench_imap_dovecot", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def message(i: int, size: int) -> bytes:
    head = b"From: m%d@example.org\r\nSubject: re: month %d\r\nMessage-ID: <%d@x>\r\n\r\n" % (
        i, i, i)
    line = b"MET yesterday, we talked about goals and next steps (ok)\r\n"
    return head + line * max(1, (size - len(head)) // len(line))


async def adapter_fetch(settings: ImapSettings, password: str) -> tuple[float, int]:
    async with ImapMailbox(settings, password=password) as box:
        await box.select()
        uids = await box.uids_after(0)
        start = time.perf_counter()
        got = await box.fetch(uids)
        return time.perf_counter() - start, sum(len(raw) for _, raw in got)


def imaplib_fetch(server: object, user: str, password: str) -> tuple[float, int]:
    conn = imaplib.IMAP4_SSL(server.host, server.imaps_port,  # type: ignore[attr-defined]
                             ssl_context=server.ssl_context())  # type: ignore[attr-defined]
    conn.login(user, password)
    conn.select("INBOX")
    _, data = conn.uid("SEARCH", "UID", "1:*")
    uids = [int(x) for x in data[0].split()]
    start = time.perf_counter()
    total = 0
    for i in range(0, len(uids), BATCH):
        chunk = uids[i:i + BATCH]
        _, items = conn.uid("FETCH", f"{chunk[0]}:{chunk[-1]}", "(UID BODY.PEEK[])")
        total += sum(len(item[1]) for item in items if isinstance(item, tuple))
    elapsed = time.perf_counter() - start
    conn.logout()
    return elapsed, total


def compare(label: str, server: object, user: str, password: str) -> None:
    settings = ImapSettings(host=server.host, port=server.imaps_port,  # type: ignore[attr-defined]
                            security="tls", ca_file=server.ca_file,  # type: ignore[attr-defined]
                            username=user, password_env="UNUSED", batch_size=BATCH)
    ours = min(asyncio.run(adapter_fetch(settings, password)) for _ in range(RUNS))
    ref = min(imaplib_fetch(server, user, password) for _ in range(RUNS))
    assert ours[1] == ref[1], (ours, ref)
    print(f"{label}: {ours[1] / 1e6:.1f} MB  adapter {ours[0] * 1000:.0f} ms  "
          f"imaplib {ref[0] * 1000:.0f} ms  ratio {ours[0] / ref[0]:.2f}")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 1500
    dovecot = load_dovecot()
    with dovecot.running_dovecot() as server:
        user, password = server.add_user()
        server.append(user, password, (message(i, size) for i in range(count)))
        compare(f"{count} messages of ~{size} B", server, user, password)
        big_user, big_password = server.add_user()
        server.append(big_user, big_password, [message(0, 20 * 1024 * 1024)])
        compare("one 20 MB message", server, big_user, big_password)


if __name__ == "__main__":
    main()
