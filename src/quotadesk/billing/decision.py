"""The outcome of an admission decision, shared by the gateway, the dialects and triage.

One vocabulary of rules (``Rule``) names what tripped. The gateway renders a ``Deny`` in a
provider's dialect; triage reads a provider's error back into a ``Rule`` and so reaches
the same rule the gateway would have used: one rulebook, two directions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Rule(StrEnum):
    """Every reason a request can be refused, plus the non-billing failures triage meets."""

    INVALID_KEY = "invalid_key"  # unknown or revoked key
    DEPARTED_MEMBER_KEY = "departed_member_key"  # personal key whose owner left
    SUSPENDED = "suspended"  # any active flag
    MODEL_NOT_IN_TIER = "model_not_in_tier"
    INVOICE_OVERDUE = "invoice_overdue"
    HARD_LIMIT = "hard_limit"  # monthly hard spend limit
    CREDITS_EXHAUSTED = "credits_exhausted"  # no spendable balance (prepaid)
    PAYMENT_FAILED = "payment_failed"  # card/billing not active
    FREE_TIER_LIMIT = "free_tier_limit"  # trial caps, free-tier quotas
    RATE_LIMIT = "rate_limit"  # RPM/TPM
    OVERLOADED = "overloaded"  # provider capacity / outage
    UNKNOWN = "unknown"


BILLING_RULES = frozenset(
    {
        Rule.SUSPENDED,
        Rule.INVOICE_OVERDUE,
        Rule.HARD_LIMIT,
        Rule.CREDITS_EXHAUSTED,
        Rule.PAYMENT_FAILED,
    }
)


@dataclass(frozen=True, slots=True)
class Allow:
    """The request may go ahead; ``hold`` is the estimated cost to reserve (nano-dollars)."""

    hold: int = 0
    notices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Deny:
    """A refusal: which rule, how it goes on the wire, the limit and what lifts it.

    ``status``/``error_type``/``code``/``message`` are the generic (runbook) dialect;
    ``billing.dialects.render`` re-spells them for a given provider. ``limit`` carries the
    figure that tripped (e.g. ``{"hard_limit": "200.00", "month_to_date": "200.40"}``),
    ``resets_at`` when it lifts by itself, ``lifted_by`` who or what lifts it otherwise.
    """

    rule: Rule
    status: int
    error_type: str
    code: str
    message: str
    limit: dict[str, str] = field(default_factory=dict)
    resets_at: datetime | None = None
    lifted_by: str | None = None
    retry_after_s: int | None = None

    @property
    def billing(self) -> bool:
        return self.rule in BILLING_RULES


Decision = Allow | Deny
