"""The books of one organization as immutable values.

Names follow the case-bundle contract (``shared/contracts/case-bundle.md``) one to one, so
a bundle's ``account`` maps onto these records field by field. Money is integer
nano-dollars (``quotadesk.money``); times are timezone-aware UTC datetimes. Rules live in
the sibling modules and take these records plus ``now``; nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class BillingMode(StrEnum):
    PREPAID = "prepaid"
    INVOICED = "invoiced"


class OrgStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class ConsoleAccess(StrEnum):
    OK = "ok"
    BLOCKED = "blocked"
    UNKNOWN = "unknown"


class FlagKind(StrEnum):
    POLICY_VIOLATION = "policy_violation"
    FRAUD = "fraud"
    OUTSTANDING_BALANCE = "outstanding_balance"


class FlagSource(StrEnum):
    AUTOMATED = "automated"
    MANUAL = "manual"


class NoticeKind(StrEnum):
    PAYMENT_FAILED = "payment_failed"
    AUTO_RECHARGE_FAILED = "auto_recharge_failed"
    CREDITS_LOW = "credits_low"
    CREDITS_EXHAUSTED = "credits_exhausted"
    CREDITS_EXPIRING = "credits_expiring"
    CREDITS_EXPIRED = "credits_expired"
    SOFT_LIMIT_REACHED = "soft_limit_reached"
    HARD_LIMIT_REACHED = "hard_limit_reached"
    INVOICE_OVERDUE = "invoice_overdue"
    SUSPENSION_POLICY = "suspension_policy"
    SUSPENSION_FRAUD = "suspension_fraud"
    SUSPENSION_PAYMENT = "suspension_payment"
    TIER_UPGRADED = "tier_upgraded"


class PaymentMethodStatus(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    DECLINED = "declined"


class PaymentPurpose(StrEnum):
    TOP_UP = "top_up"
    AUTO_RECHARGE = "auto_recharge"
    INVOICE = "invoice"


class PaymentStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PENDING = "pending"


class FailureCode(StrEnum):
    CARD_DECLINED = "card_declined"
    EXPIRED_CARD = "expired_card"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    PROCESSING_ERROR = "processing_error"


class GrantKind(StrEnum):
    FREE_TRIAL = "free_trial"
    PURCHASED = "purchased"
    AUTO_RECHARGE = "auto_recharge"
    GOODWILL = "goodwill"
    PROMOTIONAL = "promotional"


FREE_GRANT_KINDS = frozenset({GrantKind.FREE_TRIAL, GrantKind.GOODWILL, GrantKind.PROMOTIONAL})


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    OVERDUE = "overdue"
    VOID = "void"


class KeyScope(StrEnum):
    ORGANIZATION = "organization"
    PERSONAL = "personal"


class Environment(StrEnum):
    PRODUCTION = "production"
    DEVELOPMENT = "development"
    CI = "ci"


class KeyStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


TIER_ORDER = ("free", "tier1", "tier2", "tier3", "tier4", "tier5")


@dataclass(frozen=True, slots=True)
class Flag:
    """A reason to suspend: kind, source (automated/manual), when raised, whether still active."""

    kind: FlagKind
    at: datetime
    source: FlagSource = FlagSource.AUTOMATED
    active: bool = True


@dataclass(frozen=True, slots=True)
class Notice:
    """An email the provider sent the customer: kind and when."""

    kind: str
    at: datetime


@dataclass(frozen=True, slots=True)
class PendingUpgrade:
    target: str
    requested_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TierState:
    """The usage tier in force (current, since) and an upgrade that has not applied yet."""

    current: str = "free"
    since: datetime | None = None
    pending: PendingUpgrade | None = None


@dataclass(frozen=True, slots=True)
class PaymentMethod:
    """A card on file: id, brand, last4, expiry, status (valid/expired/declined), default."""

    id: str
    status: PaymentMethodStatus
    brand: str = ""
    last4: str = ""
    exp_month: int | None = None
    exp_year: int | None = None
    default: bool = False


@dataclass(frozen=True, slots=True)
class Payment:
    """A charge attempt: amount (nano-dollars), purpose, status and failure code."""

    id: str
    at: datetime
    amount: int
    status: PaymentStatus
    purpose: PaymentPurpose = PaymentPurpose.TOP_UP
    failure_code: str | None = None


@dataclass(frozen=True, slots=True)
class CreditGrant:
    """Prepaid credit: kind, amount and remaining (nano-dollars), granted_at, expires_at or None."""

    id: str
    kind: GrantKind
    amount: int
    remaining: int
    granted_at: datetime
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AutoRecharge:
    """Charge the default card ``amount`` when the balance falls below ``threshold`` (nano-dollars)."""

    enabled: bool = False
    threshold: int | None = None
    amount: int | None = None
    daily_cap: int = 3


@dataclass(frozen=True, slots=True)
class SpendLimits:
    """Monthly limits in nano-dollars; None means no limit."""

    soft: int | None = None
    hard: int | None = None


@dataclass(frozen=True, slots=True)
class Invoice:
    """A monthly invoice of an invoiced account: period, amount (nano-dollars), status, due date."""

    id: str
    period_start: datetime
    period_end: datetime
    amount: int
    status: InvoiceStatus
    due_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key as the books keep it: never the secret, only its hash and a redacted form."""

    id: str
    status: KeyStatus
    name: str = ""
    redacted: str = ""
    scope: KeyScope = KeyScope.ORGANIZATION
    owner: str | None = None
    owner_active: bool = True
    environment: Environment | None = None
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    secret_hash: str | None = None


@dataclass(frozen=True, slots=True)
class RateLimit:
    rpm: int | None = None
    tpm: int | None = None


@dataclass(frozen=True, slots=True)
class Organization:
    """Everything the rulebook needs to decide for one organization."""

    id: str
    name: str = ""
    created_at: datetime | None = None
    billing_mode: BillingMode = BillingMode.PREPAID
    status: OrgStatus = OrgStatus.ACTIVE
    console_access: ConsoleAccess = ConsoleAccess.UNKNOWN
    flags: tuple[Flag, ...] = ()
    notices: tuple[Notice, ...] = ()
    tier: TierState = field(default_factory=TierState)
    payment_methods: tuple[PaymentMethod, ...] = ()
    payments: tuple[Payment, ...] = ()
    credit_grants: tuple[CreditGrant, ...] = ()
    auto_recharge: AutoRecharge = field(default_factory=AutoRecharge)
    spend_limits: SpendLimits = field(default_factory=SpendLimits)
    invoices: tuple[Invoice, ...] = ()
    api_keys: tuple[ApiKey, ...] = ()
    rate_limits: dict[str, RateLimit] | None = None
    model_access: tuple[str, ...] | None = None
