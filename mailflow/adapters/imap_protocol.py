"""aioimaplib's protocol with its large-mailbox quirks fixed, and IMAP wire helpers.

Kept apart from ``imap.py`` so the adapter reads as IMAP, not as parser repair.
What is fixed (aioimaplib 2.0.x):

- ``_handle_responses`` recursed once per response line, so a read chunk holding a
  few thousand short lines (a UID FETCH of many small messages) raised
  RecursionError and killed the connection. Here it is a loop over offsets, which
  also avoids re-copying the rest of the chunk for every line.
- ``FetchCommand.wait_data`` rescanned every line of the response for every new
  line (quadratic in the batch size); here the parenthesis depth is kept as lines
  arrive.
- ``data_received`` and ``send`` formatted every chunk for a debug log line even
  when debug logging is off (slow for 20 MB messages) and ``send`` could log a
  password containing quotes; here nothing sent or received is logged.
- bytes received are counted, so a transfer that is still moving is not timed out.
- a lost connection ends the commands in flight (aioimaplib left them waiting forever).
- ``AUTHENTICATE`` answers the server's continuations (the initial response when the
  server has no SASL-IR, and the end of the exchange after an error challenge);
  aioimaplib only appended them to the response and waited until the timeout.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Sequence
from typing import Any

from aioimaplib import aioimaplib as _aio

CRLF = b"\r\n"
_FETCH_START = re.compile(rb"(?:\* )?\d+ FETCH \(")
_UID_ITEM = re.compile(rb"\bUID (\d+)")
_LITERAL = re.compile(rb".*\{(?P<size>\d+)\}$")


class _FetchCommand(_aio.FetchCommand):  # type: ignore[misc]
    """FETCH whose "more data expected?" check is O(1) per line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._depth = 0
        super().__init__(*args, **kwargs)

    def append_to_resp(self, line: bytes, result: str = "Pending") -> None:
        super().append_to_resp(line, result)
        # literal data arrives as bytearray and never counts, as in aioimaplib
        if result == "Pending" and type(line) is bytes:
            if _FETCH_START.match(line):
                self._depth = 0
            self._depth += line.count(b"(") - line.count(b")")

    def wait_data(self) -> bool:
        return self._depth != 0


class Protocol(_aio.IMAP4ClientProtocol):  # type: ignore[misc]
    """IMAP4ClientProtocol with the fixes listed in the module docstring."""

    incomplete_line: bytes
    current_command: Any

    def __init__(self, loop: Any, conn_lost_cb: Any = None) -> None:
        super().__init__(loop, conn_lost_cb)
        self.bytes_received = 0
        self._sasl_replies: list[str] = []
        self.sasl_challenge = b""  # the server's last AUTHENTICATE challenge

    async def authenticate(self, mechanism: str, initial: str, then: str,
                           sasl_ir: bool) -> Any:
        """``AUTHENTICATE`` with ``initial`` as the first client response (on the command
        line with SASL-IR, else after the first continuation); ``then`` answers a further
        challenge (a refusal). The state becomes AUTH on OK."""
        self._sasl_replies = [then] if sasl_ir else [initial, then]
        self.sasl_challenge = b""
        args = (mechanism, initial) if sasl_ir else (mechanism,)
        response = await self.execute(_aio.Command("AUTHENTICATE", self.new_tag(), *args,
                                                   loop=self.loop))
        self._sasl_replies = []
        if response.result == "OK":
            self.state = _aio.AUTH
        return response

    def _continuation(self, line: bytes) -> None:
        command = self.pending_sync_command
        if command is None or command.name != "AUTHENTICATE":
            super()._continuation(line)
            return
        self.sasl_challenge = line[1:].strip()
        reply = self._sasl_replies.pop(0) if self._sasl_replies else "*"  # "*" cancels
        self.transport.write(reply.encode("ascii") + CRLF)

    def data_received(self, d: bytes) -> None:
        self.bytes_received += len(d)
        try:
            self._handle_responses(self.incomplete_line + d, self._handle_line,
                                   self.current_command)
            self.incomplete_line = b""
            self.current_command = None
        except _aio.IncompleteRead as incomplete:
            self.current_command = incomplete.cmd
            self.incomplete_line = incomplete.data

    def connection_lost(self, exc: Exception | None) -> None:
        """End every command in flight: aioimaplib leaves them waiting forever, and the
        CAPABILITY it sends after the greeting holds ``state_condition`` meanwhile, so a
        dropped or stalled connection at that moment hung anyone waiting on the state."""
        pending = list(self.pending_async_commands.values())
        if self.pending_sync_command is not None:
            pending.append(self.pending_sync_command)
        for command in pending:
            command._exception = _aio.Abort("the connection was lost")
            command.close(b"the connection was lost", "BYE")
        super().connection_lost(exc)

    def send(self, line: str, scrub: str | None = None) -> None:
        self.transport.write(f"{line}\r\n".encode())

    def _handle_responses(self, data: bytes, line_handler: Any,
                          current_cmd: Any = None) -> None:
        pos, end = 0, len(data)
        while True:
            if pos >= end:
                if self.pending_sync_command is not None:
                    self.pending_sync_command.flush()
                if current_cmd is not None and current_cmd.wait_data():
                    raise _aio.IncompleteRead(current_cmd)
                return
            if current_cmd is not None and current_cmd.wait_literal_data():
                need = current_cmd._expected_size - len(current_cmd._resp_literal_data)
                take = min(need, end - pos)
                current_cmd.append_literal_data(data[pos:pos + take])
                pos += take
                if current_cmd.wait_literal_data():
                    raise _aio.IncompleteRead(current_cmd)
            eol = data.find(CRLF, pos)
            if eol < 0:
                raise _aio.IncompleteRead(current_cmd, data[pos:])
            line = data[pos:eol]
            pos = eol + 2
            cmd = line_handler(line, current_cmd)
            begin_literal = _LITERAL.match(line)
            if begin_literal:
                if cmd is None:
                    cmd = _aio.Command("NIL", "unused")
                cmd.begin_literal_data(int(begin_literal.group("size")))
                current_cmd = cmd
            elif cmd is not None and cmd.wait_data():
                current_cmd = cmd
            else:
                current_cmd = None

    async def fetch(self, message_set: str, message_parts: str, by_uid: bool = False,
                    timeout: float | None = None) -> Any:
        return await self.execute(_FetchCommand(
            self.new_tag(), message_set, message_parts,
            prefix="UID" if by_uid else "", loop=self.loop, timeout=timeout))


# --- wire helpers -------------------------------------------------------------------


def message_set(uids: Iterable[int]) -> str:
    """``[1, 2, 3, 7, 9, 10]`` -> ``"1:3,7,9:10"``."""
    ordered = sorted(set(uids))
    if not ordered:
        raise ValueError("empty UID set")
    parts: list[str] = []
    start = prev = ordered[0]
    for uid in ordered[1:]:
        if uid == prev + 1:
            prev = uid
            continue
        parts.append(f"{start}:{prev}" if prev > start else str(start))
        start = prev = uid
    parts.append(f"{start}:{prev}" if prev > start else str(start))
    return ",".join(parts)


def parse_fetch_bodies(lines: Sequence[bytes | bytearray]) -> list[tuple[int, bytes]]:
    """(uid, raw message) pairs from the lines of a ``UID FETCH (UID BODY.PEEK[])``.

    aioimaplib hands back the untagged lines with or without their ``* `` (depending
    on how the read chunks fell) and each literal as a separate ``bytearray`` item
    following the line that announced it with ``{size}``. A FETCH for flags only
    (an unsolicited update) has no literal and is skipped.
    """
    found: list[tuple[int, bytes]] = []
    uid: int | None = None
    body: bytes | None = None
    expect_body = False

    def flush() -> None:
        if uid is not None and body is not None:
            found.append((uid, body))

    for item in lines:
        if type(item) is not bytes:  # a literal
            if expect_body:
                body = bytes(item)
            expect_body = False
            continue
        line: bytes = item
        if _FETCH_START.match(line):
            flush()
            uid, body = None, None
        match = _UID_ITEM.search(line)
        if match:
            uid = int(match.group(1))
        expect_body = bool(_LITERAL.match(line)) and b"BODY[]" in line
        if b"BODY[] NIL" in line:
            body = b""
    flush()
    return found


def quote(text: str) -> str:
    """An IMAP quoted string (no CR/LF allowed)."""
    if "\r" in text or "\n" in text or "\0" in text:
        raise ValueError("line breaks are not allowed in IMAP names")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def encode_folder(name: str) -> str:
    """A folder name in IMAP's modified UTF-7 (RFC 3501 5.1.3), quoted."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(raw).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return quote("".join(out))
