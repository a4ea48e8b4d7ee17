"""Geometry of the report's two SVG charts, computed from `ReportData`. Pure.

The template draws what these values describe; every text here is plain and
is escaped by the template.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from mailflow.render.filters import shortdate
from mailflow.report.data import CELL_LABELS, Cell, PairRow, ReportData

MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
               "Dec")
# Stacking order in the summary chart, bottom up, and the legend's order.
ORDER = (Cell.MET, Cell.NOT_MET, Cell.PAUSED, Cell.SILENT, Cell.ENDED, Cell.NOT_YET)
GLYPHS = {Cell.MET: "✓", Cell.NOT_MET: "✕", Cell.PAUSED: "‖", Cell.SILENT: "",
          Cell.ENDED: "", Cell.NOT_YET: ""}

LABEL_W, GRID_W, CELL_H, HEADER_H, GAP = 272, 430, 26, 44, 3
ROWS_PER_CHART = 24  # a chart never runs over a printed page
LABEL_CHARS = 35


@dataclass(frozen=True)
class Column:
    x: float  # centre
    label: str
    sub: str


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    status: Cell
    title: str
    glyph: str = ""


@dataclass(frozen=True)
class GridRow:
    y: float  # text baseline
    pair_id: str
    names: str
    title: str
    cells: tuple[Rect, ...]


@dataclass(frozen=True)
class Grid:
    width: float
    height: float
    label_w: float
    columns: tuple[Column, ...]
    rows: tuple[GridRow, ...]


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class Stack:
    width: float
    height: float
    left: float
    top: float
    bottom: float  # y of the axis
    right: float
    ticks: tuple[Tick, ...]
    columns: tuple[Column, ...]
    bars: tuple[Rect, ...]


def _columns(data: ReportData, x0: float, step: float) -> tuple[Column, ...]:
    columns = []
    for m in range(1, data.months + 1):
        sub = ""
        if data.same_start:
            first = data.pairs[0].months[m - 1].start if data.pairs else None
            sub = MONTH_ABBR[first.month - 1] if first else ""
        columns.append(Column(x0 + (m - 0.5) * step, f"M{m}", sub))
    return tuple(columns)


def _clip(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _cell_title(row: PairRow, index: int) -> str:
    cell = row.months[index]
    last = shortdate(cell.end - timedelta(days=1))
    what = CELL_LABELS[cell.status]
    if cell.status == Cell.MET and cell.meetings > 1:
        what = f"Met ({cell.meetings} meetings)"
    return f"{row.pair_id}, month {cell.month} ({shortdate(cell.start)} – {last}): {what}"


def engagement_grid(data: ReportData, rows: Sequence[PairRow] | None = None) -> Grid:
    """The pairs-by-month chart for `rows` (default: every pair)."""
    pairs = data.pairs if rows is None else rows
    step = min(52.0, max(24.0, GRID_W / max(data.months, 1)))
    grid_rows = []
    for i, row in enumerate(pairs):
        top = HEADER_H + i * CELL_H
        cells = tuple(
            Rect(LABEL_W + j * step + GAP / 2, top + GAP / 2, step - GAP, CELL_H - GAP,
                 cell.status, _cell_title(row, j),
                 str(cell.meetings) if cell.meetings > 1 else GLYPHS[cell.status])
            for j, cell in enumerate(row.months)
        )
        names = f"{row.mentor} & {row.mentee}"
        grid_rows.append(GridRow(top + CELL_H / 2 + 4, row.pair_id, _clip(names),
                                 f"{row.pair_id}: mentor {row.mentor}, mentee {row.mentee}",
                                 cells))
    return Grid(LABEL_W + data.months * step + 2, HEADER_H + len(grid_rows) * CELL_H + 4,
                LABEL_W, _columns(data, LABEL_W, step), tuple(grid_rows))


def engagement_grids(data: ReportData, per_chart: int = ROWS_PER_CHART) -> tuple[Grid, ...]:
    """The chart split into pieces of at most `per_chart` pairs, each fitting a page."""
    if not data.pairs:
        return (engagement_grid(data),)
    return tuple(engagement_grid(data, data.pairs[i : i + per_chart])
                 for i in range(0, len(data.pairs), per_chart))


def _tick_step(top: int) -> int:
    if top <= 10:
        return 1
    raw = top / 6
    magnitude = int(10 ** math.floor(math.log10(raw)))  # raw > 1
    return next(s * magnitude for s in (1, 2, 5, 10) if s * magnitude >= raw)


def summary_stack(data: ReportData, width: float = 700, height: float = 250) -> Stack:
    left, right, top, bottom = 44.0, width - 12, 14.0, height - 40
    total = max(len(data.pairs), 1)
    step = (right - left) / max(data.months, 1)
    bar_w = min(step * 0.62, 56)
    scale = (bottom - top) / total
    bars = []
    for m, counts in enumerate(data.summary, start=1):
        x, y = left + (m - 0.5) * step - bar_w / 2, bottom
        for status in ORDER:
            n = counts[status]
            if not n:
                continue
            h = n * scale
            y -= h
            pairs = "pair" if n == 1 else "pairs"
            bars.append(Rect(x, y, bar_w, h, status,
                             f"Month {m}: {n} {pairs} {CELL_LABELS[status].lower()}",
                             str(n) if h >= 14 else ""))
    tick = _tick_step(total)
    ticks = tuple(Tick(bottom - v * scale, str(v)) for v in range(0, total + 1, tick))
    return Stack(width, height, left, top, bottom, right, ticks,
                 _columns(data, left, step), tuple(bars))
