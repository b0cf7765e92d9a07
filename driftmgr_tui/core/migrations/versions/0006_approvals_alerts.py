"""remediation_approval, alert_rule, alert: four-eyes approvals and alerting

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "remediation_approval",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("approver", sa.String(), nullable=False),
        sa.Column("approved_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["action_id"], ["remediation_action.id"], ondelete="CASCADE",
                                name=op.f("fk_remediation_approval_action_id_remediation_action")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remediation_approval")),
        sa.UniqueConstraint("action_id", "approver", name="uq_remediation_approval_action_id"),
    )
    op.create_index(op.f("ix_remediation_approval_action_id"), "remediation_approval", ["action_id"], unique=False)
    op.create_index(op.f("ix_remediation_approval_plan_id"), "remediation_approval", ["plan_id"], unique=False)

    op.create_table(
        "alert_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("environment", sa.String(), nullable=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("severity", sa.String(), nullable=True),
        sa.Column("drift_kind", sa.String(), nullable=True),
        sa.Column("channels", sa.Text(), nullable=False),
        sa.Column("webhook_ref", sa.String(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rule")),
        sa.UniqueConstraint("name", name=op.f("uq_alert_rule_name")),
    )
    op.create_index(op.f("ix_alert_rule_environment"), "alert_rule", ["environment"], unique=False)

    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("severity", sa.String(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("deliveries", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("acknowledged_by", sa.String(), nullable=True),
        sa.Column("acknowledged_at", _TS, nullable=True),
        sa.Column("resolved_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(["rule_id"], ["alert_rule.id"], ondelete="CASCADE",
                                name=op.f("fk_alert_rule_id_alert_rule")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert")),
    )
    op.create_index(op.f("ix_alert_rule_id"), "alert", ["rule_id"], unique=False)
    op.create_index(op.f("ix_alert_environment"), "alert", ["environment"], unique=False)
    op.create_index(op.f("ix_alert_status"), "alert", ["status"], unique=False)
    op.create_index(op.f("ix_alert_created_at"), "alert", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_table("alert")
    op.drop_table("alert_rule")
    op.drop_table("remediation_approval")
