"""The Books API: every change to an organization's books, as library calls.

``Books`` wraps an engine, a payment processor and the price table. Every method takes the
``Actor`` (for the role check and the audit log) and an explicit ``now``: there is no hidden
clock, so a test or a simulation drives time. Money comes in as dollars (``Decimal`` or a
decimal string) and is stored as integer nano-dollars.

Each operation asks the rulebook (``quotadesk.billing``) what follows and only records the
answer: ``consume`` spends grants, ``decide`` admits, ``decide_recharge`` guards
auto-recharge, ``suspension_state`` says whether flags suspend, ``can_lift`` who lifts them.

    books = Books.open("sqlite:///./quotadesk.db")
    org = books.create_org(SYSTEM, now, name="Acme")
    key = books.create_key(SYSTEM, now, org)              # key.secret is shown once
    books.add_payment_method(CUSTOMER, now, org, "4242424242424242", 12, 2030)
    books.top_up(CUSTOMER, now, org, "20.00")
    result = books.admit(now, secret=key.secret, model="gpt-4o-mini", input_tokens=1000)
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from quotadesk.billing.decision import Deny
from quotadesk.billing.keys import hash_secret, redact
from quotadesk.billing.model import (
    BillingMode,
    ConsoleAccess,
    CreditGrant,
    Environment,
    FlagKind,
    FlagSource,
    GrantKind,
    KeyScope,
    KeyStatus,
    Organization,
    OrgStatus,
    Payment,
)
from quotadesk.billing.pricing import DEFAULT_TABLE, PriceTable
from quotadesk.billing.suspension import can_lift
from quotadesk.billing.tiers import DEFAULT_TIERS, TierTable
from quotadesk.errors import InputError, NotFoundError
from quotadesk.store import accounts, admission, metering, payments
from quotadesk.store.access import SYSTEM, Actor, audit, check, flag_action, refuse
from quotadesk.store.close import TickReport, tick
from quotadesk.store.db import make_engine, transaction
from quotadesk.store.flags import raise_flag_in, sync_status
from quotadesk.store.processor import Processor, TestProcessor
from quotadesk.store.schema import api_keys, flags, holds, organizations
from quotadesk.store.snapshot import load_organization, org_row
from quotadesk.store.values import amount_nanos, aware, new_id, optional_amount
from quotadesk.store.verify import VerifyReport, verify

__all__ = ["SYSTEM", "Actor", "Books", "NewKey", "load_organization"]


@dataclass(frozen=True, slots=True)
class NewKey:
    """A key just created: ``secret`` is shown this once and never stored (only its hash)."""

    id: str
    secret: str
    redacted: str


def _enum(cls: type, value: object, field: str) -> object:
    try:
        return cls(value)
    except ValueError as exc:
        choices = ", ".join(str(v) for v in cls)  # type: ignore[attr-defined]
        raise InputError(f"expected one of {choices}, got {value!r}", field) from exc


class Books:
    """The books of every organization in one database (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        *,
        processor: Processor | None = None,
        prices: PriceTable = DEFAULT_TABLE,
        tiers: TierTable = DEFAULT_TIERS,
    ) -> None:
        self.engine = engine
        self.processor: Processor = processor if processor is not None else TestProcessor()
        self.prices = prices
        self.tiers = tiers

    @classmethod
    def open(cls, url: str, *, processor: Processor | None = None, migrate: bool = True) -> Books:
        """Books at ``url``, migrated to head unless ``migrate`` is False."""
        engine = make_engine(url)
        if migrate:
            from quotadesk.store import migrations

            migrations.upgrade(engine)
        return cls(engine, processor=processor)

    def close(self) -> None:
        self.engine.dispose()

    # ----------------------------------------------------------------- reading

    def organization(self, org_id: str) -> Organization:
        """The pure model of ``org_id`` as the rulebook sees it."""
        with transaction(self.engine) as conn:
            return load_organization(conn, org_id)

    # ------------------------------------------------------------ organizations

    def create_org(
        self,
        actor: Actor,
        now: datetime,
        *,
        name: str = "",
        billing_mode: str = "prepaid",
        org_id: str | None = None,
        free_trial: object = None,
        trial_days: int | None = 90,
        rate_limits: Mapping[str, Mapping[str, int | None]] | None = None,
        model_access: Iterable[str] | None = None,
        stripe_customer: str | None = None,
    ) -> str:
        """A new organization (free tier, no card); ``free_trial`` dollars become a free-trial
        grant expiring after ``trial_days``. ``rate_limits``/``model_access`` override the tier's;
        ``stripe_customer`` (``cus_…``) links it to the Stripe customer it pays as."""
        now = aware(now)
        if not isinstance(name, str) or len(name) > 200:
            raise InputError("expected a name of at most 200 characters", "name")
        cus = None if stripe_customer is None else accounts.check_stripe_customer(stripe_customer)
        mode = _enum(BillingMode, billing_mode, "billing_mode")
        trial = optional_amount(free_trial, "free_trial")
        if org_id is not None and (not isinstance(org_id, str) or not org_id.strip() or len(org_id) > 64):
            raise InputError("expected a non-empty id of at most 64 characters", "org_id")
        limits_json = None
        if rate_limits is not None:
            limits_json = json.dumps(
                {m: {"rpm": v.get("rpm"), "tpm": v.get("tpm")} for m, v in rate_limits.items()}
            )
        access_json = None if model_access is None else json.dumps(list(model_access))
        oid = org_id or new_id("org")
        check(self.engine, actor, "create_org", now, org_id=oid)
        with transaction(self.engine) as conn:
            conn.execute(
                insert(organizations).values(
                    id=oid,
                    name=name,
                    created_at=now,
                    billing_mode=str(mode),
                    status=OrgStatus.ACTIVE.value,
                    console_access=ConsoleAccess.OK.value,
                    tier_current="free",
                    tier_since=now,
                    rate_limits=limits_json,
                    model_access=access_json,
                    stripe_customer=cus,
                )
            )
            audit(
                conn,
                actor,
                "create_org",
                now,
                org_id=oid,
                target=oid,
                after={"name": name, "billing_mode": str(mode), "stripe_customer": cus},
            )
            if trial:
                expires = now + timedelta(days=trial_days) if trial_days is not None else None
                grant = CreditGrant(new_id("cg"), GrantKind.FREE_TRIAL, trial, trial, now, expires)
                payments.insert_grant(conn, oid, grant)
        return oid

    # --------------------------------------------------------------------- keys

    def create_key(
        self,
        actor: Actor,
        now: datetime,
        org_id: str,
        *,
        name: str = "",
        scope: str = "organization",
        owner: str | None = None,
        environment: str | None = None,
    ) -> NewKey:
        """A new API key; its secret is returned once and only its SHA-256 is stored."""
        now = aware(now)
        key_scope = _enum(KeyScope, scope, "scope")
        env = None if environment is None else _enum(Environment, environment, "environment")
        if key_scope == KeyScope.PERSONAL and not owner:
            raise InputError("a personal key needs its owner", "owner")
        check(self.engine, actor, "create_key", now, org_id=org_id)
        secret = "sk-qd-" + secrets.token_urlsafe(32)
        key = NewKey(new_id("key"), secret, redact(secret))
        with transaction(self.engine) as conn:
            org_row(conn, org_id, lock=True)
            conn.execute(
                insert(api_keys).values(
                    id=key.id,
                    org_id=org_id,
                    name=name,
                    secret_hash=hash_secret(secret),
                    redacted=key.redacted,
                    scope=str(key_scope),
                    owner=owner,
                    owner_active=True,
                    environment=None if env is None else str(env),
                    status=KeyStatus.ACTIVE.value,
                    created_at=now,
                )
            )
            audit(
                conn,
                actor,
                "create_key",
                now,
                org_id=org_id,
                target=f"key:{key.id}",
                after={"redacted": key.redacted, "scope": str(key_scope), "owner": owner, "status": "active"},
            )
        return key

    def revoke_key(self, actor: Actor, now: datetime, key_id: str) -> None:
        now = aware(now)
        with transaction(self.engine) as conn:
            org_id = conn.execute(select(api_keys.c.org_id).where(api_keys.c.id == key_id)).scalar()
        if org_id is None:
            raise NotFoundError(f"no key {key_id!r}", "key_id")
        check(self.engine, actor, "revoke_key", now, org_id=org_id, key=key_id)
        with transaction(self.engine) as conn:
            before = conn.execute(select(api_keys.c.status).where(api_keys.c.id == key_id)).scalar()
            conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id)
                .values(status=KeyStatus.REVOKED.value, revoked_at=now)
            )
            audit(
                conn,
                actor,
                "revoke_key",
                now,
                org_id=org_id,
                target=f"key:{key_id}",
                before={"status": before},
                after={"status": KeyStatus.REVOKED.value},
            )

    def member_left(self, actor: Actor, now: datetime, org_id: str, owner: str) -> list[str]:
        """``owner`` left the organization: their personal keys are revoked. Returns the key ids."""
        now = aware(now)
        check(self.engine, actor, "member_left", now, org_id=org_id, owner=owner)
        with transaction(self.engine) as conn:
            org_row(conn, org_id, lock=True)
            rows = conn.execute(
                update(api_keys)
                .where(
                    api_keys.c.org_id == org_id,
                    api_keys.c.owner == owner,
                    api_keys.c.scope == KeyScope.PERSONAL.value,
                )
                .values(owner_active=False, status=KeyStatus.REVOKED.value, revoked_at=now)
                .returning(api_keys.c.id)
            )
            ids = sorted(str(r[0]) for r in rows)
            audit(conn, actor, "member_left", now, org_id=org_id, owner=owner, keys=ids)
        return ids

    # ------------------------------------------------------------ money in

    def add_payment_method(
        self,
        actor: Actor,
        now: datetime,
        org_id: str,
        card_number: str,
        exp_month: int,
        exp_year: int,
        *,
        default: bool = True,
    ) -> str:
        return payments.add_payment_method(
            self.engine, self.processor, actor, now, org_id, card_number, exp_month, exp_year, default=default
        )

    def top_up(
        self, actor: Actor, now: datetime, org_id: str, amount: object, payment_method_id: str | None = None
    ) -> Payment:
        return payments.top_up(self.engine, self.processor, actor, now, org_id, amount, payment_method_id)

    def grant_credit(
        self,
        actor: Actor,
        now: datetime,
        org_id: str,
        amount: object,
        *,
        kind: str = "goodwill",
        expires_at: datetime | None = None,
        reason: str = "",
    ) -> str:
        """Free credit (goodwill, promotional, free trial): the billing team or Finance only."""
        now = aware(now)
        nanos = amount_nanos(amount, "amount")
        grant_kind = _enum(GrantKind, kind, "kind")
        if grant_kind in (GrantKind.PURCHASED, GrantKind.AUTO_RECHARGE):
            raise InputError("paid credit comes from a payment (top_up), not a grant", "kind")
        expires = None if expires_at is None else aware(expires_at, "expires_at")
        check(self.engine, actor, "grant_credit", now, org_id=org_id, amount=nanos, kind=str(grant_kind))
        grant = CreditGrant(new_id("cg"), GrantKind(str(grant_kind)), nanos, nanos, now, expires)
        with transaction(self.engine) as conn:
            org_row(conn, org_id, lock=True)
            payments.insert_grant(conn, org_id, grant)
            audit(
                conn,
                actor,
                "grant_credit",
                now,
                org_id=org_id,
                target=f"grant:{grant.id}",
                after={"kind": str(grant_kind), "amount": nanos, "expires_at": expires},
                reason=reason,
            )
        return grant.id

    def auto_recharge(self, now: datetime, org_id: str) -> Payment | None:
        """Run the auto-recharge guard for ``org_id`` now (the gateway calls it after usage)."""
        return payments.auto_recharge(self.engine, self.processor, now, org_id)

    def pay_invoice(
        self, actor: Actor, now: datetime, invoice_id: str, payment_method_id: str | None = None
    ) -> Payment:
        return payments.pay_invoice(self.engine, self.processor, actor, now, invoice_id, payment_method_id)

    # ------------------------------------------------------------ settings

    def set_auto_recharge(
        self,
        actor: Actor,
        now: datetime,
        org_id: str,
        *,
        enabled: bool,
        threshold: object = None,
        amount: object = None,
        daily_cap: int | None = None,
    ) -> None:
        now = aware(now)
        values: dict[str, object] = {"auto_recharge_enabled": bool(enabled)}
        if enabled and (threshold is None or amount is None):
            raise InputError("enabling auto-recharge needs a threshold and an amount", "threshold")
        if threshold is not None:
            values["auto_recharge_threshold"] = amount_nanos(threshold, "threshold", allow_zero=True)
        if amount is not None:
            values["auto_recharge_amount"] = amount_nanos(amount, "amount")
        if daily_cap is not None:
            if isinstance(daily_cap, bool) or not isinstance(daily_cap, int) or daily_cap < 1:
                raise InputError(f"expected a positive integer, got {daily_cap!r}", "daily_cap")
            values["auto_recharge_daily_cap"] = daily_cap
        self._update_org(actor, now, org_id, "set_auto_recharge", values)

    def set_limits(
        self, actor: Actor, now: datetime, org_id: str, *, soft: object = None, hard: object = None
    ) -> None:
        """Monthly soft and hard limits in dollars; None removes a limit."""
        now = aware(now)
        values = {"soft_limit": optional_amount(soft, "soft"), "hard_limit": optional_amount(hard, "hard")}
        self._update_org(actor, now, org_id, "set_limits", values)

    def _update_org(
        self, actor: Actor, now: datetime, org_id: str, action: str, values: Mapping[str, object]
    ) -> None:
        check(self.engine, actor, action, now, org_id=org_id, target=org_id, changes=dict(values))
        with transaction(self.engine) as conn:
            row = org_row(conn, org_id, lock=True)
            before = {k: row._mapping[k] for k in values}
            conn.execute(
                update(organizations)
                .where(organizations.c.id == org_id)
                .values(**values, version=organizations.c.version + 1)
            )
            audit(conn, actor, action, now, org_id=org_id, target=org_id, before=before, after=dict(values))

    # ------------------------------------------------------------ flags

    def raise_flag(
        self, actor: Actor, now: datetime, org_id: str, kind: str, *, source: str = "manual", reason: str = ""
    ) -> int:
        """Raise a flag: the account is suspended while any flag is active. Returns its id."""
        now = aware(now)
        flag_kind = FlagKind(str(_enum(FlagKind, kind, "kind")))
        flag_source = _enum(FlagSource, source, "source")
        if not isinstance(reason, str) or len(reason) > 2000:
            raise InputError("expected a reason of at most 2000 characters", "reason")
        check(self.engine, actor, flag_action("raise_flag", flag_kind), now, org_id=org_id, target=org_id)
        with transaction(self.engine) as conn:
            org_row(conn, org_id, lock=True)
            flag_id = raise_flag_in(conn, org_id, flag_kind, FlagSource(str(flag_source)), now, reason)
            audit(
                conn,
                actor,
                "raise_flag",
                now,
                org_id=org_id,
                target=f"flag:{flag_id}",
                after={"kind": str(flag_kind), "source": str(flag_source), "active": True},
                reason=reason,
            )
        return flag_id

    def lift_flag(self, actor: Actor, now: datetime, org_id: str, kind: str, *, reason: str = "") -> int:
        """Lift every active flag of ``kind``; only the owning team may (``suspension.can_lift``).
        A refused attempt is audited and raises ``ForbiddenError``. Returns flags lifted."""
        now = aware(now)
        flag_kind = FlagKind(str(_enum(FlagKind, kind, "kind")))
        action = flag_action("lift_flag", flag_kind)
        if not can_lift(actor.role.value, flag_kind):
            refuse(self.engine, actor, action, now, org_id=org_id, kind=str(flag_kind))
        with transaction(self.engine) as conn:
            org_row(conn, org_id, lock=True)
            result = conn.execute(
                update(flags)
                .where(flags.c.org_id == org_id, flags.c.kind == flag_kind.value, flags.c.active.is_(True))
                .values(active=False, lifted_at=now, lifted_by=actor.name)
            )
            sync_status(conn, org_id)
            audit(
                conn,
                actor,
                "lift_flag",
                now,
                org_id=org_id,
                target=org_id,
                before={"kind": str(flag_kind), "active": True},
                after={"kind": str(flag_kind), "active": False},
                reason=reason,
            )
            return int(result.rowcount or 0)

    def lift_flag_id(
        self, actor: Actor, now: datetime, org_id: str, flag_id: int, *, reason: str
    ) -> dict[str, Any]:
        return accounts.lift_flag_id(self.engine, actor, now, org_id, flag_id, reason)

    # ------------------------------------------------------------ back office

    def set_tier(self, actor: Actor, now: datetime, org_id: str, current: str) -> None:
        accounts.set_tier(self.engine, actor, now, org_id, current, self.tiers)

    def set_rate_limits(self, actor: Actor, now: datetime, org_id: str, limits: object) -> None:
        accounts.set_rate_limits(self.engine, actor, now, org_id, limits)

    def link_stripe(self, actor: Actor, now: datetime, org_id: str, customer: str | None) -> None:
        accounts.link_stripe(self.engine, actor, now, org_id, customer)

    def record_invoice_payment(self, actor: Actor, now: datetime, invoice_id: str, *, reference: str) -> str:
        return accounts.record_invoice_payment(self.engine, actor, now, invoice_id, reference=reference)

    def waive_invoice(self, actor: Actor, now: datetime, invoice_id: str, *, reason: str) -> None:
        accounts.waive_invoice(self.engine, actor, now, invoice_id, reason=reason)

    # ------------------------------------------------------------ usage

    def record_usage(self, now: datetime, event: metering.UsageEvent) -> metering.BatchResult:
        return self.record_usage_batch(now, [event])

    def record_usage_batch(
        self, now: datetime, events: Iterable[metering.UsageEvent], *, recharge: bool = True
    ) -> metering.BatchResult:
        """Post a batch exactly once (replays are skipped), then run auto-recharge where enabled."""
        now = aware(now)
        with transaction(self.engine) as conn:
            result = metering.record_batch(conn, events, now, self.prices, lock_org=_lock)
            recharging = []
            if recharge and result.by_org:
                recharging = list(
                    conn.execute(
                        select(organizations.c.id).where(
                            organizations.c.id.in_([r.org_id for r in result.by_org]),
                            organizations.c.auto_recharge_enabled.is_(True),
                        )
                    ).scalars()
                )
        for org_id in sorted(recharging):
            self.auto_recharge(now, org_id)
        return result

    # ------------------------------------------------------------ admission

    def admit(
        self,
        now: datetime,
        *,
        secret: str,
        model: str,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cached_tokens: int = 0,
    ) -> admission.Admitted | Deny:
        return admission.admit(
            self.engine,
            now,
            secret=secret,
            model=model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cached_tokens=cached_tokens,
            prices=self.prices,
            tiers=self.tiers,
        )

    def settle(
        self,
        now: datetime,
        hold_id: str,
        *,
        input_tokens: int,
        output_tokens: int,
        cached_tokens: int = 0,
        request_id: str | None = None,
        recharge: bool = True,
    ) -> admission.Settled:
        settled = admission.settle(
            self.engine,
            now,
            hold_id,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cached_tokens=cached_tokens,
            request_id=request_id,
            prices=self.prices,
        )
        if recharge and not settled.replayed:
            with transaction(self.engine) as conn:
                org_id = conn.execute(
                    select(organizations.c.id)
                    .join_from(organizations, holds, organizations.c.id == holds.c.org_id)
                    .where(holds.c.id == hold_id, organizations.c.auto_recharge_enabled.is_(True))
                ).scalar()
            if org_id is not None:
                self.auto_recharge(now, org_id)
        return settled

    def release(self, now: datetime, hold_id: str) -> None:
        admission.release(self.engine, now, hold_id)

    # ------------------------------------------------------------ close, verify

    def tick(self, now: datetime) -> TickReport:
        """Everything due at ``now``: expiries, limit notices, tiers, invoices, recharges."""
        return tick(self.engine, self.processor, now, self.tiers)

    def recover(self, now: datetime) -> list[Payment]:
        """Finish every payment a crash left pending (credited once, or failed): what a service
        calls on start-up, and the first thing every ``tick`` does (``payments.resume_pending``)."""
        return payments.resume_pending(self.engine, self.processor, now)

    def verify(self, now: datetime | None = None) -> VerifyReport:
        """Recompute every cached balance from the ledger and report drift (and stale pending
        payments, dated by ``now`` or else by the newest time the books recorded)."""
        return verify(self.engine, now)


def _lock(conn: Connection, org_id: str) -> None:
    org_row(conn, org_id, lock=True)
