"""Plan building without a cloud: strategy choice, dependency order, decisions' state machine, the state edit
that accepts a change, and the .driftignore edits that rollback takes back out."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftmgr_tui.core.errors import UsageError
from driftmgr_tui.remediation import model as m
from driftmgr_tui.remediation.files import append_lines, remove_lines
from driftmgr_tui.remediation.items import PlanItem
from driftmgr_tui.remediation.planner import ActionSpec, order, resource_of
from driftmgr_tui.remediation.strategies import (
    STRATEGIES,
    Capabilities,
    parse_strategy_options,
    unavailable_reason,
)


def spec(kind: str, strategy: str, address: str | None, tid: str, deps=(), cloud=None) -> ActionSpec:
    item = PlanItem(fingerprint=tid, kind=kind, terraform_type=address.split(".")[-2] if address else "aws_vpc",
                    terraform_id=tid, address=address, dependencies=list(deps), cloud=cloud)
    return ActionSpec(item, STRATEGIES[(kind, strategy)])


def labels(specs: list[ActionSpec]) -> list[str]:
    return [s.item.label for s in specs]


def test_removals_run_dependents_first_and_creations_dependencies_first() -> None:
    vpc = spec("missing", "forget", "aws_vpc.main", "vpc-1")
    subnet = spec("missing", "forget", 'module.net.aws_subnet.a["x"]', "subnet-1", deps=["aws_vpc.main"])
    instance = spec("missing", "forget", "aws_instance.web", "i-1", deps=['module.net.aws_subnet.a'])
    ordered, warnings = order([vpc, subnet, instance])
    assert labels(ordered) == ["aws_instance.web", 'module.net.aws_subnet.a["x"]', "aws_vpc.main"]
    assert [s.depends_on for s in ordered] == [[], [1], [2]] and warnings == []

    vpc = spec("missing", "recreate", "aws_vpc.main", "vpc-1")
    subnet = spec("missing", "recreate", "aws_subnet.a", "subnet-1", deps=["aws_vpc.main"])
    ordered, _ = order([subnet, vpc])
    assert labels(ordered) == ["aws_vpc.main", "aws_subnet.a"]


def test_unmanaged_references_come_from_discovered_attributes() -> None:
    vpc = spec("unmanaged", "delete", None, "vpc-9", cloud={"attributes": {"VpcId": "vpc-9"}})
    sg = spec("unmanaged", "delete", None, "sg-9", cloud={"attributes": {"VpcId": "vpc-9", "GroupId": "sg-9"}})
    ordered, _ = order([vpc, sg])
    assert [s.item.terraform_id for s in ordered] == ["sg-9", "vpc-9"]  # the group goes before its vpc


def test_a_cycle_keeps_report_order_and_warns() -> None:
    a = spec("missing", "forget", "aws_instance.a", "i-a", deps=["aws_instance.b"])
    b = spec("missing", "forget", "aws_instance.b", "i-b", deps=["aws_instance.a"])
    ordered, warnings = order([a, b])
    assert labels(ordered) == ["aws_instance.a", "aws_instance.b"] and "cycle" in warnings[0]


def test_resource_of_strips_the_instance_key_only() -> None:
    assert resource_of('module.a["k"].aws_instance.web[0]') == 'module.a["k"].aws_instance.web'


def test_strategy_options_are_checked() -> None:
    assert parse_strategy_options(["missing=recreate", "unmanaged = codify"]) == {
        "missing": "recreate", "unmanaged": "codify"}
    with pytest.raises(UsageError, match="no strategy 'delete' for missing"):
        parse_strategy_options(["missing=delete"])
    with pytest.raises(UsageError, match="KIND=STRATEGY"):
        parse_strategy_options(["forget"])


def test_action_moves() -> None:
    m.check_move(m.PENDING, m.APPROVED, "action 1")
    m.check_move(m.APPROVED, m.SKIPPED, "action 1")
    with pytest.raises(UsageError, match="action 2 is succeeded; it cannot become approved"):
        m.check_move(m.SUCCEEDED, m.APPROVED, "action 2")
    with pytest.raises(UsageError):
        m.check_move(m.PENDING, m.RUNNING, "action 3")  # never without approval
    assert m.highest_risk(["low", "critical", "medium"]) == "critical"


def test_availability_reasons() -> None:
    item = PlanItem("f", "missing", "aws_s3_bucket", "b", address="aws_s3_bucket.b", state="/s/terraform.tfstate")
    caps = Capabilities(terraform="/usr/bin/terraform", workdir=Path("/w"), workdir_states=frozenset({"/w/tf"}))
    reason = unavailable_reason(STRATEGIES[("missing", "recreate")], item, caps)
    assert reason and "not in the state of the working dir" in reason
    assert unavailable_reason(STRATEGIES[("missing", "forget")], item, caps) is None
    assert "--chdir" in (unavailable_reason(STRATEGIES[("missing", "recreate")], item, Capabilities()) or "")


def test_accepting_tags_keeps_default_tags_where_they_come_from() -> None:
    item = PlanItem("f", "changed", "aws_vpc", "vpc-1", address="aws_vpc.main",
                    diffs=[{"path": "tags.Name", "expected": "main", "actual": "edited"},
                           {"path": "tags.Owner", "expected": None, "actual": "ops"}],
                    attributes={"tags": {"Name": "main"}, "tags_all": {"Name": "main", "ManagedBy": "tf"},
                                "cidr_block": "10.0.0.0/16"},
                    cloud={"attributes": {"__tags_known__": True},
                           "tags": {"Name": "edited", "ManagedBy": "tf", "Owner": "ops", "aws:cloudformation": "x"}})
    assert item.accepted_attributes() == {"tags": {"Name": "edited", "Owner": "ops"},
                                          "tags_all": {"Name": "edited", "ManagedBy": "tf", "Owner": "ops"}}
    item.diffs = [{"path": "ingress", "expected": [], "actual": ["tcp 22-22 0.0.0.0/0"]}]
    assert "ingress cannot be taken into the state without terraform" in (item.state_edit_blocker() or "")
    item.diffs = [{"path": "password", "expected": "(sensitive)", "actual": "(sensitive)"}]
    assert "sensitive" in (item.state_edit_blocker() or "")


def test_driftignore_lines_go_in_and_come_back_out(tmp_path: Path) -> None:
    path = tmp_path / ".driftignore"
    path.write_text("aws_s3_bucket.logs")  # no final newline
    created, added = append_lines(path, ["aws_iam_user.temp", "aws_s3_bucket.logs"], comment="plan 1")
    assert not created and added == ["# plan 1", "aws_iam_user.temp"]
    assert path.read_text() == "aws_s3_bucket.logs\n# plan 1\naws_iam_user.temp\n"
    assert remove_lines(path, added, created=False) == added
    assert path.read_text() == "aws_s3_bucket.logs\n"
    fresh = tmp_path / "new" / ".driftignore"
    created, added = append_lines(fresh, ["aws_vpc.vpc-1"])
    assert created
    remove_lines(fresh, added, created=True)
    assert not fresh.exists()
    assert not list(tmp_path.rglob("*.tmp"))
