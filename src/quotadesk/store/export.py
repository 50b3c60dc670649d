"""A case bundle (contract v1) written from the books, so triage works on live accounts.

``bundle_export(books, org_id, ticket, as_of)`` reads one organization and maps it onto the
contract section by section:

- ``account``: the store's records one to one, through ``snapshot.load_organization`` (the
  same values the rulebook decides on). Records dated after ``as_of`` are left out, so an
  export "as of" a past moment does not show what happened later; balances and statuses
  are the books' current ones.
- ``rate_limits``/``model_access``: what is in force for the current tier (the org's own
  overrides win over the tier table), as the admission decision reads them.
- ``prices``: the price table's entries for every model in the exported usage.
- ``usage.records``: the usage events from ``usage_since`` (default: the start of the second
  month before ``as_of``'s, so last month's bill and the month it is compared with are in
  view) to ``as_of``, one row per event; past
  ``BUCKET_ABOVE`` rows they are summed into hourly buckets per key, model, status,
  fingerprint and IP (``requests`` > 1), which keeps retries visible (same fingerprint).
- ``status_page``: passed through when the caller has one.

One detail is recovered from the ledger rather than the grant row: when the month close
writes off an expired grant it sets ``remaining`` to 0, but the contract (and the runbook's
"the credits appeared available" trap) needs the remainder that was lost, so an expired,
written-off grant is exported with the amount its expiry posting removed.

The document is checked against the shipped JSON Schema before it is returned; a bad
``ticket`` is an ``InputError`` naming its field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from quotadesk.billing.limits import month_start
from quotadesk.billing.model import Organization
from quotadesk.billing.policy import figure
from quotadesk.billing.pricing import DEFAULT_TABLE, PriceTable, UnknownModelError
from quotadesk.billing.tiers import ANY_MODEL, DEFAULT_TIERS, TierTable
from quotadesk.errors import InputError
from quotadesk.money import from_nanos
from quotadesk.store import ledger
from quotadesk.store.db import transaction
from quotadesk.store.schema import credit_grants, ledger_postings, ledger_transactions, usage_events
from quotadesk.store.snapshot import load_organization
from quotadesk.store.values import aware

BUNDLE_VERSION = 1
BUCKET_ABOVE = 20_000
"""More usage events than this in the window are exported as hourly buckets."""

JSON = dict[str, Any]


def rfc3339(ts: datetime) -> str:
    """``2026-11-14T09:12:00Z``: UTC, a ``Z`` suffix, fractions only when there are some."""
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _opt_ts(ts: datetime | None) -> str | None:
    return None if ts is None else rfc3339(ts)


def money(nanos: int) -> str:
    """Dollars as the contract spells them: cents when exact, every digit otherwise."""
    return figure(nanos)


def exact(nanos: int) -> str:
    """Dollars with every significant digit (``0.0000025``, ``0``): for per-row usage costs."""
    d = from_nanos(nanos).normalize()
    return format(d if d != 0 else Decimal(0), "f")


def _opt_money(nanos: int | None) -> str | None:
    return None if nanos is None else money(nanos)


@dataclass(frozen=True, slots=True)
class _Source:
    engine: Engine
    prices: PriceTable
    tiers: TierTable


def _source(books_or_engine: object) -> _Source:
    if isinstance(books_or_engine, Engine):
        return _Source(books_or_engine, DEFAULT_TABLE, DEFAULT_TIERS)
    engine = getattr(books_or_engine, "engine", None)
    if not isinstance(engine, Engine):
        raise InputError(f"expected Books or an Engine, got {type(books_or_engine).__name__}", "books")
    prices = getattr(books_or_engine, "prices", DEFAULT_TABLE)
    tiers = getattr(books_or_engine, "tiers", DEFAULT_TIERS)
    return _Source(engine, prices, tiers)


# ------------------------------------------------------------------------------------ account


def _written_off(conn: Connection, grant_ids: list[str]) -> dict[str, int]:
    """Remainders that expiry postings took off these grants (grant id → nano-dollars)."""
    if not grant_ids:
        return {}
    accounts = {ledger.grant_account(g): g for g in grant_ids}
    rows = conn.execute(
        select(ledger_postings.c.account, func.sum(ledger_postings.c.amount))
        .join(ledger_transactions, ledger_transactions.c.id == ledger_postings.c.txn_id)
        .where(ledger_transactions.c.kind == "expiry", ledger_postings.c.account.in_(sorted(accounts)))
        .group_by(ledger_postings.c.account)
    )
    return {accounts[str(acct)]: -int(total) for acct, total in rows if total}


def _grants(conn: Connection, org: Organization, as_of: datetime) -> list[JSON]:
    expired_ids = list(
        conn.execute(
            select(credit_grants.c.id).where(
                credit_grants.c.org_id == org.id,
                credit_grants.c.expired_at.is_not(None),
                credit_grants.c.expired_at <= as_of,
            )
        ).scalars()
    )
    lost = _written_off(conn, expired_ids)
    out = []
    for g in org.credit_grants:
        if g.granted_at > as_of:
            continue
        remaining = g.remaining + lost.get(g.id, 0) if g.remaining == 0 else g.remaining
        out.append(
            {
                "id": g.id,
                "kind": g.kind.value,
                "amount": money(g.amount),
                "remaining": money(remaining),
                "granted_at": rfc3339(g.granted_at),
                "expires_at": _opt_ts(g.expires_at),
            }
        )
    return out


def _rate_limits(org: Organization, tiers: TierTable) -> JSON:
    spec = tiers.get(org.tier.current)
    limits = {name: rl for name, rl in spec.rate_limits.items() if name != ANY_MODEL}
    if spec.models is not None:
        limits = {name: rl for name, rl in limits.items() if name in spec.models}
    limits.update(org.rate_limits or {})
    out: JSON = {}
    for name in sorted(limits):
        rl = limits[name]
        entry = {k: v for k, v in (("rpm", rl.rpm), ("tpm", rl.tpm)) if v is not None}
        out[name] = entry
    return out


def _model_access(org: Organization, tiers: TierTable) -> list[str] | None:
    if org.model_access is not None:
        return list(org.model_access)
    models = tiers.get(org.tier.current).models
    return None if models is None else sorted(models)


def account_section(conn: Connection, org: Organization, as_of: datetime, tiers: TierTable) -> JSON:
    """The contract's ``account`` object for ``org`` at ``as_of`` (see the module docstring)."""
    pending = None
    if org.tier.pending is not None:
        pending = {"target": org.tier.pending.target}
        if org.tier.pending.requested_at is not None:
            pending["requested_at"] = rfc3339(org.tier.pending.requested_at)
    methods = []
    for pm in org.payment_methods:
        entry: JSON = {"id": pm.id, "brand": pm.brand, "last4": pm.last4}
        if pm.exp_month is not None:
            entry["exp_month"] = pm.exp_month
        if pm.exp_year is not None:
            entry["exp_year"] = pm.exp_year
        entry |= {"status": pm.status.value, "default": pm.default}
        methods.append(entry)
    return {
        "id": org.id,
        "name": org.name,
        "created_at": _opt_ts(org.created_at),
        "billing_mode": org.billing_mode.value,
        "status": org.status.value,
        "console_access": org.console_access.value,
        "flags": [
            {"kind": f.kind.value, "source": f.source.value, "at": rfc3339(f.at), "active": f.active}
            for f in org.flags
            if f.at <= as_of
        ],
        "notices": [{"kind": n.kind, "at": rfc3339(n.at)} for n in org.notices if n.at <= as_of],
        "tier": {"current": org.tier.current, "since": _opt_ts(org.tier.since), "pending": pending},
        "payment_methods": methods,
        "payments": [
            {
                "id": p.id,
                "at": rfc3339(p.at),
                "amount": money(p.amount),
                "purpose": p.purpose.value,
                "status": p.status.value,
                "failure_code": p.failure_code,
            }
            for p in org.payments
            if p.at <= as_of
        ],
        "credit_grants": _grants(conn, org, as_of),
        "auto_recharge": {
            "enabled": org.auto_recharge.enabled,
            "threshold": _opt_money(org.auto_recharge.threshold),
            "amount": _opt_money(org.auto_recharge.amount),
        },
        "spend_limits": {
            "soft": _opt_money(org.spend_limits.soft),
            "hard": _opt_money(org.spend_limits.hard),
        },
        "invoices": [
            {
                "id": inv.id,
                "period_start": rfc3339(inv.period_start),
                "period_end": rfc3339(inv.period_end),
                "amount": money(inv.amount),
                "status": inv.status.value,
                "due_at": _opt_ts(inv.due_at),
            }
            for inv in org.invoices
            if inv.period_start <= as_of
        ],
        "api_keys": [
            {
                "id": k.id,
                "name": k.name,
                "redacted": k.redacted,
                "scope": k.scope.value,
                "owner": k.owner,
                "owner_active": k.owner_active,
                "environment": None if k.environment is None else k.environment.value,
                "status": k.status.value,
                "created_at": _opt_ts(k.created_at),
                "last_used_at": _opt_ts(k.last_used_at)
                if k.last_used_at and k.last_used_at <= as_of
                else None,
            }
            for k in org.api_keys
            if k.created_at is None or k.created_at <= as_of
        ],
        "rate_limits": _rate_limits(org, tiers),
        "model_access": _model_access(org, tiers),
    }


# -------------------------------------------------------------------------------------- usage


_USAGE_COLUMNS = (
    usage_events.c.ts,
    usage_events.c.request_id,
    usage_events.c.key_id,
    usage_events.c.model,
    usage_events.c.input_tokens,
    usage_events.c.output_tokens,
    usage_events.c.cached_tokens,
    usage_events.c.requests,
    usage_events.c.status,
    usage_events.c.cost,
    usage_events.c.fingerprint,
    usage_events.c.ip,
)


def _row(ts: datetime, request_id: str, values: tuple[Any, ...], cost: int, counts: tuple[int, ...]) -> JSON:
    key_id, model, status, fingerprint, ip = values
    return {
        "ts": rfc3339(ts),
        "request_id": request_id,
        "key_id": key_id or "",
        "model": model,
        "input_tokens": counts[0],
        "output_tokens": counts[1],
        "cached_tokens": counts[2],
        "requests": counts[3],
        "status": status,
        "cost": exact(cost),
        "fingerprint": fingerprint or "",
        "ip": ip or "",
    }


def usage_rows(
    conn: Connection, org_id: str, since: datetime, until: datetime, *, bucket_above: int = BUCKET_ABOVE
) -> list[JSON]:
    """The org's usage events in ``[since, until]`` as contract rows, bucketed hourly when many."""
    where = (usage_events.c.org_id == org_id, usage_events.c.ts >= since, usage_events.c.ts <= until)
    count = int(conn.execute(select(func.count()).select_from(usage_events).where(*where)).scalar() or 0)
    rows = conn.execute(
        select(*_USAGE_COLUMNS).where(*where).order_by(usage_events.c.ts, usage_events.c.request_id)
    )
    if count <= bucket_above:
        return [
            _row(
                r.ts,
                r.request_id,
                (r.key_id, r.model, r.status, r.fingerprint, r.ip),
                int(r.cost),
                (int(r.input_tokens), int(r.output_tokens), int(r.cached_tokens), int(r.requests)),
            )
            for r in rows
        ]
    buckets: dict[tuple[datetime, tuple[Any, ...]], list[int]] = {}
    for r in rows:
        hour = r.ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        key = (hour, (r.key_id, r.model, int(r.status), r.fingerprint, r.ip))
        acc = buckets.setdefault(key, [0, 0, 0, 0, 0])
        acc[0] += int(r.input_tokens)
        acc[1] += int(r.output_tokens)
        acc[2] += int(r.cached_tokens)
        acc[3] += int(r.requests)
        acc[4] += int(r.cost)
    out = []
    for (hour, values), acc in buckets.items():
        digest = hashlib.sha256(json.dumps([hour.isoformat(), *values], default=str).encode()).hexdigest()
        out.append(_row(hour, "bkt_" + digest[:16], values, acc[4], (acc[0], acc[1], acc[2], acc[3])))
    return out


def price_section(models: set[str], prices: PriceTable) -> JSON:
    out: JSON = {}
    for name in sorted(models):
        try:
            p = prices.get(name)
        except UnknownModelError:
            continue  # never metered (metering refuses unpriced models); nothing to state
        out[name] = {
            "input_per_mtok": format(p.input_per_mtok, "f"),
            "output_per_mtok": format(p.output_per_mtok, "f"),
            "cached_input_per_mtok": format(p.cached_input_per_mtok, "f"),
        }
    return out


# ------------------------------------------------------------------------------------- ticket


def ticket_section(ticket: object, as_of: datetime) -> JSON:
    if not isinstance(ticket, Mapping):
        raise InputError(f"expected an object with at least 'body', got {type(ticket).__name__}", "ticket")
    out = dict(ticket)
    body = out.get("body")
    if not isinstance(body, str):
        raise InputError("expected the customer's words as a string", "ticket.body")
    tid = out.get("id")
    if tid is None:
        out["id"] = "T-" + hashlib.sha256(body.encode()).hexdigest()[:8]
    elif not isinstance(tid, str) or not tid.strip():
        raise InputError("expected a non-empty string", "ticket.id")
    received = out.get("received_at")
    if received is None:
        out["received_at"] = rfc3339(as_of)
    elif isinstance(received, datetime):
        out["received_at"] = rfc3339(aware(received, "ticket.received_at"))
    out.setdefault("subject", "")
    attachments = out.get("attachments")
    if attachments is None:
        out["attachments"] = []
    elif not isinstance(attachments, list):
        raise InputError("expected a list", "ticket.attachments")
    return out


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema

    text = resources.files("quotadesk.data").joinpath("contracts/case-bundle.schema.json").read_text()
    return jsonschema.Draft202012Validator(json.loads(text))


def check_bundle(doc: JSON) -> None:
    """Raise ``InputError`` naming the first field of ``doc`` that breaks the shipped schema
    (inline usage rows are written here, so only their count is worth a check)."""
    light = dict(doc)
    usage = doc.get("usage")
    if isinstance(usage, dict) and "records" in usage:
        light["usage"] = {k: v for k, v in usage.items() if k != "records"}
    errors = sorted(_validator().iter_errors(light), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        err = errors[0]
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
        raise InputError(err.message[:200], path)


# --------------------------------------------------------------------------------------- main


def default_usage_since(as_of: datetime) -> datetime:
    """The start of the second month before ``as_of``'s: last month's bill, the month before
    it to compare with, and this month so far."""
    return month_start(month_start(month_start(as_of) - timedelta(days=1)) - timedelta(days=1))


def bundle_export(
    books_or_engine: object,
    org_id: str,
    ticket: Mapping[str, Any],
    as_of: datetime,
    usage_since: datetime | None = None,
    *,
    provider: str = "generic",
    status_page: Mapping[str, Any] | None = None,
    bucket_above: int = BUCKET_ABOVE,
    with_usage: bool = True,
) -> JSON:
    """A contract-v1 case bundle for ``org_id`` with ``ticket``, looked at ``as_of``.

    ``books_or_engine`` is a ``Books`` (its price and tier tables are used) or an ``Engine``
    (the default tables). ``with_usage`` False leaves ``usage.records`` empty (a caller that
    has the usage analysed already). ``ticket`` needs ``body``; ``id``, ``received_at`` (default
    ``as_of``), ``subject`` and ``attachments`` are filled in when missing. Unknown org:
    ``NotFoundError``; bad ticket or time: ``InputError`` naming the field.
    """
    source = _source(books_or_engine)
    as_of = aware(as_of, "as_of")
    since = default_usage_since(as_of) if usage_since is None else aware(usage_since, "usage_since")
    if since > as_of:
        raise InputError("must not be after as_of", "usage_since")
    if not isinstance(provider, str) or not provider.strip():
        raise InputError("expected a provider name such as generic or openai", "provider")
    doc: JSON = {
        "bundle_version": BUNDLE_VERSION,
        "as_of": rfc3339(as_of),
        "provider": provider.strip().lower(),
        "ticket": ticket_section(ticket, as_of),
    }
    if status_page is not None:
        if not isinstance(status_page, Mapping):
            raise InputError("expected a Statuspage v2 object with 'incidents'", "status_page")
        doc["status_page"] = dict(status_page)
    with transaction(source.engine) as conn:
        org = load_organization(conn, org_id)
        doc["account"] = account_section(conn, org, as_of, source.tiers)
        records = usage_rows(conn, org_id, since, as_of, bucket_above=bucket_above) if with_usage else []
    doc["prices"] = price_section({r["model"] for r in records}, source.prices)
    doc["usage"] = {"records": records}
    check_bundle(doc)
    return doc
