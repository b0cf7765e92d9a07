"""drift_report, drift_item, drift_history, ignore_rule: drift detection and its history

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "drift_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(), nullable=False),
        sa.Column("engine", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration", sa.Float(), nullable=True),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in (
            "total_resources", "total_managed", "total_unmanaged", "total_missing", "total_changed",
            "total_unapplied", "total_orphaned", "total_ignored", "total_unevaluated")],
        sa.Column("coverage", sa.Float(), nullable=False),
        *[sa.Column(name, sa.Text(), nullable=False) for name in (
            "by_severity", "sources", "unevaluated", "config_drift", "warnings")],
        sa.Column("created_by", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drift_report")),
    )
    op.create_index(op.f("ix_drift_report_environment"), "drift_report", ["environment"], unique=False)
    op.create_index(op.f("ix_drift_report_created_at"), "drift_report", ["created_at"], unique=False)

    op.create_table(
        "drift_item",
        sa.Column("id", _BIGINT, nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("terraform_type", sa.String(), nullable=False),
        sa.Column("terraform_id", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("module", sa.String(), nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("account", sa.String(), nullable=False),
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("severity", sa.String(), nullable=False),
        sa.Column("state", sa.Text(), nullable=True),
        sa.Column("diffs", sa.Text(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["drift_report.id"],
                                name=op.f("fk_drift_item_report_id_drift_report"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drift_item")),
    )
    op.create_index(op.f("ix_drift_item_fingerprint"), "drift_item", ["fingerprint"], unique=False)
    op.create_index(op.f("ix_drift_item_terraform_type"), "drift_item", ["terraform_type"], unique=False)
    op.create_index("ix_drift_item_report_id_kind", "drift_item", ["report_id", "kind"], unique=False)

    op.create_table(
        "drift_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(), nullable=False),
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("terraform_type", sa.String(), nullable=False),
        sa.Column("terraform_id", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("severity", sa.String(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_report_id", sa.Integer(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_report_id", sa.Integer(), nullable=True),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drift_history")),
        sa.UniqueConstraint("environment", "fingerprint", name="uq_drift_history_environment"),
    )
    op.create_index(op.f("ix_drift_history_environment"), "drift_history", ["environment"], unique=False)
    op.create_index(op.f("ix_drift_history_resolved_at"), "drift_history", ["resolved_at"], unique=False)

    op.create_table(
        "ignore_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(), nullable=True),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ignore_rule")),
    )
    op.create_index(op.f("ix_ignore_rule_environment"), "ignore_rule", ["environment"], unique=False)


def downgrade() -> None:
    op.drop_table("ignore_rule")
    op.drop_table("drift_history")
    op.drop_table("drift_item")
    op.drop_table("drift_report")
