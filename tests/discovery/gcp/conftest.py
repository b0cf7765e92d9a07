"""Google discovery tests: the real google-cloud-asset client (REST transport) against a local fake server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from driftmgr_tui.discovery.gcp.adapter import GcpAdapter, GcpSettings
from driftmgr_tui.discovery.model import Scope
from tests._fixtures.cloudapi import FakeCloudApi
from tests._fixtures.cloudapi import cloudapi as cloudapi  # the fixture, for this directory

PROJECT = "acme-prod"
NUMBER = "123456789012"


def search_path(scope: str) -> str:
    """The REST path google-cloud-asset requests for ``search_all_resources(scope=...)``."""
    return f"/v1/{scope}:searchAllResources"


def asset(name: str, asset_type: str, *, location: str = "global", project: str = NUMBER,
          **extra: Any) -> dict[str, Any]:
    """A searchAllResources result as the REST API answers it (camelCase JSON)."""
    return {"name": name, "assetType": asset_type, "project": f"projects/{project}", "location": location,
            "displayName": name.rsplit("/", 1)[-1], "state": "READY", "createTime": "2025-03-01T10:00:00Z",
            **extra}


def instance(name: str, *, zone: str = "europe-west1-b", project: str = PROJECT, **extra: Any) -> dict[str, Any]:
    return asset(f"//compute.googleapis.com/projects/{project}/zones/{zone}/instances/{name}",
                 "compute.googleapis.com/Instance", location=zone, **extra)


def token_credentials() -> Any:
    """OAuth credentials that always hold a token (and can "refresh" it), as user or service-account ADC do:
    on a 401 the REST transport refreshes and retries, exactly as with real credentials."""
    from google.auth.credentials import Credentials

    class StaticToken(Credentials):
        refreshes = 0

        def __init__(self) -> None:
            super().__init__()
            self.token = "test-token"

        def refresh(self, request: Any) -> None:
            type(self).refreshes += 1
            self.token = "test-token"

    return StaticToken()


@pytest.fixture
def make_adapter(cloudapi: FakeCloudApi) -> Callable[..., GcpAdapter]:
    """A GcpAdapter on the fake server with anonymous credentials, google-api-core retries off (ours do it)."""

    def make(*, projects: tuple[str, ...] = (PROJECT,), types: tuple[str, ...] = (), page_size: int = 500,
             credentials: Any = None) -> GcpAdapter:
        from google.auth.credentials import AnonymousCredentials

        return GcpAdapter(Scope(provider="gcp", projects=projects, types=types),
                          credentials=credentials or AnonymousCredentials(), api_endpoint=cloudapi.url,
                          settings=GcpSettings(sdk_retry=False, page_size=page_size, timeout=10.0))

    return make
