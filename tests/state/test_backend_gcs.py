"""GcsBackend with the real google-cloud-storage client against a local GCS over HTTP
(tests/_fixtures/gcs_server.py)."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from driftmgr_tui.core.errors import (
    BackendError,
    LockInfo,
    ProviderAuthError,
    StateConflictError,
    StateLockedError,
)
from driftmgr_tui.services.state_service import StateService, StateSource
from tests._fixtures.gcs_server import READ, FakeGcs, Request
from tests._fixtures.gcs_server import gcs as gcs  # the fixture
from tests._fixtures.gcs_state import (
    BUCKET,
    LOCK_OBJ,
    PREFIX,
    STATE1,
    STATE2,
    STATE3,
    STATE_OBJ,
    TERRAFORM_LOCK_KEYS,
    backend,
    lock_as,
    media_of,
    no_lock_left,
    object_requests,
    on_object,
    once,
    seed_example,
    spec,
    uploads_of,
)
from tests._fixtures.gcs_state import bucket as bucket  # the fixture
from tests._fixtures.gcs_state import no_google_env as no_google_env  # the fixture

pytestmark = pytest.mark.usefixtures("no_google_env")


# -- read / write -------------------------------------------------------------------------------


def test_round_trip_records_the_generation(bucket: FakeGcs) -> None:
    be = backend(bucket)
    assert be.location == f"gs://{BUCKET}/{STATE_OBJ}"
    assert be.read() is None
    written = be.write(STATE1, lock=None)
    stored = bucket.get(BUCKET, STATE_OBJ)
    assert stored is not None and stored.data == STATE1 and stored.content_type == "application/json"
    assert written.version == str(stored.generation)
    got = backend(bucket).read()
    assert got is not None and got.data == STATE1 and got.version == str(stored.generation)
    # the first write was made conditional on the absence it had seen
    assert uploads_of(bucket, STATE_OBJ)[0].query["ifGenerationMatch"] == "0"


def test_no_prefix_puts_the_state_at_the_bucket_root(bucket: FakeGcs) -> None:
    be = backend(bucket, prefix="")
    be.write(STATE1, lock=None)
    assert bucket.names(BUCKET) == ["default.tfstate"]
    assert be.for_workspace("dev").location == f"gs://{BUCKET}/dev.tfstate"


def test_empty_object_is_no_state_and_the_next_write_is_conditional_on_it(bucket: FakeGcs) -> None:
    generation = bucket.put(BUCKET, STATE_OBJ, b"")
    be = backend(bucket)
    assert be.read() is None
    be.write(STATE1, lock=None)
    assert uploads_of(bucket, STATE_OBJ)[-1].query["ifGenerationMatch"] == str(generation)


def test_conditional_write_conflict_keeps_the_other_write(bucket: FakeGcs) -> None:
    be = backend(bucket)
    be.write(STATE1, lock=None)
    read = be.read()
    assert read is not None
    bucket.put(BUCKET, STATE_OBJ, STATE2)  # someone else, between our read and our write
    with pytest.raises(StateConflictError, match=rf"gs://{BUCKET}/{STATE_OBJ} not written: it was changed"):
        be.write(STATE3, lock=None, expected_version=read.version)
    assert bucket.get(BUCKET, STATE_OBJ).data == STATE2


def test_create_conflict_when_the_object_appeared(bucket: FakeGcs) -> None:
    be = backend(bucket)
    assert be.read() is None
    bucket.put(BUCKET, STATE_OBJ, STATE2)
    with pytest.raises(StateConflictError, match="created by someone else after it was found absent"):
        be.write(STATE1, lock=None)
    assert bucket.get(BUCKET, STATE_OBJ).data == STATE2


def test_conflict_when_the_object_was_deleted(bucket: FakeGcs) -> None:
    be = backend(bucket)
    version = be.write(STATE1, lock=None).version
    bucket.remove(BUCKET, STATE_OBJ)
    with pytest.raises(StateConflictError, match="deleted after it was read"):
        be.write(STATE2, lock=None, expected_version=version)
    assert bucket.get(BUCKET, STATE_OBJ) is None


def test_retried_upload_whose_first_attempt_landed_succeeds(bucket: FakeGcs) -> None:
    be = backend(bucket)
    version = be.write(STATE1, lock=None).version

    def lost_answer(req: Request) -> None:  # the upload lands, then its answer is lost (a 503)
        bucket.put(BUCKET, STATE_OBJ, media_of(req))
        bucket.fail(503, when=lambda r: r is req)

    once(bucket, on_object(STATE_OBJ), lost_answer)
    written = be.write(STATE2, lock=None, expected_version=version)
    assert written.version == str(bucket.get(BUCKET, STATE_OBJ).generation)
    assert len(uploads_of(bucket, STATE_OBJ)) == 3  # first write, the attempt answered 503, its retry (412)


def test_csek_encrypts_the_state_but_not_the_lock(bucket: FakeGcs) -> None:
    key = base64.b64encode(bytes(range(32))).decode()
    be = backend(bucket, encryption_key=key)
    held = be.lock(lock_as("alice@laptop"))
    be.write(STATE1, lock=held)
    be.unlock(held.id)
    expected = base64.b64encode(hashlib.sha256(bytes(range(32))).digest()).decode()
    assert bucket.get(BUCKET, STATE_OBJ).key_sha256 == expected
    lock_upload = uploads_of(bucket, LOCK_OBJ)[0]
    assert "x-goog-encryption-key" not in lock_upload.headers
    assert backend(bucket, encryption_key=key).read().data == STATE1
    with pytest.raises(BackendError, match="encrypted by a customer-supplied encryption key") as err:
        backend(bucket).read()
    assert "encryption_key" in (err.value.hint or "")
    other = base64.b64encode(bytes(32)).decode()
    with pytest.raises(BackendError, match="encryption key is incorrect"):
        backend(bucket, encryption_key=other).read()


def test_kms_key_is_sent_with_state_writes(bucket: FakeGcs) -> None:
    kms = "projects/p/locations/eu/keyRings/tf/cryptoKeys/state"
    backend(bucket, kms_encryption_key=kms).write(STATE1, lock=None)
    assert uploads_of(bucket, STATE_OBJ)[0].query["kmsKeyName"] == kms
    assert bucket.get(BUCKET, STATE_OBJ).kms_key_name == kms


# -- workspaces ---------------------------------------------------------------------------------


def test_workspaces_under_the_prefix(bucket: FakeGcs) -> None:
    be = backend(bucket)
    for ws in ("staging", "default", "dev"):
        be.for_workspace(ws).write(STATE1, lock=None)
    bucket.put(BUCKET, f"{PREFIX}/dev.tflock", b"{}")  # not a state
    bucket.put(BUCKET, f"{PREFIX}/deeper/qa.tfstate", b"{}")  # below the prefix: not a workspace of it
    bucket.put(BUCKET, "network/prodx/other.tfstate", b"{}")  # another prefix
    bucket.put(BUCKET, f"{PREFIX}/.tfstate", b"{}")  # no name
    bucket.page_size = 2  # several pages
    assert be.workspaces() == ["default", "dev", "staging"]
    assert bucket.get(BUCKET, f"{PREFIX}/staging.tfstate") is not None
    assert be.for_workspace("dev").location == f"gs://{BUCKET}/{PREFIX}/dev.tfstate"
    listing = [r for r in bucket.requests if r.method == "GET" and r.path.endswith("/o")]
    assert listing[0].query["prefix"] == f"{PREFIX}/" and listing[0].query["delimiter"] == "/"


def test_workspaces_without_default(bucket: FakeGcs) -> None:
    be = backend(bucket)
    assert be.workspaces() == []
    be.for_workspace("dev").write(STATE1, lock=None)
    assert be.workspaces() == ["dev"]


# -- locking ------------------------------------------------------------------------------------


def test_lock_object_in_terraform_format_and_id_is_its_generation(bucket: FakeGcs) -> None:
    be = backend(bucket)
    info = lock_as("alice@laptop")
    held = be.lock(info)
    stored = bucket.get(BUCKET, LOCK_OBJ)
    assert stored is not None and held.id == str(stored.generation)
    doc = json.loads(stored.data)
    assert list(doc) == TERRAFORM_LOCK_KEYS
    assert doc["ID"] == info.id  # the writer's own ID; Terraform reads the generation instead
    assert doc["Who"] == "alice@laptop" and doc["Operation"] == "OperationTypeApply"
    assert doc["Path"] == f"gs://{BUCKET}/{LOCK_OBJ}"
    assert stored.data == json.dumps(doc, separators=(",", ":")).encode()  # compact, as Go marshals it
    assert uploads_of(bucket, LOCK_OBJ)[0].query["ifGenerationMatch"] == "0"
    assert be.current_lock() == held
    be.unlock(held.id)
    assert bucket.get(BUCKET, LOCK_OBJ) is None and be.current_lock() is None
    deletes = [r for r in bucket.requests_for(LOCK_OBJ) if r.method == "DELETE"]
    assert [r.query["ifGenerationMatch"] for r in deletes] == [held.id]


def test_second_client_is_refused_and_names_the_holder(bucket: FakeGcs) -> None:
    first = backend(bucket)
    first.write(STATE1, lock=None)
    held = first.lock(lock_as("alice@laptop"))
    second = backend(bucket)
    with pytest.raises(StateLockedError) as err:
        second.lock(lock_as("bob@ci-runner"))
    assert "alice@laptop" in str(err.value) and held.id in str(err.value)
    assert err.value.lock is not None and err.value.lock.id == held.id
    with pytest.raises(StateLockedError, match="alice@laptop"):
        second.write(STATE2, lock=lock_as("bob@ci-runner"))
    assert bucket.get(BUCKET, STATE_OBJ).data == STATE1


def test_lock_timeout_retries_a_held_lock_before_giving_up(bucket: FakeGcs) -> None:
    backend(bucket).lock(lock_as("alice@laptop"))
    be = backend(bucket)
    be.lock_timeout = 0.05
    with pytest.raises(StateLockedError, match="alice@laptop"):
        be.lock(lock_as("bob@ci-runner"))
    assert len(uploads_of(bucket, LOCK_OBJ)) == 3  # alice's, bob's first try, bob's try after waiting


def test_retried_lock_create_whose_first_attempt_landed_is_ours(bucket: FakeGcs) -> None:
    def lost_answer(req: Request) -> None:
        bucket.put(BUCKET, LOCK_OBJ, media_of(req))
        bucket.fail(503, when=lambda r: r is req)

    once(bucket, on_object(LOCK_OBJ), lost_answer)
    be = backend(bucket)
    held = be.lock(lock_as("alice@laptop"))
    assert held.id == str(bucket.get(BUCKET, LOCK_OBJ).generation)
    be.unlock(held.id)


def test_unlock_with_a_wrong_or_malformed_id_is_refused(bucket: FakeGcs) -> None:
    be = backend(bucket)
    held = be.lock(lock_as("alice@laptop"))
    with pytest.raises(BackendError, match=r"does not match.*alice@laptop"):
        backend(bucket).unlock(str(int(held.id) + 1))
    with pytest.raises(BackendError, match="lock ID should be a number"):
        backend(bucket).unlock("0b9c9d4e-not-a-generation")
    assert be.current_lock().id == held.id
    be.unlock(held.id)
    with pytest.raises(BackendError, match="is not locked"):
        be.unlock(held.id)


def test_unlock_leaves_a_lock_taken_in_between(bucket: FakeGcs) -> None:
    be = backend(bucket)
    held = be.lock(lock_as("alice@laptop"))

    def relocked(
        _req: Request,
    ) -> None:  # alice's lock is force-removed and bob locks, just before the delete
        bucket.remove(BUCKET, LOCK_OBJ)
        backend(bucket).lock(lock_as("bob@ci-runner"))

    once(bucket, on_object(LOCK_OBJ, "DELETE"), relocked)
    with pytest.raises(BackendError, match="changed while being released; it was left in place"):
        be.unlock(held.id)
    assert backend(bucket).current_lock().who == "bob@ci-runner"


def test_stale_lock_force_unlocked_through_the_service(bucket: FakeGcs) -> None:
    dead = LockInfo(
        id="5f0d5c1e-1111-2222-3333-444444444444",
        operation="OperationTypeApply",
        who="carol@old-runner",
        version="1.11.4",
        created="2026-01-01T00:00:00.000000Z",
        path=f"gs://{BUCKET}/{LOCK_OBJ}",
    )
    generation = bucket.put(BUCKET, LOCK_OBJ, json.dumps(dead.to_terraform()).encode())
    service, source = StateService(), StateSource(backend=spec(bucket))
    status = service.locks(source)
    assert status.locked and status.info["ID"] == str(generation) and status.info["Who"] == "carol@old-runner"
    with pytest.raises(BackendError, match="lock ID should be a number"):
        service.unlock(source, dead.id)  # the UUID inside the JSON is not the lock ID
    with pytest.raises(BackendError, match=r"does not match.*carol@old-runner"):
        service.unlock(source, str(generation - 1))
    assert not service.unlock(source, str(generation)).locked
    bucket.put(BUCKET, LOCK_OBJ, json.dumps(dead.to_terraform()).encode())
    assert not service.unlock(source, "anything", force=True).locked
    assert bucket.get(BUCKET, LOCK_OBJ) is None


def test_unreadable_lock_still_blocks_and_can_be_forced(bucket: FakeGcs) -> None:
    bucket.put(BUCKET, LOCK_OBJ, b"not json")
    be = backend(bucket)
    with pytest.raises(StateLockedError, match="unreadable lock info"):
        be.lock(lock_as("alice@laptop"))
    be.unlock("x", force=True)
    be.unlock(be.lock(lock_as("alice@laptop")).id)


def test_write_after_force_unlock_is_refused(bucket: FakeGcs) -> None:
    be = backend(bucket)
    held = be.lock(lock_as("alice@laptop"))
    backend(bucket).unlock("x", force=True)
    with pytest.raises(BackendError, match="no longer held"):
        be.write(STATE1, lock=held)
    backend(bucket).lock(lock_as("bob@ci-runner"))
    with pytest.raises(StateLockedError, match="bob@ci-runner"):
        be.write(STATE1, lock=held)
    assert bucket.get(BUCKET, STATE_OBJ) is None


# -- errors -------------------------------------------------------------------------------------


def test_missing_bucket_is_named(gcs: FakeGcs) -> None:
    be = backend(gcs, bucket="no-such-bucket")
    for call in (be.read, lambda: be.lock(lock_as("alice@laptop")), be.workspaces, be.current_lock):
        with pytest.raises(BackendError, match="bucket 'no-such-bucket' does not exist") as err:
            call()
        assert "create the bucket" in (err.value.hint or "")


def test_bad_and_missing_credentials(bucket: FakeGcs) -> None:
    bucket.require_token("ya29.good")
    with pytest.raises(ProviderAuthError, match=f"rejected the access token for bucket '{BUCKET}'"):
        backend(bucket, access_token="ya29.expired").read()
    with pytest.raises(ProviderAuthError, match=f"bucket '{BUCKET}' refused unauthenticated access"):
        backend(bucket).read()
    assert backend(bucket, access_token="ya29.good").read() is None
    assert all(
        r.headers.get("authorization") in (None, "Bearer ya29.expired", "Bearer ya29.good")
        for r in bucket.requests
    )


def test_read_only_identity_gets_permission_denied_and_leaves_nothing(bucket: FakeGcs) -> None:
    seed_example(bucket)
    bucket.require_token("ya29.reader", READ)
    be = backend(bucket, access_token="ya29.reader")
    assert be.read() is not None
    with pytest.raises(ProviderAuthError, match=rf"permission denied on bucket '{BUCKET}'.*403"):
        be.lock(lock_as("alice@laptop"))
    assert no_lock_left(bucket)


@pytest.mark.parametrize("status", [503, 429])
def test_transient_errors_are_retried(bucket: FakeGcs, status: int) -> None:
    be = backend(bucket)
    bucket.fail(status, times=2, when=on_object(LOCK_OBJ))
    held = be.lock(lock_as("alice@laptop"))
    assert be.read() is None  # a write is retried only when conditional: here on the absence seen
    bucket.fail(status, times=2, when=on_object(STATE_OBJ))
    written = be.write(STATE1, lock=held)
    bucket.fail(status, times=2, when=on_object(STATE_OBJ, "GET"))
    assert be.read() == written
    bucket.fail(status, times=1, when=on_object(LOCK_OBJ, "DELETE"))
    be.unlock(held.id)
    assert no_lock_left(bucket)
    assert len(uploads_of(bucket, LOCK_OBJ)) == 3 and len(uploads_of(bucket, STATE_OBJ)) == 3
    assert len([r for r in bucket.requests_for(STATE_OBJ) if r.method == "GET"]) == 4
    assert len([r for r in bucket.requests_for(LOCK_OBJ) if r.method == "DELETE"]) == 2


def test_an_unconditional_write_is_not_retried(bucket: FakeGcs) -> None:
    bucket.fail(503, when=on_object(STATE_OBJ))
    with pytest.raises(BackendError, match=r"writing gs://.* failed: Google Cloud Storage answered 503"):
        backend(bucket).write(STATE1, lock=None)  # never read: nothing to make the upload conditional on
    assert bucket.get(BUCKET, STATE_OBJ) is None and len(uploads_of(bucket, STATE_OBJ)) == 1


def test_persistent_server_errors_give_up_with_a_clear_error(bucket: FakeGcs) -> None:
    bucket.fail(503, times=10_000, when=object_requests)
    with pytest.raises(
        BackendError,
        match=r"gave up after retrying for 0.2s: reading gs://.* failed: "
        r"Google Cloud Storage answered 503",
    ):
        backend(bucket, retry_timeout=0.2).read()


def test_unreachable_endpoint(gcs: FakeGcs) -> None:
    url = gcs.url
    gcs.stop()
    with pytest.raises(BackendError, match=f"cannot reach {url}"):
        backend(gcs, retry_timeout=0.1).read()
