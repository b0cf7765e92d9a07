"""How the azurerm backend authenticates and what Azure's refusals mean: the Azure AD credential the
configuration selects, the Azure Resource Manager lookups (the account key with ``resource_group_name``, the
blob endpoint with ``lookup_blob_endpoint``), and Azure SDK errors as driftmgr errors naming the account.

The Azure SDKs are imported inside the functions, so importing this module imports none of them.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlsplit

from driftmgr_tui import __version__
from driftmgr_tui.core.errors import BackendError, ConfigError, DriftmgrError, ProviderAuthError
from driftmgr_tui.state.backends.azurerm_config import (
    ENDPOINT_ENV,
    AzureRMBackendConfig,
    check_endpoint,
    read_file,
)

ARM_API_VERSION = "2023-01-01"
LOGIN_HINT = (
    "run `az login`, or set ARM_TENANT_ID/ARM_CLIENT_ID with ARM_CLIENT_SECRET (or a certificate, an OIDC "
    "token), or give an access key (ARM_ACCESS_KEY) or a SAS token (ARM_SAS_TOKEN)"
)


# -- Azure AD credentials -----------------------------------------------------------------------


def aad_credential(cfg: AzureRMBackendConfig) -> Any:
    """The Azure AD credential the configuration selects (see the module docstring)."""
    from azure.identity import (
        CertificateCredential,
        ClientAssertionCredential,
        ClientSecretCredential,
        DefaultAzureCredential,
    )

    authority = cfg.cloud.authority
    explicit = (
        cfg.client_certificate_path or cfg.client_certificate,
        cfg.client_secret,
        cfg.oidc_token or cfg.oidc_token_file_path,
    )
    if any(explicit):
        for name, value in (("tenant_id", cfg.tenant_id), ("client_id", cfg.client_id)):
            if not value:
                raise ConfigError(
                    f"azurerm backend: `{name}` (or ARM_{name.upper()}) is required with a client secret, "
                    "certificate or OIDC token"
                )
    tenant, client = cfg.tenant_id or "", cfg.client_id or ""
    if cfg.client_certificate_path or cfg.client_certificate:
        return CertificateCredential(
            tenant,
            client,
            certificate_path=cfg.client_certificate_path,
            certificate_data=cfg.client_certificate,
            password=cfg.client_certificate_password,
            authority=authority,
        )
    if cfg.client_secret:
        return ClientSecretCredential(tenant, client, cfg.client_secret, authority=authority)
    if cfg.oidc_token or cfg.oidc_token_file_path:
        token, path = cfg.oidc_token, cfg.oidc_token_file_path

        def assertion() -> str:
            if token:
                return token
            value = read_file("oidc_token_file_path", path)
            if not value:
                raise ConfigError(f"azurerm backend: oidc_token_file_path {path} is empty")
            return value

        return ClientAssertionCredential(tenant, client, assertion, authority=authority)
    return DefaultAzureCredential(authority=authority)


# -- Azure Resource Manager: the account key and blob endpoint lookups ----------------------------


def first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _arm_account_path(cfg: AzureRMBackendConfig) -> str:
    return (
        f"/subscriptions/{quote(cfg.subscription_id or '')}/resourceGroups/"
        f"{quote(cfg.resource_group_name or '')}/providers/Microsoft.Storage/storageAccounts/"
        f"{cfg.storage_account_name}"
    )


def _arm(cfg: AzureRMBackendConfig, credential: Any, method: str, path: str, what: str) -> dict[str, Any]:
    """One Azure Resource Manager call about the storage account; failures as DriftmgrErrors naming it."""
    from azure.core import PipelineClient
    from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError, ServiceResponseError
    from azure.core.pipeline.policies import (
        BearerTokenCredentialPolicy,
        HeadersPolicy,
        RetryPolicy,
        UserAgentPolicy,
    )
    from azure.core.rest import HttpRequest

    base = cfg.arm_endpoint
    account = (
        f"storage account '{cfg.storage_account_name}' (resource group '{cfg.resource_group_name}', "
        f"subscription {cfg.subscription_id})"
    )
    policies = [
        HeadersPolicy(),
        UserAgentPolicy(f"driftmgr/{__version__}"),
        RetryPolicy(retry_total=cfg.max_retries, retry_backoff_factor=cfg.retry_backoff),
        BearerTokenCredentialPolicy(credential, f"{cfg.cloud.resource_manager}/.default"),
    ]
    request = HttpRequest(method, f"{base}{path}?api-version={ARM_API_VERSION}")
    try:
        with PipelineClient(base_url=base, policies=policies) as client:
            response = client.send_request(request, enforce_https=urlsplit(base).scheme == "https")
            status, body = response.status_code, response.text()
    except ClientAuthenticationError as exc:
        raise ProviderAuthError(
            f"azurerm: no usable Azure AD credentials while {what} {account} ({first_line(exc)})",
            hint=LOGIN_HINT,
        ) from None
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise BackendError(
            f"cannot reach Azure Resource Manager at {base} while {what} {account} ({first_line(exc)})",
            hint="check the network / proxy, `environment`, or give `access_key` / `sas_token` directly",
        ) from None
    try:
        doc = json.loads(body) if body else {}
    except ValueError:
        doc = {}
    if status < 300 and isinstance(doc, dict):
        return doc
    err = doc.get("error", {}) if isinstance(doc, dict) else {}
    detail = " ".join(filter(None, [str(status), str(err.get("code") or ""), str(err.get("message") or "")]))
    if status in (401, 403):
        raise ProviderAuthError(
            f"azurerm: Azure Resource Manager refused {what} {account} ({detail})",
            hint="the identity needs the Reader and Storage Account Key Operator Service roles on the "
            "account, or use use_azuread_auth / an access key",
        )
    if status == 404:
        raise BackendError(
            f"azurerm: {account} was not found while {what} it ({detail})",
            hint="check storage_account_name, resource_group_name and subscription_id",
        )
    raise BackendError(f"azurerm: {what} {account} failed ({detail})")


def arm_account_key(cfg: AzureRMBackendConfig, credential: Any) -> str:
    """The account's first full-permission key, from ``listKeys`` (what Terraform does with
    ``resource_group_name``)."""
    doc = _arm(cfg, credential, "POST", _arm_account_path(cfg) + "/listKeys", "listing the access keys of")
    for key in doc.get("keys") or []:
        if (
            isinstance(key, dict)
            and key.get("value")
            and str(key.get("permissions", "full")).lower() == "full"
        ):
            return str(key["value"])
    raise BackendError(
        f"azurerm: no access key with full permissions on storage account '{cfg.storage_account_name}'"
    )


def arm_blob_endpoint(cfg: AzureRMBackendConfig, credential: Any) -> str:
    """The account's primary blob endpoint (``lookup_blob_endpoint``: Azure DNS zone endpoints)."""
    doc = _arm(cfg, credential, "GET", _arm_account_path(cfg), "looking up the blob endpoint of")
    endpoint = ((doc.get("properties") or {}).get("primaryEndpoints") or {}).get("blob")
    if not endpoint:
        raise BackendError(f"azurerm: storage account '{cfg.storage_account_name}' has no blob endpoint")
    return check_endpoint(str(endpoint), "primary blob endpoint")


# -- Azure errors --------------------------------------------------------------------------------


def error_code(exc: Any) -> str:
    code = getattr(exc, "error_code", None)
    code = getattr(code, "value", code)  # StorageErrorCode is an enum of the wire codes
    if not code and getattr(exc, "response", None) is not None:
        code = exc.response.headers.get("x-ms-error-code")
    return str(code or getattr(exc, "status_code", None) or type(exc).__name__)


def _credential_error(cfg: AzureRMBackendConfig, exc: BaseException, what: str) -> DriftmgrError:
    from azure.storage.blob._shared.authentication import AzureSigningError

    if isinstance(exc, AzureSigningError):
        return ProviderAuthError(
            f"azurerm: the access key of storage account '{cfg.storage_account_name}' "
            f"cannot sign requests ({first_line(exc)})",
            hint="check access_key / ARM_ACCESS_KEY (a base64 account key)",
        )
    return ProviderAuthError(
        f"azurerm: no usable Azure AD credentials while {what} ({first_line(exc)})", hint=LOGIN_HINT
    )


def translate_error(
    cfg: AzureRMBackendConfig, exc: BaseException, what: str, account_url: str | None
) -> DriftmgrError:
    """An Azure SDK error as a DriftmgrError; ``what`` says what was being done, and where."""
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    if isinstance(exc, DriftmgrError):
        return exc
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return BackendError(
            f"cannot reach the blob service at {account_url} while {what} ({first_line(exc)})",
            hint=f"check the network / proxy, storage_account_name and environment (or {ENDPOINT_ENV})",
        )
    status = getattr(exc, "status_code", None)
    if not isinstance(exc, HttpResponseError) or status is None:
        return _credential_error(cfg, exc, what)
    code = error_code(exc)
    detail = f"{status} {code}: {first_line(exc)}"
    if code == "ContainerNotFound":
        return BackendError(
            f"container '{cfg.container_name}' does not exist in storage account "
            f"'{cfg.storage_account_name}' ({what})",
            hint="create the container first, or fix `container_name` in the backend configuration",
        )
    if status in (401, 403):
        how = (
            "the access key (access_key / ARM_ACCESS_KEY)"
            if cfg.access_key
            else "the SAS token (sas_token / ARM_SAS_TOKEN): its permissions and expiry"
            if cfg.sas_token
            else "the Azure AD identity: it needs the Storage Blob Data Contributor role on the container"
            if cfg.use_azuread_auth
            else "the access key looked up through Azure Resource Manager"
        )
        return ProviderAuthError(
            f"azurerm: storage account '{cfg.storage_account_name}' refused the credentials while {what} "
            f"({detail})",
            hint=f"check {how}",
        )
    return BackendError(f"{what} failed ({detail})")
