"""ConfigService: the config file as the editor and ``driftmgr config`` change it.

- The file is edited with tomlkit, so the user's comments, order and layout survive every change.
- Every change is validated as a whole document by the same checks :func:`load_settings` runs *before*
  anything is written; a ConfigError carries the field at fault (``environments.prod.regions``) and what is
  wrong with it, for the form to show under that field. A failed check writes nothing.
- Writes are atomic: a temporary file in the same directory (mode 0600), fsync, rename; the previous file is
  kept as ``config.toml.bak``.
- Secrets go to the OS keyring (:mod:`driftmgr_tui.core.secrets`) and only their reference goes to the file.
  The keyring is written first: when it is unavailable nothing is written at all.
- "Test connection" is a job in the persistent queue that calls the provider adapter's ``connect()`` and
  records the account, principal and regions, or the error.
- Raw editing: :meth:`ConfigService.run_editor` opens the file in ``$VISUAL`` / ``$EDITOR`` / ``vi``; the
  caller then checks it with :meth:`ConfigService.validate_file` and may :meth:`ConfigService.restore` the
  previous good bytes.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import Table

from driftmgr_tui.core import keys as keymap
from driftmgr_tui.core import secrets
from driftmgr_tui.core.errors import ConfigError, DriftmgrError, UsageError
from driftmgr_tui.core.settings import (
    ENVIRONMENT_FIELDS,
    SECRET_FIELDS,
    SECRET_REF,
    Settings,
    check_field,
    config_file_path,
    data_dir_path,
    field_kind,
    load_settings,
    parse_config_text,
    setting_fields,
    validate_config,
)
from driftmgr_tui.discovery.registry import providers_text

TEST_JOB = "config.test_connection"
BACKUP_SUFFIX = ".bak"
REJECTED_SUFFIX = ".rejected"
SECRET_LABELS = {"database.password_secret": "PostgreSQL password",
                 "digitalocean.token_secret": "DigitalOcean API token",
                 "digitalocean.spaces_key_secret": "DigitalOcean Spaces secret key"}


@dataclass(frozen=True)
class KeyBinding:
    """One rebindable action: its default keys and the keys the config file gives it (None: the default)."""

    id: str
    section: str
    action: str
    description: str
    default: str
    custom: str | None

    @property
    def keys(self) -> str:
        return self.custom or self.default

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "description": self.description, "default": self.default,
                "custom": self.custom}


@dataclass(frozen=True)
class SecretInfo:
    """A secret field of the config file: its reference (never the value) and whether the keyring has it
    (None when the keyring cannot be asked; ``error`` says why)."""

    field: str
    label: str
    ref: str | None
    stored: bool | None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "label": self.label, "ref": self.ref, "stored": self.stored,
                "error": self.error}


@dataclass(frozen=True)
class ConnectionResult:
    """What a connection test found, as its job recorded it."""

    environment: str
    provider: str
    ok: bool
    job_id: int
    account: str | None = None
    principal: str | None = None
    regions: tuple[str, ...] = ()
    error: str | None = None

    @classmethod
    def from_job(cls, job: Any) -> ConnectionResult:
        payload, result = job.payload, job.result or {}
        ok = job.status.value == "succeeded"
        return cls(environment=payload.get("environment", ""),
                   provider=payload.get("scope", {}).get("provider", ""), ok=ok, job_id=job.id,
                   account=result.get("account"), principal=result.get("principal"),
                   regions=tuple(result.get("regions", ())),
                   error=None if ok else (job.error or job.message or job.status.value))

    def to_json(self) -> dict[str, Any]:
        return {"environment": self.environment, "provider": self.provider, "ok": self.ok,
                "job_id": self.job_id, "account": self.account, "principal": self.principal,
                "regions": list(self.regions), "error": self.error}


def coerce(field: str, text: str) -> Any:
    """A form's (or the command line's) text as the TOML value of ``field``; None means "not set".
    Lists are comma-separated; a wrong integer or boolean is a ConfigError for that field."""
    value = text.strip()
    if not value:
        return None
    kind = field_kind(field)
    if kind == "list":
        return [part.strip() for part in value.split(",") if part.strip()]
    if kind == "int":
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"{field}: expected an integer, got {value!r}", field=field,
                              detail=f"expected an integer, got {value!r}") from None
    if kind == "bool":
        lowered = value.lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0"):
            return False
        raise ConfigError(f"{field}: expected true or false, got {value!r}", field=field,
                          detail=f"expected true or false, got {value!r}")
    return value


def display(value: Any) -> str:
    """A value as a form shows it (the inverse of :func:`coerce`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


class ConfigService:
    """Reads and changes the config file at ``path`` (default: the configured one). Works on a broken file
    too: reading it raises the ConfigError, and restoring or rewriting it is still possible."""

    def __init__(self, settings: Settings | None = None, *, path: Path | None = None, engine: Any = None,
                 bus: Any = None, adapter_factory: Callable[[Any], Any] | None = None) -> None:
        self._settings = settings
        self.path = path or (settings.config_path if settings is not None else config_file_path())
        self._engine = engine
        self._bus = bus
        self._queue: Any = None
        self.adapter_factory = adapter_factory

    # --- reading --------------------------------------------------------------------------------------------

    @property
    def backup_path(self) -> Path:
        return self.path.with_name(self.path.name + BACKUP_SUFFIX)

    def read_bytes(self) -> bytes | None:
        """The file as it is on disk (None: there is no file)."""
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot read config file: {exc.strerror or exc}") from None

    def read_text(self) -> str:
        raw = self.read_bytes()
        if raw is None:
            return ""
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError(f"{self.path}: invalid TOML: not valid UTF-8") from None

    def document(self) -> tomlkit.TOMLDocument:
        """The file as an editable document (comments and order kept); ConfigError if it does not parse."""
        text = self.read_text()
        parse_config_text(self.path, text)  # the same line/column messages as load_settings
        return tomlkit.parse(text)

    def validate(self, doc: tomlkit.TOMLDocument) -> dict[str, dict[str, Any]]:
        """The checks load_settings runs, on a candidate document."""
        return validate_config(self.path, doc.unwrap())

    def validate_file(self) -> dict[str, dict[str, Any]]:
        """Read and validate the file on disk, as load_settings does (after an outside edit)."""
        return validate_config(self.path, parse_config_text(self.path, self.read_text()))

    def settings(self) -> Settings:
        """Settings as they load now (after a write, read again)."""
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    # --- writing --------------------------------------------------------------------------------------------

    def save(self, doc: tomlkit.TOMLDocument) -> None:
        """Validate ``doc`` and, only if it is fully valid, write it atomically (the old file kept as
        .bak)."""
        self.validate(doc)
        self._write(tomlkit.dumps(doc).encode("utf-8"))
        self._settings = None

    def _write(self, data: bytes) -> None:
        directory = self.path.parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        previous = self.read_bytes()
        if previous is not None and previous != data:
            _atomic_write(self.backup_path, previous)
        _atomic_write(self.path, data)

    def restore(self, good: bytes | None) -> None:
        """Put back ``good`` (the file before an outside edit; None: there was no file). The rejected text is
        kept beside it as ``config.toml.rejected``."""
        rejected = self.read_bytes()
        if rejected is not None:
            _atomic_write(self.path.with_name(self.path.name + REJECTED_SUFFIX), rejected)
        if good is None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        else:
            _atomic_write(self.path, good)
        self._settings = None

    def last_good(self) -> bytes | None:
        """What to put back after a failed outside edit: the file if it is valid, else ``config.toml.bak`` if
        that is, else the file as it is (None: there is none)."""
        current = self.read_bytes()
        for candidate, path in ((current, self.path), (_read(self.backup_path), self.backup_path)):
            if candidate is None:
                continue
            try:
                validate_config(path, parse_config_text(path, candidate.decode("utf-8")))
            except (ConfigError, UnicodeDecodeError):
                continue
            return candidate
        return current

    def restore_backup(self) -> None:
        """Put back the file as it was before the last write (``config.toml.bak``), if it is valid."""
        try:
            data = self.backup_path.read_bytes()
        except FileNotFoundError:
            raise UsageError(f"there is no backup of {self.path} ({self.backup_path})") from None
        text = data.decode("utf-8", errors="replace")
        validate_config(self.backup_path, parse_config_text(self.backup_path, text))
        self._write(data)

    # --- environments ---------------------------------------------------------------------------------------

    def environment_names(self) -> list[str]:
        envs = self.document().get("environments", {})
        return list(envs) if isinstance(envs, Mapping) else []

    def environment(self, name: str) -> dict[str, Any]:
        envs = self.document().get("environments", {})
        if not isinstance(envs, Mapping) or name not in envs:
            raise UsageError(f"no environment {name!r} in {self.path}")
        table = envs[name]
        return dict(table.unwrap()) if isinstance(table, Table) else dict(table)

    def put_environment(self, name: str, values: Mapping[str, Any], *, original: str | None = None) -> None:
        """Add environment ``name`` (``original`` None) or change ``original`` (renaming it to ``name``):
        ``values`` is the whole form (a None value removes that key). Validated, then written."""
        unknown = [key for key in values if key not in ENVIRONMENT_FIELDS]
        if unknown:
            field = f"environments.{name}.{unknown[0]}"
            raise ConfigError(f"{self.path}: unknown key {field}", field=field, detail="unknown key")
        doc = self.document()
        envs = doc.get("environments")
        if envs is None:
            envs = tomlkit.table(is_super_table=True)
            doc["environments"] = envs
        if original != name and name in envs:
            raise ConfigError(f"{self.path}: environments.{name}: already exists",
                              field=f"environments.{name}", detail="an environment of this name exists")
        if original is None:
            table = tomlkit.table()
            envs[name] = table
        else:
            if original not in envs:
                raise UsageError(f"no environment {original!r} in {self.path}")
            table = envs[original]
            if original != name:
                envs[name] = table
                del envs[original]
                table = envs[name]
        for key, value in values.items():
            if value is None or value == [] or value == "":
                if key in table:
                    del table[key]
            elif table.get(key) != value:
                table[key] = value
        self.save(doc)

    def remove_environment(self, name: str) -> None:
        doc = self.document()
        envs = doc.get("environments")
        if not isinstance(envs, Mapping) or name not in envs:
            raise UsageError(f"no environment {name!r} in {self.path}")
        del envs[name]
        if not envs:
            del doc["environments"]
        self.save(doc)

    # --- settings -------------------------------------------------------------------------------------------

    def settings_values(self) -> dict[str, Any]:
        """Every scalar setting the file sets, by dotted field (``state.lock_timeout``)."""
        doc = self.document().unwrap()
        values = {}
        for field in setting_fields():
            section, _, key = field.partition(".")
            if key in doc.get(section, {}):
                values[field] = doc[section][key]
        return values

    def get(self, field: str) -> Any:
        """The file's value at the dotted ``field`` (None: not set)."""
        node: Any = self.document().unwrap()
        for part in _split(field):
            if not isinstance(node, Mapping) or part not in node:
                return None
            node = node[part]
        return node

    def check(self, field: str, text: str) -> Any:
        """The form's text for ``field`` converted and checked alone (ConfigError with field/detail)."""
        value = coerce(field, text)
        if value is not None:
            check_field(field, value, path=self.path)
        return value

    def set(self, field: str, value: Any) -> None:
        """Set the dotted ``field`` (None removes it); validated as a whole, then written."""
        if field in SECRET_FIELDS:
            raise UsageError(f"{field} holds a keyring reference: store the secret with "
                             f"`driftmgr config secret set {field}` (or the editor's Secrets page)")
        self.set_many({field: value})

    def set_many(self, values: Mapping[str, Any]) -> None:
        doc = self.document()
        for field, value in values.items():
            if field.startswith("keys."):
                _assign_key(doc, field.removeprefix("keys."), value)
            else:
                _assign(doc, field, value)
        self.save(doc)

    # --- keybindings ----------------------------------------------------------------------------------------

    def keybindings(self) -> list[KeyBinding]:
        custom = keymap.flatten(self.document().get("keys", {}) or {})
        return [KeyBinding(a.id, a.section, a.action, a.description, ",".join(a.keys),
                           str(custom[a.id]) if a.id in custom else None)
                for a in keymap.catalog().values()]

    def set_key(self, action_id: str, keys: str | None) -> None:
        """Give ``action_id`` the keys (comma-separated), or its default back (None)."""
        doc = self.document()
        _assign_key(doc, action_id, keys or None)
        self.save(doc)

    # --- secrets --------------------------------------------------------------------------------------------

    def secrets_backend(self) -> str:
        return str(self.get("secrets.backend") or "os")

    def secret_infos(self) -> list[SecretInfo]:
        infos = []
        settings = self._secret_settings()
        for field in SECRET_FIELDS:
            ref = self.get(field)
            stored: bool | None = None
            error = None
            if ref:
                try:
                    secrets.get_secret(ref, settings=settings)
                    stored = True
                except secrets.SecretNotFound:
                    stored = False
                except DriftmgrError as exc:
                    error = exc.message
            infos.append(SecretInfo(field, SECRET_LABELS.get(field, field), ref, stored, error))
        return infos

    def set_secret(self, field: str, value: str) -> str:
        """Store ``value`` in the keyring under a fresh reference and write only the reference at ``field``.
        The keyring goes first: if it is unavailable (KeyringUnavailable) the file is not touched. A previous
        secret of the field is deleted once the new reference is written."""
        kind = SECRET_FIELDS.get(field)
        if kind is None:
            raise UsageError(f"{field} is not a secret field (secret fields: {', '.join(SECRET_FIELDS)})")
        if not value:
            raise UsageError("an empty secret cannot be stored")
        doc = self.document()
        old = self.get(field)
        ref = secrets.new_ref(kind)
        _assign(doc, field, ref)
        self.validate(doc)  # a document that cannot be written stores nothing in the keyring either
        settings = self._secret_settings()
        secrets.set_secret(ref, value, settings=settings)
        try:
            self.save(doc)
        except BaseException:
            with contextlib.suppress(DriftmgrError):
                secrets.delete_secret(ref, settings=settings)
            raise
        if old and isinstance(old, str) and SECRET_REF.match(old):
            with contextlib.suppress(DriftmgrError):
                secrets.delete_secret(old, settings=settings)
        return ref

    def delete_secret(self, field: str) -> bool:
        """Remove the reference at ``field`` from the file, then the secret from the keyring."""
        if field not in SECRET_FIELDS:
            raise UsageError(f"{field} is not a secret field (secret fields: {', '.join(SECRET_FIELDS)})")
        ref = self.get(field)
        if not ref:
            return False
        settings = self._secret_settings()
        doc = self.document()
        _assign(doc, field, None)
        self.save(doc)
        with contextlib.suppress(secrets.SecretNotFound):
            return secrets.delete_secret(ref, settings=settings)
        return False

    def set_secrets_backend(self, backend: str) -> None:
        """``plaintext`` keeps secrets in a file in the data dir (only after the user confirmed it); ``os``
        the OS keyring. Secrets already stored are not moved."""
        self.set_many({"secrets.backend": None if backend == "os" else backend})

    def plaintext_warning(self) -> str | None:
        if self.secrets_backend() != "plaintext":
            return None
        return secrets.PLAINTEXT_WARNING.format(path=data_dir_path() / secrets.PLAINTEXT_FILE)

    def _secret_settings(self) -> Settings:
        """Settings for the keyring calls: the file's [secrets] backend with the data dir."""
        from dataclasses import replace

        base = Settings(data_dir=data_dir_path(), config_path=self.path, db_url="")
        return replace(base, secrets_backend=self.secrets_backend())

    # --- test connection ------------------------------------------------------------------------------------

    @property
    def queue(self) -> Any:
        if self._queue is None:
            from driftmgr_tui.core.db import open_database
            from driftmgr_tui.core.events import EventBus
            from driftmgr_tui.core.jobs import JobQueue

            engine = self._engine or open_database(self.settings())
            self._queue = JobQueue(engine, self._bus or EventBus(engine))
        return self._queue

    def handlers(self) -> dict[str, Any]:
        return {TEST_JOB: self.execute_test}

    def start_test(self, environment: str) -> Any:
        """Queue a connection test of ``environment``'s provider scope (the file as saved)."""
        from driftmgr_tui.discovery.model import Scope

        env = self.settings().environments.get(environment)
        if env is None:
            raise UsageError(f"no environment {environment!r} in {self.path}")
        if not env.provider:
            raise UsageError(f"environment {environment} names no provider",
                             hint=f"set provider ({providers_text()}) in [environments.{environment}]")
        scope = Scope(provider=env.provider, regions=env.regions, profile=env.profile, role_arn=env.role_arn,
                      subscriptions=env.subscriptions, projects=env.projects)
        return self.queue.enqueue(TEST_JOB, {"environment": environment, "scope": scope.to_json()},
                                  max_attempts=1)

    def execute_test(self, ctx: Any) -> dict[str, Any]:
        """The job: resolve the credentials and the scope with the provider's adapter, nothing more."""
        from driftmgr_tui.discovery.model import Scope
        from driftmgr_tui.services.discovery_service import default_adapter

        scope = Scope.from_json(ctx.payload["scope"])
        ctx.progress(10, f"{scope.provider}: connecting")
        adapter = (self.adapter_factory or default_adapter)(scope)
        try:
            ctx.check_cancelled()
            info = adapter.connect()
        finally:
            close = getattr(adapter, "close", None)
            if close is not None:
                close()
        ctx.progress(100, f"{scope.provider}: connected to {info.account}")
        return {"environment": ctx.payload.get("environment"), "provider": scope.provider,
                "account": info.account, "principal": info.principal, "regions": list(info.regions)}

    def run_test(self, environment: str) -> ConnectionResult:
        """Test ``environment``'s connection now, in the calling thread, as a job others can watch."""
        job = self.start_test(environment)
        return ConnectionResult.from_job(self.queue.run_inline(job.id, self.execute_test))

    def last_tests(self, limit: int = 50) -> dict[str, ConnectionResult]:
        """The latest finished connection test of each environment."""
        latest: dict[str, ConnectionResult] = {}
        for job in self.queue.list(kind=TEST_JOB, limit=limit):
            name = job.payload.get("environment", "")
            if job.finished and name not in latest:
                latest[name] = ConnectionResult.from_job(job)
        return latest

    # --- the raw file in an editor --------------------------------------------------------------------------

    @staticmethod
    def editor_command() -> list[str]:
        editor = os.environ.get("VISUAL", "").strip() or os.environ.get("EDITOR", "").strip() or "vi"
        try:
            return shlex.split(editor)
        except ValueError as exc:
            raise UsageError(f"cannot read the editor command {editor!r}: {exc}") from None

    def run_editor(self) -> int:
        """Run the editor on the file and wait for it; its exit status. The caller validates afterwards."""
        command = [*self.editor_command(), str(self.path)]
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            return subprocess.run(command, check=False).returncode
        except FileNotFoundError:
            raise UsageError(f"editor {command[0]!r} not found", hint="set $VISUAL or $EDITOR") from None
        except OSError as exc:
            raise UsageError(f"cannot run the editor {command[0]!r}: {exc.strerror or exc}") from None


# --- helpers ------------------------------------------------------------------------------------------------


def _split(field: str) -> list[str]:
    """``environments.prod.regions`` -> its path; a [keys] entry keeps its dots (``keys``, ``drift.rescan``);
    an environment name may hold dots too, so the last part is the key."""
    section, _, rest = field.partition(".")
    if section == "keys":
        return [section, rest]
    if section == "environments":
        name, _, key = rest.rpartition(".")
        return [section, name, key] if name else [section, rest]
    return [section, *rest.split(".")] if rest else [section]


def _assign(doc: tomlkit.TOMLDocument, field: str, value: Any) -> None:
    """Set (value None: remove) the dotted ``field`` in ``doc``, creating tables as needed."""
    *parents, last = _split(field)
    node: Any = doc
    for part in parents:
        child = node.get(part)
        if child is None:
            if value is None:
                return
            child = tomlkit.table(is_super_table=part == "environments")
            node[part] = child
        node = child
    if value is None:
        if last in node:
            del node[last]
        for depth in range(len(parents), 0, -1):  # drop tables the removal left empty
            holder: Any = doc
            for part in parents[:depth - 1]:
                holder = holder[part]
            if not holder[parents[depth - 1]]:
                del holder[parents[depth - 1]]
    elif node.get(last) != value:
        node[last] = value


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _assign_key(doc: tomlkit.TOMLDocument, action_id: str, keys: str | None) -> None:
    """Set (None: remove) a [keys] entry where it is written: ``"drift.rescan" = ...``, or nested as
    ``drift.rescan = ...`` / ``[keys.drift]``; a new one is written quoted."""
    table = doc.get("keys")
    section, _, action = action_id.partition(".")
    nested = table.get(section) if table is not None else None
    if isinstance(nested, Mapping) and action in nested:
        if keys:
            nested[action] = keys
        else:
            del nested[action]
            if not nested:
                del table[section]
    elif keys:
        if table is None:
            table = tomlkit.table()
            doc["keys"] = table
        table[action_id] = keys
    elif table is not None and action_id in table:
        del table[action_id]
    if table is not None and not table:
        del doc["keys"]


def _atomic_write(path: Path, data: bytes) -> None:
    """Temp file in the same directory (0600), fsync, rename over ``path``, fsync the directory."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
