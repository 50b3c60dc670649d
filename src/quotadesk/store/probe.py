"""Would a request be admitted right now? The admission decision asked without holding anything.

The desk asks this before a case may be resolved (the checklist's step 5: the customer's API
works again) and the account page asks it to say why an account is blocked. It is the same
``billing.policy.decide`` the gateway applies, on the same books (month-to-date spend from the
ledger, what requests in flight hold), for one of the org's keys and a model it uses, so the
desk and the gateway cannot disagree. The rate window is left out on purpose: a rate limit
clears by itself within a minute, and the question is whether the account lets requests in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select

from quotadesk.billing import model as m
from quotadesk.billing.decision import Decision
from quotadesk.billing.limits import month_start
from quotadesk.billing.policy import AdmissionRequest, decide
from quotadesk.billing.pricing import DEFAULT_TABLE, PriceTable, UnknownModelError
from quotadesk.billing.tiers import DEFAULT_TIERS, TierTable
from quotadesk.store import ledger
from quotadesk.store.db import transaction
from quotadesk.store.payments import open_holds
from quotadesk.store.schema import usage_events
from quotadesk.store.snapshot import load_organization
from quotadesk.store.values import aware

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PROBE_INPUT_TOKENS = 1_000
PROBE_OUTPUT_TOKENS = 500
"""A typical small request: enough that an empty balance refuses it, small enough to be fair."""


@dataclass(frozen=True, slots=True)
class Probe:
    """The decision for ``model`` with key ``key_id`` (None: the org has no usable key)."""

    decision: Decision
    key_id: str | None
    model: str

    @property
    def allowed(self) -> bool:
        from quotadesk.billing.decision import Allow

        return isinstance(self.decision, Allow)


def usual_key(org: m.Organization) -> m.ApiKey | None:
    """The key a customer most likely calls with: an active production key, most recently used."""
    usable = [k for k in org.api_keys if k.status == m.KeyStatus.ACTIVE and k.owner_active]
    pool = [k for k in usable if k.environment == m.Environment.PRODUCTION] or usable
    if not pool:
        return None
    return max(
        pool, key=lambda k: (k.last_used_at is not None, (k.last_used_at or k.created_at or _EPOCH), k.id)
    )


def usual_model(engine: Engine, org_id: str, now: datetime, prices: PriceTable) -> str | None:
    """The priced model the org sent most requests to in the last 30 days."""
    with transaction(engine) as conn:
        rows = conn.execute(
            select(usage_events.c.model, func.sum(usage_events.c.requests).label("n"))
            .where(
                usage_events.c.org_id == org_id,
                usage_events.c.ts > now - timedelta(days=30),
                usage_events.c.ts <= now,
            )
            .group_by(usage_events.c.model)
            .order_by(func.sum(usage_events.c.requests).desc(), usage_events.c.model)
        ).all()
    for model, _ in rows:
        try:
            prices.get(model)
        except UnknownModelError:
            continue
        return str(model)
    return None


def access_now(
    engine: Engine,
    org_id: str,
    now: datetime,
    *,
    key_id: str | None = None,
    model: str | None = None,
    prices: PriceTable = DEFAULT_TABLE,
    tiers: TierTable = DEFAULT_TIERS,
) -> Probe:
    """What the gateway would answer now for ``org_id`` with ``key_id`` (default: its usual key)
    asking ``model`` (default: its usual model, else the first priced model its tier allows)."""
    now = aware(now)
    with transaction(engine) as conn:
        org = load_organization(conn, org_id)
        mtd = ledger.balance(conn, ledger.spend_account(org_id, month_start(now)))
        held = open_holds(conn, org_id, now)
    if key_id is None:
        key = usual_key(org)
        key_id = key.id if key is not None else None
    chosen = model or usual_model(engine, org_id, now, prices) or _tier_model(org, prices, tiers)
    request = AdmissionRequest(
        model=chosen,
        key_id=key_id or "",
        estimated_input_tokens=PROBE_INPUT_TOKENS,
        estimated_output_tokens=PROBE_OUTPUT_TOKENS,
        month_to_date=mtd,
        held=held,
    )
    return Probe(decide(org, request, now, prices, tiers), key_id, chosen)


def _tier_model(org: m.Organization, prices: PriceTable, tiers: TierTable) -> str:
    from quotadesk.billing.tiers import model_allowed

    names = list(org.model_access or ()) or sorted(prices)
    for name in names:
        if model_allowed(org.tier.current, name, tiers):
            return name
    return names[0] if names else "unknown-model"
