"""Terragrunt trees: unit discovery, remote_state resolution through includes, locals and functions, the
states of a tree read as one environment (against a real moto server), and every error a tree can hold.

Terragrunt itself is a Go binary that no package registry ships, so these tests do not compare with
`terragrunt render-json`; the expected values are what Terragrunt's own source computes (config/include.go,
config/config_helpers.go, tf/source.go), written out by hand.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import textwrap
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from driftmgr_tui.cli import cli
from driftmgr_tui.core.errors import ConfigError, StateLockedError, UsageError
from driftmgr_tui.core.settings import load_settings
from driftmgr_tui.services.environments import EnvironmentSpec, load_states, resolve_environment
from driftmgr_tui.services.state_service import StateService, StateSource
from driftmgr_tui.state.backends.base import new_lock_info
from driftmgr_tui.state.terragrunt import (
    find_units,
    resolve_tree,
    resolve_unit,
    terraform_backend_config,
    unit_at,
    unit_backend,
)
from driftmgr_tui.state.terragrunt_context import Session
from tests._fixtures.moto import moto_set_auth

ROOT_HCL = """\
locals {
  account = read_terragrunt_config(find_in_parent_folders("account.hcl"))
  region  = read_terragrunt_config(find_in_parent_folders("region.hcl")).locals.aws_region
}

remote_state {
  backend = "s3"
  generate = {
    path      = "backend.tf"
    if_exists = "overwrite_terragrunt"
  }
  config = {
    bucket                 = "tfstate-${local.account.locals.account_id}-${get_env("TG_STATE_SUFFIX", "main")}"
    key                    = "${path_relative_to_include()}/terraform.tfstate"
    region                 = local.region
    encrypt                = true
    dynamodb_table         = "tf-locks"
    s3_bucket_tags         = { owner = "platform" }
    skip_bucket_versioning = true
  }
}
"""

UNIT_HCL = """\
include "root" {
  path = find_in_parent_folders("root.hcl")
}

terraform {
  source = "git::git@github.com:acme/modules.git//vpc?ref=v1.2.0"
}
"""


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def infra(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "infra", {
        "root.hcl": ROOT_HCL,
        "live/prod/account.hcl": 'locals { account_id = "111122223333" }\n',
        "live/prod/eu-west-1/region.hcl": 'locals { aws_region = "eu-west-1" }\n',
        "live/prod/eu-west-1/vpc/terragrunt.hcl": UNIT_HCL,
        "live/prod/eu-west-1/app/terragrunt.hcl": UNIT_HCL,
        "live/dev/account.hcl": 'locals { account_id = "444455556666" }\n',
        "live/dev/us-east-1/region.hcl": 'locals { aws_region = "us-east-1" }\n',
        "live/dev/us-east-1/vpc/terragrunt.hcl": UNIT_HCL,
    })


def s3_config(path: Path) -> Any:
    return unit_backend(path).config


def one_local(tmp_path: Path, expression: str, *, extra: dict[str, str] | None = None,
              body: str = "") -> Any:
    """The value of ``expression`` as local.v of a unit at tmp_path/unit/u."""
    write_tree(tmp_path, {**(extra or {}), "unit/u/terragrunt.hcl": f"locals {{\n  v = {expression}\n}}\n{body}"})
    ev = Session().unit_eval(tmp_path / "unit" / "u" / "terragrunt.hcl")
    from driftmgr_tui.state.terragrunt_funcs import plain

    return plain(ev.locals.get("v"))


def b64sha1(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha1(text.encode()).digest()).decode().rstrip("=")


# -- discovery ------------------------------------------------------------------------------------------------
def test_find_units_walks_the_tree_and_skips_caches_hidden_dirs_and_shared_files(tmp_path: Path) -> None:
    root = infra(tmp_path)
    write_tree(root, {
        "live/prod/eu-west-1/vpc/.terragrunt-cache/abc/def/terragrunt.hcl": UNIT_HCL,
        "live/prod/eu-west-1/vpc/.terraform/modules/x/terragrunt.hcl": UNIT_HCL,
        "modules/node_modules/pkg/terragrunt.hcl": UNIT_HCL,
        ".github/ci/terragrunt.hcl": UNIT_HCL,
        "live/dev/.terragrunt-stack/db/terragrunt.hcl": UNIT_HCL,
        "live/dev/us-east-1/json-unit/terragrunt.hcl.json": json.dumps(
            {"include": {"root": {"path": "${find_in_parent_folders(\"root.hcl\")}"}}}),
        "live/dev/us-east-1/notes/README.md": "no unit here\n",
    })
    units = find_units(root)
    assert [u.name for u in units] == [
        "live/dev/.terragrunt-stack/db",
        "live/dev/us-east-1/json-unit",
        "live/dev/us-east-1/vpc",
        "live/prod/eu-west-1/app",
        "live/prod/eu-west-1/vpc",
    ]
    assert units[1].config_path.name == "terragrunt.hcl.json"
    assert all(u.root == root for u in units)


def test_a_legacy_root_terragrunt_hcl_is_shared_config_when_units_include_it(tmp_path: Path) -> None:
    legacy = write_tree(tmp_path / "legacy", {
        "terragrunt.hcl": 'remote_state {\n  backend = "s3"\n  config = {\n    bucket = "legacy-state"\n'
                          '    key    = "${path_relative_to_include()}/terraform.tfstate"\n'
                          '    region = "us-east-1"\n  }\n}\n',
        "network/vpc/terragrunt.hcl": "include {\n  path = find_in_parent_folders()\n}\n",
        "app/api/terragrunt.hcl": "include {\n  path = find_in_parent_folders()\n}\n",
        "app/web/terragrunt.hcl": "include {\n  path   = find_in_parent_folders()\n  expose = true\n}\n"
                                  'remote_state {\n  backend = "local"\n'
                                  '  config = { path = "/state/${include.locals.prefix}/web.tfstate" }\n}\n',
    })
    write_tree(legacy, {"terragrunt.hcl": 'locals {\n  prefix = "legacy"\n}\n'
                                          + (legacy / "terragrunt.hcl").read_text()})
    assert [u.name for u in find_units(legacy)] == ["app/api", "app/web", "network/vpc"]
    assert unit_backend(legacy / "app" / "web").location == "/state/legacy/web.tfstate"  # include.* of a bare include
    assert unit_backend(legacy / "network" / "vpc").location == "s3://legacy-state/network/vpc/terraform.tfstate"
    cfg = s3_config(legacy / "app" / "api")
    assert (cfg.bucket, cfg.key, cfg.region) == ("legacy-state", "app/api/terraform.tfstate", "us-east-1")

    # a terragrunt.hcl that no unit includes is a unit, as Terragrunt treats every terragrunt.hcl
    alone = write_tree(tmp_path / "alone", {
        "terragrunt.hcl": 'remote_state {\n  backend = "local"\n  config = { path = "/tmp/x.tfstate" }\n}\n',
        "child/terragrunt.hcl": 'remote_state {\n  backend = "local"\n  config = { path = "/tmp/y.tfstate" }\n}\n',
    })
    assert [u.name for u in find_units(alone)] == [".", "child"]
    assert unit_backend(alone).location == "/tmp/x.tfstate"


# -- remote_state through includes ------------------------------------------------------------------------------
def test_root_hcl_remote_state_resolves_each_unit_to_its_own_key(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    root = infra(tmp_path)
    prod_vpc = root / "live/prod/eu-west-1/vpc"
    cfg = s3_config(prod_vpc)
    assert cfg.bucket == "tfstate-111122223333-main"
    assert cfg.key == "live/prod/eu-west-1/vpc/terraform.tfstate"
    assert (cfg.region, cfg.dynamodb_table, cfg.encrypt, cfg.workspace) == ("eu-west-1", "tf-locks", True, "default")
    state = resolve_unit(unit_at(prod_vpc))
    assert state.kind == "s3"
    assert state.location == "s3://tfstate-111122223333-main/live/prod/eu-west-1/vpc/terraform.tfstate"
    assert state.origin == f"remote_state in {root / 'root.hcl'}"
    assert state.warnings == ()

    monkeypatch.setenv("TG_STATE_SUFFIX", "blue")
    locations = {r.unit.name: r.state.location for r in resolve_tree(root) if r.state}
    assert locations == {
        "live/dev/us-east-1/vpc": "s3://tfstate-444455556666-blue/live/dev/us-east-1/vpc/terraform.tfstate",
        "live/prod/eu-west-1/app": "s3://tfstate-111122223333-blue/live/prod/eu-west-1/app/terraform.tfstate",
        "live/prod/eu-west-1/vpc": "s3://tfstate-111122223333-blue/live/prod/eu-west-1/vpc/terraform.tfstate",
    }
    assert s3_config(root / "live/dev/us-east-1/vpc").region == "us-east-1"


def test_terragrunt_only_keys_never_reach_the_backend_config() -> None:
    config = {"bucket": "b", "key": "k", "s3_bucket_tags": {"a": "b"}, "skip_bucket_versioning": True,
              "accesslogging_bucket_name": "logs", "lock_table": "old-locks"}
    assert terraform_backend_config("s3", config) == {"bucket": "b", "key": "k", "dynamodb_table": "old-locks"}
    gcs = {"bucket": "b", "prefix": "p", "project": "proj", "location": "EU", "gcs_bucket_labels": {}}
    assert terraform_backend_config("gcs", gcs) == {"bucket": "b", "prefix": "p"}


def test_named_includes_merge_child_over_last_over_first_and_skip_no_merge(tmp_path: Path) -> None:
    def rs(key: str) -> str:
        return f'remote_state {{\n  backend = "local"\n  config = {{ path = "/state/{key}" }}\n}}\n'

    root = write_tree(tmp_path, {
        "root.hcl": rs("root/${path_relative_to_include()}.tfstate"),
        "live/env.hcl": rs("env/${path_relative_to_include()}.tfstate"),
        "live/a/terragrunt.hcl": 'include "root" {\n  path = find_in_parent_folders("root.hcl")\n}\n'
                                 'include "env" {\n  path = find_in_parent_folders("env.hcl")\n}\n',
        "live/b/terragrunt.hcl": 'include "root" {\n  path = find_in_parent_folders("root.hcl")\n}\n'
                                 'include "env" {\n  path           = find_in_parent_folders("env.hcl")\n'
                                 '  merge_strategy = "no_merge"\n}\n',
        "live/c/terragrunt.hcl": 'include "root" {\n  path = find_in_parent_folders("root.hcl")\n}\n'
                                 'include "env" {\n  path           = find_in_parent_folders("env.hcl")\n'
                                 '  merge_strategy = "deep"\n}\n'
                                 'locals {\n  from_root = path_relative_to_include("root")\n'
                                 '  from_env  = path_relative_from_include("env")\n}\n'
                                 + rs("own/${local.from_root}/from-env=${local.from_env}"),
    })
    assert unit_backend(root / "live/a").location == "/state/env/a.tfstate"  # the last include wins
    assert unit_backend(root / "live/b").location == "/state/root/live/b.tfstate"  # no_merge is skipped
    assert unit_backend(root / "live/c").location == "/state/own/live/c/from-env=.."  # the unit's own wins
    # a unit with several includes must name the one path_relative_to_include() answers for
    write_tree(root, {"live/d/terragrunt.hcl": 'include "root" {\n  path = find_in_parent_folders("root.hcl")\n}\n'
                                               'include "env" {\n  path = find_in_parent_folders("env.hcl")\n}\n'
                                               + rs("${path_relative_to_include()}")})
    with pytest.raises(ConfigError, match=r'live/d/terragrunt.hcl:9: remote_state.config: cannot evaluate '
                                          r'path_relative_to_include\(\): this file has several include blocks '
                                          r"\('root', 'env'\): name one"):
        unit_backend(root / "live/d")


def test_exposed_include_values_parent_dir_and_paths_relative_to_the_include(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {
        "root.hcl": 'locals {\n  bucket = "shared-${basename(get_terragrunt_dir())}"\n'
                    '  unit   = get_original_terragrunt_dir()\n}\n'
                    'inputs = {\n  team = "core"\n  tags = { a = "1" }\n}\n',
        "live/prod/vpc/terragrunt.hcl": """\
            include "root" {
              path   = find_in_parent_folders("root.hcl")
              expose = true
            }
            locals {
              up = path_relative_from_include()
            }
            remote_state {
              backend = "local"
              config = {
                path = "${get_parent_terragrunt_dir()}/${include.root.locals.bucket}/${local.up}/${include.root.inputs.team}.tfstate"
              }
            }
        """,
        "live/prod/db/terragrunt.hcl": """\
            include "root" {
              path = find_in_parent_folders("root.hcl")
            }
            remote_state {
              backend = "local"
              config  = { path = "/x/${include.root.locals.bucket}" }
            }
        """,
    })
    assert unit_backend(root / "live/prod/vpc").location == f"{root}/shared-vpc/../../../core.tfstate"
    with pytest.raises(ConfigError) as info:
        unit_backend(root / "live/prod/db")
    assert str(info.value).startswith(f"{root}/live/prod/db/terragrunt.hcl:6: remote_state.config: cannot evaluate "
                                      "include.root: the include block at ")
    assert "is not exposed (add expose = true to it to read its values)" in str(info.value)


def test_what_the_state_location_does_not_need_is_never_evaluated(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"u/terragrunt.hcl": """\
        locals {
          secret = sops_decrypt_file("secrets.enc.yaml")
          who    = run_cmd("whoami")
          env    = "prod"
        }
        dependency "vpc" {
          config_path = "../vpc"
        }
        terraform {
          source = "${run_cmd("git", "rev-parse", "--show-toplevel")}//modules/app"
        }
        inputs = {
          vpc_id = dependency.vpc.outputs.id
        }
        remote_state {
          backend = "s3"
          config  = { bucket = "b", key = "${local.env}/app.tfstate", region = "us-east-1" }
        }
    """})
    assert unit_backend(root / "u").location == "s3://b/prod/app.tfstate"


def test_a_terragrunt_hcl_json_unit_resolves_like_hcl(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {
        "root.hcl": ROOT_HCL,
        "live/prod/account.hcl": 'locals { account_id = "111122223333" }\n',
        "live/prod/eu-west-1/region.hcl": 'locals { aws_region = "eu-west-1" }\n',
        "live/prod/eu-west-1/api/terragrunt.hcl.json": json.dumps({
            "include": {"root": {"path": "${find_in_parent_folders(\"root.hcl\")}"}},
            "locals": {"name": "api"},
        }),
    })
    assert unit_backend(root / "live/prod/eu-west-1/api").location == \
        "s3://tfstate-111122223333-main/live/prod/eu-west-1/api/terraform.tfstate"


# -- locals and functions ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("expression", "expected"), [
    ('replace("live/prod/vpc", "/", "-")', "live-prod-vpc"),
    ('replace("eu-west-1", "/^(\\\\w+)-(\\\\w+)-(\\\\d)$/", "$2.$1.$${3}")', "west.eu.1"),
    ('"${lower("PROD")}-${upper("x")}"', "prod-X"),
    ('basename("/a/b/c.hcl")', "c.hcl"),
    ('dirname("/a/b/c.hcl")', "/a/b"),
    ('element(split("/", "live/prod/vpc"), 1)', "prod"),
    ('format("%s-%03d-%v", "env", 7, true)', "env-007-true"),
    ('join(",", ["a", "b"], ["c"])', "a,b,c"),
    ('lookup({ a = 1 }, "b", "none")', "none"),
    ('merge({ a = 1, b = 2 }, { b = 3 }, null)', {"a": 1, "b": 3}),
    ('[for s in ["a", "b", "c"] : upper(s) if s != "b"]', ["A", "C"]),
    ('{ for k, v in { x = 1, y = 2 } : "${k}_key" => v * 10 }', {"x_key": 10, "y_key": 20}),
    ('length("prod") > 3 ? "long" : "short"', "long"),
    ("(1 + 2) * 3 - 4 / 2", 7),
    ('"tab\\there \\"quoted\\" $${literal}"', 'tab\there "quoted" ${literal}'),
    ('"${[1, 2]}"', [1, 2]),
    ('try(local.missing, "fallback")', "fallback"),
    ('can(local.missing)', False),
    ('coalesce("", null, "first")', "first"),
    ('jsondecode("{\\"a\\": [1, 2]}").a[1]', 2),
    ('trimsuffix(trimprefix("env:/prod.tfstate", "env:/"), ".tfstate")', "prod"),
    ('substr("terraform", 0, 5)', "terra"),
    ('title("hello world")', "Hello World"),
    ('contains(["a", "b"], "b") && !false', True),
    ("<<-EOT\n    key = ${1 + 1}\n      indented\n    EOT", "key = 2\n  indented\n"),
])
def test_expressions_evaluate_as_terraform_does(tmp_path: Path, expression: str, expected: Any) -> None:
    assert one_local(tmp_path, expression) == expected


def test_terragrunt_functions_answer_for_the_unit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TG_ENV", "staging")
    (tmp_path / ".git").mkdir()
    extra = {"unit/common.yaml": "region: eu-west-1\nenabled: on\ncountry: no\nmode: '0755'\nport: 0755\n",
             "unit/values.hcl": 'locals {\n  dir = get_terragrunt_dir()\n'
                                '  up  = find_in_parent_folders("common.yaml", "not-found")\n}\n'}
    assert one_local(tmp_path, 'get_env("TG_ENV")', extra=extra) == "staging"
    assert one_local(tmp_path, 'get_env("TG_NOT_SET", "dflt")', extra=extra) == "dflt"
    assert one_local(tmp_path, "get_terragrunt_dir()", extra=extra) == f"{tmp_path}/unit/u"
    assert one_local(tmp_path, "get_repo_root()", extra=extra) == str(tmp_path)
    assert one_local(tmp_path, "get_path_from_repo_root()", extra=extra) == "unit/u"
    assert one_local(tmp_path, "get_path_to_repo_root()", extra=extra) == "../.."
    assert one_local(tmp_path, 'find_in_parent_folders("nope.hcl", "fallback")', extra=extra) == "fallback"
    # YAML 1.2 as Terraform reads it: "on" and "no" stay strings, 0755 is decimal
    assert one_local(tmp_path, 'yamldecode(file(find_in_parent_folders("common.yaml")))', extra=extra) == {
        "region": "eu-west-1", "enabled": "on", "country": "no", "mode": "0755", "port": 755}
    # read_terragrunt_config answers in the context of the file it reads
    assert one_local(tmp_path, 'read_terragrunt_config("../values.hcl").locals', extra=extra) == {
        "dir": f"{tmp_path}/unit", "up": "not-found"}  # searched from values.hcl's parent, not the unit's
    assert one_local(tmp_path, 'read_terragrunt_config("../absent.hcl", { locals = {} }).locals',
                     extra=extra) == {}


def test_get_aws_account_id_asks_sts(aws: str, tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"u/terragrunt.hcl": """\
        remote_state {
          backend = "s3"
          config = {
            bucket = "tfstate-${get_aws_account_id()}"
            key    = "u/terraform.tfstate"
            region = "us-east-1"
          }
        }
    """})
    assert unit_backend(root / "u").location == "s3://tfstate-123456789012/u/terraform.tfstate"

    moto_set_auth(aws, 0)  # every request from now on is authenticated: the test keys are refused
    with pytest.raises(ConfigError, match=r"u/terragrunt.hcl:4: remote_state.config: cannot evaluate "
                                          r"get_aws_account_id\(\): AWS STS GetCallerIdentity was refused: "
                                          r"InvalidClientTokenId"):
        unit_backend(root / "u")


def test_get_aws_account_id_without_credentials_names_the_file_and_function(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    root = write_tree(tmp_path, {"u/terragrunt.hcl": 'locals {\n  account = get_aws_account_id()\n}\n'
                                                     'remote_state {\n  backend = "local"\n'
                                                     '  config = { path = "/s/${local.account}" }\n}\n'})
    with pytest.raises(ConfigError, match=r"u/terragrunt.hcl:2: locals.account: cannot evaluate "
                                          r"get_aws_account_id\(\): no AWS credentials found"):
        unit_backend(root / "u")


# -- units without remote_state ---------------------------------------------------------------------------------
def test_a_unit_without_remote_state_uses_terraform_s_own_working_dir(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {
        "plain/terragrunt.hcl": "inputs = { a = 1 }\n",
        "plain/main.tf": 'resource "null_resource" "x" {}\n',
        "with-backend/terragrunt.hcl": "inputs = { a = 1 }\n",
        "with-backend/main.tf": 'terraform {\n  backend "s3" {\n    bucket = "tf-b"\n    key = "wb.tfstate"\n'
                                '    region = "us-east-1"\n  }\n}\n',
    })
    plain = resolve_unit(unit_at(root / "plain"))
    assert (plain.kind, plain.location) == ("local", str(root / "plain" / "terraform.tfstate"))
    assert plain.origin == f"Terraform configuration in {root / 'plain'}"
    assert unit_backend(root / "with-backend").location == "s3://tf-b/wb.tfstate"


def test_a_unit_with_a_source_keeps_its_local_state_in_the_terragrunt_cache(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"app/terragrunt.hcl": 'terraform {\n  source = "../modules//app"\n}\n'})
    unit_dir = root / "app"
    pending = resolve_unit(unit_at(unit_dir))
    assert pending.kind == "" and pending.pending.startswith("no state yet: the unit has no remote_state")
    with pytest.raises(UsageError, match="no state yet"):
        pending.backend()

    cache = unit_dir / ".terragrunt-cache" / b64sha1(str(unit_dir))
    old = cache / "oldsourcehash" / "app"
    new = cache / "newsourcehash" / "app"
    for workdir, serial in ((old, 1), (new, 2)):
        workdir.mkdir(parents=True)
        (workdir / "terraform.tfstate").write_text(json.dumps({"version": 4, "serial": serial, "lineage": "l",
                                                               "resources": []}))
    past = time.time() - 3600
    os.utime(old / "terraform.tfstate", (past, past))
    state = resolve_unit(unit_at(unit_dir))
    assert (state.kind, state.location) == ("local", str(new / "terraform.tfstate"))
    assert state.warnings == (f"several Terragrunt working dirs of this unit hold a state; using the newest, "
                              f"{new} (also: {old})",)
    assert StateService().load(StateSource(terragrunt_unit=unit_dir)).serial == 2

    # the tree moved since Terragrunt ran: the first hash is of the old path, the copy is still used
    (new / "terraform.tfstate").unlink()
    cache.rename(cache.with_name("hash-of-the-old-path"))
    moved = resolve_unit(unit_at(unit_dir))
    assert moved.location == str(unit_dir / ".terragrunt-cache" / "hash-of-the-old-path" / "oldsourcehash" / "app"
                                 / "terraform.tfstate")
    assert moved.warnings[0] == (f"{unit_dir / '.terragrunt-cache'}: Terragrunt ran in this unit at another "
                                 "path; using its copy there")


def test_a_download_dir_elsewhere_is_searched_by_the_unit_s_hash(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_tree(tmp_path, {"app/terragrunt.hcl": 'terraform {\n  source = "git::https://example.com/m.git'
                                                       '//modules/app?ref=v2"\n}\n',
                                 "db/terragrunt.hcl": 'terraform {\n  source = "../modules/db"\n}\n'
                                                      'download_dir = "../shared-cache"\n'})
    monkeypatch.setenv("TG_DOWNLOAD_DIR", str(tmp_path / "dl"))
    workdir = tmp_path / "dl" / b64sha1(str(root / "app")) / "h" / "modules" / "app"
    (workdir / ".terraform").mkdir(parents=True)
    (workdir / ".terraform" / "terraform.tfstate").write_text(json.dumps(
        {"version": 3, "backend": {"type": "s3", "config": {"bucket": "cached", "key": "app.tfstate",
                                                             "region": "us-east-1"}}}))
    assert unit_backend(root / "app").location == "s3://cached/app.tfstate"
    monkeypatch.delenv("TG_DOWNLOAD_DIR")
    db_workdir = tmp_path / "shared-cache" / b64sha1(str(root / "db")) / "h"
    db_workdir.mkdir(parents=True)
    (db_workdir / "terraform.tfstate").write_text("{}")
    assert unit_backend(root / "db").location == str(db_workdir / "terraform.tfstate")


# -- errors -----------------------------------------------------------------------------------------------------
ERROR_CASES = [
    ("missing-include", {"u/terragrunt.hcl": 'include "root" {\n  path = find_in_parent_folders("root.hcl")\n}\n'},
     r"u/terragrunt.hcl:2: include \"root\".path: cannot evaluate find_in_parent_folders\(\"root.hcl\"\): "
     r"no root.hcl in any parent folder of .*/u/terragrunt.hcl"),
    ("include-not-a-file", {"u/terragrunt.hcl": 'include {\n  path = "../gone.hcl"\n}\n'},
     r"u/terragrunt.hcl:1: include: .*/gone.hcl does not exist"),
    ("nested-include", {"root.hcl": 'include {\n  path = "base.hcl"\n}\n', "base.hcl": "inputs = {}\n",
                        "u/terragrunt.hcl": 'include {\n  path = find_in_parent_folders("root.hcl")\n}\n'},
     r"root.hcl:1: this file is included by .*/u/terragrunt.hcl and itself includes another file: "
     r"Terragrunt allows only one level of includes"),
    ("include-cycle", {"env.hcl": 'include {\n  path = "${get_terragrunt_dir()}/terragrunt.hcl"\n}\n',
                       "u/terragrunt.hcl": 'include {\n  path = find_in_parent_folders("env.hcl")\n}\n'},
     r"env.hcl:1: this file is included by .*/u/terragrunt.hcl and includes .*/u/terragrunt.hcl back: "
     r"a cycle of includes"),
    ("self-include", {"u/terragrunt.hcl": 'include {\n  path = "terragrunt.hcl"\n}\n'},
     r"u/terragrunt.hcl:1: include: the file includes itself \(a cycle of includes\)"),
    ("malformed-hcl", {"u/terragrunt.hcl": 'locals {\n  a = "x"\n  b = \n}\n'},
     r"u/terragrunt.hcl: invalid HCL at line 3"),
    ("unsupported-function", {"u/terragrunt.hcl": 'remote_state {\n  backend = "local"\n'
                                                  '  config = { path = run_cmd("whoami") }\n}\n'},
     r"u/terragrunt.hcl:3: remote_state.config: cannot evaluate run_cmd\(\"whoami\"\): run_cmd\(\) is not "
     r"evaluated: driftmgr does not run commands found in configuration files"),
    ("unknown-function", {"u/terragrunt.hcl": 'remote_state {\n  backend = "local"\n'
                                              '  config = { path = timestamp() }\n}\n'},
     r"u/terragrunt.hcl:3: remote_state.config: cannot evaluate timestamp\(\): function timestamp\(\) is not "
     r"supported"),
    ("missing-env", {"u/terragrunt.hcl": 'locals {\n  bucket = get_env("TG_BUCKET_NEVER_SET")\n}\n'
                                         'remote_state {\n  backend = "local"\n  config = { path = local.bucket }\n}\n'},
     r"u/terragrunt.hcl:2: locals.bucket: cannot evaluate get_env\(\"TG_BUCKET_NEVER_SET\"\): environment "
     r"variable TG_BUCKET_NEVER_SET is not set \(and get_env\(\) was given no default\)"),
    ("unknown-local", {"u/terragrunt.hcl": 'locals {\n  a = 1\n}\nremote_state {\n  backend = "local"\n'
                                           '  config = { path = local.b }\n}\n'},
     r"u/terragrunt.hcl:6: remote_state.config: cannot evaluate local.b: local.b is not defined in "
     r".*/u/terragrunt.hcl \(its locals: a\)"),
    ("cycle-of-locals", {"u/terragrunt.hcl": 'locals {\n  a = local.b\n  b = "${local.a}-x"\n}\n'
                                             'remote_state {\n  backend = "local"\n  config = { path = local.a }\n}\n'},
     r"u/terragrunt.hcl:3: locals.b: cannot evaluate local.a: a cycle of locals: terragrunt.hcl local.a -> "
     r"terragrunt.hcl local.b -> terragrunt.hcl local.a"),
    ("dependency-output", {"u/terragrunt.hcl": 'remote_state {\n  backend = "local"\n'
                                               '  config = { path = dependency.vpc.outputs.id }\n}\n'},
     r"cannot evaluate dependency: dependency.\* is not available: it needs Terragrunt itself to run"),
    ("missing-read", {"u/terragrunt.hcl": 'locals {\n  r = read_terragrunt_config("../region.hcl")\n}\n'
                                          'remote_state {\n  backend = "local"\n'
                                          '  config = { path = local.r.locals.x }\n}\n'},
     r"u/terragrunt.hcl:2: locals.r: cannot evaluate read_terragrunt_config\(\"../region.hcl\"\): "
     r".*/region.hcl does not exist"),
    ("bad-merge-strategy", {"root.hcl": "inputs = {}\n",
                            "u/terragrunt.hcl": 'include {\n  path = find_in_parent_folders("root.hcl")\n'
                                                '  merge_strategy = "sideways"\n}\n'},
     r"u/terragrunt.hcl:1: include: merge_strategy 'sideways' is not one of no_merge, shallow, deep"),
    ("include-without-path", {"u/terragrunt.hcl": 'include "root" {\n  expose = true\n}\n'},
     r"u/terragrunt.hcl:1: include \"root\": the block must set path"),
    ("remote-state-without-backend", {"u/terragrunt.hcl": 'remote_state {\n  config = {}\n}\n'},
     r"u/terragrunt.hcl:1: remote_state: the block must set backend"),
    ("config-not-an-object", {"u/terragrunt.hcl": 'remote_state = {\n  backend = "s3"\n  config = "bucket"\n}\n'},
     r"u/terragrunt.hcl:1: remote_state: config must be an object"),
    ("s3-without-bucket", {"root.hcl": 'remote_state {\n  backend = "s3"\n  config = { key = "k" }\n}\n',
                           "u/terragrunt.hcl": 'include {\n  path = find_in_parent_folders("root.hcl")\n}\n'},
     r"root.hcl: s3 backend: missing required attribute 'bucket'"),
    ("unsupported-backend", {"u/terragrunt.hcl": 'remote_state {\n  backend = "consul"\n  config = {}\n}\n'},
     r"u/terragrunt.hcl: backend type 'consul' is not supported yet"),
    ("template-directive", {"u/terragrunt.hcl": 'remote_state {\n  backend = "local"\n'
                                                '  config = { path = "%{if true}x%{endif}" }\n}\n'},
     r"u/terragrunt.hcl:3: remote_state.config: cannot evaluate .*: template directives"),
]


@pytest.mark.parametrize(("files", "message"), [(f, m) for _, f, m in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_every_bad_configuration_is_a_config_error_naming_the_file(tmp_path: Path, files: dict[str, str],
                                                                    message: str) -> None:
    root = write_tree(tmp_path / "t", files)
    with pytest.raises(ConfigError, match=message):
        unit_backend(root / "u")
    result = next(r for r in resolve_tree(root) if r.unit.name == "u")
    assert result.state is None and isinstance(result.error, ConfigError)


def test_an_error_in_an_included_file_names_it_and_the_unit(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {
        "root.hcl": 'remote_state {\n  backend = "s3"\n  config = {\n'
                    '    bucket = get_env("TG_NO_SUCH_BUCKET_VAR")\n    key = "k"\n  }\n}\n',
        "live/u/terragrunt.hcl": 'include "root" {\n  path = find_in_parent_folders("root.hcl")\n}\n',
    })
    with pytest.raises(ConfigError) as info:
        unit_backend(root / "live/u")
    assert info.value.message.startswith(f"{root}/root.hcl:4: remote_state.config: cannot evaluate "
                                         'get_env("TG_NO_SUCH_BUCKET_VAR"): ')
    assert info.value.hint == f"evaluated for the Terragrunt unit in {root}/live/u"


def test_a_directory_that_is_not_a_unit_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a Terragrunt unit"):
        unit_backend(tmp_path)
    with pytest.raises(UsageError, match="no such directory"):
        unit_backend(tmp_path / "absent")
    with pytest.raises(ConfigError, match="not a directory"):
        find_units(tmp_path / "absent")
    with pytest.raises(UsageError, match="give only one of --state, --chdir, --backend and --terragrunt-unit"):
        StateSource(chdir=tmp_path, terragrunt_unit=tmp_path)


# -- environments -----------------------------------------------------------------------------------------------
def test_an_environment_names_a_terragrunt_tree(tmp_path: Path) -> None:
    root = infra(tmp_path)
    settings = load_settings()
    settings.config_path.parent.mkdir(parents=True, exist_ok=True)
    settings.config_path.write_text(f'[environments.live]\nterragrunt = "{root}"\nprovider = "aws"\n')
    spec = resolve_environment(load_settings(), "live")
    assert spec.terragrunt == root and spec.has_states and spec.provider == "aws"
    assert resolve_environment(load_settings(), None, terragrunt=root / "live").terragrunt == root / "live"
    settings.config_path.write_text('[environments.empty]\nprovider = "aws"\n')
    with pytest.raises(ConfigError, match=r"give states .*, chdir .* or terragrunt"):
        load_settings()


SHARED_STATE = """\
remote_state {
  backend = "local"
  config  = { path = find_in_parent_folders("shared.tfstate") }
}
"""


def test_config_env_add_writes_a_terragrunt_environment(tmp_path: Path) -> None:
    root = infra(tmp_path)
    added = CliRunner().invoke(cli, ["config", "env", "add", "live", "--terragrunt", str(root), "--provider", "aws"])
    assert added.exit_code == 0, added.output
    assert load_settings().environments["live"].terragrunt == str(root)
    shown = CliRunner().invoke(cli, ["config", "show", "--json"])
    assert json.loads(shown.stdout)["environments"]["live"]["terragrunt"] == str(root)


def test_a_unit_state_source_survives_a_remediation_plan(tmp_path: Path) -> None:
    from driftmgr_tui.remediation.preview import source_flags, state_source
    from driftmgr_tui.services.remediation_service import _source_json

    unit = infra(tmp_path) / "live/prod/eu-west-1/vpc"
    params = _source_json(StateSource(terragrunt_unit=unit))
    assert state_source(params) == StateSource(terragrunt_unit=unit.resolve())
    assert source_flags(params) == f"--terragrunt-unit {unit.resolve()}"


def test_load_states_stops_at_a_broken_unit_and_warns_of_units_sharing_a_state(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {
        "a/terragrunt.hcl": SHARED_STATE,
        "b/terragrunt.hcl": SHARED_STATE,
        "c/terragrunt.hcl": 'remote_state {\n  backend = "local"\n'
                            '  config = { path = "${get_terragrunt_dir()}/c.tfstate" }\n}\n',
    })
    (root / "shared.tfstate").write_text(json.dumps({"version": 4, "serial": 3, "lineage": "x", "resources": []}))
    loaded = load_states(StateService(), EnvironmentSpec(name="tg", terragrunt=root))
    assert [location for location, _ in loaded.states] == [str(root / "shared.tfstate")]
    assert loaded.warnings == [
        f"Terragrunt units a and b use the same state {root / 'shared.tfstate'} (is path_relative_to_include() "
        "missing from the key?)",
        f"no state at {root / 'c' / 'c.tfstate'} (nothing applied yet?)",
    ]
    write_tree(root, {"d/terragrunt.hcl": 'remote_state {\n  backend = "local"\n  config = { path = local.x }\n}\n'})
    with pytest.raises(UsageError, match=re.escape(f"Terragrunt unit {root}/d: {root}/d/terragrunt.hcl:3: "
                                                   "remote_state.config: cannot evaluate local.x")):
        load_states(StateService(), EnvironmentSpec(name="tg", terragrunt=root))


# -- a real S3 remote_state tree (moto) ---------------------------------------------------------------------------
def state_doc(serial: int, resources: list[dict[str, Any]] | None = None) -> bytes:
    return json.dumps({"version": 4, "terraform_version": "1.11.4", "serial": serial, "lineage": "tg-lineage",
                       "outputs": {}, "resources": resources or []}).encode()


def bucket_tree(tmp_path: Path, *, locking: str) -> Path:
    return write_tree(tmp_path / "live", {
        "root.hcl": f"""\
            remote_state {{
              backend = "s3"
              config = {{
                bucket = "tg-states"
                key    = "${{path_relative_to_include()}}/terraform.tfstate"
                region = "us-east-1"
                {locking}
              }}
            }}
        """,
        "network/terragrunt.hcl": 'include "root" {\n  path = find_in_parent_folders("root.hcl")\n}\n',
        "app/terragrunt.hcl": 'include "root" {\n  path = find_in_parent_folders("root.hcl")\n}\n',
        "new/terragrunt.hcl": 'include "root" {\n  path = find_in_parent_folders("root.hcl")\n}\n',
    })


INSTANCE = {"mode": "managed", "type": "aws_s3_bucket", "name": "logs",
            "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
            "instances": [{"schema_version": 0, "attributes": {"id": "app-logs", "bucket": "app-logs"}}]}


def test_an_s3_tree_is_one_environment_and_each_unit_a_state_source(aws: str, tmp_path: Path) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="tg-states")
    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName="tg-locks", KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    root = bucket_tree(tmp_path, locking='dynamodb_table = "tg-locks"')
    s3.put_object(Bucket="tg-states", Key="network/terraform.tfstate", Body=state_doc(4))
    s3.put_object(Bucket="tg-states", Key="app/terraform.tfstate", Body=state_doc(9, [INSTANCE]))

    loaded = load_states(StateService(), EnvironmentSpec(name="tg", terragrunt=root))
    assert sorted(loc for loc, _ in loaded.states) == ["s3://tg-states/app/terraform.tfstate",
                                                       "s3://tg-states/network/terraform.tfstate"]
    assert loaded.warnings == ["no state at s3://tg-states/new/terraform.tfstate (nothing applied yet?)"]
    assert loaded.sources["s3://tg-states/app/terraform.tfstate"] == StateSource(terragrunt_unit=root / "app")

    runner = CliRunner()
    listed = runner.invoke(cli, ["state", "list", "--terragrunt-unit", str(root / "app"), "--json"])
    assert listed.exit_code == 0, listed.output
    assert [i["address"] for i in json.loads(listed.output)] == ["aws_s3_bucket.logs"]

    units = runner.invoke(cli, ["state", "units", str(root), "--json"])
    assert units.exit_code == 0, units.output
    assert [(u["unit"], u["backend"], u["location"]) for u in json.loads(units.output)] == [
        ("app", "s3", "s3://tg-states/app/terraform.tfstate"),
        ("network", "s3", "s3://tg-states/network/terraform.tfstate"),
        ("new", "s3", "s3://tg-states/new/terraform.tfstate"),
    ]

    # the unit's backend takes the same DynamoDB lock Terraform takes: a second writer is refused
    holder = unit_backend(root / "app")
    held = holder.lock(new_lock_info("OperationTypeApply", holder.location))
    refused = runner.invoke(cli, ["state", "rm", "--terragrunt-unit", str(root / "app"), "aws_s3_bucket.logs"])
    assert refused.exit_code == 1 and "is locked" in refused.output
    with pytest.raises(StateLockedError):
        StateService().rm(StateSource(terragrunt_unit=root / "app"), ["aws_s3_bucket.logs"])
    holder.unlock(held.id)
    done = runner.invoke(cli, ["state", "rm", "--terragrunt-unit", str(root / "app"), "aws_s3_bucket.logs"])
    assert done.exit_code == 0, done.output
    after = json.loads(s3.get_object(Bucket="tg-states", Key="app/terraform.tfstate")["Body"].read())
    assert (after["serial"], after["resources"], after["lineage"]) == (10, [], "tg-lineage")


def test_state_units_lists_errors_and_exits_1(tmp_path: Path) -> None:
    root = infra(tmp_path)
    write_tree(root, {"live/broken/terragrunt.hcl": 'include "root" {\n  path = find_in_parent_folders("nope.hcl")\n}\n'})
    result = CliRunner().invoke(cli, ["state", "units", str(root)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].split() == ["UNIT", "BACKEND", "STATE"]
    assert lines[1].split(maxsplit=2) == ["live/broken", "error", f"{root}/live/broken/terragrunt.hcl:2: include "
                                          '"root".path: cannot evaluate find_in_parent_folders("nope.hcl"): no '
                                          f"nope.hcl in any parent folder of {root}/live/broken/terragrunt.hcl"]
    assert lines[2].split() == ["live/dev/us-east-1/vpc", "s3",
                                "s3://tfstate-444455556666-main/live/dev/us-east-1/vpc/terraform.tfstate"]
    nothing = tmp_path / "nothing"
    nothing.mkdir()
    assert CliRunner().invoke(cli, ["state", "units", str(nothing)]).exit_code == 2


def test_drift_detect_compares_the_whole_tree_with_the_cloud(aws: str, tmp_path: Path) -> None:
    from driftmgr_tui.discovery.model import Scope
    from driftmgr_tui.services.discovery_service import DiscoveryService
    from driftmgr_tui.services.drift_service import DriftService
    from tests._fixtures.drift_estate import build_estate

    estate = build_estate()
    full = estate.state()
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="tg-states")
    root = bucket_tree(tmp_path, locking="use_lockfile = true")
    for unit, resources in (("network", [r for r in full["resources"] if r.get("module") == "module.network"]),
                            ("app", [r for r in full["resources"] if r.get("module") != "module.network"])):
        s3.put_object(Bucket="tg-states", Key=f"{unit}/terraform.tfstate", Body=json.dumps(
            {**full, "resources": resources}).encode())
    service = DriftService()
    types = tuple(sorted({r["type"] for r in full["resources"]}))  # the state's types: a quick discovery
    DiscoveryService(settings=service.settings, engine=service.engine).run(
        Scope(provider="aws", regions=("us-east-1",), types=types))

    result = CliRunner().invoke(cli, ["drift", "detect", "--terragrunt", str(root), "--format", "json"])
    report = json.loads(result.stdout)
    # the one thing Terraform does not manage is the bucket holding the states
    assert [(i["kind"], i["terraform_type"], i["terraform_id"]) for i in report["items"]] == [
        ("unmanaged", "aws_s3_bucket", "tg-states")]
    assert result.exit_code == 1
    assert report["summary"]["total_managed"] == 9
    assert sorted(report["sources"]["states"]) == ["s3://tg-states/app/terraform.tfstate",
                                                   "s3://tg-states/network/terraform.tfstate"]


@pytest.mark.parametrize("command", [["scan"], ["remediate", "plan"], ["watch", "--once"], ["drift", "detect"]])
def test_every_scanning_command_reads_the_tree_given_with_terragrunt(tmp_path: Path, command: list[str]) -> None:
    """--terragrunt is one of the environment options: each command resolves the tree's units (here one whose
    include cannot be found, so the command stops there, naming the unit, before any cloud is asked)."""
    unit = tmp_path / "live" / "app"
    unit.mkdir(parents=True)
    (unit / "terragrunt.hcl").write_text('include "root" {\n  path = find_in_parent_folders("root.hcl")\n}\n')
    result = CliRunner().invoke(cli, [*command, "--terragrunt", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert f"Terragrunt unit {unit}" in result.output
    assert 'find_in_parent_folders("root.hcl")' in result.output


def test_a_terragrunt_tree_keeps_its_driftignore_at_its_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from driftmgr_tui.services.drift_service import DriftService

    (tmp_path / ".driftignore").write_text("aws_s3_bucket.tg-states\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / ".driftignore").write_text("aws_vpc.*\n")
    monkeypatch.chdir(elsewhere)
    matcher = DriftService().ignore_matcher(EnvironmentSpec(terragrunt=tmp_path))
    assert [rule.text for rule in matcher.rules] == ["aws_s3_bucket.tg-states"]
