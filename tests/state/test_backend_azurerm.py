"""AzureRMBackend against a real Azurite (tests/_fixtures/azurite.py) with the real azure-storage-blob client,
checked with a plain azure-storage-blob client as Terraform would see the container."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from driftmgr_tui.core.errors import (
    BackendError,
    ConfigError,
    LockInfo,
    ProviderAuthError,
    StateConflictError,
    StateFormatError,
    StateLockedError,
)
from driftmgr_tui.services.state_service import StateService, StateSource
from driftmgr_tui.state import operations as ops
from driftmgr_tui.state.backends.azurerm import AzureRMBackend, lock_metadata
from driftmgr_tui.state.backends.azurerm_config import ENV_DEFAULTS, AzureRMBackendConfig
from driftmgr_tui.state.backends.base import new_lock_info
from driftmgr_tui.state.backends.config import backend_from_chdir, backend_from_spec
from driftmgr_tui.state.store import StateStore
from tests._fixtures.azurite import (
    ACCOUNT,
    ACCOUNT_KEY,
    TF_ACCOUNT,
    TF_ACCOUNT_KEY,
    Azurite,
    FaultyProxy,
    TlsConnectProxy,
    make_tls_files,
    start_azurite,
    stop_azurite,
)
from tests._fixtures.azurite import azurite as azurite  # the fixtures, for this module
from tests._fixtures.azurite import azurite_container as azurite_container
from tests._fixtures.cloudapi import FakeCloudApi, Reply
from tests._fixtures.cloudapi import cloudapi as cloudapi

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


# -- read / write -------------------------------------------------------------------------------


def test_round_trip(azurite: Azurite, container: Any) -> None:
    be = make(azurite, container)
    assert be.location == f"azurerm://{ACCOUNT}/{container.container_name}/{KEY}"
    assert be.read() is None
    written = be.write(state_bytes(1), lock=None)
    props = blob_props(container)
    assert written.version == props.etag
    assert props.content_settings.content_type == "application/json"
    got = be.read()
    assert got is not None and got.data == state_bytes(1) and got.version == props.etag
    assert blob_data(container) == state_bytes(1)


def test_state_mv_and_rm_on_a_spec(azurite: Azurite, container: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARM_ACCESS_KEY", ACCOUNT_KEY)
    container.upload_blob(KEY, state_bytes(3))
    service = StateService()
    source = StateSource(backend=spec_of(azurite, container))
    result = service.mv(source, "azurerm_resource_group.logs", "azurerm_resource_group.audit")
    assert result.changed and result.new_serial == 4 and result.backup_id is not None
    doc = json.loads(blob_data(container))
    assert doc["serial"] == 4 and doc["lineage"] == LINEAGE
    assert sorted(r["name"] for r in doc["resources"]) == ["audit", "main"]
    assert_unlocked(container)
    service.rm(source, ["azurerm_resource_group.main"])
    doc = json.loads(blob_data(container))
    assert doc["serial"] == 5 and [r["name"] for r in doc["resources"]] == ["audit"]
    assert_unlocked(container)
    # the replaced bytes were backed up under the location
    backups = service.list_backups(source)
    assert len(backups) == 2 and backups[0].location == source_location(service, source)


def source_location(service: StateService, source: StateSource) -> str:
    return service.backend(source).location


def test_working_dir_with_an_azurerm_backend_block(
    azurite: Azurite, container: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "main.tf").write_text(
        'terraform {\n  backend "azurerm" {\n'
        f'    storage_account_name = "{ACCOUNT}"\n    container_name = "{container.container_name}"\n'
        f'    key = "{KEY}"\n    snapshot = true\n  }}\n}}\n'
    )
    monkeypatch.setenv("ARM_ACCESS_KEY", ACCOUNT_KEY)
    monkeypatch.setenv("DRIFTMGR_AZURERM_ENDPOINT", azurite.url)
    container.upload_blob(KEY, state_bytes(1))
    container.upload_blob(KEY + "env:staging", state_bytes(7, names=("staging",)))
    be = backend_from_chdir(tmp_path)
    assert isinstance(be, AzureRMBackend) and be.config.snapshot
    assert be.workspaces() == ["default", "staging"]
    service = StateService()
    assert sorted(i.address for i in service.list(StateSource(chdir=tmp_path))) == [
        "azurerm_resource_group.logs",
        "azurerm_resource_group.main",
    ]
    staging = StateSource(chdir=tmp_path, workspace="staging")
    service.rm(staging, ["azurerm_resource_group.staging"])
    assert json.loads(blob_data(container, KEY + "env:staging"))["resources"] == []
    assert json.loads(blob_data(container))["serial"] == 1  # the default workspace is untouched
    # snapshot = true: the blob was snapshotted before it was replaced, as Terraform does
    snapshots = [
        b for b in container.list_blobs(name_starts_with=KEY + "env:", include=["snapshots"]) if b.snapshot
    ]
    assert len(snapshots) == 1
    old = (
        container.get_blob_client(KEY + "env:staging", snapshot=snapshots[0].snapshot)
        .download_blob()
        .readall()
    )
    assert json.loads(old)["serial"] == 7


def test_workspaces(azurite: Azurite, container: Any) -> None:
    be = make(azurite, container)
    assert be.workspaces() == []
    make(azurite, container, workspace="prod").write(state_bytes(), lock=None)
    make(azurite, container, workspace="staging").write(state_bytes(), lock=None)
    assert container.get_blob_client(KEY + "env:prod").exists()
    container.upload_blob(KEY + "env:nested/x", b"{}")  # not a workspace: "/" after the prefix
    container.upload_blob("network/other.tfstate", b"{}")
    assert be.workspaces() == ["prod", "staging"]
    be.write(state_bytes(), lock=None)
    assert be.workspaces() == ["default", "prod", "staging"]
    assert be.for_workspace("prod").read() is not None


# -- locking ------------------------------------------------------------------------------------


def test_lock_is_a_lease_with_terraform_lock_info(azurite: Azurite, container: Any) -> None:
    from azure.storage.blob import BlobLeaseClient

    be = make(azurite, container)
    held = be.lock(lock_as("alice@laptop"))
    props = blob_props(container)
    assert props.lease.status == "locked" and props.lease.duration == "infinite"
    assert props.size == 0  # created empty to be leased, as Terraform does
    stored = stored_lock(container)
    assert list(stored) == TF_LOCK_KEYS and stored == held.to_terraform()
    assert stored["Path"] == f"{container.container_name}/{KEY}" and stored["Who"] == "alice@laptop"
    BlobLeaseClient(container.get_blob_client(KEY), lease_id=held.id).renew()  # the lease ID is the lock ID
    assert be.current_lock() == held
    assert be.read() is None  # an empty blob is no state
    be.unlock(held.id)
    assert_unlocked(container)
    assert be.current_lock() is None


def test_two_writers_second_is_refused_naming_the_holder(
    azurite: Azurite, container: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARM_ACCESS_KEY", ACCOUNT_KEY)
    container.upload_blob(KEY, state_bytes(1))
    first, second = make(azurite, container), make(azurite, container)
    held = first.lock(lock_as("alice@laptop"))
    with pytest.raises(StateLockedError, match="alice@laptop") as err:
        second.lock(lock_as("bob@ci"))
    assert err.value.lock is not None and err.value.lock.id == held.id
    # writing without the lock is refused by Azure (the lease), nothing is written
    with pytest.raises(StateLockedError, match=r"alice@laptop.*nothing was written"):
        second.write(state_bytes(2), lock=None)
    # ... and a StateService write too
    with pytest.raises(StateLockedError, match="alice@laptop"):
        StateService().rm(StateSource(backend=spec_of(azurite, container)), ["x.y"], lock_timeout=0)
    assert blob_data(container) == state_bytes(1)
    # the holder writes under its lease, and its lock info stays in the metadata
    first.write(state_bytes(2), lock=held)
    assert stored_lock(container)["ID"] == held.id
    first.unlock(held.id)
    assert_unlocked(container)
    assert json.loads(blob_data(container))["serial"] == 2


def test_lock_timeout_waits_for_the_holder(azurite: Azurite, container: Any) -> None:
    first = make(azurite, container)
    held = first.lock(lock_as("alice@laptop"))
    proxy = FaultyProxy(azurite.port)
    try:
        waiting = make(azurite, container, endpoint=proxy.url)
        waiting.lock_timeout = 60
        got: list[LockInfo] = []
        thread = threading.Thread(target=lambda: got.append(waiting.lock(lock_as("bob@ci"))))
        thread.start()
        while not proxy.seen and thread.is_alive():
            time.sleep(0.01)  # until bob has tried (and been refused) once
        first.unlock(held.id)
        thread.join(60)
        assert got and stored_lock(container)["Who"] == "bob@ci"
        waiting.unlock(got[0].id)
    finally:
        proxy.close()


def test_terraform_lock_is_honoured_and_shown(azurite: Azurite, container: Any) -> None:
    """A lock taken by Terraform (lease ID = lock ID, metadata written by Go) stops us and is described."""
    blob = container.upload_blob(KEY, state_bytes(1))
    lock_id = "8c7b9f0e-43a1-4f2e-b5d6-0a1b2c3d4e5f"
    blob.acquire_lease(lease_duration=-1, lease_id=lock_id)
    info = {
        "ID": lock_id,
        "Operation": "OperationTypeApply",
        "Info": "",
        "Who": "runner@tf-ci",
        "Version": "1.11.4",
        "Created": "2025-03-01T09:15:02.123456789Z",
        "Path": f"tfstate/{KEY}",
    }
    blob.set_blob_metadata(
        {"terraformlockid": base64.b64encode(json.dumps(info).encode()).decode()}, lease=lock_id
    )
    be = make(azurite, container)
    with pytest.raises(StateLockedError, match=r"ID 8c7b9f0e.*held by runner@tf-ci.*for OperationTypeApply"):
        be.lock(lock_as("alice@laptop"))
    assert be.current_lock() == LockInfo.from_terraform(info)
    with pytest.raises(BackendError, match="does not match the lock"):
        be.unlock("00000000-0000-0000-0000-000000000000")
    be.unlock(lock_id)  # Terraform's force-unlock ID does the same
    assert_unlocked(container)


def test_lease_without_lock_info(azurite: Azurite, container: Any) -> None:
    blob = container.upload_blob(KEY, state_bytes(1))
    blob.acquire_lease(lease_duration=-1, lease_id="11111111-2222-3333-4444-555555555555")
    be = make(azurite, container)
    with pytest.raises(StateLockedError, match="without Terraform lock info"):
        be.lock(lock_as("alice@laptop"))
    with pytest.raises(BackendError, match="held under another ID"):
        be.unlock("99999999-2222-3333-4444-555555555555")
    be.unlock("11111111-2222-3333-4444-555555555555")
    assert_unlocked(container)


def test_force_unlock_of_a_lease_held_by_a_dead_process(
    azurite: Azurite, container: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARM_ACCESS_KEY", ACCOUNT_KEY)
    container.upload_blob(KEY, state_bytes(1))
    code = (
        "import os, sys\n"
        "from driftmgr_tui.state.backends.azurerm import AzureRMBackend\n"
        "from driftmgr_tui.state.backends.azurerm_config import AzureRMBackendConfig\n"
        "from driftmgr_tui.state.backends.base import new_lock_info\n"
        f"cfg = AzureRMBackendConfig({ACCOUNT!r}, {container.container_name!r}, {KEY!r},"
        f" endpoint={azurite.url!r},"
        f" access_key={ACCOUNT_KEY!r})\n"
        "held = AzureRMBackend(cfg).lock(new_lock_info('OperationTypeApply', ''))\n"
        "print(held.id, flush=True)\n"
        "os._exit(9)  # dies holding the lock\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 9, proc.stderr
    dead_id = proc.stdout.strip()
    service = StateService()
    source = StateSource(backend=spec_of(azurite, container))
    status = service.locks(source)
    assert status.locked and status.info["ID"] == dead_id and list(status.info) == TF_LOCK_KEYS
    with pytest.raises(BackendError, match="does not match"):
        service.unlock(source, "00000000-0000-0000-0000-000000000000")
    status = service.unlock(source, "00000000-0000-0000-0000-000000000000", force=True)
    assert not status.locked
    assert_unlocked(container)
    assert blob_data(container) == state_bytes(1)
    result = service.mv(source, "azurerm_resource_group.logs", "azurerm_resource_group.audit")
    assert result.new_serial == 2


def test_write_after_force_unlock_or_takeover_is_refused(azurite: Azurite, container: Any) -> None:
    container.upload_blob(KEY, state_bytes(1))
    mine, other = make(azurite, container), make(azurite, container)
    held = mine.lock(lock_as("alice@laptop"))
    other.unlock("whatever", force=True)
    with pytest.raises(BackendError, match=r"no longer held .*nothing was written"):
        mine.write(state_bytes(2), lock=held)
    theirs = other.lock(lock_as("bob@ci"))
    with pytest.raises(StateLockedError, match="bob@ci"):
        mine.write(state_bytes(2), lock=held)
    assert blob_data(container) == state_bytes(1)
    with pytest.raises(BackendError, match="does not match"):
        mine.unlock(held.id)
    other.unlock(theirs.id)


def test_unlock_when_not_locked(azurite: Azurite, container: Any) -> None:
    be = make(azurite, container)
    with pytest.raises(BackendError, match="is not locked"):
        be.unlock("11111111-2222-3333-4444-555555555555")
    be.unlock("11111111-2222-3333-4444-555555555555", force=True)  # nothing to do


def test_metadata_is_kept_across_writes(azurite: Azurite, container: Any) -> None:
    blob = container.upload_blob(KEY, state_bytes(1), metadata={"owner": "team-net"})
    be = make(azurite, container)
    held = be.lock(lock_as("alice@laptop"))
    current = be.read()
    be.write(state_bytes(2), lock=held, expected_version=current.version)
    props = blob.get_blob_properties()
    assert props.metadata["owner"] == "team-net" and "terraformlockid" in props.metadata
    be.unlock(held.id)
    assert blob.get_blob_properties().metadata == {"owner": "team-net"}


# -- conflicts and failures ---------------------------------------------------------------------


def test_conditional_write_conflict_keeps_the_other_write(azurite: Azurite, container: Any) -> None:
    container.upload_blob(KEY, state_bytes(1))
    be = make(azurite, container)
    first = be.read()
    container.upload_blob(KEY, state_bytes(2), overwrite=True)  # someone writes in between
    with pytest.raises(StateConflictError, match="not written: it was changed by someone else"):
        be.write(state_bytes(3), lock=None, expected_version=first.version)
    assert blob_data(container) == state_bytes(2)
    # a fresh read gives the new version, and writing against it works
    again = be.read()
    be.write(state_bytes(3), lock=None, expected_version=again.version)
    assert blob_data(container) == state_bytes(3)


def test_create_conflict_when_the_blob_appeared(azurite: Azurite, container: Any) -> None:
    be = make(azurite, container)
    assert be.read() is None
    container.upload_blob(KEY, state_bytes(5))
    with pytest.raises(StateConflictError, match="created by someone else after it was found absent"):
        be.write(state_bytes(1), lock=None)
    assert blob_data(container) == state_bytes(5)


def test_failed_write_leaves_no_lease_behind(azurite: Azurite, container: Any) -> None:
    container.upload_blob(KEY, state_bytes(1))
    proxy = FaultyProxy(azurite.port)
    try:
        # every upload of the state fails (500, more often than the client retries); leases and metadata pass
        proxy.fail(
            10,
            status=500,
            code="InternalError",
            match=lambda method, path: method == "PUT" and "comp=" not in path,
        )
        store = StateStore(make(azurite, container, endpoint=proxy.url), None)
        with pytest.raises(BackendError, match=r"writing azurerm://.* failed \(500 InternalError"):
            store.mutate(
                "state mv",
                lambda s: ops.move(s, "azurerm_resource_group.logs", "azurerm_resource_group.x"),
                reason="test",
            )
        assert_unlocked(container)
        assert blob_data(container) == state_bytes(1)
    finally:
        proxy.close()


def test_server_errors_and_throttling_are_retried(azurite: Azurite, container: Any) -> None:
    container.upload_blob(KEY, state_bytes(1))
    proxy = FaultyProxy(azurite.port)
    try:
        be = make(azurite, container, endpoint=proxy.url)
        proxy.fail(2, status=503, code="ServerBusy")  # throttled twice, then served
        got = be.read()
        assert got is not None and got.data == state_bytes(1)
        assert len(proxy.seen) == 3
        proxy.fail(3, status=500, code="InternalError")  # max_retries=2: three attempts, all failing
        with pytest.raises(BackendError, match=r"reading azurerm://.* failed \(500 InternalError"):
            be.read()
    finally:
        proxy.close()


def test_malformed_state_blob(azurite: Azurite, container: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    container.upload_blob(KEY, b'{"version": 4, "serial": ')
    monkeypatch.setenv("ARM_ACCESS_KEY", ACCOUNT_KEY)
    source = StateSource(backend=spec_of(azurite, container))
    location = f"azurerm://{ACCOUNT}/{container.container_name}/{KEY}"
    with pytest.raises(StateFormatError, match=location):
        StateService().list(source)
    with pytest.raises(StateFormatError, match=location):
        StateService().rm(source, ["azurerm_resource_group.main"])
    assert_unlocked(container)
    assert blob_data(container) == b'{"version": 4, "serial": '


def test_missing_container_is_named(azurite: Azurite) -> None:
    be = AzureRMBackend(
        AzureRMBackendConfig(
            ACCOUNT, "no-such-container", KEY, endpoint=azurite.url, access_key=ACCOUNT_KEY, max_retries=0
        )
    )
    for call in (be.read, lambda: be.lock(lock_as("alice@laptop")), be.workspaces):
        with pytest.raises(
            BackendError, match="container 'no-such-container' does not exist in storage account"
        ):
            call()


def test_wrong_access_key(azurite: Azurite, container: Any) -> None:
    wrong = base64.b64encode(b"not the account key" * 3).decode()
    be = make(azurite, container, access_key=wrong)
    with pytest.raises(
        ProviderAuthError, match=rf"storage account '{ACCOUNT}' refused the credentials.*403"
    ) as err:
        be.read()
    assert err.value.exit_code == 2 and "access_key / ARM_ACCESS_KEY" in err.value.message
    with pytest.raises(ProviderAuthError, match="cannot sign requests"):
        make(azurite, container, access_key="not base64 at all!").read()


def test_sas_token(azurite: Azurite, container: Any) -> None:
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    def sas(expiry: datetime) -> str:
        return generate_container_sas(
            ACCOUNT,
            container.container_name,
            account_key=ACCOUNT_KEY,
            permission=ContainerSasPermissions(
                read=True, add=True, create=True, write=True, delete=True, list=True
            ),
            expiry=expiry,
        )

    be = make(azurite, container, sas_token="?" + sas(datetime.now(UTC) + timedelta(hours=1)))
    held = be.lock(lock_as("alice@laptop"))
    be.write(state_bytes(1), lock=held)
    be.unlock(held.id)
    assert be.read().data == state_bytes(1)
    expired = make(azurite, container, sas_token=sas(datetime.now(UTC) - timedelta(hours=1)))
    with pytest.raises(ProviderAuthError, match=r"403.*check the SAS token"):
        expired.read()


def test_unreachable_endpoint(azurite: Azurite) -> None:
    from tests._fixtures.azurite import _free_port

    url = f"http://127.0.0.1:{_free_port()}/{ACCOUNT}"
    be = AzureRMBackend(
        AzureRMBackendConfig(
            ACCOUNT,
            "tfstate",
            KEY,
            endpoint=url,
            access_key=ACCOUNT_KEY,
            max_retries=1,
            retry_backoff=0.01,
            retry_jitter=0,
        )
    )
    with pytest.raises(BackendError, match=f"cannot reach the blob service at {url} while reading"):
        be.read()


# -- Azure AD (use_azuread_auth), against Azurite over https with OAuth -----------------------------------


class JwtCredential:
    """An azure-identity-like credential handing out a JWT as Azure AD would (Azurite's basic OAuth checks the
    lifetime, the issuer and the audience, not the signature)."""

    def __init__(self, audience: str = "https://storage.azure.com") -> None:
        self.audience = audience
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        self.scopes.append(scopes)
        now = int(time.time())
        claims = {
            "aud": self.audience,
            "iss": "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/",
            "iat": now - 60,
            "nbf": now - 60,
            "exp": now + 3600,
            "oid": str(uuid.uuid4()),
        }

        def part(doc: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()

        return AccessToken(f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl", now + 3600)


class FailingCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.exceptions import ClientAuthenticationError

        raise ClientAuthenticationError(
            "ClientSecretCredential: AADSTS7000215: Invalid client secret provided."
        )


@pytest.fixture(scope="module")
def azurite_https(
    azurite: Azurite, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Azurite, Path]]:
    """A second Azurite, over https with Azure AD (OAuth) enabled; and the CA its certificate comes from."""
    workdir = tmp_path_factory.mktemp("azurite-https")
    ca, cert, key = make_tls_files(workdir, "127.0.0.1")
    server = start_azurite(
        workdir, "--oauth", "basic", "--cert", str(cert), "--key", str(key), scheme="https"
    )
    try:
        yield server, ca
    finally:
        stop_azurite(server)


def test_azure_ad_authentication(
    azurite_https: tuple[Azurite, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from azure.core.credentials import AzureNamedKeyCredential
    from azure.storage.blob import BlobServiceClient

    server, ca = azurite_https
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))  # requests (azure-core's transport) trusts the test CA
    name = f"tfstate-{uuid.uuid4().hex[:12]}"
    BlobServiceClient(server.url, credential=AzureNamedKeyCredential(ACCOUNT, ACCOUNT_KEY)).create_container(
        name
    )
    cfg = AzureRMBackendConfig(ACCOUNT, name, KEY, endpoint=server.url, use_azuread_auth=True, max_retries=0)
    credential = JwtCredential()
    be = AzureRMBackend(cfg, credential=credential)
    held = be.lock(lock_as("alice@laptop"))
    be.write(state_bytes(1), lock=held)
    be.unlock(held.id)
    assert be.read().data == state_bytes(1)
    assert set(credential.scopes) == {("https://storage.azure.com/.default",)}
    # a token the service does not accept, and a credential that gets none: credential errors naming
    # the account
    with pytest.raises(
        ProviderAuthError, match=rf"storage account '{ACCOUNT}' refused the credentials.*40[13]"
    ) as err:
        AzureRMBackend(cfg, credential=JwtCredential("https://vault.azure.net")).read()
    assert "Storage Blob Data Contributor" in err.value.message
    with pytest.raises(ProviderAuthError, match=r"no usable Azure AD credentials.*AADSTS7000215"):
        AzureRMBackend(cfg, credential=FailingCredential()).read()
    # tokens are never sent over plain http
    with pytest.raises(ConfigError, match="Azure AD authentication needs an https blob endpoint"):
        AzureRMBackend(
            dataclasses.replace(cfg, endpoint="http://127.0.0.1:10000/devstoreaccount1"),
            credential=credential,
        ).read()


# -- access key looked up through Azure Resource Manager ------------------------------------------


class TokenCredential:
    """What the ARM client needs of an azure-identity credential."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        self.scopes.append(scopes)
        return AccessToken("arm-token", int(time.time()) + 3600)


@pytest.fixture
def arm(cloudapi: FakeCloudApi, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCloudApi]:
    monkeypatch.setenv("DRIFTMGR_AZURE_ARM_ENDPOINT", cloudapi.url)
    yield cloudapi


def account_path(rg: str = "rg-tfstate") -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{ACCOUNT}"


def test_access_key_from_resource_manager(azurite: Azurite, container: Any, arm: FakeCloudApi) -> None:
    arm.route(
        account_path() + "/listKeys",
        method="POST",
        body={
            "keys": [
                {"keyName": "key1", "value": ACCOUNT_KEY, "permissions": "FULL"},
                {"keyName": "key2", "value": "b3RoZXI=", "permissions": "FULL"},
            ]
        },
    )
    arm.route(
        account_path(), {"name": ACCOUNT, "properties": {"primaryEndpoints": {"blob": azurite.url + "/"}}}
    )
    credential = TokenCredential()
    be = make(
        azurite,
        container,
        credential=credential,
        resource_group_name="rg-tfstate",
        subscription_id=SUB,
        lookup_blob_endpoint=True,
        endpoint=None,
    )
    be.write(state_bytes(1), lock=None)
    assert blob_data(container) == state_bytes(1)
    assert be.account_url == azurite.url
    (keys,) = arm.requests_to(account_path() + "/listKeys")
    assert keys.headers["authorization"] == "Bearer arm-token" and keys.query["api-version"] == "2023-01-01"
    assert credential.scopes[0] == ("https://management.azure.com/.default",)


def test_resource_manager_refusal_is_an_auth_error(
    azurite: Azurite, container: Any, arm: FakeCloudApi
) -> None:
    arm.route(
        account_path() + "/listKeys",
        method="POST",
        handler=lambda _r: Reply(
            403, {"error": {"code": "AuthorizationFailed", "message": "no listKeys/action"}}
        ),
    )
    be = make(
        azurite,
        container,
        credential=TokenCredential(),
        resource_group_name="rg-tfstate",
        subscription_id=SUB,
    )
    with pytest.raises(
        ProviderAuthError,
        match=r"refused listing the access keys of storage account .*"
        r"rg-tfstate.*403 AuthorizationFailed",
    ):
        be.read()
    arm.route(
        account_path("rg-missing") + "/listKeys",
        method="POST",
        handler=lambda _r: Reply(404, {"error": {"code": "ResourceNotFound", "message": "not found"}}),
    )
    with pytest.raises(BackendError, match=r"'rg-missing'.* was not found .*404 ResourceNotFound") as err:
        make(
            azurite,
            container,
            credential=TokenCredential(),
            resource_group_name="rg-missing",
            subscription_id=SUB,
        ).read()
    assert "resource_group_name" in (err.value.hint or "")


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


# -- interoperability with real Terraform ---------------------------------------------------------


@pytest.mark.terraform
def test_terraform_interop(azurite: Azurite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """terraform init/apply against Azurite (through a TLS-terminating proxy: Terraform only speaks to
    https://{account}.blob.core.windows.net); we read and change its state, our lock stops it, its lock stops
    us, and a lease left by a killed Terraform is force-unlocked."""
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not on PATH")
    name = f"tfstate-{uuid.uuid4().hex[:12]}"
    azurite.service(TF_ACCOUNT).create_container(name)
    ca, cert, key = make_tls_files(tmp_path, f"{TF_ACCOUNT}.blob.core.windows.net")
    proxy = TlsConnectProxy(azurite.port, cert, key)
    d = tmp_path / "wd"
    d.mkdir()
    (d / "main.tf").write_text(
        f'terraform {{\n  backend "azurerm" {{\n    storage_account_name = "{TF_ACCOUNT}"\n'
        f'    container_name       = "{name}"\n    key                  = "interop.tfstate"\n  }}\n}}\n\n'
        'resource "terraform_data" "x" {\n  input = "hello"\n}\n'
    )
    cli_config = tmp_path / "terraformrc"
    cli_config.write_text('provider_installation {\n  direct {\n    exclude = ["*/*/*"]\n  }\n}\n')
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "https_proxy", "http_proxy")}
    env.update(
        HTTPS_PROXY=proxy.url,
        SSL_CERT_FILE=str(ca),
        ARM_ACCESS_KEY=TF_ACCOUNT_KEY,
        TF_CLI_CONFIG_FILE=str(cli_config),
        TF_IN_AUTOMATION="1",
    )

    def tf(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [terraform, *args, "-no-color"], cwd=d, env=env, capture_output=True, text=True, timeout=120
        )
        if check and proc.returncode != 0:
            pytest.fail(f"terraform {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc

    monkeypatch.setenv("ARM_ACCESS_KEY", TF_ACCOUNT_KEY)
    monkeypatch.setenv("DRIFTMGR_AZURERM_ENDPOINT", f"{azurite.host}/{TF_ACCOUNT}")
    try:
        tf("init", "-input=false")
        tf("apply", "-auto-approve", "-input=false")
        be = backend_from_chdir(d)  # from the backend cache terraform init wrote
        assert isinstance(be, AzureRMBackend)
        state = be.read()
        assert state is not None and json.loads(state.data)["serial"] >= 1
        assert be.workspaces() == ["default"]

        # our state mv is what Terraform then sees
        source = StateSource(chdir=d)
        StateService().mv(source, "terraform_data.x", "terraform_data.moved")
        assert tf("state", "list").stdout.split() == ["terraform_data.moved"]

        # our lock stops Terraform, which shows our lock info
        held = be.lock(new_lock_info("OperationTypeApply", ""))
        blocked = tf("apply", "-auto-approve", "-input=false", "-lock-timeout=0s", check=False)
        assert blocked.returncode != 0 and "Error acquiring the state lock" in blocked.stderr
        assert held.id in blocked.stderr and held.who in blocked.stderr
        be.unlock(held.id)

        # Terraform's lock stops us; Terraform dies holding it (waiting for approval); we force-unlock it
        waiting = subprocess.Popen(
            [terraform, "apply", "-input=true", "-no-color"],
            cwd=d,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            # until it holds the lease and has recorded its lock info (between the two: a lease with no ID)
            while (
                ((theirs := be.current_lock()) is None or not theirs.id)
                and waiting.poll() is None
                and time.monotonic() < deadline
            ):
                time.sleep(0.05)
        finally:
            waiting.kill()
            waiting.wait(30)
        assert (
            theirs is not None
            and theirs.id
            and theirs.operation == "OperationTypeApply"
            and theirs.version == "1.11.4"
        )
        assert theirs.path == f"{name}/interop.tfstate"
        with pytest.raises(StateLockedError, match=re.escape(theirs.who)):
            StateService().rm(source, ["terraform_data.moved"])
        status = StateService().unlock(source, theirs.id, force=True)
        assert not status.locked
        tf("apply", "-auto-approve", "-input=false")  # Terraform can lock again

        # Terraform's workspace layout is what we list and address
        tf("workspace", "new", "staging")
        assert be.workspaces() == ["default", "staging"]
        staging = backend_from_chdir(d)  # .terraform/environment now says staging
        assert staging.location.endswith("/interop.tfstateenv:staging") and staging.read() is not None
    finally:
        proxy.close()
        azurite.service(TF_ACCOUNT).delete_container(name)
