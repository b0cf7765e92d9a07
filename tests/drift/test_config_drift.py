"""Config drift: resources declared but never applied, and state instances the code no longer declares.

Each test writes (or reads) a real configuration, builds the state through the real state codec, and checks
what a user would see in the report: which addresses, which kind, and the sentence explaining it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from driftmgr_tui.core.errors import ConfigError
from driftmgr_tui.drift.config_drift import ConfigDriftItem, DeclaredConfig, config_drift, load_config
from driftmgr_tui.state.address import NO_KEY, parse_address
from driftmgr_tui.state.codec import read_state

DATA = Path(__file__).parent / "data" / "config"
AWS = 'provider["registry.terraform.io/hashicorp/aws"]'
StateRow = tuple[str, str, str, str, str]


@pytest.fixture(autouse=True)
def _no_tf_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    """A TF_DATA_DIR inherited from the developer's shell must not change where manifests are looked up."""
    monkeypatch.delenv("TF_DATA_DIR", raising=False)


def write(root: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (dedented; a leading newline dropped so line 1 is the first line shown) under root."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def rows(state_bytes: bytes, path: str = "terraform.tfstate") -> list[StateRow]:
    """(address, module, mode, type, name) of every instance, as read by the state codec."""
    state = read_state(state_bytes, path=path)
    return [(ref.address, ref.module, ref.mode, ref.type, ref.name) for ref in state.instances()]


def state(*addresses: str) -> list[StateRow]:
    """A v4 state holding one instance per address (``module.a[0].aws_x.y["k"]``), read through the codec."""
    groups: dict[tuple[str, str, str, str], list[object]] = {}
    for text in addresses:
        addr = parse_address(text)
        assert addr.mode is not None, text
        groups.setdefault((addr.module_str, addr.mode, addr.type or "", addr.name or ""), []).append(
            None if addr.key is NO_KEY else addr.key
        )
    resources = []
    for (module, mode, type_, name), keys in groups.items():
        instances = [
            {**({"index_key": key} if key is not None else {}), "schema_version": 0, "attributes": {"id": "x"}}
            for key in keys
        ]
        resource = {"mode": mode, "type": type_, "name": name, "provider": AWS, "instances": instances}
        resources.append({"module": module, **resource} if module else resource)
    doc = {"version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "test", "outputs": {},
           "resources": resources}
    return rows(json.dumps(doc).encode())


def report(items: list[ConfigDriftItem]) -> list[tuple[str, str]]:
    return [(item.kind, item.address) for item in items]


def by_address(items: list[ConfigDriftItem]) -> dict[str, ConfigDriftItem]:
    return {item.address: item for item in items}


# --------------------------------------------------------------------------- root module


def test_root_resources_unapplied_and_orphaned(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": """
        resource "aws_vpc" "main" {
          cidr_block = "10.0.0.0/16"
        }

        resource "aws_subnet" "a" {
          vpc_id = aws_vpc.main.id
        }
        """})
    config = load_config(tmp_path)
    items = config_drift(config, state("aws_vpc.main", "aws_eip.old"))

    assert report(items) == [("orphaned", "aws_eip.old"), ("unapplied", "aws_subnet.a")]
    orphan, unapplied = items
    assert orphan.reason == "in state but no longer declared in the configuration"
    assert (orphan.file, orphan.line, orphan.module, orphan.type, orphan.name) == (None, None, "", "aws_eip", "old")
    assert unapplied.reason == "declared in main.tf:5 but not in state (not applied yet)"
    assert (unapplied.file, unapplied.line) == ("main.tf", 5)
    declared = config.resources["aws_subnet.a"]
    assert (declared.module, declared.mode, declared.expanded) == ("", "managed", False)
    assert config.files == 1


def test_every_tf_file_of_the_directory_is_read_but_not_subdirectories_or_editor_files(tmp_path: Path) -> None:
    write(tmp_path, {
        "network.tf": 'resource "aws_vpc" "main" {\n}\n',
        "compute.tf": 'resource "aws_instance" "web" {\n}\n',
        "nested/other.tf": 'resource "aws_instance" "not_this_module" {\n}\n',
        ".#compute.tf": "this is an editor lock file {{{",
        "compute.tf~": "a backup file, not configuration {{{",
        "#compute.tf#": "an autosave file {{{",
        "notes.txt": "not configuration",
    })
    config = load_config(tmp_path)
    assert sorted(config.resources) == ["aws_instance.web", "aws_vpc.main"]
    assert config.files == 2


def test_windows_line_endings_and_a_byte_order_mark_are_accepted(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_bytes(
        b'\xef\xbb\xbf# saved by a Windows editor\r\n\r\nresource "aws_vpc" "main" {\r\n  cidr_block = "10.0.0.0/16"\r\n}\r\n'
    )
    (tmp_path / "extra.tf.json").write_bytes(b'\xef\xbb\xbf{"resource": {"aws_eip": {"ip": {}}}}')
    config = load_config(tmp_path)
    assert config.resources["aws_vpc.main"].line == 3
    assert "aws_eip.ip" in config.resources


def test_text_inside_heredocs_strings_and_comments_is_never_a_declaration(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": """
        # resource "aws_instance" "commented" {}
        /* resource "aws_instance" "block_commented" {
        } */
        resource "aws_instance" "web" {
          user_data = <<-EOT
            resource "aws_instance" "in_heredoc" {
            }
          EOT
          tags = {
            Note = "resource \\"x\\" \\"y\\" { ${lookup({ "}" = "{" }, "}", "")} }"
          }
        }

        resource "aws_instance" "after" {
        }
        """})
    config = load_config(tmp_path)
    assert sorted(config.resources) == ["aws_instance.after", "aws_instance.web"]
    assert config.resources["aws_instance.web"].line == 4
    assert config.resources["aws_instance.after"].line == 14


# --------------------------------------------------------------------------- count / for_each


def test_count_index_beyond_a_literal_count_is_orphaned_and_implied_moves_are_not(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": """
        resource "aws_instance" "web" {
          count = 2
        }

        resource "aws_instance" "single" {
        }

        resource "aws_instance" "now_counted" {
          count = 3
        }

        resource "aws_instance" "dynamic" {
          count = var.replicas
        }
        """})
    items = config_drift(load_config(tmp_path), state(
        "aws_instance.web[0]", "aws_instance.web[1]", "aws_instance.web[2]",
        "aws_instance.single[0]",  # count removed: Terraform moves [0] to the no-key instance
        "aws_instance.single[1]",
        "aws_instance.now_counted",  # count added: the no-key instance becomes [0]
        "aws_instance.dynamic[7]",
        'aws_instance.dynamic["seven"]',
    ))
    assert report(items) == [
        ("orphaned", 'aws_instance.dynamic["seven"]'),
        ("orphaned", "aws_instance.single[1]"),
        ("orphaned", "aws_instance.web[2]"),
    ]
    reasons = by_address(items)
    assert reasons["aws_instance.web[2]"].reason == (
        "in state but aws_instance.web has count = 2, so instance [2] no longer exists (main.tf:1)"
    )
    assert "has no count or for_each" in reasons["aws_instance.single[1]"].reason
    assert "uses count" in reasons['aws_instance.dynamic["seven"]'].reason
    assert reasons["aws_instance.web[2]"].file == "main.tf"


def test_for_each_keys_outside_a_literal_for_each_are_orphaned(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": """
        resource "aws_iam_user" "team" {
          for_each = toset(["alice", "bob"])
          name     = each.key
        }

        resource "aws_s3_bucket" "bucket" {
          for_each = {
            logs   = "eu-west-1"
            "data" = "eu-west-2"
          }
        }

        resource "aws_iam_group" "groups" {
          for_each = var.groups
        }
        """})
    config = load_config(tmp_path)
    assert config.resources["aws_iam_user.team"].expansion.keys == {"alice", "bob"}
    assert config.resources["aws_s3_bucket.bucket"].expansion.keys == {"logs", "data"}
    assert config.resources["aws_iam_group.groups"].expansion.keys is None
    items = config_drift(config, state(
        'aws_iam_user.team["alice"]', 'aws_iam_user.team["carol"]',
        'aws_s3_bucket.bucket["logs"]', 'aws_s3_bucket.bucket["tmp"]',
        'aws_iam_group.groups["anything"]', "aws_iam_group.groups[0]",
    ))
    assert report(items) == [
        ("orphaned", "aws_iam_group.groups[0]"),
        ("orphaned", 'aws_iam_user.team["carol"]'),
        ("orphaned", 'aws_s3_bucket.bucket["tmp"]'),
    ]
    assert by_address(items)['aws_iam_user.team["carol"]'].reason == (
        'in state but aws_iam_user.team has no for_each key "carol" any more (main.tf:1)'
    )
    assert "uses for_each, so instance [0] no longer exists" in by_address(items)["aws_iam_group.groups[0]"].reason


def test_expanded_resources_without_instances(tmp_path: Path) -> None:
    """A literal empty count/for_each means nothing to apply; a non-literal one is reported (we cannot tell)."""
    write(tmp_path, {"main.tf": """
        resource "aws_instance" "zero" {
          count = 0
        }

        resource "aws_instance" "empty_map" {
          for_each = {}
        }

        resource "aws_instance" "empty_list" {
          for_each = []
        }

        resource "aws_instance" "empty_set" {
          for_each = toset([])
        }

        resource "aws_instance" "maybe" {
          count = var.enabled ? 1 : 0
        }

        module "off" {
          source = "./off"
          count  = 0
        }
        """, "off/main.tf": 'resource "aws_instance" "inside" {\n}\n'})
    items = config_drift(load_config(tmp_path), state("module.off[0].aws_instance.inside"))
    assert report(items) == [
        ("unapplied", "aws_instance.maybe"),
        ("orphaned", "module.off[0].aws_instance.inside"),
    ]
    assert items[0].reason == (
        "declared in main.tf:17 with count/for_each but no instances in state (not applied yet)"
    )
    assert items[1].reason == (
        "in state but module.off has count = 0, so instance [0] no longer exists (main.tf:21)"
    )


# --------------------------------------------------------------------------- modules


def test_nested_local_modules_two_levels_deep_with_count_on_the_module(tmp_path: Path) -> None:
    write(tmp_path, {
        "main.tf": """
            module "app" {
              source = "./modules/app"
              count  = 2
            }
            """,
        "modules/app/main.tf": """
            resource "aws_instance" "web" {
            }

            module "db" {
              source = "./db"
            }
            """,
        "modules/app/db/main.tf": """
            resource "aws_db_instance" "main" {
            }

            resource "aws_db_parameter_group" "main" {
            }
            """,
    })
    config = load_config(tmp_path)
    db = config.resources["module.app.module.db.aws_db_instance.main"]
    assert (db.module, db.file, db.line, db.expanded) == ("module.app.module.db", "modules/app/db/main.tf", 1, True)
    assert config.modules["module.app.module.db"].dir == "modules/app/db"
    assert config.files == 3

    items = config_drift(config, state(
        "module.app[0].aws_instance.web", "module.app[1].aws_instance.web",
        "module.app[0].module.db.aws_db_instance.main",
        "module.app[1].module.db.aws_db_instance.old",
        "module.app[2].module.db.aws_db_instance.main",
    ))
    assert report(items) == [
        ("unapplied", "module.app.module.db.aws_db_parameter_group.main"),
        ("orphaned", "module.app[1].module.db.aws_db_instance.old"),
        ("orphaned", "module.app[2].module.db.aws_db_instance.main"),
    ]
    found = by_address(items)
    assert found["module.app.module.db.aws_db_parameter_group.main"].reason == (
        "declared in modules/app/db/main.tf:4 in a module called with count/for_each, "
        "but no instances in state (not applied yet)"
    )
    assert found["module.app[1].module.db.aws_db_instance.old"].module == "module.app.module.db"
    assert "module.app has count = 2, so instance [2] no longer exists" in (
        found["module.app[2].module.db.aws_db_instance.main"].reason
    )


def test_resources_of_a_module_call_that_was_deleted_are_orphaned(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": 'resource "aws_vpc" "main" {\n}\n'})
    items = config_drift(load_config(tmp_path), state("aws_vpc.main", "module.old.module.inner.aws_instance.x"))
    assert report(items) == [("orphaned", "module.old.module.inner.aws_instance.x")]
    assert items[0].reason == "in state but module.old is no longer called in the configuration"
    assert items[0].module == "module.old.module.inner"


def test_remote_module_resolved_through_the_terraform_init_manifest(tmp_path: Path) -> None:
    write(tmp_path, {
        "main.tf": """
            module "vpc" {
              source  = "terraform-aws-modules/vpc/aws"
              version = "5.8.1"
            }
            """,
        ".terraform/modules/modules.json": json.dumps({"Modules": [
            {"Key": "", "Source": "", "Dir": "."},
            {"Key": "vpc", "Source": "registry.terraform.io/terraform-aws-modules/vpc/aws", "Version": "5.8.1",
             "Dir": ".terraform/modules/vpc"},
            {"Key": "vpc.label", "Source": "registry.terraform.io/cloudposse/label/null", "Version": "0.25.0",
             "Dir": ".terraform/modules/vpc.label"},
        ]}),
        ".terraform/modules/vpc/main.tf": """
            resource "aws_vpc" "this" {
            }

            module "flow_logs" {
              source = "./modules/flow-logs"
            }

            module "label" {
              source  = "cloudposse/label/null"
              version = "0.25.0"
            }
            """,
        ".terraform/modules/vpc/modules/flow-logs/main.tf": 'resource "aws_flow_log" "this" {\n}\n',
        ".terraform/modules/vpc.label/main.tf": 'resource "terraform_data" "label" {\n}\n',
    })
    config = load_config(tmp_path)
    assert config.unresolved_modules == {}
    assert config.modules["module.vpc"].dir == ".terraform/modules/vpc"
    assert config.modules["module.vpc.module.label"].dir == ".terraform/modules/vpc.label"
    assert config.resources["module.vpc.aws_vpc.this"].file == ".terraform/modules/vpc/main.tf"

    items = config_drift(config, state(
        "module.vpc.aws_vpc.this", "module.vpc.aws_vpc.legacy", "module.vpc.module.label.terraform_data.label",
    ))
    assert report(items) == [
        ("orphaned", "module.vpc.aws_vpc.legacy"),
        ("unapplied", "module.vpc.module.flow_logs.aws_flow_log.this"),
    ]


def test_unresolved_modules_never_report_orphans_under_them(tmp_path: Path) -> None:
    write(tmp_path, {
        "main.tf": """
            module "vpc" {
              source = "terraform-aws-modules/vpc/aws"
            }

            module "missing_dir" {
              source = "./modules/not-there"
            }

            module "empty_dir" {
              source = "./modules/empty"
            }
            """,
        "modules/empty/README.md": "no configuration here",
    })
    config = load_config(tmp_path)
    assert sorted(config.unresolved_modules) == ["module.empty_dir", "module.missing_dir", "module.vpc"]
    assert "run terraform init" in config.unresolved_modules["module.vpc"]
    assert "'./modules/not-there' not found" in config.unresolved_modules["module.missing_dir"]
    assert "no Terraform configuration files in modules/empty" in config.unresolved_modules["module.empty_dir"]

    items = config_drift(config, state(
        "module.vpc.aws_vpc.this", "module.vpc.module.nested.aws_subnet.a",
        "module.missing_dir.aws_instance.x", "module.empty_dir[0].aws_instance.y",
        "module.deleted.aws_instance.z",
    ))
    assert report(items) == [("orphaned", "module.deleted.aws_instance.z")]


def test_a_manifest_without_the_module_leaves_it_unresolved(tmp_path: Path) -> None:
    write(tmp_path, {
        "main.tf": 'module "dns" {\n  source = "git::https://git.example.com/dns.git"\n}\n',
        ".terraform/modules/modules.json": '{"Modules": [{"Key": "", "Source": "", "Dir": "."}]}',
    })
    config = load_config(tmp_path)
    assert config.unresolved_modules["module.dns"] == (
        "module source 'git::https://git.example.com/dns.git' is not installed: no 'dns' in the module "
        "manifest (run terraform init)"
    )


def test_estate_with_tf_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    """A realistic working directory: overrides, JSON, nested modules with count and for_each, a registry
    module installed under TF_DATA_DIR, a git module never installed, moved, removed and import blocks."""
    monkeypatch.setenv("TF_DATA_DIR", "tfdata")
    config = load_config(DATA / "estate")
    items = config_drift(config, rows((DATA / "estate.tfstate").read_bytes()))
    assert [(item.kind, item.address, item.reason) for item in items] == [
        ("orphaned", "aws_eip.old", "in state but no longer declared in the configuration"),
        ("orphaned", "aws_instance.bastion",
         "in state but aws_instance.bastion has count = 0, so the instance without a key no longer exists "
         "(main.tf:18)"),
        ("unapplied", "aws_instance.imported",
         'declared in main.tf:27 but not in state (import pending, id "i-0abc")'),
        ("orphaned", 'module.app[1].aws_instance.web["red"]',
         'in state but module.app.aws_instance.web has no for_each key "red" any more (modules/app/main.tf:5)'),
        ("orphaned", 'module.app[2].aws_instance.web["blue"]',
         "in state but module.app has count = 2, so instance [2] no longer exists (main.tf:37)"),
        ("unapplied", "module.app.module.db.aws_db_parameter_group.main",
         "declared in modules/db/main.tf:6 in a module called with count/for_each, but no instances in state "
         "(not applied yet)"),
        ("orphaned", "module.dns.aws_route53_record.old", "in state but no longer declared in the configuration"),
    ]
    assert list(config.unresolved_modules) == ["module.cdn"]
    assert config.moved == [("aws_security_group.web", "module.app[0].aws_security_group.web")]
    assert config.removed == ["aws_instance.legacy"]
    assert config.imports == {"aws_instance.imported": "i-0abc"}
    assert config.resources["aws_s3_bucket.logs"].file == "storage.tf.json"
    assert config.modules["module.dns"].dir == "tfdata/modules/dns"
    assert config.files == 7


# --------------------------------------------------------------------------- moved / removed / import


def test_moved_blocks_rename_resources(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": """
        resource "aws_instance" "app" {
        }

        moved {
          from = aws_instance.web
          to   = aws_instance.app
        }

        resource "aws_instance" "final" {
          count = 2
        }

        moved {
          from = aws_instance.first
          to   = aws_instance.second
        }

        moved {
          from = aws_instance.second
          to   = aws_instance.final
        }

        moved {
          from = aws_instance.db
          to   = aws_instance.database
        }
        """})
    config = load_config(tmp_path)
    assert config.moved[0] == ("aws_instance.web", "aws_instance.app")
    items = config_drift(config, state(
        "aws_instance.web", "aws_instance.first[0]", "aws_instance.first[1]", "aws_instance.db",
    ))
    # web -> app and first -> second -> final are followed: nothing to create, nothing to destroy.
    assert report(items) == [("orphaned", "aws_instance.db")]
    assert items[0].reason == (
        "in state but no longer declared in the configuration (a moved block sends it to aws_instance.database, "
        "which does not take it either)"
    )


def test_moved_blocks_into_and_between_modules(tmp_path: Path) -> None:
    write(tmp_path, {
        "main.tf": """
            module "storage" {
              source = "./storage"
            }

            module "web" {
              source = "./web"
              count  = 2
            }

            moved {
              from = aws_s3_bucket.logs
              to   = module.storage.aws_s3_bucket.logs
            }

            moved {
              from = module.files
              to   = module.storage
            }

            moved {
              from = module.single_web
              to   = module.web[0]
            }
            """,
        "storage/main.tf": """
            resource "aws_s3_bucket" "logs" {
            }

            resource "aws_s3_bucket" "assets" {
            }

            moved {
              from = aws_s3_bucket.static
              to   = aws_s3_bucket.assets
            }
            """,
        "web/main.tf": 'resource "aws_instance" "this" {\n}\n',
    })
    config = load_config(tmp_path)
    assert config.moved == [
        ("aws_s3_bucket.logs", "module.storage.aws_s3_bucket.logs"),
        ("module.files", "module.storage"),
        ("module.single_web", "module.web[0]"),
        ("module.storage.aws_s3_bucket.static", "module.storage.aws_s3_bucket.assets"),
    ]
    items = config_drift(config, state(
        "aws_s3_bucket.logs",  # root -> module
        "module.files.aws_s3_bucket.static",  # module renamed, then renamed inside the module
        "module.single_web.aws_instance.this",  # count added to the module call
        "module.web[1].aws_instance.this",
    ))
    assert items == []


def test_removed_blocks_silence_what_they_name(tmp_path: Path) -> None:
    """A removed block is the user saying "this goes away": it is not drift to report."""
    write(tmp_path, {"main.tf": """
        resource "aws_instance" "kept" {
        }

        removed {
          from = aws_instance.retired

          lifecycle {
            destroy = false
          }
        }

        removed {
          from = module.legacy
        }
        """})
    config = load_config(tmp_path)
    assert config.removed == ["aws_instance.retired", "module.legacy"]
    items = config_drift(config, state(
        "aws_instance.kept", "aws_instance.retired[3]", "module.legacy[0].aws_instance.a",
        "module.legacy[0].module.inner.aws_instance.b", "aws_instance.forgotten",
    ))
    assert report(items) == [("orphaned", "aws_instance.forgotten")]


def test_import_blocks_are_still_unapplied_until_applied(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": """
        resource "aws_instance" "imported" {
        }

        import {
          to = aws_instance.imported
          id = "i-0123456789"
        }

        resource "aws_s3_bucket" "each" {
          for_each = toset(["a", "b"])
        }

        import {
          for_each = toset(["a", "b"])
          to       = aws_s3_bucket.each[each.key]
          id       = "bucket-${each.key}"
        }
        """})
    config = load_config(tmp_path)
    assert config.imports == {"aws_instance.imported": "i-0123456789", "aws_s3_bucket.each": ""}
    items = config_drift(config, state())
    assert [(item.address, item.reason) for item in items] == [
        ("aws_instance.imported", 'declared in main.tf:1 but not in state (import pending, id "i-0123456789")'),
        ("aws_s3_bucket.each", "declared in main.tf:9 but not in state (import pending)"),
    ]
    assert config_drift(config, state("aws_instance.imported", 'aws_s3_bucket.each["a"]')) == []


# --------------------------------------------------------------------------- file kinds


def test_override_files_change_blocks_but_declare_nothing(tmp_path: Path) -> None:
    write(tmp_path, {
        "main.tf": """
            resource "aws_instance" "web" {
              count = 2
              ami   = "ami-1"
            }

            module "net" {
              source = "./net"
            }
            """,
        "web_override.tf": """
            resource "aws_instance" "web" {
              count = 0
            }
            """,
        "override.tf.json": '{"module": {"net": {"source": "./net-v2"}}}',
        "net/main.tf": 'resource "aws_vpc" "old" {\n}\n',
        "net-v2/main.tf": 'resource "aws_vpc" "new" {\n}\n',
    })
    config = load_config(tmp_path)
    web = config.resources["aws_instance.web"]
    assert (web.file, web.line, web.expansion.count) == ("main.tf", 1, 0)
    assert "module.net.aws_vpc.old" not in config.resources
    items = config_drift(config, state("aws_instance.web[0]"))
    assert report(items) == [("orphaned", "aws_instance.web[0]"), ("unapplied", "module.net.aws_vpc.new")]
    assert items[0].reason == (
        "in state but aws_instance.web has count = 0, so instance [0] no longer exists (main.tf:1)"
    )


def test_override_file_cannot_declare_new_resources_or_moves(tmp_path: Path) -> None:
    write(tmp_path, {
        "main.tf": 'resource "aws_instance" "web" {\n}\n',
        "extra_override.tf": 'resource "aws_instance" "extra" {\n  count = 1\n}\n',
    })
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path)
    assert str(err.value).startswith("extra_override.tf:1: no resource aws_instance.extra to override")

    (tmp_path / "extra_override.tf").write_text('moved {\n  from = aws_instance.a\n  to = aws_instance.web\n}\n')
    with pytest.raises(ConfigError, match=r"^extra_override.tf:1: moved blocks cannot appear in override files"):
        load_config(tmp_path)


def test_tf_json_files(tmp_path: Path) -> None:
    write(tmp_path, {
        "main.tf.json": """
            {
              "resource": {
                "aws_instance": {
                  "web": {
                    "count": 2,
                    "ami": "ami-1"
                  },
                  "db": [{"ami": "ami-2"}]
                }
              },
              "module": {
                "net": {"source": "./net", "for_each": "${toset([\\"a\\", \\"b\\"])}"}
              },
              "moved": [{"from": "aws_instance.old", "to": "aws_instance.web"}],
              "import": {"to": "aws_instance.db", "id": "i-9"},
              "//": "comments are allowed"
            }
            """,
        "net/main.tf.json": '{"resource": {"aws_vpc": {"main": {}}}}',
    })
    config = load_config(tmp_path)
    web = config.resources["aws_instance.web"]
    assert (web.file, web.line, web.expansion.count) == ("main.tf.json", 4, 2)
    assert config.resources["aws_instance.db"].line == 8
    assert config.modules["module.net"].expansion.keys == {"a", "b"}
    assert config.moved == [("aws_instance.old", "aws_instance.web")]
    assert config.imports == {"aws_instance.db": "i-9"}
    items = config_drift(config, state(
        "aws_instance.old", "aws_instance.web[2]", 'module.net["a"].aws_vpc.main', 'module.net["c"].aws_vpc.main',
    ))
    assert report(items) == [
        ("unapplied", "aws_instance.db"),
        ("orphaned", "aws_instance.web[2]"),
        ("orphaned", 'module.net["c"].aws_vpc.main'),
    ]


def test_data_sources_are_never_config_drift(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": """
        data "aws_ami" "ubuntu" {
          most_recent = true
        }

        resource "aws_instance" "web" {
          ami = data.aws_ami.ubuntu.id
        }
        """})
    config = load_config(tmp_path)
    assert config.resources["data.aws_ami.ubuntu"].mode == "data"
    items = config_drift(config, state("aws_instance.web", "data.aws_ami.retired", "module.gone.data.aws_vpc.x"))
    assert items == []


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('resource "aws_instance" "web" {\n  ami = "x"\n', "main.tf:1:31: this '{' is never closed (missing '}')"),
        ('resource "aws_instance" "web" {\n  ami = "abc\n}\n', "main.tf:2:9: unterminated string"),
        ('resource "aws_instance" "web" {\n  ami = "a" type = "b"\n}\n',
         "main.tf:2:18: unexpected '=' (each argument needs a line of its own)"),
        ('resource "aws_instance" "web" {\n  ami =\n}\n', "main.tf:2:7: expected a value after '=' for 'ami'"),
        ('resource "aws_instance" "web" {\n}\n}\n', "main.tf:3:1: expected an argument or a block, found '}'"),
        ('resource "aws_instance" "web" {\n  tags = { a = [1, 2) }\n}\n',
         "main.tf:2:21: ')' does not close the '[' at line 2"),
        ('locals {\n  x = <<EOT\nabc\n}\n', "main.tf:2:7: heredoc <<EOT is never closed"),
        ('resource "aws_instance" "web" {\n  ami = "ami-1";\n}\n', "main.tf:2:16: unexpected character ';'"),
        ('resource "aws_instance" {\n}\n', "main.tf:1: a resource block takes two labels (type and name), found 1"),
        ('module "net" {\n  source = var.source\n}\n', "main.tf:2: the source of module 'net' must be a literal"),
        ('moved {\n  from = "aws_instance.a"\n  to = aws_instance.b\n}\n',
         "main.tf:2: moved 'from' must be a static address"),
        ('ami = "x"\n', "main.tf:1:1: unexpected argument 'ami' outside any block"),
    ],
)
def test_syntax_errors_name_file_line_and_column(tmp_path: Path, source: str, message: str) -> None:
    (tmp_path / "main.tf").write_text(source)
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path)
    assert str(err.value).startswith(message)
    assert err.value.exit_code == 2


def test_errors_in_modules_and_json_name_their_file(tmp_path: Path) -> None:
    write(tmp_path, {
        "main.tf": 'module "app" {\n  source = "./modules/app"\n}\n',
        "modules/app/main.tf": 'resource "aws_instance" "web" {\n  ami = "x"\n  }}\n',
    })
    with pytest.raises(ConfigError, match=r"^modules/app/main.tf:3:4: expected a newline"):
        load_config(tmp_path)
    (tmp_path / "modules/app/main.tf").unlink()
    (tmp_path / "modules/app/main.tf.json").write_text('{\n  "resource": {\n    "aws_instance": {,\n')
    with pytest.raises(ConfigError, match=r"^modules/app/main.tf.json:3:22: invalid JSON: Expecting property name"):
        load_config(tmp_path)


def test_duplicate_resources_across_files_are_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.tf").write_text('resource "aws_instance" "web" {\n}\n')
    (tmp_path / "b.tf").write_text('# the same resource again\n\nresource "aws_instance" "web" {\n}\n')
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path)
    assert str(err.value) == "b.tf:3: duplicate resource aws_instance.web: already declared at a.tf:1"


def test_working_directory_problems(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope")
    (tmp_path / "file.tf").write_text("")
    with pytest.raises(ConfigError, match="is not a directory"):
        load_config(tmp_path / "file.tf")
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "sub" / "main.tf").write_text('resource "a_b" "c" {\n}\n')
    with pytest.raises(ConfigError) as err:
        load_config(empty)
    assert str(err.value) == f"no Terraform configuration files in {empty}"


def test_a_module_calling_its_own_directory_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    write(tmp_path, {"main.tf": 'module "again" {\n  source = "./sub/.."\n}\n'})
    with pytest.raises(ConfigError, match=r"^main.tf:1: module module.again calls its own directory"):
        load_config(tmp_path)


def test_strict_mode_adds_python_hcl2_expression_checks(tmp_path: Path) -> None:
    """The scanner checks structure; strict=True also runs python-hcl2, which sees inside values."""
    write(tmp_path, {"main.tf": """
        resource "aws_instance" "web" {
          count = 1 +
        }
        """})
    assert "aws_instance.web" in load_config(tmp_path).resources
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path, strict=True)
    assert str(err.value) == "main.tf:3:1: syntax error: unexpected '}' (python-hcl2)"


# --------------------------------------------------------------------------- performance


def test_a_few_hundred_files_load_well_under_a_second(tmp_path: Path) -> None:
    body = """
        # resource {i}/{j}
        resource "aws_security_group" "sg_{i}_{j}" {{
          name   = "sg-${{var.env}}-{i}-{j}"
          vpc_id = module.net.vpc_id
          count  = var.enabled ? 1 : 0

          ingress {{
            from_port   = 443
            to_port     = 443
            protocol    = "tcp"
            cidr_blocks = ["10.0.0.0/8", "172.16.0.0/12"]
          }}

          tags = merge(local.tags, {{
            Name = "sg-{i}-{j}"
            Team = lookup(var.teams, "{j}", "platform")
          }})
        }}
        """
    for i in range(300):
        (tmp_path / f"sg_{i:03}.tf").write_text("".join(textwrap.dedent(body).format(i=i, j=j) for j in range(3)))
    config = load_config(tmp_path)
    assert len(config.resources) == 900
    assert config.resources["aws_security_group.sg_299_2"].line == 41  # blocks of 19 lines, the third


# --------------------------------------------------------------------------- Terraform's own test data


def test_terraform_reference_fixtures(tf_fixtures: Path) -> None:
    """Terraform's show-json and state-push test directories: config + state pairs with known answers."""
    testdata = tf_fixtures / "command" / "testdata"

    def drift_of(directory: Path, state_file: str) -> list[tuple[str, str]]:
        config = load_config(directory)
        return report(config_drift(config, rows((directory / state_file).read_bytes(), state_file)))

    # should_refresh was renamed should_refresh_with_move by a moved block: no drift.
    moved = load_config(testdata / "show-json" / "moved-drift")
    assert moved.moved == [("test_instance.should_refresh", "test_instance.should_refresh_with_move")]
    assert drift_of(testdata / "show-json" / "moved-drift", "terraform.tfstate") == []
    assert drift_of(testdata / "show-json" / "drift", "terraform.tfstate") == []
    refresh = tf_fixtures / "testing" / "equivalence-tests" / "tests" / "drift_refresh_only"
    assert drift_of(refresh, "terraform.tfstate") == []
    # Only a backend block: every managed instance in the state is orphaned.
    assert drift_of(testdata / "state-push-serial-older", "local-state.tfstate") == [
        ("orphaned", "null_resource.a"),
    ]
    assert drift_of(testdata / "state-push-replace-match", "replace.tfstate") == [("orphaned", "null_resource.b")]


# --------------------------------------------------------------------------- against terraform itself


def _terraform_bin() -> str:
    binary = shutil.which("terraform")
    if binary is None:
        pytest.skip("terraform is not on PATH: the comparison with Terraform's own plan needs it")
    return binary


def _keyless(address: str) -> str:
    addr = parse_address(address)
    path = ".".join(f"module.{step.name}" for step in addr.module)
    resource = f"{addr.type}.{addr.name}"
    return f"{path}.{resource}" if path else resource


@pytest.mark.terraform
def test_agrees_with_terraform_plan(tmp_path: Path) -> None:
    """Apply a terraform_data-only config (no provider download), edit it, and compare our report with what
    `terraform plan` would create and delete."""
    binary = _terraform_bin()
    cli_config = tmp_path / "cli.tfrc"
    cli_config.write_text("")
    env = {k: v for k, v in os.environ.items() if k != "TF_DATA_DIR"}
    env.update(TF_CLI_CONFIG_FILE=str(cli_config), TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")
    work = tmp_path / "work"

    def tf(*args: str) -> str:
        proc = subprocess.run([binary, *args], cwd=work, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"terraform {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout

    write(work, {
        "main.tf": """
            resource "terraform_data" "keep" {
            }

            resource "terraform_data" "gone" {
            }

            resource "terraform_data" "many" {
              count = 3
            }

            resource "terraform_data" "each" {
              for_each = toset(["a", "b"])
            }

            resource "terraform_data" "old_name" {
            }

            module "child" {
              source = "./child"
              count  = 2
            }

            module "solo" {
              source = "./box"
            }

            resource "terraform_data" "adopted" {
            }
            """,
        "child/main.tf": """
            resource "terraform_data" "inner" {
            }

            resource "terraform_data" "dropped" {
            }
            """,
        "box/main.tf": """
            resource "terraform_data" "thing" {
            }
            """,
    })
    tf("init", "-input=false")
    tf("apply", "-auto-approve", "-input=false")

    write(work, {
        "main.tf": """
            resource "terraform_data" "keep" {
            }

            resource "terraform_data" "added" {
              input = "new"
            }

            resource "terraform_data" "many" {
              count = 2
            }

            resource "terraform_data" "each" {
              for_each = toset(["a"])
            }

            resource "terraform_data" "new_name" {
            }

            moved {
              from = terraform_data.old_name
              to   = terraform_data.new_name
            }

            module "child" {
              source = "./child"
              count  = 1
            }

            module "renamed" {
              source = "./box"
            }

            moved {
              from = module.solo
              to   = module.renamed
            }

            moved {
              from = terraform_data.adopted
              to   = module.renamed.terraform_data.adopted
            }
            """,
        "child/main.tf": """
            resource "terraform_data" "inner" {
            }

            resource "terraform_data" "fresh" {
            }
            """,
        "box/main.tf": """
            resource "terraform_data" "thing" {
            }

            resource "terraform_data" "adopted" {
            }
            """,
    })
    tf("init", "-input=false")  # the renamed module call must be installed before planning
    tf("plan", "-input=false", "-out=tfplan")
    plan = json.loads(tf("show", "-json", "tfplan"))
    creates = {rc["address"] for rc in plan["resource_changes"] if rc["change"]["actions"] == ["create"]}
    deletes = {rc["address"] for rc in plan["resource_changes"] if rc["change"]["actions"] == ["delete"]}
    moves = {rc["previous_address"] for rc in plan["resource_changes"] if rc.get("previous_address")}
    assert moves == {"terraform_data.old_name", "module.solo.terraform_data.thing", "terraform_data.adopted"}

    items = config_drift(load_config(work), rows((work / "terraform.tfstate").read_bytes()))
    orphaned = {item.address for item in items if item.kind == "orphaned"}
    unapplied = {item.address for item in items if item.kind == "unapplied"}
    assert orphaned == deletes
    assert unapplied == {_keyless(address) for address in creates}
    assert orphaned == {
        "terraform_data.gone", "terraform_data.many[2]", 'terraform_data.each["b"]',
        "module.child[0].terraform_data.dropped", "module.child[1].terraform_data.dropped",
        "module.child[1].terraform_data.inner",
    }
    assert unapplied == {"terraform_data.added", "module.child.terraform_data.fresh"}


def test_declared_config_can_be_built_by_hand() -> None:
    """Callers that know their declarations some other way can still ask for drift (modules left empty)."""
    from driftmgr_tui.drift.config_drift import DeclaredResource

    config = DeclaredConfig(
        root=Path("."),
        resources={"module.net.aws_vpc.main": DeclaredResource(
            address="module.net.aws_vpc.main", module="module.net", mode="managed", type="aws_vpc", name="main",
            file="net/main.tf", line=1, expanded=True,
        )},
        unresolved_modules={"module.ext": "not installed"},
        moved=[], removed=[], imports={}, files=1,
    )
    items = config_drift(config, state("module.net[0].aws_vpc.main", "module.net[1].aws_vpc.gone",
                                       "module.ext.aws_instance.x"))
    assert report(items) == [("orphaned", "module.net[1].aws_vpc.gone")]
