"""Google Cloud discovery: one Cloud Asset Inventory search per scope, mapped through the catalog.

- ``searchAllResources`` over a project, folder or organization returns every resource of the asked asset
  types in one paged listing, so a scope is one task. The REST transport is used: no gRPC channel to set up,
  and the same client works against a local HTTP server in tests.
- Pages are requested one at a time with the page token: a failed page is retried on its own (our backoff;
  google-api-core's default retry covers 503s) and cancellation is honoured between pages. The pager's own
  ``.pages`` generator cannot resume after an error, so the token loop is driven here.
- Terraform ids use project *ids*; a few asset names (Secret Manager, Workload Identity pools) and every
  result's ``project`` field use project *numbers*. Numbers are mapped to ids from the answers themselves
  (a compute name carries the id, its ``project`` field the number; the Project asset carries both) and from
  a project-id scope. Results whose project is still unknown wait until the end of the task.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from driftmgr_tui.core.errors import DriftmgrError, ProviderAuthError, UsageError
from driftmgr_tui.core.redaction import redact_names
from driftmgr_tui.discovery.gcp.catalog import GCP_TYPES, GcpType
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

ENDPOINT_ENV = "DRIFTMGR_GCP_ASSET_ENDPOINT"
PROJECT_ENVS = ("GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT")
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
ADC_MESSAGE = "gcp: no application default credentials"
ADC_HINT = "run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS"
LOGIN_HINT = "run `gcloud auth application-default login`, or check GOOGLE_APPLICATION_CREDENTIALS"
GLOBAL_REGION = "global"
_SCOPE = re.compile(r"(projects|folders|organizations)/[^/\s]+")
_FULL_NAME = re.compile(r"^//[^/]+/")
_REQUEST_PREFIX = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) \S+: ")
# Labels Google services put on what they create (GKE nodes, Dataproc and Composer machinery).
_SERVICE_LABELS = ("goog-gke-node", "goog-k8s-cluster-name", "goog-dataproc-cluster-name",
                   "goog-composer-environment", "goog-managed-by")


class GcpTaskError(DriftmgrError):
    """A search failed after retries; the message names the scope and Google's error."""


class GcpUnavailableError(DriftmgrError):
    """The Cloud Asset API could not be reached at all (network, proxy, endpoint)."""


@dataclass
class GcpSettings:
    """Client behaviour. ``sdk_retry`` keeps google-api-core's default retry of 503s; tests switch it off so
    our own (cancellable) backoff is the only one."""

    page_size: int = 500
    timeout: float = 60.0
    sdk_retry: bool = True


def normalize_scope(value: str) -> str:
    """``my-project`` and ``projects/my-project`` mean a project; ``folders/123`` and ``organizations/456`` are
    kept. Anything else is a UsageError naming the value."""
    text = value.strip().strip("/")
    if _SCOPE.fullmatch(text):
        return text
    if text and "/" not in text and not any(c.isspace() for c in text) \
            and text not in ("projects", "folders", "organizations"):
        return f"projects/{text}"
    raise UsageError(f"gcp: {value!r} is not a project id, projects/ID, folders/ID or organizations/ID",
                     hint="pass --project my-project, --project folders/123 or --project organizations/456")


class GcpAdapter(ProviderAdapter):
    provider = "gcp"

    def __init__(self, scope: Scope, *, credentials: Any = None, api_endpoint: str | None = None,
                 settings: GcpSettings | None = None, catalog: Iterable[GcpType] = GCP_TYPES) -> None:
        self.scope = scope
        self.settings = settings or GcpSettings()
        self.api_endpoint = (api_endpoint or os.environ.get(ENDPOINT_ENV) or "").strip().rstrip("/") or None
        self._credentials = credentials
        self._adc_project: str | None = None
        self.full_catalog = tuple(catalog)
        self.catalog = select_types(self.full_catalog, "gcp", scope.types)
        self._by_type: dict[str, list[GcpType]] = {}
        for entry in self.catalog:
            self._by_type.setdefault(entry.cloud_type, []).append(entry)
        self._all_by_type: dict[str, list[GcpType]] = {}
        for entry in self.full_catalog:
            self._all_by_type.setdefault(entry.cloud_type, []).append(entry)
        self.scopes: list[str] = [normalize_scope(p) for p in scope.projects]
        self._client: Any = None
        self._lock = threading.Lock()
        self._project_ids: dict[str, str] = {}  # project number -> project id
        self._unsupported: Counter[str] = Counter()

    # --- ProviderAdapter ------------------------------------------------------------------------------------

    def connect(self) -> AccountInfo:
        """Resolve credentials (application default credentials unless given) and the scopes to search:
        ``--project`` values, else GOOGLE_CLOUD_PROJECT, else the ADC project."""
        credentials = self._get_credentials()
        if not self.scopes:
            project = next((os.environ[v] for v in PROJECT_ENVS if os.environ.get(v)), None) or self._adc_project
            if not project:
                raise UsageError("gcp: no project to scan",
                                 hint="pass --project my-project (or folders/ID, organizations/ID), "
                                      "or set GOOGLE_CLOUD_PROJECT")
            self.scopes = [normalize_scope(project)]
        self.scopes = list(dict.fromkeys(self.scopes))
        principal = str(getattr(credentials, "service_account_email", "") or "")
        return AccountInfo(provider="gcp", account=",".join(self.scopes), principal=principal)

    def plan(self) -> list[ScanTask]:
        asset_types = tuple(dict.fromkeys(e.cloud_type for e in self.catalog))
        return [
            ScanTask(key=f"{scope}/cloudasset:searchAllResources", provider="gcp", account=_scope_account(scope),
                     region=GLOBAL_REGION, service="cloudasset", cloud_types=asset_types, group=scope,
                     payload={"scope": scope})
            for scope in self.scopes
        ]

    def run_task(self, task: ScanTask, ctx: ScanContext) -> Iterator[list[DiscoveredResource]]:
        from google.cloud import asset_v1

        scope = str(task.payload.get("scope") or f"projects/{task.account}")
        request: dict[str, Any] = {"scope": scope, "asset_types": list(task.cloud_types),
                                   "page_size": self.settings.page_size}
        what = f"{scope} searchAllResources"
        deferred: list[dict[str, Any]] = []
        token = ""
        seen_tokens: set[str] = set()
        while True:
            ctx.check_cancelled()
            page_request = dict(request, page_token=token) if token else dict(request)
            results, token = self._call(what, lambda r=page_request: self._search(r), ctx, scope=scope)
            resources = []
            for result in results:
                data = asset_v1.ResourceSearchResult.to_dict(result)
                project = self.project_of(data, scope=scope)
                if project is None:
                    deferred.append(data)
                    continue
                resource = self.to_resource(data, scope=scope, project=project)
                if resource is not None:
                    resources.append(resource)
            yield resources
            if not token or token in seen_tokens:
                break
            seen_tokens.add(token)
        if deferred:
            resources = []
            for data in deferred:
                resource = self.to_resource(data, scope=scope)
                if resource is not None:
                    resources.append(resource)
            yield resources

    def unsupported(self) -> dict[str, int]:
        """Asset types (or zonal/regional variants) the search returned that no catalog entry maps."""
        with self._lock:
            return dict(sorted(self._unsupported.items()))

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        transport = getattr(client, "transport", None)
        if transport is not None:
            with contextlib.suppress(Exception):  # closing is best effort
                transport.close()

    # --- objects -> resources -------------------------------------------------------------------------------

    def project_of(self, data: Mapping[str, Any], *, scope: str) -> str | None:
        """The project id a search result belongs to, learning number -> id pairs on the way; None when only
        the number is known so far."""
        path = _FULL_NAME.sub("", str(data.get("name") or ""))
        in_name = path.split("/")[1] if path.startswith("projects/") and path.count("/") >= 1 else ""
        number = str(data.get("project") or "").removeprefix("projects/")
        attributes = data.get("additional_attributes") or {}
        explicit = attributes.get("projectId") if isinstance(attributes, Mapping) else None
        project_id = in_name if in_name and not in_name.isdigit() else (str(explicit) if explicit else "")
        with self._lock:
            if project_id:
                for known_number in {number, in_name}:
                    if known_number.isdigit():
                        self._project_ids[known_number] = project_id
                return project_id
            candidate = in_name or number
            if candidate and candidate in self._project_ids:
                return self._project_ids[candidate]
            scope_project = scope.removeprefix("projects/") if scope.startswith("projects/") else ""
            if scope_project and not scope_project.isdigit():
                # A project-scoped search only answers with that project's resources.
                if candidate.isdigit():
                    self._project_ids[candidate] = scope_project
                return scope_project
            if not candidate and not number:
                return ""  # not in a project (organization-level custom roles)
        return None

    def to_resource(self, data: Mapping[str, Any], *, scope: str,
                    project: str | None = None) -> DiscoveredResource | None:
        """One search result (``ResourceSearchResult.to_dict``) as a discovered resource, or None when the
        catalog does not map it (counted as unsupported) or the scope's type filter leaves it out."""
        asset_type = str(data.get("asset_type") or "")
        name = str(data.get("name") or "")
        path = _FULL_NAME.sub("", name)
        if project is None:
            project = self.project_of(data, scope=scope)
        if project is None:  # the number never resolved to an id: keep the number rather than drop it
            project = str(data.get("project") or "").removeprefix("projects/")
        parts = path.split("/")
        if project and len(parts) >= 2 and parts[0] == "projects" and parts[1].isdigit():
            parts[1] = project
            path = "/".join(parts)
        fields: dict[str, Any] = dict(data)
        fields["@path"] = path
        fields["@leaf"] = parts[-1]
        fields["@project"] = project
        fields["@location"] = str(data.get("location") or GLOBAL_REGION)
        labels = normalize_tags(data.get("labels"))
        fields["__tags__"] = labels
        entry = self._entry_for(asset_type, fields)
        if entry is None:
            return None
        try:
            terraform_id = entry.terraform_id(fields)
        except (MappingError, KeyError, IndexError) as exc:
            raise GcpTaskError(f"gcp: {asset_type} {name}: {exc}") from None
        attributes = json_safe({k: v for k, v in data.items() if v not in (None, "", [], {})})
        redact_names(attributes)
        default = entry.default(fields) if entry.default is not None else None
        return DiscoveredResource(
            provider="gcp", account=project or _scope_account(scope), region=fields["@location"],
            cloud_type=asset_type, terraform_type=entry.terraform_type, terraform_id=terraform_id,
            name=render_optional(entry.name, fields), native_id=name or None, tags=labels,
            attributes=attributes, cloud_default=default or _made_by_a_service(labels),
        )

    def _entry_for(self, asset_type: str, fields: Mapping[str, Any]) -> GcpType | None:
        for entry in self._by_type.get(asset_type, ()):
            if entry.select is None or entry.select(fields):
                return entry
        known = self._all_by_type.get(asset_type, ())
        if not any(entry.select is None or entry.select(fields) for entry in known):
            # Unmapped type, or a variant (regional, zonal...) no entry covers; a type the scope's --type
            # filter left out is not "unsupported".
            shape = "/".join("*" if i % 2 else p for i, p in enumerate(str(fields["@path"]).split("/")))
            key = asset_type if not known else f"{asset_type} ({shape})"
            with self._lock:
                self._unsupported[key] += 1
        return None

    # --- credentials, client, requests ----------------------------------------------------------------------

    def _get_credentials(self) -> Any:
        if self._credentials is not None:
            return self._credentials
        import google.auth
        from google.auth.exceptions import DefaultCredentialsError

        try:
            credentials, project = google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE])
        except DefaultCredentialsError:
            raise ProviderAuthError(ADC_MESSAGE, hint=ADC_HINT) from None
        self._credentials, self._adc_project = credentials, project
        return credentials

    def _asset_client(self) -> Any:
        credentials = self._get_credentials()
        with self._lock:
            if self._client is None:
                from google.api_core.client_options import ClientOptions
                from google.cloud import asset_v1

                options = ClientOptions(api_endpoint=self.api_endpoint) if self.api_endpoint else None
                self._client = asset_v1.AssetServiceClient(credentials=credentials, transport="rest",
                                                           client_options=options)
            return self._client

    def _search(self, request: dict[str, Any]) -> tuple[list[Any], str]:
        """One page: the request carries ``page_token``; the pager is not iterated (that would fetch on)."""
        client = self._asset_client()
        kwargs: dict[str, Any] = {"timeout": self.settings.timeout}
        if not self.settings.sdk_retry:
            kwargs["retry"] = None
        pager = client.search_all_resources(request=request, **kwargs)
        return list(pager.results), str(pager.next_page_token or "")

    def _call(self, what: str, call: Callable[[], Any], ctx: ScanContext, *, scope: str) -> Any:
        try:
            return call_with_backoff(what, call, ctx, is_retryable=is_retryable)
        except DriftmgrError:
            raise
        except Exception as exc:
            raise _error_from(exc, scope=scope, endpoint=self.api_endpoint, what=what) from None


# --- helpers ----------------------------------------------------------------------------------------------------

def _scope_account(scope: str) -> str:
    return scope.removeprefix("projects/") if scope.startswith("projects/") else scope


def _made_by_a_service(labels: Mapping[str, str]) -> str | None:
    for key in labels:
        if key in _SERVICE_LABELS or key.startswith("goog-k8s-"):
            return f"created by a Google service (label {key})"
    return None


def is_retryable(exc: BaseException) -> bool:
    """429, 5xx, dropped connections and timeouts are worth another try; auth and other 4xx are not."""
    from google.api_core import exceptions as gexc
    from google.auth.exceptions import TransportError
    from requests.exceptions import ConnectionError as RequestsConnectionError
    from requests.exceptions import Timeout

    if isinstance(exc, (gexc.TooManyRequests, gexc.ServerError, gexc.RetryError)):
        return True
    return isinstance(exc, (TransportError, RequestsConnectionError, Timeout))


def _error_from(exc: BaseException, *, scope: str, endpoint: str | None, what: str) -> DriftmgrError:
    """One line naming Google, the scope and what went wrong; auth problems as ProviderAuthError."""
    from google.api_core import exceptions as gexc
    from google.auth.exceptions import DefaultCredentialsError, RefreshError, TransportError
    from requests.exceptions import ConnectionError as RequestsConnectionError
    from requests.exceptions import Timeout

    if isinstance(exc, DefaultCredentialsError):
        # Raised mid-request when a 401 made the transport refresh credentials that cannot be refreshed.
        return ProviderAuthError(f"gcp: credentials rejected for {scope} ({_first_line(exc)})", hint=LOGIN_HINT)
    if isinstance(exc, RefreshError):
        return ProviderAuthError(f"gcp: credentials could not be refreshed ({_first_line(exc)})", hint=LOGIN_HINT)
    if isinstance(exc, gexc.Unauthorized):
        return ProviderAuthError(f"gcp: credentials rejected for {scope} (401 {_api_message(exc)})",
                                 hint=LOGIN_HINT)
    if isinstance(exc, gexc.Forbidden):
        return ProviderAuthError(
            f"gcp: permission denied on {scope} (403 {_api_message(exc)})",
            hint="grant roles/cloudasset.viewer on the scope and enable cloudasset.googleapis.com "
                 "in the quota project",
        )
    if isinstance(exc, (RequestsConnectionError, Timeout, TransportError)):
        where = endpoint or "cloudasset.googleapis.com"
        return GcpUnavailableError(f"gcp: cannot reach the Cloud Asset API at {where} ({_first_line(exc)})",
                                   hint=f"check the network and proxy settings, or {ENDPOINT_ENV}")
    if isinstance(exc, gexc.GoogleAPICallError):
        code = exc.code or ""
        return GcpTaskError(f"gcp: {what} failed: {code} {_api_message(exc)}".replace("  ", " "))
    return GcpTaskError(f"gcp: {what} failed: {type(exc).__name__}: {_first_line(exc)}")


def _api_message(exc: Any) -> str:
    """Google's error message, without the ``GET https://...?<every query parameter>: `` prefix the REST
    transport puts in front of it."""
    return _first_line(_REQUEST_PREFIX.sub("", str(getattr(exc, "message", None) or exc), count=1))


def _first_line(value: Any) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else ""
