"""The values the decision tree reads, gathered from the ticket, the books and the usage log.

These are small plain records so that the tree is a pure function, testable without a
file or a database, and so that the signal extractor and the usage analytics can change
inside without the tree noticing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from quotadesk.billing.decision import Rule
from quotadesk.triage.bundle import Bundle, StatusIncident
from quotadesk.triage.facts import AccountFacts
from quotadesk.triage.replay import Replay

INCIDENTS = (
    "provider_outage",
    "payment_failure",
    "unexpected_high_bill",
    "spending_limit",
    "free_tier",
    "refund_request",
    "account_suspension",
    "api_key_issue",
    "rate_limit",
    "needs_info",
)
CUT_OFF_INTENTS = frozenset(
    {
        "payment_failure",
        "spending_limit",
        "free_tier",
        "account_suspension",
        "api_key_issue",
        "rate_limit",
        "provider_outage",
    }
)
MONEY_INTENTS = frozenset({"unexpected_high_bill", "refund_request"})


@dataclass(frozen=True, slots=True)
class ErrorSeen:
    """One error the customer saw, read back into the rulebook's vocabulary."""

    rule: Rule
    billing: bool
    confidence: float
    status: int | None
    source: str
    summary: str = ""
    seen_at: datetime | None = None
    details: Mapping[str, str] = field(default_factory=dict)
    quote: str = ""
    """The error as the customer gave it, short: ``429 insufficient_quota`` or its message."""


@dataclass(frozen=True, slots=True)
class UsageFinding:
    """A usage detector's conclusion, money in nano-dollars."""

    root_cause: str
    start: datetime | None
    end: datetime | None
    impact: int
    confidence: float
    facts: tuple[str, ...] = ()
    figures: Mapping[str, str] = field(default_factory=dict)
    request_ids: tuple[str, ...] = ()
    key_ids: tuple[str, ...] = ()
    models: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UsageView:
    """What the usage log says, as far as triage needs it."""

    source: str
    findings: tuple[UsageFinding, ...] = ()
    month_to_date: int | None = None
    avg_daily_30d: int | None = None
    current_label: str | None = None
    current_total: int | None = None
    previous_label: str | None = None
    previous_total: int | None = None
    max_daily: int | None = None
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    models: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TicketView:
    """What the ticket says: intent ranking, claims, errors, exposed secrets."""

    intent: str
    scores: Mapping[str, float]
    claims: frozenset[str]
    errors: tuple[ErrorSeen, ...] = ()
    key_exposed: bool = False
    redactions: int = 0
    models: tuple[str, ...] = ()
    amounts: tuple[str, ...] = ()
    has_log: bool = False
    log_text: str = ""
    org_ids: tuple[str, ...] = ()
    dated: bool = False
    """The ticket says when (a date, a time, "since yesterday"): a reply does not ask again."""


@dataclass(frozen=True, slots=True)
class Case:
    """Everything the tree looks at for one ticket."""

    bundle: Bundle
    ticket: TicketView
    facts: AccountFacts | None
    usage: UsageView | None
    active_incidents: tuple[tuple[int, StatusIncident], ...] = ()
    recent_incidents: tuple[tuple[int, StatusIncident], ...] = ()
    replay: Replay | None = None

    @property
    def as_of(self) -> datetime:
        return self.bundle.as_of
