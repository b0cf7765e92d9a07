"""Azure discovery tests: the real azure-mgmt-resource client against a local fake ARM server."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from driftmgr_tui.discovery.azure.adapter import AzureAdapter, AzureSettings
from driftmgr_tui.discovery.model import Scope
from tests._fixtures.cloudapi import FakeCloudApi, azure_pages
from tests._fixtures.cloudapi import cloudapi as cloudapi  # the fixture, for this directory

SUB = "00000000-1111-2222-3333-444444444444"
SUB2 = "99999999-8888-7777-6666-555555555555"


class TokenCredential:
    """What a test needs of an azure-identity credential: ``get_token`` (counted, so tests can see that the
    real bearer-token policy asked for it)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        self.calls.append(scopes)
        return AccessToken("test-token", int(time.time()) + 3600)


class FailingCredential:
    """A credential whose ``get_token`` raises, as azure-identity does (expired secret, no `az login`)."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        raise self.exc


def rg(name: str, *, location: str = "westeurope", sub: str = SUB, **extra: Any) -> dict[str, Any]:
    return {"id": f"/subscriptions/{sub}/resourceGroups/{name}", "name": name, "location": location,
            "type": "Microsoft.Resources/resourceGroups", "properties": {"provisioningState": "Succeeded"},
            **extra}


def vnet(name: str, *, group: str = "rg-net", sub: str = SUB, **extra: Any) -> dict[str, Any]:
    return {"id": f"/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/{name}",
            "name": name, "type": "Microsoft.Network/virtualNetworks", "location": "westeurope", **extra}


def serve_subscription(api: FakeCloudApi, sub: str = SUB, *, resources: list[dict[str, Any]] | None = None,
                       groups: list[dict[str, Any]] | None = None, per_page: int = 2) -> None:
    """Routes for one subscription: its GET, and paged resources/resource-group listings."""
    api.route(f"/subscriptions/{sub}", {"subscriptionId": sub, "displayName": f"sub {sub[:4]}",
                                        "state": "Enabled"})
    api.route(f"/subscriptions/{sub}/resources", handler=azure_pages(api, resources or [], per_page=per_page))
    api.route(f"/subscriptions/{sub}/resourcegroups", handler=azure_pages(api, groups or [], per_page=per_page))


@pytest.fixture
def make_adapter(cloudapi: FakeCloudApi) -> Callable[..., AzureAdapter]:
    """An AzureAdapter on the fake server, with azure-core retries off unless asked (our backoff does it)."""

    def make(*, subscriptions: tuple[str, ...] = (SUB,), credential: Any = None, retry_total: int = 0,
             types: tuple[str, ...] = ()) -> AzureAdapter:
        return AzureAdapter(
            Scope(provider="azure", subscriptions=subscriptions, types=types),
            credential=credential if credential is not None else TokenCredential(),
            base_url=cloudapi.url,
            settings=AzureSettings(retry_total=retry_total, retry_backoff_factor=0.01, retry_backoff_max=0.05),
        )

    return make
