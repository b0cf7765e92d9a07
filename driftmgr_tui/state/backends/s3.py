"""Terraform's ``s3`` backend, interoperable with Terraform 1.11 on the same bucket.

Layout and locking follow ``internal/backend/remote-state/s3`` in Terraform 1.11:

- The default workspace lives at ``key``; workspace ``ws`` at ``{workspace_key_prefix}/{ws}/{key}``
  (prefix ``env:`` unless configured).
- Locks: a DynamoDB item ``LockID = "{bucket}/{state key}"`` with attribute ``Info`` (the lock-info
  JSON), put with ``attribute_not_exists(LockID)``; and/or (``use_lockfile``) an S3 object
  ``{state key}.tflock`` holding the same JSON, put with ``If-None-Match: *``. With both configured
  the lock file is taken first and released again if the DynamoDB lock fails, as Terraform does.
  With neither configured ``lock()`` takes nothing and returns the info (Terraform does the same:
  such a state is simply unlocked) and ``unlock()`` is a no-op.
- With ``dynamodb_table`` every write stores ``LockID = "{bucket}/{state key}-md5"`` with ``Digest``
  (hex MD5 of the bytes), and every read compares it, retrying briefly before failing with
  "state data in S3 does not have the expected content".

Beyond Terraform (which overwrites unconditionally), writes are conditional: ``If-Match`` on the
ETag read, or ``If-None-Match: *`` when this backend saw the object absent, so a concurrent writer
is detected (StateConflictError) instead of silently lost. Releasing a lock is conditional too (the
lock file is deleted with ``If-Match`` on the ETag whose ID was checked, the DynamoDB item with a
condition on the ``Info`` that was checked), so a lock taken by someone else in between survives.

boto3 is imported lazily, inside the functions that talk to AWS. Credentials come from the SDK's own
chain (environment, profile, SSO, instance role); ``role_arn`` adds an STS assume-role on top.
Every AWS failure becomes a BackendError naming the location and the AWS error code/message.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from driftmgr_tui.core.boto import new_boto_session
from driftmgr_tui.core.errors import (
    BackendError,
    ConfigError,
    LockInfo,
    StateConflictError,
    StateLockedError,
)
from driftmgr_tui.state.backends.base import StateBackend, StateObject, retry_while_locked
from driftmgr_tui.state.backends.config import check_spec_params, nested_block, spec_bool

log = logging.getLogger(__name__)

DEFAULT_WORKSPACE = "default"
DEFAULT_WORKSPACE_KEY_PREFIX = "env:"
LOCKFILE_SUFFIX = ".tflock"
DIGEST_SUFFIX = "-md5"

_CREDENTIAL_ERRORS = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidToken",
        "TokenRefreshRequired",
        "AuthFailure",
        "MissingAuthenticationToken",
    }
)
_ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "AllAccessDisabled", "Forbidden", "403"})
_CONFLICT_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NotFound", "404", "NoSuchVersion"})

_BOOL_TRUE = frozenset({"true", "1", "yes", "on"})
_BOOL_FALSE = frozenset({"false", "0", "no", "off", ""})


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _BOOL_TRUE | _BOOL_FALSE:
        return value.strip().lower() in _BOOL_TRUE
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ConfigError(f"s3 backend: attribute '{name}' must be true or false, got {value!r}")


def _as_str(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"s3 backend: attribute '{name}' must be a string, got {value!r}")
    return str(value)


def _validate_s3_path(name: str, value: str, *, allow_empty: bool = False) -> None:
    # Terraform's validateStringS3Path / validateStringDoesNotContain("//")
    if not value:
        if allow_empty:
            return
        raise ConfigError(f"s3 backend: attribute '{name}' must not be empty")
    if value.startswith("/") or value.endswith("/"):
        raise ConfigError(f"s3 backend: attribute '{name}' must not start or end with '/': {value!r}")
    if name == "key" and "//" in value:
        raise ConfigError(f"s3 backend: attribute 'key' must not contain '//': {value!r}")


@dataclass
class S3BackendConfig:
    """Where one Terraform S3 state lives and how it is locked (attribute names as in ``backend "s3"``)."""

    bucket: str
    key: str
    region: str | None = None
    workspace_key_prefix: str = DEFAULT_WORKSPACE_KEY_PREFIX
    workspace: str = DEFAULT_WORKSPACE
    dynamodb_table: str | None = None
    use_lockfile: bool = False
    encrypt: bool = False
    kms_key_id: str | None = None
    profile: str | None = None
    #: endpoint for every client (S3, DynamoDB, STS); ``endpoints`` overrides it per service
    endpoint_url: str | None = None
    #: per-service endpoints, keys "s3", "dynamodb", "sts" (Terraform's ``endpoints { .. }``)
    endpoints: dict[str, str] = field(default_factory=dict)
    role_arn: str | None = None
    role_session_name: str | None = None
    role_external_id: str | None = None
    sts_region: str | None = None
    use_path_style: bool = False
    acl: str | None = None
    skip_s3_checksum: bool = False
    #: total attempts per AWS call (adaptive retry mode); Terraform's ``max_retries`` + 1
    max_attempts: int = 10
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    #: MD5 digest mismatch: re-read this many times, ``digest_retry_interval`` seconds apart, then fail
    #: (Terraform polls for 10 s; S3 is strongly consistent now, so a mismatch is rarely transient)
    digest_retries: int = 2
    digest_retry_interval: float = 1.0
    # static keys from the backend block itself (discouraged by Terraform; kept out of repr)
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.bucket:
            raise ConfigError("s3 backend: missing required attribute 'bucket'")
        if not self.key:
            raise ConfigError("s3 backend: missing required attribute 'key'")
        _validate_s3_path("key", self.key)
        _validate_s3_path("workspace_key_prefix", self.workspace_key_prefix, allow_empty=True)
        if not self.workspace:
            self.workspace = DEFAULT_WORKSPACE
        if "/" in self.workspace:
            raise ConfigError(f"s3 backend: workspace name must not contain '/': {self.workspace!r}")
        if self.max_attempts < 1:
            raise ConfigError("s3 backend: max_attempts must be at least 1")
        unknown = set(self.endpoints) - {"s3", "dynamodb", "sts", "iam", "sso"}
        if unknown:
            raise ConfigError(f"s3 backend: unknown service in 'endpoints': {', '.join(sorted(unknown))}")

    # -- derived names -------------------------------------------------------------------------

    @property
    def state_key(self) -> str:
        """The object key of this workspace's state."""
        return self.key_for(self.workspace)

    def key_for(self, workspace: str) -> str:
        if workspace == DEFAULT_WORKSPACE:
            return self.key
        if not self.workspace_key_prefix:
            return f"{workspace}/{self.key}"
        return f"{self.workspace_key_prefix}/{workspace}/{self.key}"

    @property
    def lock_id(self) -> str:
        """DynamoDB ``LockID`` of the lock item (and, plus ``-md5``, of the digest item)."""
        return f"{self.bucket}/{self.state_key}"

    @property
    def lockfile_key(self) -> str:
        return self.state_key + LOCKFILE_SUFFIX

    def endpoint_for(self, service: str) -> str | None:
        return self.endpoints.get(service) or self.endpoint_url

    # -- from Terraform ------------------------------------------------------------------------

    @classmethod
    def from_terraform_config(
        cls, cfg: Mapping[str, Any], workspace: str = DEFAULT_WORKSPACE
    ) -> S3BackendConfig:
        """Build from a ``backend "s3"`` block or the ``config`` of ``.terraform/terraform.tfstate``.

        Null values (the backend cache lists every attribute, unset ones as null) count as absent.
        Deprecated spellings Terraform 1.11 still accepts are mapped: ``endpoint``,
        ``dynamodb_endpoint``, ``sts_endpoint`` -> ``endpoints``; ``force_path_style`` ->
        ``use_path_style``; top-level ``role_arn``/``session_name``/``external_id`` -> ``assume_role``.
        """
        c = {k: v for k, v in cfg.items() if v is not None}
        for required in ("bucket", "key"):
            if c.get(required) in (None, ""):
                raise ConfigError(f"s3 backend: missing required attribute '{required}'")
        if c.get("sse_customer_key"):
            raise ConfigError(
                "s3 backend: 'sse_customer_key' (SSE-C) is not supported yet",
                hint="driftmgr can read states encrypted with SSE-S3 or SSE-KMS (encrypt / kms_key_id)",
            )
        if c.get("assume_role_with_web_identity"):
            raise ConfigError("s3 backend: 'assume_role_with_web_identity' is not supported yet")

        endpoints: dict[str, str] = {}
        for service, url in nested_block("s3 backend", "endpoints", c.get("endpoints")).items():
            endpoints[service] = _as_str(f"endpoints.{service}", url)
        for legacy, service in (
            ("endpoint", "s3"),
            ("dynamodb_endpoint", "dynamodb"),
            ("sts_endpoint", "sts"),
        ):
            if legacy in c:
                if service in endpoints:
                    raise ConfigError(
                        f"s3 backend: the parameters '{legacy}' and 'endpoints.{service}' cannot be configured together"
                    )
                endpoints[service] = _as_str(legacy, c[legacy])

        if "force_path_style" in c and "use_path_style" in c:
            raise ConfigError(
                "s3 backend: the parameters 'force_path_style' and 'use_path_style' cannot be configured together"
            )
        path_style = c.get("use_path_style", c.get("force_path_style", False))

        assume = nested_block("s3 backend", "assume_role", c.get("assume_role"))
        for legacy, name in (
            ("role_arn", "role_arn"),
            ("session_name", "session_name"),
            ("external_id", "external_id"),
        ):
            if legacy in c and name not in assume:
                assume[name] = c[legacy]

        max_attempts = 10
        if "max_retries" in c:
            try:
                max_attempts = int(c["max_retries"]) + 1
            except (TypeError, ValueError):
                raise ConfigError(
                    f"s3 backend: 'max_retries' must be a number, got {c['max_retries']!r}"
                ) from None

        def opt(name: str) -> str | None:
            return _as_str(name, c[name]) if c.get(name) not in (None, "") else None

        return cls(
            bucket=_as_str("bucket", c["bucket"]),
            key=_as_str("key", c["key"]),
            region=opt("region"),
            workspace_key_prefix=_as_str("workspace_key_prefix", c["workspace_key_prefix"])
            if "workspace_key_prefix" in c
            else DEFAULT_WORKSPACE_KEY_PREFIX,
            workspace=workspace or DEFAULT_WORKSPACE,
            dynamodb_table=opt("dynamodb_table"),
            use_lockfile=_as_bool("use_lockfile", c.get("use_lockfile", False)),
            encrypt=_as_bool("encrypt", c.get("encrypt", False)),
            kms_key_id=opt("kms_key_id"),
            profile=opt("profile"),
            endpoints=endpoints,
            role_arn=_as_str("assume_role.role_arn", assume["role_arn"]) if assume.get("role_arn") else None,
            role_session_name=_as_str("assume_role.session_name", assume["session_name"])
            if assume.get("session_name")
            else None,
            role_external_id=_as_str("assume_role.external_id", assume["external_id"])
            if assume.get("external_id")
            else None,
            sts_region=opt("sts_region"),
            use_path_style=_as_bool("use_path_style", path_style),
            acl=opt("acl"),
            skip_s3_checksum=_as_bool("skip_s3_checksum", c.get("skip_s3_checksum", False)),
            max_attempts=max_attempts,
            access_key=opt("access_key"),
            secret_key=opt("secret_key"),
            token=opt("token"),
        )


# -- AWS error translation ---------------------------------------------------------------------


def _error_code(exc: Any) -> str:
    return str(
        exc.response.get("Error", {}).get("Code")
        or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
    )


def _error_parts(exc: Any) -> tuple[str, str]:
    err = exc.response.get("Error", {})
    code = str(err.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?"))
    message = str(err.get("Message") or "")
    # Some servers (moto's DynamoDB auth) wrap an XML error document in a JSON protocol error.
    inner = re.search(r"<Code>([^<]+)</Code>.*?<Message>([^<]*)</Message>", message, re.S)
    if inner:
        code, message = inner.group(1), inner.group(2)
    return code, message


class _RawAwsError(Exception):
    """Internal: an AWS error the caller asked to handle itself (see ``S3Backend._call``)."""

    def __init__(self, code: str, exc: Exception) -> None:
        super().__init__(code)
        self.code = code
        self.exc = exc


# -- sessions ----------------------------------------------------------------------------------

# -- assume role -------------------------------------------------------------------------------


def _assume_role_session(base: Any, cfg: S3BackendConfig, region: str, client_config: Any) -> Any:
    """A boto3 Session whose credentials come from STS AssumeRole and refresh before they expire."""
    from botocore.credentials import CredentialProvider, DeferredRefreshableCredentials

    sts = base.client(
        "sts",
        region_name=cfg.sts_region or region,
        endpoint_url=cfg.endpoint_for("sts"),
        config=client_config,
    )
    params: dict[str, Any] = {
        "RoleArn": cfg.role_arn,
        "RoleSessionName": cfg.role_session_name or f"driftmgr-{uuid.uuid4().hex[:12]}",
    }
    if cfg.role_external_id:
        params["ExternalId"] = cfg.role_external_id

    def refresh() -> dict[str, str]:
        creds = sts.assume_role(**params)["Credentials"]
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": creds["Expiration"].isoformat(),
        }

    class _AssumeRoleProvider(CredentialProvider):
        METHOD = "driftmgr-assume-role"
        CANONICAL_NAME = "driftmgr-assume-role"

        def load(self) -> Any:
            return DeferredRefreshableCredentials(refresh_using=refresh, method=self.METHOD)

    return new_boto_session(region_name=region, credential_provider=_AssumeRoleProvider())


# -- the backend -------------------------------------------------------------------------------

_UNKNOWN = object()
_ABSENT = object()


class S3Backend(StateBackend):
    """One workspace of a Terraform S3 backend. Thread-safe; AWS clients are created on first use."""

    kind = "s3"

    def __init__(self, config: S3BackendConfig, *, lock_timeout: float = 0.0) -> None:
        self.config = config
        self.lock_timeout = lock_timeout  # seconds a held lock is retried (``--lock-timeout``)
        self._clients: dict[str, Any] = {}
        self._client_lock = threading.Lock()
        self._session: Any = None
        # what this instance last saw at the state key: _UNKNOWN, _ABSENT or a version token
        self._observed: object = _UNKNOWN

    def __repr__(self) -> str:
        return f"S3Backend({self.location!r})"

    def for_workspace(self, workspace: str) -> S3Backend:
        """The same backend, another workspace."""
        return S3Backend(dataclasses.replace(self.config, workspace=workspace), lock_timeout=self.lock_timeout)

    @property
    def location(self) -> str:
        return f"s3://{self.config.bucket}/{self.config.state_key}"

    # -- clients -------------------------------------------------------------------------------

    def _client_config(self) -> Any:
        from botocore.config import Config

        kwargs: dict[str, Any] = {
            "retries": {"mode": "adaptive", "max_attempts": self.config.max_attempts},
            "connect_timeout": self.config.connect_timeout,
            "read_timeout": self.config.read_timeout,
        }
        if self.config.use_path_style:
            kwargs["s3"] = {"addressing_style": "path"}
        if self.config.skip_s3_checksum:
            kwargs["request_checksum_calculation"] = "when_required"
            kwargs["response_checksum_validation"] = "when_required"
        return Config(**kwargs)

    def _boto_session(self) -> Any:
        # called with self._client_lock held
        if self._session is not None:
            return self._session
        from botocore.exceptions import BotoCoreError, ProfileNotFound

        cfg = self.config
        try:
            session = new_boto_session(
                profile_name=cfg.profile,
                # Terraform also takes AWS_REGION; botocore itself reads AWS_DEFAULT_REGION and the profile
                region_name=cfg.region or os.environ.get("AWS_REGION") or None,
                aws_access_key_id=cfg.access_key,
                aws_secret_access_key=cfg.secret_key,
                aws_session_token=cfg.token,
            )
            if cfg.profile and cfg.profile not in session.available_profiles:
                raise ProfileNotFound(profile=cfg.profile)
            region = session.region_name
        except ProfileNotFound:
            raise self._profile_error() from None
        except BotoCoreError as exc:
            raise BackendError(f"cannot set up AWS access for {self.location}: {exc}") from exc
        if not region:
            raise ConfigError(
                f"s3 backend {self.location}: missing region value",
                hint='set "region" in the backend block or the AWS_REGION / AWS_DEFAULT_REGION environment variable',
            )
        if cfg.role_arn:
            session = _assume_role_session(session, cfg, region, self._client_config())
        self._session = session
        return session

    def _profile_error(self) -> ConfigError:
        return ConfigError(
            f"AWS profile '{self.config.profile}' (s3 backend {self.location}) is not in the AWS config files",
            hint="check `profile` in the backend configuration, or run `aws configure list-profiles`",
        )

    def _client(self, service: str) -> Any:
        client = self._clients.get(service)
        if client is not None:
            return client
        from botocore.exceptions import BotoCoreError, ProfileNotFound

        with self._client_lock:
            client = self._clients.get(service)
            if client is None:
                session = self._boto_session()
                try:
                    client = session.client(
                        service,
                        region_name=session.region_name,
                        endpoint_url=self.config.endpoint_for(service),
                        config=self._client_config(),
                    )
                except ProfileNotFound:
                    raise self._profile_error() from None
                except BotoCoreError as exc:
                    raise self._translate(exc, f"creating the {service} client for") from exc
                self._clients[service] = client
        return client

    @property
    def _s3(self) -> Any:
        return self._client("s3")

    @property
    def _ddb(self) -> Any:
        return self._client("dynamodb")

    # -- error handling ------------------------------------------------------------------------

    def _call(
        self, fn: Callable[..., Any], what: str, *, handle: frozenset[str] = frozenset(), **params: Any
    ) -> Any:
        """Call ``fn(**params)``; AWS errors whose code is in ``handle`` raise _RawAwsError, others BackendError."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(**params)
        except ClientError as exc:
            code, _ = _error_parts(exc)
            if code in handle or _error_code(exc) in handle:
                raise _RawAwsError(code, exc) from exc
            raise self._translate(exc, what) from exc
        except BotoCoreError as exc:
            raise self._translate(exc, what) from exc

    def _translate(self, exc: Exception, what: str) -> Exception:
        from botocore.exceptions import (
            ClientError,
            ConnectionClosedError,
            ConnectTimeoutError,
            EndpointConnectionError,
            NoCredentialsError,
            NoRegionError,
            PartialCredentialsError,
            ReadTimeoutError,
        )

        loc = self.location
        cfg = self.config
        if isinstance(exc, ClientError):
            code, message = _error_parts(exc)
            detail = f"{code}: {message}" if message else code
            if code == "NoSuchBucket":
                return BackendError(
                    f"S3 bucket '{cfg.bucket}' does not exist ({what} {loc})",
                    hint="create the bucket first, or fix `bucket` (and `region`) in the backend configuration",
                )
            if code == "ResourceNotFoundException":
                return BackendError(
                    f"DynamoDB table '{cfg.dynamodb_table}' does not exist ({what} {loc}; {detail})",
                    hint="create the table (partition key `LockID`, type String) or fix `dynamodb_table`",
                )
            if code in _CREDENTIAL_ERRORS:
                return BackendError(
                    f"AWS rejected the credentials while {what} {loc} ({detail})",
                    hint="check AWS_PROFILE / `profile`, renew an SSO session (`aws sso login`) or the keys",
                )
            if code in _ACCESS_DENIED:
                return BackendError(
                    f"access denied while {what} {loc} ({detail})",
                    hint="the identity needs s3:GetObject/PutObject/DeleteObject/ListBucket on the bucket"
                    + (", dynamodb:GetItem/PutItem/DeleteItem on the table" if cfg.dynamodb_table else ""),
                )
            return BackendError(f"{what} {loc} failed ({detail})")
        if isinstance(exc, NoCredentialsError | PartialCredentialsError):
            return BackendError(
                f"no usable AWS credentials for {loc} ({exc})",
                hint="set AWS_PROFILE or `profile`, run `aws sso login`, or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
            )
        if isinstance(exc, NoRegionError):
            return ConfigError(f"s3 backend {loc}: missing region value ({exc})")
        if isinstance(
            exc, EndpointConnectionError | ConnectTimeoutError | ConnectionClosedError | ReadTimeoutError
        ):
            endpoint = getattr(exc, "kwargs", {}).get("endpoint_url", "the AWS endpoint")
            return BackendError(
                f"cannot reach {endpoint} while {what} {loc} ({type(exc).__name__}: {exc})",
                hint="check the network / proxy, and `endpoints` or AWS_ENDPOINT_URL if a custom endpoint is set",
            )
        return BackendError(f"{what} {loc} failed ({type(exc).__name__}: {exc})")

    # -- read ----------------------------------------------------------------------------------

    def _get_state(self) -> tuple[bytes, str] | None:
        cfg = self.config
        try:
            resp = self._call(
                self._s3.get_object,
                "reading",
                handle=frozenset({"NoSuchKey"}),
                Bucket=cfg.bucket,
                Key=cfg.state_key,
            )
        except _RawAwsError:
            return None
        try:
            data = resp["Body"].read()
        except Exception as exc:
            raise self._translate(exc, "reading") from exc
        finally:
            resp["Body"].close()
        return data, self._version_token(resp)

    @staticmethod
    def _version_token(resp: Mapping[str, Any]) -> str:
        version_id = resp.get("VersionId")
        if version_id and version_id != "null":
            return str(version_id)
        return str(resp["ETag"])

    def _get_digest(self) -> str | None:
        """The hex MD5 Terraform recorded for this state, or None (no table, no item, unreadable item)."""
        cfg = self.config
        if not cfg.dynamodb_table:
            return None
        try:
            resp = self._call(
                self._ddb.get_item,
                f"reading the state digest from DynamoDB table '{cfg.dynamodb_table}' for",
                TableName=cfg.dynamodb_table,
                Key={"LockID": {"S": cfg.lock_id + DIGEST_SUFFIX}},
                ProjectionExpression="LockID, Digest",
                ConsistentRead=True,
            )
        except BackendError as exc:
            # Terraform only warns when the digest cannot be fetched; the lock will fail loudly anyway.
            log.warning("failed to fetch state MD5 for %s: %s", self.location, exc)
            return None
        value = resp.get("Item", {}).get("Digest", {}).get("S", "")
        if not re.fullmatch(r"[0-9a-fA-F]{32}", value):
            if value:
                log.warning("invalid state MD5 %r stored for %s; ignored", value, self.location)
            return None
        return value.lower()

    def read(self) -> StateObject | None:
        cfg = self.config
        retries = 0
        while True:
            got = self._get_state()
            expected = self._get_digest()
            actual = hashlib.md5(got[0], usedforsecurity=False).hexdigest() if got else ""
            if expected is None or expected == actual:
                break
            log.warning(
                "state MD5 mismatch for %s: expected %s, got %s", self.location, expected, actual or "-"
            )
            if retries >= cfg.digest_retries:
                raise BackendError(
                    "state data in S3 does not have the expected content: "
                    f"bucket {cfg.bucket}, key {cfg.state_key}, calculated checksum "
                    f"{actual or '(no state object)'}, stored checksum {expected} "
                    f"(DynamoDB table '{cfg.dynamodb_table}', LockID {cfg.lock_id}{DIGEST_SUFFIX})",
                    hint=(
                        "this may be a delay in S3 processing a previous update: wait a minute and try again. "
                        "If it persists, verify the state in S3 by hand, then "
                        + (
                            f"set the Digest in DynamoDB to {actual}"
                            if actual
                            else "remove the Digest item from DynamoDB"
                        )
                    ),
                )
            retries += 1
            time.sleep(cfg.digest_retry_interval)
        if got is None or not got[0]:
            # Terraform treats an empty object as no state; remember what exists for the next write
            self._observed = _ABSENT if got is None else got[1]
            return None
        self._observed = got[1]
        return StateObject(got[0], got[1])

    # -- write ---------------------------------------------------------------------------------

    def _put_params(self, key: str, body: bytes) -> dict[str, Any]:
        cfg = self.config
        params: dict[str, Any] = {
            "Bucket": cfg.bucket,
            "Key": key,
            "Body": body,
            "ContentType": "application/json",
        }
        if cfg.encrypt:
            if cfg.kms_key_id:
                params["ServerSideEncryption"] = "aws:kms"
                params["SSEKMSKeyId"] = cfg.kms_key_id
            else:
                params["ServerSideEncryption"] = "AES256"
        if cfg.acl:
            params["ACL"] = cfg.acl
        return params

    def _etag_of_version(self, version_id: str) -> str:
        cfg = self.config
        try:
            resp = self._call(
                self._s3.head_object,
                "checking the version read of",
                handle=_NOT_FOUND_CODES | frozenset({"400", "InvalidArgument"}),
                Bucket=cfg.bucket,
                Key=cfg.state_key,
                VersionId=version_id,
            )
        except _RawAwsError:
            raise StateConflictError(
                f"state {self.location} changed since it was read: version {version_id} no longer exists; "
                "nothing was written",
                hint="read the state again and redo the change",
            ) from None
        return str(resp["ETag"])

    def write(
        self, data: bytes, *, lock: LockInfo | None, expected_version: str | None = None
    ) -> StateObject:
        """Put the state (conditionally), then record its MD5 digest when ``dynamodb_table`` is set.

        ``expected_version`` (a token from ``read()``/``write()``: an ETag, or a VersionId on a
        versioned bucket) makes the put ``If-Match`` that object; without it the put is
        ``If-None-Match: *`` when this instance last saw no object, else unconditional.
        A failed condition raises StateConflictError and leaves the object as it was.
        When ``lock`` is given and locking is configured, the lock must still be in place.
        """
        cfg = self.config
        if lock is not None:
            self._verify_lock_held(lock)
        params = self._put_params(cfg.state_key, data)
        if expected_version is not None:
            etag = (
                expected_version
                if expected_version.startswith('"')
                else self._etag_of_version(expected_version)
            )
            params["IfMatch"] = etag
        elif self._observed is _ABSENT:
            params["IfNoneMatch"] = "*"
        try:
            resp = self._call(
                self._s3.put_object, "writing", handle=_CONFLICT_CODES | frozenset({"NoSuchKey"}), **params
            )
        except _RawAwsError as raw:
            self._observed = _UNKNOWN
            if "IfNoneMatch" in params:
                why = "it was created by someone else after it was found absent"
            elif raw.code == "NoSuchKey":
                why = "it was deleted after it was read"
            else:
                why = (
                    f"it was changed by someone else after it was read (expected version {expected_version})"
                )
            raise StateConflictError(
                f"state {self.location} not written: {why}; the object was left as it is",
                hint="read the state again and redo the change",
            ) from None
        version = self._version_token(resp)
        self._observed = version
        if cfg.dynamodb_table:
            digest = hashlib.md5(data, usedforsecurity=False).hexdigest()
            try:
                self._call(
                    self._ddb.put_item,
                    f"recording the state digest in DynamoDB table '{cfg.dynamodb_table}' for",
                    TableName=cfg.dynamodb_table,
                    Item={"LockID": {"S": cfg.lock_id + DIGEST_SUFFIX}, "Digest": {"S": digest}},
                )
            except BackendError as exc:
                raise BackendError(
                    f"state {self.location} was written, but its digest was not recorded: {exc.message}",
                    hint=f"until the Digest of item {cfg.lock_id}{DIGEST_SUFFIX} is set to {digest}, "
                    "Terraform and driftmgr will refuse to read this state",
                ) from exc
        return StateObject(data, version)

    # -- locking -------------------------------------------------------------------------------

    @staticmethod
    def _lock_json(info: LockInfo) -> str:
        # Go's json.Marshal of statemgr.LockInfo: same key order, compact
        return json.dumps(info.to_terraform(), separators=(",", ":"))

    def _parse_lock(self, raw: bytes | str, where: str) -> LockInfo:
        try:
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise ValueError("not an object")
        except ValueError:
            log.warning("unreadable lock info in %s for %s: %r", where, self.location, raw[:200])
            return LockInfo(id="", info=f"unreadable lock info in {where}")
        return LockInfo.from_terraform(data)

    def _locking_configured(self) -> bool:
        return bool(self.config.use_lockfile or self.config.dynamodb_table)

    def _read_lockfile(self) -> tuple[LockInfo, str] | None:
        cfg = self.config
        try:
            resp = self._call(
                self._s3.get_object,
                f"reading the lock file {cfg.lockfile_key} of",
                handle=frozenset({"NoSuchKey"}),
                Bucket=cfg.bucket,
                Key=cfg.lockfile_key,
            )
        except _RawAwsError:
            return None
        try:
            body = resp["Body"].read()
        finally:
            resp["Body"].close()
        return self._parse_lock(body, f"s3://{cfg.bucket}/{cfg.lockfile_key}"), str(resp["ETag"])

    def _read_dynamodb_lock(self) -> tuple[LockInfo, str] | None:
        cfg = self.config
        resp = self._call(
            self._ddb.get_item,
            f"reading the lock in DynamoDB table '{cfg.dynamodb_table}' for",
            TableName=cfg.dynamodb_table,
            Key={"LockID": {"S": cfg.lock_id}},
            ProjectionExpression="LockID, Info",
            ConsistentRead=True,
        )
        item = resp.get("Item")
        if not item:
            return None
        raw = item.get("Info", {}).get("S", "")
        return self._parse_lock(raw, f"DynamoDB table '{cfg.dynamodb_table}'"), raw

    def _lock_with_file(self, info: LockInfo) -> None:
        cfg = self.config
        params = self._put_params(cfg.lockfile_key, self._lock_json(info).encode())
        params["IfNoneMatch"] = "*"
        try:
            self._call(
                self._s3.put_object,
                f"taking the lock file {cfg.lockfile_key} of",
                handle=_CONFLICT_CODES,
                **params,
            )
        except _RawAwsError:
            held = self._read_lockfile()
            if held is None:
                raise StateLockedError(
                    self.location,
                    None,
                    detail=f"lock file {cfg.lockfile_key} was held briefly by another client; try again",
                ) from None
            raise StateLockedError(self.location, held[0]) from None

    def _lock_with_dynamodb(self, info: LockInfo) -> None:
        cfg = self.config
        try:
            self._call(
                self._ddb.put_item,
                f"taking the lock in DynamoDB table '{cfg.dynamodb_table}' for",
                handle=frozenset({"ConditionalCheckFailedException"}),
                TableName=cfg.dynamodb_table,
                Item={"LockID": {"S": cfg.lock_id}, "Info": {"S": self._lock_json(info)}},
                ConditionExpression="attribute_not_exists(LockID)",
            )
        except _RawAwsError:
            held = self._read_dynamodb_lock()
            if held is None:
                raise StateLockedError(
                    self.location,
                    None,
                    detail="the DynamoDB lock was held briefly by another client; try again",
                ) from None
            raise StateLockedError(self.location, held[0]) from None

    def lock(self, info: LockInfo) -> LockInfo:
        """Take the lock file and/or the DynamoDB lock (lock file first). Without either, take nothing.

        Returns ``info`` with ``path`` set to ``{bucket}/{key}`` and an ID generated when empty,
        exactly what is stored.
        """
        cfg = self.config
        info = dataclasses.replace(info, id=info.id or str(uuid.uuid4()), path=cfg.lock_id)
        if not self._locking_configured():
            log.info("s3 backend %s has no dynamodb_table and no use_lockfile: not locking", self.location)
            return info
        return retry_while_locked(lambda: self._try_lock(info), self.lock_timeout)

    def _try_lock(self, info: LockInfo) -> LockInfo:
        cfg = self.config
        if cfg.use_lockfile:
            self._lock_with_file(info)
        if cfg.dynamodb_table:
            try:
                self._lock_with_dynamodb(info)
            except BaseException as exc:
                if cfg.use_lockfile:
                    try:
                        self._release_lockfile(info.id, force=False)
                    except Exception as cleanup:
                        raise BackendError(
                            f"failed to release lock file {cfg.lockfile_key} after the DynamoDB lock failed "
                            f"({cleanup}); original error: {exc}",
                            hint=f"release it with `driftmgr state unlock {info.id}`",
                        ) from exc
                raise
        return info

    def _release_lockfile(self, lock_id: str, *, force: bool) -> bool:
        cfg = self.config
        held = self._read_lockfile()
        if held is None:
            return False
        holder, etag = held
        if not force and holder.id != lock_id:
            raise BackendError(
                f"lock ID {lock_id!r} does not match the lock file of {self.location} ({holder.describe()})",
                hint="only the holder's ID releases a lock; force-unlock only if that operation is dead",
            )
        params: dict[str, Any] = {"Bucket": cfg.bucket, "Key": cfg.lockfile_key}
        if not force:
            params["IfMatch"] = etag
        try:
            self._call(
                self._s3.delete_object,
                f"releasing the lock file {cfg.lockfile_key} of",
                handle=_CONFLICT_CODES,
                **params,
            )
        except _RawAwsError:
            raise BackendError(
                f"lock file of {self.location} changed while being released; it was left in place",
                hint="someone else may hold the lock now: check its holder before retrying",
            ) from None
        return True

    def _release_dynamodb(self, lock_id: str, *, force: bool) -> bool:
        cfg = self.config
        held = self._read_dynamodb_lock()
        if held is None:
            return False
        holder, raw = held
        if not force and holder.id != lock_id:
            raise BackendError(
                f"lock ID {lock_id!r} does not match the DynamoDB lock of {self.location} ({holder.describe()})",
                hint="only the holder's ID releases a lock; force-unlock only if that operation is dead",
            )
        params: dict[str, Any] = {"TableName": cfg.dynamodb_table, "Key": {"LockID": {"S": cfg.lock_id}}}
        if not force:
            params["ConditionExpression"] = "Info = :info"
            params["ExpressionAttributeValues"] = {":info": {"S": raw}}
        try:
            self._call(
                self._ddb.delete_item,
                f"releasing the lock in DynamoDB table '{cfg.dynamodb_table}' for",
                handle=frozenset({"ConditionalCheckFailedException"}),
                **params,
            )
        except _RawAwsError:
            raise BackendError(
                f"DynamoDB lock of {self.location} changed while being released; it was left in place",
            ) from None
        return True

    def unlock(self, lock_id: str, *, force: bool = False) -> None:
        """Release the lock file and/or DynamoDB lock held under ``lock_id``.

        Without ``force`` every lock present must carry ``lock_id`` (checked before anything is
        released), else BackendError naming the holder; ``force`` removes them regardless.
        """
        cfg = self.config
        if not self._locking_configured():
            return
        if not force:
            holders = []
            if cfg.use_lockfile and (held := self._read_lockfile()):
                holders.append(held[0])
            if cfg.dynamodb_table and (held_ddb := self._read_dynamodb_lock()):
                holders.append(held_ddb[0])
            if not holders:
                raise BackendError(
                    f"state {self.location} is not locked (no lock with ID {lock_id!r} to release)"
                )
            for holder in holders:
                if holder.id != lock_id:
                    raise BackendError(
                        f"lock ID {lock_id!r} does not match the lock on {self.location} ({holder.describe()})",
                        hint="only the holder's ID releases a lock; force-unlock only if that operation is dead",
                    )
        errors: list[str] = []
        if cfg.use_lockfile:
            try:
                self._release_lockfile(lock_id, force=force)
            except BackendError as exc:
                errors.append(exc.message)
        if cfg.dynamodb_table:
            try:
                self._release_dynamodb(lock_id, force=force)
            except BackendError as exc:
                errors.append(exc.message)
        if errors:
            raise BackendError("; ".join(errors))

    def current_lock(self) -> LockInfo | None:
        cfg = self.config
        if cfg.use_lockfile and (held := self._read_lockfile()):
            return held[0]
        if cfg.dynamodb_table and (held_ddb := self._read_dynamodb_lock()):
            return held_ddb[0]
        return None

    def _verify_lock_held(self, lock: LockInfo) -> None:
        """Refuse to write when the caller's lock is no longer the one in place (e.g. force-unlocked)."""
        if not self._locking_configured():
            return
        holders = []
        if self.config.use_lockfile:
            holders.append(self._read_lockfile())
        if self.config.dynamodb_table:
            holders.append(self._read_dynamodb_lock())
        for held in holders:
            if held is None:
                raise BackendError(
                    f"refusing to write {self.location}: lock {lock.id} is no longer held (was it force-unlocked?)",
                    hint="take the lock again, re-read the state and redo the change",
                )
            if held[0].id != lock.id:
                raise StateLockedError(self.location, held[0])

    # -- workspaces and versions ---------------------------------------------------------------

    def _workspace_of(self, key: str) -> str | None:
        # Terraform's keyEnv
        cfg = self.config
        prefix = cfg.workspace_key_prefix
        if not prefix:
            parts = key.split("/", 1)
            return parts[0] if len(parts) == 2 and parts[1] == cfg.key else None
        prefix += "/"
        if not key.startswith(prefix):
            return None
        parts = key[len(prefix) :].split("/", 1)
        if len(parts) < 2 or parts[1] != cfg.key or not parts[0]:
            return None
        return parts[0]

    def workspaces(self) -> list[str]:
        """Workspaces with a state object: ``default`` first (when its object exists), then sorted.

        (Terraform itself always lists ``default``, existing or not.)
        """
        cfg = self.config
        prefix = f"{cfg.workspace_key_prefix}/" if cfg.workspace_key_prefix else ""
        found: set[str] = set()
        token: str | None = None
        while True:
            params: dict[str, Any] = {"Bucket": cfg.bucket, "Prefix": prefix, "MaxKeys": 1000}
            if token:
                params["ContinuationToken"] = token
            page = self._call(self._s3.list_objects_v2, "listing workspaces of", **params)
            for obj in page.get("Contents", []):
                ws = self._workspace_of(obj["Key"])
                if ws and ws != DEFAULT_WORKSPACE:
                    found.add(ws)
            if not page.get("IsTruncated"):
                break
            token = page.get("NextContinuationToken")
        result = sorted(found)
        try:
            self._call(
                self._s3.head_object, "checking", handle=_NOT_FOUND_CODES, Bucket=cfg.bucket, Key=cfg.key
            )
            result.insert(0, DEFAULT_WORKSPACE)
        except _RawAwsError:
            pass
        return result

    def versioning_enabled(self) -> bool:
        """True when the bucket keeps object versions (versioning Enabled or Suspended)."""
        resp = self._call(self._s3.get_bucket_versioning, "checking versioning of", Bucket=self.config.bucket)
        return resp.get("Status") in ("Enabled", "Suspended")

    def versions(self, limit: int = 50) -> list[dict[str, Any]]:
        """Past versions of this state, newest first: version_id, last_modified, size, is_latest, etag.

        [] when the bucket has no versioning.
        """
        cfg = self.config
        if limit <= 0 or not self.versioning_enabled():
            return []
        result: list[dict[str, Any]] = []
        params: dict[str, Any] = {
            "Bucket": cfg.bucket,
            "Prefix": cfg.state_key,
            "MaxKeys": min(1000, limit + 10),
        }
        while len(result) < limit:
            page = self._call(self._s3.list_object_versions, "listing versions of", **params)
            for v in page.get("Versions", []):
                if v["Key"] != cfg.state_key:  # the prefix also matches "<key>.tflock" and longer keys
                    continue
                result.append(
                    {
                        "version_id": v["VersionId"],
                        "last_modified": v["LastModified"],
                        "size": v.get("Size", 0),
                        "is_latest": bool(v.get("IsLatest")),
                        "etag": v.get("ETag"),
                    }
                )
            if not page.get("IsTruncated"):
                break
            params["KeyMarker"] = page.get("NextKeyMarker")
            params["VersionIdMarker"] = page.get("NextVersionIdMarker")
        return result[:limit]

    def read_version(self, version_id: str) -> bytes:
        """The bytes of one past version (see ``versions()``)."""
        cfg = self.config
        try:
            resp = self._call(
                self._s3.get_object,
                f"reading version {version_id} of",
                handle=_NOT_FOUND_CODES | frozenset({"400", "InvalidArgument"}),
                Bucket=cfg.bucket,
                Key=cfg.state_key,
                VersionId=version_id,
            )
        except _RawAwsError as raw:
            raise BackendError(
                f"version {version_id} of {self.location} does not exist ({raw.code})"
            ) from None
        try:
            return resp["Body"].read()
        finally:
            resp["Body"].close()


# -- how backends/config.py builds this backend --------------------------------------------------

_SPEC_PARAMS = frozenset({
    "region", "dynamodb_table", "use_lockfile", "endpoint_url", "workspace", "workspace_key_prefix",
    "profile", "encrypt", "kms_key_id", "role_arn", "use_path_style",
})


def build_from_terraform(config: Mapping[str, Any], *, workspace: str, **_: Any) -> S3Backend:
    """A ``backend "s3"`` block (or the backend cache's config) for ``workspace``."""
    return S3Backend(S3BackendConfig.from_terraform_config(config, workspace=workspace))


def build_from_spec(spec: str, parts: Any, params: dict[str, str]) -> S3Backend:
    """``s3://BUCKET/KEY?region=..&dynamodb_table=..&use_lockfile=true&endpoint_url=..&workspace=..``."""
    from urllib.parse import unquote


    bucket = parts.netloc
    key = unquote(parts.path.lstrip("/"))
    if not bucket or not key:
        raise ConfigError(f"state spec {spec!r}: expected s3://BUCKET/KEY")
    check_spec_params(spec, params, _SPEC_PARAMS)
    return S3Backend(
        S3BackendConfig(
            bucket=bucket,
            key=key,
            region=params.get("region") or None,
            workspace_key_prefix=params.get("workspace_key_prefix", DEFAULT_WORKSPACE_KEY_PREFIX),
            workspace=params.get("workspace") or DEFAULT_WORKSPACE,
            dynamodb_table=params.get("dynamodb_table") or None,
            use_lockfile=spec_bool("use_lockfile", params.get("use_lockfile", "false")),
            encrypt=spec_bool("encrypt", params.get("encrypt", "false")),
            kms_key_id=params.get("kms_key_id") or None,
            profile=params.get("profile") or None,
            endpoint_url=params.get("endpoint_url") or None,
            role_arn=params.get("role_arn") or None,
            use_path_style=spec_bool("use_path_style", params.get("use_path_style", "false")),
        )
    )
