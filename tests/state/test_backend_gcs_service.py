"""The gcs backend through StateService, the `driftmgr` command and real Terraform, on the local GCS."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftmgr_tui.core.errors import BackendError, StateConflictError, StateFormatError, StateLockedError
from driftmgr_tui.services.state_service import StateService, StateSource
from driftmgr_tui.state.backends.config import backend_from_chdir
from driftmgr_tui.state.backends.gcs import GcsBackend
from driftmgr_tui.state.codec import read_state
from tests._fixtures.gcs_server import FakeGcs, Request
from tests._fixtures.gcs_server import gcs as gcs  # the fixture
from tests._fixtures.gcs_state import (
    BUCKET,
    EXAMPLE,
    LOCK_OBJ,
    PREFIX,
    STATE_OBJ,
    TERRAFORM_LOCK_KEYS,
    backend,
    gcs_backend_block,
    lock_as,
    media_of,
    no_lock_left,
    on_object,
    once,
    seed_example,
    spec,
    uploads_of,
)
from tests._fixtures.gcs_state import bucket as bucket  # the fixture
from tests._fixtures.gcs_state import no_google_env as no_google_env  # the fixture

pytestmark = pytest.mark.usefixtures("no_google_env")


def test_state_rm_and_mv_on_a_gs_spec(bucket: FakeGcs) -> None:
    seed_example(bucket)
    service, source = StateService(), StateSource(backend=spec(bucket))
    assert len(service.list(source)) == 11
    result = service.rm(source, ["aws_route53_record.www"])
    assert result.changed and (result.old_serial, result.new_serial) == (42, 43)
    result = service.mv(source, "aws_instance.web", "module.app.aws_instance.web")
    assert result.new_serial == 44 and result.backup_id is not None
    state = read_state(bucket.get(BUCKET, STATE_OBJ).data)
    addresses = {ref.address for ref in state.instances()}
    assert "aws_route53_record.www" not in addresses and "module.app.aws_instance.web[0]" in addresses
    assert state.lineage == "3f6c1c52-9a0e-4d51-b7a4-0c8e2b7f4d19"
    assert no_lock_left(bucket)
    # every write was guarded by the lock and conditional on the generation read
    assert all("ifGenerationMatch" in r.query for r in uploads_of(bucket, STATE_OBJ))
    # the object spelled out names the same state
    same = StateSource(backend=spec(bucket, f"{PREFIX}/default.tfstate"))
    assert len(service.list(same)) == 10


def test_workspace_states_through_a_spec(bucket: FakeGcs) -> None:
    seed_example(bucket, f"{PREFIX}/staging.tfstate")
    service = StateService()
    source = StateSource(backend=spec(bucket), workspace="staging")
    service.rm(source, ["aws_s3_bucket.logs"])
    assert read_state(bucket.get(BUCKET, f"{PREFIX}/staging.tfstate").data).serial == 43
    assert bucket.get(BUCKET, STATE_OBJ) is None
    assert service.backend(StateSource(backend=spec(bucket))).workspaces() == ["staging"]


def test_state_rm_in_a_working_dir_with_backend_gcs(bucket: FakeGcs, tmp_path: Path) -> None:
    seed_example(bucket, f"{PREFIX}/dev.tfstate")
    (tmp_path / "main.tf").write_text(
        gcs_backend_block(
            bucket=BUCKET, prefix=f"/{PREFIX}/", storage_custom_endpoint=f"{bucket.url}/storage/v1/"
        )
    )
    (tmp_path / ".terraform").mkdir()
    (tmp_path / ".terraform" / "environment").write_text("dev")
    be = backend_from_chdir(tmp_path)
    assert isinstance(be, GcsBackend) and be.location == f"gs://{BUCKET}/{PREFIX}/dev.tfstate"
    result = StateService().rm(StateSource(chdir=tmp_path), ["module.network.aws_vpc.main"])
    assert result.location == be.location and result.new_serial == 43
    assert no_lock_left(bucket)


def test_lock_contention_between_two_service_writers(bucket: FakeGcs) -> None:
    seed_example(bucket)
    refused: list[Exception] = []

    def second_writer(_req: Request) -> None:  # runs while the first writer holds the lock, mid-write
        try:
            StateService().rm(StateSource(backend=spec(bucket)), ["aws_iam_role.deploy"])
        except Exception as exc:
            refused.append(exc)

    once(bucket, on_object(STATE_OBJ), second_writer)
    StateService().rm(StateSource(backend=spec(bucket)), ["aws_route53_record.www"])
    assert len(refused) == 1 and isinstance(refused[0], StateLockedError)
    assert "state rm" in str(refused[0]) and refused[0].lock is not None
    state = read_state(bucket.get(BUCKET, STATE_OBJ).data)
    addresses = {ref.address for ref in state.instances()}
    assert "aws_route53_record.www" not in addresses and "aws_iam_role.deploy" in addresses
    assert state.serial == 43 and no_lock_left(bucket)


def test_concurrent_write_between_read_and_write_is_not_lost(bucket: FakeGcs) -> None:
    seed_example(bucket)
    theirs = json.loads(EXAMPLE.read_text())
    theirs["serial"] = 43
    theirs_bytes = json.dumps(theirs, indent=2).encode()

    once(bucket, on_object(STATE_OBJ), lambda _req: bucket.put(BUCKET, STATE_OBJ, theirs_bytes))
    with pytest.raises(StateConflictError, match="not written: it was changed by someone else"):
        StateService().rm(StateSource(backend=spec(bucket)), ["aws_route53_record.www"])
    assert bucket.get(BUCKET, STATE_OBJ).data == theirs_bytes
    assert no_lock_left(bucket)


def test_malformed_state_object(bucket: FakeGcs) -> None:
    bucket.put(BUCKET, STATE_OBJ, b'{"version": 4, "serial": ')
    source = StateSource(backend=spec(bucket))
    with pytest.raises(StateFormatError, match=rf"gs://{BUCKET}/{STATE_OBJ}"):
        StateService().list(source)
    with pytest.raises(StateFormatError):
        StateService().rm(source, ["aws_route53_record.www"])
    assert bucket.get(BUCKET, STATE_OBJ).data == b'{"version": 4, "serial": '
    assert no_lock_left(bucket)


def test_no_lock_left_after_a_failed_write(bucket: FakeGcs) -> None:
    seed_example(bucket)
    before = bucket.get(BUCKET, STATE_OBJ)
    bucket.fail(400, when=lambda r: r.method == "POST" and r.object_name == STATE_OBJ)
    with pytest.raises(BackendError, match=rf"writing gs://{BUCKET}/{STATE_OBJ} failed \(400"):
        StateService().rm(StateSource(backend=spec(bucket)), ["aws_route53_record.www"])
    assert bucket.get(BUCKET, STATE_OBJ) == before
    assert no_lock_left(bucket)


def driftmgr(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("driftmgr", path=str(Path(sys.executable).parent)) or "driftmgr"
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, timeout=120, env={**os.environ, **env}
    )


def test_cli_locks_unlock_and_credential_errors(bucket: FakeGcs) -> None:
    seed_example(bucket)
    held = backend(bucket).lock(lock_as("carol@old-runner"))
    proc = driftmgr("state", "locks", "--backend", spec(bucket), "--json")
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    assert (
        status["locked"] and status["lock"]["ID"] == held.id and status["lock"]["Who"] == "carol@old-runner"
    )
    proc = driftmgr("state", "unlock", "--backend", spec(bucket), held.id, "--yes")
    assert proc.returncode == 0, proc.stderr
    assert no_lock_left(bucket)

    bucket.require_token("ya29.good")
    proc = driftmgr("state", "list", "--backend", spec(bucket), GOOGLE_OAUTH_ACCESS_TOKEN="ya29.revoked")
    assert proc.returncode == 2
    assert (
        f"rejected the access token for bucket '{BUCKET}'" in proc.stderr and "Traceback" not in proc.stderr
    )


# -- interoperability with real Terraform --------------------------------------------------------


@pytest.fixture
def terraform_workdir(bucket: FakeGcs, tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not on PATH")
    bucket.require_token("ya29.terraform")
    rc = tmp_path / "terraformrc"
    rc.write_text('provider_installation {\n  direct {\n    exclude = ["*/*/*"]\n  }\n}\n')
    wd = tmp_path / "wd"
    wd.mkdir()
    (wd / "main.tf").write_text(
        gcs_backend_block(
            bucket=BUCKET,
            prefix=PREFIX,
            access_token="ya29.terraform",
            storage_custom_endpoint=f"{bucket.url}/storage/v1/",
        )
        + '\nresource "terraform_data" "x" {\n  input = "hello"\n}\n'
    )
    yield wd, dict(os.environ, TF_CLI_CONFIG_FILE=str(rc), TF_IN_AUTOMATION="1")


@pytest.mark.terraform
def test_terraform_interop(bucket: FakeGcs, terraform_workdir: tuple[Path, dict[str, str]]) -> None:
    """terraform init/apply against the local GCS; its lock and state read by us, ours by it."""
    wd, env = terraform_workdir

    def tf(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["terraform", *args], cwd=wd, env=env, capture_output=True, text=True, timeout=120
        )
        if check and proc.returncode != 0:
            pytest.fail(f"terraform {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc

    tf("init", "-input=false", "-no-color")
    tf("apply", "-auto-approve", "-input=false", "-no-color")

    # Terraform's own lock objects carry the keys (and order) ours do
    terraform_locks = [json.loads(media_of(r)) for r in uploads_of(bucket, LOCK_OBJ)]
    assert terraform_locks and all(list(doc) == TERRAFORM_LOCK_KEYS for doc in terraform_locks)
    assert terraform_locks[0]["Path"] == f"gs://{BUCKET}/{LOCK_OBJ}"

    be = backend_from_chdir(wd)
    assert isinstance(be, GcsBackend) and be.workspaces() == ["default"]
    state = be.read()
    assert state is not None
    assert [ref.address for ref in read_state(state.data).instances()] == ["terraform_data.x"]

    # our lock stops Terraform, which shows our holder and our lock ID ...
    held = be.lock(lock_as("alice@laptop", "state rm"))
    proc = tf("plan", "-lock-timeout=0s", "-input=false", "-no-color", check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "Error acquiring the state lock" in out and f"ID:        {held.id}" in out
    assert "alice@laptop" in out and "state rm" in out
    # ... and `terraform force-unlock` takes that ID
    tf("force-unlock", "-force", held.id)
    assert be.current_lock() is None

    # our write is what Terraform sees next
    StateService().rm(StateSource(chdir=wd), ["terraform_data.x"])
    assert tf("state", "list").stdout.strip() == ""
    assert "1 to add" in tf("plan", "-input=false", "-no-color").stdout
