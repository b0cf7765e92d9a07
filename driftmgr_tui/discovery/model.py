"""What discovery produces and how a provider adapter plugs into the scanner.

A provider adapter turns a :class:`Scope` into :class:`ScanTask` units (one per region and service for AWS,
one per subscription for Azure, one per scope for Google), and runs each task, yielding pages of
:class:`DiscoveredResource`. The scanner (``scanner.py``) owns concurrency, cancellation, per-task status
and persistence; adapters own the cloud calls.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from driftmgr_tui.core.errors import DriftmgrError

# key in a resource's ``attributes``: True when its ``tags`` are what the cloud has (listed with the object, or
# found in the tagging index), False when tags were not available (drift then leaves tags uncompared)
TAGS_KNOWN = "__tags_known__"


@dataclass(frozen=True)
class Scope:
    """What to discover. ``regions`` empty means the provider's default (AWS: the configured region);
    ``["all"]`` asks the account for every enabled region."""

    provider: str
    regions: tuple[str, ...] = ()
    profile: str | None = None
    role_arn: str | None = None
    subscriptions: tuple[str, ...] = ()
    projects: tuple[str, ...] = ()
    types: tuple[str, ...] = ()  # restrict to these Terraform types (empty: every type the catalog knows)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"provider": self.provider}
        for key in ("regions", "subscriptions", "projects", "types"):
            if getattr(self, key):
                data[key] = list(getattr(self, key))
        for key in ("profile", "role_arn"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Scope:
        return cls(
            provider=str(data["provider"]),
            regions=tuple(data.get("regions", ())),
            profile=data.get("profile"),
            role_arn=data.get("role_arn"),
            subscriptions=tuple(data.get("subscriptions", ())),
            projects=tuple(data.get("projects", ())),
            types=tuple(data.get("types", ())),
        )


@dataclass
class DiscoveredResource:
    """One cloud object, as Terraform would know it.

    ``cloud_default`` marks objects the cloud made by itself (a default VPC, a service-linked role): drift
    leaves them out of "unmanaged" unless asked. ``attributes`` is the cloud's description, JSON-safe and with
    secret-looking values redacted, for attribute comparison.
    """

    provider: str
    account: str
    region: str
    cloud_type: str
    terraform_type: str
    terraform_id: str
    name: str | None = None
    native_id: str | None = None  # ARN / full ARM id / full asset name
    tags: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    cloud_default: str | None = None  # why the cloud made it (None: someone did)

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "account": self.account,
            "region": self.region,
            "cloud_type": self.cloud_type,
            "terraform_type": self.terraform_type,
            "terraform_id": self.terraform_id,
            "name": self.name,
            "native_id": self.native_id,
            "tags": self.tags,
            "cloud_default": self.cloud_default,
        }


@dataclass(frozen=True)
class ScanTask:
    """One unit of discovery work. ``group`` bounds concurrency per region (or subscription / scope) and
    ``service`` per service across regions."""

    key: str  # "us-east-1/ec2:AWS::EC2::VPC" — unique within a run
    provider: str
    account: str
    region: str
    service: str
    cloud_types: tuple[str, ...]
    group: str
    payload: Mapping[str, Any] = field(default_factory=dict)


class ScanCancelled(DriftmgrError):
    """The run was cancelled; raised from :meth:`ScanContext.check_cancelled`."""


@dataclass
class ScanContext:
    """What a running task may use: cancellation (checked between requests and pages), a way to report
    throttling/retries, and the backoff policy for its own retries."""

    cancel_event: threading.Event
    backoff_base: float = 0.5
    backoff_cap: float = 20.0
    max_retries: int = 6
    on_retry: Callable[[str, BaseException, float], None] | None = None

    def check_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise ScanCancelled("discovery cancelled")

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()


@dataclass(frozen=True)
class AccountInfo:
    """Who the credentials are: an AWS account, Azure subscription(s) or Google scope(s)."""

    provider: str
    account: str
    principal: str = ""
    regions: tuple[str, ...] = ()


class ProviderAdapter(ABC):
    """A cloud provider's discovery: credentials, planning, listing."""

    provider: str

    @abstractmethod
    def connect(self) -> AccountInfo:
        """Resolve credentials and the scope (regions, subscriptions, projects).

        Raises ProviderAuthError with one line naming the provider and what to fix."""

    @abstractmethod
    def plan(self) -> list[ScanTask]:
        """The tasks a run consists of (called after :meth:`connect`)."""

    @abstractmethod
    def run_task(self, task: ScanTask, ctx: ScanContext) -> Iterator[list[DiscoveredResource]]:
        """List one task's resources, a page at a time; call ``ctx.check_cancelled()`` between requests."""

    def unsupported(self) -> dict[str, int]:
        """Cloud types seen (e.g. through a tag index) that the catalog does not map, with counts."""
        return {}


def describe_error(exc: BaseException) -> str:
    """One line a user can act on: the AWS/Azure/Google error code and message, never a traceback."""
    if isinstance(exc, DriftmgrError):
        return str(exc)
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        text = f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
        return f"{text} (HTTP {status})" if status else text
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
