"""The desk: staff and their sessions, cases and their history, audit targets, Stripe links, manual tiers.

Revision ID: 0002_desk
Revises: 0001
Create Date: 2026-12-03

``case_events`` is append-only like the ledger (a case's history is evidence). ``audit_log``
gains the columns the service contract names (target, before, after) and the case it
concerns; on SQLite, dropping them again needs the table rebuilt, which would also drop its
append-only triggers, so the downgrade puts them back.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_desk"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")


def upgrade() -> None:
    op.add_column("organizations", sa.Column("stripe_customer", sa.String(length=64), nullable=True))
    op.add_column("organizations", sa.Column("tier_manual", sa.Boolean(), server_default="0", nullable=False))
    op.create_index("ix_organizations_stripe_customer", "organizations", ["stripe_customer"], unique=True)
    op.add_column("audit_log", sa.Column("target", sa.String(length=200), nullable=True))
    op.add_column("audit_log", sa.Column("case_id", sa.String(length=64), nullable=True))
    op.add_column("audit_log", sa.Column("before", sa.Text(), nullable=True))
    op.add_column("audit_log", sa.Column("after", sa.Text(), nullable=True))
    op.create_index(op.f("ix_audit_log_case_id"), "audit_log", ["case_id"], unique=False)
    op.create_index("ix_audit_log_org_at", "audit_log", ["org_id", "at"], unique=False)
    op.create_index("ix_payments_org_at", "payments", ["org_id", "at"], unique=False)
    op.create_index("ix_notices_org_at", "notices", ["org_id", "at"], unique=False)
    op.create_index("ix_credit_grants_org_granted", "credit_grants", ["org_id", "granted_at"], unique=False)
    op.create_index("ix_credit_grants_org_expired", "credit_grants", ["org_id", "expired_at"], unique=False)
    op.create_index("ix_flags_org_at", "flags", ["org_id", "at"], unique=False)
    op.create_table(
        "staff",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("disabled_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff")),
        sa.UniqueConstraint("name", name=op.f("uq_staff_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staff_token_hash")),
    )
    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_sessions_staff_id_staff")),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_sessions")),
    )
    op.create_index(op.f("ix_sessions_staff_id"), "sessions", ["staff_id"], unique=False)
    op.create_table(
        "cases",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=True),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("team", sa.String(length=32), nullable=False),
        sa.Column("incident", sa.String(length=32), nullable=False),
        sa.Column("root_cause", sa.String(length=48), nullable=False),
        sa.Column("route", sa.String(length=32), nullable=False),
        sa.Column("ticket", sa.Text(), nullable=False),
        sa.Column("triage", sa.Text(), nullable=False),
        sa.Column("external_ref", sa.String(length=200), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("version", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint("status IN ('open', 'escalated', 'resolved')", name=op.f("ck_cases_status")),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_cases_org_id_organizations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("external_ref", name=op.f("uq_cases_external_ref")),
    )
    op.create_index(op.f("ix_cases_org_id"), "cases", ["org_id"], unique=False)
    op.create_index("ix_cases_team_status_created", "cases", ["team", "status", "created_at"], unique=False)
    op.create_index("ix_cases_status_created", "cases", ["status", "created_at"], unique=False)
    op.create_index("ix_cases_created", "cases", ["created_at", "id"], unique=False)
    op.create_table(
        "case_events",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), server_default="{}", nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_events_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
    )
    op.create_index(op.f("ix_case_events_case_id"), "case_events", ["case_id"], unique=False)
    _append_only("case_events", create=True)


def downgrade() -> None:
    _append_only("case_events", create=False)
    op.drop_index(op.f("ix_case_events_case_id"), table_name="case_events")
    op.drop_table("case_events")
    op.drop_index("ix_cases_created", table_name="cases")
    op.drop_index("ix_cases_status_created", table_name="cases")
    op.drop_index("ix_cases_team_status_created", table_name="cases")
    op.drop_index(op.f("ix_cases_org_id"), table_name="cases")
    op.drop_table("cases")
    op.drop_index(op.f("ix_sessions_staff_id"), table_name="sessions")
    op.drop_table("sessions")
    op.drop_table("staff")
    op.drop_index("ix_flags_org_at", table_name="flags")
    op.drop_index("ix_credit_grants_org_expired", table_name="credit_grants")
    op.drop_index("ix_credit_grants_org_granted", table_name="credit_grants")
    op.drop_index("ix_notices_org_at", table_name="notices")
    op.drop_index("ix_payments_org_at", table_name="payments")
    op.drop_index("ix_audit_log_org_at", table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_case_id"), table_name="audit_log")
    _append_only("audit_log", create=False)
    with op.batch_alter_table("audit_log") as batch:
        for column in ("after", "before", "case_id", "target"):
            batch.drop_column(column)
    _append_only("audit_log", create=True)
    op.drop_index("ix_organizations_stripe_customer", table_name="organizations")
    with op.batch_alter_table("organizations") as batch:
        batch.drop_column("tier_manual")
        batch.drop_column("stripe_customer")


def _append_only(table: str, *, create: bool) -> None:
    """The triggers of 0001's append-only tables, for one table (its PL/pgSQL function is 0001's)."""
    dialect = op.get_bind().dialect.name
    for verb in ("UPDATE", "DELETE"):
        name = f"{table}_no_{verb.lower()}"
        if not create:
            op.execute(f"DROP TRIGGER IF EXISTS {name}" + ("" if dialect == "sqlite" else f" ON {table}"))
        elif dialect == "sqlite":
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
        else:
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {verb} ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION quotadesk_append_only()"
            )
