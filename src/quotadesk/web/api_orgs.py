"""``/api/v1/orgs``: the books of each organization, read and changed by the back office.

Thin: each handler validates its body (``schemas``), calls one library function with the
caller's ``Actor`` and the desk's ``now``, and answers. The role rules, the audit rows and the
books' invariants all live in ``store``; after a change, the org's open cases are triaged
again on the new books (``Desk.books_changed``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy import select

from quotadesk.desk.service import Desk
from quotadesk.errors import NotFoundError
from quotadesk.store.access import check
from quotadesk.store.db import transaction
from quotadesk.store.export import account_section
from quotadesk.store.probe import access_now
from quotadesk.store.schema import api_keys, invoices, organizations
from quotadesk.store.snapshot import load_organization
from quotadesk.store.timeline import timeline
from quotadesk.web import schemas as s
from quotadesk.web.auth import Member
from quotadesk.web.errors import RESPONSES

FlagId = Annotated[int, Path(ge=1, le=2**62)]
router = APIRouter(prefix="/api/v1/orgs", tags=["organizations"], responses=RESPONSES)


def _desk(request: Request) -> Desk:
    desk: Desk = request.app.state.desk
    return desk


def _changed(desk: Desk, org_id: str, why: str) -> None:
    desk.books_changed(org_id, why)


@router.get("", summary="Organizations, newest first")
def list_orgs(
    request: Request,
    member: Member,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[dict[str, Any]]:
    desk = _desk(request)
    check(desk.engine, member.actor, "read_account", desk.now(), org_id=None)
    with transaction(desk.engine) as conn:
        rows = conn.execute(
            select(
                organizations.c.id,
                organizations.c.name,
                organizations.c.billing_mode,
                organizations.c.status,
                organizations.c.tier_current,
                organizations.c.created_at,
            )
            .order_by(organizations.c.created_at.desc(), organizations.c.id)
            .limit(limit)
            .offset(offset)
        ).all()
    return [
        {
            "id": r.id,
            "name": r.name,
            "billing_mode": r.billing_mode,
            "status": r.status,
            "tier": r.tier_current,
            "created_at": r.created_at.isoformat().replace("+00:00", "Z"),
        }
        for r in rows
    ]


@router.post("", status_code=201, summary="Create an organization")
def create_org(body: s.OrgIn, request: Request, member: Member) -> dict[str, Any]:
    desk = _desk(request)
    now = desk.now()
    org_id = desk.books.create_org(
        member.actor,
        now,
        name=body.name,
        billing_mode=body.billing_mode,
        stripe_customer=body.stripe_customer,
    )
    return {"id": org_id, **account(org_id, request, member)}


@router.get("/{org}", summary="The account, in the case bundle's account shape")
def account(org: str, request: Request, member: Member) -> dict[str, Any]:
    desk = _desk(request)
    now = desk.now()
    check(desk.engine, member.actor, "read_account", now, org_id=org)
    with transaction(desk.engine) as conn:
        model = load_organization(conn, org)
        out: dict[str, Any] = account_section(conn, model, now, desk.books.tiers)
        stripe = conn.execute(
            select(organizations.c.stripe_customer).where(organizations.c.id == org)
        ).scalar()
    out["stripe_customer"] = stripe
    return out


@router.get("/{org}/timeline", summary="Every event of the account in time order (pages go back in time)")
def org_timeline(
    org: str,
    request: Request,
    response: Response,
    member: Member,
    before: Annotated[str | None, Query(max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    desk = _desk(request)
    check(desk.engine, member.actor, "read_account", desk.now(), org_id=org)
    page = timeline(desk.engine, org, before=before, limit=limit)
    if page.before:
        response.headers["X-Next-Before"] = page.before
        response.headers["Link"] = (
            f'</api/v1/orgs/{org}/timeline?before={page.before}&limit={limit}>; rel="next"'
        )
    return [e.to_json() for e in page.events]


@router.get("/{org}/access", summary="Would a request be admitted now? (the gateway's decision, replayed)")
def access(
    org: str,
    request: Request,
    member: Member,
    key_id: Annotated[str | None, Query(max_length=64)] = None,
    model: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> dict[str, Any]:
    desk = _desk(request)
    now = desk.now()
    check(desk.engine, member.actor, "read_account", now, org_id=org)
    probe = access_now(
        desk.engine, org, now, key_id=key_id, model=model, prices=desk.books.prices, tiers=desk.books.tiers
    )
    d = probe.decision
    out: dict[str, Any] = {"allowed": probe.allowed, "key_id": probe.key_id, "model": probe.model}
    if not probe.allowed:
        resets = getattr(d, "resets_at", None)
        out |= {
            "rule": str(getattr(d, "rule", "")),
            "status": getattr(d, "status", None),
            "code": getattr(d, "code", None),
            "message": getattr(d, "message", ""),
            "limit": getattr(d, "limit", {}),
            "lifted_by": getattr(d, "lifted_by", None),
            "resets_at": resets.isoformat().replace("+00:00", "Z") if resets else None,
        }
    return out


@router.post("/{org}/keys", status_code=201, response_model=s.NewKeyOut, summary="Create an API key")
def create_key(org: str, body: s.KeyIn, request: Request, member: Member) -> s.NewKeyOut:
    desk = _desk(request)
    key = desk.books.create_key(
        member.actor,
        desk.now(),
        org,
        name=body.name,
        scope=body.scope,
        owner=body.owner,
        environment=body.environment,
    )
    _changed(desk, org, "key created")
    return s.NewKeyOut(id=key.id, secret=key.secret, redacted=key.redacted)


@router.post("/{org}/keys/{key}/revoke", summary="Revoke an API key")
def revoke_key(org: str, key: str, request: Request, member: Member) -> dict[str, Any]:
    desk = _desk(request)
    with transaction(desk.engine) as conn:
        owner = conn.execute(select(api_keys.c.org_id).where(api_keys.c.id == key)).scalar()
    if owner != org:
        raise NotFoundError(f"organization {org} has no key {key!r}", "key")
    desk.books.revoke_key(member.actor, desk.now(), key)
    _changed(desk, org, "key revoked")
    return {"id": key, "status": "revoked"}


@router.post("/{org}/grants", status_code=201, summary="Grant credit (billing team or admin)")
def grant(org: str, body: s.GrantIn, request: Request, member: Member) -> dict[str, Any]:
    desk = _desk(request)
    grant_id = desk.books.grant_credit(
        member.actor,
        desk.now(),
        org,
        body.amount,
        kind=body.kind,
        expires_at=body.expires_at,
        reason=body.reason,
    )
    _changed(desk, org, "credit granted")
    return {
        "id": grant_id,
        "kind": body.kind,
        "amount": body.amount,
        "expires_at": body.expires_at.isoformat().replace("+00:00", "Z") if body.expires_at else None,
    }


@router.put("/{org}/limits", summary="Monthly soft and hard spend limits")
def limits(org: str, body: s.LimitsIn, request: Request, member: Member) -> dict[str, Any]:
    desk = _desk(request)
    desk.books.set_limits(member.actor, desk.now(), org, soft=body.soft, hard=body.hard)
    _changed(desk, org, "spend limits changed")
    return account(org, request, member)["spend_limits"]  # type: ignore[no-any-return]


@router.put("/{org}/tier", summary="A manual tier (kept until set back to 'auto')")
def tier(org: str, body: s.TierIn, request: Request, member: Member) -> dict[str, Any]:
    desk = _desk(request)
    desk.books.set_tier(member.actor, desk.now(), org, body.current)
    _changed(desk, org, "tier changed")
    with transaction(desk.engine) as conn:
        row = conn.execute(
            select(organizations.c.tier_current, organizations.c.tier_manual).where(organizations.c.id == org)
        ).one()
    return {"current": row.tier_current, "manual": bool(row.tier_manual)}


@router.put("/{org}/rate_limits", summary="Negotiated per-model rate limits (admin)")
def rate_limits(org: str, body: s.RateLimitsIn, request: Request, member: Member) -> dict[str, Any]:
    desk = _desk(request)
    limits_in = {m: v.model_dump() for m, v in body.items()}
    desk.books.set_rate_limits(member.actor, desk.now(), org, limits_in)
    _changed(desk, org, "rate limits changed")
    return {"rate_limits": account(org, request, member)["rate_limits"]}


@router.put("/{org}/auto_recharge", summary="Auto-recharge settings")
def auto_recharge(org: str, body: s.AutoRechargeIn, request: Request, member: Member) -> dict[str, Any]:
    desk = _desk(request)
    desk.books.set_auto_recharge(
        member.actor, desk.now(), org, enabled=body.enabled, threshold=body.threshold, amount=body.amount
    )
    _changed(desk, org, "auto-recharge changed")
    return account(org, request, member)["auto_recharge"]  # type: ignore[no-any-return]


@router.put("/{org}/stripe", summary="Link the organization to its Stripe customer (null unlinks)")
def stripe_link(org: str, body: s.StripeLinkIn, request: Request, member: Member) -> dict[str, Any]:
    desk = _desk(request)
    desk.books.link_stripe(member.actor, desk.now(), org, body.stripe_customer)
    return {"stripe_customer": body.stripe_customer}


@router.post(
    "/{org}/flags", status_code=201, summary="Raise a flag (the account is suspended while it is active)"
)
def raise_flag(org: str, body: s.FlagIn, request: Request, member: Member) -> dict[str, Any]:
    desk = _desk(request)
    flag_id = desk.books.raise_flag(
        member.actor, desk.now(), org, body.kind, source=body.source, reason=body.reason
    )
    _changed(desk, org, f"{body.kind} flag raised")
    return {"id": flag_id, "kind": body.kind, "source": body.source, "active": True}


@router.post("/{org}/flags/{flag}/lift", summary="Lift a flag (Trust & Safety, Finance or admin, by kind)")
def lift_flag(org: str, flag: FlagId, body: s.LiftIn, request: Request, member: Member) -> dict[str, Any]:
    desk = _desk(request)
    row = desk.books.lift_flag_id(member.actor, desk.now(), org, flag, reason=body.reason)
    _changed(desk, org, f"{row['kind']} flag lifted")
    lifted = row["lifted_at"]
    return {
        "id": row["id"],
        "kind": row["kind"],
        "active": bool(row["active"]),
        "lifted_at": lifted.isoformat().replace("+00:00", "Z") if lifted else None,
        "lifted_by": row["lifted_by"],
    }


def _invoice_org(desk: Desk, org: str, invoice: str) -> None:
    with transaction(desk.engine) as conn:
        owner = conn.execute(select(invoices.c.org_id).where(invoices.c.id == invoice)).scalar()
    if owner != org:
        raise NotFoundError(f"organization {org} has no invoice {invoice!r}", "invoice")


@router.post(
    "/{org}/invoices/{invoice}/payments", status_code=201, summary="Record an invoice payment (Finance)"
)
def invoice_payment(
    org: str, invoice: str, body: s.InvoicePaymentIn, request: Request, member: Member
) -> dict[str, Any]:
    desk = _desk(request)
    _invoice_org(desk, org, invoice)
    pay_id = desk.books.record_invoice_payment(member.actor, desk.now(), invoice, reference=body.reference)
    _changed(desk, org, "invoice paid")
    return {"payment": pay_id, "invoice": invoice, "status": "paid"}


@router.post("/{org}/invoices/{invoice}/waive", summary="Waive an invoice (Finance or admin)")
def waive(org: str, invoice: str, body: s.WaiveIn, request: Request, member: Member) -> dict[str, Any]:
    desk = _desk(request)
    _invoice_org(desk, org, invoice)
    desk.books.waive_invoice(member.actor, desk.now(), invoice, reason=body.reason)
    _changed(desk, org, "invoice waived")
    return {"invoice": invoice, "status": "void"}
