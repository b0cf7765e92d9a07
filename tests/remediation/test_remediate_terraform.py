"""The terraform-based strategies end to end: Terraform applies an estate into moto, someone changes it behind
Terraform's back, and a remediation plan made with ``--chdir`` fixes it through terraform itself: recreate a
deleted bucket, revert an edited tag, accept a rule added by hand (refresh-only apply), and codify a bucket made
by hand with ``terraform plan -generate-config-out``. Rollback restores the state from the backups taken
before each action. Skipped, with the reason, where terraform or the offline provider mirror is missing."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import hcl2
import pytest

from driftmgr_tui.core.settings import load_settings
from driftmgr_tui.discovery.model import Scope
from driftmgr_tui.services.discovery_service import DiscoveryService
from driftmgr_tui.services.drift_service import DetectOptions, DriftService
from driftmgr_tui.services.remediation_service import RemediationService
from driftmgr_tui.state.codec import read_state
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

REGION = "us-east-1"
BUCKET = "driftmgr-remediate-logs"
ESTATE = f"""
resource "aws_vpc" "main" {{
  cidr_block = "10.43.0.0/16"
  tags       = {{ Name = "remediate-main", env = "test" }}
}}

resource "aws_security_group" "web" {{
  name        = "remediate-web"
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

output "vpc_id" {{ value = aws_vpc.main.id }}
output "sg_id" {{ value = aws_security_group.web.id }}
"""


def _scan(drift: DriftService, workdir: Path) -> dict:
    run = DiscoveryService(settings=drift.settings, engine=drift.engine).run(Scope(provider="aws", regions=(REGION,)))
    spec = drift.environment(None, chdir=workdir)
    return drift.detect(spec, DetectOptions(run_ids=(run.id,), config_drift=False)).report


def test_recreate_revert_accept_and_codify_through_terraform(aws: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    workdir = tf_aws_workdir(tmp_path, aws, ESTATE)
    tf = tf_runner(workdir)
    tf.init()
    tf.run("apply", "-auto-approve", "-input=false")
    outputs = json.loads(tf.run("output", "-json").stdout)
    vpc_id, sg_id = outputs["vpc_id"]["value"], outputs["sg_id"]["value"]
    for key, value in terraform_env(find_aws_provider_mirror()).items():
        monkeypatch.setenv(key, value)

    ec2, s3 = boto3.client("ec2", region_name=REGION), boto3.client("s3", region_name=REGION)
    ec2.create_tags(Resources=[vpc_id], Tags=[{"Key": "env", "Value": "prod"}])
    ec2.authorize_security_group_ingress(GroupId=sg_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "192.168.0.0/16"}]}])
    s3.delete_bucket(Bucket=BUCKET)
    s3.create_bucket(Bucket="hand-made-exports")

    drift = DriftService(load_settings())
    service = RemediationService(settings=drift.settings, engine=drift.engine, state_service=drift.state_service)
    report = _scan(drift, workdir)
    state_before = (workdir / "terraform.tfstate").read_bytes()
    spec = drift.environment(None, chdir=workdir)
    plan = service.create_plan(spec, report, strategies={"missing": "recreate", "changed": "revert",
                                                         "unmanaged": "codify"})
    by = {(a["kind"], a["terraform_id"]): a for a in plan["actions"]}
    recreate = by[("missing", BUCKET)]
    revert = by[("changed", vpc_id)]
    codify = by[("unmanaged", "hand-made-exports")]
    assert recreate["available"] and revert["available"] and codify["available"], plan["actions"]
    assert any("-target=aws_s3_bucket.logs" in c for c in recreate["preview"]["commands"])
    assert codify["preview"]["generated_by"] == "terraform plan -generate-config-out", plan["warnings"]
    hcl2.loads(codify["preview"]["hcl"])
    # the rule added by hand: accepted into the state with a refresh-only apply (its own plan below)
    service.decide(plan["id"], [recreate["id"], revert["id"], codify["id"]], "approved")
    service.decide(plan["id"], [a["id"] for a in plan["actions"]
                                if a["id"] not in (recreate["id"], revert["id"], codify["id"])], "skipped")
    lines: list[str] = []
    result = service.apply(plan["id"], on_line=lambda _seq, line: lines.append(line))
    assert result["status"] == "applied", [(a["id"], a["error"]) for a in result["actions"]]
    assert any("terraform will create aws_s3_bucket.logs" in line for line in lines), lines
    assert any("Apply complete" in line for line in lines)

    # recreated in moto, tag set back, codified file valid for terraform
    assert BUCKET in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    tags = {t["Key"]: t["Value"] for t in ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]["Tags"]}
    assert tags["env"] == "test"
    written = Path(codify["preview"]["file"])
    assert written.exists()
    tf.run("validate")
    imports = tf.run("plan", "-input=false", "-no-color").stdout
    assert "1 to import" in imports, imports

    plan2 = service.create_plan(spec, _scan(drift, workdir), strategies={"changed": "accept"}, kinds=["changed"])
    accept = next(a for a in plan2["actions"] if a["terraform_id"] == sg_id)
    assert accept["preview"]["commands"][1].count("-refresh-only") == 1
    service.decide(plan2["id"], None, "approved")
    assert service.apply(plan2["id"])["status"] == "applied"
    state = read_state((workdir / "terraform.tfstate").read_bytes())
    ports = {r["from_port"] for r in state.index["aws_security_group.web"].attributes["ingress"]}
    assert ports == {22, 443}

    # rollback: newest first, every state restored from the backup taken before its action
    assert service.rollback(plan2["id"])["status"] == "rolled_back"
    rolled = service.rollback(plan["id"])
    assert rolled["status"] == "rolled_back", rolled["rollback"]
    assert not written.exists()
    restored = read_state((workdir / "terraform.tfstate").read_bytes())
    assert set(restored.index) == set(read_state(state_before).index)
    assert any("stays as it is" in r["message"] for r in rolled["rollback"])
    assert driftmgr("audit", "verify").returncode == 0
