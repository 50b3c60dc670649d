"""The console's customers: sign-ins of an organization's own people, and their sessions.

Revision ID: 0003_console
Revises: 0002_desk
Create Date: 2026-12-05

A customer user belongs to exactly one organization; the console shows them that
organization's billing and usage pages and nothing else. Like staff tokens, only the
SHA-256 of a customer's token or session cookie is stored.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_console"
down_revision = "0002_desk"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "customer_users",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("disabled_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_customer_users_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_users")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_customer_users_token_hash")),
    )
    op.create_index(op.f("ix_customer_users_org_id"), "customer_users", ["org_id"], unique=False)
    op.create_table(
        "customer_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer_users.id"],
            name=op.f("fk_customer_sessions_customer_id_customer_users"),
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_customer_sessions")),
    )
    op.create_index(
        op.f("ix_customer_sessions_customer_id"), "customer_sessions", ["customer_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_customer_sessions_customer_id"), table_name="customer_sessions")
    op.drop_table("customer_sessions")
    op.drop_index(op.f("ix_customer_users_org_id"), table_name="customer_users")
    op.drop_table("customer_users")
