"""The connectors: webhook deliveries (the replay log), the outbox, org contacts, status history.

Revision ID: 0004_connectors
Revises: 0003_console
Create Date: 2026-12-03

``payments`` keeps Stripe's decline and advice codes beside the contract's failure code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_connectors"
down_revision = "0003_console"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")


def upgrade() -> None:
    op.add_column("payments", sa.Column("decline_code", sa.String(length=64), nullable=True))
    op.add_column("payments", sa.Column("advice_code", sa.String(length=64), nullable=True))
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("service", sa.String(length=16), nullable=False),
        sa.Column("delivery_id", sa.String(length=200), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("event_type", sa.String(length=100), server_default="", nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=True),
        sa.Column("case_id", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), server_default="{}", nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('applied', 'unmatched', 'ignored', 'failed')", name=op.f("ck_webhook_deliveries_outcome")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("service", "delivery_id", name=op.f("uq_webhook_deliveries_service_delivery_id")),
    )
    op.create_index(op.f("ix_webhook_deliveries_org_id"), "webhook_deliveries", ["org_id"], unique=False)
    op.create_index(
        "ix_webhook_deliveries_service_outcome", "webhook_deliveries", ["service", "outcome"], unique=False
    )
    op.create_table(
        "outbox",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("remote_ref", sa.String(length=200), nullable=True),
        sa.Column("case_id", sa.String(length=64), nullable=True),
        sa.Column("org_id", sa.String(length=64), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')", name=op.f("ck_outbox_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbox_dedupe_key")),
    )
    op.create_index(op.f("ix_outbox_case_id"), "outbox", ["case_id"], unique=False)
    op.create_index("ix_outbox_status_next", "outbox", ["status", "next_at"], unique=False)
    op.create_table(
        "org_contacts",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=254), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("kind IN ('email', 'domain')", name=op.f("ck_org_contacts_kind")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_org_contacts_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_contacts")),
        sa.UniqueConstraint("kind", "value", name=op.f("uq_org_contacts_kind_value")),
    )
    op.create_index(op.f("ix_org_contacts_org_id"), "org_contacts", ["org_id"], unique=False)
    op.create_table(
        "status_incidents",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("incident_id", sa.String(length=200), nullable=False),
        sa.Column("first_seen_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("updated_at", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_incidents")),
        sa.UniqueConstraint("source", "incident_id", name=op.f("uq_status_incidents_source_incident_id")),
    )
    op.create_index("ix_status_incidents_first_seen", "status_incidents", ["first_seen_at"], unique=False)
    op.create_table(
        "connector_state",
        sa.Column("name", sa.String(length=600), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_connector_state")),
    )


def downgrade() -> None:
    op.drop_table("connector_state")
    op.drop_index("ix_status_incidents_first_seen", table_name="status_incidents")
    op.drop_table("status_incidents")
    op.drop_index(op.f("ix_org_contacts_org_id"), table_name="org_contacts")
    op.drop_table("org_contacts")
    op.drop_index("ix_outbox_status_next", table_name="outbox")
    op.drop_index(op.f("ix_outbox_case_id"), table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_webhook_deliveries_service_outcome", table_name="webhook_deliveries")
    op.drop_index(op.f("ix_webhook_deliveries_org_id"), table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("advice_code")
        batch.drop_column("decline_code")
