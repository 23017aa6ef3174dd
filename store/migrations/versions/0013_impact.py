"""Impact: holdout decisions kept with the starts, and the outcomes families reach.

`sequence_starts.held_out` marks a decision that held a family out (no sequence ran);
`sequence_starts.prediction_id` links a start or holdout to the prediction behind it.
`family_outcomes` holds what happened to each family (`retained`, `withdrew`, ...), once per
family, outcome and time, so a re-import adds nothing twice.

Revision ID: m13_impact
Revises: l12_sign_in
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "m13_impact"
down_revision: str | None = "l12_sign_in"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sequence_starts") as batch:
        batch.add_column(
            sa.Column("held_out", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("prediction_id", sa.Integer(), nullable=True))
    op.create_index("ix_sequence_starts_template", "sequence_starts", ["template", "started_at"])
    op.create_table(
        "family_outcomes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("family_id", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_family_outcomes"),
        sa.UniqueConstraint(
            "family_id", "outcome", "at", name="uq_family_outcomes_family_id_outcome_at"
        ),
    )


def downgrade() -> None:
    op.drop_table("family_outcomes")
    op.drop_index("ix_sequence_starts_template", table_name="sequence_starts")
    with op.batch_alter_table("sequence_starts") as batch:
        batch.drop_column("prediction_id")
        batch.drop_column("held_out")
