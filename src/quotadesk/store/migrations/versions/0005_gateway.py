"""The gateway: budget leases, slices of an organization's headroom one gateway process admits from.

Revision ID: 0005_gateway
Revises: 0004_connectors
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_gateway"
down_revision = "0004_connectors"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "gateway_leases",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("settled", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("renewed_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("closed_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("amount >= 0 AND settled >= 0", name=op.f("ck_gateway_leases_amounts")),
        sa.CheckConstraint(
            "status IN ('open', 'returned', 'released', 'expired')", name=op.f("ck_gateway_leases_status")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_gateway_leases_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_leases")),
    )
    op.create_index("ix_gateway_leases_org_status", "gateway_leases", ["org_id", "status"], unique=False)
    op.create_index("ix_gateway_leases_holder", "gateway_leases", ["holder"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_gateway_leases_holder", table_name="gateway_leases")
    op.drop_index("ix_gateway_leases_org_status", table_name="gateway_leases")
    op.drop_table("gateway_leases")
