"""DigitalOcean discovery: API v2 listings (and Spaces over S3), mapped through the catalog.

- The API is account-wide, so a listing is one task, not one per region: ``all/droplets``, ``global/domains``.
  A region filter (``--regions nyc1,ams3``) makes a regional listing one task per region; the listing is then
  fetched once and shared by those tasks (each keeps its region's objects), so drift detection knows exactly
  which regions were looked at. Account-wide types (domains and their records, firewalls, projects, SSH keys,
  certificates, CDN endpoints) are one ``global`` task whatever the filter.
- Spaces buckets are one task per Spaces region, with Spaces keys; without keys the type is skipped and the
  run's "not covered" list says why.
- The API token comes from the keyring (``[digitalocean] token_secret``), else DIGITALOCEAN_TOKEN /
  DIGITALOCEAN_ACCESS_TOKEN (what the Terraform provider reads). It is never logged, stored or printed.
- Tags are DigitalOcean's plain strings: each is a tag key with an empty value (``registry.normalize_tags``).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from driftmgr_tui.core.errors import DriftmgrError, ProviderAuthError, UsageError
from driftmgr_tui.core.redaction import redact_names
from driftmgr_tui.core.settings import redact_url
from driftmgr_tui.discovery.digitalocean.catalog import (
    DIGITALOCEAN_TYPES,
    GLOBAL_REGION,
    LISTINGS,
    RECORDS_KEY,
    RECORDS_PATH,
    SPACES,
    DoType,
    Listing,
    region_of,
)
from driftmgr_tui.discovery.digitalocean.client import (
    API_URL_ENV,
    DEFAULT_API_URL,
    TOKEN_HINT,
    DoClient,
    DoSettings,
    DoTaskError,
)
from driftmgr_tui.discovery.digitalocean.spaces import (
    DEFAULT_ENDPOINT,
    ENDPOINT_ENV,
    KEY_ID_ENV,
    SECRET_ENV,
    SPACES_REGIONS,
    SpacesKeys,
    SpacesLister,
)
from driftmgr_tui.discovery.model import (
    AccountInfo,
    DiscoveredResource,
    ProviderAdapter,
    ScanCancelled,
    ScanContext,
    ScanTask,
    Scope,
)
from driftmgr_tui.discovery.registry import MappingError, normalize_tags, render_optional, select_types
from driftmgr_tui.discovery.sanitize import json_safe

TOKEN_ENVS = ("DIGITALOCEAN_TOKEN", "DIGITALOCEAN_ACCESS_TOKEN")
ALL_REGIONS = "all"  # the region of a task listing every region (no region filter)
REGION_SLUG = re.compile(r"[a-z]{3}\d\Z")
_URN = {"droplet": "do:droplet:{id}", "volume": "do:volume:{id}", "load_balancer": "do:loadbalancer:{id}",
        "database_cluster": "do:dbaas:{id}", "domain": "do:domain:{name}", "kubernetes_cluster": "do:kubernetes:{id}",
        "reserved_ip": "do:reservedip:{ip}", "spaces_bucket": "do:space:{Name}", "firewall": "do:firewall:{id}",
        "project": "do:project:{id}"}
# bulky or secret parts of an answer that discovery does not keep
_DROPPED = frozenset({"zone_file"})


@dataclass
class _Shared:
    """A regional listing fetched once for the tasks of a region filter."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    items: list[dict[str, Any]] | None = None
    error: str | None = None


class DigitalOceanAdapter(ProviderAdapter):
    provider = "digitalocean"

    def __init__(self, scope: Scope, *, token: str | None = None, base_url: str | None = None,
                 settings: DoSettings | None = None, config: Mapping[str, Any] | None = None,
                 spaces_keys: SpacesKeys | None = None, spaces_endpoint: str | None = None,
                 catalog: Iterable[DoType] = DIGITALOCEAN_TYPES) -> None:
        self.scope = scope
        self.settings = settings or DoSettings()
        self.base_url = base_url or os.environ.get(API_URL_ENV, "").strip() or DEFAULT_API_URL
        self.spaces_endpoint = spaces_endpoint or os.environ.get(ENDPOINT_ENV, "").strip() or DEFAULT_ENDPOINT
        self._token = token
        self._spaces_keys = spaces_keys
        self._config = config
        self.catalog = select_types(tuple(catalog), "digitalocean", scope.types)
        self._by_type = {entry.cloud_type: entry for entry in self.catalog}
        self.regions = [r for r in dict.fromkeys(scope.regions) if r != ALL_REGIONS]
        self.account = ""
        self.client: DoClient | None = None
        self.spaces: SpacesLister | None = None
        self.spaces_regions: tuple[str, ...] = SPACES_REGIONS
        self.spaces_skipped: str | None = None
        self._lock = threading.Lock()
        self._shared: dict[str, _Shared] = {}

    # --- ProviderAdapter ------------------------------------------------------------------------------------

    def connect(self) -> AccountInfo:
        """Resolve the token, ask ``GET /v2/account`` who it is, check the region filter against
        ``GET /v2/regions``, and resolve the Spaces keys."""
        config = self._section()
        token = self._token or resolve_token(config)
        self.close()  # connecting again starts afresh
        self.client = DoClient(token, base_url=self.base_url, settings=self.settings)
        ctx = ScanContext(cancel_event=threading.Event(), backoff_base=self.settings.connect_backoff,
                          backoff_cap=5.0, max_retries=3)
        answer = self.client.get("/v2/account", ctx, what="GET /v2/account")
        account = answer.get("account") if isinstance(answer.get("account"), Mapping) else {}
        team = account.get("team") if isinstance(account.get("team"), Mapping) else {}
        self.account = str(team.get("uuid") or account.get("uuid") or "")
        if not self.account:
            raise DoTaskError("digitalocean: GET /v2/account answered no account uuid")
        principal = str(account.get("email") or account.get("uuid") or "")
        if team.get("name"):
            principal += f" (team {team['name']})"
        if self.regions:
            self._check_regions(ctx)
        self._resolve_spaces(config)
        return AccountInfo(provider="digitalocean", account=self.account, principal=principal,
                           regions=tuple(self.regions))

    def plan(self) -> list[ScanTask]:
        by_listing: dict[str, list[str]] = {}
        for entry in self.catalog:
            by_listing.setdefault(entry.listing, []).append(entry.cloud_type)
        tasks = []
        for name, cloud_types in by_listing.items():
            listing = LISTINGS[name]
            if name == SPACES:
                if self.spaces is None:
                    continue
                wanted = set(self.regions)
                regions = [r for r in self.spaces_regions if not wanted or r in wanted]
            elif listing.regional:
                regions = self.regions or [ALL_REGIONS]
            else:
                regions = [GLOBAL_REGION]
            for region in regions:
                tasks.append(ScanTask(key=f"{region}/{name}", provider="digitalocean", account=self.account,
                                      region=region, service=name, cloud_types=tuple(cloud_types),
                                      group=self.account or "digitalocean"))
        return tasks

    def run_task(self, task: ScanTask, ctx: ScanContext) -> Iterator[list[DiscoveredResource]]:
        listing = LISTINGS[task.service]
        if listing.name == SPACES:
            yield self._buckets(task.region, ctx)
        elif listing.name == "domains":
            yield from self._domains(task, ctx)
        elif listing.regional and task.region != ALL_REGIONS:
            items = self._shared_listing(listing, ctx)
            yield self._resources([i for i in items if region_of(i) == task.region], task.cloud_types)
        else:
            for page in self._client().pages(listing.path, listing.key, ctx, what=f"GET {listing.path}"):
                yield self._resources(page, task.cloud_types)

    def unsupported(self) -> dict[str, int]:
        """Spaces buckets, when they could not be listed for want of keys (the reason is in the key)."""
        if self.spaces_skipped and "spaces_bucket" in self._by_type:
            return {f"digitalocean_spaces_bucket (skipped: {self.spaces_skipped})": 0}
        return {}

    def close(self) -> None:
        client, spaces = self.client, self.spaces
        self.client, self.spaces = None, None
        if client is not None:
            client.close()
        if spaces is not None:
            spaces.close()
        with self._lock:
            self._shared.clear()

    # --- objects -> resources -------------------------------------------------------------------------------

    def to_resource(self, entry: DoType, item: Mapping[str, Any], *, region: str | None = None,
                    domain: str | None = None) -> DiscoveredResource:
        """One API object as a discovered resource (``region`` for Spaces buckets, ``domain`` for records)."""
        fields: dict[str, Any] = dict(item)
        fields["@region"] = region or region_of(item)
        if domain is not None:
            fields["@domain"] = domain
        tags = normalize_tags(item.get("tags"))
        fields["__tags__"] = tags
        try:
            terraform_id = entry.terraform_id(fields)
        except MappingError as exc:
            raise DoTaskError(f"digitalocean: {entry.cloud_type}: {exc}") from None
        attributes = _attributes(item)
        if domain is not None:
            attributes["domain"] = domain
        if region is not None:
            attributes["region"] = region
        default = entry.default(fields) if entry.default is not None else None
        return DiscoveredResource(
            provider="digitalocean", account=self.account, region=fields["@region"], cloud_type=entry.cloud_type,
            terraform_type=entry.terraform_type, terraform_id=terraform_id,
            name=render_optional(entry.name, fields),
            native_id=str(item.get("urn") or "") or render_optional(_URN.get(entry.cloud_type), fields),
            tags=tags, attributes=attributes, cloud_default=default,
        )

    def _resources(self, items: Iterable[Mapping[str, Any]], cloud_types: Iterable[str], *,
                   region: str | None = None, domain: str | None = None) -> list[DiscoveredResource]:
        entries = [self._by_type[t] for t in cloud_types if t in self._by_type]
        return [self.to_resource(entry, item, region=region, domain=domain) for item in items for entry in entries]

    # --- listings -------------------------------------------------------------------------------------------

    def _domains(self, task: ScanTask, ctx: ScanContext) -> Iterator[list[DiscoveredResource]]:
        """The domains, then each domain's records (one more paged listing per domain)."""
        client = self._client()
        domain_types = [t for t in task.cloud_types if t == "domain"]
        want_records = "domain_record" in task.cloud_types
        for page in client.pages("/v2/domains", "domains", ctx, what="GET /v2/domains"):
            yield self._resources(page, domain_types)
            if not want_records:
                continue
            for domain in page:
                name = str(domain.get("name") or "")
                if not name:
                    raise DoTaskError("digitalocean: GET /v2/domains answered a domain without a name")
                path = RECORDS_PATH.format(domain=quote(name, safe=""))
                for records in client.pages(path, RECORDS_KEY, ctx, what=f"GET {path}"):
                    yield self._resources(records, ("domain_record",), domain=name)

    def _buckets(self, region: str, ctx: ScanContext) -> list[DiscoveredResource]:
        if self.spaces is None:
            raise DoTaskError(f"digitalocean: no Spaces keys to list {region}")
        buckets = self.spaces.buckets(region, ctx)
        return self._resources(buckets, ("spaces_bucket",), region=region)

    def _shared_listing(self, listing: Listing, ctx: ScanContext) -> list[dict[str, Any]]:
        """Every object of a regional listing, fetched by the first of its per-region tasks; the others wait
        for it. A failure is kept, so the other regions fail with it instead of asking again."""
        with self._lock:
            shared = self._shared.setdefault(listing.name, _Shared())
        with shared.lock:
            if shared.items is None:
                if shared.error is not None:
                    raise DoTaskError(shared.error)
                try:
                    pages = self._client().pages(listing.path, listing.key, ctx, what=f"GET {listing.path}")
                    shared.items = [item for page in pages for item in page]
                except ScanCancelled:
                    raise
                except DriftmgrError as exc:
                    shared.error = str(exc)
                    raise
            return shared.items

    # --- credentials and scope ------------------------------------------------------------------------------

    def _section(self) -> Mapping[str, Any]:
        if self._config is None:
            from driftmgr_tui.core.settings import load_settings

            self._config = load_settings().digitalocean
        return self._config

    def _client(self) -> DoClient:
        if self.client is None:
            raise DoTaskError("digitalocean: not connected (connect() resolves the token first)")
        return self.client

    def _check_regions(self, ctx: ScanContext) -> None:
        bad = [r for r in self.regions if not REGION_SLUG.match(r)]
        if bad:
            raise UsageError(f"digitalocean: {bad[0]!r} is not a region slug (like nyc1 or ams3)")
        known: list[str] = []
        for page in self._client().pages("/v2/regions", "regions", ctx, what="GET /v2/regions"):
            known.extend(str(r.get("slug")) for r in page if r.get("slug"))
        unknown = [r for r in self.regions if r not in known]
        if unknown:
            raise UsageError(f"digitalocean: unknown region {', '.join(unknown)}",
                             hint=f"DigitalOcean's regions: {', '.join(sorted(known))}")

    def _resolve_spaces(self, config: Mapping[str, Any]) -> None:
        """Spaces keys and regions, when Spaces buckets are asked for; a reason to skip them otherwise."""
        self.spaces_skipped = None
        if "spaces_bucket" not in self._by_type:
            return
        regions = config.get("spaces_regions")
        if regions:
            self.spaces_regions = tuple(regions)
        keys = self._spaces_keys
        if keys is None:
            keys, why = resolve_spaces_keys(config)
            if keys is None:
                self.spaces_skipped = why
                return
        self.spaces = SpacesLister(keys, endpoint=self.spaces_endpoint, connect_timeout=self.settings.connect_timeout,
                                   read_timeout=self.settings.read_timeout)


# --- credentials ------------------------------------------------------------------------------------------------

def resolve_token(config: Mapping[str, Any]) -> str:
    """The API token: the keyring secret ``[digitalocean] token_secret`` names, else DIGITALOCEAN_TOKEN, else
    DIGITALOCEAN_ACCESS_TOKEN. ProviderAuthError when there is none (or the keyring lost it)."""
    ref = config.get("token_secret")
    if ref:
        return _keyring_secret(str(ref), "digitalocean.token_secret", "the API token")
    for name in TOKEN_ENVS:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    raise ProviderAuthError("digitalocean: no API token", hint=TOKEN_HINT)


def resolve_spaces_keys(config: Mapping[str, Any]) -> tuple[SpacesKeys | None, str]:
    """Spaces keys from the config (``spaces_access_id`` with the keyring secret ``spaces_key_secret``), else
    SPACES_ACCESS_KEY_ID / SPACES_SECRET_ACCESS_KEY; (None, why) when there are none or only half."""
    access_id = str(config.get("spaces_access_id") or "").strip()
    ref = config.get("spaces_key_secret")
    if access_id or ref:
        if not (access_id and ref):
            missing = "spaces_key_secret" if access_id else "spaces_access_id"
            return None, f"[digitalocean] {missing} is not set"
        return SpacesKeys(access_id, _keyring_secret(str(ref), "digitalocean.spaces_key_secret",
                                                     "the Spaces secret key")), ""
    access_id = os.environ.get(KEY_ID_ENV, "").strip()
    secret = os.environ.get(SECRET_ENV, "").strip()
    if access_id and secret:
        return SpacesKeys(access_id, secret), ""
    if access_id or secret:
        return None, f"{SECRET_ENV if access_id else KEY_ID_ENV} is not set"
    return None, "no Spaces keys"


def _keyring_secret(ref: str, field_name: str, what: str) -> str:
    from driftmgr_tui.core.secrets import SecretNotFound, get_secret

    try:
        return get_secret(ref)
    except SecretNotFound:
        raise ProviderAuthError(f"digitalocean: {what} ({field_name} = {ref}) is not in the OS keyring",
                                hint=f"store it again with `driftmgr config secret set {field_name}`") from None


def _attributes(item: Mapping[str, Any]) -> dict[str, Any]:
    """The API object, JSON-safe, without bulky parts, with secrets redacted: passwords by name, and the
    connection URIs of database clusters (``postgresql://doadmin:PASSWORD@...``) stripped of passwords."""
    attributes = json_safe({k: v for k, v in item.items() if k not in _DROPPED})
    redact_names(attributes)
    _redact_uris(attributes)
    return attributes


def _redact_uris(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "uri" and isinstance(value, str):
                node[key] = redact_url(value)
            else:
                _redact_uris(value)
    elif isinstance(node, list):
        for value in node:
            _redact_uris(value)
