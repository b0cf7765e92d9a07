"""remediation_plan, remediation_action, audit_entry: remediation plans and the hash-chained audit log

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "remediation_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("risk", sa.String(), nullable=False),
        sa.Column("workdir", sa.Text(), nullable=True),
        sa.Column("options", sa.Text(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("applied_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remediation_plan")),
    )
    op.create_index(op.f("ix_remediation_plan_environment"), "remediation_plan", ["environment"], unique=False)
    op.create_index(op.f("ix_remediation_plan_status"), "remediation_plan", ["status"], unique=False)
    op.create_index(op.f("ix_remediation_plan_created_at"), "remediation_plan", ["created_at"], unique=False)

    op.create_table(
        "remediation_action",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("terraform_type", sa.String(), nullable=False),
        sa.Column("terraform_id", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        *[sa.Column(name, sa.String(), nullable=False) for name in ("module", "provider", "account", "region")],
        sa.Column("state", sa.Text(), nullable=True),
        sa.Column("strategy", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("risk", sa.String(), nullable=False),
        sa.Column("dangerous", sa.Boolean(), nullable=False),
        *[sa.Column(name, sa.Text(), nullable=False) for name in ("preview", "params", "depends_on")],
        sa.Column("decided_by", sa.String(), nullable=True),
        sa.Column("decided_at", _TS, nullable=True),
        sa.Column("started_at", _TS, nullable=True),
        sa.Column("finished_at", _TS, nullable=True),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("undo", sa.Text(), nullable=False),
        sa.Column("rolled_back_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(["plan_id"], ["remediation_plan.id"], ondelete="CASCADE",
                                name=op.f("fk_remediation_action_plan_id_remediation_plan")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remediation_action")),
        sa.UniqueConstraint("plan_id", "seq", name="uq_remediation_action_plan_id_seq"),
    )
    op.create_index(op.f("ix_remediation_action_plan_id"), "remediation_action", ["plan_id"], unique=False)

    op.create_table(
        "audit_entry",
        sa.Column("id", _BIGINT, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("time", _TS, nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("action_id", sa.Integer(), nullable=True),
        sa.Column("target", sa.Text(), nullable=True),
        sa.Column("before_digest", sa.String(), nullable=True),
        sa.Column("after_digest", sa.String(), nullable=True),
        sa.Column("result", sa.String(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(), nullable=False),
        sa.Column("hash", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
        sa.UniqueConstraint("seq", name=op.f("uq_audit_entry_seq")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_entry_hash")),
    )
    op.create_index(op.f("ix_audit_entry_time"), "audit_entry", ["time"], unique=False)
    op.create_index(op.f("ix_audit_entry_action"), "audit_entry", ["action"], unique=False)
    op.create_index(op.f("ix_audit_entry_plan_id"), "audit_entry", ["plan_id"], unique=False)


def downgrade() -> None:
    op.drop_table("audit_entry")
    op.drop_table("remediation_action")
    op.drop_table("remediation_plan")
