"""Shared wiring for the AWS catalog tests: run the real adapter against the moto server and describe what
each test expects to be discovered."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from driftmgr_tui.discovery.aws.adapter import AwsAdapter
from driftmgr_tui.discovery.model import DiscoveredResource, ScanContext, Scope

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account


def discover(scope: Scope) -> list[DiscoveredResource]:
    """Every resource the AWS adapter finds for ``scope``: connect, plan, run every task's pages."""
    adapter = AwsAdapter(scope)
    try:
        adapter.connect()
        ctx = ScanContext(cancel_event=threading.Event())
        return [resource for task in adapter.plan() for page in adapter.run_task(task, ctx) for resource in page]
    finally:
        adapter.close()


def discover_type(terraform_type: str, region: str = REGION) -> list[DiscoveredResource]:
    return discover(Scope(provider="aws", regions=(region,), types=(terraform_type,)))


def client(service: str, region: str = REGION) -> Any:
    import boto3

    return boto3.client(service, region_name=region)


@dataclass(frozen=True)
class Expect:
    """One resource a case created: the id Terraform stores, the name and tags driftmgr must report."""

    id: str
    name: str | None
    tags: dict[str, str] = field(default_factory=dict)


Case = Callable[[], list[Expect]]
CASES: dict[str, Case] = {}


def case(terraform_type: str) -> Callable[[Case], Case]:
    """Register the function that creates real ``terraform_type`` resources in moto and says what to expect."""

    def register(fn: Case) -> Case:
        if terraform_type in CASES:
            raise ValueError(f"two cases for {terraform_type}")
        CASES[terraform_type] = fn
        return fn

    return register


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def ec2_tags(resource_type: str, tags: dict[str, str]) -> list[dict[str, Any]]:
    return [{"ResourceType": resource_type, "Tags": tag_list(tags)}]
