"""alert: at most one open (firing or acknowledged) alert per rule and environment

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = "status IN ('firing', 'acknowledged')"


def upgrade() -> None:
    # duplicates left by concurrent evaluations before this index existed: keep the newest open one
    op.execute(sa.text(
        "UPDATE alert SET status = 'resolved', resolved_at = updated_at WHERE " + _OPEN + " AND id NOT IN ("
        "SELECT max(id) FROM alert WHERE " + _OPEN + " GROUP BY rule_id, environment)"))
    op.create_index("uq_alert_open_rule_environment", "alert", ["rule_id", "environment"], unique=True,
                    sqlite_where=sa.text(_OPEN), postgresql_where=sa.text(_OPEN))


def downgrade() -> None:
    op.drop_index("uq_alert_open_rule_environment", table_name="alert")
