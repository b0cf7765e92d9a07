"""StateService end to end on real files and a real database: push rules, backups, restore, validate."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from driftmgr_tui.core.errors import DriftmgrError, StateConflictError, UsageError
from driftmgr_tui.services.state_service import StateService, StateSource
from driftmgr_tui.state.codec import read_state


def _import(service: StateService, src: StateSource, addr: str, rid: str, **kw):
    return service.import_instance(src, addr, {"id": rid}, **kw)


@pytest.fixture
def service() -> StateService:
    return StateService()


@pytest.fixture
def local(tmp_path: Path, service: StateService) -> StateSource:
    src = StateSource(state_path=tmp_path / "terraform.tfstate")
    _import(service, src, "aws_s3_bucket.logs", "logs", create=True)
    return src


def _serial(path: Path) -> int:
    return json.loads(path.read_text())["serial"]


# --------------------------------------------------------------------- Terraform's state push cases
def _push_case(tf_fixtures: Path, case: str, tmp_path: Path) -> tuple[Path, bytes]:
    folder = tf_fixtures / "command/testdata" / case
    target = tmp_path / "local-state.tfstate"
    shutil.copy(folder / "local-state.tfstate", target)
    return target, (folder / "replace.tfstate").read_bytes()


def test_push_newer_serial_is_accepted(tf_fixtures: Path, tmp_path: Path, service: StateService) -> None:
    target, data = _push_case(tf_fixtures, "state-push-serial-older", tmp_path)
    result = service.push(StateSource(state_path=target), data, path="replace.tfstate")
    assert result.changed
    written = read_state(target.read_bytes())
    assert written.serial == 2 and written.lineage == "hello"
    assert list(written.index) == ["null_resource.b"]


def test_push_older_serial_is_refused(tf_fixtures: Path, tmp_path: Path, service: StateService) -> None:
    target, data = _push_case(tf_fixtures, "state-push-serial-newer", tmp_path)
    before = target.read_bytes()
    with pytest.raises(StateConflictError, match="cannot import state with serial 2 over newer state with serial 3"):
        service.push(StateSource(state_path=target), data, path="replace.tfstate")
    assert target.read_bytes() == before


def test_push_replace_match_is_accepted(tf_fixtures: Path, tmp_path: Path, service: StateService) -> None:
    target, data = _push_case(tf_fixtures, "state-push-replace-match", tmp_path)
    service.push(StateSource(state_path=target), data, path="replace.tfstate")
    assert list(read_state(target.read_bytes()).index) == ["null_resource.b"]


def test_push_other_lineage_is_refused_unless_forced(tf_fixtures: Path, tmp_path: Path,
                                                     service: StateService) -> None:
    target, data = _push_case(tf_fixtures, "state-push-bad-lineage", tmp_path)
    before = target.read_bytes()
    src = StateSource(state_path=target)
    with pytest.raises(StateConflictError, match='lineage "hello" over unrelated state with lineage "mismatch"'):
        service.push(src, data, path="replace.tfstate")
    assert target.read_bytes() == before
    service.push(src, data, path="replace.tfstate", force=True)
    assert read_state(target.read_bytes()).lineage == "hello"
    assert service.list_backups(src)[0].lineage == "mismatch"


def test_push_same_serial_different_content_is_refused(local: StateSource, service: StateService) -> None:
    current = json.loads(local.state_path.read_text())
    current["resources"][0]["instances"][0]["attributes"]["id"] = "changed"
    with pytest.raises(StateConflictError, match="same serial"):
        service.push(local, json.dumps(current).encode())
    current = json.loads(local.state_path.read_text())
    result = service.push(local, json.dumps(current).encode())
    assert not result.changed


# --------------------------------------------------------------------- serial, lineage, backups
def test_serial_moves_only_when_content_changes(local: StateSource, service: StateService) -> None:
    path = local.state_path
    assert _serial(path) == 1
    service.mv(local, "aws_s3_bucket.logs", "aws_s3_bucket.audit")
    assert _serial(path) == 2
    lineage = json.loads(path.read_text())["lineage"]
    service.mv(local, "aws_s3_bucket.audit", "aws_s3_bucket.logs")
    assert _serial(path) == 3
    assert json.loads(path.read_text())["lineage"] == lineage
    before = path.read_bytes()
    result = service.mv(local, "aws_s3_bucket.logs", "aws_s3_bucket.logs2", dry_run=True)
    assert result.dry_run and result.changed and result.diff.moved == [("aws_s3_bucket.logs", "aws_s3_bucket.logs2")]
    assert path.read_bytes() == before


def test_every_write_is_backed_up_and_restorable(local: StateSource, service: StateService) -> None:
    path = local.state_path
    original = read_state(path.read_bytes())
    _import(service, local, "aws_instance.web", "i-1")
    service.rm(local, ["aws_s3_bucket.logs"])
    backups = service.list_backups(local)
    assert [b.reason for b in backups] == ["before rm aws_s3_bucket.logs", "before import aws_instance.web"]
    assert [b.serial for b in backups] == [2, 1]
    assert all(b.lineage == original.lineage and b.location == str(path) for b in backups)
    oldest = backups[-1]
    result = service.restore(local, str(oldest.id))
    restored = read_state(path.read_bytes())
    assert list(restored.index) == ["aws_s3_bucket.logs"]
    assert restored.serial == 4  # newest: current (3) + 1, so every client sees it as the latest
    assert restored.lineage == original.lineage
    assert result.backup_id is not None  # the state being replaced was backed up too
    by_prefix = service.restore(local, oldest.sha256[:10], dry_run=True)
    assert not by_prefix.changed


def test_restore_refuses_a_backup_of_another_state(tmp_path: Path, local: StateSource,
                                                   service: StateService) -> None:
    other = StateSource(state_path=tmp_path / "other.tfstate")
    _import(service, other, "aws_vpc.main", "vpc-1", create=True)
    _import(service, other, "aws_vpc.second", "vpc-2")
    backup = service.list_backups(other)[0]
    with pytest.raises(UsageError, match="was taken of"):
        service.restore(local, str(backup.id))
    service.restore(local, str(backup.id), force=True)
    restored = read_state(local.state_path.read_bytes())
    assert sorted(restored.index) == ["aws_vpc.main"]
    assert restored.lineage == json.loads(service.backups.read(service.list_backups(local)[0]))["lineage"]


def test_validate_detects_a_serial_that_went_backwards(local: StateSource, service: StateService) -> None:
    _import(service, local, "aws_instance.web", "i-1")
    _import(service, local, "aws_instance.db", "i-2")
    stale = json.loads(local.state_path.read_text())
    stale["serial"] = 1
    local.state_path.write_text(json.dumps(stale))
    report = service.validate(local)
    assert not report.ok
    assert any(p.code == "serial-went-backwards" for p in report.errors)


def test_validate_reports_broken_file_as_error(tmp_path: Path, service: StateService) -> None:
    path = tmp_path / "dup.tfstate"
    res = {"mode": "managed", "type": "aws_vpc", "name": "a",
           "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
           "instances": [{"schema_version": 0, "attributes": {"id": "v"}}]}
    path.write_text(json.dumps({"version": 4, "serial": 1, "lineage": "l", "resources": [res, res]}))
    report = service.validate(StateSource(state_path=path))
    assert not report.ok and report.errors[0].code == "duplicate-instance"
    with pytest.raises(Exception, match="validate"):
        service.rm(StateSource(state_path=path), ["aws_vpc.a"])


def test_locks_and_stale_unlock(local: StateSource, service: StateService) -> None:
    backend = service.backend(local)
    status = service.locks(local)
    assert not status.locked
    # A lock info file left by a process that died: the OS lock is gone, the info remains.
    info = {"ID": "dead-beef", "Operation": "OperationTypeApply", "Info": "", "Who": "ghost@host",
            "Version": "1.11.4", "Created": "2026-11-01T10:00:00Z", "Path": str(local.state_path)}
    backend.lock_info_path.write_text(json.dumps(info))
    status = service.locks(local)
    assert status.locked and status.stale and status.info["Who"] == "ghost@host"
    with pytest.raises(DriftmgrError, match="does not match"):
        service.unlock(local, "wrong-id")
    service.unlock(local, "dead-beef")
    assert not service.locks(local).locked
    backend.lock_info_path.write_text(json.dumps(info))
    _import(service, local, "aws_instance.web", "i-1")  # a stale info file does not wedge writers
    assert not service.locks(local).locked
