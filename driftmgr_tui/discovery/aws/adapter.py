"""AWS discovery: one task per (region, resource type), listed with boto3 as the catalog says.

- Pagination is driven here from boto3's own paginator definitions, one request at a time, so each page
  request can be retried on its own (our backoff over botocore's adaptive retries) and cancellation is
  honoured between pages.
- The Resource Groups Tagging API is fetched once per region as a cheap index: tags for types whose listing
  does not carry them (S3, Lambda, SQS, ...), and a count of tagged resources the catalog does not cover.
- Per-object detail calls run on a small shared pool, so a task with hundreds of objects does not make
  hundreds of sequential round trips.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from driftmgr_tui.core.errors import DriftmgrError
from driftmgr_tui.core.redaction import redact_names
from driftmgr_tui.discovery.aws.catalog import AWS_TYPES, NO_TAGS, AwsType, Detail
from driftmgr_tui.discovery.aws.session import AwsClients, AwsSettings, error_code, is_retryable
from driftmgr_tui.discovery.model import (
    TAGS_KNOWN,
    AccountInfo,
    DiscoveredResource,
    ProviderAdapter,
    ScanContext,
    ScanTask,
    Scope,
    describe_error,
)
from driftmgr_tui.discovery.registry import (
    MappingError,
    lookup,
    normalize_tags,
    render,
    render_optional,
    select_types,
)
from driftmgr_tui.discovery.retry import call_with_backoff
from driftmgr_tui.discovery.sanitize import json_safe

GLOBAL_REGION = "global"


class AwsTaskError(DriftmgrError):
    """A listing failed after retries; the message names the call and the AWS error."""


class TagIndex:
    """ARN -> tags for one region, from ``resourcegroupstaggingapi.get_resources`` (fetched once, lazily)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tags: dict[str, dict[str, str]] | None = None
        self._error: BaseException | None = None

    def get(self, adapter: AwsAdapter, region: str, ctx: ScanContext) -> dict[str, dict[str, str]]:
        with self._lock:
            if self._tags is None:
                if self._error is not None:
                    raise AwsTaskError(f"the tag index of {region} is unavailable: {self._error}")
                try:
                    tags: dict[str, dict[str, str]] = {}
                    client = adapter.clients.client("resourcegroupstaggingapi", region)
                    for page in adapter.pages(client, "get_resources", {"ResourcesPerPage": 100}, ctx,
                                              what=f"{region} tagging:GetResources"):
                        for mapping in page.get("ResourceTagMappingList", []):
                            tags[mapping["ResourceARN"]] = normalize_tags(mapping.get("Tags"))
                    self._tags = tags
                except DriftmgrError:
                    raise
                except Exception as exc:
                    self._error = exc
                    raise AwsTaskError(f"the tag index of {region} is unavailable: {describe_error(exc)}") from None
            return self._tags


class AwsAdapter(ProviderAdapter):
    provider = "aws"

    def __init__(self, scope: Scope, *, settings: AwsSettings | None = None,
                 catalog: Iterable[AwsType] = AWS_TYPES, detail_concurrency: int = 16) -> None:
        self.scope = scope
        self.clients = AwsClients(profile=scope.profile, role_arn=scope.role_arn, settings=settings)
        self.catalog = select_types(catalog, "aws", scope.types)
        self._by_cloud_type = {t.cloud_type: t for t in self.catalog}
        self.account = ""
        self.regions: list[str] = []
        self._tag_indexes: dict[str, TagIndex] = {}
        self._seen_arns: set[str] = set()
        self._seen_lock = threading.Lock()
        self._detail_pool = ThreadPoolExecutor(max_workers=detail_concurrency, thread_name_prefix="aws-detail")

    # --- ProviderAdapter ------------------------------------------------------------------------------------

    def connect(self) -> AccountInfo:
        self.account, principal = self.clients.identity()
        self.regions = self.clients.resolve_regions(self.scope.regions)
        self._tag_indexes = {region: TagIndex() for region in self.regions}
        return AccountInfo(provider="aws", account=self.account, principal=principal, regions=tuple(self.regions))

    def plan(self) -> list[ScanTask]:
        tasks = []
        for entry in self.catalog:
            regions = [GLOBAL_REGION] if entry.global_service else self.regions
            for region in regions:
                tasks.append(ScanTask(
                    key=f"{region}/{entry.service}/{entry.cloud_type}",
                    provider="aws", account=self.account, region=region, service=entry.service,
                    cloud_types=(entry.cloud_type,), group=region,
                ))
        return tasks

    def run_task(self, task: ScanTask, ctx: ScanContext) -> Iterator[list[DiscoveredResource]]:
        entry = self._by_cloud_type[task.cloud_types[0]]
        api_region = self._api_region(task.region)
        client = self.clients.client(entry.service, api_region)
        what = f"{task.region} {entry.service}:{entry.operation}"
        params = dict(entry.params)
        if entry.region_param:
            params[entry.region_param] = task.region
        for page in self.pages(client, entry.operation, params, ctx, what=what):
            items = list(_extract(page, entry.items, entry.item_key))
            if entry.detail:
                items = self._with_details(client, entry, items, ctx)
            resources = []
            for item in items:
                ctx.check_cancelled()
                resource = self._resource(entry, item, task.region, ctx)
                if resource is not None:
                    resources.append(resource)
            yield resources

    def unsupported(self) -> dict[str, int]:
        """Tagged ARNs (from the regional tag indexes) that no catalog type produced, by ``service:type``."""
        counts: Counter[str] = Counter()
        if self.scope.types:  # a run restricted to some types says nothing about the others
            return {}
        for index in self._tag_indexes.values():
            for arn in index._tags or {}:
                if arn not in self._seen_arns:
                    counts[_arn_type(arn)] += 1
        return dict(sorted(counts.items()))

    def close(self) -> None:
        self._detail_pool.shutdown(wait=False, cancel_futures=True)

    # --- requests -------------------------------------------------------------------------------------------

    def pages(self, client: Any, operation: str, params: dict[str, Any], ctx: ScanContext, *,
              what: str) -> Iterator[Mapping[str, Any]]:
        """Every page of ``operation``, following boto3's pagination definition one request at a time."""
        method = getattr(client, operation)

        def call(request: dict[str, Any]) -> Mapping[str, Any]:
            return call_with_backoff(what, lambda: method(**request), ctx, is_retryable=is_retryable)

        if not client.can_paginate(operation):
            yield call(params)
            return
        import jmespath

        config = client.get_paginator(operation)._pagination_cfg
        inputs = _as_list(config["input_token"])
        outputs = [jmespath.compile(o) for o in _as_list(config["output_token"])]
        more = jmespath.compile(config["more_results"]) if config.get("more_results") else None
        request = dict(params)
        previous: list[Any] | None = None
        while True:
            page = call(request)
            yield page
            if more is not None and not more.search(page):
                return
            tokens = [o.search(page) for o in outputs]
            if all(t is None or t == "" for t in tokens) or tokens == previous:
                return
            previous = tokens
            for name, token in zip(inputs, tokens, strict=False):
                if token is None:
                    request.pop(name, None)
                else:
                    request[name] = token

    def _with_details(self, client: Any, entry: AwsType, items: list[dict[str, Any]],
                      ctx: ScanContext) -> list[dict[str, Any]]:
        def fetch(item: dict[str, Any]) -> dict[str, Any]:
            merged = dict(item)
            for detail in entry.detail:
                ctx.check_cancelled()
                answer = self._detail(client, entry, detail, merged, ctx)
                if answer is None:
                    continue
                if detail.into:
                    merged[detail.into] = answer
                elif isinstance(answer, Mapping):
                    merged.update(answer)
            return merged

        return list(self._detail_pool.map(fetch, items))

    def _detail(self, client: Any, entry: AwsType, detail: Detail, item: Mapping[str, Any],
                ctx: ScanContext) -> Any:
        from botocore.exceptions import ClientError

        params = {name: render(rule, item, what=f"{entry.terraform_type} {detail.operation} {name}")
                  for name, rule in detail.params.items()}
        method = getattr(client, detail.operation)
        try:
            answer = call_with_backoff(f"{entry.service}:{detail.operation}", lambda: method(**params), ctx,
                                       is_retryable=is_retryable)
        except ClientError as exc:
            if error_code(exc) in detail.ignore_errors:
                return None
            raise
        answer = {k: v for k, v in answer.items() if k != "ResponseMetadata"}
        return lookup(answer, detail.result) if detail.result else answer

    # --- objects -> resources -------------------------------------------------------------------------------

    def _resource(self, entry: AwsType, item: dict[str, Any], task_region: str,
                  ctx: ScanContext) -> DiscoveredResource | None:
        if entry.include is not None and not entry.include(item):
            return None
        fields: dict[str, Any] = dict(item)
        region = task_region
        fields["@region"] = region
        fields["@account"] = self.account
        arn = render_optional(entry.arn, fields)
        # whether ``tags`` is what the cloud has (drift compares tags only then): inline tags are; the tagging
        # index knows only the resources it returned
        tags_known = False
        if entry.tags is not None:
            tags = normalize_tags(lookup(item, entry.tags))
            tags_known = entry.tags != NO_TAGS
        elif arn and region != GLOBAL_REGION and region in self._tag_indexes:
            index = self._tag_indexes[region].get(self, region, ctx)
            tags = dict(index.get(arn, {}))
            tags_known = arn in index
        else:
            tags = {}
        fields["__tags__"] = tags
        try:
            terraform_id = entry.terraform_id(fields)
        except MappingError as exc:
            raise AwsTaskError(f"{entry.cloud_type}: {exc}") from None
        if arn:
            with self._seen_lock:
                self._seen_arns.add(arn)
        attributes = json_safe(item)
        redact_names(attributes)
        attributes[TAGS_KNOWN] = tags_known
        return DiscoveredResource(
            provider="aws", account=self.account, region=region, cloud_type=entry.cloud_type,
            terraform_type=entry.terraform_type, terraform_id=terraform_id,
            name=render_optional(entry.name, fields), native_id=arn, tags=tags, attributes=attributes,
            cloud_default=entry.default(item) if entry.default is not None else None,
        )

    def _api_region(self, region: str) -> str:
        if region != GLOBAL_REGION:
            return region
        return self.clients.default_region or (self.regions[0] if self.regions else "us-east-1")


def _as_list(value: Any) -> list[str]:
    return list(value) if isinstance(value, list) else [value]


def _extract(page: Mapping[str, Any], path: str, item_key: str | None) -> Iterator[dict[str, Any]]:
    """Objects at ``path`` in a page; ``*`` flattens a list level (``Reservations.*.Instances``)."""
    nodes: list[Any] = [page]
    for part in path.split("."):
        next_nodes: list[Any] = []
        for node in nodes:
            if part == "*":
                next_nodes.extend(node if isinstance(node, list) else [])
            elif isinstance(node, Mapping):
                value = node.get(part)
                if value is not None:
                    next_nodes.append(value)
        nodes = next_nodes
    for node in nodes:
        for item in node if isinstance(node, list) else [node]:
            if item_key is not None and not isinstance(item, Mapping):
                yield {item_key: item}
            elif isinstance(item, Mapping):
                yield dict(item)


def _arn_type(arn: str) -> str:
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return "unknown"
    service, resource = parts[2], parts[5]
    kind = resource.split("/", 1)[0].split(":", 1)[0] if ("/" in resource or ":" in resource) else ""
    return f"{service}:{kind}" if kind else service
