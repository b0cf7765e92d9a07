"""Database tables (SQLModel). Every table here is created by a hand-written Alembic migration in
``driftmgr_tui/core/migrations/versions``; ``tests/core/test_db.py`` checks that the migrated schema and
these models agree on SQLite and PostgreSQL.

Portable types only: no SQLite-only SQL. Timestamps are timezone-aware UTC on both backends
(:class:`UTCDateTime`); integers that can exceed 2**31 are ``BigInteger``.
"""

from __future__ import annotations

import getpass
import os
import socket
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

# Named constraints from the first table on: SQLite's batch migrations can only drop or alter a constraint
# that has a name. Migrations must spell the same names (op.f("pk_<table>") ...).
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def current_actor() -> str:
    """``user@host`` for audit-style columns (who made this backup)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()}"


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that always hands back an aware UTC datetime.

    PostgreSQL stores ``timestamptz`` natively; SQLite has no time zones, so values are stored as naive UTC
    and re-tagged as UTC on the way out. Naive datetimes are refused on the way in: a naive local time
    silently stored as UTC is the bug this type exists to prevent.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"naive datetime {value!r}: pass a timezone-aware datetime (e.g. datetime.now(UTC))"
            )
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class StateBackup(SQLModel, table=True):
    """One backed-up copy of a state's bytes, taken before a write.

    The bytes themselves live on disk, content-addressed by ``sha256`` (see ``Settings.backups_dir``); the
    same bytes may be backed up more than once (different reasons), so nothing here is unique but ``id``.
    """

    __tablename__ = "state_backup"

    id: int | None = Field(default=None, primary_key=True)
    location: str = Field(index=True)
    sha256: str = Field(index=True)
    serial: int | None = Field(default=None, sa_type=sa.BigInteger)
    lineage: str | None = None
    terraform_version: str | None = None
    resource_count: int
    size: int = Field(sa_type=sa.BigInteger)
    reason: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: str = Field(default_factory=current_actor)
