"""Remediation end to end against moto: plan from a real scan, decide, apply for real, roll back, audit.

The estate and its planted drift come from tests/_fixtures/drift_estate.py: a vpc tag and a security group
rule and a role's session length changed, a bucket and a subnet deleted, a bucket, a user and a security
group made by hand. The CLI contract (``remediate plan --state ... --provider aws --regions ... --json``) runs
through the installed command; the rest goes through RemediationService, as the TUI will.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import hcl2
import pytest
import sqlalchemy as sa

from driftmgr_tui.core.db import session_scope
from driftmgr_tui.core.errors import UsageError
from driftmgr_tui.core.jobs import process_owner
from driftmgr_tui.core.models import Job, RemediationAction, RemediationPlan
from driftmgr_tui.core.settings import load_settings
from driftmgr_tui.discovery.model import Scope
from driftmgr_tui.services.discovery_service import DiscoveryService
from driftmgr_tui.services.drift_service import DetectOptions, DriftService
from driftmgr_tui.services.remediation_service import RemediationService
from driftmgr_tui.services.state_service import StateSource
from driftmgr_tui.state.codec import read_state
from tests._fixtures.drift_estate import build_estate, plant_drift
from tests.test_cli import driftmgr

REGION = "us-east-1"


def _write_state(path: Path, state: dict[str, Any]) -> Path:
    path.write_text(json.dumps(state), encoding="utf-8")
    return path


def _run(*args: str) -> tuple[int, Any, str]:
    proc = driftmgr(*args)
    text = proc.stdout.decode()
    try:
        data = json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        data = text
    return proc.returncode, data, proc.stderr.decode()


def _scan(drift: DriftService, *states: Path, chdir: Path | None = None) -> dict[str, Any]:
    run = DiscoveryService(settings=drift.settings, engine=drift.engine).run(Scope(provider="aws", regions=(REGION,)))
    spec = drift.environment(None, states=tuple(str(s) for s in states), chdir=chdir)
    return drift.detect(spec, DetectOptions(run_ids=(run.id,), config_drift=False)).report


def _services() -> tuple[DriftService, RemediationService]:
    drift = DriftService(load_settings())
    return drift, RemediationService(settings=drift.settings, engine=drift.engine, state_service=drift.state_service)


def _action(plan: dict[str, Any], kind: str, terraform_id: str) -> dict[str, Any]:
    found = [a for a in plan["actions"] if a["kind"] == kind and a["terraform_id"] == terraform_id]
    assert len(found) == 1, [(a["kind"], a["terraform_id"]) for a in plan["actions"]]
    return found[0]


def _instances(path: Path) -> set[str]:
    return set(read_state(path.read_bytes()).index)


@pytest.fixture
def estate(aws: str, tmp_path: Path) -> tuple[Any, Path, dict[str, Any]]:
    est = build_estate()
    state = _write_state(tmp_path / "terraform.tfstate", est.state())
    expected = plant_drift(est)
    return est, state, expected


def test_plan_contract_then_apply_refuses_until_decided_then_forget_and_rollback(estate, tmp_path: Path) -> None:
    _est, state, expected = estate
    before = state.read_bytes()
    (tmp_path / "before.tfstate").write_bytes(before)
    code, plan, stderr = _run("remediate", "plan", "--state", str(state), "--provider", "aws", "--regions", REGION,
                              "--strategy", "missing=forget", "--json")
    assert code == 0, stderr
    assert isinstance(plan["id"], int) and plan["status"] == "draft"
    for action in plan["actions"]:
        assert {"id", "kind", "terraform_type", "terraform_id", "address", "strategy", "status", "preview"} <= set(action)
        assert action["status"] == "pending"
    kinds = {(a["kind"], a["terraform_type"], a["terraform_id"]) for a in plan["actions"]}
    assert kinds == {("changed", *k) for k in expected["changed"]} | {("missing", *k) for k in expected["missing"]} \
        | {("unmanaged", *k) for k in expected["unmanaged"]}
    bucket = _action(plan, "missing", "app-logs-7f3a")
    assert bucket["strategy"] == "forget" and bucket["address"] == "aws_s3_bucket.logs"
    assert bucket["preview"]["state_diff"] == ["- aws_s3_bucket.logs"]
    assert 'from = aws_s3_bucket.logs' in bucket["preview"]["hcl_alternative"]
    hcl2.loads(bucket["preview"]["hcl_alternative"])

    # undecided: apply (dry run or not) refuses, exit 2, and nothing changes
    pid = str(plan["id"])
    for extra in ((), ("--execute",)):
        code, _out, stderr = _run("remediate", "apply", pid, *extra)
        assert code == 2 and "undecided" in stderr, stderr
    assert state.read_bytes() == before

    # everything skipped: still refused (nothing approved)
    assert _run("remediate", "skip", pid, "--all")[0] == 0
    code, _out, stderr = _run("remediate", "apply", pid, "--execute")
    assert code == 2 and "no approved action" in stderr
    assert state.read_bytes() == before

    missing = [str(a["id"]) for a in plan["actions"] if a["kind"] == "missing"]
    assert _run("remediate", "approve", pid, *missing)[0] == 0
    code, dry, stderr = _run("remediate", "apply", pid, "--json")
    assert code == 0, stderr
    assert dry["dry_run"] is True and sorted(dry["would_run"]) == sorted(map(int, missing))
    assert state.read_bytes() == before

    code, applied, stderr = _run("remediate", "apply", pid, "--execute", "--json")
    assert code == 0, stderr
    assert applied["status"] == "applied"
    assert {a["status"] for a in applied["actions"] if a["kind"] == "missing"} == {"succeeded"}
    assert {a["status"] for a in applied["actions"] if a["kind"] != "missing"} == {"skipped"}
    now = _instances(state)
    assert "aws_s3_bucket.logs" in _instances(tmp_path / "before.tfstate") and "aws_s3_bucket.logs" not in now
    assert "module.network.aws_subnet.b" not in now
    assert read_state(state.read_bytes()).serial == read_state(before).serial + 2

    # a rescan no longer reports them missing
    code, report, stderr = _run("scan", "--state", str(state), "--provider", "aws", "--regions", REGION,
                                "--format", "json")
    assert {(i["kind"], i["terraform_id"]) for i in report["items"] if i["kind"] == "missing"} == set()

    code, history, stderr = _run("remediate", "history", "--json")
    assert code == 0 and {h["status"] for h in history["history"]} == {"succeeded"}

    # rollback: the state's content comes back (a newer serial, the same lineage)
    code, rolled, stderr = _run("remediate", "rollback", pid, "--json")
    assert code == 0, stderr
    assert rolled["status"] == "rolled_back"
    restored = read_state(state.read_bytes())
    assert set(restored.index) == set(read_state(before).index)
    assert restored.lineage == read_state(before).lineage
    assert restored.serial == read_state(before).serial + 4  # two forgets, two restores

    code, verify, stderr = _run("audit", "verify", "--json")
    assert code == 0 and verify["ok"] is True, verify
    code, entries, _ = _run("audit", "list", "--plan", pid, "--json")
    actions = [e["action"] for e in entries["entries"]]
    assert actions[0] == "plan.created" and "plan.apply_refused" in actions
    assert actions.count("action.succeeded") == 2 and actions.count("action.rolled_back") == 2


def test_accept_ignore_codify_and_delete_against_moto(estate, tmp_path: Path) -> None:
    est, state, expected = estate
    drift, service = _services()
    workdir = tmp_path / "infra"
    workdir.mkdir()
    report = _scan(drift, state)
    spec = drift.environment(None, states=(str(state),), chdir=None)
    plan = service.create_plan(spec, report, strategies={"changed": "accept", "unmanaged": "codify"},
                               ignore_file=workdir / ".driftignore")
    # no working dir: codify is unavailable and says why; accept of a rule change needs terraform
    user = _action(plan, "unmanaged", "temp-admin")
    assert not user["available"] and "--chdir" in user["unavailable_reason"]
    sg = _action(plan, "changed", est.ids["sg_web"])
    assert not sg["available"] and "ingress" in sg["unavailable_reason"]
    role = _action(plan, "changed", "app-runner")
    assert role["available"] and role["preview"]["state_edit"] == {
        "max_session_duration": {"from": 3600, "to": 7200}}
    with pytest.raises(UsageError, match="cannot be approved"):
        service.decide(plan["id"], [user["id"]], "approved")

    # with a working dir: codify the user, accept the role's and the vpc's changes into the state
    spec = drift.environment(None, states=(str(state),))
    hand_sg = next(tid for t, tid in expected["unmanaged"] if t == "aws_security_group")
    plan = service.create_plan(spec, {**report, "sources": {**report["sources"], "workdir": str(workdir)}},
                               strategies={"changed": "accept", "unmanaged": "codify"},
                               ignore_file=workdir / ".driftignore", generate_config=False)
    user = _action(plan, "unmanaged", "temp-admin")
    assert user["available"], user
    assert 'to = aws_iam_user.temp_admin' in user["preview"]["hcl"]
    parsed = hcl2.loads(user["preview"]["hcl"])
    assert parsed["resource"][0]['"aws_iam_user"']['"temp_admin"']["name"] == '"temp-admin"'  # hcl2 8.x quoting
    plan_id = plan["id"]
    chosen = [user["id"], _action(plan, "changed", "app-runner")["id"], _action(plan, "changed", est.ids["vpc"])["id"]]
    service.decide(plan_id, chosen, "approved")
    service.decide(plan_id, [a["id"] for a in plan["actions"] if a["id"] not in chosen], "skipped")
    result = service.apply(plan_id)
    assert result["status"] == "applied", [(a["id"], a["status"], a["error"]) for a in result["actions"]]
    written = Path(user["preview"]["file"])
    assert written.parent == workdir and written.read_text() == user["preview"]["hcl"]
    attrs = read_state(state.read_bytes()).index
    assert attrs["aws_iam_role.runner"].attributes["max_session_duration"] == 7200
    assert attrs["aws_vpc.main"].attributes["tags"]["Name"] == "main-edited"
    again = _scan(drift, state)
    changed = {i["terraform_id"] for i in again["items"] if i["kind"] == "changed"}
    assert "app-runner" not in changed and est.ids["vpc"] not in changed and est.ids["sg_web"] in changed

    # a second plan: ignore the bucket, delete the group (dangerous: the id must be typed back)
    plan2 = service.create_plan(spec, again, strategies={"unmanaged": "ignore"}, kinds=["unmanaged"],
                                ignore_file=workdir / ".driftignore")
    bucket = _action(plan2, "unmanaged", "shadow-exports")
    assert bucket["preview"]["lines"] == ["aws_s3_bucket.shadow-exports"]
    service.decide(plan2["id"], None, "approved")
    service.apply(plan2["id"])
    assert "aws_s3_bucket.shadow-exports" in (workdir / ".driftignore").read_text().splitlines()
    after_ignore = _scan(drift, state, chdir=None)
    assert "shadow-exports" in {i["terraform_id"] for i in after_ignore["items"]}  # no ignore file given here
    rolled = service.rollback(plan2["id"])
    assert rolled["status"] == "rolled_back"
    assert not (workdir / ".driftignore").exists()

    plan3 = service.create_plan(spec, again, strategies={"unmanaged": "delete"}, kinds=["unmanaged"],
                                types=["aws_security_group"])
    group = _action(plan3, "unmanaged", hand_sg)
    assert group["dangerous"] and group["risk"] == "critical"
    assert any("DeleteSecurityGroup" in call for call in group["preview"]["api_calls"])
    notes = service.decide(plan3["id"], None, "approved")["notes"]
    assert any("--confirm" in n for n in notes)
    with pytest.raises(UsageError, match="type its id back"):
        service.decide(plan3["id"], [group["id"]], "approved", confirm="sg-wrong")
    service.decide(plan3["id"], [group["id"]], "approved", confirm=hand_sg)
    assert service.apply(plan3["id"])["status"] == "applied"
    groups = boto3.client("ec2", region_name=REGION).describe_security_groups()["SecurityGroups"]
    assert hand_sg not in {g["GroupId"] for g in groups}
    rolled = service.rollback(plan3["id"])
    assert rolled["rollback"][0]["result"] == "not reversible"

    # codify's file comes back out on rollback of the first plan, and the state is restored
    service.rollback(plan_id)
    assert not written.exists()
    assert read_state(state.read_bytes()).index["aws_iam_role.runner"].attributes["max_session_duration"] == 3600


def test_failure_mid_plan_stops_there_and_rollback_restores(estate, tmp_path: Path) -> None:
    est, state, _expected = estate
    drift, service = _services()
    # the subnet's instance moves to a second state so the plan writes two states
    other = tmp_path / "network.tfstate"
    data = json.loads(state.read_text())
    subnet = [r for r in data["resources"] if r["type"] == "aws_subnet" and r["name"] == "b"]
    data["resources"] = [r for r in data["resources"] if r not in subnet]
    _write_state(state, data)
    _write_state(other, {**data, "lineage": "0d8e4a5c-94a8-4c5b-8b46-6c07e6d42f6a", "resources": subnet})
    report = _scan(drift, state, other)
    spec = drift.environment(None, states=(str(state), str(other)))
    plan = service.create_plan(spec, report, strategies={"missing": "forget", "unmanaged": "ignore"},
                               kinds=["missing", "unmanaged"], ignore_file=tmp_path / ".driftignore")
    order = [(a["kind"], a["terraform_id"]) for a in plan["actions"]]
    service.decide(plan["id"], None, "approved")
    first_bytes = state.read_bytes()
    # someone changes the network state after the plan was made: its action must refuse, not clobber it
    theirs = service.state_service.set_attributes(StateSource(state_path=other), "module.network.aws_subnet.b",
                                                  {"cidr_block": "10.0.9.0/24"}, reason="someone else's edit")
    assert theirs.changed
    result = service.apply(plan["id"])
    assert result["status"] == "failed"
    statuses = {(a["kind"], a["terraform_id"]): a["status"] for a in result["actions"]}
    failed = [a for a in result["actions"] if a["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["terraform_id"] == est.ids["subnet_b"]
    assert "changed since plan" in failed[0]["error"]
    pos = order.index(("missing", est.ids["subnet_b"]))
    assert all(statuses[k] == "succeeded" for k in order[:pos])
    assert all(statuses[k] == "approved" for k in order[pos + 1:])  # never ran
    assert json.loads(other.read_text())["serial"] == theirs.new_serial  # left as the other person wrote it
    rolled = service.rollback(plan["id"])
    assert {r["result"] for r in rolled["rollback"]} == {"rolled back"}
    assert set(read_state(state.read_bytes()).index) == set(read_state(first_bytes).index)


def test_without_terraform_its_strategies_are_unavailable_with_the_reason(estate, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    _est, state, _expected = estate
    monkeypatch.setenv("DRIFTMGR_TERRAFORM", str(tmp_path / "no-terraform-here"))
    drift, service = _services()
    workdir = tmp_path / "infra"
    workdir.mkdir()
    report = _scan(drift, state)
    spec = drift.environment(None, states=(str(state),), chdir=workdir)
    plan = service.create_plan(spec, report, strategies={"missing": "recreate", "changed": "revert"},
                               kinds=["missing", "changed"])
    for action in plan["actions"]:
        assert action["strategy"] in ("recreate", "revert")
        assert not action["available"] and "terraform is not installed" in action["unavailable_reason"]
        alternatives = {a["strategy"]: a for a in action["alternatives"]}
        fallback = alternatives["forget" if action["kind"] == "missing" else "accept"]
        if action["terraform_type"] != "aws_security_group":  # rule atoms need terraform to be accepted
            assert fallback["available"], fallback
    with pytest.raises(UsageError, match="terraform is not installed"):
        service.decide(plan["id"], [plan["actions"][0]["id"]], "approved")
    notes = service.decide(plan["id"], None, "approved")["notes"]
    assert len(notes) == len(plan["actions"])  # none could be approved, each says why
    code, _out, stderr = _run("remediate", "apply", str(plan["id"]), "--execute")
    assert code == 2 and "undecided" in stderr


def test_cancel_between_actions_leaves_the_rest_unrun(estate, tmp_path: Path) -> None:
    _est, state, _expected = estate
    drift, service = _services()
    report = _scan(drift, state)
    spec = drift.environment(None, states=(str(state),))
    plan = service.create_plan(spec, report, strategies={"missing": "forget"}, kinds=["missing"])
    assert len(plan["actions"]) == 2
    service.decide(plan["id"], None, "approved")

    def on_line(seq: int, line: str) -> None:
        if seq == 1 and line.startswith("== action"):
            service.cancel(plan["id"])  # requested while action 1 runs: it finishes, action 2 never starts

    result = service.apply(plan["id"], on_line=on_line)
    assert result["status"] == "cancelled"
    assert [a["status"] for a in result["actions"]] == ["succeeded", "approved"]
    first, second = (a["address"] for a in result["actions"])
    assert first not in _instances(state) and second in _instances(state)
    rolled = service.rollback(plan["id"])
    assert rolled["rollback"][0]["result"] == "rolled back"


def test_ignore_a_changed_field_then_the_rescan_is_quiet_about_it(estate, tmp_path: Path) -> None:
    est, state, _expected = estate
    drift, service = _services()
    ignore = tmp_path / ".driftignore"
    ignore.write_text("# team rules\naws_s3_bucket.scratch-*\n")
    report = _scan(drift, state)
    spec = drift.environment(None, states=(str(state),), ignore_file=ignore)
    plan = service.create_plan(spec, report, strategies={"changed": "ignore"}, kinds=["changed"],
                               types=["aws_vpc"])
    (action,) = plan["actions"]
    assert action["preview"]["lines"] == [f"aws_vpc.{est.ids['vpc']}.tags.Name"]
    service.decide(plan["id"], None, "approved")
    assert service.apply(plan["id"])["status"] == "applied"
    assert ignore.read_text().startswith("# team rules\naws_s3_bucket.scratch-*\n")
    run = DiscoveryService(settings=drift.settings, engine=drift.engine).run(Scope(provider="aws", regions=(REGION,)))
    again = drift.detect(spec, DetectOptions(run_ids=(run.id,), config_drift=False)).report
    assert est.ids["vpc"] not in {i["terraform_id"] for i in again["items"] if i["kind"] == "changed"}
    service.rollback(plan["id"])
    assert ignore.read_text() == "# team rules\naws_s3_bucket.scratch-*\n"


def test_a_recoverable_delete_is_rolled_back_with_the_reverse_api_call(estate, tmp_path: Path) -> None:
    _est, state, _expected = estate
    sm = boto3.client("secretsmanager", region_name=REGION)
    arn = sm.create_secret(Name="hand-made-token", SecretString="canary-not-for-logs")["ARN"]
    drift, service = _services()
    report = _scan(drift, state)
    spec = drift.environment(None, states=(str(state),))
    plan = service.create_plan(spec, report, strategies={"unmanaged": "delete"}, kinds=["unmanaged"],
                               types=["aws_secretsmanager_secret"])
    (action,) = plan["actions"]
    assert action["available"] and "rollback` brings it back" in action["preview"]["summary"]
    service.decide(plan["id"], [action["id"]], "approved", confirm=action["terraform_id"])
    assert service.apply(plan["id"])["status"] == "applied"
    assert "DeletedDate" in sm.describe_secret(SecretId=arn)
    rolled = service.rollback(plan["id"])
    assert rolled["rollback"][0]["result"] == "rolled back", rolled["rollback"]
    assert "DeletedDate" not in sm.describe_secret(SecretId=arn)
    assert sm.get_secret_value(SecretId=arn)["SecretString"] == "canary-not-for-logs"
    for entry in service.audit.entries():  # the secret's value never reaches the audit log
        assert "canary-not-for-logs" not in json.dumps(entry.to_json(), default=str)


def test_a_plan_whose_process_died_mid_action_is_settled_and_can_be_rolled_back(estate, tmp_path: Path) -> None:
    _est, state, _expected = estate
    drift, service = _services()
    report = _scan(drift, state)
    spec = drift.environment(None, states=(str(state),))
    plan = service.create_plan(spec, report, strategies={"missing": "forget"}, kinds=["missing"])
    service.decide(plan["id"], None, "approved")
    before = state.read_bytes()
    job_id = service.start_apply(plan["id"])
    # what a process killed in the middle of action 1 leaves behind: its write done, its undo recorded, the
    # job and the action still "running" under an owner that no longer exists
    first = plan["actions"][0]
    result = service.state_service.rm(StateSource(state_path=state), [first["address"]])
    host = process_owner().rsplit(":", 1)[0]
    with session_scope(service.engine) as session:
        session.execute(sa.update(Job).where(Job.id == job_id).values(status="running", owner=f"{host}:999999",
                                                                        attempts=1))
        session.execute(sa.update(RemediationPlan).where(RemediationPlan.id == plan["id"]).values(status="applying"))
        session.execute(sa.update(RemediationAction).where(RemediationAction.plan_id == plan["id"],
                                                           RemediationAction.seq == first["id"])
                        .values(status="running", undo=json.dumps({
                            "mode": "state-backup", "source": {"state_path": str(state)},
                            "backup_id": result.backup_id})))
    assert service.recover() == [plan["id"]]
    settled = service.get_plan(plan["id"])
    assert settled["status"] == "failed"
    assert [a["status"] for a in settled["actions"]] == ["failed", "approved"]
    assert "stopped" in settled["actions"][0]["error"]
    service.rollback(plan["id"])
    assert set(read_state(state.read_bytes()).index) == set(read_state(before).index)
