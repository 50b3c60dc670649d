"""What every detector is given: the profile, the periods, and what the books and ticket say.

Callers pass the books' records (API keys, invoices) and status-page incidents as they
have them — the rulebook's frozen dataclasses, a bundle's parsed objects, or plain
tuples — and ``normalize_*`` reduces them to the few fields detectors read, with their
index in the bundle so evidence can point at ``/account/invoices/1``.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from quotadesk.money import fmt
from quotadesk.usage.periods import Period
from quotadesk.usage.profile import Profile

DEV_ENVIRONMENTS = frozenset({"development", "ci"})
_DEV_HINTS = ("dev", "test", "staging", "stage", "sandbox", "ci", "local", "qa")


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """An API key as detectors need it: id, name, environment (None when unknown), bundle index."""

    id: str
    name: str
    environment: str | None
    index: int
    environment_guessed: bool = False


@dataclass(frozen=True, slots=True)
class InvoiceInfo:
    """An invoice: id, period, amount in nano-dollars, status and bundle index."""

    id: str
    start: datetime
    end: datetime
    amount_nanos: int
    status: str
    index: int


@dataclass(frozen=True, slots=True)
class IncidentInfo:
    """A status-page incident: name, start, end (None while unresolved) and bundle index."""

    name: str
    start: datetime
    end: datetime | None
    index: int


@dataclass(frozen=True, eq=False)
class Context:
    """Inputs shared by the detectors for one analysis.

    ``scope`` is where findings may lie (from the start of the month before ``as_of``'s
    month, so last month's bill is in view); earlier usage is history to compare with.
    ``current``/``previous`` are the periods the report compares; ``against`` is the
    like-for-like stretch of ``previous`` (as many days as ``current`` has had).
    """

    profile: Profile
    as_of: datetime
    scope: Period
    current: Period
    previous: Period
    against: Period
    keys: tuple[KeyInfo, ...]
    invoices: tuple[InvoiceInfo, ...]
    incidents: tuple[IncidentInfo, ...]
    log_text: str | None
    stopped_at: datetime | None
    min_impact_nanos: int
    source: str

    def days(self, period: Period) -> tuple[int, int]:
        """Profile day indexes ``[a, b)`` covering ``period`` up to ``as_of``."""
        p = self.profile
        last = min(self.as_of, period.end - timedelta(microseconds=1))
        return max(0, p.day_index(period.start)), max(0, min(p.n_days, p.day_index(last) + 1))

    def key(self, key_id: str) -> KeyInfo | None:
        for k in self.keys:
            if k.id == key_id:
                return k
        return None

    def key_source(self, key_id: str) -> str:
        k = self.key(key_id)
        return f"/account/api_keys/{k.index}" if k is not None and k.index >= 0 else self.source


def _enum_text(value: Any) -> str | None:
    if value is None:
        return None
    text = getattr(value, "value", value)
    return str(text).strip().lower() or None


def normalize_keys(keys: Sequence[Any]) -> tuple[KeyInfo, ...]:
    """Keys from ApiKey-like objects or mappings; an unknown environment is guessed from the name."""
    out: list[KeyInfo] = []
    for i, k in enumerate(keys):
        get = k.get if isinstance(k, dict) else lambda n, _k=k: getattr(_k, n, None)
        key_id = str(get("id") or "")
        name = str(get("name") or "")
        env = _enum_text(get("environment"))
        guessed = False
        if env is None:
            words = {w for w in _split_words(f"{name} {key_id}")}
            if words & set(_DEV_HINTS):
                env, guessed = "development", True
        out.append(KeyInfo(key_id, name, env, i, guessed))
    return tuple(out)


def _split_words(text: str) -> list[str]:
    word = []
    words = []
    for ch in text.lower():
        if ch.isalnum():
            word.append(ch)
        else:
            if word:
                words.append("".join(word))
            word = []
    if word:
        words.append("".join(word))
    return words


def normalize_invoices(invoices: Sequence[Any]) -> tuple[InvoiceInfo, ...]:
    out: list[InvoiceInfo] = []
    for i, inv in enumerate(invoices):
        get = inv.get if isinstance(inv, dict) else lambda n, _v=inv: getattr(_v, n, None)
        amount = get("amount")
        start, end = get("period_start"), get("period_end")
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise TypeError(f"invoices[{i}].amount must be integer nano-dollars")
        if not isinstance(start, datetime) or not isinstance(end, datetime):
            raise TypeError(f"invoices[{i}].period_start/period_end must be datetimes")
        out.append(
            InvoiceInfo(
                str(get("id") or f"invoice {i}"),
                start,
                end,
                amount,
                _enum_text(get("status")) or "",
                i,
            )
        )
    return tuple(out)


def normalize_incidents(incidents: Sequence[Any]) -> tuple[IncidentInfo, ...]:
    """Incidents as ``(name, start, end)`` tuples or Statuspage-like objects (created_at, resolved_at)."""
    out: list[IncidentInfo] = []
    for i, inc in enumerate(incidents):
        if isinstance(inc, tuple):
            name, start, end = inc[0], inc[1], inc[2]
            index = inc[3] if len(inc) > 3 else i
        else:
            name = getattr(inc, "name", "")
            start = getattr(inc, "created_at", None) or getattr(inc, "start", None)
            end = getattr(inc, "resolved_at", None) or getattr(inc, "end", None)
            index = i
        if start is None:
            continue
        out.append(IncidentInfo(str(name), start, end, int(index)))
    return tuple(out)


# --- small helpers shared by detectors ------------------------------------------------------------


def pct(part: float, whole: float) -> str:
    return f"{(100 * part / whole):.0f}%" if whole else "0%"


def money(nanos: int) -> str:
    return fmt(int(nanos))


def ratio_text(after: float, before: float) -> str:
    if before <= 0:
        return "new"
    r = after / before
    return f"{r:.1f}×" if r < 10 else f"{r:,.0f}×"


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


def when(dt: datetime) -> str:
    """``2026-10-08 16:00 UTC``."""
    return dt.strftime("%Y-%m-%d %H:%M UTC")


def day(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d")
