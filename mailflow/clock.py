"""The one place time is read.

Every time-dependent decision goes through a Clock, so `--now` and tests can
fix the moment, and `run --speed F` can run the program clock faster.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current moment, timezone-aware."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """Always the same moment (for `--now`, dry runs and tests); `advance` moves it."""

    moment: datetime

    def now(self) -> datetime:
        return self.moment

    def set(self, moment: datetime) -> None:
        self.moment = moment


@dataclass
class AcceleratedClock:
    """Starts at `origin` and runs `speed` times faster than the wall clock."""

    origin: datetime
    speed: float
    _started: float = field(default_factory=time.monotonic)

    def now(self) -> datetime:
        from datetime import timedelta

        elapsed = (time.monotonic() - self._started) * self.speed
        return self.origin + timedelta(seconds=elapsed)


def parse_now(text: str, timezone: str = "UTC") -> datetime:
    """Read `--now`: an ISO date or datetime; one without an offset is in ``timezone``
    (the program's), as every time a coordinator reads in `plan` is."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        from zoneinfo import ZoneInfo

        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment
