"""Where driftmgr keeps its data and which database it talks to.

Precedence, highest first: environment variables, the TOML config file, built-in defaults.

- ``DRIFTMGR_DATA_DIR``: data directory (default: the platform data dir, e.g. ``~/.local/share/driftmgr``).
- ``DRIFTMGR_CONFIG``: config file (default: ``<platform config dir>/config.toml``). A missing file is fine.
- ``DRIFTMGR_DB_URL``: database URL, else ``[database] url`` in the config file, else a SQLite file in the
  data dir.

The config schema is deliberately small and strict: an unknown section or key, or a value of the wrong type,
is a :class:`ConfigError` naming the key, so a typo never silently falls back to a default. The same checks
serve the config editor and ``driftmgr config``: :func:`validate_config` for a whole document,
:func:`check_field` for one value as a form field holds it.

Secrets never sit in the file: ``[database] password_secret`` holds a keyring reference (``db:<uuid>``) whose
value :mod:`driftmgr_tui.core.db` hands to the PostgreSQL driver when it opens the engine.

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

from driftmgr_tui.core import keys as keymap
from driftmgr_tui.core.errors import ConfigError
from driftmgr_tui.discovery.registry import PROVIDERS

APP_NAME = "driftmgr"
ENV_DATA_DIR = "DRIFTMGR_DATA_DIR"
ENV_CONFIG = "DRIFTMGR_CONFIG"
ENV_DB_URL = "DRIFTMGR_DB_URL"

DEFAULT_LOCK_TIMEOUT = 0.0
DEFAULT_BACKUP_RETENTION = 50
DEFAULT_DRIFT_RETENTION_DAYS = 90
# the OS keyring; or, chosen knowingly, a plaintext file in the data dir
SECRETS_BACKENDS = ("os", "plaintext")


@dataclass(frozen=True)
class EnvironmentConfig:
    """A named environment (``[environments.NAME]``): the states that together form its managed set, the
    cloud scope to compare them with, and optionally its Terraform working dir."""

    name: str
    states: tuple[str, ...] = ()  # files, globs, or backend specs (s3://bucket/key?region=...)
    chdir: str | None = None
    terragrunt: str | None = None  # a Terragrunt tree: the state of every unit under it
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
    db_password_ref: str | None = None  # the PostgreSQL password's keyring reference ([database] password_secret)
    secrets_backend: str = "os"  # "os" keyring, or "plaintext" (a file in the data dir, chosen explicitly)
    keys: Mapping[str, str] = field(default_factory=dict)  # "drift.rescan" -> "R" (Textual key names)
    # [digitalocean]: token_secret / spaces_key_secret (keyring references), spaces_access_id, spaces_regions
    digitalocean: Mapping[str, Any] = field(default_factory=dict)

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
            f"environments={sorted(self.environments)!r}, secrets_backend={self.secrets_backend!r})"
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


def _expect_names(value: Any) -> tuple[str, ...]:
    """Cloud names (regions, subscription ids, projects): non-empty, without spaces."""
    names = _expect_str_list(value)
    for name in names:
        if name != name.strip() or any(c.isspace() for c in name):
            raise ValueError(f"{name!r}: a region, subscription or project name has no spaces")
    return names


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

    check.choices = choices  # type: ignore[attr-defined]  # for the editor's select boxes
    return check


def _expect_tables(value: Any) -> tuple[dict[str, Any], ...]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise TypeError("an array of tables ([[drift.severity]])")
    return tuple(value)


SECRET_REF = re.compile(
    r"(?P<kind>[a-z][a-z0-9_-]*):[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


class SecretRefError(ValueError):
    """A secret field holding something other than a keyring reference (its value is never repeated)."""


def _expect_secret_ref(kind: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        match = SECRET_REF.match(value) if isinstance(value, str) else None
        if match is None or match["kind"] != kind:
            # never echo the value: it may be the secret itself, pasted into the file
            raise SecretRefError(f"must be a keyring reference ({kind}:<uuid>), not the secret itself; "
                                 "store the secret with `driftmgr config secret set` or the config editor")
        return value

    return check


# section -> key -> validator. Keep in step with docs and with Settings.
_SCHEMA: dict[str, dict[str, Callable[[Any], Any]]] = {
    "database": {"url": _expect_str, "password_secret": _expect_secret_ref("db")},
    "state": {"lock_timeout": _expect_duration, "backup_retention": _expect_retention},
    "drift": {"retention_days": _expect_retention, "severity": _expect_tables},
    "remediation": {"four_eyes": _expect_bool, "approver": _expect_str},
    "secrets": {"backend": _expect_choice(*SECRETS_BACKENDS)},
    "digitalocean": {"token_secret": _expect_secret_ref("digitalocean"), "spaces_access_id": _expect_str,
                     "spaces_key_secret": _expect_secret_ref("spaces"), "spaces_regions": _expect_names},
    "keys": {},  # "SECTION.ACTION" = "key", checked by core.keys
    "environments": {},  # one table per environment, checked by _ENVIRONMENT_SCHEMA
}
# keys whose value is a keyring reference: the editor and `driftmgr config secret` store the secret
SECRET_FIELDS = {"database.password_secret": "db", "digitalocean.token_secret": "digitalocean",
                 "digitalocean.spaces_key_secret": "spaces"}

_ENVIRONMENT_SCHEMA: dict[str, Callable[[Any], Any]] = {
    "states": _expect_str_list,
    "chdir": _expect_str,
    "terragrunt": _expect_str,
    "workspaces": _expect_str_list,
    "provider": _expect_choice(*PROVIDERS),
    "regions": _expect_names,
    "profile": _expect_str,
    "role_arn": _expect_str,
    "subscriptions": _expect_names,
    "projects": _expect_names,
    "ignore_file": _expect_str,
    "engine": _expect_choice("native", "terraform"),
}
_ENV_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")


def _fail(path: Path, field: str, detail: str, *, hint: str | None = None,
          message: str | None = None) -> ConfigError:
    """The error for one key: ``<file>: <field>: <detail>`` (or ``message``), with the field and the detail
    kept apart for a form."""
    return ConfigError(f"{path}: {message or f'{field}: {detail}'}", hint=hint, field=field, detail=detail)


def _convert(path: Path, field: str, check: Callable[[Any], Any], value: Any) -> Any:
    try:
        return check(value)
    except SecretRefError as exc:
        raise _fail(path, field, str(exc)) from None
    except TypeError as exc:
        raise _fail(path, field, f"expected {exc}, got {_toml_type(value)}") from None
    except ValueError as exc:
        raise _fail(path, field, str(exc)) from None


def _validate_environment(path: Path, name: str, table: Any) -> EnvironmentConfig:
    if not _ENV_NAME.match(name):
        raise _fail(path, f"environments.{name}", "an environment name is letters, digits, '_', '.', '-'")
    if not isinstance(table, dict):
        raise _fail(path, f"environments.{name}",
                    f"expected a table [environments.{name}], got {_toml_type(table)}")
    values: dict[str, Any] = {}
    for key, value in table.items():
        check = _ENVIRONMENT_SCHEMA.get(key)
        field_name = f"environments.{name}.{key}"
        if check is None:
            raise _fail(path, field_name, "unknown key", message=f"unknown key {field_name}",
                        hint=_suggest(key, list(_ENVIRONMENT_SCHEMA)))
        values[key] = _convert(path, field_name, check, value)
    if not values.get("states") and not values.get("chdir") and not values.get("terragrunt"):
        raise _fail(path, f"environments.{name}",
                    "give states (files, globs, backend specs), chdir (a Terraform working dir) "
                    "or terragrunt (a Terragrunt tree)")
    return EnvironmentConfig(name=name, **values)


def _validate_environments(path: Path, body: Mapping[str, Any]) -> dict[str, EnvironmentConfig]:
    return {name: _validate_environment(path, name, table) for name, table in body.items()}


def _validate_keys(path: Path, body: Mapping[str, Any]) -> dict[str, str]:
    try:
        return keymap.validate_keymap(body)
    except keymap.KeymapError as exc:
        raise _fail(path, f"keys.{exc.key}", exc.detail, hint=exc.hint) from None


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
    return parse_config_text(path, text)


def validate_config(path: Path, data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Check a parsed config document against the schema; return ``{section: {key: converted value}}``.
    Raises ConfigError naming ``path`` and the first key at fault (``field``/``detail`` for a form)."""
    result: dict[str, dict[str, Any]] = {}
    for section, body in data.items():
        known = _SCHEMA.get(section)
        if known is None:
            hint = _suggest(section, list(_SCHEMA))
            if isinstance(body, dict):
                raise _fail(path, section, "unknown section", message=f"unknown section [{section}]",
                            hint=hint)
            raise _fail(path, section, "unknown key", message=f"unknown key {section!r}", hint=hint)
        if not isinstance(body, dict):
            raise _fail(path, section, f"expected a table [{section}], got {_toml_type(body)}")
        if section == "environments":
            result[section] = _validate_environments(path, body)  # type: ignore[assignment]
            continue
        if section == "keys":
            result[section] = _validate_keys(path, body)
            continue
        converted: dict[str, Any] = {}
        for key, value in body.items():
            check = known.get(key)
            if check is None:
                raise _fail(path, f"{section}.{key}", "unknown key", message=f"unknown key {section}.{key}",
                            hint=_suggest(key, list(known)))
            converted[key] = _convert(path, f"{section}.{key}", check, value)
        result[section] = converted
    database = result.get("database", {})
    if "password_secret" in database:
        url = database.get("url", "")
        if not url.startswith(("postgres://", "postgresql://", "postgresql+psycopg://")):
            raise _fail(path, "database.password_secret", "a password is for a PostgreSQL database: set "
                        "[database] url to a postgresql:// URL (without the password) first")
        if _URL_PASSWORD.match(url) or _QUERY_PASSWORD.search(url):
            raise _fail(path, "database.url", "the URL carries a password and password_secret is set too: "
                        "keep the password only in the keyring (remove it from the URL)")
    return result


_validate = validate_config


def check_field(field: str, value: Any, *, path: Path | None = None) -> Any:
    """Validate one value for the dotted ``field`` (``state.lock_timeout``, ``environments.prod.regions``,
    ``keys.drift.rescan``) with the same checks as :func:`validate_config`; return it converted. Only the
    value is checked: rules that involve other keys are the whole document's."""
    where = path or Path("config")
    section, _, rest = field.partition(".")
    if section == "environments":
        name, _, key = rest.rpartition(".")  # a name may hold dots: the last part is the key, if it is one
        if key not in _ENVIRONMENT_SCHEMA:
            name, key = rest, ""
        if not _ENV_NAME.match(name):
            raise _fail(where, f"environments.{name}",
                        "an environment name is letters, digits, '_', '.', '-'")
        if not key:
            return name
        check = _ENVIRONMENT_SCHEMA.get(key)
        if check is None:
            raise _fail(where, field, "unknown key", hint=_suggest(key, list(_ENVIRONMENT_SCHEMA)))
        return _convert(where, field, check, value)
    if section == "keys":
        try:
            return ",".join(keymap.normalize_keys(value))
        except TypeError as exc:
            raise _fail(where, field, f"expected {exc}, got {_toml_type(value)}") from None
        except ValueError as exc:
            raise _fail(where, field, str(exc)) from None
    check = _SCHEMA.get(section, {}).get(rest)
    if check is None:
        raise _fail(where, field, "unknown key")
    return _convert(where, field, check, value)


def field_kind(field: str) -> str:
    """How a form edits ``field``: ``list`` (comma-separated), ``int``, ``bool``, ``duration``, ``choice``,
    ``secret`` (a keyring reference), ``tables`` (only in the raw file) or ``str``."""
    section, _, rest = field.partition(".")
    check = (_ENVIRONMENT_SCHEMA.get(rest.partition(".")[2]) if section == "environments"
             else _SCHEMA.get(section, {}).get(rest))
    if field in SECRET_FIELDS:
        return "secret"
    kinds: dict[Any, str] = {_expect_str_list: "list", _expect_names: "list", _expect_retention: "int",
                             _expect_bool: "bool",
                             _expect_duration: "duration", _expect_tables: "tables"}
    if check in kinds:
        return kinds[check]
    return "choice" if check is not None and choices_of(field) else "str"


def choices_of(field: str) -> tuple[str, ...]:
    """The allowed values of a choice field (``environments.X.provider``, ``secrets.backend``), else ()."""
    section, _, rest = field.partition(".")
    check = (_ENVIRONMENT_SCHEMA.get(rest.partition(".")[2]) if section == "environments"
             else _SCHEMA.get(section, {}).get(rest))
    return tuple(getattr(check, "choices", ()))


def setting_fields() -> list[str]:
    """Every scalar setting the editor's settings form shows, in schema order (not environments or keys)."""
    return [f"{section}.{key}" for section, keys in _SCHEMA.items() for key, check in keys.items()
            if check is not _expect_tables]


ENVIRONMENT_FIELDS = tuple(_ENVIRONMENT_SCHEMA)


def parse_config_text(path: Path, text: str) -> dict[str, Any]:
    """Parse TOML text as the config file at ``path``; a ConfigError names the line and column."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
        if where:
            detail = message[: where.start()]
            raise ConfigError(f"{path}: line {where[1]}, column {where[2]}: invalid TOML: {detail}",
                              detail=f"line {where[1]}, column {where[2]}: {detail}") from None
        end = re.search(r"\s*\(at end of document\)$", message)
        if end:
            line = text.count("\n") + 1
            column = len(text) - (text.rfind("\n") + 1) + 1
            detail = message[: end.start()]
            raise ConfigError(
                f"{path}: line {line}, column {column}: invalid TOML: {detail} (at end of file)",
                detail=f"line {line}, column {column}: {detail} (at end of file)",
            ) from None
        raise ConfigError(f"{path}: invalid TOML: {message}") from None


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser().absolute() if value else None


def config_file_path() -> Path:
    """The config file: ``$DRIFTMGR_CONFIG``, else ``<platform config dir>/config.toml`` (it may not
    exist)."""
    return _env_path(ENV_CONFIG) or Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def data_dir_path() -> Path:
    """The data dir: ``$DRIFTMGR_DATA_DIR``, else the platform data dir."""
    return _env_path(ENV_DATA_DIR) or Path(platformdirs.user_data_dir(APP_NAME))


def load_settings() -> Settings:
    """Resolve settings from the environment and the config file. Raises ConfigError on a bad config file."""
    data_dir = data_dir_path()
    config_path = config_file_path()
    config = _validate(config_path, _read_config(config_path))

    database = config.get("database", {})
    state = config.get("state", {})
    drift = config.get("drift", {})
    remediation = config.get("remediation", {})
    secrets = config.get("secrets", {})
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
        db_password_ref=database.get("password_secret"),
        secrets_backend=secrets.get("backend", "os"),
        keys=config.get("keys", {}),
        digitalocean=config.get("digitalocean", {}),
    )
