"""Who may change the books, and the audit log that remembers every change and every refusal.

Roles follow the runbook's teams and the service contract's six staff roles. The rule that
matters most: support resolves tickets but cannot lift a suspension, approve a credit or waive
an invoice; Trust & Safety lifts policy and fraud flags, Finance lifts outstanding-balance
flags and records invoice payments, the billing team approves credits (goodwill grants),
Security revokes keys, and an administrator may do anything, audited like everyone else.

Every change is written to ``audit_log`` (who, role, when, what) in the same transaction
as the change itself, so a change and its audit row exist together or not at all. A
refused attempt is written too, in its own transaction after the attempt rolled back, so
a refusal is on record even though nothing else changed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, insert

from quotadesk.billing.model import FlagKind
from quotadesk.errors import InputError
from quotadesk.store.db import transaction
from quotadesk.store.errors import ForbiddenError
from quotadesk.store.schema import audit_log


class Role(StrEnum):
    CUSTOMER = "customer"  # the organization's own owner/admin (console or API)
    SUPPORT = "support"
    BILLING_TEAM = "billing_team"
    FINANCE = "finance"
    TRUST_AND_SAFETY = "trust_and_safety"
    SECURITY = "security"
    ADMIN = "admin"  # the platform's administrator: every action, every one audited
    SYSTEM = "system"  # the gateway, the month close, the simulator, the connectors


STAFF_ROLES = (
    Role.SUPPORT,
    Role.BILLING_TEAM,
    Role.TRUST_AND_SAFETY,
    Role.FINANCE,
    Role.SECURITY,
    Role.ADMIN,
)
"""The six roles of the service contract: the people who sign in to the desk."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: a name for the audit log and the role that decides what they may do."""

    name: str
    role: Role

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise InputError("an actor needs a name for the audit log", "actor.name")
        if not isinstance(self.role, Role):
            raise InputError(f"unknown role {self.role!r}", "actor.role")


SYSTEM = Actor("system", Role.SYSTEM)

_C, _S, _B, _F, _T, _X, _A, _Y = (
    Role.CUSTOMER,
    Role.SUPPORT,
    Role.BILLING_TEAM,
    Role.FINANCE,
    Role.TRUST_AND_SAFETY,
    Role.SECURITY,
    Role.ADMIN,
    Role.SYSTEM,
)
_STAFF = frozenset(STAFF_ROLES)

PERMISSIONS: dict[str, frozenset[Role]] = {
    # the books
    "create_org": frozenset({_C, _B, _F, _A, _Y}),
    "create_key": frozenset({_C, _X, _A, _Y}),
    "revoke_key": frozenset({_C, _S, _X, _A, _Y}),  # support may revoke an exposed key on request
    "member_left": frozenset({_C, _X, _A, _Y}),
    "add_payment_method": frozenset({_C, _Y}),
    "top_up": frozenset({_C, _Y}),
    "grant_credit": frozenset({_B, _A, _Y}),  # a goodwill grant is how a credit is approved
    "set_auto_recharge": frozenset({_C, _Y}),
    "set_limits": frozenset({_C, _B, _A, _Y}),
    "set_tier": frozenset({_B, _A, _Y}),
    "set_rate_limits": frozenset({_A, _Y}),  # negotiated limits are a contract, not a favour
    "link_stripe": frozenset({_B, _F, _A, _Y}),
    "record_usage": frozenset({_Y}),
    "issue_invoice": frozenset({_F, _Y}),
    "pay_invoice": frozenset({_C, _F, _A, _Y}),
    "record_invoice_payment": frozenset({_F, _A, _Y}),  # a wire or cheque Finance has received
    "waive_invoice": frozenset({_F, _A}),
    "age_invoices": frozenset({_F, _Y}),
    "raise_flag:policy_violation": frozenset({_T, _A, _Y}),
    "raise_flag:fraud": frozenset({_T, _X, _A, _Y}),
    "raise_flag:outstanding_balance": frozenset({_F, _A, _Y}),
    "lift_flag:policy_violation": frozenset({_T, _A}),
    "lift_flag:fraud": frozenset({_T, _A}),
    "lift_flag:outstanding_balance": frozenset({_F, _A}),
    "tick": frozenset({_Y}),
    # the desk
    "read_account": _STAFF | {_Y},
    "open_case": _STAFF | {_Y},
    "read_case": _STAFF | {_Y},
    "note_case": _STAFF | {_Y},
    "triage_case": _STAFF | {_Y},
    "escalate_case": _STAFF | {_Y},
    "reply_case": _STAFF,
    "resolve_case": _STAFF,
    "read_audit": frozenset({_A, _X, _F}),
    "manage_staff": frozenset({_A, _Y}),
    "manage_customers": frozenset({_A, _Y}),  # a customer's own sign-in to the console
}
"""Action → roles allowed: the runbook's table of who may do what, enforced on every call.

Lifting a flag is never automatic: a person of the owning team does it (or an administrator).
Support resolves tickets but never lifts a flag, reinstates an account, approves a credit or
waives an invoice; those actions name the team that may, and a refused attempt is audited."""


def flag_action(verb: str, kind: FlagKind) -> str:
    return f"{verb}:{kind.value}"


def allowed(actor: Actor, action: str) -> bool:
    return actor.role in PERMISSIONS[action]


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def audit(
    conn: Connection,
    actor: Actor,
    action: str,
    at: datetime,
    *,
    org_id: str | None = None,
    outcome: str = "ok",
    target: str | None = None,
    case_id: str | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    **detail: Any,
) -> None:
    """Append one audit row inside the caller's transaction: who, role, action, target, the
    changed fields before and after, and anything else worth keeping in ``detail``."""
    conn.execute(
        insert(audit_log).values(
            at=at,
            actor=actor.name,
            role=actor.role.value,
            action=action,
            org_id=org_id,
            outcome=outcome,
            target=target,
            case_id=case_id,
            before=_json(None if before is None else dict(before)),
            after=_json(None if after is None else dict(after)),
            detail=json.dumps(detail, sort_keys=True, default=str),
        )
    )


def who_may(action: str) -> list[str]:
    """The people's roles that may perform ``action`` (the system's own role is not a person)."""
    return sorted(r.value for r in PERMISSIONS[action] if r != Role.SYSTEM)


def refuse(
    engine: Engine,
    actor: Actor,
    action: str,
    at: datetime,
    *,
    org_id: str | None,
    target: str | None = None,
    case_id: str | None = None,
    **detail: Any,
) -> None:
    """Record a refused attempt (own transaction) and raise ``ForbiddenError`` naming who may."""
    allowed_roles = ", ".join(who_may(action))
    with transaction(engine) as conn:
        audit(
            conn,
            actor,
            action,
            at,
            org_id=org_id,
            outcome="refused",
            target=target,
            case_id=case_id,
            allowed=allowed_roles,
            **detail,
        )
    raise ForbiddenError(
        f"role {actor.role.value} may not {action.replace('_', ' ').replace(':', ' ')} "
        f"(allowed: {allowed_roles})",
        "role",
        allowed=who_may(action),
    )


def check(
    engine: Engine,
    actor: Actor,
    action: str,
    at: datetime,
    *,
    org_id: str | None,
    target: str | None = None,
    case_id: str | None = None,
    **detail: Any,
) -> None:
    """Raise (after auditing the refusal) unless ``actor`` may perform ``action``."""
    if not allowed(actor, action):
        refuse(engine, actor, action, at, org_id=org_id, target=target, case_id=case_id, **detail)
