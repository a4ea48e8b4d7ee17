"""`mailflow report`: the committee's end-of-program report, one self-contained HTML file.

`build_report(state, generated_at=...)` is pure over the `ProgramState`: the
figures come from `mailflow.report.data`, the chart geometry from
`mailflow.report.charts`, and `report_template.html` (shipped in the package)
draws them with inline SVG and inline CSS: no script, no external resource.
Every value from the store is escaped by Jinja2's autoescape.

MET and NOT_MET notes stay between mentor and mentee; they are shown only
with `share_notes=True`.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from importlib.resources import files

from jinja2 import Environment, StrictUndefined, Template

from mailflow.domain.model import EscalationReason, Role
from mailflow.render.filters import shortdate
from mailflow.report.charts import GLYPHS, MONTH_ABBR, ORDER, engagement_grids, summary_stack
from mailflow.report.data import CELL_LABELS, ReportData, as_of, report_data
from mailflow.services.state import ProgramState

TEMPLATE = "template.html"

REASONS: dict[str, str] = {
    EscalationReason.HELP: "Asked for help",
    EscalationReason.END_REQUEST: "Asked to end the match",
    EscalationReason.BOUNCE: "Email bounced",
    EscalationReason.QUIET: "Quiet too long",
    EscalationReason.NO_CONTACT: "No first contact",
}
ROLES: dict[str, str] = {Role.MENTOR: "Mentor", Role.MENTEE: "Mentee", Role.LIAISON: "Liaison",
         Role.COORDINATOR: "Coordinator"}


def percent(value: float | None) -> str:
    """``58%``; an em dash when there is nothing to divide."""
    return "—" if value is None else f"{round(value * 100)}%"


def number(value: float | None) -> str:
    """``3`` or ``2.5``; an em dash for None."""
    if value is None:
        return "—"
    return f"{value:.1f}".removesuffix(".0")


def compactdate(value: date) -> str:
    """``4 Jun 2025``"""
    return f"{value.day} {MONTH_ABBR[value.month - 1]} {value.year}"


def coord(value: float) -> str:
    """An SVG coordinate: at most one decimal."""
    return number(round(value, 1))


def role_label(value: str) -> str:
    return ROLES.get(value, value.capitalize())


def reason_label(value: str) -> str:
    return REASONS.get(value, value)


@cache
def _template() -> Template:
    env = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True,
                      lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(shortdate=shortdate, compactdate=compactdate, percent=percent,
                       number=number, coord=coord, role=role_label, reason=reason_label)
    source = files("mailflow.report").joinpath(TEMPLATE).read_text(encoding="utf-8")
    return env.from_string(source)


def render_report(data: ReportData, *, generated_at: datetime, timezone: str,
                  share_notes: bool) -> str:
    grids = engagement_grids(data)
    return _template().render(
        data=data,
        grids=grids,
        columns=grids[0].columns,
        stack=summary_stack(data),
        order=ORDER,
        glyphs=GLYPHS,
        labels=CELL_LABELS,
        generated_at=as_of(generated_at, timezone),
        share_notes=share_notes,
    )


def build_report(state: ProgramState, *, generated_at: datetime,
                 share_notes: bool = False) -> str:
    """The whole report as one HTML document (figures as of `state.now`)."""
    data = report_data(state, share_notes=share_notes)
    return render_report(data, generated_at=generated_at, timezone=state.program.timezone,
                         share_notes=share_notes)
