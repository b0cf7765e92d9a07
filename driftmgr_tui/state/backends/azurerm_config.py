"""Configuration of Terraform's ``azurerm`` backend: attributes, ``ARM_*`` defaults, clouds, specs.

``AzureRMBackendConfig.from_terraform_config`` reads a ``backend "azurerm"`` block (or the backend cache
``terraform init`` writes) the way Terraform 1.11 does: unset attributes fall back to the same ``ARM_*``
environment variables. How the storage account is reached follows Terraform's order:

1. ``access_key`` (``ARM_ACCESS_KEY``): Shared Key;
2. ``sas_token`` (``ARM_SAS_TOKEN``): the SAS token is appended to every request;
3. ``use_azuread_auth`` (``ARM_USE_AZUREAD``): an Azure AD token for the blob service;
4. ``resource_group_name`` + ``subscription_id``: the account key is looked up through Azure Resource Manager
   (``listKeys``) with an Azure AD credential.

The Azure AD credential (``azurerm_auth``) is a client secret, a client certificate or an OIDC token when one
is configured (``client_secret``, ``client_certificate_path``/``client_certificate``, ``oidc_token`` /
``oidc_token_file_path``, with ``tenant_id`` and ``client_id``), else ``DefaultAzureCredential`` (environment,
workload identity, managed identity, Azure CLI): what Terraform's ``use_cli``/``use_msi``/
``use_aks_workload_identity`` select.

``endpoint`` here is driftmgr's own: the blob service URL (``http://127.0.0.1:10000/devstoreaccount1`` for
Azurite). Terraform has no such attribute (its deprecated ``endpoint`` is the managed-identity endpoint,
ignored like ``msi_endpoint``), so a working dir gets it from ``DRIFTMGR_AZURERM_ENDPOINT`` and a spec from
``endpoint=``.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from driftmgr_tui.core.errors import ConfigError, DriftmgrError
from driftmgr_tui.core.net import is_loopback_host

log = logging.getLogger(__name__)

DEFAULT_WORKSPACE = "default"
KEY_ENV_PREFIX = "env:"
ENDPOINT_ENV = "DRIFTMGR_AZURERM_ENDPOINT"
ARM_ENDPOINT_ENV = "DRIFTMGR_AZURE_ARM_ENDPOINT"  # the same override the Azure discovery honours


@dataclass(frozen=True)
class AzureCloud:
    name: str
    storage_suffix: str
    resource_manager: str
    authority: str


CLOUDS: dict[str, AzureCloud] = {
    "public": AzureCloud(
        "public", "core.windows.net", "https://management.azure.com", "login.microsoftonline.com"
    ),
    "usgovernment": AzureCloud(
        "usgovernment",
        "core.usgovcloudapi.net",
        "https://management.usgovcloudapi.net",
        "login.microsoftonline.us",
    ),
    "china": AzureCloud(
        "china", "core.chinacloudapi.cn", "https://management.chinacloudapi.cn", "login.chinacloudapi.cn"
    ),
}
_CLOUD_ALIASES = {
    "azurecloud": "public",
    "azurepublic": "public",
    "azurepubliccloud": "public",
    "azureusgovernment": "usgovernment",
    "azureusgovernmentcloud": "usgovernment",
    "azurechina": "china",
    "azurechinacloud": "china",
}

# attribute -> the environment variables Terraform 1.11 falls back to, in order
ENV_DEFAULTS: dict[str, tuple[str, ...]] = {
    "subscription_id": ("ARM_SUBSCRIPTION_ID",),
    "lookup_blob_endpoint": ("ARM_USE_DNS_ZONE_ENDPOINT",),
    "snapshot": ("ARM_SNAPSHOT",),
    "environment": ("ARM_ENVIRONMENT",),
    "metadata_host": ("ARM_METADATA_HOSTNAME", "ARM_METADATA_HOST"),
    "access_key": ("ARM_ACCESS_KEY",),
    "sas_token": ("ARM_SAS_TOKEN",),
    "tenant_id": ("ARM_TENANT_ID",),
    "client_id": ("ARM_CLIENT_ID",),
    "client_id_file_path": ("ARM_CLIENT_ID_FILE_PATH",),
    "client_certificate": ("ARM_CLIENT_CERTIFICATE",),
    "client_certificate_path": ("ARM_CLIENT_CERTIFICATE_PATH",),
    "client_certificate_password": ("ARM_CLIENT_CERTIFICATE_PASSWORD",),
    "client_secret": ("ARM_CLIENT_SECRET",),
    "client_secret_file_path": ("ARM_CLIENT_SECRET_FILE_PATH",),
    "oidc_token": ("ARM_OIDC_TOKEN",),
    "oidc_token_file_path": ("ARM_OIDC_TOKEN_FILE_PATH",),
    "use_azuread_auth": ("ARM_USE_AZUREAD",),
}

_ACCOUNT_RE = re.compile(r"[a-z0-9]{3,24}\Z")
_CONTAINER_RE = re.compile(r"(\$root|[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9])\Z")
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ConfigError(f"azurerm backend: attribute '{name}' must be true or false, got {value!r}")


def _as_str(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    raise ConfigError(f"azurerm backend: attribute '{name}' must be a string, got {value!r}")


def resolve_cloud(name: str) -> AzureCloud:
    key = name.strip().lower().replace(" ", "")
    cloud = CLOUDS.get(_CLOUD_ALIASES.get(key, key))
    if cloud is None:
        raise ConfigError(
            f"azurerm backend: unknown environment {name!r} (known: {', '.join(CLOUDS)})",
            hint="set `environment` (or ARM_ENVIRONMENT) to public, usgovernment or china",
        )
    return cloud


def check_endpoint(url: str, what: str) -> str:
    """An http(s) URL; plain http only on loopback (an emulator): no credentials in clear on a network."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"azurerm backend: {what} {url!r} is not an http(s) URL")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(
            f"azurerm backend: refusing plain http for {what} {url!r} (credentials would cross the network "
            "unencrypted)",
            hint="use https; plain http is accepted for 127.0.0.1/localhost only (Azurite)",
        )
    return url


@dataclass
class AzureRMBackendConfig:
    """Where one Terraform azurerm state lives and how to reach it (names as in ``backend "azurerm"``)."""

    storage_account_name: str
    container_name: str
    key: str
    workspace: str = DEFAULT_WORKSPACE
    snapshot: bool = False
    environment: str = "public"
    #: blob service URL; None means ``https://{account}.blob.{cloud suffix}``
    endpoint: str | None = None
    use_azuread_auth: bool = False
    resource_group_name: str | None = None
    subscription_id: str | None = None
    lookup_blob_endpoint: bool = False
    tenant_id: str | None = None
    client_id: str | None = None
    client_certificate_path: str | None = None
    #: 5xx answers, throttling and dropped connections are retried ``max_retries`` times (azure-storage's
    #: exponential policy: ``retry_backoff`` + ``retry_backoff`` ** n seconds before retry n, 2 s: 4, 6, 10 s,
    #: +- ``retry_jitter``)
    max_retries: int = 3
    retry_backoff: float = 2.0
    retry_jitter: float = 1.0
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    access_key: str | None = field(default=None, repr=False)
    sas_token: str | None = field(default=None, repr=False)
    client_secret: str | None = field(default=None, repr=False)
    client_certificate: bytes | None = field(default=None, repr=False)
    client_certificate_password: str | None = field(default=None, repr=False)
    oidc_token: str | None = field(default=None, repr=False)
    oidc_token_file_path: str | None = None

    def __post_init__(self) -> None:
        for name in ("storage_account_name", "container_name", "key"):
            if not getattr(self, name):
                raise ConfigError(f"azurerm backend: missing required attribute '{name}'")
        if not _ACCOUNT_RE.match(self.storage_account_name):
            raise ConfigError(
                f"azurerm backend: storage_account_name {self.storage_account_name!r} is not a storage "
                "account name (3 to 24 lower-case letters and digits)"
            )
        if not _CONTAINER_RE.match(self.container_name):
            raise ConfigError(
                f"azurerm backend: container_name {self.container_name!r} is not a container name (3 to 63 "
                "lower-case letters, digits and single hyphens, starting and ending with a letter or digit)"
            )
        if len(self.key) > 1024:
            raise ConfigError("azurerm backend: attribute 'key' is longer than a blob name may be (1024)")
        self.workspace = self.workspace or DEFAULT_WORKSPACE
        if "/" in self.workspace:
            raise ConfigError(f"azurerm backend: workspace name must not contain '/': {self.workspace!r}")
        resolve_cloud(self.environment)
        if self.endpoint:
            self.endpoint = check_endpoint(self.endpoint, "endpoint")
        if self.sas_token is not None:
            self.sas_token = self.sas_token.strip().lstrip("?") or None
        if self.max_retries < 0:
            raise ConfigError("azurerm backend: max_retries must not be negative")
        if self.lookup_blob_endpoint and not (self.resource_group_name and self.subscription_id):
            raise ConfigError(
                "azurerm backend: `resource_group_name` and `subscription_id` are required when "
                "`lookup_blob_endpoint` is set"
            )
        if not (self.access_key or self.sas_token or self.use_azuread_auth or self.resource_group_name):
            raise ConfigError(
                f"azurerm backend: no way to access storage account '{self.storage_account_name}': one of "
                "`access_key`, `sas_token`, `use_azuread_auth` and `resource_group_name` must be specified",
                hint="export ARM_ACCESS_KEY or ARM_SAS_TOKEN, or set use_azuread_auth = true "
                "(ARM_USE_AZUREAD) and log in (`az login`); a spec can name a keyring entry with "
                "access_key_secret=REF",
            )
        if self.resource_group_name and not self.subscription_id and self.needs_arm:
            raise ConfigError(
                "azurerm backend: `subscription_id` (or ARM_SUBSCRIPTION_ID) is required to look up the "
                f"access key of storage account '{self.storage_account_name}' in resource group "
                f"'{self.resource_group_name}'"
            )

    # -- derived -------------------------------------------------------------------------------

    @property
    def cloud(self) -> AzureCloud:
        return resolve_cloud(self.environment)

    @property
    def blob_name(self) -> str:
        """The blob of this workspace's state: Terraform's ``{key}env:{workspace}`` beside ``key``."""
        return self.blob_name_for(self.workspace)

    def blob_name_for(self, workspace: str) -> str:
        return self.key if workspace == DEFAULT_WORKSPACE else f"{self.key}{KEY_ENV_PREFIX}{workspace}"

    @property
    def needs_arm(self) -> bool:
        """Whether Azure Resource Manager is asked: for the account key, or for the blob endpoint."""
        return self.lookup_blob_endpoint or not (self.access_key or self.sas_token or self.use_azuread_auth)

    @property
    def arm_endpoint(self) -> str:
        override = os.environ.get(ARM_ENDPOINT_ENV)
        return check_endpoint(override, ARM_ENDPOINT_ENV) if override else self.cloud.resource_manager

    def default_blob_endpoint(self) -> str:
        return f"https://{self.storage_account_name}.blob.{self.cloud.storage_suffix}"

    # -- from Terraform ------------------------------------------------------------------------

    @classmethod
    def from_terraform_config(
        cls,
        cfg: Mapping[str, Any],
        workspace: str = DEFAULT_WORKSPACE,
        environ: Mapping[str, str] | None = None,
    ) -> AzureRMBackendConfig:
        """A ``backend "azurerm"`` block or the backend cache's ``config`` (nulls count as unset), with
        Terraform's ``ARM_*`` fallbacks read from ``environ`` (the process environment by default)."""
        env = os.environ if environ is None else environ
        c: dict[str, Any] = {k: v for k, v in cfg.items() if v is not None}
        for name, variables in ENV_DEFAULTS.items():
            if c.get(name) in (None, ""):
                value = next((env[v] for v in variables if env.get(v)), None)
                if value is not None:
                    c[name] = value
        for required in ("storage_account_name", "container_name", "key"):
            if c.get(required) in (None, ""):
                raise ConfigError(f"azurerm backend: missing required attribute '{required}'")
        if c.get("metadata_host"):
            raise ConfigError(
                "azurerm backend: `metadata_host` (ARM_METADATA_HOSTNAME: a custom Azure cloud) is "
                "not supported",
                hint="driftmgr knows the public, usgovernment and china clouds; for another blob service set "
                f"{ENDPOINT_ENV} to its URL",
            )
        for ignored in (
            "msi_endpoint",
            "endpoint",
            "ado_pipeline_service_connection_id",
            "oidc_request_url",
            "oidc_request_token",
        ):
            if c.get(ignored):
                log.info(
                    "azurerm backend: attribute %r is not used by driftmgr (DefaultAzureCredential)", ignored
                )

        def opt(name: str) -> str | None:
            value = c.get(name)
            return _as_str(name, value) if value not in (None, "") else None

        endpoint = env.get(ENDPOINT_ENV) or None
        return cls(
            storage_account_name=_as_str("storage_account_name", c["storage_account_name"]),
            container_name=_as_str("container_name", c["container_name"]),
            key=_as_str("key", c["key"]),
            workspace=workspace or DEFAULT_WORKSPACE,
            snapshot=_as_bool("snapshot", c.get("snapshot", False)),
            environment=opt("environment") or "public",
            endpoint=check_endpoint(endpoint, ENDPOINT_ENV) if endpoint else None,
            use_azuread_auth=_as_bool("use_azuread_auth", c.get("use_azuread_auth", False)),
            resource_group_name=opt("resource_group_name"),
            subscription_id=opt("subscription_id"),
            lookup_blob_endpoint=_as_bool("lookup_blob_endpoint", c.get("lookup_blob_endpoint", False)),
            tenant_id=opt("tenant_id"),
            client_id=opt("client_id") or read_file("client_id_file_path", opt("client_id_file_path")),
            client_certificate_path=opt("client_certificate_path"),
            access_key=opt("access_key"),
            sas_token=opt("sas_token"),
            client_secret=opt("client_secret")
            or read_file("client_secret_file_path", opt("client_secret_file_path")),
            client_certificate=_decode_certificate(opt("client_certificate")),
            client_certificate_password=opt("client_certificate_password"),
            oidc_token=opt("oidc_token"),
            oidc_token_file_path=opt("oidc_token_file_path"),
        )


def read_file(attribute: str, path: str | None) -> str | None:
    if not path:
        return None
    try:
        return Path(path).expanduser().read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"azurerm backend: cannot read {attribute} {path}: {exc}") from None


def _decode_certificate(value: str | None) -> bytes | None:
    if not value:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError("azurerm backend: `client_certificate` is not base64 (a PKCS#12 bundle)") from None


# -- specs ---------------------------------------------------------------------------------------

_SPEC_PARAMS = frozenset(
    {
        "workspace",
        "endpoint",
        "snapshot",
        "use_azuread_auth",
        "environment",
        "resource_group_name",
        "subscription_id",
        "lookup_blob_endpoint",
        "access_key_secret",
        "sas_token_secret",
    }
)


def config_from_spec(spec: str, parts: Any, params: dict[str, str]) -> AzureRMBackendConfig:
    """``azurerm://ACCOUNT/CONTAINER/KEY?workspace=..&endpoint=..&access_key_secret=REF&..``.

    Secrets never appear in a spec: ``access_key_secret`` / ``sas_token_secret`` name an OS keyring entry;
    otherwise ARM_ACCESS_KEY / ARM_SAS_TOKEN and the other ``ARM_*`` variables apply as for Terraform.
    """
    from urllib.parse import unquote

    from driftmgr_tui.state.backends.config import check_spec_params, spec_bool

    for secret in ("access_key", "sas_token"):
        if secret in params:
            raise ConfigError(
                f"state spec: parameter '{secret}' would put a secret in the spec",
                hint=f"export ARM_{secret.upper()}, or keep it in the OS keyring and name it with "
                f"{secret}_secret=REF",
            )
    check_spec_params(spec, params, _SPEC_PARAMS)
    container, _, key = parts.path.lstrip("/").partition("/")
    key = unquote(key)
    if not parts.netloc or not container or not key:
        raise ConfigError(f"state spec {spec!r}: expected azurerm://ACCOUNT/CONTAINER/KEY")
    config: dict[str, Any] = {"storage_account_name": parts.netloc, "container_name": container, "key": key}
    for name in ("environment", "resource_group_name", "subscription_id"):
        if params.get(name):
            config[name] = params[name]
    for name in ("snapshot", "use_azuread_auth", "lookup_blob_endpoint"):
        if name in params:
            config[name] = spec_bool(name, params[name])
    for secret in ("access_key", "sas_token"):
        ref = params.get(f"{secret}_secret")
        if ref:
            config[secret] = _keyring_secret(spec, f"{secret}_secret", ref)
    environ = dict(os.environ)
    if "endpoint" in params:
        environ[ENDPOINT_ENV] = params["endpoint"]
    return AzureRMBackendConfig.from_terraform_config(
        config, workspace=params.get("workspace") or DEFAULT_WORKSPACE, environ=environ
    )


def _keyring_secret(spec: str, param: str, ref: str) -> str:
    from driftmgr_tui.core.secrets import get_secret

    try:
        return get_secret(ref)
    except DriftmgrError as exc:
        raise ConfigError(f"state spec {spec!r}: {param} {ref}: {exc.message}", hint=exc.hint) from None
