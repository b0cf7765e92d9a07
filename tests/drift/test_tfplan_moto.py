"""End to end: Terraform applies a small estate into moto, someone changes it behind Terraform's back,
and the refresh-only plan we run and parse reports exactly that (plus the provider's known noise)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from driftmgr_tui.drift.tfplan import PlanDriftEntry, parse_plan_json
from tests._fixtures.terraform import (  # noqa: F401
    aws_provider_mirror,
    find_aws_provider_mirror,
    terraform_bin,
    terraform_env,
    tf_aws_workdir,
    tf_cli_config,
    tf_runner,
)
from tests.test_cli import driftmgr

pytestmark = [
    pytest.mark.terraform,
    pytest.mark.slow,
    pytest.mark.usefixtures("terraform_bin", "tf_cli_config"),
]

BUCKET = "driftmgr-tfplan-logs"
ESTATE = f"""
resource "aws_vpc" "main" {{
  cidr_block = "10.42.0.0/16"
  tags       = {{ Name = "drift-main", env = "test" }}
}}

resource "aws_subnet" "a" {{
  vpc_id     = aws_vpc.main.id
  cidr_block = "10.42.1.0/24"
  tags       = {{ Name = "drift-a" }}
}}

resource "aws_security_group" "web" {{
  name        = "drift-web"
  description = "web"
  vpc_id      = aws_vpc.main.id
  ingress {{
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["10.0.0.0/8"]
  }}
}}

resource "aws_s3_bucket" "logs" {{
  bucket = "{BUCKET}"
}}

resource "aws_iam_role" "app" {{
  name = "drift-app"
  assume_role_policy = jsonencode({{
    Version   = "2012-10-17"
    Statement = [{{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = {{ Service = "ec2.amazonaws.com" }}
    }}]
  }})
}}

output "vpc_id" {{ value = aws_vpc.main.id }}
output "sg_id" {{ value = aws_security_group.web.id }}
"""


def _changed(entry: PlanDriftEntry) -> dict[str, tuple[Any, Any]]:
    """Top-level attributes whose value differs between the recorded state and the refreshed one."""
    before, after = entry.before or {}, entry.after or {}
    return {k: (before.get(k), after.get(k)) for k in sorted(set(before) | set(after))
            if before.get(k) != after.get(k)}


def _both_engines(workdir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same drift seen twice: discovery + the native engine on Terraform's own state, and Terraform's
    refresh-only plan run by `driftmgr drift detect --engine terraform`."""
    native = driftmgr("scan", "--chdir", str(workdir), "--provider", "aws", "--regions", "us-east-1",
                      "--format", "json")
    assert native.returncode in (0, 1), native.stderr
    terraform = driftmgr("drift", "detect", "--engine", "terraform", "--chdir", str(workdir), "--format", "json")
    assert terraform.returncode in (0, 1), terraform.stderr
    return json.loads(native.stdout), json.loads(terraform.stdout)


def _drift(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(i["kind"], i.get("address") or i["terraform_id"]): {d["path"]: (d["expected"], d["actual"])
                                                                  for d in i["diffs"]}
            for i in report["items"]}


def test_refresh_only_plan_reports_changes_made_outside_terraform(aws: str, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    tf = tf_runner(tf_aws_workdir(tmp_path, aws, ESTATE))
    tf.init()
    tf.run("apply", "-auto-approve", "-input=false")
    outputs = json.loads(tf.run("output", "-json").stdout)
    vpc_id, sg_id = outputs["vpc_id"]["value"], outputs["sg_id"]["value"]
    for key, value in terraform_env(find_aws_provider_mirror()).items():
        monkeypatch.setenv(key, value)

    # a clean estate, straight after apply: zero drift from both engines (the tags null -> {} noise is gone)
    native, terraform = _both_engines(tmp_path)
    assert native["items"] == [] and native["summary"]["total_managed"] == 5, native
    assert native["config_drift"] == []
    assert terraform["items"] == [] and terraform["summary"]["total_managed"] == 5, terraform

    ec2 = boto3.client("ec2", region_name="us-east-1")
    ec2.create_tags(Resources=[vpc_id], Tags=[{"Key": "env", "Value": "prod"}])
    ec2.authorize_security_group_ingress(GroupId=sg_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "192.168.0.0/16"}]},
    ])
    boto3.client("s3", region_name="us-east-1").delete_bucket(Bucket=BUCKET)

    native, terraform = _both_engines(tmp_path)
    world = {"tags.env": ("test", "prod")}
    assert _drift(terraform) == {
        ("missing", "aws_s3_bucket.logs"): {},
        ("changed", "aws_vpc.main"): world,
        ("changed", "aws_security_group.web"): {"ingress": (
            [], [{"cidr_blocks": ["192.168.0.0/16"], "description": "", "from_port": 22, "ipv6_cidr_blocks": [],
                  "prefix_list_ids": [], "protocol": "tcp", "security_groups": [], "self": False,
                  "to_port": 22}])},
    }
    assert _drift(native) == {
        ("missing", "aws_s3_bucket.logs"): {},
        ("changed", "aws_vpc.main"): world,
        ("changed", "aws_security_group.web"): {"ingress": ([], ["tcp 22-22 192.168.0.0/16"])},
    }

    plan = parse_plan_json(tf.refresh_only_plan_json(), source="refresh-only plan")
    entries = {e.address: e for e in plan.entries}

    bucket = entries.pop("aws_s3_bucket.logs")
    assert bucket.actions == ("delete",)
    assert bucket.before["bucket"] == BUCKET and bucket.after is None
    assert bucket.provider == "registry.terraform.io/hashicorp/aws"

    vpc = entries.pop("aws_vpc.main")
    assert vpc.actions == ("update",)
    assert vpc.before["id"] == vpc.after["id"] == vpc_id
    assert _changed(vpc) == {
        "tags": ({"Name": "drift-main", "env": "test"}, {"Name": "drift-main", "env": "prod"}),
        "tags_all": ({"Name": "drift-main", "env": "test"}, {"Name": "drift-main", "env": "prod"}),
    }

    sg = entries.pop("aws_security_group.web")
    assert sg.actions == ("update",)
    rules = {(r["from_port"], r["protocol"], tuple(r["cidr_blocks"])) for r in sg.after["ingress"]}
    assert rules == {(443, "tcp", ("10.0.0.0/8",)), (22, "tcp", ("192.168.0.0/16",))}
    assert [r["from_port"] for r in sg.before["ingress"]] == [443]
    # provider noise: refreshed against moto, an untagged resource reads back tags {} where state had null
    assert set(_changed(sg)) == {"ingress", "tags"}
    assert _changed(sg)["tags"] == (None, {})

    # the rest is noise only: the untagged IAM role, nothing from the tagged subnet
    assert {address: (e.actions, _changed(e)) for address, e in entries.items()} == {
        "aws_iam_role.app": (("update",), {"tags": (None, {})}),
    }

    assert plan.errored is False
    assert plan.prior_state_resources == 4  # the refreshed state no longer holds the deleted bucket
    assert plan.recorded_instances == 5
    assert {t for _a, t, _i, _p in plan.prior_state_instances} == {
        "aws_vpc", "aws_subnet", "aws_security_group", "aws_iam_role",
    }

