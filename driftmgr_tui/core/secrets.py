"""Secrets a user types (a webhook URL with its token, a password) live in the OS keyring, and only there.

The database, the config file, logs and exports hold a reference (``webhook:<uuid>``, from :func:`new_ref`);
the value is read back with :func:`get_secret` when it is needed. Service name: ``driftmgr``; the keyring
username is the reference.

There is no plaintext fallback. When no usable keyring exists (no backend, a locked one, the null keyring
that drops what it is given), every call raises :class:`KeyringUnavailable` saying how to fix it. A plaintext
file keyring (``keyrings.alt.file.PlaintextKeyring``: base64, not encryption) is refused unless the user chose
it explicitly with ``PYTHON_KEYRING_BACKEND`` or keyring's own ``keyringrc.cfg``: installed, keyring would
otherwise pick it silently on a machine without a D-Bus session.

The one other explicit choice is driftmgr's own: ``[secrets] backend = "plaintext"`` in the config file keeps
secrets in :data:`PLAINTEXT_FILE` in the data dir (mode 0600, readable by anyone who can read that file). The
config editor offers it only behind a typed confirmation and ``driftmgr config show`` warns about it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftmgr_tui.core.errors import DriftmgrError, UsageError

if TYPE_CHECKING:
    from driftmgr_tui.core.settings import Settings

SERVICE = "driftmgr"

# Backends that keep secrets readable by anyone who can read the file: refused unless chosen explicitly.
PLAINTEXT_BACKENDS = frozenset({"keyrings.alt.file.PlaintextKeyring"})
# Backends that accept a secret and keep nothing: always refused (the secret would be lost silently).
DISCARDING_BACKENDS = frozenset({"keyring.backends.null.Keyring"})

_FIX = ("driftmgr keeps secrets only in the OS keyring: start and unlock one (Linux: a Secret Service such as "
        "gnome-keyring or KeePassXC in a D-Bus session, e.g. `dbus-run-session -- driftmgr ...`; macOS "
        "Keychain and Windows Credential Locker work as they are), or choose a backend explicitly with "
        "PYTHON_KEYRING_BACKEND (`keyring --list-backends` shows them)")
_KIND = re.compile(r"[a-z][a-z0-9_-]*\Z")
PLAINTEXT_FILE = "secrets-plaintext.json"
PLAINTEXT_WARNING = ("secrets are kept in a PLAINTEXT file ({path}): anyone who can read it, or any backup "
                     "or copy of it, has them. Set [secrets] backend = \"os\" to use the OS keyring again")


class KeyringUnavailable(DriftmgrError):
    """No usable OS keyring: missing, locked, or one that would store secrets in plaintext without asking."""

    exit_code = 2

    def __init__(self, reason: str, *, hint: str | None = _FIX) -> None:
        super().__init__(f"the OS keyring is unavailable: {reason}", hint=hint)


class SecretNotFound(UsageError):
    """The keyring holds nothing under ``ref`` (deleted by hand, or another machine's keyring)."""

    def __init__(self, ref: str) -> None:
        self.ref = ref
        super().__init__(f"secret {ref} is not in the OS keyring",
                         hint="it was deleted, or was stored in another user's or machine's keyring; "
                              "set it again (for an alert rule: remove and re-add the rule)")


def new_ref(kind: str) -> str:
    """A fresh reference for a secret of ``kind``: ``webhook:6f1c...``."""
    if not _KIND.match(kind):
        raise ValueError(f"secret kind {kind!r}: lower-case letters, digits, '_' and '-'")
    return f"{kind}:{uuid.uuid4()}"


def backend_name(backend: Any) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _explicitly_chosen(name: str) -> bool:
    """Whether the user named this backend: PYTHON_KEYRING_BACKEND, or keyring's keyringrc.cfg."""
    if os.environ.get("PYTHON_KEYRING_BACKEND", "").strip() == name:
        return True
    try:
        import configparser

        from keyring.core import _config_path

        config = configparser.RawConfigParser()
        config.read(_config_path(), encoding="utf-8")
        return config.get("backend", "default-keyring", fallback="").strip() == name
    except Exception:  # an unreadable keyring config chooses nothing
        return False


def _backends(backend: Any) -> list[Any]:
    from keyring.backends.chainer import ChainerBackend

    return list(backend.backends) if isinstance(backend, ChainerBackend) else [backend]


class PlaintextFileKeyring:
    """Secrets in a JSON file (mode 0600), not encrypted: only with ``[secrets] backend = "plaintext"``.

    The same three calls as a keyring backend; every write replaces the file atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise KeyringUnavailable(f"the plaintext secrets file {self.path} cannot be read ({exc})",
                                     hint="fix or remove the file, then store the secrets again") from None
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def get_password(self, service: str, username: str) -> str | None:
        return self._read().get(service, {}).get(username)

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._read()
        data.setdefault(service, {})[username] = password
        self._write(data)

    def delete_password(self, service: str, username: str) -> None:
        from keyring.errors import PasswordDeleteError

        data = self._read()
        if data.get(service, {}).pop(username, None) is None:
            raise PasswordDeleteError(f"{username} is not in {self.path}")
        self._write(data)


def plaintext_path(settings: Settings) -> Path:
    return settings.data_dir / PLAINTEXT_FILE


def keyring_backend(settings: Settings | None = None) -> Any:
    """The keyring backend driftmgr may use, or KeyringUnavailable saying why not and how to fix it.

    ``settings`` (default: the configured ones) says whether the user chose the plaintext file."""
    if settings is None:
        from driftmgr_tui.core.settings import load_settings

        settings = load_settings()
    if settings.secrets_backend == "plaintext":
        return PlaintextFileKeyring(plaintext_path(settings))
    try:
        import keyring
        from keyring.backends.fail import Keyring as FailKeyring

        backend = keyring.get_keyring()
    except Exception as exc:  # a broken PYTHON_KEYRING_BACKEND or keyringrc.cfg fails here
        raise KeyringUnavailable(f"the keyring backend cannot be loaded ({type(exc).__name__}: {exc})") from None
    members = _backends(backend)
    if not members or all(isinstance(b, FailKeyring) for b in members):
        raise KeyringUnavailable("no keyring backend is available on this machine")
    for member in members:
        name = backend_name(member)
        if name in DISCARDING_BACKENDS:
            raise KeyringUnavailable(f"the configured backend {name} keeps nothing it is given")
        if name in PLAINTEXT_BACKENDS and not _explicitly_chosen(name):
            raise KeyringUnavailable(
                f"the only backend found, {name}, stores secrets in a plaintext file",
                hint=_FIX + f"; to accept plaintext storage knowingly, set PYTHON_KEYRING_BACKEND={name}")
    return backend


def _keyring_error(action: str, exc: BaseException) -> DriftmgrError:
    from keyring.errors import InitError, KeyringLocked, NoKeyringError

    if isinstance(exc, DriftmgrError):  # already worded (the plaintext file)
        return exc
    if isinstance(exc, KeyringLocked):
        return KeyringUnavailable(f"the keyring is locked ({action})",
                                  hint="unlock the keyring (log in to the desktop session, or unlock it with "
                                       "your keyring's tool), then try again")
    if isinstance(exc, NoKeyringError | InitError):
        return KeyringUnavailable(f"{action}: {exc}")
    return KeyringUnavailable(f"{action}: {type(exc).__name__}: {exc}")


def set_secret(ref: str, value: str, *, settings: Settings | None = None) -> None:
    """Store ``value`` under ``ref`` (replacing what was there)."""
    if not value:
        raise UsageError("an empty secret cannot be stored")
    backend = keyring_backend(settings)
    try:
        backend.set_password(SERVICE, ref, value)
    except Exception as exc:
        raise _keyring_error(f"storing {ref}", exc) from None


def get_secret(ref: str, *, settings: Settings | None = None) -> str:
    """The value stored under ``ref``; SecretNotFound when there is none."""
    backend = keyring_backend(settings)
    try:
        value = backend.get_password(SERVICE, ref)
    except Exception as exc:
        raise _keyring_error(f"reading {ref}", exc) from None
    if value is None:
        raise SecretNotFound(ref)
    return value


def delete_secret(ref: str, *, settings: Settings | None = None) -> bool:
    """Remove ``ref`` from the keyring; False when it was not there (deleting twice is harmless)."""
    backend = keyring_backend(settings)
    try:
        if backend.get_password(SERVICE, ref) is None:
            return False
        backend.delete_password(SERVICE, ref)
    except Exception as exc:
        from keyring.errors import PasswordDeleteError

        if isinstance(exc, PasswordDeleteError):  # gone between the read and the delete
            return False
        raise _keyring_error(f"deleting {ref}", exc) from None
    return True
