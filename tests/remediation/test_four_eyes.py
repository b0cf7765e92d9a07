"""The four-eyes setting: with ``[remediation] four_eyes = true`` an action needs approvals from two different
users before its plan may be applied, and one user cannot approve twice."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from driftmgr_tui.core.errors import UsageError
from driftmgr_tui.core.settings import load_settings
from driftmgr_tui.drift.history import ReportMeta, save_report
from driftmgr_tui.drift.model import DetectionResult, Finding
from driftmgr_tui.services.drift_service import DriftService
from driftmgr_tui.services.remediation_service import RemediationService
from driftmgr_tui.state.codec import read_state

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "terraform.tfstate"


def _setup(tmp_path: Path, four_eyes: bool) -> tuple[RemediationService, dict, Path]:
    state = tmp_path / "terraform.tfstate"
    shutil.copy(EXAMPLE, state)
    Path(os.environ["DRIFTMGR_CONFIG"]).write_text(
        f'[environments.prod]\nstates = ["{state}"]\n\n[remediation]\nfour_eyes = {str(four_eyes).lower()}\n')
    drift = DriftService(load_settings())
    result = DetectionResult()
    result.findings = [Finding("missing", "aws_s3_bucket", "acme-prod-logs", "acme-prod-logs", "aws",
                               address="aws_s3_bucket.logs", state=str(state), severity="high")]
    result.missing = 1
    report_id = save_report(drift.engine, result, ReportMeta(environment="prod", engine="native",
                                                             sources={"states": [str(state)]}))
    service = RemediationService(settings=drift.settings, engine=drift.engine, state_service=drift.state_service)
    plan = service.create_plan(drift.environment("prod"), drift.report(report_id))
    return service, plan, state


def test_two_different_users_must_approve(tmp_path: Path) -> None:
    service, plan, state = _setup(tmp_path, four_eyes=True)
    (action,) = plan["actions"]
    result = service.decide(plan["id"], [action["id"]], "approved", actor="alice@ops")
    assert result["actions"][0]["status"] == "pending" and result["actions"][0]["approvals"] == ["alice@ops"]
    assert any("one more user" in n for n in result["notes"])
    assert "undecided" in (service.readiness(result) or "")
    with pytest.raises(UsageError, match="alice@ops already approved action 1"):
        service.decide(plan["id"], [action["id"]], "approved", actor="alice@ops")
    with pytest.raises(UsageError, match="undecided"):
        service.start_apply(plan["id"])
    result = service.decide(plan["id"], [action["id"]], "approved", actor="bob@ops")
    assert result["actions"][0]["status"] == "approved"
    assert result["actions"][0]["approvals"] == ["alice@ops", "bob@ops"] and result["four_eyes"] is True
    assert service.apply(plan["id"])["status"] == "applied"
    assert "aws_s3_bucket.logs" not in read_state(state.read_bytes()).index
    approvals = [e for e in service.audit.entries(plan_id=plan["id"]) if e.action == "action.approved"]
    assert [(e.actor, e.detail["status"]) for e in approvals] == [("alice@ops", "pending"), ("bob@ops", "approved")]


def test_skipping_drops_earlier_approvals(tmp_path: Path) -> None:
    service, plan, _state = _setup(tmp_path, four_eyes=True)
    (action,) = plan["actions"]
    service.decide(plan["id"], [action["id"]], "approved", actor="alice@ops")
    service.decide(plan["id"], [action["id"]], "skipped", actor="carol@ops")
    result = service.decide(plan["id"], [action["id"]], "approved", actor="bob@ops")
    assert result["actions"][0]["status"] == "pending"  # alice's approval went with the skip
    assert result["actions"][0]["approvals"] == ["bob@ops"]


def test_a_rejection_blocks_the_plan_until_it_is_reset(tmp_path: Path) -> None:
    service, plan, state = _setup(tmp_path, four_eyes=True)
    (action,) = plan["actions"]
    before = state.read_bytes()
    service.decide(plan["id"], [action["id"]], "approved", actor="alice@ops")
    result = service.decide(plan["id"], [action["id"]], "rejected", actor="bob@ops")
    assert (result["actions"][0]["status"], result["actions"][0]["decided_by"]) == ("rejected", "bob@ops")
    assert result["actions"][0]["approvals"] == []  # alice's approval went with the rejection
    assert service.readiness(result) == (f"plan {plan['id']}: action(s) 1 rejected by bob@ops; reset them to decide "
                                         "again (remediate reset), or make a new plan")
    with pytest.raises(UsageError, match="rejected by bob@ops"):
        service.start_apply(plan["id"])
    with pytest.raises(UsageError, match="action 1 is rejected; it cannot become approved"):
        service.decide(plan["id"], [action["id"]], "approved", actor="carol@ops")
    assert state.read_bytes() == before
    service.decide(plan["id"], None, "pending", actor="bob@ops")  # reset --all takes the rejection back
    service.decide(plan["id"], [action["id"]], "approved", actor="alice@ops")
    result = service.decide(plan["id"], [action["id"]], "approved", actor="carol@ops")
    assert service.readiness(result) is None
    trail = [(e.action, e.actor) for e in service.audit.entries(plan_id=plan["id"]) if e.action.startswith("action.")]
    assert trail[:3] == [("action.approved", "alice@ops"), ("action.rejected", "bob@ops"), ("action.pending", "bob@ops")]


def test_one_approval_is_enough_without_four_eyes(tmp_path: Path) -> None:
    service, plan, _state = _setup(tmp_path, four_eyes=False)
    (action,) = plan["actions"]
    result = service.decide(plan["id"], [action["id"]], "approved", actor="alice@ops")
    assert result["actions"][0]["status"] == "approved" and result["four_eyes"] is False
