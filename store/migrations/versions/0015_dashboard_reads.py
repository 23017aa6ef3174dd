"""An index for the dashboard's first-contact line: the latest start of each sequence.

Revision ID: o15_dashboard_reads
Revises: n14_web_timeline
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "o15_dashboard_reads"
down_revision: str | None = "n14_web_timeline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_sequence_starts_workflow_id", "sequence_starts", ["workflow_id", "started_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_sequence_starts_workflow_id", table_name="sequence_starts")
