"""S3Backend against a real moto server over HTTP (tests/_fixtures/moto.py), checked with plain boto3."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
from typing import Any

import pytest

from driftmgr_tui.core.errors import (
    BackendError,
    ConfigError,
    LockInfo,
    StateConflictError,
    StateLockedError,
)
from driftmgr_tui.state.backends.base import new_lock_info
from driftmgr_tui.state.backends.s3 import S3Backend, S3BackendConfig
from tests._fixtures.moto import moto_set_auth

BUCKET = "tfstate-bucket"
KEY = "app/terraform.tfstate"
TABLE = "tf-locks"
STATE1 = b'{"version": 4, "serial": 1, "lineage": "abc", "resources": []}\n'
STATE2 = b'{"version": 4, "serial": 2, "lineage": "abc", "resources": []}\n'
STATE3 = b'{"version": 4, "serial": 3, "lineage": "abc", "resources": []}\n'


def s3_client() -> Any:
    import boto3

    return boto3.client("s3", region_name="us-east-1")


def ddb_client() -> Any:
    import boto3

    return boto3.client("dynamodb", region_name="us-east-1")


def make_bucket(name: str = BUCKET, *, versioned: bool = False) -> None:
    s3_client().create_bucket(Bucket=name)
    if versioned:
        s3_client().put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})


def make_table(name: str = TABLE) -> None:
    ddb_client().create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def backend(**kw: Any) -> S3Backend:
    kw.setdefault("bucket", BUCKET)
    kw.setdefault("key", KEY)
    kw.setdefault("region", "us-east-1")
    kw.setdefault("digest_retries", 1)
    kw.setdefault("digest_retry_interval", 0.01)
    return S3Backend(S3BackendConfig(**kw))


def raw_object(key: str = KEY) -> bytes:
    return s3_client().get_object(Bucket=BUCKET, Key=key)["Body"].read()


def ddb_item(lock_id: str) -> dict[str, Any] | None:
    return (
        ddb_client()
        .get_item(TableName=TABLE, Key={"LockID": {"S": lock_id}}, ConsistentRead=True)
        .get("Item")
    )


def lock_as(who: str, operation: str = "OperationTypeApply") -> LockInfo:
    info = new_lock_info(operation, "")
    info.who = who
    return info


# -- configuration ------------------------------------------------------------------------------


def test_from_terraform_config_maps_attributes_and_nulls() -> None:
    cfg = S3BackendConfig.from_terraform_config(
        {
            "bucket": "b1",
            "key": "k/terraform.tfstate",
            "region": "eu-west-1",
            "dynamodb_table": "locks",
            "use_lockfile": True,
            "encrypt": True,
            "kms_key_id": "arn:aws:kms:eu-west-1:123456789012:key/x",
            "profile": "ops",
            "workspace_key_prefix": None,  # the backend cache writes unset attributes as null
            "endpoints": {"s3": "http://s3.local", "dynamodb": "http://ddb.local", "iam": None},
            "force_path_style": True,
            "assume_role": {"role_arn": "arn:aws:iam::123456789012:role/tf", "session_name": "ci"},
            "max_retries": 3,
            "access_key": None,
        },
        workspace="prod",
    )
    assert (cfg.bucket, cfg.key, cfg.region, cfg.workspace) == (
        "b1",
        "k/terraform.tfstate",
        "eu-west-1",
        "prod",
    )
    assert cfg.workspace_key_prefix == "env:"
    assert cfg.state_key == "env:/prod/k/terraform.tfstate"
    assert cfg.dynamodb_table == "locks" and cfg.use_lockfile and cfg.encrypt
    assert cfg.kms_key_id.endswith("key/x") and cfg.profile == "ops"
    assert cfg.endpoints == {"s3": "http://s3.local", "dynamodb": "http://ddb.local"}
    assert cfg.use_path_style
    assert cfg.role_arn == "arn:aws:iam::123456789012:role/tf" and cfg.role_session_name == "ci"
    assert cfg.max_attempts == 4


def test_from_terraform_config_block_forms_and_legacy_names() -> None:
    cfg = S3BackendConfig.from_terraform_config(
        {
            "bucket": "b1",
            "key": "terraform.tfstate",
            "endpoint": "http://s3.local",
            "dynamodb_endpoint": "http://ddb.local",
            "assume_role": [{"role_arn": "arn:aws:iam::123456789012:role/tf"}],
            "use_lockfile": "true",
            "workspace_key_prefix": "",
        },
        workspace="dev",
    )
    assert cfg.endpoints == {"s3": "http://s3.local", "dynamodb": "http://ddb.local"}
    assert cfg.role_arn == "arn:aws:iam::123456789012:role/tf"
    assert cfg.use_lockfile is True
    assert cfg.state_key == "dev/terraform.tfstate"


@pytest.mark.parametrize("missing", ["bucket", "key"])
def test_from_terraform_config_requires_bucket_and_key(missing: str) -> None:
    cfg = {"bucket": "b1", "key": "terraform.tfstate", missing: None}
    with pytest.raises(ConfigError, match=f"missing required attribute '{missing}'"):
        S3BackendConfig.from_terraform_config(cfg)


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"key": "/abs/terraform.tfstate"}, "must not start or end with '/'"),
        ({"key": "a//b"}, "must not contain '//'"),
        ({"endpoint": "http://a", "endpoints": {"s3": "http://b"}}, "cannot be configured together"),
        ({"force_path_style": True, "use_path_style": True}, "cannot be configured together"),
        ({"use_lockfile": "maybe"}, "'use_lockfile' must be true or false"),
        ({"sse_customer_key": "x" * 44}, "SSE-C"),
    ],
)
def test_from_terraform_config_rejects_invalid(cfg: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        S3BackendConfig.from_terraform_config({"bucket": "b1", "key": "terraform.tfstate", **cfg})


def test_importing_the_backends_does_not_import_boto3() -> None:
    code = (
        "import sys, driftmgr_tui.state.backends.s3, driftmgr_tui.state.backends.config;"
        "bad = [m for m in ('boto3', 'botocore') if m in sys.modules];"
        "sys.exit(f'imported at import time: {bad}' if bad else 0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- read / write -------------------------------------------------------------------------------


def test_round_trip(aws: str) -> None:
    make_bucket()
    be = backend()
    assert be.location == f"s3://{BUCKET}/{KEY}"
    written = be.write(STATE1, lock=None)
    head = s3_client().head_object(Bucket=BUCKET, Key=KEY)
    assert written.version == head["ETag"]
    assert head["ContentType"] == "application/json"
    got = be.read()
    assert got is not None and got.data == STATE1 and got.version == head["ETag"]
    assert raw_object() == STATE1


def test_missing_object_reads_as_none(aws: str) -> None:
    make_bucket()
    assert backend().read() is None


def test_encrypt_uses_sse_s3_or_kms(aws: str) -> None:
    import boto3

    make_bucket()
    backend(encrypt=True).write(STATE1, lock=None)
    assert s3_client().head_object(Bucket=BUCKET, Key=KEY)["ServerSideEncryption"] == "AES256"

    key_id = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
    backend(key="kms.tfstate", encrypt=True, kms_key_id=key_id).write(STATE1, lock=None)
    head = s3_client().head_object(Bucket=BUCKET, Key="kms.tfstate")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == key_id


def test_workspace_keys_and_listing(aws: str) -> None:
    make_bucket()
    assert backend().workspaces() == []  # nothing stored yet
    backend(workspace="staging").write(STATE1, lock=None)
    backend(workspace="prod").write(STATE2, lock=None)
    assert raw_object("env:/staging/app/terraform.tfstate") == STATE1
    assert raw_object("env:/prod/app/terraform.tfstate") == STATE2
    assert backend().for_workspace("prod").read().data == STATE2
    # objects under the prefix that are not this key, and lock files, are not workspaces
    s3_client().put_object(Bucket=BUCKET, Key="env:/other/different.tfstate", Body=b"{}")
    s3_client().put_object(Bucket=BUCKET, Key="env:/prod/app/terraform.tfstate.tflock", Body=b"{}")
    assert backend().workspaces() == ["prod", "staging"]  # no default object yet
    backend().write(STATE3, lock=None)
    assert backend(workspace="prod").workspaces() == ["default", "prod", "staging"]


def test_custom_and_empty_workspace_key_prefix(aws: str) -> None:
    make_bucket()
    backend(workspace="qa", workspace_key_prefix="workspaces").write(STATE1, lock=None)
    backend(workspace="qa", workspace_key_prefix="").write(STATE2, lock=None)
    assert raw_object("workspaces/qa/app/terraform.tfstate") == STATE1
    assert raw_object("qa/app/terraform.tfstate") == STATE2
    assert backend(workspace_key_prefix="workspaces").workspaces() == ["qa"]


# -- DynamoDB locking ---------------------------------------------------------------------------


def test_dynamodb_lock_taken_and_released(aws: str) -> None:
    make_bucket()
    make_table()
    be = backend(dynamodb_table=TABLE)
    held = be.lock(lock_as("alice@laptop"))
    item = ddb_item(f"{BUCKET}/{KEY}")
    assert item is not None
    info = json.loads(item["Info"]["S"])
    assert list(info) == ["ID", "Operation", "Info", "Who", "Version", "Created", "Path"]
    assert info["ID"] == held.id and info["Who"] == "alice@laptop" and info["Path"] == f"{BUCKET}/{KEY}"
    assert be.current_lock() == held
    be.unlock(held.id)
    assert ddb_item(f"{BUCKET}/{KEY}") is None
    assert be.current_lock() is None


def test_second_client_is_refused_and_names_the_holder(aws: str) -> None:
    make_bucket()
    make_table()
    first = backend(dynamodb_table=TABLE)
    first.write(STATE1, lock=None)
    held = first.lock(lock_as("alice@laptop"))

    second = backend(dynamodb_table=TABLE)
    with pytest.raises(StateLockedError) as err:
        second.lock(lock_as("bob@ci-runner"))
    assert "alice@laptop" in str(err.value) and held.id in str(err.value)
    assert err.value.lock is not None and err.value.lock.id == held.id
    # writing with a lock it does not hold is refused as well
    with pytest.raises(StateLockedError, match="alice@laptop"):
        second.write(STATE2, lock=lock_as("bob@ci-runner"))
    assert raw_object() == STATE1
    assert first.current_lock().id == held.id


def test_unlock_with_wrong_id_is_refused(aws: str) -> None:
    make_bucket()
    make_table()
    be = backend(dynamodb_table=TABLE)
    held = be.lock(lock_as("alice@laptop"))
    with pytest.raises(BackendError, match=r"does not match.*alice@laptop"):
        backend(dynamodb_table=TABLE).unlock("not-the-id")
    assert be.current_lock().id == held.id
    be.unlock(held.id)
    with pytest.raises(BackendError, match="is not locked"):
        be.unlock(held.id)


def test_stale_lock_force_unlocked(aws: str) -> None:
    make_bucket()
    make_table()
    dead = LockInfo(
        id="0b9c9d4e-dead-4c1e-9c52-000000000000",
        operation="OperationTypeApply",
        who="carol@old-runner",
        version="1.11.4",
        created="2026-01-01T00:00:00.000000Z",
        path=f"{BUCKET}/{KEY}",
    )
    ddb_client().put_item(
        TableName=TABLE,
        Item={"LockID": {"S": f"{BUCKET}/{KEY}"}, "Info": {"S": json.dumps(dead.to_terraform())}},
    )
    be = backend(dynamodb_table=TABLE)
    with pytest.raises(StateLockedError, match="carol@old-runner"):
        be.lock(lock_as("alice@laptop"))
    be.unlock("whatever", force=True)
    held = be.lock(lock_as("alice@laptop"))
    assert be.current_lock().who == "alice@laptop"
    be.unlock(held.id)


def test_write_after_force_unlock_is_refused(aws: str) -> None:
    make_bucket()
    make_table()
    be = backend(dynamodb_table=TABLE)
    held = be.lock(lock_as("alice@laptop"))
    backend(dynamodb_table=TABLE).unlock("x", force=True)
    with pytest.raises(BackendError, match="no longer held"):
        be.write(STATE1, lock=held)
    assert be.read() is None


def test_missing_dynamodb_table_names_it(aws: str) -> None:
    make_bucket()
    with pytest.raises(BackendError, match="DynamoDB table 'no-such-table' does not exist"):
        backend(dynamodb_table="no-such-table").lock(lock_as("alice@laptop"))
    # with both mechanisms, the lock file taken first is released again
    with pytest.raises(BackendError, match="DynamoDB table 'no-such-table' does not exist"):
        backend(dynamodb_table="no-such-table", use_lockfile=True).lock(lock_as("alice@laptop"))
    assert s3_client().list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_no_lock_mechanism_takes_nothing(aws: str) -> None:
    make_bucket()
    be = backend()
    held = be.lock(lock_as("alice@laptop"))
    assert held.id and held.path == f"{BUCKET}/{KEY}"
    assert be.current_lock() is None
    backend().lock(lock_as("bob@ci-runner"))  # nothing to conflict with, as in Terraform
    be.unlock(held.id)
    assert s3_client().list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


# -- S3 lock file (use_lockfile) ----------------------------------------------------------------


def test_lockfile_contention(aws: str) -> None:
    make_bucket()
    first = backend(use_lockfile=True)
    held = first.lock(lock_as("alice@laptop"))
    body = raw_object(KEY + ".tflock")
    assert json.loads(body) == held.to_terraform()
    with pytest.raises(StateLockedError) as err:
        backend(use_lockfile=True).lock(lock_as("bob@ci-runner"))
    assert "alice@laptop" in str(err.value) and held.id in str(err.value)
    assert raw_object(KEY + ".tflock") == body  # the holder's lock file is untouched
    with pytest.raises(BackendError, match="does not match"):
        backend(use_lockfile=True).unlock("wrong")
    first.unlock(held.id)
    assert s3_client().list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0
    backend(use_lockfile=True).lock(lock_as("bob@ci-runner"))


def test_lock_timeout_waits_for_the_holder_to_release(aws: str) -> None:
    """`--lock-timeout`: a held lock is retried, and taken once its holder lets go."""
    import threading

    make_bucket()
    first = backend(use_lockfile=True)
    held = first.lock(lock_as("alice@laptop"))
    waiter = backend(use_lockfile=True)
    waiter.lock_timeout = 60
    attempts: list[int] = []
    original = waiter._try_lock

    def counting(info):  # release the holder's lock after the waiter has been refused once
        attempts.append(1)
        if len(attempts) == 2:
            threading.Thread(target=first.unlock, args=(held.id,)).start()
        return original(info)

    waiter._try_lock = counting  # type: ignore[method-assign]
    got = waiter.lock(lock_as("bob@ci-runner"))
    assert len(attempts) >= 3
    assert json.loads(raw_object(KEY + ".tflock"))["ID"] == got.id
    with pytest.raises(StateLockedError, match="bob@ci-runner"):  # no timeout: refused at once
        backend(use_lockfile=True).lock(lock_as("carol@ci"))


def test_lockfile_for_workspace_sits_beside_its_state(aws: str) -> None:
    make_bucket()
    be = backend(use_lockfile=True, workspace="prod")
    held = be.lock(lock_as("alice@laptop"))
    assert json.loads(raw_object("env:/prod/app/terraform.tfstate.tflock"))["ID"] == held.id
    backend(use_lockfile=True).lock(lock_as("bob@ci-runner"))  # default workspace: other lock


def test_both_mechanisms_together(aws: str) -> None:
    make_bucket()
    make_table()
    be = backend(use_lockfile=True, dynamodb_table=TABLE)
    held = be.lock(lock_as("alice@laptop"))
    assert json.loads(raw_object(KEY + ".tflock"))["ID"] == held.id
    assert json.loads(ddb_item(f"{BUCKET}/{KEY}")["Info"]["S"])["ID"] == held.id
    with pytest.raises(StateLockedError, match="alice@laptop"):
        backend(use_lockfile=True, dynamodb_table=TABLE).lock(lock_as("bob@ci-runner"))
    be.unlock(held.id)
    assert ddb_item(f"{BUCKET}/{KEY}") is None
    assert s3_client().list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_both_mechanisms_release_the_lockfile_when_dynamodb_is_held(aws: str) -> None:
    make_bucket()
    make_table()
    # a Terraform still on DynamoDB-only locking holds the lock
    old = backend(dynamodb_table=TABLE).lock(lock_as("terraform@old-ci"))
    be = backend(use_lockfile=True, dynamodb_table=TABLE)
    with pytest.raises(StateLockedError, match="terraform@old-ci"):
        be.lock(lock_as("alice@laptop"))
    # our lock file was taken first, then released again
    assert s3_client().list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0
    assert be.current_lock().id == old.id


# -- MD5 digest ---------------------------------------------------------------------------------


def test_md5_digest_follows_every_write(aws: str) -> None:
    make_bucket()
    make_table()
    be = backend(dynamodb_table=TABLE)
    for data in (STATE1, STATE2):
        be.write(data, lock=None)
        stored = raw_object()
        item = ddb_item(f"{BUCKET}/{KEY}-md5")
        assert item["Digest"]["S"] == hashlib.md5(stored).hexdigest() == hashlib.md5(data).hexdigest()
    assert be.read().data == STATE2


def test_tampered_digest_fails_read_with_clear_message(aws: str) -> None:
    make_bucket()
    make_table()
    be = backend(dynamodb_table=TABLE, digest_retries=2, digest_retry_interval=0.05)
    be.write(STATE1, lock=None)
    bogus = "0" * 32
    ddb_client().put_item(
        TableName=TABLE, Item={"LockID": {"S": f"{BUCKET}/{KEY}-md5"}, "Digest": {"S": bogus}}
    )
    digests: list[int] = []
    get_digest = be._get_digest
    be._get_digest = lambda: (digests.append(1), get_digest())[1]  # type: ignore[method-assign]
    with pytest.raises(BackendError) as err:
        be.read()
    message = str(err.value)
    assert "state data in S3 does not have the expected content" in message
    assert hashlib.md5(STATE1).hexdigest() in message and bogus in message
    assert hashlib.md5(STATE1).hexdigest() in err.value.hint
    assert len(digests) == 3  # the first read and two bounded retries (digest_retries=2), then the error


def test_digest_without_object_fails_read(aws: str) -> None:
    make_bucket()
    make_table()
    digest = hashlib.md5(STATE1).hexdigest()
    ddb_client().put_item(
        TableName=TABLE, Item={"LockID": {"S": f"{BUCKET}/{KEY}-md5"}, "Digest": {"S": digest}}
    )
    with pytest.raises(BackendError, match=r"expected content.*\(no state object\)"):
        backend(dynamodb_table=TABLE).read()


# -- conditional writes -------------------------------------------------------------------------


def test_conditional_write_conflict_keeps_the_other_write(aws: str) -> None:
    make_bucket()
    backend().write(STATE1, lock=None)
    a, b = backend(), backend()
    seen = a.read()
    b.write(STATE2, lock=None)
    with pytest.raises(StateConflictError, match=f"s3://{BUCKET}/{KEY}.*changed"):
        a.write(STATE3, lock=None, expected_version=seen.version)
    assert raw_object() == STATE2
    fresh = a.read()
    assert a.write(STATE3, lock=None, expected_version=fresh.version).data == STATE3
    assert raw_object() == STATE3


def test_create_conflict_when_object_appeared(aws: str) -> None:
    make_bucket()
    a, b = backend(), backend()
    assert a.read() is None
    b.write(STATE1, lock=None)
    with pytest.raises(StateConflictError, match="created by someone else"):
        a.write(STATE2, lock=None)
    assert raw_object() == STATE1


def test_conditional_write_when_object_deleted(aws: str) -> None:
    make_bucket()
    be = backend()
    seen = be.write(STATE1, lock=None)
    s3_client().delete_object(Bucket=BUCKET, Key=KEY)
    with pytest.raises(StateConflictError, match="deleted"):
        be.write(STATE2, lock=None, expected_version=seen.version)


# -- versioning ---------------------------------------------------------------------------------


def test_versions_on_a_versioned_bucket(aws: str) -> None:
    make_bucket(versioned=True)
    be = backend(use_lockfile=True)
    held = be.lock(lock_as("alice@laptop"))  # the .tflock object shares the key prefix
    for data in (STATE1, STATE2, STATE3):
        be.write(data, lock=held)
    be.unlock(held.id)
    versions = be.versions()
    assert len(versions) == 3
    assert [v["is_latest"] for v in versions] == [True, False, False]
    assert versions[0]["size"] == len(STATE3)
    assert be.read_version(versions[-1]["version_id"]) == STATE1
    assert be.read_version(versions[1]["version_id"]) == STATE2
    assert len(be.versions(limit=2)) == 2
    with pytest.raises(BackendError, match="does not exist"):
        be.read_version("no-such-version")


def test_versioned_read_token_is_version_id_and_guards_writes(aws: str) -> None:
    make_bucket(versioned=True)
    a, b = backend(), backend()
    a.write(STATE1, lock=None)
    seen = a.read()
    latest = s3_client().head_object(Bucket=BUCKET, Key=KEY)
    assert seen.version == latest["VersionId"]
    b.write(STATE2, lock=None)
    with pytest.raises(StateConflictError):
        a.write(STATE3, lock=None, expected_version=seen.version)
    assert raw_object() == STATE2
    again = a.read()
    assert a.write(STATE3, lock=None, expected_version=again.version).version != again.version


def test_versions_without_versioning_is_empty(aws: str) -> None:
    make_bucket()
    backend().write(STATE1, lock=None)
    assert backend().versions() == []


# -- failures -----------------------------------------------------------------------------------


def test_missing_bucket_is_named(aws: str) -> None:
    be = backend(bucket="no-such-bucket")
    with pytest.raises(BackendError, match="S3 bucket 'no-such-bucket' does not exist") as err:
        be.read()
    assert "s3://no-such-bucket/" in str(err.value)
    with pytest.raises(BackendError, match="no-such-bucket"):
        be.write(STATE1, lock=None)
    with pytest.raises(BackendError, match="no-such-bucket"):
        be.workspaces()


def test_bad_credentials(aws: str, monkeypatch: pytest.MonkeyPatch) -> None:
    make_bucket()
    make_table()
    moto_set_auth(aws, 0)  # from now on moto checks every signature against its IAM users
    with pytest.raises(BackendError, match=r"rejected the credentials.*InvalidAccessKeyId") as err:
        backend().read()
    assert f"s3://{BUCKET}/{KEY}" in str(err.value)
    with pytest.raises(BackendError, match=r"rejected the credentials.*InvalidClientTokenId"):
        backend(dynamodb_table=TABLE).lock(lock_as("alice@laptop"))


def test_access_denied(aws: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    make_bucket()
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_user(UserName="no-permissions")
    key = iam.create_access_key(UserName="no-permissions")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    moto_set_auth(aws, 0)
    with pytest.raises(BackendError, match=r"access denied while reading s3://.*AccessDenied") as err:
        backend().read()
    assert "s3:GetObject" in err.value.hint


def test_endpoint_down(aws: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    be = backend(endpoint_url=f"http://127.0.0.1:{port}", max_attempts=1, connect_timeout=2)
    with pytest.raises(BackendError, match=rf"cannot reach http://127.0.0.1:{port}.*s3://{BUCKET}/{KEY}"):
        be.read()


def test_missing_region_is_a_config_error(aws: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION", raising=False)
    with pytest.raises(ConfigError, match="missing region"):
        backend(region=None).read()
    monkeypatch.setenv("AWS_REGION", "us-east-1")  # honoured like Terraform does
    make_bucket()
    assert backend(region=None).read() is None


def test_unknown_profile_is_a_config_error(aws: str) -> None:
    with pytest.raises(ConfigError, match="AWS profile 'nobody'"):
        backend(profile="nobody").read()


def test_assume_role_uses_sts_credentials(aws: str) -> None:
    make_bucket()
    be = backend(role_arn="arn:aws:iam::123456789012:role/terraform-state", role_session_name="drift-test")
    be.write(STATE1, lock=None)
    assert be.read().data == STATE1
    creds = be._client("s3")._request_signer._credentials.get_frozen_credentials()
    assert creds.access_key.startswith("ASIA")  # temporary keys from moto's STS AssumeRole
    assert creds.token
