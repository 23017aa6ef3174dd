"""Failure handling: provider circuit-breaker states and suspended templates.

Revision ID: f4_failure_handling
Revises: 0001
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f4_failure_handling"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "provider_health",
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("worker", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("open_until", TIMESTAMP, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("transitions", sa.Integer(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("provider", "worker", name="pk_provider_health"),
    )
    op.create_table(
        "template_suspensions",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("suspended", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("suspended_at", TIMESTAMP, nullable=False),
        sa.Column("resumed_at", TIMESTAMP, nullable=True),
        sa.Column("resumed_by", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_template_suspensions"),
    )


def downgrade() -> None:
    op.drop_table("template_suspensions")
    op.drop_table("provider_health")
