"""The desk's sense of time, injected: the real clock, or a demo clock that runs from a fixed start.

The library below the desk never reads a clock (every function takes ``now``); the service
reads this one, once per request. The demo's books were played up to a simulated moment, so
its desk must see the world as of that moment, moving forward at the real pace, or a hard
limit reached "this month" would have reset by the real calendar before anyone looked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock UTC time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class OffsetClock:
    """Time that starts at ``start`` when created and advances with the real clock."""

    start: datetime
    _t0: float = field(default_factory=time.monotonic)

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self._t0)


@dataclass
class FixedClock:
    """A clock tests move by hand."""

    at: datetime

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)
