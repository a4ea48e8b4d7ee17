"""The committee's report renders in a real browser: headless Chromium, to PNG and to PDF.

A realistic finished program (twelve pairs, nine months, see ``report_program.py``)
is read from a real store, rendered with `build_report`, and opened from disk
in Debian's Chromium. The screenshot must be a real picture of the report (the
chart colours are in it), and printing must give a multi-page PDF. Without
Chromium the test is skipped, and fails under CI.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import struct
import subprocess
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from report_program import realistic_state

from mailflow.report.page import build_report

WIDTH, HEIGHT = 1200, 1600
TIMEOUT = 120
MET_GREEN, NOT_MET_ORANGE = (0x1A, 0x7F, 0x5A), (0xE6, 0x9F, 0x00)  # from the template's CSS


def _root_conftest() -> Any:
    """tests/conftest.py, loaded by path (tests/ is not a package)."""
    path = Path(__file__).resolve().parent.parent / "conftest.py"
    spec = importlib.util.spec_from_file_location("mailflow_tests_root_conftest", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


skip_or_fail: Callable[[str], None] = _root_conftest().skip_or_fail


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium"
                                         if Path("/usr/bin/chromium").exists() else None)
    if found is None:
        skip_or_fail("chromium is needed to render the report: run scripts/install-system-deps.sh")
    assert found is not None
    return found


@pytest.fixture
def report_file(tmp_path: Path) -> Path:
    state = realistic_state(tmp_path)
    html = build_report(state, generated_at=datetime(2025, 6, 12, 15, 4, tzinfo=UTC))
    path = tmp_path / "report.html"
    path.write_text(html, encoding="utf-8")
    return path


def _run_chromium(chromium: str, tmp_path: Path, *args: str) -> None:
    command = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'chromium-profile'}",
        *args,
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT,
                              check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"chromium did not finish within {TIMEOUT}s: {' '.join(command)}")
    assert done.returncode == 0, f"chromium exited {done.returncode}:\n{done.stderr[-2000:]}"


# --- a small PNG reader: enough to look at every pixel of Chromium's screenshot ------------


def _chunks(data: bytes) -> dict[bytes, bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    chunks: dict[bytes, bytes] = {}
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        assert zlib.crc32(kind + body) == struct.unpack(">I", data[pos + 8 + length :
                                                                   pos + 12 + length])[0]
        chunks[kind] = chunks.get(kind, b"") + body  # IDAT chunks concatenate
        pos += 12 + length
    return chunks


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def _unfilter(kind: int, line: bytearray, prev: bytes, bpp: int) -> bytearray:
    if kind == 1:
        for i in range(bpp, len(line)):
            line[i] = (line[i] + line[i - bpp]) & 0xFF
    elif kind == 2:
        line = bytearray((x + up) & 0xFF for x, up in zip(line, prev, strict=True))
    elif kind in (3, 4):
        for i in range(len(line)):
            left = line[i - bpp] if i >= bpp else 0
            corner = prev[i - bpp] if i >= bpp else 0
            pred = (left + prev[i]) // 2 if kind == 3 else _paeth(left, prev[i], corner)
            line[i] = (line[i] + pred) & 0xFF
    return line


def read_png(path: Path) -> tuple[int, int, list[bytes], int]:
    """(width, height, rows of unfiltered pixel bytes, bytes per pixel) of an 8-bit RGB(A) PNG."""
    chunks = _chunks(path.read_bytes())
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (depth, interlace) == (8, 0) and color in (2, 6), (depth, color, interlace)
    bpp = 3 if color == 2 else 4
    raw, stride = zlib.decompress(chunks[b"IDAT"]), width * bpp
    rows, prev = [], bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        line = _unfilter(raw[start], bytearray(raw[start + 1 : start + 1 + stride]), prev, bpp)
        rows.append(bytes(line))
        prev = bytes(line)
    return width, height, rows, bpp


def test_report_renders_to_a_real_screenshot(chromium: str, report_file: Path,
                                             tmp_path: Path) -> None:
    png = tmp_path / "report.png"
    _run_chromium(chromium, tmp_path, f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}",
                  report_file.as_uri())
    assert png.is_file() and png.stat().st_size > 10_000
    width, height, rows, bpp = read_png(png)
    assert (width, height) == (WIDTH, HEIGHT)
    colours: set[bytes] = set()
    white = 0
    for row in rows:
        for i in range(0, len(row), bpp):
            pixel = row[i : i + 3]
            colours.add(pixel)
            white += pixel == b"\xff\xff\xff"
    assert len(colours) > 50, f"only {len(colours)} colours: the page looks blank"
    assert white < 0.95 * width * height, "the page is almost all white"
    # The engagement chart was drawn: its met and not-met cells are on screen.
    assert bytes(MET_GREEN) in colours and bytes(NOT_MET_ORANGE) in colours


def test_report_prints_to_pdf(chromium: str, report_file: Path, tmp_path: Path) -> None:
    pdf = tmp_path / "report.pdf"
    _run_chromium(chromium, tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer",
                  report_file.as_uri())
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")
    pages = len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data))
    assert 2 <= pages <= 12, f"{pages} pages"
