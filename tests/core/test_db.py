from __future__ import annotations

import dataclasses
import multiprocessing
import os
import socket
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel, select

from driftmgr_tui.core import db
from driftmgr_tui.core.db import DatabaseError, engine_for_url, migrate, open_database, session_scope
from driftmgr_tui.core.errors import DriftmgrError
from driftmgr_tui.core.models import StateBackup
from driftmgr_tui.core.settings import load_settings


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _backup(**overrides: object) -> StateBackup:
    values: dict[str, object] = {
        "location": "/srv/infra/terraform.tfstate",
        "sha256": "ab" * 32,
        "serial": 2**40,
        "lineage": "8f2b7c8e-0000-4000-8000-000000000001",
        "terraform_version": "1.11.4",
        "resource_count": 12,
        "size": 4096,
        "reason": "before rm aws_instance.web",
        "created_by": "oncall@bastion",
    }
    values.update(overrides)
    return StateBackup(**values)  # type: ignore[arg-type]


# --- SQLite file handling ---------------------------------------------------------------------------------


def test_default_database_is_a_private_wal_sqlite_file(isolated_dirs: Path) -> None:
    settings = load_settings()
    engine = open_database(settings)
    try:
        db_file = isolated_dirs / "data" / "driftmgr.db"
        assert _mode(db_file) == 0o600
        assert _mode(db_file.parent) == 0o700
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
            conn.execute(sa.insert(StateBackup).values(**_backup().model_dump(exclude={"id"})))
            conn.commit()
            # SQLite gives its -wal/-shm side files the main file's permissions.
            for side in ("driftmgr.db-wal", "driftmgr.db-shm"):
                assert _mode(db_file.parent / side) == 0o600
    finally:
        db.dispose_engine(settings.db_url)


def test_existing_world_readable_file_is_tightened(tmp_path: Path) -> None:
    db_file = tmp_path / "shared.db"
    db_file.touch(mode=0o644)
    os.chmod(db_file, 0o644)
    url = f"sqlite:///{db_file}"
    try:
        engine_for_url(url)
        assert _mode(db_file) == 0o600
    finally:
        db.dispose_engine(url)


def test_engine_is_cached_per_url(db_url: str) -> None:
    assert engine_for_url(db_url) is engine_for_url(db_url)


# --- migrations ----------------------------------------------------------------------------------------


def test_migration_creates_the_table(engine: sa.Engine) -> None:
    inspector = sa.inspect(engine)
    assert "state_backup" in inspector.get_table_names()
    columns = {c["name"]: c for c in inspector.get_columns("state_backup")}
    assert set(columns) == set(StateBackup.model_fields)
    assert isinstance(columns["serial"]["type"], sa.BigInteger)
    indexed = {tuple(ix["column_names"]) for ix in inspector.get_indexes("state_backup")}
    assert {("location",), ("sha256",)} <= indexed
    assert db.current_revision(engine) == db.head_revision()


def test_migrated_schema_matches_the_models(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []


def test_migrating_twice_is_a_no_op(engine: sa.Engine) -> None:
    with session_scope(engine) as session:
        session.add(_backup())
    migrate(engine)
    migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all() == [
            db.head_revision()
        ]
    with session_scope(engine) as session:
        assert len(session.exec(select(StateBackup)).all()) == 1


def test_open_database_migrates_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    calls: list[sa.Engine] = []
    real_migrate = db.migrate
    monkeypatch.setattr(db, "migrate", lambda engine: calls.append(engine) or real_migrate(engine))
    try:
        first = open_database(settings)
        second = open_database(settings)
        assert first is second
        assert len(calls) == 1
    finally:
        db.dispose_engine(settings.db_url)


def _migrate_in_child(url: str, barrier: multiprocessing.synchronize.Barrier) -> None:
    from driftmgr_tui.core import db as child_db

    engine = child_db.engine_for_url(url)
    barrier.wait(timeout=60)
    child_db.migrate(engine)
    assert child_db.current_revision(engine) == child_db.head_revision()


def test_two_processes_migrating_a_fresh_database_at_once(db_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    children = [context.Process(target=_migrate_in_child, args=(db_url, barrier)) for _ in range(2)]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=120)
    assert [child.exitcode for child in children] == [0, 0]
    engine = engine_for_url(db_url)
    assert db.current_revision(engine) == db.head_revision()
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1


def test_schema_from_a_newer_driftmgr_is_refused(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(DatabaseError, match="newer driftmgr") as caught:
        migrate(engine)
    assert caught.value.hint and "upgrade driftmgr" in caught.value.hint


# --- data round trip ------------------------------------------------------------------------------------


def test_state_backup_round_trip_with_a_large_serial(engine: sa.Engine) -> None:
    taken = datetime(2026, 11, 22, 3, 4, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    with session_scope(engine) as session:
        session.add(_backup(serial=2**40, created_at=taken))
        session.add(_backup(serial=None, lineage=None, terraform_version=None, reason="second copy"))
    with session_scope(engine) as session:
        rows = session.exec(select(StateBackup).order_by(StateBackup.id)).all()
    assert [r.serial for r in rows] == [2**40, None]
    assert rows[0].created_at == taken
    assert rows[0].created_at.tzinfo is UTC
    assert rows[0].created_at.hour == 1
    assert rows[1].created_at.tzinfo is UTC
    assert abs(datetime.now(UTC) - rows[1].created_at) < timedelta(minutes=5)
    assert rows[0].sha256 == rows[1].sha256  # the same bytes may be backed up twice


def test_naive_datetimes_are_refused(engine: sa.Engine) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive datetime"), session_scope(engine) as session:
        session.add(_backup(created_at=datetime(2026, 1, 1)))


def test_created_by_defaults_to_user_at_host() -> None:
    backup = StateBackup(location="/x", sha256="00", resource_count=0, size=0, reason="test")
    assert "@" in backup.created_by
    assert backup.created_at.tzinfo is UTC


def test_session_scope_rolls_back_on_error(engine: sa.Engine) -> None:
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        session.add(_backup())
        session.flush()
        raise RuntimeError("boom")
    with session_scope(engine) as session:
        assert session.exec(select(StateBackup)).all() == []


# --- failures are DatabaseErrors ------------------------------------------------------------------------


def test_unwritable_location_is_a_database_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a directory should be")
    url = f"sqlite:///{blocker / 'data' / 'driftmgr.db'}"
    settings = dataclasses.replace(load_settings(), db_url=url)
    with pytest.raises(DatabaseError) as caught:
        open_database(settings)
    error = caught.value
    assert isinstance(error, DriftmgrError)
    assert url in str(error)
    assert "Not a directory" in error.reason


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_directory_is_a_database_error(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    url = f"sqlite:///{locked / 'driftmgr.db'}"
    with pytest.raises(DatabaseError, match="Permission denied"):
        engine_for_url(url)


def test_file_that_is_not_a_database(tmp_path: Path) -> None:
    db_file = tmp_path / "garbage.db"
    db_file.write_bytes(b"this is not SQLite" * 100)
    url = f"sqlite:///{db_file}"
    try:
        with pytest.raises(DatabaseError, match="file is not a database"):
            migrate(engine_for_url(url))
    finally:
        db.dispose_engine(url)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("not a url", "not a valid database URL"),
        ("mysql://root@localhost/drift", "unsupported database 'mysql'"),
        ("postgresql+psycopg2://u@localhost/drift", "unsupported PostgreSQL driver 'psycopg2'"),
    ],
)
def test_bad_url_is_a_database_error(url: str, reason: str) -> None:
    with pytest.raises(DatabaseError, match=reason):
        engine_for_url(url)


def test_unreachable_postgres_names_the_redacted_url() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # nothing listens on `port` once the socket is closed
    url = f"postgres://drift:hunter2@127.0.0.1:{port}/drift"
    settings = dataclasses.replace(load_settings(), db_url=url)
    try:
        with pytest.raises(DatabaseError) as caught:
            open_database(settings)
    finally:
        db.dispose_engine(url)
    message = str(caught.value)
    assert f"postgresql+psycopg://drift:***@127.0.0.1:{port}/drift" in message
    assert "hunter2" not in message
    assert "refused" in caught.value.reason


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////x/y.db", "sqlite:////x/y.db"),
    ],
)
def test_postgres_urls_use_psycopg(given: str, expected: str) -> None:
    assert db.normalize_db_url(given) == expected


def test_postgres_engine_uses_psycopg() -> None:
    url = "postgres://u@127.0.0.1:1/db"
    try:
        assert engine_for_url(url).dialect.driver == "psycopg"
    finally:
        db.dispose_engine(url)
