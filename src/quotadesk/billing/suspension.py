"""Suspension: any active flag suspends the whole account, and only its owning team lifts it.

A suspended account gets 401 ``account_suspended`` on every key and cannot log into the
console. Support cannot lift a suspension: Trust & Safety owns ``policy_violation`` and
``fraud`` flags, Finance owns ``outstanding_balance``. An account the books mark
``suspended`` with no active flag is still suspended (the flag may not be in the export),
but nobody can say which team owns it: that is for Trust & Safety to triage.
"""

from __future__ import annotations

from dataclasses import dataclass

from quotadesk.billing.model import FlagKind, NoticeKind, Organization, OrgStatus

TRUST_AND_SAFETY = "trust_and_safety"
FINANCE = "finance"
SUPPORT = "support"
ADMIN = "admin"

OWNER: dict[FlagKind, str] = {
    FlagKind.POLICY_VIOLATION: TRUST_AND_SAFETY,
    FlagKind.FRAUD: TRUST_AND_SAFETY,
    FlagKind.OUTSTANDING_BALANCE: FINANCE,
}
"""Which team lifts each kind of flag."""

SUSPENSION_NOTICE: dict[FlagKind, NoticeKind] = {
    FlagKind.POLICY_VIOLATION: NoticeKind.SUSPENSION_POLICY,
    FlagKind.FRAUD: NoticeKind.SUSPENSION_FRAUD,
    FlagKind.OUTSTANDING_BALANCE: NoticeKind.SUSPENSION_PAYMENT,
}


def lifted_by(kind: FlagKind) -> str:
    """The team that lifts a flag of this kind."""
    return OWNER[FlagKind(kind)]


def can_lift(team: str, kind: FlagKind) -> bool:
    """May ``team`` lift a flag of ``kind``? Support never may; an administrator of the platform may
    lift any (the break-glass role of the service contract, audited like everyone else)."""
    return team != SUPPORT and (team == ADMIN or team == lifted_by(kind))


@dataclass(frozen=True, slots=True)
class Suspension:
    """Whether ``org`` is suspended, by which active flag kinds (in the order of the books,
    policy and fraud before balance), which teams must act (``lifted_by``), and whether the
    console is blocked (it is whenever the account is suspended)."""

    suspended: bool
    kinds: tuple[FlagKind, ...]
    lifted_by: tuple[str, ...]
    console_blocked: bool


def suspension_state(org: Organization) -> Suspension:
    """Evaluate suspension from the flags and the recorded status."""
    order = (FlagKind.POLICY_VIOLATION, FlagKind.FRAUD, FlagKind.OUTSTANDING_BALANCE)
    active = {f.kind for f in org.flags if f.active}
    kinds = tuple(k for k in order if k in active)
    suspended = bool(kinds) or org.status == OrgStatus.SUSPENDED
    teams: list[str] = []
    for kind in kinds:
        if OWNER[kind] not in teams:
            teams.append(OWNER[kind])
    if suspended and not teams:
        teams.append(TRUST_AND_SAFETY)
    return Suspension(suspended, kinds, tuple(teams), suspended)
