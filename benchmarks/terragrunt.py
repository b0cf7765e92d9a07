"""Terragrunt tree resolution: ``python -m benchmarks terragrunt [--accounts N] [--regions N] [--services N]
[--repeat R] [--json]``.

A tree in a temporary directory laid out the way large Terragrunt estates are: ``live/ACCOUNT/REGION/SERVICE``
units (default 4 x 5 x 15 = 300), each including ``root.hcl`` (``remote_state`` with an S3 key built from
``path_relative_to_include()``, the bucket and region from ``account.hcl``/``region.hcl`` read with
``read_terragrunt_config(find_in_parent_folders(...))``, locals referring to locals). Measured in one process,
best of R:

  (a) ``resolve_tree`` (find every unit, evaluate its includes, locals and functions, build its backend)
  (b) the parse floor: ``hcl2.loads`` of every distinct file of the tree once, evaluating nothing

The figure that matters is the ratio a/b in the same run: what evaluating costs over parsing the files that
must be parsed anyway (python-hcl2's parser is most of the time). Target: a/b <= 2. Every resolved key is
checked against the layout; exit status 1 when one is wrong or the ratio misses its target.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.timing import best_of

TARGET_RATIO = 2.0

ROOT_HCL = """\
locals {
  account = read_terragrunt_config(find_in_parent_folders("account.hcl"))
  region  = read_terragrunt_config(find_in_parent_folders("region.hcl"))
  bucket  = "tfstate-${local.account.locals.account_id}-${local.region.locals.aws_region}"
}

remote_state {
  backend = "s3"
  generate = {
    path      = "backend.tf"
    if_exists = "overwrite_terragrunt"
  }
  config = {
    bucket         = local.bucket
    key            = "${path_relative_to_include()}/terraform.tfstate"
    region         = local.region.locals.aws_region
    encrypt        = true
    dynamodb_table = "tf-locks-${local.account.locals.account_id}"
  }
}
"""

UNIT_HCL = """\
include "root" {
  path = find_in_parent_folders("root.hcl")
}

locals {
  service = basename(get_terragrunt_dir())
  name    = "${local.service}-${get_env("BENCH_ENV", "prod")}"
}

terraform {
  source = "git::https://example.com/modules.git//${local.service}?ref=v1.2.3"
}

inputs = {
  name = local.name
}
"""

REGIONS = ("eu-west-1", "eu-central-1", "us-east-1", "us-west-2", "ap-southeast-2", "sa-east-1", "ca-central-1")


def build_tree(root: Path, accounts: int, regions: int, services: int) -> dict[str, str]:
    """Write the tree; returns unit directory -> the state key its remote_state must resolve to."""
    (root / "root.hcl").write_text(ROOT_HCL)
    expected: dict[str, str] = {}
    for a in range(accounts):
        account_id = f"{100000000000 + a}"
        account_dir = root / "live" / f"account-{a}"
        account_dir.mkdir(parents=True)
        (account_dir / "account.hcl").write_text(f'locals {{\n  account_id = "{account_id}"\n}}\n')
        for r in range(regions):
            region = REGIONS[r % len(REGIONS)] if r < len(REGIONS) else f"region-{r}"
            region_dir = account_dir / region
            region_dir.mkdir()
            (region_dir / "region.hcl").write_text(f'locals {{\n  aws_region = "{region}"\n}}\n')
            for s in range(services):
                unit = region_dir / f"service-{s:02d}"
                unit.mkdir()
                (unit / "terragrunt.hcl").write_text(UNIT_HCL)
                rel = unit.relative_to(root).as_posix()
                expected[str(unit)] = f"s3://tfstate-{account_id}-{region}/{rel}/terraform.tfstate"
    return expected


def parse_floor(files: list[Path]) -> int:
    import hcl2

    parsed = 0
    for path in files:
        hcl2.loads(path.read_text())
        parsed += 1
    return parsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks terragrunt", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=4)
    parser.add_argument("--regions", type=int, default=5)
    parser.add_argument("--services", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    from driftmgr_tui.state.terragrunt import resolve_tree

    with tempfile.TemporaryDirectory(prefix="driftmgr-bench-tg-") as tmp:
        root = Path(tmp)
        expected = build_tree(root, args.accounts, args.regions, args.services)
        files = sorted(p for p in root.rglob("*.hcl"))
        resolve_tree(root)  # warm imports (hcl2's grammar, the S3 backend module)
        parse_floor(files[:1])

        resolved_s, results = best_of(lambda: resolve_tree(root), args.repeat)
        floor_s, parsed = best_of(lambda: parse_floor(files), args.repeat)

        wrong: list[str] = []
        for result in results:
            unit = str(result.unit.directory)
            if result.error is not None:
                wrong.append(f"{unit}: {result.error.message}")
            elif result.state is None or not result.state.location.startswith(expected.get(unit, "?")):
                wrong.append(f"{unit}: resolved {result.state.location if result.state else None}, "
                             f"expected {expected.get(unit)}")
        if len(results) != len(expected):
            wrong.append(f"found {len(results)} units, expected {len(expected)}")

    figures: dict[str, Any] = {
        "units": len(expected),
        "files": parsed,
        "resolve_tree_s": round(resolved_s, 4),
        "parse_floor_s": round(floor_s, 4),
        "ratio_resolve_over_parse": round(resolved_s / floor_s, 2) if floor_s else None,
        "per_unit_ms": round(resolved_s / max(len(expected), 1) * 1000, 2),
        "target_ratio": TARGET_RATIO,
        "wrong": wrong[:10],
        "python": platform.python_version(),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"{figures['units']} units, {parsed} files")
        print(f"  (a) resolve_tree        {resolved_s:8.3f} s  ({figures['per_unit_ms']} ms per unit)")
        print(f"  (b) hcl2 parse floor    {floor_s:8.3f} s")
        print(f"  a/b = {figures['ratio_resolve_over_parse']}  (target <= {TARGET_RATIO})")
        for line in wrong[:10]:
            print(f"  WRONG {line}", file=sys.stderr)
    return 1 if wrong or (floor_s and resolved_s / floor_s > TARGET_RATIO) else 0
