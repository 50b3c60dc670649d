"""Initial books: organizations and everything they hold, the ledger, usage events, holds, audit.

Revision ID: 0001
Revises:
Create Date: 2025-11-27

The tables are written out here, not built from ``schema.metadata``: a migration is a fixed
step in history, and the schema module moves on. ``tests/store/test_migrations.py`` checks
that head equals ``schema.metadata``. Append-only tables get triggers that refuse UPDATE and
DELETE, so history cannot be rewritten even by a careless script.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")
APPEND_ONLY = ("ledger_transactions", "ledger_postings", "usage_events", "audit_log")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), server_default="{}", nullable=False),
        sa.CheckConstraint("outcome IN ('ok', 'refused')", name=op.f("ck_audit_log_outcome")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_org_id"), "audit_log", ["org_id"], unique=False)
    op.create_table(
        "ledger_accounts",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=True),
        sa.Column("balance", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_ledger_accounts")),
    )
    op.create_index(op.f("ix_ledger_accounts_org_id"), "ledger_accounts", ["org_id"], unique=False)
    op.create_table(
        "ledger_transactions",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=True),
        sa.Column("ref", sa.String(length=200), nullable=True),
        sa.Column("memo", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_transactions")),
    )
    op.create_index(op.f("ix_ledger_transactions_org_id"), "ledger_transactions", ["org_id"], unique=False)
    op.create_table(
        "organizations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("billing_mode", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("console_access", sa.String(length=16), server_default="ok", nullable=False),
        sa.Column("tier_current", sa.String(length=16), server_default="free", nullable=False),
        sa.Column("tier_since", TS, nullable=True),
        sa.Column("tier_pending_target", sa.String(length=16), nullable=True),
        sa.Column("tier_pending_at", TS, nullable=True),
        sa.Column("auto_recharge_enabled", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("auto_recharge_threshold", sa.BigInteger(), nullable=True),
        sa.Column("auto_recharge_amount", sa.BigInteger(), nullable=True),
        sa.Column("auto_recharge_daily_cap", sa.Integer(), server_default="3", nullable=False),
        sa.Column("soft_limit", sa.BigInteger(), nullable=True),
        sa.Column("hard_limit", sa.BigInteger(), nullable=True),
        sa.Column("rate_limits", sa.Text(), nullable=True),
        sa.Column("model_access", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "billing_mode IN ('prepaid', 'invoiced')", name=op.f("ck_organizations_billing_mode")
        ),
        sa.CheckConstraint(
            "auto_recharge_amount IS NULL OR auto_recharge_amount > 0",
            name=op.f("ck_organizations_ar_amount"),
        ),
        sa.CheckConstraint(
            "auto_recharge_threshold IS NULL OR auto_recharge_threshold >= 0",
            name=op.f("ck_organizations_ar_threshold"),
        ),
        sa.CheckConstraint("hard_limit IS NULL OR hard_limit >= 0", name=op.f("ck_organizations_hard_limit")),
        sa.CheckConstraint("soft_limit IS NULL OR soft_limit >= 0", name=op.f("ck_organizations_soft_limit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("redacted", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("owner_active", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_used_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_api_keys_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_api_keys_secret_hash")),
    )
    op.create_index(op.f("ix_api_keys_org_id"), "api_keys", ["org_id"], unique=False)
    op.create_table(
        "credit_grants",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("granted_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("expired_at", TS, nullable=True),
        sa.Column("payment_id", sa.String(length=64), nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_credit_grants_amount")),
        sa.CheckConstraint("remaining >= 0 AND remaining <= amount", name=op.f("ck_credit_grants_remaining")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_credit_grants_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_grants")),
    )
    op.create_index(op.f("ix_credit_grants_org_id"), "credit_grants", ["org_id"], unique=False)
    op.create_table(
        "flags",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("lifted_at", TS, nullable=True),
        sa.Column("lifted_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_flags_org_id_organizations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flags")),
    )
    op.create_index(op.f("ix_flags_org_id"), "flags", ["org_id"], unique=False)
    op.create_table(
        "holds",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("request_id", sa.String(length=200), nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'settled', 'released', 'expired')", name=op.f("ck_holds_status")
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_holds_amount")),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_holds_org_id_organizations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holds")),
    )
    op.create_index("ix_holds_org_status", "holds", ["org_id", "status"], unique=False)
    op.create_table(
        "invoices",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("period_start", TS, nullable=False),
        sa.Column("period_end", TS, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("due_at", TS, nullable=True),
        sa.Column("paid_at", TS, nullable=True),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_invoices_amount")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_invoices_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("org_id", "period_start", name=op.f("uq_invoices_org_id_period_start")),
    )
    op.create_index(op.f("ix_invoices_org_id"), "invoices", ["org_id"], unique=False)
    op.create_table(
        "ledger_postings",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("txn_id", sa.BigInteger(), nullable=False),
        sa.Column("account", sa.String(length=200), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_ledger_postings_nonzero")),
        sa.ForeignKeyConstraint(
            ["account"], ["ledger_accounts.name"], name=op.f("fk_ledger_postings_account_ledger_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["txn_id"], ["ledger_transactions.id"], name=op.f("fk_ledger_postings_txn_id_ledger_transactions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_postings")),
    )
    op.create_index(op.f("ix_ledger_postings_account"), "ledger_postings", ["account"], unique=False)
    op.create_index(op.f("ix_ledger_postings_txn_id"), "ledger_postings", ["txn_id"], unique=False)
    op.create_table(
        "notices",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("detail", sa.Text(), server_default="{}", nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_notices_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_notices_dedupe_key")),
    )
    op.create_index(op.f("ix_notices_org_id"), "notices", ["org_id"], unique=False)
    op.create_table(
        "payment_methods",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("processor_token", sa.String(length=200), nullable=False),
        sa.Column("brand", sa.String(length=32), server_default="", nullable=False),
        sa.Column("last4", sa.String(length=4), server_default="", nullable=False),
        sa.Column("exp_month", sa.Integer(), nullable=True),
        sa.Column("exp_year", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("is_default", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_payment_methods_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_methods")),
    )
    op.create_index(op.f("ix_payment_methods_org_id"), "payment_methods", ["org_id"], unique=False)
    op.create_table(
        "usage_events",
        sa.Column("request_id", sa.String(length=200), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("ts", TS, nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cached_tokens", sa.BigInteger(), nullable=False),
        sa.Column("requests", sa.Integer(), server_default="1", nullable=False),
        sa.Column("status", sa.Integer(), server_default="200", nullable=False),
        sa.Column("cost", sa.BigInteger(), nullable=False),
        sa.Column("fingerprint", sa.String(length=200), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("hold_id", sa.String(length=64), nullable=True),
        sa.Column("txn_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("cost >= 0", name=op.f("ck_usage_events_cost")),
        sa.CheckConstraint(
            "input_tokens >= 0 AND output_tokens >= 0 AND cached_tokens >= 0",
            name=op.f("ck_usage_events_tokens"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_usage_events_org_id_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["txn_id"], ["ledger_transactions.id"], name=op.f("fk_usage_events_txn_id_ledger_transactions")
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_usage_events")),
    )
    op.create_index("ix_usage_events_org_ts", "usage_events", ["org_id", "ts"], unique=False)
    op.create_index(op.f("ix_usage_events_txn_id"), "usage_events", ["txn_id"], unique=False)
    op.create_table(
        "payments",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("payment_method_id", sa.String(length=64), nullable=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failure_code", sa.String(length=32), nullable=True),
        sa.Column("invoice_id", sa.String(length=64), nullable=True),
        sa.Column("processor_ref", sa.String(length=200), nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payments_amount")),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_payments_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_payments_org_id_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["payment_method_id"],
            ["payment_methods.id"],
            name=op.f("fk_payments_payment_method_id_payment_methods"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    )
    op.create_index(op.f("ix_payments_org_id"), "payments", ["org_id"], unique=False)

    _append_only_triggers()


def downgrade() -> None:
    _drop_append_only_triggers()
    op.drop_index(op.f("ix_payments_org_id"), table_name="payments")
    op.drop_table("payments")
    op.drop_index(op.f("ix_usage_events_txn_id"), table_name="usage_events")
    op.drop_index("ix_usage_events_org_ts", table_name="usage_events")
    op.drop_table("usage_events")
    op.drop_index(op.f("ix_payment_methods_org_id"), table_name="payment_methods")
    op.drop_table("payment_methods")
    op.drop_index(op.f("ix_notices_org_id"), table_name="notices")
    op.drop_table("notices")
    op.drop_index(op.f("ix_ledger_postings_txn_id"), table_name="ledger_postings")
    op.drop_index(op.f("ix_ledger_postings_account"), table_name="ledger_postings")
    op.drop_table("ledger_postings")
    op.drop_index(op.f("ix_invoices_org_id"), table_name="invoices")
    op.drop_table("invoices")
    op.drop_index("ix_holds_org_status", table_name="holds")
    op.drop_table("holds")
    op.drop_index(op.f("ix_flags_org_id"), table_name="flags")
    op.drop_table("flags")
    op.drop_index(op.f("ix_credit_grants_org_id"), table_name="credit_grants")
    op.drop_table("credit_grants")
    op.drop_index(op.f("ix_api_keys_org_id"), table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_table("organizations")
    op.drop_index(op.f("ix_ledger_transactions_org_id"), table_name="ledger_transactions")
    op.drop_table("ledger_transactions")
    op.drop_index(op.f("ix_ledger_accounts_org_id"), table_name="ledger_accounts")
    op.drop_table("ledger_accounts")
    op.drop_index(op.f("ix_audit_log_org_id"), table_name="audit_log")
    op.drop_table("audit_log")


def _append_only_triggers() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION quotadesk_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"
        )
    for table in APPEND_ONLY:
        for verb in ("UPDATE", "DELETE"):
            name = f"{table}_no_{verb.lower()}"
            if dialect == "sqlite":
                op.execute(
                    f"CREATE TRIGGER {name} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )
            else:
                op.execute(
                    f"CREATE TRIGGER {name} BEFORE {verb} ON {table} "
                    "FOR EACH ROW EXECUTE FUNCTION quotadesk_append_only()"
                )


def _drop_append_only_triggers() -> None:
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        for verb in ("update", "delete"):
            if dialect == "sqlite":
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
            else:
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb} ON {table}")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS quotadesk_append_only()")
