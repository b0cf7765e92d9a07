"""The Remediation section, driven through the real app: a real state file (a copy of
examples/terraform.tfstate), a saved drift report, a plan made by RemediationService from it, the real
database and audit log, the real apply job; moto (a real server) for the cloud delete."""

from __future__ import annotations

import json
import shutil
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from textual.pilot import Pilot
from textual.widgets import Button, Input, Static

from driftmgr_tui.app import DriftmgrApp
from driftmgr_tui.core.db import session_scope
from driftmgr_tui.core.models import RemediationPlan, current_actor
from driftmgr_tui.core.settings import load_settings
from driftmgr_tui.discovery.registry import match_key
from driftmgr_tui.drift.history import ReportMeta, save_report
from driftmgr_tui.drift.model import CHANGED, MISSING, UNMANAGED, DetectionResult, FieldDiff, Finding
from driftmgr_tui.screens.common import ConfirmScreen, HelpScreen
from driftmgr_tui.screens.remediation import RemediationScreen
from driftmgr_tui.screens.remediation_audit import AuditScreen
from driftmgr_tui.screens.remediation_modals import ApplyLogScreen, StepScreen
from driftmgr_tui.services.drift_service import DriftService
from driftmgr_tui.services.hub import ServiceHub
from driftmgr_tui.services.remediation_service import RemediationService
from driftmgr_tui.services.state_service import StateSource
from driftmgr_tui.state.codec import read_state
from driftmgr_tui.widgets.action_preview import ActionPreview
from driftmgr_tui.widgets.item_table import ItemTable
from driftmgr_tui.widgets.log_view import LogView
from tests.tui.conftest import EXAMPLE_STATE
from tests.tui.pilot import drive, notes_of, plain, settle

STATE = "live/terraform.tfstate"  # under the test's working directory: no temporary path on screen
REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKET = "aws_s3_bucket.logs"
ROLE = "aws_iam_role.deploy"
SG = "sg-0feedface0000001"
CREATED = datetime(2025, 3, 8, 9, 30, tzinfo=UTC)


def _finding(kind: str, rtype: str, rid: str, severity: str, location: str | None, *, address: str | None = None,
             diffs: tuple[FieldDiff, ...] = ()) -> Finding:
    return Finding(kind=kind, terraform_type=rtype, terraform_id=rid, match_key=match_key(rtype, rid),
                   provider="aws", address=address, account=ACCOUNT, region=REGION,
                   state=location if address else None, diffs=list(diffs), severity=severity)


@dataclass
class Bench:
    """Environment ``test`` (one state, ``path``), a drift report of three items and plan ``plan_id`` made from
    it: 1 forget the missing bucket, 2 ignore the role's changed field, 3 delete a hand-made security group."""

    path: Path
    root: Path
    report_id: int
    plan_id: int

    def app(self, *, read_only: bool = False) -> DriftmgrApp:
        return DriftmgrApp(ServiceHub(environment="test", read_only=read_only), initial="remediation")

    def service(self) -> RemediationService:
        drift = DriftService(load_settings())
        return RemediationService(settings=drift.settings, engine=drift.engine, state_service=drift.state_service)

    def addresses(self) -> set[str]:
        return set(read_state(self.path.read_bytes()).index)


def make_bench(tmp_path: Path, isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch, *, four_eyes: bool = False,
               approver: str | None = "alice@ops", sg: str = SG) -> Bench:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DRIFTMGR_THEME", "textual-dark")  # the same colours on every terminal
    path = tmp_path / STATE
    path.parent.mkdir()
    shutil.copyfile(EXAMPLE_STATE, path)
    config = f"[environments.test]\nstates = [{json.dumps(str(path))}]\n\n[remediation]\n" \
             f"four_eyes = {str(four_eyes).lower()}\n"
    if approver:
        config += f"approver = {json.dumps(approver)}\n"
    (isolated_dirs / "config.toml").write_text(config)
    drift = DriftService(load_settings())
    result = DetectionResult()
    result.findings = [
        _finding(MISSING, "aws_s3_bucket", "acme-prod-logs", "high", str(path), address=BUCKET),
        _finding(CHANGED, "aws_iam_role", "deploy", "medium", str(path), address=ROLE,
                 diffs=(FieldDiff("max_session_duration", 3600, 7200, "medium"),)),
        _finding(UNMANAGED, "aws_security_group", sg, "high", None),
    ]
    result.missing, result.changed, result.unmanaged, result.managed = 1, 1, 1, 9
    report_id = save_report(drift.engine, result, ReportMeta(environment="test", engine="native",
                                                             sources={"states": [str(path)]}))
    service = RemediationService(settings=drift.settings, engine=drift.engine, state_service=drift.state_service)
    plan = service.create_plan(drift.environment("test"), drift.report(report_id),
                               strategies={"missing": "forget", "changed": "ignore", "unmanaged": "delete"})
    with session_scope(drift.engine) as session:  # a fixed creation time, for the snapshots
        session.execute(sa.update(RemediationPlan).where(RemediationPlan.id == plan["id"])
                        .values(created_at=CREATED))
    return Bench(path, tmp_path, report_id, plan["id"])


@pytest.fixture
def bench(tmp_path: Path, isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> Bench:
    return make_bench(tmp_path, isolated_dirs, monkeypatch)


# -- reading the screen -------------------------------------------------------------------------------------
def section(pilot: Pilot[Any]) -> RemediationScreen:
    return next(s for s in pilot.app.screen_stack if isinstance(s, RemediationScreen))


def table_rows(table: ItemTable) -> list[tuple[str, ...]]:
    source = table.source
    return [tuple(source.row(i)) for i in range(table.row_count)] if source is not None else []


def text_of(screen: Any, selector: str) -> str:
    return plain(screen.query_one(selector, Static))


def preview_text(screen: StepScreen | RemediationScreen) -> str:
    return plain(screen.query_one(ActionPreview).body, width=160)


async def to_action(pilot: Pilot[Any], seq: int) -> None:
    table = section(pilot).actions_table
    table.focus()
    await pilot.press(*["down" if seq - 1 > table.cursor_row else "up"] * abs(seq - 1 - table.cursor_row))
    assert table.cursor_row == seq - 1


async def press(pilot: Pilot[Any], *keys: str) -> None:
    await pilot.press(*keys)
    await settle(pilot)


async def confirm(pilot: Pilot[Any], typed: str | None = None) -> ConfirmScreen:
    modal = pilot.app.screen
    assert isinstance(modal, ConfirmScreen), modal
    if typed is not None:
        await pilot.press(*typed)
    await pilot.click("#ok")
    await settle(pilot)
    return modal


# -- the list ---------------------------------------------------------------------------------------------
FORGET, DELETE, IGNORE = 1, 2, 3  # the plan's actions, in the order the planner gives them
IGNORE_RULE = "aws_iam_role.deploy.max_session_duration"


def test_plans_and_the_selected_plans_actions_are_listed(bench: Bench) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        screen = section(pilot)
        assert text_of(screen, "#rem-status") == "1 plan · one approval per action · approving as alice@ops"
        assert table_rows(screen.plans_table) == [
            (str(bench.plan_id), "test", "2025-03-08 09:30", "draft", "0/3", "3 undecided")]
        assert table_rows(screen.actions_table) == [
            ("1", "missing", BUCKET, "forget", "medium", "0/1", "pending"),
            ("2", "unmanaged", f"aws_security_group.{SG}", "delete", "critical", "0/1", "pending"),
            ("3", "changed", ROLE, "ignore", "low", "0/1", "pending"),
        ]
        assert text_of(screen, "#plan-line") == (
            f"plan {bench.plan_id} · test · report {bench.report_id} · draft · risk critical · 3 pending")
        detail = preview_text(screen).splitlines()  # the highlighted action's full preview, under the table
        assert detail[0].rstrip() == f"#1 missing  forget  {BUCKET}"
        assert f"remove {BUCKET} from {STATE} (the state is backed up first)" in detail
        assert text_of(screen, "#readiness") == (f"plan {bench.plan_id} has 3 undecided action(s): 1, 2, 3; "
                                                 "approve or skip each (remediate approve/skip)")
        assert pilot.app.focused is screen.actions_table
        await pilot.press("down", "down")
        assert preview_text(screen).splitlines()[0].rstrip() == f"#3 changed  ignore  {ROLE}"
        assert "add 1 rule(s) to .driftignore" in preview_text(screen)

    drive(bench.app(), scenario)


def test_no_plan_yet_says_how_to_make_one(tmp_path: Path, isolated_dirs: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (isolated_dirs / "config.toml").write_text("")

    async def scenario(pilot: Pilot[Any]) -> None:
        screen = section(pilot)
        assert table_rows(screen.plans_table) == [] and table_rows(screen.actions_table) == []
        assert text_of(screen, "#plan-line").startswith("No remediation plan yet. Mark drift items in the Drift")
        notes = notes_of(pilot.app)
        await press(pilot, "p", "enter", "a")
        assert isinstance(pilot.app.screen, RemediationScreen)
        assert notes == ["no plan selected", "no action selected"]

    drive(DriftmgrApp(ServiceHub(environment="test"), initial="remediation"), scenario)


# -- step-through -------------------------------------------------------------------------------------------
def test_step_through_shows_each_actions_full_preview(bench: Bench) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        await press(pilot, "enter")
        step = pilot.app.screen
        assert isinstance(step, StepScreen)
        assert text_of(step, "#step-title") == f"plan {bench.plan_id} · action 1 of 3 · pending · approvals 0/1"
        text = preview_text(step)
        lines = [line.rstrip() for line in text.splitlines()]
        assert lines[:3] == [f"#1 missing  forget  {BUCKET}", f"aws_s3_bucket  acme-prod-logs · state {STATE} · "
                             f"{REGION}", "risk medium · pending · approvals 0/1"]
        for expected in (f"remove {BUCKET} from {STATE} (the state is backed up first)",
                         "State diff", f"  - {BUCKET}", "  serial 42 -> 43",
                         "Commands", f"  $ driftmgr state rm {BUCKET} --state {STATE}",
                         "Code-side alternative (HCL)", "  removed {", f"    from = {BUCKET}",
                         "Alternatives", "  forget (this plan's choice)  available",
                         "  recreate  unavailable: needs the Terraform working dir: give --chdir DIR (or set chdir "
                         "for the environment)"):
            assert expected in lines, (expected, lines)
        assert str(bench.root) not in text  # paths under the working directory are shown relative to it

        await press(pilot, "n")
        text = preview_text(step)
        assert text_of(step, "#step-title").startswith(f"plan {bench.plan_id} · action 2 of 3 · pending")
        for expected in ("DANGEROUS: approving needs the resource id typed back",
                         f"DELETE aws_security_group {SG} in {REGION} with the aws API. This cannot be undone.",
                         "API calls", f"  ec2 DeleteSecurityGroup GroupId={SG}",
                         "Notes", "  a deleted resource cannot be brought back by driftmgr",
                         f"approving needs the id typed back: --confirm {SG}",
                         "  ignore  available", "  delete (this plan's choice)  available"):
            assert expected in text, (expected, text)

        await press(pilot, "right")
        text = preview_text(step)
        for expected in ("add 1 rule(s) to .driftignore", "Adds to .driftignore", f"  + {IGNORE_RULE}"):
            assert expected in text, (expected, text)
        notes = notes_of(pilot.app)
        await press(pilot, "n")
        assert notes == ["that is the last action"]
        await press(pilot, "p", "left")
        assert step.index == 0
        await press(pilot, "escape")
        assert isinstance(pilot.app.screen, RemediationScreen)

    drive(bench.app(), scenario)


def test_approve_skip_reject_and_reset_with_the_keys(bench: Bench) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        screen = section(pilot)
        await press(pilot, "enter")  # step through: a decision moves on to the next action
        step = pilot.app.screen
        assert isinstance(step, StepScreen)
        await press(pilot, "a")
        assert step.index == 1 and text_of(step, "#step-hint").startswith("2 undecided")
        await press(pilot, "s")
        assert step.index == 2
        assert text_of(step, "#step-hint").startswith("1 undecided")
        await press(pilot, "a")  # the last one: it stays
        assert text_of(step, "#step-title") == f"plan {bench.plan_id} · action 3 of 3 · approved · approvals 1/1"
        assert text_of(step, "#step-hint") == "every action is decided · esc goes back to the plan, where p applies it"
        await press(pilot, "escape")
        assert [row[-2:] for row in table_rows(screen.actions_table)] == [
            ("1/1", "approved"), ("-", "skipped"), ("1/1", "approved")]
        assert text_of(screen, "#readiness") == "ready: p shows the dry run, then executes it"
        assert table_rows(screen.plans_table)[0][-2:] == ("2/3", "ready")

        await to_action(pilot, FORGET)  # in the list: the highlighted action
        await press(pilot, "u")
        assert table_rows(screen.actions_table)[0][-2:] == ("0/1", "pending")
        await press(pilot, "x")  # a rejection blocks the whole plan until it is reset
        assert table_rows(screen.actions_table)[0][-2:] == ("-", "rejected")
        assert table_rows(screen.plans_table)[0][-2:] == ("1/3", "1 rejected")
        assert text_of(screen, "#readiness").startswith(f"plan {bench.plan_id}: action(s) 1 rejected by alice@ops")
        await press(pilot, "u", "s")
        assert table_rows(screen.actions_table)[0][-2:] == ("-", "skipped")

    drive(bench.app(), scenario)
    plan = bench.service().get_plan(bench.plan_id)
    assert [(a["status"], a["decided_by"]) for a in plan["actions"]] == [
        ("skipped", "alice@ops"), ("skipped", "alice@ops"), ("approved", "alice@ops")]
    events = [(e.action, e.detail.get("seq")) for e in bench.service().audit.entries(plan_id=bench.plan_id)]
    assert events[1:] == [("action.approved", 1), ("action.skipped", 2), ("action.approved", 3),
                          ("action.pending", 1), ("action.rejected", 1), ("action.pending", 1),
                          ("action.skipped", 1)]


def test_approve_all_asks_first_and_leaves_the_dangerous_action_pending(bench: Bench) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        screen = section(pilot)
        notes = notes_of(pilot.app)
        await press(pilot, "A")
        modal = pilot.app.screen
        assert isinstance(modal, ConfirmScreen)
        assert modal.title_text == f"Approve every undecided action of plan {bench.plan_id}?"
        assert f"  2. delete aws_security_group.{SG}" in modal.preview
        await pilot.press("escape")  # cancelled: nothing decided
        await settle(pilot)
        assert [row[-1] for row in table_rows(screen.actions_table)] == ["pending"] * 3
        await press(pilot, "A")
        await confirm(pilot)
        assert [row[-1] for row in table_rows(screen.actions_table)] == ["approved", "pending", "approved"]
        assert notes == [f"action 2 left pending: delete is dangerous; approve it on its own with --confirm {SG}"]
        await press(pilot, "S")
        await confirm(pilot)
        assert [row[-1] for row in table_rows(screen.actions_table)] == ["approved", "skipped", "approved"]

    drive(bench.app(), scenario)


# -- dangerous actions --------------------------------------------------------------------------------------
def test_a_dangerous_approval_needs_the_resource_id_typed_back(bench: Bench) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        screen = section(pilot)
        await to_action(pilot, DELETE)
        await press(pilot, "a")
        modal = pilot.app.screen
        assert isinstance(modal, ConfirmScreen) and modal.typed == SG
        assert f"ec2 DeleteSecurityGroup GroupId={SG}" in modal.preview
        ok = modal.query_one("#ok", Button)
        await pilot.press(*"sg-wrong", "enter")
        await settle(pilot)
        assert pilot.app.screen is modal and ok.disabled  # the wrong word: still asking
        modal.query_one(Input).value = SG[:-1]
        await pilot.pause()
        assert ok.disabled
        await pilot.press("end", SG[-1])
        assert not ok.disabled
        await pilot.click("#ok")
        await settle(pilot)
        assert pilot.app.screen is screen
        assert table_rows(screen.actions_table)[DELETE - 1][-2:] == ("1/1", "approved")

        await press(pilot, "u", "a", "escape")  # reset, then approve again but cancel the confirmation
        assert table_rows(screen.actions_table)[DELETE - 1][-1] == "pending"

    drive(bench.app(), scenario)
    entries = [e for e in bench.service().audit.entries(plan_id=bench.plan_id) if e.action == "action.approved"]
    assert [(e.target, e.detail["seq"]) for e in entries] == [(f"aws_security_group.{SG}", DELETE)]


# -- apply, failure, rollback -------------------------------------------------------------------------------
def test_apply_is_refused_while_actions_are_undecided(bench: Bench) -> None:
    before = bench.path.read_bytes()

    async def scenario(pilot: Pilot[Any]) -> None:
        notes = notes_of(pilot.app)
        await press(pilot, "a")  # action 1 approved, 2 and 3 undecided
        await press(pilot, "p")
        assert isinstance(pilot.app.screen, RemediationScreen)  # no confirmation, no log
        assert notes == [f"plan {bench.plan_id} has 2 undecided action(s): 2, 3; approve or skip each "
                         "(remediate approve/skip)"]

    drive(bench.app(), scenario)
    assert bench.path.read_bytes() == before
    assert bench.service().get_plan(bench.plan_id)["status"] == "draft"


async def _decide_for_apply(pilot: Pilot[Any]) -> None:
    """Approve the forget (1) and the ignore (3), skip the delete (2), in the list."""
    await to_action(pilot, FORGET)
    await press(pilot, "a")
    await to_action(pilot, DELETE)
    await press(pilot, "s")
    await to_action(pilot, IGNORE)
    await press(pilot, "a")


async def _execute(pilot: Pilot[Any], typed: str | None = None) -> ApplyLogScreen:
    await press(pilot, "p")
    modal = pilot.app.screen
    assert isinstance(modal, ConfirmScreen) and modal.action_label == "Execute"
    await confirm(pilot, typed)
    log = pilot.app.screen
    assert isinstance(log, ApplyLogScreen)
    return log


def test_apply_executes_after_confirming_streams_its_output_and_rollback_restores(bench: Bench) -> None:
    before = bench.addresses()
    ignore_file = bench.root / ".driftignore"

    async def scenario(pilot: Pilot[Any]) -> None:
        screen = section(pilot)
        await _decide_for_apply(pilot)
        await press(pilot, "p")
        modal = pilot.app.screen
        assert isinstance(modal, ConfirmScreen) and modal.typed is None
        assert modal.title_text == f"Execute plan {bench.plan_id}?"
        assert modal.preview.splitlines()[:5] == [
            f"dry run of plan {bench.plan_id}: 2 action(s) would run, in this order", "",
            f"  1. forget {BUCKET} (medium)", f"     remove {BUCKET} from {STATE} (the state is backed up first)",
            f"  3. ignore {ROLE} (low)"]
        assert bench.addresses() == before and not ignore_file.exists()  # a dry run changes nothing
        await confirm(pilot)
        log = pilot.app.screen
        assert isinstance(log, ApplyLogScreen)
        lines = log.query_one(LogView).lines
        assert lines == [
            f"  1 == action 1: forget {BUCKET}",
            f"  1 removed {BUCKET}",
            f"  1 state {STATE}: serial 42 -> 43, backup 1",
            f"  3 == action 3: ignore {ROLE}",
            "  3 added 1 rule(s) to .driftignore",
            f"-- plan {bench.plan_id} applied: 2 action(s) succeeded",
        ]
        assert text_of(log, "#log-status") == f"plan {bench.plan_id} applied: 2 action(s) succeeded · esc goes back"
        assert BUCKET not in bench.addresses()
        assert ignore_file.read_text().splitlines()[-1] == IGNORE_RULE

        await press(pilot, "escape")
        assert pilot.app.screen is screen
        assert table_rows(screen.plans_table)[0][3] == "applied"
        assert [row[-1] for row in table_rows(screen.actions_table)] == ["succeeded", "skipped", "succeeded"]
        assert text_of(screen, "#readiness") == f"plan {bench.plan_id} applied · R rolls back what ran"
        notes = notes_of(pilot.app)
        await press(pilot, "p")  # an applied plan is not applied again
        assert notes == [f"plan {bench.plan_id} is applied; only a draft plan can be applied"]

        await press(pilot, "R")
        modal = pilot.app.screen
        assert isinstance(modal, ConfirmScreen) and modal.typed is None
        assert modal.preview.splitlines()[2:4] == [
            f"  3. ignore {ROLE} (succeeded; undo: take the .driftignore lines out)",
            f"  1. forget {BUCKET} (succeeded; undo: restore the state's backup)"]
        await confirm(pilot)
        log = pilot.app.screen
        assert isinstance(log, ApplyLogScreen) and log.mode == "rollback"
        lines = log.query_one(LogView).lines
        assert lines[-1] == f"-- plan {bench.plan_id} rolled_back: 2 rolled back"
        assert any(line.startswith(f"  1 state {STATE} restored from backup 1") for line in lines), lines
        await press(pilot, "escape")
        assert table_rows(screen.plans_table)[0][3] == "rolled_back"
        await press(pilot, "R")
        assert notes[-1] == f"plan {bench.plan_id} has nothing to roll back"

    drive(bench.app(), scenario)
    assert bench.addresses() == before
    assert not ignore_file.exists()


def test_a_failing_action_stops_the_plan_and_the_log_says_which_and_why(bench: Bench) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        screen = section(pilot)
        await _decide_for_apply(pilot)
        # someone changes the state after the plan was made: the forget must refuse, not write over it
        bench.service().state_service.set_attributes(StateSource(state_path=bench.path), ROLE,
                                                     {"max_session_duration": 7200}, reason="someone else")
        log = await _execute(pilot)
        status = text_of(log, "#log-status").splitlines()
        assert status[0] == f"plan {bench.plan_id} failed: 0 action(s) succeeded"
        assert status[1].startswith(f"action 1 (forget {BUCKET}) failed: ") and "changed since plan" in status[1]
        assert status[2:] == ["not run: action(s) 3", "R in the plan list rolls back what ran · esc goes back"]
        assert log.query_one("#log-status").has_class("bad")
        assert any(line.startswith("  1 failed: ") for line in log.query_one(LogView).lines)
        await press(pilot, "escape")
        assert [row[-1] for row in table_rows(screen.actions_table)] == ["failed", "skipped", "approved"]
        assert text_of(screen, "#readiness").startswith(f"plan {bench.plan_id} failed · action 1 failed: ")

    drive(bench.app(), scenario)
    assert BUCKET in bench.addresses()


def test_the_log_cannot_be_left_while_running_and_c_cancels_between_actions(bench: Bench) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        await _decide_for_apply(pilot)
        service = pilot.app.hub.remediation
        requested = threading.Event()
        seen: list[str] = []

        def on_request(event: Any) -> None:
            if event.type == "job.cancel_requested":
                requested.set()

        def on_output(event: Any) -> None:
            # action 1 is running (its first line): press c on the log, and hold the action until the request
            # is recorded, so it lands between action 1 and action 3
            if event.type == "remediation.output" and event.payload["line"].startswith("== action 1"):
                log = pilot.app.screen
                assert isinstance(log, ApplyLogScreen) and log.running
                seen.append("running")
                pilot.app.call_from_thread(log.action_close)  # refused: still running
                pilot.app.call_from_thread(pilot.app.simulate_key, "c")
                assert requested.wait(20), "the cancellation was never requested"

        unsubscribe = [service.bus.subscribe(on_request, prefix="job."),
                       service.bus.subscribe(on_output, prefix="remediation.")]
        notes = notes_of(pilot.app)
        try:
            log = await _execute(pilot)
        finally:
            for stop in unsubscribe:
                stop()
        assert seen == ["running"]
        status = text_of(log, "#log-status").splitlines()
        assert status[:2] == [f"plan {bench.plan_id} cancelled: 1 action(s) succeeded", "not run: action(s) 3"]
        assert "  3 cancelled before action 3: it and the rest did not run" in log.query_one(LogView).lines
        assert notes[:2] == ["still running: wait for it or press c to cancel after the running action",
                             "cancellation requested: the running action finishes, the rest do not run"]

    drive(bench.app(), scenario)
    assert BUCKET not in bench.addresses()
    assert not (bench.root / ".driftignore").exists()


def test_a_cloud_delete_needs_its_id_to_approve_and_delete_typed_to_execute(aws: str, tmp_path: Path,
                                                                            isolated_dirs: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="hand-made", Description="made by hand", VpcId=vpc)["GroupId"]
    bench = make_bench(tmp_path, isolated_dirs, monkeypatch, sg=group)

    async def scenario(pilot: Pilot[Any]) -> None:
        screen = section(pilot)
        await to_action(pilot, FORGET)
        await press(pilot, "s")
        await to_action(pilot, IGNORE)
        await press(pilot, "s")
        await to_action(pilot, DELETE)
        await press(pilot, "a")
        pilot.app.screen.query_one(Input).value = group  # as a paste would
        await confirm(pilot)
        assert table_rows(screen.actions_table)[DELETE - 1][-1] == "approved"
        await press(pilot, "p")
        modal = pilot.app.screen
        assert isinstance(modal, ConfirmScreen) and modal.typed == "delete"
        assert f"1 of them delete cloud resources: {group}" in modal.preview
        await pilot.press(*"delet")
        assert modal.query_one("#ok", Button).disabled
        await confirm(pilot, "e")
        log = pilot.app.screen
        assert isinstance(log, ApplyLogScreen)
        assert f"  2 calling ec2 DeleteSecurityGroup GroupId={group}" in log.query_one(LogView).lines
        assert text_of(log, "#log-status").startswith(f"plan {bench.plan_id} applied: 1 action(s) succeeded")

    drive(bench.app(), scenario)
    groups = {g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]}
    assert group not in groups


# -- four eyes ----------------------------------------------------------------------------------------------
def test_four_eyes_one_user_cannot_approve_twice_and_a_second_user_completes_it(
        tmp_path: Path, isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGNAME", "alice")  # the OS login the approvals are recorded under
    alice = current_actor()
    bob = "bob@" + alice.split("@", 1)[1]
    bench = make_bench(tmp_path, isolated_dirs, monkeypatch, four_eyes=True, approver=None)

    async def scenario(pilot: Pilot[Any]) -> None:
        screen = section(pilot)
        assert text_of(screen, "#rem-status") == (
            f"1 plan · four-eyes on: 2 approvals from different users per action · approving as {alice}")
        notes = notes_of(pilot.app)
        await to_action(pilot, FORGET)
        await press(pilot, "a")
        assert table_rows(screen.actions_table)[0][-2:] == ("1/2", "pending")
        assert notes == [f"action 1: approved by {alice}; four-eyes needs one more user"]
        await press(pilot, "a")  # alice again: refused, said, nothing changes
        assert notes[1] == f"{alice} already approved action 1; with four-eyes on, another user must approve it"
        assert pilot.app.screen is screen
        assert table_rows(screen.actions_table)[0][-2:] == ("1/2", "pending")
        await to_action(pilot, DELETE)
        await press(pilot, "s")
        await to_action(pilot, IGNORE)
        await press(pilot, "a")
        await press(pilot, "p")
        assert notes[-1].startswith(f"plan {bench.plan_id} has 2 undecided action(s): 1, 3")

        monkeypatch.setenv("LOGNAME", "bob")  # another user at the same terminal
        assert current_actor() == bob
        await press(pilot, "r")
        assert text_of(screen, "#rem-status").endswith(f"approving as {bob}")
        await to_action(pilot, FORGET)
        await press(pilot, "a")
        await to_action(pilot, IGNORE)
        await press(pilot, "a")
        assert [row[-2:] for row in table_rows(screen.actions_table)] == [
            ("2/2", "approved"), ("-", "skipped"), ("2/2", "approved")]
        await press(pilot, "enter")
        assert f"approvals 2/2 ({alice}, {bob})" in preview_text(pilot.app.screen)
        await press(pilot, "escape")
        log = await _execute(pilot)
        assert text_of(log, "#log-status").startswith(f"plan {bench.plan_id} applied: 2 action(s) succeeded")

    drive(bench.app(), scenario)
    assert BUCKET not in bench.addresses()
    approvals = [(e.actor, e.detail["seq"], e.detail["status"]) for e in bench.service().audit.entries(
        plan_id=bench.plan_id) if e.action == "action.approved"]
    assert approvals == [(alice, 1, "pending"), (alice, 3, "pending"), (bob, 1, "approved"), (bob, 3, "approved")]


# -- audit trail --------------------------------------------------------------------------------------------
def test_audit_trail_lists_the_entries_and_verify_finds_tampering(bench: Bench) -> None:
    other = bench.service().create_plan(None, DriftService(load_settings()).report(bench.report_id),
                                        kinds=["missing"])  # a second plan: its entries are not this plan's

    async def scenario(pilot: Pilot[Any]) -> None:
        screen = section(pilot)
        await press(pilot, "shift+tab", "down")  # in the plan list: the older plan, the bench's
        assert pilot.app.focused is screen.plans_table
        assert screen.plan is not None and screen.plan["id"] == bench.plan_id
        await press(pilot, "tab", "a")
        await press(pilot, "t")
        audit = pilot.app.screen
        assert isinstance(audit, AuditScreen)
        rows = table_rows(audit.query_one(ItemTable))
        assert [(r[0], r[2], r[3], r[4]) for r in rows] == [
            ("1", current_actor(), "plan.created", str(bench.plan_id)),
            ("3", "alice@ops", "action.approved", f"{bench.plan_id} #1")]
        assert all(len(r[-1]) == 12 for r in rows)  # a hash prefix (120 columns wide)
        head = bench.service().audit.verify().head_hash
        assert text_of(audit, "#audit-verify") == f"verify: audit log intact: 3 entries, head {head[:12]}"
        assert text_of(audit, "#audit-detail").startswith("entry 3 · ")
        assert text_of(audit, "#audit-scope") == (f"audit trail · plan {bench.plan_id} · 2 entries · "
                                                  "a: every entry")
        await press(pilot, "a")
        assert [r[0] for r in table_rows(audit.query_one(ItemTable))] == ["1", "2", "3"]
        assert table_rows(audit.query_one(ItemTable))[1][4] == str(other["id"])

        with bench.service().engine.begin() as conn:  # someone edits an entry behind the log's back
            conn.execute(sa.text("UPDATE audit_entry SET actor = 'mallory' WHERE seq = 3"))
        await press(pilot, "v")
        verify = text_of(audit, "#audit-verify").splitlines()
        assert verify[0] == "verify: audit log tampered: 1 problem(s) in 3 entries"
        assert verify[1].startswith("  changed (entry 3): ")
        assert table_rows(audit.query_one(ItemTable))[2][2] == "mallory"
        await press(pilot, "escape")
        assert pilot.app.screen is screen

    drive(bench.app(), scenario)


# -- read-only ----------------------------------------------------------------------------------------------
def test_read_only_hides_and_refuses_the_destructive_keys(bench: Bench) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        screen = section(pilot)
        bindings = screen.active_bindings
        for key in ("a", "s", "x", "u", "A", "S", "p", "c", "R", "F"):
            assert key not in bindings or not bindings[key].enabled, key
        for key in ("t", "r"):
            assert bindings[key].enabled
        await press(pilot, "a", "s", "x", "A", "p", "R")
        assert pilot.app.screen is screen
        screen.request_decision(screen.plan["actions"][0], "approved")  # not through a key: refused too
        await settle(pilot)
        await press(pilot, "question_mark")
        help_text = "\n".join(str(s.render()) for s in pilot.app.screen.query("Static"))
        assert isinstance(pilot.app.screen, HelpScreen) and "Audit" in help_text and "Approve" not in help_text
        await press(pilot, "escape", "enter")
        step = pilot.app.screen
        assert isinstance(step, StepScreen)
        assert text_of(step, "#step-hint") == "read-only: decisions are not available"
        for key in ("a", "s", "x", "u"):
            assert key not in step.active_bindings or not step.active_bindings[key].enabled
        await press(pilot, "a", "s")
        assert step.index == 0

    drive(bench.app(read_only=True), scenario)
    plan = bench.service().get_plan(bench.plan_id)
    assert {a["status"] for a in plan["actions"]} == {"pending"}


def test_open_plan_switches_to_the_section_and_selects_the_plan(bench: Bench) -> None:
    newer = bench.service().create_plan(None, DriftService(load_settings()).report(bench.report_id),
                                        kinds=["missing"])

    async def scenario(pilot: Pilot[Any]) -> None:
        await press(pilot, "1")
        pilot.app.open_plan(bench.plan_id)
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, RemediationScreen)
        assert screen.plans_table.cursor_key == bench.plan_id and screen.plan["id"] == bench.plan_id
        assert len(table_rows(screen.actions_table)) == 3
        pilot.app.open_plan(newer["id"])
        await settle(pilot)
        assert screen.plan["id"] == newer["id"] and len(table_rows(screen.actions_table)) == 1

    drive(bench.app(), scenario)


# -- snapshots ----------------------------------------------------------------------------------------------
@pytest.fixture
def still_bench(tmp_path: Path, isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> Bench:
    """The bench with its plan decided (1 and 3 approved, 2 skipped), and a fixed clock and actor for the audit
    log, so its times and hashes are the same on every run (and machine)."""
    ticks = iter(range(10_000))
    monkeypatch.setattr("driftmgr_tui.remediation.audit.utcnow",
                        lambda: CREATED + timedelta(minutes=next(ticks)))
    monkeypatch.setattr("driftmgr_tui.remediation.audit.current_actor", lambda: "alice@ops")
    bench = make_bench(tmp_path, isolated_dirs, monkeypatch)
    service = bench.service()  # decided as _decide_for_apply does with the keys
    service.decide(bench.plan_id, [FORGET, IGNORE], "approved")
    service.decide(bench.plan_id, [DELETE], "skipped")
    return bench


async def _list_decided(pilot: Pilot[Any]) -> None:
    await settle(pilot)
    await to_action(pilot, DELETE)


async def _step_open(pilot: Pilot[Any]) -> None:
    await settle(pilot)
    await press(pilot, "enter")


async def _applied(pilot: Pilot[Any]) -> None:
    await _list_decided(pilot)
    await _execute(pilot)


async def _audit_open(pilot: Pilot[Any]) -> None:
    await _list_decided(pilot)
    await press(pilot, "t")


SIZES = pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])


@SIZES
def test_snapshot_plan_list(still_bench: Bench, snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(still_bench.app(), terminal_size=size, run_before=_list_decided)


@SIZES
def test_snapshot_step_through(still_bench: Bench, snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(still_bench.app(), terminal_size=size, run_before=_step_open)


@SIZES
def test_snapshot_apply_log(still_bench: Bench, snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(still_bench.app(), terminal_size=size, run_before=_applied)


@SIZES
def test_snapshot_audit_trail(still_bench: Bench, snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(still_bench.app(), terminal_size=size, run_before=_audit_open)
