"""The database: engine, schema migrations, sessions.

SQLite by default (a 0600 file in the data dir, WAL mode), PostgreSQL for a team (``postgresql+psycopg``).
The same models and migrations serve both.

- :func:`open_database` is what an entry point calls: engine + schema upgraded to head (once per process).
- :func:`migrate` is safe when several processes start at once on a fresh database: it is serialised with
  an OS file lock next to the SQLite file, or a PostgreSQL advisory lock.
- Any failure to open or upgrade the database is a :class:`DatabaseError` carrying the redacted URL and the
  reason, never a raw SQLAlchemy traceback.
- A PostgreSQL password can live in the OS keyring (``[database] password_secret``): it is read when the
  engine is built and handed to the driver as a connection argument, so it is in no URL, message or log.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import event, exc, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, create_engine

from driftmgr_tui.core.errors import DriftmgrError
from driftmgr_tui.core.settings import Settings, load_settings, redact_url

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT = 30.0
POSTGRES_CONNECT_TIMEOUT = 10
# pg_advisory_lock key (any fixed bigint) held while driftmgr migrates a PostgreSQL database.
_PG_MIGRATION_LOCK_KEY = 0x2B1C_6F1E_9D4A_3C57


class DatabaseError(DriftmgrError):
    """The database cannot be opened, reached or upgraded. ``url`` is redacted; ``reason`` says why."""

    exit_code = 1

    def __init__(self, url: str, reason: str, *, hint: str | None = None) -> None:
        self.url = redact_url(url)
        self.reason = reason
        super().__init__(f"database {self.url}: {reason}", hint=hint)


_engines: dict[str, Engine] = {}
_migrated: set[str] = set()
_engines_lock = threading.Lock()
_migrate_lock = threading.Lock()
_open_lock = threading.Lock()


def normalize_db_url(url: str) -> str:
    """Rewrite ``postgres://`` / ``postgresql://`` to the psycopg 3 driver; leave everything else alone."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _parse_url(url: str) -> URL:
    try:
        parsed = make_url(normalize_db_url(url))
    except exc.ArgumentError as e:
        raise DatabaseError(
            url,
            f"not a valid database URL ({e})",
            hint="use sqlite:////abs/path.db or postgresql://user@host/db",
        ) from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise DatabaseError(url, f"unsupported database {backend!r}: driftmgr supports SQLite and PostgreSQL")
    if backend == "postgresql" and parsed.get_driver_name() != "psycopg":
        raise DatabaseError(
            url,
            f"unsupported PostgreSQL driver {parsed.get_driver_name()!r}",
            hint="use postgresql:// (driftmgr connects with psycopg 3)",
        )
    return parsed


def _sqlite_path(url: URL) -> Path | None:
    """The database file of a SQLite URL, or None for an in-memory database."""
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:") or url.query.get("mode") == "memory":
        return None
    return Path(database).expanduser().absolute()


def _describe(error: BaseException) -> str:
    """One line a user can act on, from an OSError / DBAPI error / SQLAlchemy error."""
    if isinstance(error, exc.DBAPIError) and error.orig is not None:
        error = error.orig
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror}: {error.filename}" if error.filename else error.strerror
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return " ".join(lines[:2]) if lines else type(error).__name__


def _prepare_sqlite_file(url: str, path: Path) -> None:
    """Create the parent dir (0700) and the file (0600) before SQLite does, so it never exists world-readable."""
    try:
        if not path.parent.is_dir():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            mode = stat.S_IMODE(os.fstat(fd).st_mode)
            if mode & 0o077:
                try:
                    os.fchmod(fd, 0o600)
                except PermissionError:
                    log.warning("%s has mode %o and cannot be tightened to 0600 (not the owner)", path, mode)
        finally:
            os.close(fd)
    except OSError as e:
        raise DatabaseError(url, f"cannot create the database file: {_describe(e)}") from None


def _on_sqlite_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _build_engine(url: str, password: str | None = None) -> Engine:
    parsed = _parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = _sqlite_path(parsed)
        if path is None:
            engine = create_engine(
                parsed,
                connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT},
                poolclass=StaticPool,
            )
        else:
            _prepare_sqlite_file(url, path)
            engine = create_engine(
                parsed.set(database=str(path)), connect_args={"timeout": SQLITE_BUSY_TIMEOUT}
            )
        event.listen(engine, "connect", _on_sqlite_connect)
        return engine
    connect_args: dict[str, object] = (
        {} if "connect_timeout" in parsed.query else {"connect_timeout": POSTGRES_CONNECT_TIMEOUT})
    if password is not None:
        connect_args["password"] = password
    return create_engine(parsed, connect_args=connect_args, pool_pre_ping=True)


def engine_for_url(url: str, *, password: str | None = None) -> Engine:
    """The process-wide engine for ``url`` (created on first use). Raises DatabaseError for a bad URL.
    ``password`` (from the keyring) is given to a PostgreSQL driver; it never becomes part of the URL."""
    key = normalize_db_url(url)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            try:
                engine = _build_engine(url, password)
            except DatabaseError:
                raise
            except Exception as e:  # no SQLAlchemy/driver traceback ever reaches the user
                raise DatabaseError(url, _describe(e)) from e
            _engines[key] = engine
        return engine


def database_password(settings: Settings) -> str | None:
    """The PostgreSQL password kept in the keyring (``[database] password_secret``), for a URL without one.
    A reference the keyring cannot resolve is a DatabaseError saying which and how to fix it."""
    ref = settings.db_password_ref
    url = settings.db_url
    if not ref or not normalize_db_url(url).startswith("postgresql+psycopg://"):
        return None
    parsed = _parse_url(url)
    if parsed.password is not None or "password" in parsed.query:
        return None  # the URL (DRIFTMGR_DB_URL) brings its own
    from driftmgr_tui.core.secrets import get_secret

    try:
        return get_secret(ref, settings=settings)
    except DriftmgrError as e:
        raise DatabaseError(url, f"its password ({ref}) cannot be read: {e.message}", hint=e.hint) from None


def _engine_for_settings(settings: Settings) -> Engine:
    key = normalize_db_url(settings.db_url)
    with _engines_lock:
        engine = _engines.get(key)
    if engine is not None:
        return engine
    return engine_for_url(settings.db_url, password=database_password(settings))


def get_engine(settings: Settings | None = None) -> Engine:
    """The engine for ``settings.db_url`` (default: :func:`load_settings`), cached per URL."""
    return _engine_for_settings(settings or load_settings())


def dispose_engine(url: str) -> None:
    """Close and forget the cached engine for ``url`` (e.g. before dropping a test database)."""
    key = normalize_db_url(url)
    with _engines_lock:
        engine = _engines.pop(key, None)
        _migrated.discard(key)
    if engine is not None:
        engine.dispose()


def dispose_engines() -> None:
    """Close and forget every cached engine."""
    with _engines_lock:
        engines = list(_engines.values())
        _engines.clear()
        _migrated.clear()
    for engine in engines:
        engine.dispose()


def _after_fork_in_child() -> None:
    # Pooled connections belong to the parent; the child must open its own.
    for engine in list(_engines.values()):
        engine.dispose(close=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _alembic_config():  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest migration this driftmgr ships."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The schema revision stored in the database (None: never migrated)."""
    from alembic.runtime.migration import MigrationContext

    url = engine.url.render_as_string(hide_password=False)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except exc.SQLAlchemyError as e:
        raise DatabaseError(url, _describe(e)) from None


@contextlib.contextmanager
def _sqlite_migration_lock(url: str, db_path: Path | None) -> Iterator[None]:
    """Serialise migrations of one SQLite file across processes with flock on ``<db>.migrate-lock``."""
    with _migrate_lock:
        if db_path is None:
            yield
            return
        lock_path = db_path.with_name(db_path.name + ".migrate-lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            raise DatabaseError(url, f"cannot create the migration lock: {_describe(e)}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def migrate(engine: Engine) -> None:
    """Upgrade the schema to head. Idempotent; concurrent callers (threads or processes) take turns.

    Raises DatabaseError if the database cannot be reached or its schema is newer than this driftmgr.
    """
    from alembic import command
    from alembic.util import CommandError

    url = engine.url.render_as_string(hide_password=False)
    config = _alembic_config()
    is_sqlite = engine.dialect.name == "sqlite"
    lock = _sqlite_migration_lock(url, _sqlite_path(engine.url)) if is_sqlite else contextlib.nullcontext()
    try:
        with lock, engine.connect() as connection:
            if not is_sqlite:
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_MIGRATION_LOCK_KEY})
                connection.commit()
            try:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                connection.commit()
            finally:
                if not is_sqlite:
                    connection.rollback()
                    connection.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_MIGRATION_LOCK_KEY}
                    )
                    connection.commit()
    except DatabaseError:
        raise
    except CommandError as e:
        if "Can't locate revision" in str(e):
            raise DatabaseError(
                url,
                f"the schema was written by a newer driftmgr ({e})",
                hint="upgrade driftmgr; this version only knows schema revisions up to " + head_revision(),
            ) from None
        raise DatabaseError(url, f"schema migration failed: {_describe(e)}") from None
    except (exc.SQLAlchemyError, OSError) as e:
        raise DatabaseError(url, _describe(e)) from None


def open_database(settings: Settings | None = None) -> Engine:
    """The engine for the configured database, with the schema upgraded (once per process and URL)."""
    settings = settings or load_settings()
    db_url = settings.db_url
    engine = _engine_for_settings(settings)
    key = normalize_db_url(db_url)
    if key not in _migrated:
        with _open_lock:
            if key not in _migrated:
                migrate(engine)
                _migrated.add(key)
    return engine


@contextlib.contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block succeeds and rolls back when it raises.

    ``expire_on_commit=False``: objects stay readable after the block (they are detached, not reloaded).
    """
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
