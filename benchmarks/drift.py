"""Drift detection speed: ``python -m benchmarks drift [--instances N] [--repeat R] [--json]``.

N state instances (default 100,000) against N cloud resources, 5% drift (a third changed, a third missing, a
third unmanaged), spread over six AWS types with field projections (security groups with rule atoms,
instances, VPCs, subnets, IAM roles, buckets), with provider-style state attributes (tags null next to
tags_all, policies as JSON strings) so the normalizers do their real work. Measured in one process:

  (a) ``detect``: join, compare, classify, ignore rules                target <= 1 s at 100,000
  (b) ``save_report``: the report, its items and history on SQLite      target <= 2 s
  (c) a naive nested-loop match on a 2,000-item subset, against (a) on the same subset: the ratio

Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import tempfile
from pathlib import Path

from benchmarks.timing import best_of
from driftmgr_tui.discovery.model import TAGS_KNOWN
from driftmgr_tui.drift.ignore import IgnoreMatcher, parse_driftignore
from driftmgr_tui.drift.matcher import Evaluation, detect, nested_loop_detect
from driftmgr_tui.drift.model import CloudObject, ManagedInstance

DETECT_TARGET = 1.0
PERSIST_TARGET = 2.0
REGION = "us-east-1"
ACCOUNT = "123456789012"
TYPES = ("aws_security_group", "aws_instance", "aws_vpc", "aws_subnet", "aws_iam_role", "aws_s3_bucket")
POLICY = '{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"}}],' \
         '"Version":"2012-10-17"}'


def _pair(n: int, rtype: str) -> tuple[ManagedInstance, CloudObject]:
    tags = {"Name": f"r{n}", "team": f"t{n % 17}"}
    if rtype == "aws_security_group":
        rid = f"sg-{n:017x}"
        state = {"id": rid, "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/{rid}", "name": f"g{n}",
                 "description": "Managed by Terraform", "vpc_id": "vpc-1", "tags": None, "tags_all": tags,
                 "ingress": [{"cidr_blocks": ["10.0.0.0/16"], "description": "", "from_port": 443,
                              "ipv6_cidr_blocks": [], "prefix_list_ids": [], "protocol": "tcp",
                              "security_groups": [], "self": False, "to_port": 443}],
                 "egress": []}
        cloud = {"GroupId": rid, "GroupName": f"g{n}", "Description": "Managed by Terraform", "VpcId": "vpc-1",
                 "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                                    "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}], "IpPermissionsEgress": []}
    elif rtype == "aws_instance":
        rid = f"i-{n:017x}"
        state = {"id": rid, "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{rid}", "instance_type": "t3.micro",
                 "ami": "ami-1", "subnet_id": "subnet-1", "key_name": "", "vpc_security_group_ids": ["sg-b", "sg-a"],
                 "source_dest_check": True, "ebs_optimized": False, "tags": tags, "tags_all": tags}
        cloud = {"InstanceId": rid, "InstanceType": "t3.micro", "ImageId": "ami-1", "SubnetId": "subnet-1",
                 "SourceDestCheck": True, "EbsOptimized": False,
                 "SecurityGroups": [{"GroupId": "sg-a"}, {"GroupId": "sg-b"}]}
    elif rtype == "aws_vpc":
        rid = f"vpc-{n:017x}"
        state = {"id": rid, "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/{rid}", "cidr_block": "10.0.0.0/16",
                 "instance_tenancy": "default", "tags": None, "tags_all": tags}
        cloud = {"VpcId": rid, "CidrBlock": "10.0.0.0/16", "InstanceTenancy": "default"}
    elif rtype == "aws_subnet":
        rid = f"subnet-{n:017x}"
        state = {"id": rid, "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/{rid}", "cidr_block": "10.0.1.0/24",
                 "availability_zone": "us-east-1a", "map_public_ip_on_launch": None, "vpc_id": "vpc-1",
                 "tags": None, "tags_all": tags}
        cloud = {"SubnetId": rid, "CidrBlock": "10.0.1.0/24", "AvailabilityZone": "us-east-1a",
                 "MapPublicIpOnLaunch": False, "VpcId": "vpc-1"}
    elif rtype == "aws_iam_role":
        rid = f"role-{n}"
        state = {"id": rid, "arn": f"arn:aws:iam::{ACCOUNT}:role/{rid}", "assume_role_policy": POLICY,
                 "description": "", "max_session_duration": 3600, "path": "/", "tags": None, "tags_all": tags}
        cloud = {"RoleName": rid, "AssumeRolePolicyDocument": json.loads(POLICY), "MaxSessionDuration": 3600,
                 "Path": "/"}
    else:
        rid = f"bucket-{n}"
        state = {"id": rid, "arn": f"arn:aws:s3:::{rid}", "region": REGION, "tags": None, "tags_all": tags}
        cloud = {"Name": rid}
    cloud[TAGS_KNOWN] = True
    region = "global" if rtype == "aws_iam_role" else REGION
    inst = ManagedInstance(address=f"{rtype}.r{n}", module="", terraform_type=rtype, terraform_id=rid,
                           provider="aws", attributes=state, state="bench.tfstate", region=region, match_key=rid)
    obj = CloudObject(terraform_type=rtype, terraform_id=rid, match_key=rid, provider="aws", account=ACCOUNT,
                      region=region, name=f"r{n}", tags=dict(tags), attributes=cloud)
    return inst, obj


def build(count: int, drift: float = 0.05, seed: int = 7) -> tuple[list[ManagedInstance], list[CloudObject]]:
    rng = random.Random(seed)
    instances: list[ManagedInstance] = []
    cloud: list[CloudObject] = []
    per_kind = int(count * drift / 3)
    kinds = ["changed"] * per_kind + ["missing"] * per_kind + ["unmanaged"] * per_kind
    kinds += ["same"] * (count - len(kinds))
    rng.shuffle(kinds)
    for n, kind in enumerate(kinds):
        inst, obj = _pair(n, TYPES[n % len(TYPES)])
        if kind == "changed":
            if inst.terraform_type == "aws_security_group":
                obj.attributes["IpPermissions"].append(
                    {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]})
            else:
                obj.tags["team"] = "edited"
        if kind != "unmanaged":
            instances.append(inst)
        if kind != "missing":
            cloud.append(obj)
    return instances, cloud


def evaluation() -> Evaluation:
    ev = Evaluation()
    for rtype in TYPES:
        ev.add_task("aws", "global" if rtype == "aws_iam_role" else REGION, [rtype], "succeeded")
    return ev


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks drift", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--subset", type=int, default=2_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    instances, cloud = build(args.instances)
    ev = evaluation()
    ignore = IgnoreMatcher(parse_driftignore("aws_s3_bucket.scratch-*\naws_instance.*.tags.LastPatched\n"))
    t_detect, result = best_of(lambda: detect(instances, cloud, ev, ignore=ignore), args.repeat)

    sub_i, sub_c = build(args.subset, seed=11)
    t_naive, naive = best_of(lambda: nested_loop_detect(sub_i, sub_c), 1)
    t_sub, sub_result = best_of(lambda: detect(sub_i, sub_c, ev), args.repeat)
    assert (sub_result.managed, sub_result.missing, sub_result.unmanaged) == naive, "engines disagree"

    from driftmgr_tui.core.db import open_database
    from driftmgr_tui.core.settings import Settings
    from driftmgr_tui.drift.history import ReportMeta, save_report

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), config_path=Path(tmp) / "none.toml",
                            db_url=f"sqlite:///{Path(tmp) / 'bench.db'}")
        engine = open_database(settings)
        meta = ReportMeta(environment="bench", engine="native")
        t_first, _ = best_of(lambda: save_report(engine, result, meta), 1)
        t_again, _ = best_of(lambda: save_report(engine, result, meta), 1)  # every item persisting
        engine.dispose()

    total = len(instances) + len(cloud)
    figures = {
        "python": platform.python_version(),
        "instances": len(instances), "cloud": len(cloud),
        "findings": len(result.findings), "changed": result.changed, "missing": result.missing,
        "unmanaged": result.unmanaged, "managed": result.managed, "coverage": result.coverage,
        "detect_s": round(t_detect, 3), "resources_per_minute": int(total / t_detect * 60),
        "persist_new_s": round(t_first, 3), "persist_persisting_s": round(t_again, 3),
        "subset": args.subset, "naive_subset_s": round(t_naive, 4), "engine_subset_s": round(t_sub, 4),
        "ratio_subset": round(t_naive / t_sub, 1),
        "naive_extrapolated_full_s": round(t_naive * (args.instances / args.subset) ** 2, 1),
    }
    ok = t_detect <= DETECT_TARGET and max(t_first, t_again) <= PERSIST_TARGET
    figures["targets_met"] = ok
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"{len(instances):,} state instances vs {len(cloud):,} cloud resources "
              f"({result.changed} changed, {result.missing} missing, {result.unmanaged} unmanaged)")
        print(f"  detect          {t_detect:.3f} s  ({figures['resources_per_minute']:,} resources/min; "
              f"target <= {DETECT_TARGET} s)")
        print(f"  persist report  {t_first:.3f} s new, {t_again:.3f} s persisting "
              f"({len(result.findings):,} items; target <= {PERSIST_TARGET} s)")
        print(f"  {args.subset:,}-item subset: nested loop {t_naive:.3f} s vs engine {t_sub:.4f} s "
              f"= {figures['ratio_subset']}x (nested loop at full size ~{figures['naive_extrapolated_full_s']} s)")
        print("targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
