"""What a detector concludes, as a value: root cause, window, dollar impact, evidence.

A finding is a value, never an exception, so one detector that cannot decide (or fails)
does not stop the others, and triage can weigh several findings against the ticket:
a burst of retries is a ``retry_storm`` in a high-bill ticket, a ``code_bug`` in a refund
request, and a ``provider_outage_retries`` when it overlaps a status-page incident.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple


class RootCause(StrEnum):
    """The contract's root causes that usage can show (incidents 2 and 5)."""

    RUNAWAY_LOOP = "runaway_loop"
    RETRY_STORM = "retry_storm"
    MODEL_SWAP = "model_swap"
    CONTEXT_BLOAT = "context_bloat"
    DEV_KEY_IN_PRODUCTION = "dev_key_in_production"
    TRAFFIC_GROWTH = "traffic_growth"
    BILLING_DISCREPANCY = "billing_discrepancy"
    ACCOUNT_COMPROMISE = "account_compromise"
    PROVIDER_OUTAGE_RETRIES = "provider_outage_retries"
    CODE_BUG = "code_bug"
    EXPENSIVE_MODEL = "expensive_model"
    FORGOT_TO_STOP = "forgot_to_stop"


HIGH_BILL_CAUSES = frozenset(
    {
        RootCause.RUNAWAY_LOOP,
        RootCause.RETRY_STORM,
        RootCause.MODEL_SWAP,
        RootCause.CONTEXT_BLOAT,
        RootCause.DEV_KEY_IN_PRODUCTION,
        RootCause.TRAFFIC_GROWTH,
        RootCause.BILLING_DISCREPANCY,
    }
)
"""Root causes the contract lists under ``unexpected_high_bill``."""

REFUND_CAUSES = frozenset(
    {
        RootCause.ACCOUNT_COMPROMISE,
        RootCause.PROVIDER_OUTAGE_RETRIES,
        RootCause.CODE_BUG,
        RootCause.EXPENSIVE_MODEL,
        RootCause.FORGOT_TO_STOP,
    }
)
"""Root causes the contract lists under ``refund_request``."""


class Window(NamedTuple):
    """When the cause was at work, ``[start, end)`` in UTC."""

    start: datetime
    end: datetime


class Evidence(NamedTuple):
    """One fact with its figures and dates, and where in the bundle it can be checked.

    ``source`` is a JSON pointer into the case bundle (``/usage/records``,
    ``/account/invoices/1``, ``/status_page/incidents/0``).
    """

    fact: str
    source: str


@dataclass(frozen=True, slots=True)
class Finding:
    """A detector's conclusion.

    Fields: ``root_cause`` (contract vocabulary); ``window``; ``impact_nanos``, the extra
    spend the cause explains (integer nano-dollars, never negative); ``confidence`` 0..1;
    ``summary``, one sentence a reply can quote; ``evidence``, facts with figures and
    sources; ``figures``, machine-readable strings (decimal dollars, counts, ISO dates,
    model names, key ids — always including ``impact`` and ``date``, the day the cause
    began); ``request_ids``, a sample of at most 20 requests to hand to engineering;
    ``key_ids`` and ``models`` involved.
    """

    root_cause: RootCause
    window: Window
    impact_nanos: int
    confidence: float
    summary: str
    evidence: tuple[Evidence, ...] = ()
    figures: Mapping[str, str] = field(default_factory=dict)
    request_ids: tuple[str, ...] = ()
    key_ids: tuple[str, ...] = ()
    models: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be within 0..1, got {self.confidence}")
        if self.impact_nanos < 0:
            raise ValueError(f"impact_nanos must not be negative, got {self.impact_nanos}")
        if len(self.request_ids) > 20:
            raise ValueError("request_ids is a sample of at most 20")

    @property
    def score(self) -> float:
        """Ranking weight: dollars explained times how sure the detector is."""
        return self.impact_nanos * self.confidence


def rank_key(f: Finding) -> tuple[float, float, str]:
    """Highest impact × confidence first; ties broken by confidence, then root cause name."""
    return (-f.score, -f.confidence, f.root_cause.value)


def rank(findings: list[Finding]) -> tuple[Finding, ...]:
    return tuple(sorted(findings, key=rank_key))
