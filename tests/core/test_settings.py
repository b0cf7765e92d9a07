from __future__ import annotations

from pathlib import Path

import pytest

from driftmgr_tui.core.errors import ConfigError
from driftmgr_tui.core.settings import Settings, load_settings, parse_duration, redact_url


@pytest.fixture
def config_file(isolated_dirs: Path) -> Path:
    return isolated_dirs / "config.toml"


def test_defaults_come_from_the_environment_dirs(isolated_dirs: Path) -> None:
    settings = load_settings()
    assert settings.data_dir == isolated_dirs / "data"
    assert settings.config_path == isolated_dirs / "config.toml"
    assert settings.db_url == f"sqlite:///{isolated_dirs / 'data' / 'driftmgr.db'}"
    assert settings.backups_dir == isolated_dirs / "data" / "backups"
    assert settings.lock_timeout == 0.0
    assert settings.backup_retention == 50


def test_platform_dirs_when_nothing_is_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DRIFTMGR_DATA_DIR")
    monkeypatch.delenv("DRIFTMGR_CONFIG")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    settings = load_settings()
    assert settings.data_dir == tmp_path / "xdg-data" / "driftmgr"
    assert settings.config_path == tmp_path / "xdg-config" / "driftmgr" / "config.toml"


def test_config_file_is_read(config_file: Path) -> None:
    config_file.write_text(
        '[database]\nurl = "postgresql://drift@db.internal/drift"\n\n'
        '[state]\nlock_timeout = "1m30s"\nbackup_retention = 7\n'
    )
    settings = load_settings()
    assert settings.db_url == "postgresql://drift@db.internal/drift"
    assert settings.lock_timeout == 90.0
    assert settings.backup_retention == 7


def test_env_db_url_beats_the_config_file(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config_file.write_text('[database]\nurl = "postgresql://from-config/db"\n')
    monkeypatch.setenv("DRIFTMGR_DB_URL", "postgresql://from-env/db")
    assert load_settings().db_url == "postgresql://from-env/db"


def test_broken_toml_names_file_line_and_column(config_file: Path) -> None:
    config_file.write_text('[database]\nurl = "sqlite:///x.db"\n[state]\nlock_timeout "5m"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert str(config_file) in message
    assert "line 4" in message
    assert "column 14" in message
    assert "Expected '='" in message


def test_unterminated_toml_at_end_of_file(config_file: Path) -> None:
    config_file.write_text('[database]\nurl = "sqlite:///x.db')
    with pytest.raises(ConfigError, match=r"line 2"):
        load_settings()


def test_config_that_is_not_utf8(config_file: Path) -> None:
    config_file.write_bytes(b'[database]\nurl = "\xff"\n')
    with pytest.raises(ConfigError, match=r"line 2, column 8: invalid TOML: not valid UTF-8"):
        load_settings()


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ('[state]\nlock_timout = "5m"\n', "state.lock_timout"),
        ('[databse]\nurl = "x"\n', "[databse]"),
        ("debug = true\n", "'debug'"),
    ],
)
def test_unknown_key_is_named(config_file: Path, body: str, named: str) -> None:
    config_file.write_text(body)
    with pytest.raises(ConfigError, match=r"unknown") as caught:
        load_settings()
    assert named in str(caught.value)
    assert str(config_file) in str(caught.value)


def test_unknown_key_suggests_the_close_one(config_file: Path) -> None:
    config_file.write_text('[state]\nlock_timout = "5m"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.hint == "did you mean 'lock_timeout'?"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[state]\nbackup_retention = "50"\n', "state.backup_retention: expected an integer, got a string"),
        ("[state]\nbackup_retention = 0\n", "state.backup_retention: must be at least 1"),
        ("[state]\nbackup_retention = true\n", "state.backup_retention: expected an integer, got a boolean"),
        ("[state]\nlock_timeout = 30\n", "state.lock_timeout: expected a duration string"),
        ("[database]\nurl = 5\n", "database.url: expected a string, got an integer"),
        ('database = "sqlite:///x"\n', "database: expected a table"),
    ],
)
def test_wrong_type_is_named(config_file: Path, body: str, message: str) -> None:
    config_file.write_text(body)
    with pytest.raises(ConfigError, match=message):
        load_settings()


@pytest.mark.parametrize("value", ["5 minutes", "5", "-5s", "m", "5m3", "1d"])
def test_bad_duration_is_named(config_file: Path, value: str) -> None:
    config_file.write_text(f'[state]\nlock_timeout = "{value}"\n')
    with pytest.raises(ConfigError, match=r"state\.lock_timeout: invalid duration") as caught:
        load_settings()
    assert repr(value) in str(caught.value)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0.0), ("0s", 0.0), ("30s", 30.0), ("5m", 300.0), ("1h", 3600.0), ("1m30s", 90.0), ("250ms", 0.25)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_config_path_that_is_a_directory(config_file: Path) -> None:
    config_file.mkdir()
    with pytest.raises(ConfigError, match="is a directory"):
        load_settings()


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("postgresql://drift:s3cr%40t@db:5432/drift", "postgresql://drift:***@db:5432/drift"),
        (
            "postgresql+psycopg://drift:pw@db/drift?sslmode=require",
            "postgresql+psycopg://drift:***@db/drift?sslmode=require",
        ),
        (
            "postgresql://drift@db/drift?password=pw&sslmode=require",
            "postgresql://drift@db/drift?password=***&sslmode=require",
        ),
        ("postgresql://drift@db/drift", "postgresql://drift@db/drift"),
        ("sqlite:////home/me/driftmgr.db", "sqlite:////home/me/driftmgr.db"),
    ],
)
def test_redact_url(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


def test_repr_never_shows_the_db_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTMGR_DB_URL", "postgresql://drift:hunter2@db/drift")
    settings = load_settings()
    assert settings.db_url == "postgresql://drift:hunter2@db/drift"
    assert settings.db_url_redacted == "postgresql://drift:***@db/drift"
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings)
    assert "postgresql://drift:***@db/drift" in repr(settings)


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(AttributeError):
        settings.db_url = "sqlite://"  # type: ignore[misc]
    assert isinstance(settings, Settings)
