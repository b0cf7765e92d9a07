"""Alembic environment for driftmgr.

Normally driven by :func:`driftmgr_tui.core.db.migrate`, which passes an open connection in
``config.attributes["connection"]`` (and holds the cross-process migration lock around it). Run without one
(``alembic -c ...`` by hand), it opens the database named by the driftmgr settings.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from driftmgr_tui.core import models  # noqa: F401  (registers the tables on SQLModel.metadata)

config = context.config
target_metadata = SQLModel.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead. Harmless elsewhere.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    from driftmgr_tui.core.db import normalize_db_url
    from driftmgr_tui.core.settings import load_settings

    url = config.get_main_option("sqlalchemy.url") or normalize_db_url(load_settings().db_url)
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    from driftmgr_tui.core.db import engine_for_url
    from driftmgr_tui.core.settings import load_settings

    with engine_for_url(load_settings().db_url).connect() as connection:
        _configure(connection)
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
