"""Who may change the books, and the audit log that remembers every change and every refusal.

Roles follow the runbook's teams. The rule that matters most: support resolves tickets but
cannot lift a suspension or grant credit; Trust & Safety lifts policy and fraud flags,
Finance lifts outstanding-balance flags, and the billing team (or Finance) grants credit.

Every change is written to ``audit_log`` (who, role, when, what) in the same transaction
as the change itself, so a change and its audit row exist together or not at all. A
refused attempt is written too, in its own transaction after the attempt rolled back, so
a refusal is on record even though nothing else changed.
"""

from __future__ import annotations

import json
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
    SYSTEM = "system"  # the gateway, the month close, the simulator


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

_C, _S, _B, _F, _T, _Y = (
    Role.CUSTOMER,
    Role.SUPPORT,
    Role.BILLING_TEAM,
    Role.FINANCE,
    Role.TRUST_AND_SAFETY,
    Role.SYSTEM,
)

PERMISSIONS: dict[str, frozenset[Role]] = {
    "create_org": frozenset({_C, _B, _F, _Y}),
    "create_key": frozenset({_C, _Y}),
    "revoke_key": frozenset({_C, _S, _Y}),  # support may revoke an exposed key on request
    "member_left": frozenset({_C, _Y}),
    "add_payment_method": frozenset({_C, _Y}),
    "top_up": frozenset({_C, _Y}),
    "grant_credit": frozenset({_B, _F, _Y}),
    "set_auto_recharge": frozenset({_C, _Y}),
    "set_limits": frozenset({_C, _Y}),
    "record_usage": frozenset({_Y}),
    "issue_invoice": frozenset({_F, _Y}),
    "pay_invoice": frozenset({_C, _F, _Y}),
    "age_invoices": frozenset({_F, _Y}),
    "raise_flag:policy_violation": frozenset({_T, _Y}),
    "raise_flag:fraud": frozenset({_T, _Y}),
    "raise_flag:outstanding_balance": frozenset({_F, _Y}),
    "lift_flag:policy_violation": frozenset({_T}),
    "lift_flag:fraud": frozenset({_T}),
    "lift_flag:outstanding_balance": frozenset({_F}),
    "tick": frozenset({_Y}),
}
"""Action → roles allowed. Lifting a flag is never automatic: a person of the owning team does it."""


def flag_action(verb: str, kind: FlagKind) -> str:
    return f"{verb}:{kind.value}"


def allowed(actor: Actor, action: str) -> bool:
    return actor.role in PERMISSIONS[action]


def audit(
    conn: Connection,
    actor: Actor,
    action: str,
    at: datetime,
    *,
    org_id: str | None = None,
    outcome: str = "ok",
    **detail: Any,
) -> None:
    """Append one audit row inside the caller's transaction."""
    conn.execute(
        insert(audit_log).values(
            at=at,
            actor=actor.name,
            role=actor.role.value,
            action=action,
            org_id=org_id,
            outcome=outcome,
            detail=json.dumps(detail, sort_keys=True, default=str),
        )
    )


def refuse(
    engine: Engine, actor: Actor, action: str, at: datetime, *, org_id: str | None, **detail: Any
) -> None:
    """Record a refused attempt (own transaction) and raise ``ForbiddenError``."""
    allowed_roles = ", ".join(sorted(r.value for r in PERMISSIONS[action]))
    with transaction(engine) as conn:
        audit(conn, actor, action, at, org_id=org_id, outcome="refused", allowed=allowed_roles, **detail)
    raise ForbiddenError(
        f"role {actor.role.value} may not {action.replace('_', ' ')} (needs: {allowed_roles})", "role"
    )


def check(
    engine: Engine, actor: Actor, action: str, at: datetime, *, org_id: str | None, **detail: Any
) -> None:
    """Raise (after auditing the refusal) unless ``actor`` may perform ``action``."""
    if not allowed(actor, action):
        refuse(engine, actor, action, at, org_id=org_id, **detail)
