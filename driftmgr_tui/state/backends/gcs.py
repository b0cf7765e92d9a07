"""Terraform's ``gcs`` backend, interoperable with Terraform 1.11 on the same bucket.

Layout and locking follow ``internal/backend/remote-state/gcs`` in Terraform 1.11:

- Workspace ``ws`` lives in object ``{prefix}/{ws}.tfstate`` (no prefix: ``{ws}.tfstate`` at the bucket
  root); a leading ``/`` of the prefix is dropped and a trailing one added, as Terraform does.
- The lock is object ``{prefix}/{ws}.tflock``, created with ``ifGenerationMatch=0`` and holding the
  lock-info JSON (``Path`` is the lock object's ``gs://`` URL). As in Terraform, the lock ID is that
  object's *generation* in decimal: what ``terraform force-unlock`` and ``driftmgr state unlock`` take.
  The ``ID`` inside the JSON is the writer's own random ID, which Terraform overwrites when it reads a lock.
  Releasing deletes the object with ``ifGenerationMatch=<ID>``, so a lock taken in between survives.
- ``encryption_key`` (CSEK) applies to the state object only, ``kms_encryption_key`` to state writes.

Beyond Terraform (which overwrites unconditionally), writes are conditional on the generation read
(``ifGenerationMatch``; ``0`` when the state was found absent), so a concurrent writer is detected
(StateConflictError) instead of silently lost, and a write checks first that its lock is still in place.

The Google libraries are imported lazily, inside the functions that talk to Google. Credentials:
``access_token``, else ``credentials`` (a key file path or its JSON), else Google's application-default
credentials; ``impersonate_service_account`` goes through the IAM Credentials API on top. Calls are
retried by google-cloud-storage's own policy (429, 5xx, dropped connections) on idempotent or
precondition-guarded requests.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from driftmgr_tui.core.errors import (
    BackendError,
    DriftmgrError,
    LockInfo,
    ProviderAuthError,
    StateConflictError,
    StateLockedError,
)
from driftmgr_tui.state.backends.base import StateBackend, StateObject, retry_while_locked
from driftmgr_tui.state.backends.gcs_config import ADC_HINT, DEFAULT_WORKSPACE, GcsBackendConfig

log = logging.getLogger(__name__)

_CSEK_REASONS = frozenset(
    {
        "resourceIsEncryptedWithCustomerEncryptionKey",
        "resourceNotEncryptedWithCustomerEncryptionKey",
        "customerEncryptionKeyIsIncorrect",
        "customerEncryptionKeySha256IsInvalid",
    }
)


class _Raw(Exception):
    """Internal: a Google API error with a status the caller handles itself (see ``GcsBackend._call``)."""

    def __init__(self, code: int, exc: Exception) -> None:
        super().__init__(code)
        self.code = code
        self.exc = exc


class _HeldLock(NamedTuple):
    info: LockInfo  # with ``id`` = the lock object's generation
    generation: int
    writer_id: str  # the "ID" written in the JSON by whoever took the lock
    unreadable: bool = False


def _error_parts(exc: Any) -> tuple[str, str]:
    """(message, reason) of a Google API error, from GCS's JSON error body when there is one."""
    response = getattr(exc, "response", None)
    try:
        error = response.json()["error"] if response is not None else None
    except Exception:
        error = None
    if isinstance(error, dict):
        first = (error.get("errors") or [{}])[0]
        return str(error.get("message") or ""), str(first.get("reason") or "") if isinstance(
            first, dict
        ) else ""
    reason = ""
    for item in getattr(exc, "errors", None) or []:
        if isinstance(item, dict) and item.get("reason"):
            reason = str(item["reason"])
            break
    message = str(getattr(exc, "message", "") or exc)
    # google-cloud-storage prefixes "METHOD URL: "; keep what GCS said
    return (
        message.split(": ", 1)[1] if message.startswith(("GET ", "POST ", "DELETE ")) else message
    ), reason


def _auth_detail(exc: Exception) -> str:
    """google-auth's message, with the server's own words when it sent a JSON error body."""
    args = [a for a in exc.args if a]
    text = "; ".join(str(a) for a in args[:1])
    for extra in args[1:]:
        try:
            body = json.loads(extra) if isinstance(extra, str | bytes) else extra
        except ValueError:
            continue
        if isinstance(body, dict):
            error = body.get("error")
            said = error.get("message") if isinstance(error, dict) else body.get("error_description") or error
            if said:
                text = f"{text}: {said}"
    return text or type(exc).__name__


def _http_status(exc: Exception) -> int | None:
    """The HTTP status of a Google API error (api-core's, or resumable-media's InvalidResponse), else None."""
    from google.api_core.exceptions import GoogleAPICallError

    if isinstance(exc, GoogleAPICallError):
        return int(exc.code or 0)
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return status if isinstance(status, int) else None


def _missing_bucket(exc: Exception) -> bool:
    return "bucket does not exist" in _error_parts(exc)[0].lower()


class GcsBackend(StateBackend):
    """One workspace of a Terraform GCS backend. Thread-safe; the client is created on first use."""

    kind = "gcs"

    def __init__(self, config: GcsBackendConfig, *, lock_timeout: float = 0.0) -> None:
        self.config = config
        #: seconds ``lock()`` keeps retrying a held lock (Terraform's ``-lock-timeout``)
        self.lock_timeout = lock_timeout
        self._client_lock = threading.Lock()
        self._storage: Any = None
        # what this instance last saw at the state object: None (unknown), 0 (absent) or a generation
        self._observed: int | None = None

    def __repr__(self) -> str:
        return f"GcsBackend({self.location!r})"

    def for_workspace(self, workspace: str) -> GcsBackend:
        """The same backend (and client), another workspace."""
        other = GcsBackend(
            dataclasses.replace(self.config, workspace=workspace), lock_timeout=self.lock_timeout
        )
        other._storage = self._storage
        return other

    @property
    def location(self) -> str:
        return f"gs://{self.config.bucket}/{self.config.state_name}"

    @property
    def lock_url(self) -> str:
        return f"gs://{self.config.bucket}/{self.config.lock_name}"

    # -- client --------------------------------------------------------------------------------

    def _credentials(self) -> Any:
        from driftmgr_tui.state.backends.gcs_config import load_credentials

        return load_credentials(self.config, self.location)

    def _client(self) -> Any:
        if self._storage is not None:
            return self._storage
        with self._client_lock:
            if self._storage is None:
                from google.cloud import storage

                endpoint = self.config.api_endpoint
                try:
                    self._storage = storage.Client(
                        project=None,
                        credentials=self._credentials(),
                        client_options={"api_endpoint": endpoint} if endpoint else None,
                    )
                except DriftmgrError:
                    raise
                except Exception as exc:
                    raise self._translate(exc, "connecting to") from exc
        return self._storage

    @functools.cached_property
    def _csek(self) -> bytes | None:
        from driftmgr_tui.state.backends.gcs_config import decode_encryption_key

        return decode_encryption_key(self.config.encryption_key) if self.config.encryption_key else None

    def _blob(self, name: str, *, state: bool = False) -> Any:
        """A handle on one object; the state object carries the encryption settings (the lock never does)."""
        cfg = self.config
        bucket = self._client().bucket(cfg.bucket)
        if not state:
            return bucket.blob(name)
        return bucket.blob(name, encryption_key=self._csek, kms_key_name=cfg.kms_encryption_key or None)

    def _retry(self) -> Any:
        from google.cloud.storage.retry import DEFAULT_RETRY

        cfg = self.config
        return DEFAULT_RETRY.with_timeout(cfg.retry_timeout).with_delay(
            initial=cfg.retry_initial_delay, maximum=cfg.retry_max_delay
        )

    # -- error handling ------------------------------------------------------------------------

    def _call(
        self, fn: Callable[..., Any], what: str, *, handle: frozenset[int] = frozenset(), **kwargs: Any
    ) -> Any:
        """``fn(**kwargs)``; a Google API error whose status is in ``handle`` raises _Raw, any other
        failure a DriftmgrError."""
        from google.api_core.exceptions import GoogleAPICallError

        try:
            return fn(**kwargs)
        except GoogleAPICallError as exc:
            if exc.code in handle and not (exc.code == 404 and _missing_bucket(exc)):
                raise _Raw(int(exc.code), exc) from exc
            raise self._translate(exc, what) from exc
        except DriftmgrError:
            raise
        except Exception as exc:
            raise self._translate(exc, what) from exc

    def _translate(self, exc: Exception, what: str) -> DriftmgrError:
        from google.api_core.exceptions import RetryError
        from google.auth import exceptions as auth_errors

        cfg, loc = self.config, self.location
        if isinstance(exc, RetryError):
            cause = exc.cause or exc.__cause__
            inner = self._translate(cause, what) if isinstance(cause, Exception) else None
            if isinstance(inner, ProviderAuthError):
                return inner
            detail = inner.message if inner else str(exc)
            return BackendError(
                f"gave up after retrying for {cfg.retry_timeout:g}s: {detail}",
                hint="Google Cloud Storage kept failing or throttling; try again later",
            )
        code = _http_status(exc)
        if code is not None:
            message, reason = _error_parts(exc)
            detail = f"{code} {message}".strip()
            if code == 401:
                return ProviderAuthError(
                    f"Google Cloud Storage rejected the credentials while {what} {loc} "
                    f"(bucket '{cfg.bucket}': "
                    f"{detail})",
                    hint=self._credentials_hint(),
                )
            if code == 403:
                return ProviderAuthError(
                    f"permission denied on bucket '{cfg.bucket}' while {what} {loc} ({detail})",
                    hint="the identity needs storage.objects.get/create/delete/list on the bucket "
                    "(e.g. roles/storage.objectUser)",
                )
            if code == 404 and _missing_bucket(exc):
                return BackendError(
                    f"bucket '{cfg.bucket}' does not exist ({what} {loc})",
                    hint="create the bucket first, or fix `bucket` in the backend configuration",
                )
            if reason in _CSEK_REASONS:
                return BackendError(
                    f"{what} {loc} failed: {message}",
                    hint="the state object and `encryption_key` (or GOOGLE_ENCRYPTION_KEY) must match: "
                    "set the key the state was written with, or none for an unencrypted state",
                )
            if code == 429 or code >= 500:
                return BackendError(
                    f"{what} {loc} failed: Google Cloud Storage answered {detail}", hint="try again later"
                )
            return BackendError(f"{what} {loc} failed ({detail})")
        if isinstance(exc, auth_errors.InvalidOperation):  # anonymous credentials answered 401
            return ProviderAuthError(
                f"bucket '{cfg.bucket}' refused unauthenticated access while {what} {loc}",
                hint=self._credentials_hint(),
            )
        if isinstance(exc, auth_errors.RefreshError):
            detail = _auth_detail(exc)
            if cfg.impersonate_service_account and "impersonated" in detail:
                return ProviderAuthError(
                    f"cannot impersonate service account '{cfg.impersonate_service_account}' for bucket "
                    f"'{cfg.bucket}' while {what} {loc} ({detail})",
                    hint="the identity needs roles/iam.serviceAccountTokenCreator on that service account, "
                    "or fix `impersonate_service_account`",
                )
            if cfg.access_token and not cfg.impersonate_service_account:  # a static token answered 401
                return ProviderAuthError(
                    f"Google Cloud Storage rejected the access token for bucket '{cfg.bucket}' "
                    f"while {what} {loc}",
                    hint=self._credentials_hint(),
                )
            return ProviderAuthError(
                f"Google credentials for bucket '{cfg.bucket}' were rejected while {what} {loc} ({detail})",
                hint=self._credentials_hint(),
            )
        if isinstance(exc, auth_errors.DefaultCredentialsError):
            return ProviderAuthError(
                f"no usable Google credentials for {loc} ({exc})", hint=self._credentials_hint()
            )
        if isinstance(exc, auth_errors.TransportError):
            return BackendError(
                f"cannot reach the Google token service while {what} {loc} ({exc})",
                hint="check the network / proxy",
            )
        if _is_connection_error(exc):
            endpoint = cfg.api_endpoint or "https://storage.googleapis.com"
            return BackendError(
                f"cannot reach {endpoint} while {what} {loc} ({type(exc).__name__}: {exc})",
                hint="check the network / proxy, and `storage_custom_endpoint` if one is set",
            )
        return BackendError(f"{what} {loc} failed ({type(exc).__name__}: {exc})")

    def _credentials_hint(self) -> str:
        cfg = self.config
        if cfg.access_token:
            return "the access token (`access_token` / GOOGLE_OAUTH_ACCESS_TOKEN) is invalid or expired"
        if cfg.credentials:
            return "check the service-account key in `credentials` (or GOOGLE_CREDENTIALS): it may be revoked"
        return ADC_HINT

    # -- read ----------------------------------------------------------------------------------

    def _download(self, name: str, what: str, *, state: bool) -> tuple[bytes, int] | None:
        """(bytes, generation) of one object, read in one request; None when it does not exist."""
        blob = self._blob(name, state=state)
        try:
            data = self._call(
                blob.download_as_bytes,
                what,
                handle=frozenset({404}),
                retry=self._retry(),
                timeout=self.config.request_timeout,
            )
        except _Raw:
            return None
        if blob.generation is None:
            raise BackendError(f"{what} {self.location} failed: the response carried no object generation")
        return data, int(blob.generation)

    def read(self) -> StateObject | None:
        got = self._download(self.config.state_name, "reading", state=True)
        if got is None or not got[0]:
            # Terraform treats an empty object as no state; remember what exists for the next write
            self._observed = 0 if got is None else got[1]
            return None
        self._observed = got[1]
        return StateObject(got[0], str(got[1]))

    # -- write ---------------------------------------------------------------------------------

    def write(
        self, data: bytes, *, lock: LockInfo | None, expected_version: str | None = None
    ) -> StateObject:
        """Upload the state with ``ifGenerationMatch`` on ``expected_version`` (a generation from
        ``read()``/``write()``), or ``0`` when this instance last found no state; a failed condition
        raises StateConflictError and leaves the object as it was. When ``lock`` is given, the lock
        must still be in place."""
        if lock is not None:
            self._verify_lock_held(lock)
        if expected_version is not None:
            try:
                match: int | None = int(expected_version)
            except ValueError:
                raise BackendError(
                    f"cannot write {self.location}: {expected_version!r} is not a GCS object generation"
                ) from None
        else:
            match = self._observed
        blob = self._blob(self.config.state_name, state=True)
        try:
            self._call(
                blob.upload_from_string,
                "writing",
                handle=frozenset({412}),
                data=data,
                content_type="application/json",
                if_generation_match=match,
                # an unconditional upload is not safe to repeat blindly: only guarded ones are retried
                retry=self._retry() if match is not None else None,
                timeout=self.config.request_timeout,
            )
        except _Raw:
            self._observed = None
            return self._after_conflict(data, match)
        generation = int(blob.generation)
        self._observed = generation
        return StateObject(data, str(generation))

    def _after_conflict(self, data: bytes, match: int | None) -> StateObject:
        current = self._download(self.config.state_name, "checking", state=True)
        if current is not None and current[0] == data:
            # a retried upload whose first attempt landed: the object holds exactly these bytes
            self._observed = current[1]
            return StateObject(data, str(current[1]))
        if match == 0:
            why = "it was created by someone else after it was found absent"
        elif current is None:
            why = "it was deleted after it was read"
        else:
            why = f"it was changed by someone else after it was read (generation {match}, now {current[1]})"
        raise StateConflictError(
            f"state {self.location} not written: {why}; the object was left as it is",
            hint="read the state again and redo the change",
        )

    # -- locking -------------------------------------------------------------------------------

    def _read_lock(self) -> _HeldLock | None:
        got = self._download(self.config.lock_name, "reading the lock file of", state=False)
        if got is None:
            return None
        raw, generation = got
        try:
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise ValueError("not an object")
            info = LockInfo.from_terraform(data)
        except ValueError:
            log.warning("unreadable lock info in %s: %r", self.lock_url, raw[:200])
            return _HeldLock(
                LockInfo(
                    id=str(generation), info=f"unreadable lock info in {self.lock_url}", path=self.lock_url
                ),
                generation,
                "",
                unreadable=True,
            )
        writer = info.id
        return _HeldLock(dataclasses.replace(info, id=str(generation)), generation, writer)

    def _try_lock(self, info: LockInfo) -> LockInfo:
        # Go's json.Marshal of statemgr.LockInfo: same key order, compact
        body = json.dumps(info.to_terraform(), separators=(",", ":")).encode()
        blob = self._blob(self.config.lock_name)
        try:
            self._call(
                blob.upload_from_string,
                "taking the lock file of",
                handle=frozenset({412}),
                data=body,
                content_type="application/json",
                if_generation_match=0,
                retry=self._retry(),
                timeout=self.config.request_timeout,
            )
        except _Raw:
            held = self._read_lock()
            if held is None:
                raise StateLockedError(
                    self.location,
                    None,
                    detail=f"lock file {self.lock_url} was held briefly by another client; try again",
                ) from None
            if held.writer_id == info.id:  # our own create, retried after its answer was lost
                return dataclasses.replace(info, id=str(held.generation))
            raise StateLockedError(
                self.location, held.info, detail=held.info.info if held.unreadable else None
            ) from None
        return dataclasses.replace(info, id=str(blob.generation))

    def lock(self, info: LockInfo) -> LockInfo:
        """Create the ``.tflock`` object; retry a held lock for ``lock_timeout`` seconds.

        Returns ``info`` with ``path`` set to the lock object's URL and ``id`` set to its generation
        (the lock ID Terraform uses); the JSON stored keeps the caller's ID (a fresh UUID if empty).
        """
        info = dataclasses.replace(info, id=info.id or str(uuid.uuid4()), path=self.lock_url)
        return retry_while_locked(lambda: self._try_lock(info), self.lock_timeout)

    def unlock(self, lock_id: str, *, force: bool = False) -> None:
        """Delete the lock object whose generation is ``lock_id`` (``force``: whatever lock is there).

        The delete is conditional on the generation checked, so a lock taken in between survives.
        """
        if not force:
            try:
                int(lock_id)
            except ValueError:
                raise BackendError(
                    f"lock ID should be a number (the generation of {self.lock_url}), got {lock_id!r}",
                    hint="`driftmgr state locks` shows the lock ID",
                ) from None
        held = self._read_lock()
        if held is None:
            if force:
                return
            raise BackendError(
                f"state {self.location} is not locked (no lock with ID {lock_id!r} to release)"
            )
        if not force and str(held.generation) != lock_id.strip():
            raise BackendError(
                f"lock ID {lock_id!r} does not match the lock on {self.location} ({held.info.describe()})",
                hint="only the holder's ID releases a lock; force-unlock only if that operation is dead",
            )
        blob = self._blob(self.config.lock_name)
        try:
            self._call(
                blob.delete,
                "releasing the lock file of",
                handle=frozenset({404, 412}),
                if_generation_match=held.generation,
                retry=self._retry(),
                timeout=self.config.request_timeout,
            )
        except _Raw as raw:
            if raw.code == 404:  # gone already (a retried delete whose first attempt landed)
                return
            raise BackendError(
                f"lock file of {self.location} changed while being released; it was left in place",
                hint="someone else may hold the lock now: check its holder before retrying",
            ) from None

    def current_lock(self) -> LockInfo | None:
        held = self._read_lock()
        return held.info if held else None

    def _verify_lock_held(self, lock: LockInfo) -> None:
        """Refuse to write when the caller's lock is no longer the one in place (e.g. force-unlocked)."""
        held = self._read_lock()
        if held is None:
            raise BackendError(
                f"refusing to write {self.location}: lock {lock.id} is no longer held "
                "(was it force-unlocked?)",
                hint="take the lock again, re-read the state and redo the change",
            )
        if str(held.generation) != lock.id:
            raise StateLockedError(self.location, held.info)

    # -- workspaces ----------------------------------------------------------------------------

    def workspaces(self) -> list[str]:
        """Workspaces with a state object directly under the prefix: ``default`` first (when its object
        exists), then sorted. (Terraform itself always lists ``default``, existing or not.)"""
        cfg = self.config

        def names() -> list[str]:
            blobs = self._client().list_blobs(
                cfg.bucket, prefix=cfg.prefix, delimiter="/", retry=self._retry(), timeout=cfg.request_timeout
            )
            return [blob.name for blob in blobs]

        found = set()
        for name in self._call(names, "listing workspaces of"):
            base = name.rsplit("/", 1)[-1]
            if base.endswith(".tfstate") and len(base) > len(".tfstate"):
                found.add(base.removesuffix(".tfstate"))
        result = sorted(found - {DEFAULT_WORKSPACE})
        if DEFAULT_WORKSPACE in found:
            result.insert(0, DEFAULT_WORKSPACE)
        return result


def _is_connection_error(exc: BaseException) -> bool:
    import requests

    return isinstance(
        exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout | ConnectionError
    )


# -- how backends/config.py builds this backend --------------------------------------------------


def build_from_terraform(config: Mapping[str, Any], *, workspace: str, **_: Any) -> GcsBackend:
    """A ``backend "gcs"`` block (or the backend cache's config) for ``workspace``."""
    return GcsBackend(GcsBackendConfig.from_terraform_config(config, workspace=workspace, environ=os.environ))


def build_from_spec(spec: str, parts: Any, params: dict[str, str]) -> GcsBackend:
    """``gs://BUCKET[/PREFIX][?workspace=..&credentials=PATH&...]``, or ``gs://BUCKET/PREFIX/WS.tfstate``."""
    return GcsBackend(GcsBackendConfig.from_spec(spec, parts, params, environ=os.environ))
