"""The azurerm backend's configuration: Terraform attributes, ARM_* fallbacks, specs, lock metadata encoding."""

from __future__ import annotations

import base64
import subprocess
import sys
from typing import Any

import pytest

from driftmgr_tui.core.errors import ConfigError, LockInfo
from driftmgr_tui.state.backends.azurerm import AzureRMBackend, lock_metadata
from driftmgr_tui.state.backends.azurerm_config import AzureRMBackendConfig
from driftmgr_tui.state.backends.config import backend_from_spec
from tests._fixtures.azurerm_state import _no_azure_environment as _no_azure_environment  # autouse
from tests._fixtures.azurite import ACCOUNT_KEY

# -- configuration ------------------------------------------------------------------------------


def test_from_terraform_config_reads_attributes_nulls_and_arm_environment() -> None:
    cache_config = {
        "storage_account_name": "tfstateprod01",
        "container_name": "tfstate",
        "key": "prod.terraform.tfstate",
        "access_key": None,
        "sas_token": None,
        "snapshot": None,
        "environment": None,
        "resource_group_name": None,
        "use_azuread_auth": None,
        "use_cli": None,
        "metadata_host": None,
        "endpoint": None,
    }
    env = {"ARM_ACCESS_KEY": "a2V5", "ARM_SNAPSHOT": "true", "ARM_ENVIRONMENT": "usgovernment"}
    cfg = AzureRMBackendConfig.from_terraform_config(cache_config, workspace="staging", environ=env)
    assert cfg.access_key == "a2V5" and cfg.snapshot is True and cfg.environment == "usgovernment"
    assert cfg.blob_name == "prod.terraform.tfstateenv:staging"  # Terraform's {key}env:{workspace}
    assert cfg.default_blob_endpoint() == "https://tfstateprod01.blob.core.usgovcloudapi.net"
    assert "a2V5" not in repr(cfg)
    # an attribute wins over its ARM_* variable
    cfg = AzureRMBackendConfig.from_terraform_config({**cache_config, "access_key": "b3duCg=="}, environ=env)
    assert cfg.access_key == "b3duCg==" and cfg.blob_name == "prod.terraform.tfstate"


@pytest.mark.parametrize("missing", ["storage_account_name", "container_name", "key"])
def test_required_attributes(missing: str) -> None:
    cfg = {
        "storage_account_name": "acct1",
        "container_name": "tfstate",
        "key": "k",
        "access_key": "a2V5",
        missing: None,
    }
    with pytest.raises(ConfigError, match=f"missing required attribute '{missing}'"):
        AzureRMBackendConfig.from_terraform_config(cfg, environ={})


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"storage_account_name": "Not_An-Account"}, "is not a storage account name"),
        ({"container_name": "TF--State"}, "is not a container name"),
        ({"snapshot": "maybe"}, "'snapshot' must be true or false"),
        ({"environment": "mars"}, "unknown environment 'mars'"),
        ({"metadata_host": "management.example.com"}, "metadata_host.*is not supported"),
        (
            {"access_key": None},
            "one of `access_key`, `sas_token`, `use_azuread_auth` and `resource_group_name`",
        ),
        ({"access_key": None, "resource_group_name": "rg"}, "`subscription_id` .* is required"),
        ({"lookup_blob_endpoint": True}, "required when `lookup_blob_endpoint` is set"),
        ({"client_certificate": "not base64!"}, "`client_certificate` is not base64"),
    ],
)
def test_invalid_configuration_is_named(cfg: dict[str, Any], message: str) -> None:
    base = {"storage_account_name": "acct1", "container_name": "tfstate", "key": "k", "access_key": "a2V5"}
    with pytest.raises(ConfigError, match=message):
        AzureRMBackendConfig.from_terraform_config({**base, **cfg}, environ={})


def test_plain_http_endpoint_only_on_loopback() -> None:
    base = {"storage_account_name": "acct1", "container_name": "tfstate", "key": "k", "access_key": "a2V5"}
    with pytest.raises(ConfigError, match="refusing plain http"):
        AzureRMBackendConfig.from_terraform_config(
            base, environ={"DRIFTMGR_AZURERM_ENDPOINT": "http://blobs.example.com/acct1"}
        )
    cfg = AzureRMBackendConfig.from_terraform_config(
        base, environ={"DRIFTMGR_AZURERM_ENDPOINT": "http://127.0.0.1:10000/acct1/"}
    )
    assert cfg.endpoint == "http://127.0.0.1:10000/acct1"


def test_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARM_ACCESS_KEY", ACCOUNT_KEY)
    be = backend_from_spec(
        "azurerm://tfstateprod01/tfstate/path/to/terraform.tfstate?workspace=prod&snapshot=true"
        "&endpoint=http://127.0.0.1:10000/tfstateprod01&environment=china"
    )
    assert isinstance(be, AzureRMBackend)
    cfg = be.config
    assert (cfg.storage_account_name, cfg.container_name, cfg.key) == (
        "tfstateprod01",
        "tfstate",
        "path/to/terraform.tfstate",
    )
    assert cfg.snapshot and cfg.environment == "china" and cfg.access_key == ACCOUNT_KEY
    assert cfg.endpoint == "http://127.0.0.1:10000/tfstateprod01"
    assert be.location == "azurerm://tfstateprod01/tfstate/path/to/terraform.tfstateenv:prod"
    assert be.for_workspace("default").location == "azurerm://tfstateprod01/tfstate/path/to/terraform.tfstate"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("azurerm://acct1/tfstate", "expected azurerm://ACCOUNT/CONTAINER/KEY"),
        ("azurerm://acct1/tfstate/k?access_key=c2VjcmV0", "would put a secret in the spec"),
        ("azurerm://acct1/tfstate/k?sas_token=sv%3D2024", "would put a secret in the spec"),
        ("azurerm://acct1/tfstate/k?wrokspace=x", "unknown parameter 'wrokspace'"),
        ("azurerm://acct1/tfstate/k?use_azuread_auth=perhaps", "'use_azuread_auth' must be true or false"),
        ("azurerm://acct1/tfstate/k", "no way to access storage account 'acct1'"),
    ],
)
def test_spec_errors(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        backend_from_spec(spec)


def test_spec_secret_from_the_os_keyring() -> None:
    from tests.alerts import keyring_backend

    with keyring_backend() as kr:
        kr.set_password("driftmgr", "azurerm:prod", ACCOUNT_KEY)
        be = backend_from_spec("azurerm://acct1/tfstate/k?access_key_secret=azurerm:prod")
        assert isinstance(be, AzureRMBackend) and be.config.access_key == ACCOUNT_KEY
        with pytest.raises(
            ConfigError, match="sas_token_secret azurerm:gone: secret azurerm:gone is not in the OS"
        ):
            backend_from_spec("azurerm://acct1/tfstate/k?sas_token_secret=azurerm:gone")


def test_importing_the_backend_does_not_import_the_azure_sdk() -> None:
    code = (
        "import sys, driftmgr_tui.state.backends.azurerm, driftmgr_tui.state.backends.config;"
        "bad = [m for m in sys.modules if m.startswith('azure')];"
        "sys.exit(f'imported at import time: {bad}' if bad else 0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_lock_metadata_encoding_matches_terraform() -> None:
    info = LockInfo(
        id="8c7b9f0e-43a1-4f2e-b5d6-0a1b2c3d4e5f",
        operation="OperationTypePlan",
        who="a@b",
        version="1.11.4",
        created="2025-03-01T09:15:02.123456Z",
        path="tfstate/k",
    )
    raw = base64.b64decode(lock_metadata(info), validate=True)
    assert raw == (
        b'{"ID":"8c7b9f0e-43a1-4f2e-b5d6-0a1b2c3d4e5f","Operation":"OperationTypePlan","Info":"",'
        b'"Who":"a@b","Version":"1.11.4","Created":"2025-03-01T09:15:02.123456Z","Path":"tfstate/k"}'
    )
