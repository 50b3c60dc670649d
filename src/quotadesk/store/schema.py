"""The tables of the books (SQLAlchemy Core), one per record of ``billing.model`` plus the ledger.

Money columns are BIGINT nano-dollars; times are timezone-aware UTC (``UtcDateTime``). Two
groups of tables behave differently on purpose:

* **Append-only** (``ledger_transactions``, ``ledger_postings``, ``usage_events``,
  ``audit_log``): rows are inserted, never updated or deleted; database triggers refuse
  anything else (installed by the migrations). History is what verify checks against.
* **Current state** (organizations, grants, keys, …): updated in place, every change written
  to ``audit_log`` in the same transaction. ``credit_grants.remaining`` and
  ``ledger_accounts.balance`` are *caches* of sums over postings, kept for speed and checked
  by ``verify``.

Ledger accounts are named by convention (see ``ledger.py``): ``grant:<id>``,
``spend:<org>:<YYYY-MM>``, ``arrears:<org>``, ``unbilled:<org>:<YYYY-MM>``, ``invoice:<id>``,
``external:processor``, ``external:promotions``, ``breakage``.

This module is the shape the migrations must produce; a test compares the two.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

# BIGINT everywhere for money and serial ids; SQLite only autoincrements "INTEGER PRIMARY KEY".
BigId = BigInteger().with_variant(sqlite.INTEGER(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on both databases.

    A naive datetime is refused at bind time: a time without a zone is a bug waiting for
    the first server in another timezone.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: times in the books are timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):  # pragma: no cover - drivers always return datetimes
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _money(name: str, nullable: bool = False, **kw: Any) -> Column[int]:
    return Column(name, BigInteger, nullable=nullable, **kw)


organizations = Table(
    "organizations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False, server_default=""),
    Column("created_at", UtcDateTime, nullable=False),
    Column("billing_mode", String(16), nullable=False),
    Column("status", String(16), nullable=False, server_default="active"),
    Column("console_access", String(16), nullable=False, server_default="ok"),
    Column("tier_current", String(16), nullable=False, server_default="free"),
    Column("tier_since", UtcDateTime),
    Column("tier_pending_target", String(16)),
    Column("tier_pending_at", UtcDateTime),
    Column("auto_recharge_enabled", Boolean, nullable=False, server_default="0"),
    _money("auto_recharge_threshold", nullable=True),
    _money("auto_recharge_amount", nullable=True),
    Column("auto_recharge_daily_cap", Integer, nullable=False, server_default="3"),
    _money("soft_limit", nullable=True),
    _money("hard_limit", nullable=True),
    Column("rate_limits", Text),  # JSON overrides {model: {rpm, tpm}}; NULL = the tier's
    Column("model_access", Text),  # JSON list; NULL = the tier's
    Column("version", Integer, nullable=False, server_default="0"),
    Column("stripe_customer", String(64)),  # cus_…: the Stripe customer this org pays as (unique index)
    Column("tier_manual", Boolean, nullable=False, server_default="0"),  # set by staff; the close leaves it
    CheckConstraint("billing_mode IN ('prepaid', 'invoiced')", name="billing_mode"),
    CheckConstraint("auto_recharge_threshold IS NULL OR auto_recharge_threshold >= 0", name="ar_threshold"),
    CheckConstraint("auto_recharge_amount IS NULL OR auto_recharge_amount > 0", name="ar_amount"),
    CheckConstraint("soft_limit IS NULL OR soft_limit >= 0", name="soft_limit"),
    CheckConstraint("hard_limit IS NULL OR hard_limit >= 0", name="hard_limit"),
)

Index("ix_organizations_stripe_customer", organizations.c.stripe_customer, unique=True)

payment_methods = Table(
    "payment_methods",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("org_id", String(64), ForeignKey("organizations.id"), nullable=False, index=True),
    Column("processor_token", String(200), nullable=False),
    Column("brand", String(32), nullable=False, server_default=""),
    Column("last4", String(4), nullable=False, server_default=""),
    Column("exp_month", Integer),
    Column("exp_year", Integer),
    Column("status", String(16), nullable=False),
    Column("is_default", Boolean, nullable=False, server_default="0"),
    Column("created_at", UtcDateTime, nullable=False),
)

credit_grants = Table(
    "credit_grants",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("org_id", String(64), ForeignKey("organizations.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    _money("amount"),
    _money("remaining"),  # cache of the balance of account grant:<id>
    Column("granted_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime),
    Column("expired_at", UtcDateTime),  # when the remainder was written off
    Column("payment_id", String(64)),
    CheckConstraint("amount > 0", name="amount"),
    CheckConstraint("remaining >= 0 AND remaining <= amount", name="remaining"),
)

invoices = Table(
    "invoices",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("org_id", String(64), ForeignKey("organizations.id"), nullable=False, index=True),
    Column("period_start", UtcDateTime, nullable=False),
    Column("period_end", UtcDateTime, nullable=False),
    _money("amount"),
    Column("status", String(16), nullable=False),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("due_at", UtcDateTime),
    Column("paid_at", UtcDateTime),
    UniqueConstraint("org_id", "period_start"),
    CheckConstraint("amount >= 0", name="amount"),
)

payments = Table(
    "payments",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("org_id", String(64), ForeignKey("organizations.id"), nullable=False, index=True),
    Column("payment_method_id", String(64), ForeignKey("payment_methods.id")),
    Column("at", UtcDateTime, nullable=False),
    _money("amount"),
    Column("purpose", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("failure_code", String(32)),
    Column("invoice_id", String(64), ForeignKey("invoices.id")),
    Column("processor_ref", String(200)),
    Column("decline_code", String(64)),  # the issuer's reason, as Stripe reports it (insufficient_funds, ...)
    Column("advice_code", String(64)),  # what Stripe advises (try_again_later, do_not_try_again, ...)
    CheckConstraint("amount > 0", name="amount"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("org_id", String(64), ForeignKey("organizations.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False, server_default=""),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("redacted", String(32), nullable=False),
    Column("scope", String(16), nullable=False),
    Column("owner", String(200)),
    Column("owner_active", Boolean, nullable=False, server_default="1"),
    Column("environment", String(16)),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
)

flags = Table(
    "flags",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("org_id", String(64), ForeignKey("organizations.id"), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("source", String(16), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
    Column("lifted_at", UtcDateTime),
    Column("lifted_by", String(200)),
)

notices = Table(
    "notices",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("org_id", String(64), ForeignKey("organizations.id"), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("detail", Text, nullable=False, server_default="{}"),
    # "once per month" notices carry a key such as soft_limit_reached:2026-11; NULL = no dedupe
    Column("dedupe_key", String(200), unique=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("role", String(32), nullable=False),
    Column("action", String(64), nullable=False),
    Column("org_id", String(64), index=True),
    Column("outcome", String(16), nullable=False),
    Column("detail", Text, nullable=False, server_default="{}"),
    Column("target", String(200)),  # what was acted on: a key, flag, grant, case, staff member
    Column("case_id", String(64), index=True),
    Column("before", Text),  # JSON of the changed fields before the change (NULL: nothing existed)
    Column("after", Text),  # JSON of the same fields after it (NULL: refused, or removed)
    CheckConstraint("outcome IN ('ok', 'refused')", name="outcome"),
)
Index("ix_audit_log_org_at", audit_log.c.org_id, audit_log.c.at)
# The account timeline reads each source newest first per org (GET /orgs/{org}/timeline).
Index("ix_payments_org_at", payments.c.org_id, payments.c.at)
Index("ix_notices_org_at", notices.c.org_id, notices.c.at)
Index("ix_credit_grants_org_granted", credit_grants.c.org_id, credit_grants.c.granted_at)
Index("ix_credit_grants_org_expired", credit_grants.c.org_id, credit_grants.c.expired_at)
Index("ix_flags_org_at", flags.c.org_id, flags.c.at)

ledger_accounts = Table(
    "ledger_accounts",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("org_id", String(64), index=True),
    _money("balance", server_default="0"),  # cache of SUM(ledger_postings.amount)
)

ledger_transactions = Table(
    "ledger_transactions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("org_id", String(64), index=True),
    Column("ref", String(200)),
    Column("memo", Text, nullable=False, server_default=""),
)

ledger_postings = Table(
    "ledger_postings",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("txn_id", BigInteger, ForeignKey("ledger_transactions.id"), nullable=False, index=True),
    Column("account", String(200), ForeignKey("ledger_accounts.name"), nullable=False, index=True),
    _money("amount"),
    CheckConstraint("amount <> 0", name="nonzero"),
)

usage_events = Table(
    "usage_events",
    metadata,
    Column("request_id", String(200), primary_key=True),
    Column("org_id", String(64), ForeignKey("organizations.id"), nullable=False),
    Column("key_id", String(64)),
    Column("model", String(200), nullable=False),
    Column("ts", UtcDateTime, nullable=False),
    Column("input_tokens", BigInteger, nullable=False),
    Column("output_tokens", BigInteger, nullable=False),
    Column("cached_tokens", BigInteger, nullable=False),
    Column("requests", Integer, nullable=False, server_default="1"),
    Column("status", Integer, nullable=False, server_default="200"),
    _money("cost"),
    Column("fingerprint", String(200)),
    Column("ip", String(64)),
    Column("hold_id", String(64)),
    # NULL only for events that cost nothing (nothing to post); verify checks the rest
    Column("txn_id", BigInteger, ForeignKey("ledger_transactions.id"), index=True),
    CheckConstraint("cost >= 0", name="cost"),
    CheckConstraint("input_tokens >= 0 AND output_tokens >= 0 AND cached_tokens >= 0", name="tokens"),
)
Index("ix_usage_events_org_ts", usage_events.c.org_id, usage_events.c.ts)

holds = Table(
    "holds",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("org_id", String(64), ForeignKey("organizations.id"), nullable=False),
    Column("key_id", String(64)),
    Column("model", String(200), nullable=False),
    _money("amount"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("request_id", String(200)),
    Column("closed_at", UtcDateTime),
    CheckConstraint("amount >= 0", name="amount"),
    CheckConstraint("status IN ('open', 'settled', 'released', 'expired')", name="status"),
)
Index("ix_holds_org_status", holds.c.org_id, holds.c.status)

gateway_leases = Table(
    # A slice of an organization's headroom (balance and hard limit) one gateway process admits
    # from in memory. ``amount - settled`` is still reserved while the lease is open and unexpired,
    # and counts with the open holds (``payments.open_holds``); see ``store/leases.py``.
    "gateway_leases",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("org_id", String(64), ForeignKey("organizations.id"), nullable=False),
    Column("holder", String(200), nullable=False),
    _money("amount"),
    _money("settled"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("renewed_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("closed_at", UtcDateTime),
    Column("closed_reason", Text),
    CheckConstraint("amount >= 0 AND settled >= 0", name="amounts"),
    CheckConstraint("status IN ('open', 'returned', 'released', 'expired')", name="status"),
)
Index("ix_gateway_leases_org_status", gateway_leases.c.org_id, gateway_leases.c.status)
Index("ix_gateway_leases_holder", gateway_leases.c.holder)

# --------------------------------------------------------------------------------- the desk

staff = Table(
    "staff",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("role", String(32), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),  # SHA-256 of the token, shown once
    Column("created_at", UtcDateTime, nullable=False),
    Column("disabled_at", UtcDateTime),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),  # SHA-256 of the cookie value
    Column("staff_id", String(64), ForeignKey("staff.id"), nullable=False, index=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime),
)

cases = Table(
    "cases",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("org_id", String(64), ForeignKey("organizations.id"), index=True),
    Column("provider", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("team", String(32), nullable=False),
    Column("incident", String(32), nullable=False),
    Column("root_cause", String(48), nullable=False),
    Column("route", String(32), nullable=False),
    Column("ticket", Text, nullable=False),  # JSON: the case bundle's ticket, messages appended
    Column("triage", Text, nullable=False),  # JSON: the latest triage result
    Column("external_ref", String(200), unique=True),  # e.g. zammad:4711, set by a connector
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("resolved_at", UtcDateTime),
    Column("version", Integer, nullable=False, server_default="0"),
    CheckConstraint("status IN ('open', 'escalated', 'resolved')", name="status"),
)
Index("ix_cases_team_status_created", cases.c.team, cases.c.status, cases.c.created_at)
Index("ix_cases_status_created", cases.c.status, cases.c.created_at)
Index("ix_cases_created", cases.c.created_at, cases.c.id)

case_events = Table(
    "case_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("case_id", String(64), ForeignKey("cases.id"), nullable=False, index=True),
    Column("at", UtcDateTime, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("role", String(32), nullable=False),
    Column("detail", Text, nullable=False, server_default="{}"),
)

APPEND_ONLY = ("ledger_transactions", "ledger_postings", "usage_events", "audit_log", "case_events")

# ------------------------------------------------------------------------------ the customers

customer_users = Table(
    "customer_users",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("org_id", String(64), ForeignKey("organizations.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),  # SHA-256 of the token, shown once
    Column("created_at", UtcDateTime, nullable=False),
    Column("disabled_at", UtcDateTime),
)

customer_sessions = Table(
    "customer_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),  # SHA-256 of the cookie value
    Column("customer_id", String(64), ForeignKey("customer_users.id"), nullable=False, index=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime),
)

# --------------------------------------------------------------------------------- connectors

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("service", String(16), nullable=False),
    Column("delivery_id", String(200), nullable=False),  # the event id, or the desk's delivery header
    Column("received_at", UtcDateTime, nullable=False),
    Column("event_type", String(100), nullable=False, server_default=""),
    # applied | unmatched (kept for an org not linked yet) | ignored (a type we do not act on) | failed
    Column("outcome", String(16), nullable=False),
    Column("org_id", String(64), index=True),
    Column("case_id", String(64)),
    Column("detail", Text, nullable=False, server_default="{}"),
    Column("body", Text),  # the raw event, kept while it is unmatched so it can be applied later
    UniqueConstraint("service", "delivery_id"),
    CheckConstraint("outcome IN ('applied', 'unmatched', 'ignored', 'failed')", name="outcome"),
)
Index("ix_webhook_deliveries_service_outcome", webhook_deliveries.c.service, webhook_deliveries.c.outcome)

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("channel", String(32), nullable=False),  # zendesk, zammad, freshdesk, chatwoot, email, webhook
    Column("dedupe_key", String(200), nullable=False, unique=True),  # e.g. note:<case>:<n>, alert:<notice>:email
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime),
    Column("last_error", Text),
    Column("remote_ref", String(200)),  # what the other side calls it (the note's id)
    Column("case_id", String(64), index=True),
    Column("org_id", String(64)),
    CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')", name="status"),
)
Index("ix_outbox_status_next", outbox.c.status, outbox.c.next_at)

org_contacts = Table(
    "org_contacts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("org_id", String(64), ForeignKey("organizations.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # email (alerts go there; a requester) | domain (requesters)
    Column("value", String(254), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("kind", "value"),
    CheckConstraint("kind IN ('email', 'domain')", name="kind"),
)

status_incidents = Table(
    "status_incidents",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("source", String(500), nullable=False),
    Column("incident_id", String(200), nullable=False),
    Column("first_seen_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("updated_at", String(64)),  # the page's own updated_at, as it wrote it
    Column("status", String(32)),
    Column("document", Text, nullable=False),  # the incident as the page last showed it
    UniqueConstraint("source", "incident_id"),
)
Index("ix_status_incidents_first_seen", status_incidents.c.first_seen_at)

connector_state = Table(
    "connector_state",
    metadata,
    Column("name", String(600), primary_key=True),  # status:<url> (ETag, last read), alerts:notices (cursor)
    Column("value", Text, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
