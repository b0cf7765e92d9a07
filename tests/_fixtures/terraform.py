"""Real Terraform for end-to-end tests: the binary, the offline AWS provider mirror, a CLI config of our own.

Nothing here downloads anything: the AWS provider comes from a filesystem mirror (``/opt/tf-plugins`` on
the CI machines, or ``$DRIFTMGR_TF_PLUGIN_MIRROR``), and tests that need what is missing skip with the
reason. Terraform always gets a CLI config written here (``TF_CLI_CONFIG_FILE``): the inherited one on
these machines names a file that does not exist, which makes Terraform warn on every command.

Fixtures: ``terraform_bin`` and ``aws_provider_mirror`` (session; skip when absent), ``tf_cli_config``
(session; the config with the mirror and a shared plugin cache). Helpers: ``tf_aws_workdir`` writes a
root module whose AWS provider talks to moto, ``tf_runner``/``tf`` run Terraform there with the test
environment.
"""

from __future__ import annotations

import atexit
import functools
import os
import platform
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from driftmgr_tui.core.terraform import Terraform, TerraformRun, find_terraform, terraform_version

MIRROR_ENV = "DRIFTMGR_TF_PLUGIN_MIRROR"
AWS_PROVIDER = "registry.terraform.io/hashicorp/aws"
_MIRROR_CANDIDATES = (
    "/opt/tf-plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
)
# Services the provider is pointed at moto for; anything else would try the real AWS.
MOTO_ENDPOINTS = (
    "ec2", "s3", "iam", "sts", "sqs", "sns", "dynamodb", "kms", "cloudwatchlogs", "route53", "lambda",
    "rds", "elb", "elbv2", "autoscaling", "cloudwatch", "secretsmanager", "ssm", "ecr", "events",
)


def _platform() -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return f"{platform.system().lower()}_{arch}"


def _has_aws_provider(mirror: Path) -> bool:
    """An unpacked mirror layout with an AWS provider binary for this platform."""
    provider = mirror / AWS_PROVIDER
    if not provider.is_dir():
        return False
    return any(provider.glob(f"*/{_platform()}/terraform-provider-aws*"))


def find_aws_provider_mirror() -> Path | None:
    """The first candidate directory holding an unpacked ``hashicorp/aws`` provider for this platform."""
    override = os.environ.get(MIRROR_ENV, "").strip()
    candidates = [override] if override else []
    candidates += _MIRROR_CANDIDATES
    for candidate in candidates:
        path = Path(candidate).expanduser()
        if _has_aws_provider(path):
            return path
    return None


@functools.cache
def _config_dir() -> Path:
    directory = Path(tempfile.mkdtemp(prefix="driftmgr-tfcli-"))
    atexit.register(shutil.rmtree, directory, True)
    return directory


@functools.cache
def cli_config(mirror: Path | None) -> Path:
    """A CLI config file (one per mirror and process): install hashicorp/* providers from ``mirror`` only,
    never from the network, through a plugin cache shared by every test of this process. Without a mirror
    the file is empty: still better than the inherited config that does not exist."""
    directory = _config_dir()
    if mirror is None:
        path = directory / "empty.tfrc"
        path.write_text("")
        return path
    cache = directory / "plugin-cache"
    cache.mkdir(exist_ok=True)
    path = directory / "mirror.tfrc"
    path.write_text(
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path    = {_hcl_string(str(mirror))}\n"
        '    include = ["registry.terraform.io/hashicorp/*"]\n'
        "  }\n"
        "  direct {\n"
        '    exclude = ["registry.terraform.io/hashicorp/*"]\n'
        "  }\n"
        "}\n"
        f"plugin_cache_dir = {_hcl_string(str(cache))}\n"
    )
    return path


def terraform_env(mirror: Path | None = None) -> dict[str, str]:
    """What Terraform needs on top of the test environment: our CLI config, automation mode, no update
    check over the network."""
    return {
        "TF_CLI_CONFIG_FILE": str(cli_config(mirror)),
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }


def _hcl_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("${", "$${").replace("%{", "%%{")
    return f'"{escaped}"'


def tf_aws_workdir(tmp_path: Path, moto_url: str, hcl_body: str) -> Path:
    """Write ``main.tf`` in ``tmp_path``: the AWS provider (us-east-1, dummy keys) sending every service in
    :data:`MOTO_ENDPOINTS` to ``moto_url``, followed by ``hcl_body``. Returns ``tmp_path``."""
    url = _hcl_string(moto_url)
    endpoints = "\n".join(f"    {name} = {url}" for name in MOTO_ENDPOINTS)
    (tmp_path / "main.tf").write_text(
        "terraform {\n"
        "  required_providers {\n"
        '    aws = { source = "hashicorp/aws" }\n'
        "  }\n"
        "}\n\n"
        'provider "aws" {\n'
        '  region                      = "us-east-1"\n'
        '  access_key                  = "testing"\n'
        '  secret_key                  = "testing"\n'
        "  skip_credentials_validation = true\n"
        "  skip_requesting_account_id  = true\n"
        "  skip_metadata_api_check     = true\n"
        "  s3_use_path_style           = true\n"
        "  endpoints {\n"
        f"{endpoints}\n"
        "  }\n"
        "}\n\n"
        f"{hcl_body}\n"
    )
    return tmp_path


def tf_runner(workdir: Path, **kwargs: Any) -> Terraform:
    """A :class:`Terraform` for ``workdir`` with the test environment (the mirror's CLI config when a
    mirror exists). ``kwargs`` go to the constructor; ``env`` entries are added to ours."""
    env = terraform_env(find_aws_provider_mirror())
    env.update(kwargs.pop("env", None) or {})
    kwargs.setdefault("timeout", 600.0)
    return Terraform(workdir, env=env, **kwargs)


def tf(workdir: Path, *args: str, ok_codes: tuple[int, ...] = (0,), **kwargs: Any) -> TerraformRun:
    """Run ``terraform ARGS`` in ``workdir`` with the test environment; raises on failure."""
    return tf_runner(workdir, **kwargs).run(*args, ok_codes=ok_codes)


@pytest.fixture(scope="session")
def terraform_bin() -> str:
    """Path of the terraform binary, or skip."""
    binary = find_terraform()
    if binary is None:
        override = os.environ.get("DRIFTMGR_TERRAFORM", "").strip()
        if override:
            pytest.skip(f"terraform not usable: DRIFTMGR_TERRAFORM={override} is not an executable")
        pytest.skip("terraform not on PATH: install it or set DRIFTMGR_TERRAFORM to run the Terraform tests")
    try:
        terraform_version(binary)
    except Exception as exc:  # a broken binary is as good as none for these tests
        pytest.skip(f"terraform at {binary} does not run: {exc}")
    return binary


@pytest.fixture(scope="session")
def aws_provider_mirror() -> Path:
    """An offline filesystem mirror holding hashicorp/aws, or skip (tests never download providers)."""
    mirror = find_aws_provider_mirror()
    if mirror is None:
        places = ", ".join([f"${MIRROR_ENV}", *_MIRROR_CANDIDATES])
        pytest.skip(f"no offline mirror of {AWS_PROVIDER} for {_platform()} (looked in {places})")
    return mirror


@pytest.fixture(scope="session")
def tf_cli_config(terraform_bin: str, aws_provider_mirror: Path) -> Path:
    """The CLI config file installing hashicorp/* providers from the mirror through a shared cache."""
    del terraform_bin
    return cli_config(aws_provider_mirror)
