"""Where driftmgr keeps its data and which database it talks to.

Precedence, highest first: environment variables, the TOML config file, built-in defaults.

- ``DRIFTMGR_DATA_DIR``: data directory (default: the platform data dir, e.g. ``~/.local/share/driftmgr``).
- ``DRIFTMGR_CONFIG``: config file (default: ``<platform config dir>/config.toml``). A missing file is fine.
- ``DRIFTMGR_DB_URL``: database URL, else ``[database] url`` in the config file, else a SQLite file in the
  data dir.

The config schema is deliberately small and strict: an unknown section or key, or a value of the wrong type,
is a :class:`ConfigError` naming the key, so a typo never silently falls back to a default.

This module stays free of SQLAlchemy so the CLI can read settings cheaply.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from driftmgr_tui.core.errors import ConfigError

APP_NAME = "driftmgr"
ENV_DATA_DIR = "DRIFTMGR_DATA_DIR"
ENV_CONFIG = "DRIFTMGR_CONFIG"
ENV_DB_URL = "DRIFTMGR_DB_URL"

DEFAULT_LOCK_TIMEOUT = 0.0
DEFAULT_BACKUP_RETENTION = 50
DEFAULT_DRIFT_RETENTION_DAYS = 90


@dataclass(frozen=True)
class EnvironmentConfig:
    """A named environment (``[environments.NAME]``): the states that together form its managed set, the
    cloud scope to compare them with, and optionally its Terraform working dir."""

    name: str
    states: tuple[str, ...] = ()  # files, globs, or backend specs (s3://bucket/key?region=...)
    chdir: str | None = None
    workspaces: tuple[str, ...] = ()  # "*" means every workspace of the backend
    provider: str | None = None
    regions: tuple[str, ...] = ()
    profile: str | None = None
    role_arn: str | None = None
    subscriptions: tuple[str, ...] = ()
    projects: tuple[str, ...] = ()
    ignore_file: str | None = None
    engine: str = "native"


@dataclass(frozen=True)
class Settings:
    """Resolved settings for one process. Build it with :func:`load_settings`.

    ``db_url`` may carry a password: it is left out of ``repr`` (use :attr:`db_url_redacted` in anything a
    user or a log can see).
    """

    data_dir: Path
    config_path: Path
    db_url: str
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    backup_retention: int = DEFAULT_BACKUP_RETENTION
    drift_retention_days: int = DEFAULT_DRIFT_RETENTION_DAYS
    severity_rules: tuple[dict[str, Any], ...] = ()
    environments: Mapping[str, EnvironmentConfig] = field(default_factory=dict)
    four_eyes: bool = False  # an action needs approvals from two different users before apply
    approver: str | None = None  # the name approvals are recorded under (default: the OS login)

    @property
    def backups_dir(self) -> Path:
        return self.data_dir / "backups"

    @property
    def db_url_redacted(self) -> str:
        return redact_url(self.db_url)

    def __repr__(self) -> str:
        return (
            f"Settings(data_dir={self.data_dir!r}, config_path={self.config_path!r}, "
            f"db_url={self.db_url_redacted!r}, lock_timeout={self.lock_timeout!r}, "
            f"backup_retention={self.backup_retention!r}, drift_retention_days={self.drift_retention_days!r}, "
            f"environments={sorted(self.environments)!r})"
        )


# Same shape as SQLAlchemy's URL grammar: ``name://user:password@host...``; the password runs to the first "@".
_URL_PASSWORD = re.compile(r"^(?P<head>[\w+]+://[^:/@]*:)(?P<password>[^@]*)@")
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&](?:password|passwd|pass|pwd)=)(?P<password>[^&]*)", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``url`` with any password (in the user-info part or a ``password=`` query parameter) replaced by ***."""
    redacted = _URL_PASSWORD.sub(lambda m: f"{m['head']}***@", url, count=1)
    return _QUERY_PASSWORD.sub(lambda m: f"{m['head']}***", redacted)


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Parse a Terraform/Go-style duration (``0s``, ``30s``, ``5m``, ``1m30s``, ``250ms``, ``1h``) to seconds.

    A bare ``0`` is accepted; any other number needs a unit. Raises ``ValueError`` with what is wrong.
    """
    value = text.strip()
    if value == "0":
        return 0.0
    if not value:
        raise ValueError("empty duration")
    total = 0.0
    pos = 0
    while pos < len(value):
        match = _DURATION_PART.match(value, pos)
        if match is None:
            raise ValueError(
                f"invalid duration {text!r}: expected a number with a unit (ms, s, m, h), e.g. 30s or 5m"
            )
        total += float(match[1]) * _DURATION_UNITS[match[2]]
        pos = match.end()
    return total


def _expect_str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("a string")
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _expect_duration(value: Any) -> float:
    if not isinstance(value, str):
        raise TypeError('a duration string such as "30s" or "5m"')
    return parse_duration(value)


def _expect_retention(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("an integer")
    if value < 1:
        raise ValueError(f"must be at least 1, got {value}")
    return value


def _expect_str_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise TypeError("an array of non-empty strings")
    return tuple(value)


def _expect_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("true or false")
    return value


def _expect_choice(*choices: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise TypeError("a string")
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    return check


def _expect_tables(value: Any) -> tuple[dict[str, Any], ...]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise TypeError("an array of tables ([[drift.severity]])")
    return tuple(value)


# section -> key -> validator. Keep in step with docs and with Settings.
_SCHEMA: dict[str, dict[str, Callable[[Any], Any]]] = {
    "database": {"url": _expect_str},
    "state": {"lock_timeout": _expect_duration, "backup_retention": _expect_retention},
    "drift": {"retention_days": _expect_retention, "severity": _expect_tables},
    "remediation": {"four_eyes": _expect_bool, "approver": _expect_str},
    "environments": {},  # one table per environment, checked by _ENVIRONMENT_SCHEMA
}

_ENVIRONMENT_SCHEMA: dict[str, Callable[[Any], Any]] = {
    "states": _expect_str_list,
    "chdir": _expect_str,
    "workspaces": _expect_str_list,
    "provider": _expect_choice("aws", "azure", "gcp"),
    "regions": _expect_str_list,
    "profile": _expect_str,
    "role_arn": _expect_str,
    "subscriptions": _expect_str_list,
    "projects": _expect_str_list,
    "ignore_file": _expect_str,
    "engine": _expect_choice("native", "terraform"),
}
_ENV_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")


def _validate_environments(path: Path, body: Mapping[str, Any]) -> dict[str, EnvironmentConfig]:
    envs: dict[str, EnvironmentConfig] = {}
    for name, table in body.items():
        if not _ENV_NAME.match(name):
            raise ConfigError(f"{path}: environments.{name}: an environment name is letters, digits, '_', '.', "
                              "'-'")
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: environments.{name}: expected a table [environments.{name}], "
                              f"got {_toml_type(table)}")
        values: dict[str, Any] = {}
        for key, value in table.items():
            check = _ENVIRONMENT_SCHEMA.get(key)
            if check is None:
                raise ConfigError(f"{path}: unknown key environments.{name}.{key}",
                                  hint=_suggest(key, list(_ENVIRONMENT_SCHEMA)))
            try:
                values[key] = check(value)
            except TypeError as exc:
                raise ConfigError(
                    f"{path}: environments.{name}.{key}: expected {exc}, got {_toml_type(value)}") from None
            except ValueError as exc:
                raise ConfigError(f"{path}: environments.{name}.{key}: {exc}") from None
        if not values.get("states") and not values.get("chdir"):
            raise ConfigError(f"{path}: environments.{name}: give states (files, globs, backend specs) "
                              "or chdir (a Terraform working dir)")
        envs[name] = EnvironmentConfig(name=name, **values)
    return envs


def _toml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


def _suggest(name: str, known: list[str]) -> str | None:
    close = difflib.get_close_matches(name, known, n=1)
    return f"did you mean {close[0]!r}?" if close else None


def _read_config(path: Path) -> dict[str, Any]:
    """Parse the config file (missing -> empty); every failure is a ConfigError naming the file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a TOML config file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(f"{path}: line {line}, column {column}: invalid TOML: not valid UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
        if where:
            detail = message[: where.start()]
            raise ConfigError(f"{path}: line {where[1]}, column {where[2]}: invalid TOML: {detail}") from None
        end = re.search(r"\s*\(at end of document\)$", message)
        if end:
            line = text.count("\n") + 1
            column = len(text) - (text.rfind("\n") + 1) + 1
            detail = message[: end.start()]
            raise ConfigError(
                f"{path}: line {line}, column {column}: invalid TOML: {detail} (at end of file)"
            ) from None
        raise ConfigError(f"{path}: invalid TOML: {message}") from None


def _validate(path: Path, data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Check ``data`` against the schema; return ``{section: {key: converted value}}``."""
    result: dict[str, dict[str, Any]] = {}
    for section, body in data.items():
        known = _SCHEMA.get(section)
        if known is None:
            hint = _suggest(section, list(_SCHEMA))
            if isinstance(body, dict):
                raise ConfigError(f"{path}: unknown section [{section}]", hint=hint)
            raise ConfigError(f"{path}: unknown key {section!r}", hint=hint)
        if not isinstance(body, dict):
            raise ConfigError(f"{path}: {section}: expected a table [{section}], got {_toml_type(body)}")
        if section == "environments":
            result[section] = _validate_environments(path, body)  # type: ignore[assignment]
            continue
        converted: dict[str, Any] = {}
        for key, value in body.items():
            check = known.get(key)
            if check is None:
                raise ConfigError(f"{path}: unknown key {section}.{key}", hint=_suggest(key, list(known)))
            try:
                converted[key] = check(value)
            except TypeError as exc:
                raise ConfigError(
                    f"{path}: {section}.{key}: expected {exc}, got {_toml_type(value)}"
                ) from None
            except ValueError as exc:
                raise ConfigError(f"{path}: {section}.{key}: {exc}") from None
        result[section] = converted
    return result


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser().absolute() if value else None


def load_settings() -> Settings:
    """Resolve settings from the environment and the config file. Raises ConfigError on a bad config file."""
    data_dir = _env_path(ENV_DATA_DIR) or Path(platformdirs.user_data_dir(APP_NAME))
    config_path = _env_path(ENV_CONFIG) or Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"
    config = _validate(config_path, _read_config(config_path))

    database = config.get("database", {})
    state = config.get("state", {})
    drift = config.get("drift", {})
    remediation = config.get("remediation", {})
    db_url = (
        os.environ.get(ENV_DB_URL, "").strip()
        or database.get("url")
        or f"sqlite:///{data_dir / 'driftmgr.db'}"
    )
    return Settings(
        data_dir=data_dir,
        config_path=config_path,
        db_url=db_url,
        lock_timeout=state.get("lock_timeout", DEFAULT_LOCK_TIMEOUT),
        backup_retention=state.get("backup_retention", DEFAULT_BACKUP_RETENTION),
        drift_retention_days=drift.get("retention_days", DEFAULT_DRIFT_RETENTION_DAYS),
        severity_rules=drift.get("severity", ()),
        environments=config.get("environments", {}),
        four_eyes=remediation.get("four_eyes", False),
        approver=remediation.get("approver"),
    )
