"""The full write path (lock -> backup -> conditional write -> md5 digest -> release) on S3, through
StateService, against a real moto server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json

import boto3
import pytest

from driftmgr_tui.core.errors import StateLockedError
from driftmgr_tui.services.state_service import StateService, StateSource
from driftmgr_tui.state.backends.base import new_lock_info
from driftmgr_tui.state.backends.config import backend_from_spec
from driftmgr_tui.state.codec import read_state

BUCKET = "acme-tfstate"
KEY = "prod/terraform.tfstate"
TABLE = "tf-locks"


@pytest.fixture
def s3_source(aws: str) -> StateSource:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    spec = f"s3://{BUCKET}/{KEY}?region=us-east-1&dynamodb_table={TABLE}&use_lockfile=true"
    source = StateSource(backend=spec)
    service = StateService()
    service.import_instance(source, "aws_s3_bucket.logs", {"id": "logs"}, create=True)
    service.import_instance(source, "aws_instance.web", {"id": "i-1"})
    return source


def _object() -> bytes:
    return boto3.client("s3", region_name="us-east-1").get_object(Bucket=BUCKET, Key=KEY)["Body"].read()


def _digest_item() -> str | None:
    item = boto3.client("dynamodb", region_name="us-east-1").get_item(
        TableName=TABLE, Key={"LockID": {"S": f"{BUCKET}/{KEY}-md5"}}
    ).get("Item")
    return item["Digest"]["S"] if item else None


def test_writes_keep_serial_backups_and_md5_digest_right(s3_source: StateSource) -> None:
    service = StateService()
    state = read_state(_object())
    assert state.serial == 2 and sorted(state.index) == ["aws_instance.web", "aws_s3_bucket.logs"]
    assert _digest_item() == hashlib.md5(_object()).hexdigest()
    service.mv(s3_source, "aws_instance.web", "module.app.aws_instance.web")
    assert read_state(_object()).serial == 3
    assert _digest_item() == hashlib.md5(_object()).hexdigest()
    backups = service.list_backups(s3_source)
    assert [b.serial for b in backups] == [2, 1]
    assert backups[0].location.startswith("s3://")
    versions = boto3.client("s3", region_name="us-east-1").list_object_versions(Bucket=BUCKET, Prefix=KEY)
    assert len([v for v in versions["Versions"] if v["Key"] == KEY]) == 3


def test_a_lock_held_by_another_client_refuses_the_write(s3_source: StateSource) -> None:
    other = backend_from_spec(s3_source.backend)
    holder = new_lock_info("OperationTypeApply", other.location)
    holder.who = "alice@ci-runner-7"
    other.lock(holder)
    before, digest_before = _object(), _digest_item()
    with pytest.raises(StateLockedError) as info:
        StateService().rm(s3_source, ["aws_instance.web"])
    message = str(info.value)
    assert "alice@ci-runner-7" in message and holder.id in message and "OperationTypeApply" in message
    assert _object() == before and _digest_item() == digest_before
    status = StateService().locks(s3_source)
    assert status.locked and status.info["ID"] == holder.id
    other.unlock(holder.id)


def test_a_stale_lock_is_force_unlocked(s3_source: StateSource) -> None:
    dead = backend_from_spec(s3_source.backend)
    ghost = new_lock_info("OperationTypeApply", dead.location)
    dead.lock(ghost)  # the process that took it is gone: nobody will release it
    service = StateService()
    with pytest.raises(StateLockedError):
        service.rm(s3_source, ["aws_instance.web"])
    service.unlock(s3_source, "not-the-id", force=True)
    assert not service.locks(s3_source).locked
    service.rm(s3_source, ["aws_instance.web"])
    assert sorted(read_state(_object()).index) == ["aws_s3_bucket.logs"]
    assert _digest_item() == hashlib.md5(_object()).hexdigest()
    assert json.loads(_object())["serial"] == 3
