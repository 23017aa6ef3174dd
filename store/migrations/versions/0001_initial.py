"""Initial schema: families, predictions, templates, coordinator tasks, messages, step audit.

Revision ID: 0001
Revises:
Create Date: 2025-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out rather than imported from store.models: a migration must keep describing the
# schema as it was at this revision, whatever the models become later.
TIMESTAMP = sa.DateTime(timezone=True)


def _family_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["family_id"], ["families.family_id"], name=f"fk_{table}_family_id_families"
    )


def upgrade() -> None:
    op.create_table(
        "families",
        sa.Column("family_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("phone", sa.String(), nullable=True),
        sa.Column("timezone", sa.String(), nullable=False),
        sa.Column("preferred_channel", sa.String(), nullable=True),
        sa.Column("opted_out", sa.JSON(), nullable=False),
        sa.Column("engagement_score", sa.Double(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("family_id", name="pk_families"),
    )

    op.create_table(
        "predictions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("family_id", sa.String(), nullable=False),
        sa.Column("probability", sa.Double(), nullable=False),
        sa.Column("confidence", sa.Double(), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=True),
        sa.Column("model_version", sa.String(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("template", sa.String(), nullable=True),
        sa.Column("workflow_id", sa.String(), nullable=True),
        sa.Column("outcome", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_predictions"),
        _family_fk("predictions"),
    )
    op.create_index("ix_predictions_family_id", "predictions", ["family_id"])

    op.create_table(
        "templates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("workflow", sa.String(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_templates"),
        sa.UniqueConstraint("name", "version", name="uq_templates_name_version"),
    )

    op.create_table(
        "coordinator_tasks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(), nullable=False),
        sa.Column("family_id", sa.String(), nullable=False),
        sa.Column("workflow_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("assign_to", sa.String(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("closed_at", TIMESTAMP, nullable=True),
        sa.Column("closed_by", sa.String(), nullable=True),
        sa.Column("close_note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_coordinator_tasks"),
        sa.UniqueConstraint("idempotency_key", name="uq_coordinator_tasks_idempotency_key"),
        sa.CheckConstraint(
            "kind IN ('call', 'task', 'escalation')", name="ck_coordinator_tasks_kind"
        ),
        sa.CheckConstraint(
            "status IN ('open', 'done', 'cancelled')", name="ck_coordinator_tasks_status"
        ),
        _family_fk("coordinator_tasks"),
    )
    op.create_index("ix_coordinator_tasks_family_id", "coordinator_tasks", ["family_id"])
    op.create_index("ix_coordinator_tasks_workflow_id", "coordinator_tasks", ["workflow_id"])
    op.create_index("ix_coordinator_tasks_status", "coordinator_tasks", ["status"])

    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(), nullable=False),
        sa.Column("family_id", sa.String(), nullable=False),
        sa.Column("workflow_id", sa.String(), nullable=False),
        sa.Column("step_id", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("provider_message_id", sa.String(), nullable=False),
        sa.Column("recipient", sa.String(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.UniqueConstraint("idempotency_key", name="uq_messages_idempotency_key"),
        _family_fk("messages"),
    )
    op.create_index("ix_messages_family_id", "messages", ["family_id"])
    op.create_index("ix_messages_workflow_id", "messages", ["workflow_id"])

    op.create_table(
        "step_executions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(), nullable=False),
        sa.Column("workflow_id", sa.String(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("step_id", sa.String(), nullable=False),
        sa.Column("family_id", sa.String(), nullable=False),
        sa.Column("template", sa.String(), nullable=False),
        sa.Column("template_version", sa.Integer(), nullable=False),
        sa.Column("prediction_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=True),
        sa.Column("provider_message_id", sa.String(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("error_type", sa.String(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_step_executions"),
        sa.UniqueConstraint("idempotency_key", name="uq_step_executions_idempotency_key"),
        _family_fk("step_executions"),
    )
    op.create_index("ix_step_executions_family_id", "step_executions", ["family_id"])
    op.create_index("ix_step_executions_workflow_id", "step_executions", ["workflow_id"])


def downgrade() -> None:
    op.drop_table("step_executions")
    op.drop_table("messages")
    op.drop_table("coordinator_tasks")
    op.drop_table("templates")
    op.drop_table("predictions")
    op.drop_table("families")
