"""The terraform runner against the real terraform binary, with built-in resources only (no provider).

``terraform_data`` resources apply offline, and a ``local-exec`` provisioner that sleeps gives a
Terraform that is busy (holding the state lock) for as long as a test needs.
"""

from __future__ import annotations

import json
import os
import re
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from driftmgr_tui.core.errors import JobCancelledError, ProviderAuthError, StateLockedError, UsageError
from driftmgr_tui.core.terraform import (
    Terraform,
    TerraformError,
    TerraformNotFound,
    find_terraform,
    terraform_version,
)
from driftmgr_tui.drift.tfplan import parse_plan_json
from tests._fixtures.terraform import terraform_bin, terraform_env  # noqa: F401

SLEEPER = """
resource "terraform_data" "slow" {
  provisioner "local-exec" {
    command = "sleep 30"
  }
}
"""


def needs_terraform(test: Callable[..., None]) -> Callable[..., None]:
    """Mark a test as needing the terraform binary (skipped with the reason when it is absent)."""
    return pytest.mark.terraform(pytest.mark.usefixtures("terraform_bin")(test))


def _runner(workdir: Path, **kwargs: object) -> Terraform:
    kwargs.setdefault("timeout", 300.0)
    return Terraform(workdir, env=terraform_env(), **kwargs)  # type: ignore[arg-type]


def _live_members(pgid: int) -> list[int]:
    """Processes of group ``pgid`` that are still running (zombies nobody reaped do not count)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat_line = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat_line[stat_line.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def _wait_for(predicate, timeout: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


# ---------------------------------------------------------------------- with terraform
@needs_terraform
def test_refresh_only_plan_of_a_fresh_apply_has_no_drift(tmp_path: Path) -> None:
    work = tmp_path / "root"
    (work / "child").mkdir(parents=True)
    (work / "main.tf").write_text(
        'resource "terraform_data" "item" {\n  count = 2\n  input = "item-${count.index}"\n}\n'
        'module "child" {\n  source = "./child"\n}\n'
    )
    (work / "child" / "main.tf").write_text('resource "terraform_data" "inner" {\n  input = "inner"\n}\n')
    lines: list[tuple[str, str]] = []
    runner = _runner(work, on_line=lambda stream, line: lines.append((stream, line)))

    assert runner.needs_init()
    assert runner.init() is not None
    assert not runner.needs_init()
    assert runner.init() is None
    applied = runner.run("apply", "-auto-approve", "-input=false")
    assert applied.returncode == 0
    assert "-no-color" in applied.args
    assert "Apply complete! Resources: 3 added" in applied.stdout
    assert ("stdout", "Apply complete! Resources: 3 added, 0 changed, 0 destroyed.") in lines
    assert not any("\x1b[" in line for _, line in lines)

    plans = tmp_path / "plans"
    plans.mkdir()
    drift = parse_plan_json(runner.refresh_only_plan_json(out_dir=plans), source="refresh-only plan")

    assert drift.entries == []
    assert drift.errored is False
    assert drift.terraform_version == terraform_version(runner.binary)
    assert drift.prior_state_resources == 3
    assert sorted((a, t) for a, t, _id, _p in drift.prior_state_instances) == [
        ("module.child.terraform_data.inner", "terraform_data"),
        ("terraform_data.item[0]", "terraform_data"),
        ("terraform_data.item[1]", "terraform_data"),
    ]
    assert all(i and p == "terraform.io/builtin/terraform" for _a, _t, i, p in drift.prior_state_instances)
    assert list(plans.iterdir()) == [], "the saved plan (it embeds the state) must not be left behind"


@needs_terraform
def test_a_timeout_kills_terraform_and_everything_it_started(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(SLEEPER)
    runner = _runner(tmp_path, timeout=2.0, kill_grace=20.0)

    with pytest.raises(TerraformError, match=r"terraform apply .*timed out after 2s") as caught:
        runner.run("apply", "-auto-approve", "-input=false")

    assert caught.value.exit_code == 2
    assert runner.pid is not None
    assert _wait_for(lambda: not _live_members(runner.pid)), f"left running: {_live_members(runner.pid)}"


@needs_terraform
def test_cancelling_interrupts_terraform_which_releases_its_lock(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(SLEEPER)
    cancel = threading.Event()

    def on_line(_stream: str, line: str) -> None:
        if "Provisioning with 'local-exec'" in line:
            cancel.set()

    runner = _runner(tmp_path, cancel=cancel, on_line=on_line)
    with pytest.raises(JobCancelledError, match="terraform apply cancelled"):
        runner.run("apply", "-auto-approve", "-input=false")

    assert cancel.is_set()
    assert not (tmp_path / ".terraform.tfstate.lock.info").exists()
    assert _wait_for(lambda: not _live_members(runner.pid))  # type: ignore[arg-type]
    with pytest.raises(JobCancelledError, match="before it started"):
        runner.run("version")


@needs_terraform
def test_a_held_state_lock_names_its_holder(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(SLEEPER)
    release = threading.Event()
    holder = _runner(tmp_path, cancel=release)
    outcome: list[BaseException] = []

    def hold() -> None:
        try:
            holder.run("apply", "-auto-approve", "-input=false")
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    lock_file = tmp_path / ".terraform.tfstate.lock.info"
    try:
        assert _wait_for(lock_file.exists), "the background apply never took the lock"
        held = json.loads(lock_file.read_text())

        with pytest.raises(StateLockedError) as caught:
            _runner(tmp_path, lock_timeout="0s").refresh_only_plan_json()
    finally:
        release.set()
        thread.join(120)

    error = caught.value
    assert error.lock is not None
    assert error.lock.id == held["ID"]
    assert error.lock.operation == "OperationTypeApply"
    assert error.lock.who == held["Who"]
    assert error.location == str(tmp_path / "terraform.tfstate")
    assert held["ID"] in str(error)
    assert error.hint and "unlock" in error.hint
    assert [type(e) for e in outcome] == [JobCancelledError]


@needs_terraform
@pytest.mark.parametrize(
    "files",
    [
        {"main.tf": 'module "child" {\n  source = "./child"\n}\n', "child/main.tf": ""},
        {"main.tf": 'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws" }\n  }\n}\n'},
    ],
    ids=["module-not-installed", "provider-not-installed"],
)
def test_an_uninitialised_directory_says_to_run_init(tmp_path: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    runner = _runner(tmp_path)
    assert runner.needs_init()

    with pytest.raises(TerraformError) as caught:
        runner.refresh_only_plan_json()

    error = caught.value
    assert error.hint == f"run `terraform init` in {tmp_path}"
    assert str(error).startswith("`terraform plan -no-color -refresh-only")
    assert error.returncode == 1
    assert "╷" not in error.stderr_tail and "│" not in error.stderr_tail and "\x1b" not in error.stderr_tail


@needs_terraform
def test_a_failure_quotes_terraforms_error_summary(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('resource "terraform_data" "x" {\n  bogus = 1\n}\n')

    with pytest.raises(TerraformError) as caught:
        _runner(tmp_path).run("validate")

    error = caught.value
    assert str(error) == "`terraform validate -no-color` failed (exit 1): Unsupported argument"
    assert error.hint is None
    assert 'An argument named "bogus" is not expected here.' in error.stderr_tail


@needs_terraform
def test_the_version_and_a_missing_working_directory(tmp_path: Path) -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", terraform_version(find_terraform() or ""))
    with pytest.raises(UsageError, match="does not exist"):
        _runner(tmp_path / "missing").run("plan")


# ---------------------------------------------------------------------- without terraform
def test_a_wrong_override_is_reported_not_replaced_by_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "no-such-terraform"
    monkeypatch.setenv("DRIFTMGR_TERRAFORM", str(missing))

    assert find_terraform() is None
    with pytest.raises(TerraformNotFound) as caught:
        Terraform(tmp_path)
    assert str(caught.value).startswith(f"DRIFTMGR_TERRAFORM={missing} is not an executable terraform binary")
    assert "https://developer.hashicorp.com/terraform/install" in str(caught.value)
    assert caught.value.exit_code == 2


def test_no_terraform_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRIFTMGR_TERRAFORM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(TerraformNotFound, match=r"^terraform is not on PATH: install Terraform .*DRIFTMGR_TERRAFORM"):
        Terraform(tmp_path)
    with pytest.raises(TerraformNotFound):
        Terraform(tmp_path, binary=str(tmp_path / "gone")).run("version")
    with pytest.raises(TerraformNotFound):
        terraform_version(str(tmp_path / "gone"))


def _fake_terraform(tmp_path: Path, stderr: str, code: int = 1) -> str:
    """An executable that answers like a failing terraform: ``stderr`` on standard error, exit ``code``;
    it also records its arguments and environment so the test can see how it was called."""
    (tmp_path / "stderr.txt").write_text(stderr)
    script = tmp_path / "terraform"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" > "{tmp_path}/args.txt"\n'
        f'env > "{tmp_path}/env.txt"\n'
        f'cat "{tmp_path}/stderr.txt" >&2\n'
        f"exit {code}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


@pytest.mark.parametrize(
    "message",
    [
        "No valid credential sources found",
        "api error InvalidClientTokenId: The security token included in the request is invalid.",
        "api error ExpiredToken: The security token included in the request is expired",
        # what the AWS provider 5.100 printed against moto with authentication switched on
        "reading EC2 VPCs: operation error EC2: DescribeVpcs, https response error StatusCode: 401, RequestID: "
        "o2mv6cUoHQ, api error AuthFailure: AWS was not able to validate the provided access credentials",
    ],
    ids=["no-credentials", "invalid-token", "expired-token", "ec2-auth-failure"],
)
def test_rejected_credentials_become_a_provider_auth_error(tmp_path: Path, message: str) -> None:
    stderr = (
        "\x1b[31m╷\x1b[0m\n"
        f"\x1b[31m│\x1b[0m \x1b[1m\x1b[31mError: \x1b[0mconfiguring Terraform AWS Provider: {message}\n"
        "\x1b[31m│\x1b[0m\n"
        "\x1b[31m│\x1b[0m   with provider[\"registry.terraform.io/hashicorp/aws\"],\n"
        "\x1b[31m╵\x1b[0m\n"
    )
    binary = _fake_terraform(tmp_path, stderr)

    with pytest.raises(ProviderAuthError) as caught:
        Terraform(tmp_path, binary=binary, env={"TF_LOG": ""}).refresh_only_plan_json()

    assert str(caught.value).startswith(
        f"terraform could not authenticate to the cloud provider (configuring Terraform AWS Provider: {message})"
    )
    assert caught.value.exit_code == 2
    env = dict(line.split("=", 1) for line in (tmp_path / "env.txt").read_text().splitlines() if "=" in line)
    assert env["TF_IN_AUTOMATION"] == "1" and env["TF_INPUT"] == "0"
    args = (tmp_path / "args.txt").read_text().split()
    assert args[:5] == ["plan", "-no-color", "-refresh-only", "-input=false", "-lock-timeout=0s"]


def test_var_values_stay_out_of_error_messages(tmp_path: Path) -> None:
    binary = _fake_terraform(tmp_path, "Error: Invalid value for input variable\n")

    with pytest.raises(TerraformError) as caught:
        Terraform(tmp_path, binary=binary).run("plan", "-var", "password=hunter2", "-var=token=abc")

    assert "hunter2" not in str(caught.value) and "abc" not in str(caught.value)
    assert "-var 'password=***' '-var=token=***'" in str(caught.value)


def test_a_failing_listener_does_not_stall_the_run(tmp_path: Path) -> None:
    line = "x" * 99 + "\n"
    binary = _fake_terraform(tmp_path, line * 2000, code=0)  # 200 kB: three times a pipe's buffer

    def explode(_stream: str, _line: str) -> None:
        raise RuntimeError("listener bug")

    run = Terraform(tmp_path, binary=binary, on_line=explode, timeout=120).run("version")

    assert run.returncode == 0
    assert run.stderr == line * 2000
    assert os.path.exists(tmp_path / "args.txt")
