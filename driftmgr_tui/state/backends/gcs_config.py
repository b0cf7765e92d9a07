"""Configuration and credentials of the ``gcs`` state backend (``backend "gcs"`` in Terraform 1.11).

Attributes: ``bucket`` (required), ``prefix`` (state at ``PREFIX/WORKSPACE.tfstate``; a leading ``/``
dropped, a trailing one added), ``credentials`` (a key file path or its JSON), ``access_token`` (wins over
``credentials``, as in Terraform), ``impersonate_service_account`` and its ``_delegates``,
``encryption_key`` (base64 AES-256 key, or a file holding it), ``kms_encryption_key`` and
``storage_custom_endpoint``. An unset or empty attribute falls back on the environment variables Terraform
reads for it (``ENV_FALLBACKS``).

Without ``access_token``/``credentials``, Google's application-default credentials are used, except
with a custom endpoint and no GOOGLE_APPLICATION_CREDENTIALS, where requests go unauthenticated (an
emulator). Nothing here imports a Google library at import time.
"""

from __future__ import annotations

import base64
import binascii
import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from driftmgr_tui.core.errors import ConfigError, ProviderAuthError

DEFAULT_WORKSPACE = "default"
STATE_SUFFIX = ".tfstate"
LOCK_SUFFIX = ".tflock"
SCOPE_READ_WRITE = "https://www.googleapis.com/auth/devstorage.read_write"
SCOPE_CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
IAM_CREDENTIALS_ENDPOINT = "https://iamcredentials.googleapis.com/v1/"
ADC_HINT = (
    "run `gcloud auth application-default login`, set GOOGLE_APPLICATION_CREDENTIALS, or set "
    "`credentials` / `access_token` in the backend configuration"
)

# attribute -> environment variables consulted (in order) when the attribute is unset or empty
ENV_FALLBACKS: dict[str, tuple[str, ...]] = {
    "access_token": ("GOOGLE_OAUTH_ACCESS_TOKEN",),
    "credentials": ("GOOGLE_BACKEND_CREDENTIALS", "GOOGLE_CREDENTIALS"),
    "impersonate_service_account": (
        "GOOGLE_BACKEND_IMPERSONATE_SERVICE_ACCOUNT",
        "GOOGLE_IMPERSONATE_SERVICE_ACCOUNT",
    ),
    "encryption_key": ("GOOGLE_ENCRYPTION_KEY",),
    "kms_encryption_key": ("GOOGLE_KMS_ENCRYPTION_KEY",),
    "storage_custom_endpoint": ("GOOGLE_BACKEND_STORAGE_CUSTOM_ENDPOINT", "GOOGLE_STORAGE_CUSTOM_ENDPOINT"),
    # not read by Terraform's backend; the variable the google provider reads for the same API
    "iam_credentials_endpoint": ("GOOGLE_IAM_CREDENTIALS_CUSTOM_ENDPOINT",),
}
TERRAFORM_ATTRS = frozenset(
    {
        "bucket",
        "prefix",
        "credentials",
        "access_token",
        "impersonate_service_account",
        "impersonate_service_account_delegates",
        "encryption_key",
        "kms_encryption_key",
        "storage_custom_endpoint",
    }
)
# secrets are not accepted in a spec (it ends up in config files, shell history and logs)
SECRET_SPEC_PARAMS = {"access_token": "GOOGLE_OAUTH_ACCESS_TOKEN", "encryption_key": "GOOGLE_ENCRYPTION_KEY"}
SPEC_PARAMS = frozenset(
    {
        "workspace",
        "credentials",
        "impersonate_service_account",
        "kms_encryption_key",
        "storage_custom_endpoint",
    }
)


def _as_str(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    raise ConfigError(f"gcs backend: attribute '{name}' must be a string, got {type(value).__name__}")


def read_path_or_contents(value: str, attr: str) -> str:
    """Terraform's readPathOrContents: the file's text when ``value`` names an existing path, else
    ``value`` itself."""
    path = os.path.expanduser(value) if value.startswith("~") else value
    if "\n" in path or "{" in path or not os.path.exists(path):
        return value
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"gcs backend: attribute '{attr}': cannot read {path}: {exc}") from None


def decode_encryption_key(value: str) -> bytes:
    """The 32 raw bytes of a base64 customer-supplied key (given as is or in a file)."""
    text = read_path_or_contents(value, "encryption_key").strip()
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(
            "gcs backend: attribute 'encryption_key' is not valid base64",
            hint="give the AES-256 key base64-encoded, e.g. from `openssl rand -base64 32`",
        ) from None
    if len(key) != 32:
        raise ConfigError(
            f"gcs backend: attribute 'encryption_key' must decode to 32 bytes (AES-256), got {len(key)}"
        )
    return key


@dataclass
class GcsBackendConfig:
    """Where one Terraform GCS state lives and how to reach it (attribute names as in ``backend "gcs"``)."""

    bucket: str
    prefix: str = ""
    workspace: str = DEFAULT_WORKSPACE
    credentials: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)
    impersonate_service_account: str | None = None
    impersonate_service_account_delegates: tuple[str, ...] = ()
    encryption_key: str | None = field(default=None, repr=False)
    kms_encryption_key: str | None = None
    storage_custom_endpoint: str | None = None
    #: base URL of the IAM Credentials API used for impersonation (GOOGLE_IAM_CREDENTIALS_CUSTOM_ENDPOINT)
    iam_credentials_endpoint: str | None = None
    #: send requests unauthenticated when no credentials are configured and a custom endpoint is set
    anonymous_with_custom_endpoint: bool = True
    #: how long google-cloud-storage keeps retrying one call (its default: 120 s), and its backoff
    retry_timeout: float = 120.0
    retry_initial_delay: float = 1.0
    retry_max_delay: float = 60.0
    request_timeout: float = 60.0

    def __post_init__(self) -> None:
        if not self.bucket:
            raise ConfigError("gcs backend: missing required attribute 'bucket'")
        if "/" in self.bucket:
            raise ConfigError(
                f"gcs backend: attribute 'bucket' must be a bucket name, not a path: {self.bucket!r}"
            )
        self.prefix = self.prefix.lstrip("/")
        if self.prefix and not self.prefix.endswith("/"):
            self.prefix += "/"
        if not self.workspace:
            self.workspace = DEFAULT_WORKSPACE
        if "/" in self.workspace:
            raise ConfigError(f"gcs backend: workspace name must not contain '/': {self.workspace!r}")
        if self.encryption_key and self.kms_encryption_key:
            raise ConfigError("gcs backend: can't set both encryption_key and kms_encryption_key")
        if self.encryption_key:
            decode_encryption_key(self.encryption_key)
        for name in ("storage_custom_endpoint", "iam_credentials_endpoint"):
            url = getattr(self, name)
            if url and urlsplit(url).scheme not in ("http", "https"):
                raise ConfigError(f"gcs backend: attribute '{name}' must be an http(s) URL, got {url!r}")

    # -- derived names -------------------------------------------------------------------------

    def object_name(self, workspace: str, suffix: str) -> str:
        # Go's path.Join(prefix, name): joined and cleaned
        return posixpath.normpath(posixpath.join(self.prefix, workspace + suffix))

    @property
    def state_name(self) -> str:
        return self.object_name(self.workspace, STATE_SUFFIX)

    @property
    def lock_name(self) -> str:
        return self.object_name(self.workspace, LOCK_SUFFIX)

    @property
    def api_endpoint(self) -> str | None:
        """``storage_custom_endpoint`` as the Python client wants it: scheme and host, no ``/storage/v1/``."""
        if not self.storage_custom_endpoint:
            return None
        url = self.storage_custom_endpoint.rstrip("/")
        return url.removesuffix("/storage/v1").rstrip("/")

    # -- from Terraform ------------------------------------------------------------------------

    @classmethod
    def from_terraform_config(
        cls,
        cfg: Mapping[str, Any],
        workspace: str = DEFAULT_WORKSPACE,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> GcsBackendConfig:
        """Build from a ``backend "gcs"`` block or the ``config`` of ``.terraform/terraform.tfstate``.

        Null values (the backend cache lists every attribute, unset ones as null) count as absent;
        unset or empty attributes fall back on Terraform's environment variables.
        """
        c = {k: v for k, v in cfg.items() if v is not None}
        if "encryption_key" in c and "kms_encryption_key" in c:
            raise ConfigError("gcs backend: can't set both encryption_key and kms_encryption_key")
        if c.get("bucket") in (None, ""):
            raise ConfigError("gcs backend: missing required attribute 'bucket'")
        values = {
            name: _as_str(name, c[name]) for name in ENV_FALLBACKS if name in c and name in TERRAFORM_ATTRS
        }
        delegates = c.get("impersonate_service_account_delegates") or []
        if not isinstance(delegates, list) or not all(isinstance(d, str) for d in delegates):
            raise ConfigError(
                "gcs backend: attribute 'impersonate_service_account_delegates' must be a list of strings"
            )
        return cls(
            bucket=_as_str("bucket", c["bucket"]),
            prefix=_as_str("prefix", c.get("prefix", "")),
            workspace=workspace or DEFAULT_WORKSPACE,
            impersonate_service_account_delegates=tuple(delegates),
            **_with_env(values, environ if environ is not None else os.environ),
        )

    @classmethod
    def from_spec(
        cls, spec: str, parts: Any, params: dict[str, str], *, environ: Mapping[str, str] | None = None
    ) -> GcsBackendConfig:
        """``gs://BUCKET[/PREFIX][?workspace=W&...]``; a path ending ``.tfstate`` names the workspace's
        object itself."""
        from driftmgr_tui.state.backends.config import check_spec_params

        bucket = parts.netloc
        path = unquote(parts.path).lstrip("/")
        if not bucket:
            raise ConfigError(f"state spec {spec!r}: expected gs://BUCKET[/PREFIX]")
        for name, env in SECRET_SPEC_PARAMS.items():
            if name in params:
                raise ConfigError(
                    f"state spec {spec!r}: '{name}' is a secret and is not accepted in a spec",
                    hint=f"set {env} in the environment instead",
                )
        check_spec_params(spec, params, SPEC_PARAMS)
        workspace = params.get("workspace") or ""
        prefix = path
        if path.endswith(STATE_SUFFIX):
            prefix, _, base = path.rpartition("/")
            if workspace:
                raise ConfigError(
                    f"state spec {spec!r}: names the workspace twice (object {base} and workspace=)"
                )
            workspace = base.removesuffix(STATE_SUFFIX)
            if not workspace:
                raise ConfigError(f"state spec {spec!r}: '{base}' names no workspace")
        credentials = params.get("credentials")
        if credentials and not os.path.isfile(os.path.expanduser(credentials)):
            raise ConfigError(
                f"state spec {spec!r}: credentials file {credentials} does not exist",
                hint="a spec takes the path of a key file; the key's JSON itself is a secret",
            )
        values = {k: v for k, v in params.items() if k in ENV_FALLBACKS}
        if credentials:
            values["credentials"] = os.path.expanduser(credentials)
        return cls(
            bucket=bucket,
            prefix=prefix,
            workspace=workspace or DEFAULT_WORKSPACE,
            **_with_env(values, environ if environ is not None else os.environ),
        )


def _with_env(values: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, variables in ENV_FALLBACKS.items():
        value = values.get(name) or next((environ[v] for v in variables if environ.get(v)), None)
        out[name] = value or None
    return out


# -- credentials -------------------------------------------------------------------------------


def _from_json(value: str, scopes: list[str]) -> Any:
    import json

    from google.auth.exceptions import GoogleAuthError

    source = "`credentials` (or GOOGLE_BACKEND_CREDENTIALS / GOOGLE_CREDENTIALS)"
    contents = read_path_or_contents(value, "credentials")
    try:
        info = json.loads(contents)
    except ValueError:
        raise ConfigError(
            f"gcs backend: {source} is neither valid JSON nor the path of an existing file"
        ) from None
    if not isinstance(info, dict):
        raise ConfigError(f"gcs backend: {source} must hold a JSON object (a service-account key)")
    kind = info.get("type")
    try:
        if kind == "service_account":
            from google.oauth2 import service_account

            return service_account.Credentials.from_service_account_info(info, scopes=scopes)
        if kind == "authorized_user":
            from google.oauth2 import credentials

            return credentials.Credentials.from_authorized_user_info(info, scopes=scopes)
        if kind == "impersonated_service_account":
            from google.auth import impersonated_credentials

            return impersonated_credentials.Credentials.from_impersonated_service_account_info(
                info, scopes=scopes
            )
    except (GoogleAuthError, ValueError, KeyError) as exc:
        raise ConfigError(f"gcs backend: {source} holds no usable Google credentials ({exc})") from None
    raise ConfigError(
        f"gcs backend: {source} holds credentials of type {kind!r}; driftmgr reads service_account, "
        "authorized_user and impersonated_service_account keys there",
        hint="for other kinds (e.g. workload identity federation) point GOOGLE_APPLICATION_CREDENTIALS "
        "at the file",
    )


def load_credentials(
    cfg: GcsBackendConfig, location: str, *, environ: Mapping[str, str] | None = None
) -> Any:
    """The google-auth credentials for ``cfg``, in Terraform's order of precedence."""
    import google.auth
    from google.auth.credentials import AnonymousCredentials
    from google.auth.exceptions import DefaultCredentialsError

    env = os.environ if environ is None else environ
    impersonate = cfg.impersonate_service_account
    scopes = [SCOPE_CLOUD_PLATFORM] if impersonate else [SCOPE_READ_WRITE]
    if cfg.access_token:
        from google.oauth2.credentials import Credentials

        creds: Any = Credentials(token=cfg.access_token)
    elif cfg.credentials:
        creds = _from_json(cfg.credentials, scopes)
    elif (
        cfg.api_endpoint
        and cfg.anonymous_with_custom_endpoint
        and not impersonate
        and not env.get("GOOGLE_APPLICATION_CREDENTIALS")
    ):
        return AnonymousCredentials()
    else:
        try:
            creds, _ = google.auth.default(scopes=scopes)
        except DefaultCredentialsError as exc:
            raise ProviderAuthError(
                f"no Google credentials for {location} ({exc})",
                hint=ADC_HINT,
            ) from None
    if impersonate:
        from google.auth import impersonated_credentials

        base = (cfg.iam_credentials_endpoint or IAM_CREDENTIALS_ENDPOINT).rstrip("/")
        creds = impersonated_credentials.Credentials(
            source_credentials=creds,
            target_principal=impersonate,
            target_scopes=[SCOPE_READ_WRITE],
            # the IAM API wants resource names, which Terraform's Go client builds from the e-mails
            delegates=[
                d if d.startswith("projects/") else f"projects/-/serviceAccounts/{d}"
                for d in cfg.impersonate_service_account_delegates
            ]
            or None,
            iam_endpoint_override=f"{base}/projects/-/serviceAccounts/{impersonate}:generateAccessToken",
        )
    return creds
