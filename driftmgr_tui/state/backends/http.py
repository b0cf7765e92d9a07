"""Terraform's ``http`` backend, as ``internal/backend/remote-state/http`` in Terraform 1.11 speaks it.

- ``GET address``: 200 is the state (checked against ``Content-MD5`` when the server sends one),
  204 / 404 / an empty body mean no state.
- Write: ``update_method`` (POST) to ``address``, with ``?ID=<lock id>`` while a lock is held, the
  ``Content-MD5`` of the body and ``Content-Type: application/json``; 200 / 201 / 204 mean written.
- Lock: ``lock_method`` (LOCK) to ``lock_address`` with the lock-info JSON; 200 means held, 423 Locked or
  409 Conflict carry the holder's lock info. Unlock: ``unlock_method`` (UNLOCK) to ``unlock_address`` with
  the lock info (its ``ID`` the lock being released); 200 means released. No ``lock_address``: locking is
  disabled, as in Terraform.
- Every request is retried like go-retryablehttp: connection errors, 429 and 5xx (not 501), ``retry_max``
  times (2), waiting ``retry_wait_min`` * 2^attempt seconds capped at ``retry_wait_max`` (1 and 30), or the
  ``Retry-After`` the server sent with a 429 / 503 (capped the same way).
- Attributes come from the backend block, else the ``TF_HTTP_*`` environment variables Terraform reads.
  The backend has one state: workspaces other than ``default`` are refused, as Terraform does.

Beyond Terraform: before a write the state is read again and compared (MD5) with the one this client read,
so a concurrent change is refused (StateConflictError) instead of lost; the protocol itself has no
conditional write, the lock is what makes it safe. A server that refuses the write (409 / 412 / 423) is
reported as a conflict or a lock held by someone else, naming the holder when the body says who.

Requests go through ``httpclient`` (urllib3, imported when the first request is made).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from driftmgr_tui.core.errors import (
    BackendError,
    ConfigError,
    LockInfo,
    ProviderAuthError,
    StateConflictError,
    StateLockedError,
)
from driftmgr_tui.state.backends.base import StateBackend, StateObject, new_lock_info, retry_while_locked
from driftmgr_tui.state.backends.httpclient import (
    HttpResponse,
    RetryingHttp,
    RetryPolicy,
    redact,
    retryable_status,
    transient_error,
)

log = logging.getLogger(__name__)

DEFAULT_WORKSPACE = "default"
_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")  # an HTTP token (RFC 9110)

# backend attribute -> environment variable Terraform falls back to
ENV_VARS: dict[str, str] = {
    "address": "TF_HTTP_ADDRESS",
    "update_method": "TF_HTTP_UPDATE_METHOD",
    "lock_address": "TF_HTTP_LOCK_ADDRESS",
    "unlock_address": "TF_HTTP_UNLOCK_ADDRESS",
    "lock_method": "TF_HTTP_LOCK_METHOD",
    "unlock_method": "TF_HTTP_UNLOCK_METHOD",
    "username": "TF_HTTP_USERNAME",
    "password": "TF_HTTP_PASSWORD",
    "retry_max": "TF_HTTP_RETRY_MAX",
    "retry_wait_min": "TF_HTTP_RETRY_WAIT_MIN",
    "retry_wait_max": "TF_HTTP_RETRY_WAIT_MAX",
    "client_ca_certificate_pem": "TF_HTTP_CLIENT_CA_CERTIFICATE_PEM",
    "client_certificate_pem": "TF_HTTP_CLIENT_CERTIFICATE_PEM",
    "client_private_key_pem": "TF_HTTP_CLIENT_PRIVATE_KEY_PEM",
}
ATTRIBUTES = frozenset({*ENV_VARS, "skip_cert_verification"})


# -- configuration -----------------------------------------------------------------------------------


def _str_attr(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    raise ConfigError(f"http backend: attribute '{name}' must be a string, got {value!r}")


def _number_attr(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"http backend: attribute '{name}' must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"http backend: attribute '{name}' must be a number, got {value!r}") from None
    if number < 0 or number != number or number == float("inf"):
        raise ConfigError(f"http backend: attribute '{name}' must be a number of 0 or more, got {value!r}")
    return number


def _bool_attr(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ConfigError(f"http backend: attribute '{name}' must be true or false, got {value!r}")


def _check_url(name: str, value: str) -> None:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ConfigError(f"http backend: failed to parse {name} URL {redact(value)!r}: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ConfigError(f"http backend: {name} must be HTTP or HTTPS, got {redact(value)!r}")
    if not parts.hostname:
        raise ConfigError(f"http backend: {name} {redact(value)!r} has no host")


@dataclass
class HttpBackendConfig:
    """A ``backend "http"`` block (attribute names as Terraform's)."""

    address: str
    update_method: str = "POST"
    lock_address: str | None = None
    unlock_address: str | None = None
    lock_method: str = "LOCK"
    unlock_method: str = "UNLOCK"
    username: str = ""
    password: str = field(default="", repr=False)
    skip_cert_verification: bool = False
    retry_max: int = 2
    retry_wait_min: float = 1.0
    retry_wait_max: float = 30.0
    client_ca_certificate_pem: str = field(default="", repr=False)
    client_certificate_pem: str = field(default="", repr=False)
    client_private_key_pem: str = field(default="", repr=False)
    connect_timeout: float = 10.0
    read_timeout: float = 60.0

    def __post_init__(self) -> None:
        if not self.address:
            raise ConfigError(
                "http backend: address argument is required",
                hint="set `address` in the backend block or TF_HTTP_ADDRESS",
            )
        _check_url("address", self.address)
        for name in ("lock_address", "unlock_address"):
            value = getattr(self, name)
            if value is not None:
                _check_url(name, value)
        for name in ("update_method", "lock_method", "unlock_method"):
            if not _METHOD.match(getattr(self, name) or ""):
                raise ConfigError(
                    f"http backend: attribute '{name}' must be an HTTP method, got {getattr(self, name)!r}"
                )
        if self.retry_max < 0 or self.retry_wait_min < 0 or self.retry_wait_max < 0:
            raise ConfigError("http backend: retry_max, retry_wait_min and retry_wait_max must be 0 or more")
        if self.client_certificate_pem and not self.client_private_key_pem:
            raise ConfigError("http backend: client_certificate_pem is set but client_private_key_pem is not")
        if self.client_private_key_pem and not self.client_certificate_pem:
            raise ConfigError("http backend: client_private_key_pem is set but client_certificate_pem is not")

    @classmethod
    def from_terraform_config(
        cls, cfg: Mapping[str, Any], env: Mapping[str, str] | None = None
    ) -> HttpBackendConfig:
        """From a ``backend "http"`` block or the backend cache: an attribute that is null or absent
        falls back to its ``TF_HTTP_*`` environment variable (when set and not empty), then the default."""
        env = os.environ if env is None else env
        c = {k: v for k, v in cfg.items() if v is not None}
        unknown = sorted(set(c) - ATTRIBUTES)
        if unknown:
            raise ConfigError(
                f"http backend: unsupported attribute(s) {', '.join(repr(u) for u in unknown)} "
                f"(known: {', '.join(sorted(ATTRIBUTES))})"
            )

        def get(name: str) -> Any:
            if name in c:
                return c[name]
            var = ENV_VARS.get(name)
            return (env.get(var) or None) if var else None

        kwargs: dict[str, Any] = {"address": _str_attr("address", get("address") or "")}
        for name in (
            "update_method", "lock_address", "unlock_address", "lock_method", "unlock_method",
            "username", "password", "client_ca_certificate_pem", "client_certificate_pem",
            "client_private_key_pem",
        ):
            value = get(name)
            if value is not None:
                kwargs[name] = _str_attr(name, value)
        if (retry_max := get("retry_max")) is not None:
            number = _number_attr("retry_max", retry_max)
            if number != int(number):
                raise ConfigError(f"http backend: attribute 'retry_max' must be a whole number, got {retry_max!r}")
            kwargs["retry_max"] = int(number)
        for name in ("retry_wait_min", "retry_wait_max"):
            if (value := get(name)) is not None:
                kwargs[name] = _number_attr(name, value)
        if "skip_cert_verification" in c:
            kwargs["skip_cert_verification"] = _bool_attr("skip_cert_verification", c["skip_cert_verification"])
        return cls(**kwargs)


def _ssl_context(cfg: HttpBackendConfig) -> Any:
    """The TLS setup Terraform's configureTLS builds, or None when the defaults apply."""
    if not (
        cfg.skip_cert_verification
        or cfg.client_ca_certificate_pem
        or cfg.client_certificate_pem
    ):
        return None
    import ssl

    from urllib3.util.ssl_ import create_urllib3_context

    ctx = create_urllib3_context()
    if cfg.skip_cert_verification:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif cfg.client_ca_certificate_pem:
        # as in Terraform, the given CAs replace the system's
        try:
            ctx.load_verify_locations(cadata=cfg.client_ca_certificate_pem)
        except (ssl.SSLError, ValueError) as exc:
            raise ConfigError(
                f"http backend: client_ca_certificate_pem holds no usable PEM certificate ({exc})"
            ) from None
    else:
        ctx.load_default_certs()
    if cfg.client_certificate_pem:
        # load_cert_chain reads files: write the PEMs to a private directory for the call only
        with tempfile.TemporaryDirectory(prefix="driftmgr-tls-") as tmp:
            cert, key = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
            for path, text in ((cert, cfg.client_certificate_pem), (key, cfg.client_private_key_pem)):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(text)
            try:
                ctx.load_cert_chain(str(cert), str(key))
            except (ssl.SSLError, ValueError) as exc:
                raise ConfigError(f"http backend: cannot load client certificate: {exc}") from None
    return ctx


# -- the backend ------------------------------------------------------------------------------------

_UNKNOWN = object()
_ABSENT = object()


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class HttpBackend(StateBackend):
    """The one state of a Terraform ``http`` backend."""

    kind = "http"

    def __init__(self, config: HttpBackendConfig) -> None:
        self.config = config
        #: seconds to keep retrying a held lock (StateService sets it from ``--lock-timeout``)
        self.lock_timeout = 0.0
        #: first pause between lock attempts; doubles up to 16 s, as Terraform's -lock-timeout polling
        self.lock_retry_interval = 1.0
        self._client: RetryingHttp | None = None
        self._client_lock = threading.Lock()
        self._held: dict[str, LockInfo] = {}
        self._refusal: LockInfo | None = None  # the holder named in the last refused lock request
        self._observed: object = _UNKNOWN

    def __repr__(self) -> str:
        return f"HttpBackend({self.location!r})"

    @property
    def location(self) -> str:
        return redact(self.config.address)

    def for_workspace(self, workspace: str) -> HttpBackend:
        if workspace and workspace != DEFAULT_WORKSPACE:
            raise ConfigError(
                f"http backend {self.location}: workspaces not supported (asked for '{workspace}')",
                hint="the http backend holds one state; use a separate address per state",
            )
        return self

    def workspaces(self) -> list[str]:
        return [DEFAULT_WORKSPACE]

    # -- requests ------------------------------------------------------------------------------

    @property
    def _http(self) -> RetryingHttp:
        with self._client_lock:
            if self._client is None:
                cfg = self.config
                if cfg.skip_cert_verification:
                    log.warning("http backend %s: TLS certificate verification is off", self.location)
                self._client = RetryingHttp(
                    RetryPolicy(cfg.retry_max, cfg.retry_wait_min, cfg.retry_wait_max),
                    ssl_context=_ssl_context(cfg),
                    verify=not cfg.skip_cert_verification,
                    connect_timeout=cfg.connect_timeout,
                    read_timeout=cfg.read_timeout,
                )
            return self._client

    def _send(self, method: str, url: str, what: str, data: bytes | None = None) -> HttpResponse:
        headers: dict[str, str] = {}
        username, password = self.config.username, self.config.password
        parts = urlsplit(url)
        if not username and parts.username is not None:
            # credentials in the URL's userinfo are how Go's client would send them too
            username, password = unquote(parts.username), unquote(parts.password or "")
        if "@" in parts.netloc:
            url = redact(url)
        if username:
            token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {token}"
        if data is not None:
            headers["Content-Type"] = "application/json"
            headers["Content-MD5"] = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        resp = self._http.request(method, url, what=f"{what} {self.location}", body=data, headers=headers)
        if resp.status == 401:
            raise ProviderAuthError(
                f"http backend: {redact(url)} requires authentication (401 Unauthorized while {what})",
                hint="set username and password in the backend block, or TF_HTTP_USERNAME / TF_HTTP_PASSWORD",
            )
        if resp.status == 403:
            raise ProviderAuthError(
                f"http backend: {redact(url)} refused the credentials (403 Forbidden while {what})",
                hint="check username/password (TF_HTTP_USERNAME / TF_HTTP_PASSWORD) and that the account "
                "may read and write this state",
            )
        if retryable_status(resp.status):
            raise transient_error(resp, f"{what} {self.location}", url)
        return resp

    def _unexpected(self, resp: HttpResponse, what: str, url: str) -> BackendError:
        return BackendError(
            f"{what} {self.location} failed: unexpected HTTP response code {resp.status} from {redact(url)}"
            + (f" ({resp.text()})" if resp.data else "")
        )

    # -- read ----------------------------------------------------------------------------------

    def _get(self) -> bytes | None:
        url = self.config.address
        resp = self._send("GET", url, "reading state")
        if resp.status in (204, 404):
            return None
        if resp.status != 200:
            raise self._unexpected(resp, "reading state", url)
        if not resp.data:
            return None
        raw = resp.headers.get("Content-MD5")
        if raw:
            try:
                expected = base64.b64decode(raw.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise BackendError(
                    f"state at {self.location}: failed to decode Content-MD5 {raw!r} sent by the server"
                ) from None
            actual = hashlib.md5(resp.data, usedforsecurity=False).digest()
            if expected != actual:
                raise BackendError(
                    f"state at {self.location} does not match its Content-MD5 header "
                    f"(header {expected.hex()}, body {actual.hex()}); the download may be corrupt",
                    hint="read it again; if it persists, the server stored or served a damaged state",
                )
        return resp.data

    def read(self) -> StateObject | None:
        data = self._get()
        if data is None:
            self._observed = _ABSENT
            return None
        version = _md5(data)
        self._observed = version
        return StateObject(data, version)

    # -- write ---------------------------------------------------------------------------------

    def _check_unchanged(self, expected_version: str | None) -> None:
        """The state still is what this client read (the protocol has no conditional write)."""
        expected: object = expected_version if expected_version is not None else self._observed
        if expected is _UNKNOWN:
            return
        current = self._get()
        if expected is _ABSENT:
            if current is not None:
                raise StateConflictError(
                    f"state {self.location} not written: it was created by someone else after it was found "
                    "absent; the state was left as it is",
                    hint="read the state again and redo the change",
                )
            return
        if current is None or _md5(current) != expected:
            why = "deleted" if current is None else "changed by someone else"
            raise StateConflictError(
                f"state {self.location} not written: it was {why} after it was read "
                f"(expected MD5 {expected}); the state was left as it is",
                hint="read the state again and redo the change",
            )

    def write(
        self, data: bytes, *, lock: LockInfo | None, expected_version: str | None = None
    ) -> StateObject:
        """Send the state with ``update_method``, ``?ID=`` naming the lock held (when locking is on)."""
        cfg = self.config
        self._check_unchanged(expected_version)
        url = cfg.address
        lock_id = lock.id if lock is not None and cfg.lock_address else ""
        if lock_id:
            parts = urlsplit(url)
            query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "ID"]
            query.append(("ID", lock_id))
            url = urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))
        resp = self._send(cfg.update_method, url, "writing state", data)
        if resp.status in (200, 201, 204):
            version = _md5(data)
            self._observed = version
            return StateObject(data, version)
        self._observed = _UNKNOWN
        holder = self._lock_of(resp.data)
        said = f" ({resp.text()})" if resp.data and holder is None else ""
        refused = f"not written: the server refused it with HTTP {resp.status}{said}; the state was left as it is"
        if resp.status == 423 or (resp.status == 409 and holder is not None):
            raise StateLockedError(self.location, holder, detail=refused)
        if resp.status in (409, 412):
            raise StateConflictError(
                f"state {self.location} {refused}", hint="read the state again and redo the change"
            )
        raise self._unexpected(resp, "writing state", url)

    # -- locking -------------------------------------------------------------------------------

    @staticmethod
    def _lock_json(info: LockInfo) -> bytes:
        # Go's json.Marshal of statemgr.LockInfo: same key order, compact
        return json.dumps(info.to_terraform(), separators=(",", ":")).encode()

    def _lock_of(self, body: bytes) -> LockInfo | None:
        """The holder's lock info in a 409 / 423 body, or None when the body is not one."""
        try:
            data = json.loads(body)
        except ValueError:
            return None
        if not isinstance(data, dict) or not data.get("ID"):
            return None
        return LockInfo.from_terraform(data)

    def _try_lock(self, info: LockInfo) -> LockInfo | None:
        """Take the lock; None when it is held by someone else (their info in ``self._refusal``)."""
        cfg = self.config
        assert cfg.lock_address is not None
        resp = self._send(cfg.lock_method, cfg.lock_address, "locking", self._lock_json(info))
        if resp.status == 200:
            return info
        if resp.status in (409, 423):
            holder = self._lock_of(resp.data)
            if holder is not None and holder.id == info.id:
                return info  # a retried request whose first attempt took the lock
            self._refusal = holder
            return None
        raise self._unexpected(resp, "locking", cfg.lock_address)

    def lock(self, info: LockInfo) -> LockInfo:
        """Take the lock at ``lock_address``, retrying for ``lock_timeout`` seconds while it is held."""
        cfg = self.config
        info = dataclasses.replace(info, id=info.id or str(uuid.uuid4()), path=info.path or self.location)
        if not cfg.lock_address:
            log.info("http backend %s has no lock_address: not locking", self.location)
            return info
        if not cfg.unlock_address:
            raise ConfigError(
                f"http backend {self.location}: lock_address is set but unlock_address is not, so a lock "
                "taken could never be released",
                hint="set unlock_address (often the same URL as lock_address)",
            )

        def attempt() -> LockInfo:
            self._refusal = None
            held = self._try_lock(info)
            if held is None:
                raise StateLockedError(
                    self.location,
                    self._refusal,
                    detail=None if self._refusal else "the server did not say who holds it",
                )
            self._held[held.id] = held
            return held

        return retry_while_locked(attempt, self.lock_timeout, first_delay=self.lock_retry_interval)

    def unlock(self, lock_id: str, *, force: bool = False) -> None:
        """Send ``unlock_method`` to ``unlock_address`` with the lock info whose ID is ``lock_id``.

        The server decides whether the ID matches (the protocol has no force); ``force`` changes nothing.
        """
        cfg = self.config
        if not cfg.lock_address or not cfg.unlock_address:
            return
        held = self._held.get(lock_id) or LockInfo(id=lock_id, path=self.location)
        resp = self._send(cfg.unlock_method, cfg.unlock_address, "unlocking", self._lock_json(held))
        if resp.status == 200:
            self._held.pop(lock_id, None)
            return
        holder = self._lock_of(resp.data)
        if resp.status in (409, 423) and holder is not None:
            raise BackendError(
                f"lock ID {lock_id!r} does not match the lock on {self.location} ({holder.describe()}); "
                "it was left in place",
                hint="only the holder's ID releases a lock; force-unlock only if that operation is dead",
            )
        raise self._unexpected(resp, "unlocking", cfg.unlock_address)

    def current_lock(self) -> LockInfo | None:
        """Who holds the lock. The protocol cannot report it without trying: this takes the lock and at once
        releases it (None), or returns the holder the server names in its refusal."""
        cfg = self.config
        if not cfg.lock_address or not cfg.unlock_address:
            return None
        probe = new_lock_info("driftmgr lock check", self.location, "checking who holds the lock")
        held = self._try_lock(probe)
        if held is None:
            return self._refusal or LockInfo(id="", info="locked; the server did not say by whom")
        self.unlock(probe.id)
        return None


# -- how backends/config.py builds this backend -----------------------------------------------------

_SPEC_PARAMS = frozenset({
    "lock_address", "unlock_address", "update_method", "lock_method", "unlock_method", "username",
    "password_secret", "skip_cert_verification", "retry_max", "retry_wait_min", "retry_wait_max", "query",
})


# the environment variables a spec takes: credentials only (an address comes from the spec alone)
_SPEC_ENV = ("TF_HTTP_USERNAME", "TF_HTTP_PASSWORD", "TF_HTTP_CLIENT_CA_CERTIFICATE_PEM",
             "TF_HTTP_CLIENT_CERTIFICATE_PEM", "TF_HTTP_CLIENT_PRIVATE_KEY_PEM")


def build_from_terraform(config: Mapping[str, Any], *, workspace: str, **_: Any) -> HttpBackend:
    """A ``backend "http"`` block (or the backend cache's config); TF_HTTP_* fill what it leaves unset."""
    return HttpBackend(HttpBackendConfig.from_terraform_config(config)).for_workspace(workspace)


def build_from_spec(spec: str, parts: SplitResult, params: dict[str, str]) -> HttpBackend:
    """``http+https://HOST/PATH?lock_address=URL&unlock_address=URL&..`` (``http+http://`` for plain HTTP).

    The query holds driftmgr's parameters only; an address that has a query of its own gives it in
    ``query=`` (percent-encoded). Credentials the spec leaves unset come from TF_HTTP_USERNAME,
    TF_HTTP_PASSWORD and TF_HTTP_CLIENT_*_PEM; a password is never part of a spec (TF_HTTP_PASSWORD, or
    ``password_secret=``, a keyring reference).
    """
    from driftmgr_tui.state.backends.config import check_spec_params, spec_bool

    check_spec_params(spec, params, _SPEC_PARAMS)
    scheme = parts.scheme.lower().partition("+")[2]
    if scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"state spec {spec!r}: expected http+https://HOST/PATH or http+http://HOST/PATH")
    if parts.password is not None:
        raise ConfigError(
            f"state spec {redact(spec)!r}: a password does not belong in a spec",
            hint="use TF_HTTP_PASSWORD or password_secret=<keyring reference>",
        )
    netloc = parts.netloc.rpartition("@")[2]
    address = urlunsplit((scheme, netloc, parts.path or "/", params.get("query", ""), ""))
    cfg: dict[str, Any] = {"address": address}
    for name in ("lock_address", "unlock_address", "update_method", "lock_method", "unlock_method"):
        if params.get(name):
            cfg[name] = params[name]
    username = params.get("username") or (unquote(parts.username) if parts.username else "")
    if username:
        cfg["username"] = username
    if params.get("password_secret"):
        from driftmgr_tui.core.secrets import get_secret

        cfg["password"] = get_secret(params["password_secret"])
    for name in ("retry_max", "retry_wait_min", "retry_wait_max"):
        if params.get(name):
            cfg[name] = params[name]
    if "skip_cert_verification" in params:
        cfg["skip_cert_verification"] = spec_bool(
            "skip_cert_verification", params["skip_cert_verification"]
        )
    env = {var: os.environ[var] for var in _SPEC_ENV if var in os.environ}
    try:
        return HttpBackend(HttpBackendConfig.from_terraform_config(cfg, env))
    except ConfigError as exc:
        raise ConfigError(f"state spec {redact(spec)!r}: {exc.message}", hint=exc.hint) from None
