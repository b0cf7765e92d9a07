"""Shared pieces of the azurerm backend tests: a small state, a backend on the test container, and plain
azure-storage-blob views of what the backend stored (as Terraform would see the container)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from driftmgr_tui.core.errors import LockInfo
from driftmgr_tui.state.backends.azurerm import AzureRMBackend
from driftmgr_tui.state.backends.azurerm_config import ENV_DEFAULTS, AzureRMBackendConfig
from driftmgr_tui.state.backends.base import new_lock_info
from tests._fixtures.azurite import ACCOUNT, ACCOUNT_KEY, Azurite

KEY = "network/terraform.tfstate"
LINEAGE = "5d7c1a6e-3b8e-4f55-9c0e-2f3a9b1c4d21"
SUB = "00000000-1111-2222-3333-444444444444"
TF_LOCK_KEYS = ["ID", "Operation", "Info", "Who", "Version", "Created", "Path"]


def resource(name: str) -> dict[str, Any]:
    attributes = {
        "id": f"/subscriptions/{SUB}/resourceGroups/rg-{name}",
        "name": f"rg-{name}",
        "location": "westeurope",
    }
    return {
        "mode": "managed",
        "type": "azurerm_resource_group",
        "name": name,
        "provider": 'provider["registry.terraform.io/hashicorp/azurerm"]',
        "instances": [{"schema_version": 0, "attributes": attributes, "sensitive_attributes": []}],
    }


def state_bytes(serial: int = 1, names: tuple[str, ...] = ("main", "logs")) -> bytes:
    resources = [resource(name) for name in names]
    doc = {
        "version": 4,
        "terraform_version": "1.11.4",
        "serial": serial,
        "lineage": LINEAGE,
        "outputs": {},
        "resources": resources,
        "check_results": None,
    }
    return json.dumps(doc, indent=2).encode()


@pytest.fixture(autouse=True)
def _no_azure_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own ARM_* / Azure settings must not leak into these tests."""
    for variables in ENV_DEFAULTS.values():
        for var in variables:
            monkeypatch.delenv(var, raising=False)
    for var in ("DRIFTMGR_AZURERM_ENDPOINT", "DRIFTMGR_AZURE_ARM_ENDPOINT", "ARM_USE_CLI", "ARM_USE_MSI"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def container(azurite: Azurite, azurite_container: str) -> Any:
    """The test's container, through a plain client."""
    return azurite.service().get_container_client(azurite_container)


def make(azurite: Azurite, container: Any, *, credential: Any = None, **kw: Any) -> AzureRMBackend:
    kw.setdefault("storage_account_name", ACCOUNT)
    kw.setdefault("container_name", container.container_name)
    kw.setdefault("key", KEY)
    kw.setdefault("endpoint", azurite.url)
    if not (kw.get("sas_token") or kw.get("use_azuread_auth") or kw.get("resource_group_name")):
        kw.setdefault("access_key", ACCOUNT_KEY)
    kw.setdefault("max_retries", 2)
    kw.setdefault("retry_backoff", 0.01)
    kw.setdefault("retry_jitter", 0.0)
    return AzureRMBackend(AzureRMBackendConfig(**kw), credential=credential)


def spec_of(azurite: Azurite, container: Any, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"endpoint": azurite.url, **params}.items())
    return f"azurerm://{ACCOUNT}/{container.container_name}/{KEY}?{query}"


def blob_data(container: Any, name: str = KEY) -> bytes:
    return container.get_blob_client(name).download_blob().readall()


def blob_props(container: Any, name: str = KEY) -> Any:
    return container.get_blob_client(name).get_blob_properties()


def lock_as(who: str, operation: str = "OperationTypeApply") -> LockInfo:
    info = new_lock_info(operation, "")
    info.who = who
    return info


def stored_lock(container: Any, name: str = KEY) -> dict[str, Any] | None:
    raw = blob_props(container, name).metadata.get("terraformlockid")
    return json.loads(base64.b64decode(raw)) if raw else None


def assert_unlocked(container: Any, name: str = KEY) -> None:
    props = blob_props(container, name)
    assert props.lease.status == "unlocked"
    assert "terraformlockid" not in props.metadata
