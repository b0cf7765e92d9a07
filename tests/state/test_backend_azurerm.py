"""AzureRMBackend against a real Azurite (tests/_fixtures/azurite.py) with the real azure-storage-blob client,
checked with a plain azure-storage-blob client as Terraform would see the container; and real Terraform
against the same Azurite."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from driftmgr_tui.core.errors import (
    BackendError,
    LockInfo,
    StateConflictError,
    StateFormatError,
    StateLockedError,
)
from driftmgr_tui.services.state_service import StateService, StateSource
from driftmgr_tui.state import operations as ops
from driftmgr_tui.state.backends.azurerm import AzureRMBackend
from driftmgr_tui.state.backends.azurerm_config import AzureRMBackendConfig
from driftmgr_tui.state.backends.base import new_lock_info
from driftmgr_tui.state.backends.config import backend_from_chdir
from driftmgr_tui.state.store import StateStore
from tests._fixtures.azurerm_state import (
    KEY,
    LINEAGE,
    TF_LOCK_KEYS,
    assert_unlocked,
    blob_data,
    blob_props,
    lock_as,
    make,
    spec_of,
    state_bytes,
    stored_lock,
)
from tests._fixtures.azurerm_state import _no_azure_environment as _no_azure_environment  # autouse
from tests._fixtures.azurerm_state import container as container  # the fixture
from tests._fixtures.azurite import (
    ACCOUNT,
    ACCOUNT_KEY,
    TF_ACCOUNT,
    TF_ACCOUNT_KEY,
    Azurite,
    FaultyProxy,
    TlsConnectProxy,
    make_tls_files,
)
from tests._fixtures.azurite import azurite as azurite  # the fixtures, for this module
from tests._fixtures.azurite import azurite_container as azurite_container

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
