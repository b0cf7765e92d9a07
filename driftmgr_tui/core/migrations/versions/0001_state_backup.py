"""state_backup: one row per backed-up copy of a state's bytes

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "state_backup",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("location", sa.String(), nullable=False),
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("serial", sa.BigInteger(), nullable=True),
        sa.Column("lineage", sa.String(), nullable=True),
        sa.Column("terraform_version", sa.String(), nullable=True),
        sa.Column("resource_count", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_state_backup")),
    )
    op.create_index(op.f("ix_state_backup_location"), "state_backup", ["location"], unique=False)
    op.create_index(op.f("ix_state_backup_sha256"), "state_backup", ["sha256"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_state_backup_sha256"), table_name="state_backup")
    op.drop_index(op.f("ix_state_backup_location"), table_name="state_backup")
    op.drop_table("state_backup")
