"""Usage tiers: who qualifies for which tier, when an upgrade applies, what each tier may do.

A tier is earned by meeting ALL of its criteria: a usable payment method on file (when the
tier asks for one), cumulative paid spend of at least a figure, and an account at least so
many days old. Once they are met the upgrade is "pending" for a settle period (24 hours by
default) before it applies: the runbook's "I added a card but I'm still on the free tier".
Past the settle period it is overdue, which is a fault to escalate rather than to wait out.

Each tier lists the models it may call (403 outside them) and per-model RPM/TPM. The
default table is kept as data below (shaped like OpenAI's published tiers); a deployment
passes its own ``TierTable`` (or builds one with ``TierTable.from_mapping``) instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from quotadesk.billing.limits import require_aware
from quotadesk.billing.model import GrantKind, InvoiceStatus, Organization, PaymentStatus, RateLimit
from quotadesk.billing.pricing import DEFAULT_PRICES, resolve_name
from quotadesk.billing.recharge import card_usable
from quotadesk.money import fmt, nanos

ANY_MODEL = "*"
"""Key of a tier's fallback rate limit, for models the table does not list by name."""


class UnknownTier(ValueError):
    """A tier name the table does not have: typed by a user, or stored by the books under a tier
    table the deployment has since changed. Edges turn it into an error naming ``field``."""

    field = "tier"

    def __init__(self, name: str, known: tuple[str, ...]) -> None:
        self.name = name
        self.message = f"unknown tier {name!r}; expected one of {', '.join(known)}"
        super().__init__(f"{self.field}: {self.message}")


@dataclass(frozen=True, slots=True)
class TierSpec:
    """One tier: its criteria and what it allows.

    ``requires_payment_method``, ``min_paid_total`` (nano-dollars of cumulative paid spend)
    and ``min_account_age_days`` must all hold to qualify. ``models`` is the set of model
    names the tier may call (None: every priced model). ``rate_limits`` maps model names,
    or ``"*"`` for the rest, to RPM/TPM.
    """

    name: str
    requires_payment_method: bool
    min_paid_total: int
    min_account_age_days: int
    models: frozenset[str] | None
    rate_limits: Mapping[str, RateLimit] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TierTable:
    """Tiers from lowest to highest, and how long a met upgrade takes to apply."""

    tiers: tuple[TierSpec, ...]
    settle: timedelta = timedelta(hours=24)

    def __post_init__(self) -> None:
        if not self.tiers:
            raise ValueError("tiers: a tier table needs at least one tier")
        names = [t.name for t in self.tiers]
        if len(set(names)) != len(names):
            raise ValueError(f"tiers: duplicate tier names in {names}")
        if self.settle < timedelta(0):
            raise ValueError("settle: must not be negative")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tiers)

    def get(self, name: str) -> TierSpec:
        for spec in self.tiers:
            if spec.name == name:
                return spec
        raise UnknownTier(name, self.names)

    def rank(self, name: str) -> int:
        return self.names.index(self.get(name).name)

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> TierTable:
        """A deployment's table from plain data (e.g. JSON)::

        {"settle_hours": 24, "tiers": [{"name": "free", "requires_payment_method": false,
          "min_paid_total": "0", "min_account_age_days": 0, "models": ["gpt-4o-mini"],
          "rate_limits": {"gpt-4o-mini": {"rpm": 3, "tpm": 40000}}}, ...]}
        """
        raw_tiers = data.get("tiers")
        if not isinstance(raw_tiers, list):
            raise ValueError("tiers: expected a list of tiers")
        specs = [_spec_from_mapping(raw, f"tiers[{i}]") for i, raw in enumerate(raw_tiers)]
        hours = data.get("settle_hours", 24)
        if isinstance(hours, bool) or not isinstance(hours, int) or hours < 0:
            raise ValueError(f"settle_hours: expected a non-negative int, got {hours!r}")
        return cls(tuple(specs), timedelta(hours=hours))


def _count(raw: Mapping[str, object], key: str, where: str) -> int:
    value = raw.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{where}.{key}: expected a non-negative int, got {value!r}")
    return value


def _optional_count(raw: Mapping[str, object], key: str, where: str) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{where}.{key}: expected a non-negative int or null, got {value!r}")
    return value


def _spec_from_mapping(raw: object, where: str) -> TierSpec:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: expected an object")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where}.name: expected a tier name")
    models = raw.get("models")
    if models is not None and not (isinstance(models, list) and all(isinstance(m, str) for m in models)):
        raise ValueError(f"{where}.models: expected a list of model names or null")
    raw_limits = raw.get("rate_limits", {})
    if not isinstance(raw_limits, Mapping):
        raise ValueError(f"{where}.rate_limits: expected an object")
    limits: dict[str, RateLimit] = {}
    for model, entry in raw_limits.items():
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where}.rate_limits.{model}: expected {{rpm, tpm}}")
        rpm = _optional_count(entry, "rpm", f"{where}.rate_limits.{model}")
        tpm = _optional_count(entry, "tpm", f"{where}.rate_limits.{model}")
        limits[str(model)] = RateLimit(rpm=rpm, tpm=tpm)
    return TierSpec(
        name=name,
        requires_payment_method=bool(raw.get("requires_payment_method", True)),
        min_paid_total=nanos(raw.get("min_paid_total", "0"), f"{where}.min_paid_total", allow_negative=False),
        min_account_age_days=_count(raw, "min_account_age_days", where),
        models=None if models is None else frozenset(models),
        rate_limits=MappingProxyType(limits),
    )


def _families(*classes: str) -> frozenset[str]:
    return frozenset(m for m, p in DEFAULT_PRICES.items() if p.price_class in classes)


def _limits(
    economy: tuple[int, int] | None, standard: tuple[int, int] | None, premium: tuple[int, int] | None
) -> Mapping[str, RateLimit]:
    by_class = {"economy": economy, "standard": standard, "premium": premium}
    out: dict[str, RateLimit] = {}
    for model, price in DEFAULT_PRICES.items():
        pair = by_class[price.price_class]
        if pair is not None:
            out[model] = RateLimit(rpm=pair[0], tpm=pair[1])
    fallback = standard or economy
    if fallback is not None:
        out[ANY_MODEL] = RateLimit(rpm=fallback[0], tpm=fallback[1])
    return MappingProxyType(out)


_ECONOMY = _families("economy")
_NOT_PREMIUM = _families("economy", "standard")

_Pair = tuple[int, int] | None
_DEFAULT_ROWS: tuple[tuple[str, bool, str, int, frozenset[str] | None, _Pair, _Pair, _Pair], ...] = (
    # name, needs a card, paid spend $, account age days, models (None: all),
    # then (rpm, tpm) for economy, standard and premium models (None: not callable).
    ("free", False, "0", 0, _ECONOMY, (3, 40_000), None, None),
    ("tier1", True, "5", 0, _NOT_PREMIUM, (500, 200_000), (500, 30_000), None),
    ("tier2", True, "50", 7, None, (5_000, 2_000_000), (5_000, 450_000), (500, 100_000)),
    ("tier3", True, "100", 7, None, (5_000, 4_000_000), (5_000, 800_000), (5_000, 800_000)),
    ("tier4", True, "250", 14, None, (10_000, 10_000_000), (10_000, 2_000_000), (10_000, 2_000_000)),
    ("tier5", True, "1000", 30, None, (30_000, 150_000_000), (10_000, 30_000_000), (10_000, 30_000_000)),
)

DEFAULT_TIERS = TierTable(
    tiers=tuple(
        TierSpec(name, card, nanos(paid), age, models, _limits(economy, standard, premium))
        for name, card, paid, age, models, economy, standard, premium in _DEFAULT_ROWS
    )
)
"""OpenAI-like tiers: qualification by card, cumulative paid spend and account age."""


def model_allowed(tier: str, model: str, table: TierTable = DEFAULT_TIERS) -> bool:
    """May ``tier`` call ``model``? Dated/versioned names count as their family."""
    spec = table.get(tier)
    return spec.models is None or resolve_name(model, spec.models) is not None


def rate_limit_for(tier: str, model: str, table: TierTable = DEFAULT_TIERS) -> RateLimit | None:
    """RPM/TPM of ``tier`` for ``model``; None when the tier may not call it or sets no limit."""
    spec = table.get(tier)
    if not model_allowed(tier, model, table):
        return None
    name = resolve_name(model, spec.rate_limits)
    if name is not None:
        return spec.rate_limits[name]
    return spec.rate_limits.get(ANY_MODEL)


@dataclass(frozen=True, slots=True)
class Criterion:
    """One unmet tier criterion with the figure required and the account's own."""

    name: str  # payment_method / paid_spend / account_age
    required: str
    actual: str

    def __str__(self) -> str:
        return f"{self.name}: needs {self.required}, has {self.actual}"


@dataclass(frozen=True, slots=True)
class TierEvaluation:
    """Where an organization stands on the tier ladder at ``now``.

    ``current`` is the tier in force; ``qualifies_for`` the highest tier whose criteria all
    hold. ``pending`` names the tier an upgrade is due to (criteria met above ``current``,
    or an upgrade the books record as pending); ``pending_since`` is when its criteria were
    met (None when the books do not show it), ``pending_until`` when it should have applied,
    and ``overdue`` is true once that moment has passed with the upgrade still not applied.
    ``next_tier`` is the tier being asked about and ``unmet`` what it still lacks.
    """

    current: str
    qualifies_for: str
    pending: str | None
    pending_since: datetime | None
    pending_until: datetime | None
    overdue: bool
    next_tier: str | None
    unmet: tuple[Criterion, ...]


PAID_GRANT_KINDS = frozenset({GrantKind.PURCHASED, GrantKind.AUTO_RECHARGE})


def paid_total_of(org: Organization) -> int:
    """Cumulative paid spend, from the best evidence the books hold.

    The succeeded payments when they are all there; but an export often lists only recent
    payments, while the purchased and auto-recharge grants (or paid invoices) they bought
    are still on file. Each of the three stands for the same money, so the largest of the
    three sums is taken, never their total.
    """
    payments = sum(p.amount for p in org.payments if p.status == PaymentStatus.SUCCEEDED)
    grants = sum(g.amount for g in org.credit_grants if g.kind in PAID_GRANT_KINDS)
    invoices = sum(i.amount for i in org.invoices if i.status == InvoiceStatus.PAID)
    return max(payments, grants, invoices)


def _unmet(spec: TierSpec, has_method: bool, paid: int, age_days: int | None) -> tuple[Criterion, ...]:
    out: list[Criterion] = []
    if spec.requires_payment_method and not has_method:
        out.append(Criterion("payment_method", "a valid payment method", "none usable"))
    if paid < spec.min_paid_total:
        out.append(Criterion("paid_spend", fmt(spec.min_paid_total), fmt(paid)))
    if spec.min_account_age_days > 0 and (age_days is None or age_days < spec.min_account_age_days):
        actual = "unknown" if age_days is None else f"{age_days} days"
        out.append(Criterion("account_age", f"{spec.min_account_age_days} days", actual))
    return tuple(out)


def _crossing(events: list[tuple[datetime, int]], threshold: int) -> datetime | None:
    """When the running total of ``(at, amount)`` events first reached ``threshold``."""
    running = 0
    for at, amount in sorted(events, key=lambda e: e[0]):
        running += amount
        if running >= threshold:
            return require_aware(at, "paid_at")
    return None


def _met_at(org: Organization, spec: TierSpec) -> datetime | None:
    """When the criteria of ``spec`` became met, as far as the books show it."""
    if org.tier.pending is not None and org.tier.pending.requested_at is not None:
        return require_aware(org.tier.pending.requested_at, "tier.pending.requested_at")
    moments: list[datetime] = []
    if spec.min_account_age_days > 0:
        if org.created_at is None:
            return None
        created = require_aware(org.created_at, "created_at")
        moments.append(created + timedelta(days=spec.min_account_age_days))
    if spec.min_paid_total > 0:
        paid = [(p.at, p.amount) for p in org.payments if p.status == PaymentStatus.SUCCEEDED]
        bought = [(g.granted_at, g.amount) for g in org.credit_grants if g.kind in PAID_GRANT_KINDS]
        crossed = _crossing(paid, spec.min_paid_total) or _crossing(bought, spec.min_paid_total)
        if crossed is None:
            return None
        moments.append(crossed)
    return max(moments) if moments else None


def evaluate_tier(
    org: Organization,
    paid_total: int | None,
    now: datetime,
    table: TierTable = DEFAULT_TIERS,
    settle: timedelta | None = None,
) -> TierEvaluation:
    """Evaluate ``org``'s tier at ``now``; ``paid_total`` (nano-dollars) defaults to
    ``paid_total_of(org)``, ``settle`` to the table's settle period."""
    now = require_aware(now)
    settle = table.settle if settle is None else settle
    paid = paid_total_of(org) if paid_total is None else paid_total
    if isinstance(paid, bool) or not isinstance(paid, int) or paid < 0:
        raise ValueError(f"paid_total: expected non-negative nano-dollars, got {paid!r}")
    current = table.get(org.tier.current).name
    has_method = any(card_usable(pm, now) for pm in org.payment_methods)
    age_days = None if org.created_at is None else (now - require_aware(org.created_at, "created_at")).days
    qualifies = table.tiers[0].name
    for spec in table.tiers:
        if not _unmet(spec, has_method, paid, age_days):
            qualifies = spec.name
    rank = table.rank
    pending: str | None = None
    if org.tier.pending is not None and rank(org.tier.pending.target) > rank(current):
        pending = org.tier.pending.target
    elif rank(qualifies) > rank(current):
        pending = qualifies
    since = until = None
    overdue = False
    if pending is not None and rank(qualifies) >= rank(pending):
        since = _met_at(org, table.get(pending))
        if since is not None:
            until = since + settle
            overdue = now >= until
    if pending is not None and rank(qualifies) < rank(pending):
        next_tier: str | None = pending
    else:
        top = max(rank(current), rank(qualifies))
        next_tier = table.names[top + 1] if top + 1 < len(table.tiers) else None
    unmet = () if next_tier is None else _unmet(table.get(next_tier), has_method, paid, age_days)
    return TierEvaluation(current, qualifies, pending, since, until, overdue, next_tier, unmet)
