"""discovery_run, discovery_task, cloud_resource: discovery runs and what they found

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "discovery_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("account", sa.String(), nullable=True),
        sa.Column("principal", sa.String(), nullable=True),
        sa.Column("regions", sa.Text(), nullable=False),
        sa.Column("task_count", sa.Integer(), nullable=False),
        sa.Column("failed_tasks", sa.Integer(), nullable=False),
        sa.Column("resource_count", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("unsupported", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discovery_run")),
    )
    op.create_index(op.f("ix_discovery_run_job_id"), "discovery_run", ["job_id"], unique=False)
    op.create_index(op.f("ix_discovery_run_provider"), "discovery_run", ["provider"], unique=False)
    op.create_index(op.f("ix_discovery_run_status"), "discovery_run", ["status"], unique=False)
    op.create_index(op.f("ix_discovery_run_created_at"), "discovery_run", ["created_at"], unique=False)

    op.create_table(
        "discovery_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("account", sa.String(), nullable=False),
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("service", sa.String(), nullable=False),
        sa.Column("cloud_types", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("resource_count", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["discovery_run.id"], ondelete="CASCADE",
                                name=op.f("fk_discovery_task_run_id_discovery_run")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discovery_task")),
        sa.UniqueConstraint("run_id", "key", name="uq_discovery_task_run_id_key"),
    )
    op.create_index(op.f("ix_discovery_task_run_id"), "discovery_task", ["run_id"], unique=False)

    op.create_table(
        "cloud_resource",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("account", sa.String(), nullable=False),
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("cloud_type", sa.String(), nullable=False),
        sa.Column("terraform_type", sa.String(), nullable=False),
        sa.Column("terraform_id", sa.Text(), nullable=False),
        sa.Column("match_key", sa.Text(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("native_id", sa.Text(), nullable=True),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.Column("cloud_default", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["discovery_run.id"], ondelete="CASCADE",
                                name=op.f("fk_cloud_resource_run_id_discovery_run")),
        sa.ForeignKeyConstraint(["task_id"], ["discovery_task.id"], ondelete="CASCADE",
                                name=op.f("fk_cloud_resource_task_id_discovery_task")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cloud_resource")),
    )
    op.create_index("ix_cloud_resource_run_type_key", "cloud_resource",
                    ["run_id", "terraform_type", "match_key"], unique=False)
    op.create_index(op.f("ix_cloud_resource_task_id"), "cloud_resource", ["task_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_cloud_resource_task_id"), table_name="cloud_resource")
    op.drop_index("ix_cloud_resource_run_type_key", table_name="cloud_resource")
    op.drop_table("cloud_resource")
    op.drop_index(op.f("ix_discovery_task_run_id"), table_name="discovery_task")
    op.drop_table("discovery_task")
    op.drop_index(op.f("ix_discovery_run_created_at"), table_name="discovery_run")
    op.drop_index(op.f("ix_discovery_run_status"), table_name="discovery_run")
    op.drop_index(op.f("ix_discovery_run_provider"), table_name="discovery_run")
    op.drop_index(op.f("ix_discovery_run_job_id"), table_name="discovery_run")
    op.drop_table("discovery_run")
