"""`driftmgr demo`'s sandbox: a local AWS in this process, the demo estate in it, planted drift of every kind
and a saved drift report; and everything undone afterwards (the environment exactly, the server, the files),
also when starting fails half-way."""

from __future__ import annotations

import json
import os
import socket
import tempfile
from pathlib import Path
from typing import Any

import hcl2
import pytest
from click.testing import CliRunner

from driftmgr_tui.commands.demo import demo_cmd
from driftmgr_tui.core.errors import DriftmgrError
from driftmgr_tui.demo.sandbox import PROFILE, Sandbox
from driftmgr_tui.discovery.model import Scope
from driftmgr_tui.services.discovery_service import DiscoveryService
from driftmgr_tui.services.drift_service import DriftService
from tests._fixtures.terraform import (  # noqa: F401
    aws_provider_mirror,
    terraform_bin,
    tf,
    tf_cli_config,
)

FOREIGN = {
    # what a user's shell may carry: none of it may reach the sandbox, all of it must come back
    "AWS_PROFILE": "production-admin",
    "AWS_SESSION_TOKEN": "a-real-session-token",
    "AWS_ENDPOINT_URL_S3": "https://s3.eu-west-1.amazonaws.com",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
    "DRIFTMGR_DB_URL": "postgresql://someone@db.invalid/driftmgr",
    "TF_WORKSPACE": "prod",
}


@pytest.fixture
def users_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FOREIGN.items():
        monkeypatch.setenv(name, value)


def _kinds(report: dict[str, Any]) -> dict[str, set[tuple[str, str]]]:
    out: dict[str, set[tuple[str, str]]] = {"changed": set(), "missing": set(), "unmanaged": set()}
    for item in report["items"]:
        out[item["kind"]].add((item["terraform_type"], item["terraform_id"]))
    return out


def _answers(endpoint: str) -> bool:
    host, port = endpoint.removeprefix("http://").rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except OSError:
        return False
    return True


def test_the_sandbox_reports_exactly_the_planted_drift(users_shell: None, tmp_path: Path) -> None:
    before = dict(os.environ)
    with Sandbox(base_dir=tmp_path) as sb:
        root, endpoint = sb.root, sb.endpoint
        assert root is not None and root.parent == tmp_path
        # while it runs, every AWS call goes to the local AWS and nothing of the user's shell is read
        assert endpoint.startswith("http://127.0.0.1:") and _answers(endpoint)
        assert os.environ["AWS_ENDPOINT_URL"] == endpoint
        assert not set(FOREIGN) & set(os.environ)
        for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):  # the sandbox's own, one profile
            path = Path(os.environ[name])
            assert path.is_relative_to(root)
            assert [line for line in path.read_text().splitlines() if line.startswith("[")] in (
                [f"[profile {PROFILE}]"], [f"[{PROFILE}]"])
        assert Path(os.environ["DRIFTMGR_DATA_DIR"]) == sb.data_dir
        assert Path(os.environ["DRIFTMGR_CONFIG"]) == sb.config_path

        report, expected = sb.report, sb.expected
        kinds = _kinds(report)
        assert kinds["changed"] == set(expected["changed"])
        assert kinds["missing"] == expected["missing"]
        assert kinds["unmanaged"] == expected["unmanaged"]
        for item in report["items"]:
            key = (item["terraform_type"], item["terraform_id"])
            if item["kind"] == "changed":
                assert {d["path"]: (d["expected"], d["actual"]) for d in item["diffs"]} == expected["changed"][key]
                assert item["severity"] == expected["severity"][key], key
            if item["kind"] == "unmanaged":
                assert item["address"] is None
            else:
                assert item["address"]
        config = {(c["kind"], c["address"]) for c in report["config_drift"]}
        assert config == ({("unapplied", a) for a in expected["unapplied"]}
                          | {("orphaned", a) for a in expected["orphaned"]})

        s = report["summary"]
        assert (s["total_changed"], s["total_missing"], s["total_unmanaged"]) == (6, 4, 5)
        assert (s["total_unapplied"], s["total_orphaned"]) == (1, 1)
        assert s["total_managed"] == 36 and s["coverage"] == 80.0
        # only what discovery cannot list is left unevaluated; never reported missing
        assert [(u["terraform_type"], u["count"]) for u in s["unevaluated"]] == [
            ("aws_iam_role_policy_attachment", 1)]
        assert report["status"] == "complete" and report["warnings"] == []
        assert report["environment"] == "demo"

        by_id = {i["terraform_id"]: i for i in report["items"]}
        assert by_id[sb.estate.ids["sg.web"]]["severity"] == "critical"  # SSH opened to the world
        assert by_id[sb.estate.ids["subnet.data[b]"]]["address"] == 'module.network.aws_subnet.data["b"]'
        assert by_id["temp-admin"]["severity"] == "high"

        # the report is saved where the TUI and `driftmgr drift show latest --env demo` read it
        saved = DriftService().report("latest", environment="demo")
        assert saved["id"] == report["id"] and len(saved["items"]) == 15

        # the working dir: a v4 state with the module instances, and code python-hcl2 parses
        state = json.loads(sb.state_path.read_text())
        assert state["version"] == 4 and state["lineage"]
        managed = [r for r in state["resources"] if r["mode"] == "managed"]
        assert sum(len(r["instances"]) for r in managed) == 45
        assert {r.get("module", "") for r in managed} == {"", "module.network", "module.app"}
        assert [r["type"] for r in state["resources"] if r["mode"] == "data"] == ["aws_caller_identity"]
        assert sb.state_path == sb.workdir / "terraform.tfstate"
        files = sorted(p.relative_to(sb.workdir).as_posix() for p in sb.workdir.rglob("*.tf"))
        assert files == ["main.tf", "modules/app/main.tf", "modules/app/variables.tf", "modules/network/main.tf",
                         "modules/network/outputs.tf", "modules/network/variables.tf", "sandbox_override.tf"]
        for rel in files:
            assert hcl2.loads((sb.workdir / rel).read_text())
        assert 'resource "aws_s3_bucket" "reports"' in sb.estate.main_tf

    assert dict(os.environ) == before
    assert not root.exists()
    assert not _answers(endpoint)
    assert not sb.running


def test_the_clean_estate_reports_no_drift_and_keep_keeps_the_directory(tmp_path: Path) -> None:
    before = dict(os.environ)
    sb = Sandbox(keep=True, base_dir=tmp_path, drift=False)
    with sb:
        report, endpoint = sb.report, sb.endpoint
    s = report["summary"]
    assert report["items"] == [] and report["config_drift"] == [] and report["warnings"] == []
    assert s["total_changed"] == s["total_missing"] == s["total_unmanaged"] == 0
    assert s["total_unapplied"] == s["total_orphaned"] == 0
    assert s["total_managed"] == 40 and s["coverage"] == 100.0
    assert sb.expected["changed"] == {} and sb.expected["missing"] == set()

    assert dict(os.environ) == before
    assert not _answers(endpoint)
    assert sb.root is not None and sb.root.parent == tmp_path
    for kept in (sb.workdir / "main.tf", sb.state_path, sb.config_path, sb.data_dir / "driftmgr.db"):
        assert kept.exists(), kept
    # a second stop is harmless
    sb.stop()
    assert sb.root.exists()


def test_a_kept_sandbox_config_never_reaches_a_real_account(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Used after the demo, the kept config's environment names a profile that only the sandbox defined:
    discovery stops with that, instead of listing whatever account the user's credentials reach."""
    sb = Sandbox(keep=True, base_dir=tmp_path, drift=False)
    with sb:
        pass
    monkeypatch.setenv("DRIFTMGR_CONFIG", str(sb.config_path))
    monkeypatch.setenv("DRIFTMGR_DATA_DIR", str(sb.data_dir))
    spec = DriftService().environment("demo")
    assert spec.profile == PROFILE and spec.chdir == sb.workdir
    with pytest.raises(DriftmgrError, match=f"profile '{PROFILE}' is not in your AWS config"):
        DiscoveryService().run(Scope(provider="aws", regions=spec.regions, profile=spec.profile))


@pytest.mark.parametrize(("fail_at", "error"), [
    ("creating the demo estate", RuntimeError),  # moto up, environment switched
    ("discovering", KeyboardInterrupt),  # Ctrl-C with the estate built, the files written, the database open
])
def test_a_failure_while_starting_undoes_everything(users_shell: None, tmp_path: Path, fail_at: str,
                                                    error: type[BaseException]) -> None:
    before = dict(os.environ)
    seen: dict[str, str] = {}

    def step(message: str) -> None:
        if message.startswith(fail_at):
            seen["endpoint"] = os.environ["AWS_ENDPOINT_URL"]
            raise error("stopped here")

    sb = Sandbox(base_dir=tmp_path)
    with pytest.raises(error, match="stopped here"):
        sb.start(step)
    assert seen, f"no step starts with {fail_at!r}"
    assert dict(os.environ) == before
    assert list(tmp_path.iterdir()) == []
    assert not _answers(seen["endpoint"])
    assert not sb.running


def test_demo_command_json_summary_leaves_nothing_behind(users_shell: None, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the sandbox's directory goes
    before = dict(os.environ)
    result = CliRunner().invoke(demo_cmd, ["--no-tui", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["environment"] == "demo" and data["kept"] is False
    assert Path(data["state"]) == Path(data["workdir"]) / "terraform.tfstate"
    report = data["report"]
    assert report["status"] == "complete" and report["id"] == 1
    assert (report["total_changed"], report["total_missing"], report["total_unmanaged"],
            report["total_unapplied"], report["total_orphaned"]) == (6, 4, 5, 1, 1)
    assert report["by_severity"]["critical"] == 2
    assert "planting drift" in result.stderr  # progress goes to stderr
    assert not Path(data["workdir"]).exists()
    assert list(tmp_path.iterdir()) == []
    assert dict(os.environ) == before


def test_demo_command_keep_prints_where_and_what_to_try(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = CliRunner().invoke(demo_cmd, ["--no-tui", "--keep"])
    assert result.exit_code == 0, result.output
    [root] = list(tmp_path.iterdir())
    workdir = root / "infra"
    assert (workdir / "terraform.tfstate").exists() and (root / "data" / "driftmgr.db").exists()
    assert "Drift report 1" in result.stdout and str(workdir) in result.stdout
    assert "driftmgr drift show latest --env demo --diffs" in result.stdout
    assert f"export DRIFTMGR_DATA_DIR={root / 'data'}" in result.stdout
    assert f"kept in {root}" in result.stderr


def test_json_without_no_tui_is_refused_before_anything_starts(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = CliRunner().invoke(demo_cmd, ["--json"])
    assert result.exit_code == 2
    assert "--json goes with --no-tui" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.terraform
@pytest.mark.slow
@pytest.mark.usefixtures("terraform_bin", "tf_cli_config")
def test_terraform_accepts_the_working_dir_and_finds_nothing_to_do(tmp_path: Path) -> None:
    """The code and the state agree as Terraform itself sees them: the state decodes against the AWS
    provider's schema, the configuration validates, and a plan without refresh has no changes."""
    with Sandbox(base_dir=tmp_path, drift=False) as sb:
        env = {"TF_VAR_db_password": "sandbox-only-not-a-real-secret"}
        tf(sb.workdir, "init", "-input=false", env=env)
        tf(sb.workdir, "validate", env=env)
        run = tf(sb.workdir, "plan", "-refresh=false", "-input=false", "-detailed-exitcode", env=env)
        assert run.returncode == 0, run.stdout
        assert "No changes" in run.stdout
