"""Terraform's ``azurerm`` backend, interoperable with Terraform 1.11 on the same container.

Layout and locking follow ``internal/backend/remote-state/azure`` in Terraform 1.11:

- The default workspace is the blob ``key``; workspace ``ws`` the blob ``{key}env:{ws}`` beside it, so
  the workspaces are the blobs named ``{key}env:*`` (without a ``/`` after the prefix).
- Lock: the state blob itself is leased. ``lock()`` creates an empty blob when there is none, refuses a
  blob whose lease is held, acquires an infinite lease proposing the lock ID as the lease ID, then stores
  the lock info (Terraform's JSON: ID, Operation, Info, Who, Version, Created, Path) base64-encoded in the
  blob metadata ``terraformlockid``. A lease already present (409 LeaseAlreadyPresent) is reported with
  the holder read from that metadata. ``unlock()`` checks the ID, removes the metadata entry and releases
  the lease; ``force`` breaks a lease whose holder is gone.
- Writes carry the existing metadata (the lock info) over, as Terraform's do, and the lease ID when this
  writer holds the lock. With ``snapshot`` the blob is snapshotted before each write.

Beyond Terraform (which overwrites unconditionally), writes are conditional: ``If-Match`` on the ETag
read, ``If-None-Match: *`` when this backend saw no blob, so a concurrent writer is detected
(StateConflictError) instead of silently lost. Azure itself refuses a write into a blob leased by someone
else, so a writer whose lock was broken or taken over writes nothing.

azure-storage-blob (and azure-identity) are imported lazily, inside the functions that talk to Azure.
How the configuration is read: ``azurerm_config``; credentials and errors: ``azurerm_auth``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import json
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from driftmgr_tui import __version__
from driftmgr_tui.core.errors import (
    BackendError,
    ConfigError,
    DriftmgrError,
    LockInfo,
    StateConflictError,
    StateLockedError,
)
from driftmgr_tui.state.backends.azurerm_auth import (
    aad_credential,
    arm_account_key,
    arm_blob_endpoint,
    error_code,
    translate_error,
)
from driftmgr_tui.state.backends.azurerm_config import (
    DEFAULT_WORKSPACE,
    KEY_ENV_PREFIX,
    AzureRMBackendConfig,
    config_from_spec,
)
from driftmgr_tui.state.backends.base import StateBackend, StateObject, retry_while_locked

log = logging.getLogger(__name__)

LOCK_METADATA_KEY = "terraformlockid"  # Terraform: "Must be lower case"
_NO_LOCK_INFO = (
    "its blob lease is held without Terraform lock info (being taken right now, or taken by another tool)"
)
_UNKNOWN = object()
_ABSENT = object()


class _RawAzureError(Exception):
    """Internal: an Azure error the caller asked to handle itself (see ``AzureRMBackend._call``)."""

    def __init__(self, code: str, exc: Exception) -> None:
        super().__init__(code)
        self.code = code
        self.exc = exc


def lock_metadata(info: LockInfo) -> str:
    """Terraform's metadata value: base64 (standard) of Go's compact JSON of statemgr.LockInfo."""
    return base64.b64encode(json.dumps(info.to_terraform(), separators=(",", ":")).encode()).decode()


def _metadata_value(metadata: Mapping[str, str] | None) -> str | None:
    for name, value in (metadata or {}).items():
        if name.lower() == LOCK_METADATA_KEY:
            return value
    return None


def _without_lock(metadata: Mapping[str, str] | None) -> dict[str, str]:
    return {k: v for k, v in (metadata or {}).items() if k.lower() != LOCK_METADATA_KEY}


def _valid_lease_id(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class AzureRMBackend(StateBackend):
    """One workspace of a Terraform azurerm backend. Thread-safe; the client is created on first use."""

    kind = "azurerm"

    def __init__(
        self, config: AzureRMBackendConfig, *, credential: Any = None, lock_timeout: float = 0.0
    ) -> None:
        self.config = config
        #: seconds ``lock()`` keeps retrying a held lock (``--lock-timeout``)
        self.lock_timeout = lock_timeout
        self._credential = credential  # an azure-identity credential; None: chosen from the configuration
        self._client_lock = threading.Lock()
        self._container_client: Any = None
        self._account_url: str | None = None
        self._observed: object = (
            _UNKNOWN  # what this instance last saw at the blob: _UNKNOWN, _ABSENT or an ETag
        )

    def __repr__(self) -> str:
        return f"AzureRMBackend({self.location!r})"

    def for_workspace(self, workspace: str) -> AzureRMBackend:
        """The same backend, another workspace."""
        return AzureRMBackend(
            dataclasses.replace(self.config, workspace=workspace),
            credential=self._credential,
            lock_timeout=self.lock_timeout,
        )

    @property
    def location(self) -> str:
        cfg = self.config
        return f"azurerm://{cfg.storage_account_name}/{cfg.container_name}/{cfg.blob_name}"

    @property
    def account_url(self) -> str:
        """The blob service URL requests go to (resolved on first use)."""
        self._container()
        return self._account_url or ""

    # -- clients -------------------------------------------------------------------------------

    def _aad(self) -> Any:
        if self._credential is None:
            self._credential = aad_credential(self.config)
        return self._credential

    def _container(self) -> Any:
        client = self._container_client
        if client is not None:
            return client
        with self._client_lock:
            if self._container_client is None:
                self._container_client = self._new_container_client()
            return self._container_client

    def _new_container_client(self) -> Any:
        from azure.core.credentials import AzureNamedKeyCredential, AzureSasCredential
        from azure.storage.blob import ContainerClient, ExponentialRetry

        cfg = self.config
        url = cfg.endpoint or (
            arm_blob_endpoint(cfg, self._aad()) if cfg.lookup_blob_endpoint else cfg.default_blob_endpoint()
        )
        self._account_url = url
        credential: Any
        if cfg.access_key:
            credential = AzureNamedKeyCredential(cfg.storage_account_name, cfg.access_key)
        elif cfg.sas_token:
            credential = AzureSasCredential(cfg.sas_token)
        elif cfg.use_azuread_auth:
            if urlsplit(url).scheme != "https":
                raise ConfigError(
                    f"azurerm backend: Azure AD authentication needs an https blob endpoint, not {url}",
                    hint="give an access key or SAS token for a plain-http emulator",
                )
            credential = self._aad()
        else:
            credential = AzureNamedKeyCredential(cfg.storage_account_name, arm_account_key(cfg, self._aad()))
        retry = ExponentialRetry(
            initial_backoff=cfg.retry_backoff,  # type: ignore[arg-type]
            increment_base=cfg.retry_backoff,  # type: ignore[arg-type]
            retry_total=cfg.max_retries,
            random_jitter_range=cfg.retry_jitter,  # type: ignore[arg-type]
        )
        return ContainerClient(
            url,
            cfg.container_name,
            credential=credential,
            retry_policy=retry,
            connection_timeout=cfg.connect_timeout,
            read_timeout=cfg.read_timeout,
            user_agent=f"driftmgr/{__version__}",
        )

    def _blob(self, name: str | None = None) -> Any:
        return self._container().get_blob_client(name or self.config.blob_name)

    # -- error handling ------------------------------------------------------------------------

    def _call(
        self,
        what: str,
        fn: Callable[..., Any],
        *args: Any,
        handle: frozenset[str] = frozenset(),
        **kwargs: Any,
    ) -> Any:
        """``fn(*args, **kwargs)``; Azure errors whose code is in ``handle`` raise _RawAzureError, others a
        DriftmgrError naming the location."""
        from azure.core.exceptions import AzureError

        try:
            return fn(*args, **kwargs)
        except AzureError as exc:
            code = error_code(exc)
            if code in handle:
                raise _RawAzureError(code, exc) from exc
            raise self._translate(exc, what) from None

    def _translate(self, exc: BaseException, what: str) -> DriftmgrError:
        return translate_error(self.config, exc, f"{what} {self.location}", self._account_url)

    # -- lock info -----------------------------------------------------------------------------

    def _holder(self, metadata: Mapping[str, str] | None) -> LockInfo | None:
        raw = _metadata_value(metadata)
        if not raw:
            return None
        try:
            data = json.loads(base64.b64decode(raw, validate=True))
            if not isinstance(data, dict):
                raise ValueError("not an object")
        except (binascii.Error, ValueError):
            log.warning("unreadable lock info in the metadata of %s: %r", self.location, raw[:200])
            return LockInfo(id="", info=f"unreadable lock info in blob metadata '{LOCK_METADATA_KEY}'")
        return LockInfo.from_terraform(data)

    def _holder_of_lease(self, props: Any) -> LockInfo:
        """Who holds the lease, as far as the metadata says."""
        holder = self._holder(props.metadata if props is not None else None)
        return holder or LockInfo(id="", info=_NO_LOCK_INFO)

    def _locked(self, props: Any, detail: str | None = None) -> StateLockedError:
        holder = self._holder(props.metadata if props is not None else None)
        if holder is None:
            return StateLockedError(
                self.location, None, detail=f"{_NO_LOCK_INFO}{'; ' + detail if detail else ''}"
            )
        return StateLockedError(self.location, holder, detail=detail)

    def _properties(self, what: str, lease: str | None = None) -> Any:
        """The blob's properties, or None when it does not exist."""
        try:
            return self._call(
                what, self._blob().get_blob_properties, lease=lease, handle=frozenset({"BlobNotFound"})
            )
        except _RawAzureError:
            return None

    def _refused_by_lease(self, raw: _RawAzureError, lock: LockInfo | None) -> DriftmgrError:
        """A write refused because of the lease: someone else holds it, or ours is gone."""
        if raw.code == "LeaseNotPresentWithBlobOperation":
            return BackendError(
                f"refusing to write {self.location}: lock {lock.id if lock else ''} is no longer held "
                "(was it force-unlocked?); nothing was written",
                hint="take the lock again, re-read the state and redo the change",
            )
        return self._locked(self._properties("reading the lock of"), detail="nothing was written")

    # -- read ----------------------------------------------------------------------------------

    def read(self) -> StateObject | None:
        """The state blob's bytes and ETag; None when there is no blob or it is empty (as for Terraform)."""
        try:
            downloader = self._call("reading", self._blob().download_blob, handle=frozenset({"BlobNotFound"}))
            data = self._call("reading", downloader.readall)
        except _RawAzureError:
            self._observed = _ABSENT
            return None
        etag = str(downloader.properties.etag)
        self._observed = etag
        if not data:
            return None
        return StateObject(data, etag)

    # -- write ---------------------------------------------------------------------------------

    def write(
        self, data: bytes, *, lock: LockInfo | None, expected_version: str | None = None
    ) -> StateObject:
        """Upload the state (``application/json``), keeping the blob's metadata, under the lease ``lock``
        holds. ``expected_version`` (an ETag from ``read()``/``write()``) makes it ``If-Match``; without it,
        ``If-None-Match: *`` when this instance last saw no blob, else ``If-Match`` the ETag found now.
        A failed condition raises StateConflictError and leaves the blob as it was."""
        from azure.core import MatchConditions
        from azure.storage.blob import ContentSettings

        lease = lock.id if lock is not None and lock.id else None
        lease_codes = frozenset(
            {"LeaseIdMissing", "LeaseIdMismatchWithBlobOperation", "LeaseNotPresentWithBlobOperation"}
        )
        try:
            props = self._call(
                "preparing to write",
                self._blob().get_blob_properties,
                lease=lease,
                handle=lease_codes | {"BlobNotFound"},
            )
        except _RawAzureError as raw:
            if raw.code != "BlobNotFound":
                raise self._refused_by_lease(raw, lock) from None
            props = None
        current = str(props.etag) if props is not None else None
        if expected_version is not None:
            if current != expected_version:
                why = (
                    "it was deleted after it was read"
                    if current is None
                    else "it was changed by someone else after it was read "
                    f"(expected version {expected_version})"
                )
                raise self._conflict(why)
        elif self._observed is _ABSENT and current is not None:
            raise self._conflict("it was created by someone else after it was found absent")
        elif isinstance(self._observed, str) and current != self._observed:
            raise self._conflict("it was changed by someone else after it was read")
        condition: dict[str, Any] = (
            {"etag": current, "match_condition": MatchConditions.IfNotModified} if current is not None else {}
        )
        blob = self._blob()
        if self.config.snapshot and current is not None:
            self._snapshot(blob, lease, condition, lock)
        try:
            resp = self._call(
                "writing",
                blob.upload_blob,
                data,
                overwrite=current is not None,
                lease=lease,
                metadata=dict(props.metadata) if props is not None else None,
                content_settings=ContentSettings(content_type="application/json"),
                handle=lease_codes | {"ConditionNotMet", "BlobAlreadyExists"},
                **condition,
            )
        except _RawAzureError as raw:
            self._observed = _UNKNOWN
            if raw.code in lease_codes:
                raise self._refused_by_lease(raw, lock) from None
            raise self._conflict(
                "it was created by someone else after it was found absent"
                if current is None
                else "it was changed by someone else after it was read"
            ) from None
        etag = str(resp["etag"])
        self._observed = etag
        return StateObject(data, etag)

    def _snapshot(
        self, blob: Any, lease: str | None, condition: dict[str, Any], lock: LockInfo | None
    ) -> None:
        try:
            self._call(
                "snapshotting",
                blob.create_snapshot,
                lease=lease,
                handle=frozenset(
                    {
                        "ConditionNotMet",
                        "LeaseIdMissing",
                        "LeaseIdMismatchWithBlobOperation",
                        "LeaseNotPresentWithBlobOperation",
                    }
                ),
                **condition,
            )
        except _RawAzureError as raw:
            if raw.code == "ConditionNotMet":
                raise self._conflict("it was changed by someone else after it was read") from None
            raise self._refused_by_lease(raw, lock) from None

    def _conflict(self, why: str) -> StateConflictError:
        self._observed = _UNKNOWN
        return StateConflictError(
            f"state {self.location} not written: {why}; the blob was left as it is",
            hint="read the state again and redo the change",
        )

    # -- locking -------------------------------------------------------------------------------

    def lock(self, info: LockInfo) -> LockInfo:
        """Lease the state blob and record ``info`` in its metadata, as Terraform does; retry a held lock for
        ``lock_timeout`` seconds. Returns ``info`` with ``path`` ``{container}/{blob}`` and its ID (the lease
        ID, a UUID: generated when ``info.id`` is empty or not a UUID), exactly what is stored."""
        cfg = self.config
        lock_id = info.id if info.id and _valid_lease_id(info.id) else str(uuid.uuid4())
        info = dataclasses.replace(info, id=lock_id, path=f"{cfg.container_name}/{cfg.blob_name}")
        return retry_while_locked(lambda: self._try_lock(info), self.lock_timeout, first_delay=0.1, max_delay=2.0)

    def _try_lock(self, info: LockInfo) -> LockInfo:
        from azure.storage.blob import ContentSettings

        blob = self._blob()
        props = self._properties("checking the lock of")
        if props is None:  # Terraform creates an empty blob to lease
            with contextlib.suppress(_RawAzureError):  # created by someone else meanwhile: the lease decides
                self._call(
                    "creating the blob to lock of",
                    blob.upload_blob,
                    b"",
                    overwrite=False,
                    content_settings=ContentSettings(content_type="application/json"),
                    handle=frozenset({"BlobAlreadyExists", "LeaseIdMissing"}),
                )
        elif props.lease.status == "locked":
            raise self._locked(props)
        try:
            self._call(
                "taking the lease on",
                blob.acquire_lease,
                lease_duration=-1,
                lease_id=info.id,
                handle=frozenset({"LeaseAlreadyPresent"}),
            )
        except _RawAzureError:
            raise self._locked(self._properties("reading the lock of")) from None
        try:
            fresh = self._properties("recording the lock info of", lease=info.id)
            metadata = _without_lock(fresh.metadata if fresh is not None else None)
            metadata[LOCK_METADATA_KEY] = lock_metadata(info)
            self._call("recording the lock info of", blob.set_blob_metadata, metadata, lease=info.id)
        except BaseException as exc:
            try:
                self._release(info.id)
            except Exception as cleanup:
                raise BackendError(
                    f"lease {info.id} on {self.location} was taken but the lock info was not recorded "
                    f"({exc}), and releasing the lease failed too ({cleanup})",
                    hint=f"release it with `driftmgr state unlock --force {info.id}`",
                ) from exc
            raise
        self._observed = _UNKNOWN  # the metadata change gave the blob a new ETag
        return info

    def _release(self, lease_id: str) -> None:
        from azure.storage.blob import BlobLeaseClient

        self._call("releasing the lease on", BlobLeaseClient(self._blob(), lease_id=lease_id).release)

    def unlock(self, lock_id: str, *, force: bool = False) -> None:
        """Remove the lock info and release the lease held under ``lock_id``. Without ``force`` the lock's
        ID must be ``lock_id`` (else BackendError naming the holder); ``force`` breaks the lease whoever
        holds it (a holder that died), then removes the lock info."""
        from azure.storage.blob import BlobLeaseClient

        blob = self._blob()
        props = self._properties("reading the lock of")
        holder = self._holder(props.metadata) if props is not None else None
        leased = props is not None and props.lease.status == "locked"
        if props is None or (holder is None and not leased):
            if force:
                return
            raise BackendError(
                f"state {self.location} is not locked (no lock with ID {lock_id!r} to release)"
            )
        if not force and holder is not None and holder.id != lock_id:
            raise BackendError(
                f"lock ID {lock_id!r} does not match the lock on {self.location} ({holder.describe()})",
                hint="only the holder's ID releases a lock; force-unlock only if that operation is dead",
            )
        mismatch = frozenset(
            {"LeaseIdMismatchWithBlobOperation", "LeaseIdMismatchWithLeaseOperation", "LeaseIdMissing"}
        )
        if force and leased:
            self._call("breaking the lease on", BlobLeaseClient(blob).break_lease, lease_break_period=0)
            leased = False
        try:
            if holder is not None:
                self._call(
                    "removing the lock info of",
                    blob.set_blob_metadata,
                    _without_lock(props.metadata),
                    lease=lock_id if leased else None,
                    handle=mismatch,
                )
            if leased:
                self._call(
                    "releasing the lease on", BlobLeaseClient(blob, lease_id=lock_id).release, handle=mismatch
                )
        except _RawAzureError:
            now = self._holder(getattr(self._properties("reading the lock of"), "metadata", None))
            raise BackendError(
                f"the lease on {self.location} is held under another ID than {lock_id!r} "
                f"({now.describe() if now else _NO_LOCK_INFO}); it was left in place",
                hint="someone else may hold the lock now: check its holder; force-unlock only if it is dead",
            ) from None
        self._observed = _UNKNOWN

    def current_lock(self) -> LockInfo | None:
        """The lock held (its lease), with Terraform's lock info; stale lock info on an unleased blob is no
        lock."""
        props = self._properties("reading the lock of")
        if props is None or props.lease.status != "locked":
            return None
        return self._holder_of_lease(props)

    # -- workspaces ----------------------------------------------------------------------------

    def workspaces(self) -> list[str]:
        """Workspaces with a state blob: ``default`` first (when its blob exists), then sorted.

        (Terraform itself always lists ``default``, existing or not.)
        """
        prefix = self.config.key + KEY_ENV_PREFIX
        names = self._call(
            "listing workspaces of",
            lambda: [b.name for b in self._container().list_blobs(name_starts_with=prefix)],
        )
        found = sorted({n[len(prefix) :] for n in names if n[len(prefix) :] and "/" not in n[len(prefix) :]})
        found = [ws for ws in found if ws != DEFAULT_WORKSPACE]
        try:
            self._call(
                "checking",
                self._blob(self.config.key).get_blob_properties,
                handle=frozenset({"BlobNotFound"}),
            )
            found.insert(0, DEFAULT_WORKSPACE)
        except _RawAzureError:
            pass
        return found


# -- how backends/config.py builds this backend --------------------------------------------------


def build_from_terraform(config: Mapping[str, Any], *, workspace: str, **_: Any) -> AzureRMBackend:
    """A ``backend "azurerm"`` block (or the backend cache's config) for ``workspace``."""
    return AzureRMBackend(AzureRMBackendConfig.from_terraform_config(config, workspace=workspace))


def build_from_spec(spec: str, parts: Any, params: dict[str, str]) -> AzureRMBackend:
    """``azurerm://ACCOUNT/CONTAINER/KEY?workspace=..&endpoint=..&access_key_secret=REF&..``."""
    return AzureRMBackend(config_from_spec(spec, parts, params))
