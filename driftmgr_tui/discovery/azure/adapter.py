"""Azure discovery: two generic listings per subscription, mapped through the catalog.

- ``resources.list()`` returns every tracked resource of a subscription in one paged listing and
  ``resource_groups.list()`` every resource group, so a subscription is two tasks, not one per type. Types
  the catalog does not map are counted for :meth:`AzureAdapter.unsupported`.
- Pages are requested one at a time (``.by_page()``): each page request is retried on its own (our backoff
  over azure-core's retry policy) and cancellation is honoured between pages.
- Credentials come from ``DefaultAzureCredential`` unless one is given. One token is shared by the clients of
  every subscription, so ``az login`` credentials are not asked again per subscription.
- Plain ``http://`` endpoints are accepted on loopback only (local test servers): the bearer token is still
  fetched from the credential, so a failing credential fails exactly as it would against Azure.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from driftmgr_tui import __version__
from driftmgr_tui.core.errors import DriftmgrError, ProviderAuthError, UsageError
from driftmgr_tui.core.net import is_loopback_host
from driftmgr_tui.core.redaction import redact_names
from driftmgr_tui.discovery.azure.catalog import AZURE_TYPES, RESOURCE_GROUPS, RESOURCES, AzureType
from driftmgr_tui.discovery.azure.ids import RESOURCE_GROUP_TYPE, ArmIdError, canonical_arm_id
from driftmgr_tui.discovery.model import (
    AccountInfo,
    DiscoveredResource,
    ProviderAdapter,
    ScanContext,
    ScanTask,
    Scope,
)
from driftmgr_tui.discovery.registry import MappingError, normalize_tags, render_optional, select_types
from driftmgr_tui.discovery.retry import call_with_backoff
from driftmgr_tui.discovery.sanitize import json_safe

ENDPOINT_ENV = "DRIFTMGR_AZURE_ARM_ENDPOINT"
SUBSCRIPTION_ENV = "AZURE_SUBSCRIPTION_ID"
PUBLIC_ARM_ENDPOINT = "https://management.azure.com"
SUBSCRIPTIONS_API_VERSION = "2022-12-01"
LOGIN_HINT = "run `az login` or set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET"
GLOBAL_REGION = "global"
_END = object()


class AzureTaskError(DriftmgrError):
    """A listing failed after retries; the message names the subscription, the call and ARM's error."""


class AzureUnavailableError(DriftmgrError):
    """Azure Resource Manager could not be reached at all (network, proxy, endpoint)."""


@dataclass
class AzureSettings:
    """Client behaviour. azure-core retries throttling and 5xx itself (``retry_total`` times, honouring
    ``Retry-After``); our backoff (``retry.py``) takes over when that is not enough. Tests use small values."""

    retry_total: int = 3
    retry_backoff_factor: float = 0.8
    retry_backoff_max: float = 60.0
    connection_timeout: float = 10.0
    read_timeout: float = 60.0
    # Creation/change times make "since when" answerable without another call per resource.
    expand: str | None = "createdTime,changedTime"


class AzureAdapter(ProviderAdapter):
    provider = "azure"

    def __init__(self, scope: Scope, *, credential: Any = None, base_url: str | None = None,
                 settings: AzureSettings | None = None, catalog: Iterable[AzureType] = AZURE_TYPES) -> None:
        self.scope = scope
        self.settings = settings or AzureSettings()
        self.base_url = _check_endpoint(base_url or os.environ.get(ENDPOINT_ENV) or PUBLIC_ARM_ENDPOINT)
        self._credential = credential
        self._token: _SharedToken | None = None
        self.full_catalog = tuple(catalog)
        self.catalog = select_types(self.full_catalog, "azure", scope.types)
        self._by_type: dict[str, list[AzureType]] = {}
        for entry in self.catalog:
            self._by_type.setdefault(entry.cloud_type.lower(), []).append(entry)
        self._all_by_type: dict[str, list[AzureType]] = {}
        for entry in self.full_catalog:
            self._all_by_type.setdefault(entry.cloud_type.lower(), []).append(entry)
        self.subscriptions: list[str] = []
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._unsupported: Counter[str] = Counter()
        self._unsupported_spelling: dict[str, str] = {}

    # --- ProviderAdapter ------------------------------------------------------------------------------------

    def connect(self) -> AccountInfo:
        """Resolve the subscriptions (``--subscription``, ``AZURE_SUBSCRIPTION_ID`` or every one visible) and
        check the credentials can read each of them."""
        token = self._get_token()
        requested = list(self.scope.subscriptions)
        if not requested:
            requested = [s.strip() for s in os.environ.get(SUBSCRIPTION_ENV, "").split(",") if s.strip()]
        if requested:
            for subscription in dict.fromkeys(requested):
                self._get_json(f"/subscriptions/{subscription}?api-version={SUBSCRIPTIONS_API_VERSION}",
                               subscription=subscription)
            self.subscriptions = list(dict.fromkeys(requested))
        else:
            self.subscriptions = self._list_subscriptions()
            if not self.subscriptions:
                raise UsageError("azure: these credentials see no enabled subscription",
                                 hint="pass --subscription ID, or check the identity's role assignments")
        return AccountInfo(provider="azure", account=",".join(self.subscriptions), principal=_principal(token))

    def plan(self) -> list[ScanTask]:
        tasks = []
        listings = {RESOURCE_GROUPS: ("resourceGroups", "resourcegroups"), RESOURCES: ("resources", "resources")}
        for subscription in self.subscriptions:
            for listing, (key, service) in listings.items():
                types = tuple(dict.fromkeys(e.cloud_type for e in self.catalog if e.listing == listing))
                if types:
                    tasks.append(ScanTask(
                        key=f"{subscription}/{key}", provider="azure", account=subscription, region=GLOBAL_REGION,
                        service=service, cloud_types=types, group=subscription, payload={"listing": listing},
                    ))
        return tasks

    def run_task(self, task: ScanTask, ctx: ScanContext) -> Iterator[list[DiscoveredResource]]:
        subscription = task.account
        listing = task.payload.get("listing", RESOURCES)
        client = self._client(subscription)
        if listing == RESOURCE_GROUPS:
            paged = client.resource_groups.list()
            what = f"{subscription} resource_groups.list"
        else:
            paged = client.resources.list(expand=self.settings.expand) if self.settings.expand \
                else client.resources.list()
            what = f"{subscription} resources.list"
        pages = paged.by_page()
        while True:
            ctx.check_cancelled()
            page = self._call(what, lambda: _next_page(pages), ctx, subscription=subscription)
            if page is _END:
                return
            resources = []
            for item in page:
                data = item.as_dict() if hasattr(item, "as_dict") else dict(item)
                resource = self.to_resource(data, subscription=subscription, listing=listing)
                if resource is not None:
                    resources.append(resource)
            yield resources

    def unsupported(self) -> dict[str, int]:
        """ARM types seen in the listings that no catalog entry maps, with counts."""
        with self._lock:
            return {self._unsupported_spelling[k]: n for k, n in sorted(self._unsupported.items())}

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            with contextlib.suppress(Exception):  # closing is best effort
                client.close()

    # --- objects -> resources -------------------------------------------------------------------------------

    def to_resource(self, item: Mapping[str, Any], *, subscription: str,
                    listing: str = RESOURCES) -> DiscoveredResource | None:
        """One ARM object (the JSON of a generic resource or a resource group) as a discovered resource, or
        None when the catalog does not map it (counted as unsupported) or the scope leaves it out."""
        arm_type = RESOURCE_GROUP_TYPE if listing == RESOURCE_GROUPS else str(item.get("type") or "")
        entry = self._entry_for(arm_type, item)
        if entry is None:
            return None
        raw_id = str(item.get("id") or "")
        try:
            arm_id = canonical_arm_id(raw_id, resource_type=entry.cloud_type)
        except ArmIdError as exc:
            raise AzureTaskError(f"azure: {entry.cloud_type}: {exc}") from None
        fields: dict[str, Any] = dict(item)
        fields["@arm_id"] = arm_id
        fields["@name"] = str(item.get("name") or arm_id.rsplit("/", 1)[-1])
        fields["@subscription"] = subscription
        tags = normalize_tags(item.get("tags"))
        fields["__tags__"] = tags
        try:
            terraform_id = entry.terraform_id(fields)
        except MappingError as exc:
            raise AzureTaskError(f"azure: {entry.cloud_type}: {exc}") from None
        attributes = json_safe(dict(item))
        redact_names(attributes)
        default = entry.default(item) if entry.default is not None else None
        return DiscoveredResource(
            provider="azure", account=subscription, region=str(item.get("location") or GLOBAL_REGION),
            cloud_type=entry.cloud_type, terraform_type=entry.terraform_type, terraform_id=terraform_id,
            name=render_optional(entry.name, fields), native_id=raw_id or None, tags=tags,
            attributes=attributes, cloud_default=default or _made_by_a_service(tags),
        )

    def _entry_for(self, arm_type: str, item: Mapping[str, Any]) -> AzureType | None:
        key = arm_type.lower()
        for entry in self._by_type.get(key, ()):
            if entry.select is None or entry.select(item):
                return entry
        known = self._all_by_type.get(key, ())
        if not any(entry.select is None or entry.select(item) for entry in known):
            # Unmapped type, or a variant (a kind) of a mapped type that no entry covers: worth reporting.
            # A type the scope's --type filter left out is not "unsupported".
            variant = arm_type if not known else f"{arm_type} (kind={item.get('kind') or '-'})"
            with self._lock:
                self._unsupported[variant.lower()] += 1
                self._unsupported_spelling.setdefault(variant.lower(), variant)
        return None

    # --- clients and requests -------------------------------------------------------------------------------

    def _get_token(self) -> Any:
        """A token for ARM (also warms the shared cache the clients use); auth failures as ProviderAuthError."""
        try:
            return self._token_source().get_token(*self._scopes())
        except Exception as exc:
            raise _auth_error(exc, subscription=None) from None

    def _token_source(self) -> _SharedToken:
        with self._lock:
            if self._token is None:
                credential = self._credential
                if credential is None:
                    from azure.identity import DefaultAzureCredential

                    credential = DefaultAzureCredential()
                self._token = _SharedToken(credential)
            return self._token

    def _scopes(self) -> list[str]:
        if self.base_url == PUBLIC_ARM_ENDPOINT or is_loopback_host(urlsplit(self.base_url).hostname or ""):
            return [f"{PUBLIC_ARM_ENDPOINT}/.default"]
        return [f"{self.base_url}/.default"]  # sovereign clouds: the token audience is the ARM endpoint

    def _client(self, subscription: str) -> Any:
        token = self._token_source()
        with self._lock:
            client = self._clients.get(subscription)
            if client is None:
                from azure.mgmt.resource.resources import ResourceManagementClient

                options: dict[str, Any] = {
                    "credential_scopes": self._scopes(),
                    "retry_total": self.settings.retry_total,
                    "retry_backoff_factor": self.settings.retry_backoff_factor,
                    "retry_backoff_max": self.settings.retry_backoff_max,
                    "connection_timeout": self.settings.connection_timeout,
                    "read_timeout": self.settings.read_timeout,
                    "user_agent": f"driftmgr/{__version__}",
                }
                if self.base_url.startswith("http://"):
                    options["per_call_policies"] = [_plain_http_policy()]
                client = ResourceManagementClient(token, subscription, base_url=self.base_url, **options)
                self._clients[subscription] = client
            return client

    def _call(self, what: str, call: Callable[[], Any], ctx: ScanContext, *, subscription: str) -> Any:
        try:
            return call_with_backoff(what, call, ctx, is_retryable=is_retryable)
        except DriftmgrError:
            raise
        except Exception as exc:
            if _is_auth_failure(exc):
                raise _auth_error(exc, subscription=subscription) from None
            if _is_connection_failure(exc):
                raise _unreachable(self.base_url, exc) from None
            raise AzureTaskError(f"azure: {what} failed: {describe(exc)}") from None

    def _get_json(self, path: str, *, subscription: str | None) -> dict[str, Any]:
        """GET through the client pipeline (auth, retries, plain-http rule) for calls the SDK has no operation
        for (subscriptions live in a separate package)."""
        from azure.core.rest import HttpRequest

        client = self._client("")
        try:
            response = client.send_request(HttpRequest("GET", path))
        except Exception as exc:
            if _is_auth_failure(exc):
                raise _auth_error(exc, subscription=subscription) from None
            if _is_connection_failure(exc):
                raise _unreachable(self.base_url, exc) from None
            raise AzureTaskError(f"azure: GET {path.split('?', 1)[0]} failed: {describe(exc)}") from None
        status = response.status_code
        if status in (401, 403):
            raise _auth_error(_StatusError(status, _error_text(response)), subscription=subscription)
        if status == 404 and subscription is not None:
            raise UsageError(f"azure: subscription {subscription} not found or not visible to these credentials",
                             hint="check the id (`az account list`), or grant the identity Reader on it")
        if status >= 400:
            raise AzureTaskError(f"azure: GET {path.split('?', 1)[0]} failed: HTTP {status} {_error_text(response)}")
        try:
            return dict(response.json())
        except ValueError:
            raise AzureTaskError(f"azure: GET {path.split('?', 1)[0]} answered non-JSON") from None

    def _list_subscriptions(self) -> list[str]:
        found: list[str] = []
        path: str | None = f"/subscriptions?api-version={SUBSCRIPTIONS_API_VERSION}"
        seen_links: set[str] = set()
        while path and path not in seen_links:
            seen_links.add(path)
            page = self._get_json(path, subscription=None)
            for sub in page.get("value") or []:
                if str(sub.get("state", "Enabled")).lower() in ("enabled", "pastdue", "warned"):
                    found.append(str(sub["subscriptionId"]))
            path = page.get("nextLink") or None
        return list(dict.fromkeys(found))


# --- helpers ----------------------------------------------------------------------------------------------------

class _SharedToken:
    """Caches the credential's token per scope so the clients of many subscriptions ask for it once (an
    ``az login`` credential runs the CLI on every call). Claims challenges always go to the credential."""

    def __init__(self, credential: Any) -> None:
        self.credential = credential
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, ...], Any] = {}

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        if kwargs.get("claims"):
            return self.credential.get_token(*scopes, **kwargs)
        with self._lock:
            token = self._tokens.get(scopes)
            if token is not None and token.expires_on - 300 > time.time():
                return token
            token = self.credential.get_token(*scopes, **kwargs)
            self._tokens[scopes] = token
            return token


class _StatusError(Exception):
    """A non-2xx answer to a raw pipeline request (``send_request`` does not raise by itself)."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"HTTP {status} {text}".strip())
        self.status_code = status
        self.detail = text


def _next_page(pages: Iterator[Any]) -> Any:
    page = next(pages, _END)
    return page if page is _END else list(page)


def _plain_http_policy() -> Any:
    """A pipeline policy allowing the bearer-token policy to send over plain HTTP (loopback test servers
    only: :func:`_check_endpoint` refuses any other http endpoint)."""
    from azure.core.pipeline.policies import SansIOHTTPPolicy

    class AllowLoopbackHttp(SansIOHTTPPolicy):
        def on_request(self, request: Any) -> None:
            request.context["enforce_https"] = False

    return AllowLoopbackHttp()


def _check_endpoint(url: str) -> str:
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UsageError(f"azure: ARM endpoint {url!r} is not an http(s) URL",
                         hint=f"set {ENDPOINT_ENV} to e.g. {PUBLIC_ARM_ENDPOINT}")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname or ""):
        raise UsageError(f"azure: refusing to send Azure credentials over plain http to {parts.hostname}",
                         hint=f"use an https endpoint in {ENDPOINT_ENV} (plain http is for 127.0.0.1 only)")
    return url


def is_retryable(exc: BaseException) -> bool:
    """Throttling (429), 408 and 5xx, and dropped connections/timeouts are worth another try."""
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return True
    if isinstance(exc, HttpResponseError):
        status = exc.status_code or 0
        return status in (408, 429) or status >= 500
    return False


def _is_auth_failure(exc: BaseException) -> bool:
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

    if isinstance(exc, (ClientAuthenticationError, _StatusError)):
        return True
    return isinstance(exc, HttpResponseError) and exc.status_code in (401, 403)


def _is_connection_failure(exc: BaseException) -> bool:
    from azure.core.exceptions import ServiceRequestError, ServiceResponseError

    return isinstance(exc, (ServiceRequestError, ServiceResponseError))


def _auth_error(exc: BaseException, *, subscription: str | None) -> DriftmgrError:
    """One line naming Azure, the subscription and what was wrong; the hint says how to log in."""
    from azure.identity import CredentialUnavailableError

    if isinstance(exc, DriftmgrError):
        return exc
    where = f" for subscription {subscription}" if subscription else ""
    if isinstance(exc, CredentialUnavailableError):
        return ProviderAuthError(f"azure: no usable credentials{where} ({_first_line(exc)})", hint=LOGIN_HINT)
    if getattr(exc, "status_code", None) is None and "failed to retrieve a token" in _first_line(exc):
        # DefaultAzureCredential tried every source and none had credentials: nothing was rejected
        return ProviderAuthError(f"azure: no usable credentials{where} (DefaultAzureCredential found none)",
                                 hint=LOGIN_HINT)
    status = getattr(exc, "status_code", None)
    if status == 403:
        detail = " ".join(filter(None, ["403", _error_code(exc)]))
        return ProviderAuthError(
            f"azure: access denied{where} ({detail})",
            hint="grant the identity the Reader role on the subscription, or pick another with --subscription",
        )
    detail = " ".join(filter(None, ["401", _error_code(exc)])) if status == 401 else _first_line(exc)
    return ProviderAuthError(f"azure: credentials rejected{where} ({detail})", hint=LOGIN_HINT)


def _unreachable(base_url: str, exc: BaseException) -> DriftmgrError:
    return AzureUnavailableError(f"azure: cannot reach Azure Resource Manager at {base_url} ({_first_line(exc)})",
                                 hint=f"check the network and proxy settings, or {ENDPOINT_ENV}")


def _error_code(exc: BaseException) -> str:
    """ARM's error code (``AuthenticationFailed``, ``AuthorizationFailed``) or message, for one-line errors."""
    if getattr(exc, "detail", None):
        return str(exc.detail)  # type: ignore[attr-defined]
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    if code:
        return str(code)
    response = getattr(exc, "response", None)
    if response is not None:
        return _error_text(response)
    return ""


def _error_text(response: Any) -> str:
    """``Code: message`` from an ARM error body, or the reason phrase."""
    try:
        body = response.json()
        error = body.get("error") or {}
        code, message = error.get("code") or "", error.get("message") or ""
        text = f"{code}: {message}" if code and message else (code or message)
        return _first_line(text)
    except Exception:
        return str(getattr(response, "reason", "") or "")


def describe(exc: BaseException) -> str:
    """One line for a failed ARM call: HTTP status and ARM's error code/message, or the exception's text."""
    status = getattr(exc, "status_code", None)
    if status:
        response = getattr(exc, "response", None)
        text = _error_text(response) if response is not None else ""
        return f"HTTP {status} {text or _first_line(exc)}".strip()
    return f"{type(exc).__name__}: {_first_line(exc)}"


def _first_line(value: Any) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else ""


def _made_by_a_service(tags: Mapping[str, str]) -> str | None:
    """Resources AKS creates in its node resource group carry ``aks-managed-*`` tags; the Kubernetes cloud
    provider tags the load balancer IPs and disks it creates with ``k8s-azure-created-by``."""
    for key in tags:
        if key.startswith("aks-managed-"):
            return "created by AKS for a cluster's node pool"
        if key == "k8s-azure-created-by":
            return "created by Kubernetes (AKS cloud provider)"
    return None


def _principal(token: Any) -> str:
    """Who the token belongs to (``upn``, ``unique_name`` or the app id), read from the JWT's claims for
    display only; empty when the token is not a JWT."""
    try:
        payload = str(getattr(token, "token", "")).split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, TypeError):
        return ""
    for key in ("upn", "unique_name", "email"):
        if claims.get(key):
            return str(claims[key])
    if claims.get("appid"):
        return f"app {claims['appid']}"
    return str(claims.get("oid") or "")
