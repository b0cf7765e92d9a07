"""Backend selection from a Terraform working directory and from an explicit spec."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from driftmgr_tui.core.errors import ConfigError, StateLockedError
from driftmgr_tui.state.backends.base import new_lock_info
from driftmgr_tui.state.backends.config import backend_from_chdir, backend_from_spec
from driftmgr_tui.state.backends.s3 import S3Backend

S3_BLOCK = """
terraform {
  required_version = ">= 1.10"
  backend "s3" {
    bucket         = "tf-state-prod"
    key            = "network/terraform.tfstate"
    region         = "eu-west-1"
    dynamodb_table = "tf-locks"
    use_lockfile   = true
    encrypt        = true
    endpoints = {
      s3 = "http://127.0.0.1:9000"
    }
    assume_role = {
      role_arn = "arn:aws:iam::123456789012:role/terraform"
    }
  }
}

resource "terraform_data" "x" {
  input = "hello"
}
"""

# .terraform/terraform.tfstate as `terraform init` 1.11.4 writes it (captured against moto; trimmed of
# some null attributes): every attribute present, unset ones null.
BACKEND_CACHE = {
    "version": 3,
    "terraform_version": "1.11.4",
    "backend": {
        "type": "s3",
        "config": {
            "access_key": None,
            "acl": None,
            "assume_role": None,
            "bucket": "tf-state-from-init",
            "dynamodb_endpoint": None,
            "dynamodb_table": None,
            "encrypt": None,
            "endpoint": None,
            "endpoints": None,
            "force_path_style": None,
            "key": "cached/terraform.tfstate",
            "kms_key_id": None,
            "max_retries": None,
            "profile": None,
            "region": "us-east-2",
            "secret_key": None,
            "skip_credentials_validation": True,
            "sse_customer_key": None,
            "token": None,
            "use_lockfile": True,
            "use_path_style": True,
            "workspace_key_prefix": None,
        },
        "hash": 1429146227,
    },
}


@pytest.fixture(autouse=True)
def _no_tf_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TF_WORKSPACE", raising=False)
    monkeypatch.delenv("TF_DATA_DIR", raising=False)


def workdir(tmp_path: Path, files: dict[str, str | dict[str, Any]]) -> Path:
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content, indent=2))
    return tmp_path


# -- s3 ------------------------------------------------------------------------------------------


def test_s3_backend_block(tmp_path: Path) -> None:
    be = backend_from_chdir(workdir(tmp_path, {"main.tf": S3_BLOCK, "vars.tf": 'variable "x" {}\n'}))
    assert isinstance(be, S3Backend)
    cfg = be.config
    assert (cfg.bucket, cfg.key, cfg.region) == ("tf-state-prod", "network/terraform.tfstate", "eu-west-1")
    assert cfg.dynamodb_table == "tf-locks" and cfg.use_lockfile and cfg.encrypt
    assert cfg.endpoints == {"s3": "http://127.0.0.1:9000"}
    assert cfg.role_arn == "arn:aws:iam::123456789012:role/terraform"
    assert cfg.workspace == "default"
    assert be.location == "s3://tf-state-prod/network/terraform.tfstate"


def test_s3_backend_block_form_of_nested_attributes(tmp_path: Path) -> None:
    src = S3_BLOCK.replace("assume_role = {", "assume_role {").replace("endpoints = {", "endpoints {")
    be = backend_from_chdir(workdir(tmp_path, {"main.tf": src}))
    assert be.config.role_arn == "arn:aws:iam::123456789012:role/terraform"
    assert be.config.endpoints == {"s3": "http://127.0.0.1:9000"}


def test_backend_cache_wins_over_the_tf_block(tmp_path: Path) -> None:
    d = workdir(tmp_path, {"main.tf": S3_BLOCK, ".terraform/terraform.tfstate": BACKEND_CACHE})
    be = backend_from_chdir(d)
    assert isinstance(be, S3Backend)
    assert be.config.bucket == "tf-state-from-init" and be.config.region == "us-east-2"
    assert be.config.workspace_key_prefix == "env:"  # null in the cache -> Terraform's default
    assert be.config.use_lockfile and be.config.use_path_style and not be.config.encrypt


def test_partial_backend_block_completed_by_cache(tmp_path: Path) -> None:
    # `terraform init -backend-config=...` leaves the .tf block partial; only the cache is complete
    d = workdir(
        tmp_path,
        {"main.tf": 'terraform {\n  backend "s3" {}\n}\n', ".terraform/terraform.tfstate": BACKEND_CACHE},
    )
    assert backend_from_chdir(d).config.bucket == "tf-state-from-init"
    shutil.rmtree(d / ".terraform")
    with pytest.raises(ConfigError, match=r"main\.tf: s3 backend: missing required attribute 'bucket'"):
        backend_from_chdir(d)


def test_environment_file_selects_the_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = workdir(tmp_path, {"main.tf": S3_BLOCK, ".terraform/environment": "staging"})
    be = backend_from_chdir(d)
    assert be.config.workspace == "staging"
    assert be.location == "s3://tf-state-prod/env:/staging/network/terraform.tfstate"
    monkeypatch.setenv("TF_WORKSPACE", "qa")  # the variable overrides the file, as in Terraform
    assert backend_from_chdir(d).config.workspace == "qa"
    assert backend_from_chdir(d, workspace="prod").config.workspace == "prod"  # explicit wins


def test_tf_data_dir_moves_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = workdir(
        tmp_path,
        {"main.tf": S3_BLOCK, "tfdata/terraform.tfstate": BACKEND_CACHE, "tfdata/environment": "dev"},
    )
    monkeypatch.setenv("TF_DATA_DIR", "tfdata")
    be = backend_from_chdir(d)
    assert be.config.bucket == "tf-state-from-init"
    assert be.config.workspace == "dev"


def test_tf_json_backend(tmp_path: Path) -> None:
    doc = {
        "terraform": {"backend": {"s3": {"bucket": "json-bucket", "key": "k.tfstate", "region": "us-east-1"}}}
    }
    be = backend_from_chdir(workdir(tmp_path, {"main.tf.json": doc}))
    assert be.config.bucket == "json-bucket"


def test_override_file_replaces_the_backend(tmp_path: Path) -> None:
    override = (
        'terraform {\n  backend "s3" {\n    bucket = "override-bucket"\n    key = "o.tfstate"\n  }\n}\n'
    )
    be = backend_from_chdir(workdir(tmp_path, {"main.tf": S3_BLOCK, "backend_override.tf": override}))
    assert be.config.bucket == "override-bucket"


def test_duplicate_backend_blocks(tmp_path: Path) -> None:
    d = workdir(tmp_path, {"a.tf": S3_BLOCK, "b.tf": 'terraform {\n  backend "local" {}\n}\n'})
    with pytest.raises(ConfigError, match=r"b\.tf: duplicate backend configuration.*a\.tf"):
        backend_from_chdir(d)


# -- local ---------------------------------------------------------------------------------------


def test_local_backend_without_path(tmp_path: Path) -> None:
    pytest.importorskip("driftmgr_tui.state.backends.local")
    be = backend_from_chdir(workdir(tmp_path, {"main.tf": 'terraform {\n  backend "local" {}\n}\n'}))
    assert type(be).__name__ == "LocalBackend"
    assert Path(be.path) == tmp_path / "terraform.tfstate"


def test_local_backend_with_path(tmp_path: Path) -> None:
    pytest.importorskip("driftmgr_tui.state.backends.local")
    src = 'terraform {\n  backend "local" {\n    path = "states/prod.tfstate"\n  }\n}\n'
    be = backend_from_chdir(workdir(tmp_path, {"main.tf": src}))
    assert type(be).__name__ == "LocalBackend"
    assert Path(be.path) == tmp_path / "states" / "prod.tfstate"


def test_no_backend_block_is_local(tmp_path: Path) -> None:
    pytest.importorskip("driftmgr_tui.state.backends.local")
    be = backend_from_chdir(workdir(tmp_path, {"main.tf": 'resource "terraform_data" "x" {}\n'}))
    assert type(be).__name__ == "LocalBackend"
    assert Path(be.path) == tmp_path / "terraform.tfstate"


def test_local_backend_workspaces(tmp_path: Path) -> None:
    pytest.importorskip("driftmgr_tui.state.backends.local")
    d = workdir(tmp_path, {"main.tf": "", ".terraform/environment": "dev\n"})
    assert Path(backend_from_chdir(d).path) == tmp_path / "terraform.tfstate.d" / "dev" / "terraform.tfstate"
    src = 'terraform {\n  backend "local" {\n    path = "x.tfstate"\n    workspace_dir = "ws"\n  }\n}\n'
    (d / "main.tf").write_text(src)
    assert Path(backend_from_chdir(d).path) == tmp_path / "ws" / "dev" / "terraform.tfstate"
    assert Path(backend_from_chdir(d, workspace="default").path) == tmp_path / "x.tfstate"


# -- errors --------------------------------------------------------------------------------------


def test_unsupported_backend_type(tmp_path: Path) -> None:
    d = workdir(tmp_path, {"main.tf": 'terraform {\n  backend "consul" {\n    path = "b"\n  }\n}\n'})
    with pytest.raises(
        ConfigError, match=r"backend type 'consul' is not supported yet \(supported: local, s3, .*gcs"
    ) as err:
        backend_from_chdir(d)
    assert "main.tf" in str(err.value)


def test_unsupported_backend_type_in_cache(tmp_path: Path) -> None:
    cache = {"version": 3, "backend": {"type": "consul", "config": {"path": "c"}, "hash": 1}}
    d = workdir(tmp_path, {".terraform/terraform.tfstate": cache})
    with pytest.raises(ConfigError, match="backend type 'consul' is not supported yet"):
        backend_from_chdir(d)


def test_malformed_hcl_names_the_file_and_line(tmp_path: Path) -> None:
    d = workdir(tmp_path, {"ok.tf": "", "broken.tf": 'terraform {\n  backend "s3" {\n    bucket = \n  }\n'})
    with pytest.raises(ConfigError, match=r"broken\.tf: invalid HCL at line \d+"):
        backend_from_chdir(d)


def test_malformed_backend_cache(tmp_path: Path) -> None:
    d = workdir(tmp_path, {"main.tf": S3_BLOCK, ".terraform/terraform.tfstate": '{"backend": {"type": "s3",'})
    with pytest.raises(ConfigError, match=r"\.terraform/terraform\.tfstate: malformed JSON at line 1"):
        backend_from_chdir(d)


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a directory"):
        backend_from_chdir(tmp_path / "missing")


# -- explicit specs ------------------------------------------------------------------------------


def test_spec_s3() -> None:
    be = backend_from_spec(
        "s3://my-bucket/path/to/terraform.tfstate?region=eu-central-1&dynamodb_table=locks"
        "&use_lockfile=true&endpoint_url=http://127.0.0.1:5000&workspace=prod"
    )
    assert isinstance(be, S3Backend)
    cfg = be.config
    assert (cfg.bucket, cfg.key, cfg.region) == ("my-bucket", "path/to/terraform.tfstate", "eu-central-1")
    assert cfg.dynamodb_table == "locks" and cfg.use_lockfile
    assert cfg.endpoint_url == "http://127.0.0.1:5000"
    assert be.location == "s3://my-bucket/env:/prod/path/to/terraform.tfstate"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("s3://bucket-only", "expected s3://BUCKET/KEY"),
        ("s3://b/k?regoin=x", "unknown parameter 'regoin'"),
        ("s3://b/k?use_lockfile=perhaps", "'use_lockfile' must be true or false"),
        ("consul://b/k", "scheme 'consul://' is not supported yet"),
        ("", "empty"),
    ],
)
def test_spec_errors(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        backend_from_spec(spec)


def test_spec_plain_path_is_local(tmp_path: Path) -> None:
    pytest.importorskip("driftmgr_tui.state.backends.local")
    be = backend_from_spec(str(tmp_path / "prod:1.tfstate"))
    assert type(be).__name__ == "LocalBackend"
    assert Path(be.path) == tmp_path / "prod:1.tfstate"
    assert Path(backend_from_spec(f"file://{tmp_path}/x.tfstate").path) == tmp_path / "x.tfstate"


# -- interoperability with real Terraform --------------------------------------------------------


@pytest.mark.terraform
def test_terraform_interop(aws: str, tmp_path: Path) -> None:
    """terraform init/apply against moto; we read its state and digest, and our lock stops it."""
    import boto3

    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not on PATH")
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="tf-state-prod")
    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName="tf-locks",
        KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    cli_config = tmp_path / "terraformrc"
    cli_config.write_text('provider_installation {\n  direct {\n    exclude = ["*/*/*"]\n  }\n}\n')
    src = (
        S3_BLOCK.replace("eu-west-1", "us-east-1")
        .replace(
            "    encrypt        = true\n",
            "    use_path_style = true\n    skip_credentials_validation = true\n    skip_requesting_account_id = true\n",
        )
        .replace('      s3 = "http://127.0.0.1:9000"\n', f'      s3 = "{aws}"\n      dynamodb = "{aws}"\n')
        .replace(
            '    assume_role = {\n      role_arn = "arn:aws:iam::123456789012:role/terraform"\n    }\n', ""
        )
    )
    d = workdir(tmp_path / "wd", {"main.tf": src})
    env = dict(os.environ, TF_CLI_CONFIG_FILE=str(cli_config), TF_IN_AUTOMATION="1")

    def tf(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [terraform, *args, "-no-color"], cwd=d, env=env, capture_output=True, text=True, timeout=120
        )
        if check and proc.returncode != 0:
            pytest.fail(f"terraform {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc

    tf("init", "-input=false")
    tf("apply", "-auto-approve", "-input=false")

    be = backend_from_chdir(d)
    assert isinstance(be, S3Backend)
    state = be.read()  # also checks the -md5 digest Terraform stored
    assert state is not None and json.loads(state.data)["serial"] == 1
    assert be.workspaces() == ["default"]

    # our write (with our digest) is accepted by Terraform
    doc = json.loads(state.data)
    doc["serial"] += 1
    held = be.lock(new_lock_info("OperationTypeApply", ""))
    be.write(json.dumps(doc, indent=2).encode(), lock=held, expected_version=state.version)
    # ... and our lock (lock file + DynamoDB item) stops Terraform, which shows our lock info
    blocked = tf("apply", "-auto-approve", "-input=false", "-lock-timeout=0s", check=False)
    assert blocked.returncode != 0
    assert "Error acquiring the state lock" in blocked.stderr
    assert held.id in blocked.stderr and held.who in blocked.stderr
    be.unlock(held.id)
    pulled = json.loads(tf("state", "pull").stdout)
    assert pulled["serial"] == 2 and pulled["lineage"] == doc["lineage"]

    # Terraform's own workspace layout is what we list and address
    tf("workspace", "new", "staging")
    staging = backend_from_chdir(d)  # .terraform/environment now says staging
    assert staging.config.workspace == "staging"
    assert be.workspaces() == ["default", "staging"]
    assert staging.read() is not None
    with pytest.raises(StateLockedError):
        other = be.for_workspace("staging")
        mine = other.lock(new_lock_info("OperationTypeApply", ""))
        try:
            staging.lock(new_lock_info("OperationTypePlan", ""))
        finally:
            other.unlock(mine.id)
