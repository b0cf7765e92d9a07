"""Drift end to end: a moto account, the state that manages it, planted drift of every kind, and history.

The CLI contract scripts rely on (``driftmgr scan --state ... --provider aws --regions ... --format json``) is
exercised through the installed command; the rest goes through DriftService, as the TUI will.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
import sqlalchemy as sa

from driftmgr_tui.core.db import open_database
from driftmgr_tui.core.errors import StateFormatError, UsageError
from driftmgr_tui.core.models import DiscoveryTask, DriftHistory
from driftmgr_tui.core.settings import load_settings
from driftmgr_tui.discovery.model import Scope
from driftmgr_tui.services.discovery_service import DiscoveryService
from driftmgr_tui.services.drift_service import DetectOptions, DriftService
from tests._fixtures.drift_estate import build_estate, plant_drift
from tests.test_cli import driftmgr

REGION = "us-east-1"


def _write_state(path: Path, state: dict[str, Any]) -> Path:
    path.write_text(json.dumps(state), encoding="utf-8")
    return path


def _scan_json(*states: Path, extra: tuple[str, ...] = ()) -> tuple[int, dict[str, Any], str]:
    args = ["scan"]
    for s in states:
        args += ["--state", str(s)]
    proc = driftmgr(*args, "--provider", "aws", "--regions", REGION, "--format", "json", *extra)
    text = proc.stdout.decode()
    return proc.returncode, (json.loads(text) if text.strip() else {}), proc.stderr.decode()


def _kinds(report: dict[str, Any]) -> dict[str, set[tuple[str, str]]]:
    out: dict[str, set[tuple[str, str]]] = {"changed": set(), "missing": set(), "unmanaged": set()}
    for item in report["items"]:
        out[item["kind"]].add((item["terraform_type"], item["terraform_id"]))
    return out


def _discover(service: DriftService) -> int:
    discovery = DiscoveryService(settings=service.settings, engine=service.engine)
    return discovery.run(Scope(provider="aws", regions=(REGION,))).id


def _detect(service: DriftService, state: Path, run_id: int, **kw: Any):
    spec = service.environment(None, states=(str(state),))
    return service.detect(spec, DetectOptions(run_ids=(run_id,), **kw))


def test_scan_contract_clean_estate_then_planted_drift_reported_exactly(aws: str, tmp_path: Path) -> None:
    estate = build_estate()
    state = _write_state(tmp_path / "terraform.tfstate", estate.state())

    code, report, stderr = _scan_json(state)
    assert code == 0, stderr
    summary = report["summary"]
    assert summary["total_changed"] == summary["total_missing"] == summary["total_unmanaged"] == 0
    assert report["items"] == []
    assert summary["total_managed"] == 9 and summary["coverage"] == 100.0
    # resources the scan cannot see are counted apart, never reported missing
    assert {u["terraform_type"] for u in summary["unevaluated"]} == {"aws_iam_role_policy_attachment",
                                                                       "random_id"}

    expected = plant_drift(estate)
    code, report, stderr = _scan_json(state)
    assert code == 1, stderr
    assert set(report["summary"]) >= {"total_managed", "total_unmanaged", "total_missing", "total_changed",
                                      "coverage"}
    kinds = _kinds(report)
    assert kinds["changed"] == set(expected["changed"])
    assert kinds["missing"] == expected["missing"]
    assert kinds["unmanaged"] == expected["unmanaged"]
    s = report["summary"]
    assert (s["total_changed"], s["total_missing"], s["total_unmanaged"], s["total_managed"]) == (3, 2, 3, 7)
    assert s["coverage"] == round(100 * 7 / 12, 2)
    for item in report["items"]:
        assert {"kind", "terraform_type", "terraform_id", "address", "severity"} <= set(item)
        if item["kind"] == "unmanaged":
            assert item["address"] is None
        else:
            assert item["address"]
        if item["kind"] == "changed":
            want = expected["changed"][(item["terraform_type"], item["terraform_id"])]
            got = {d["path"]: (d["expected"], d["actual"]) for d in item["diffs"]}
            assert got == want
    by_id = {i["terraform_id"]: i for i in report["items"]}
    assert by_id[estate.ids["sg_web"]]["severity"] == "critical"  # SSH opened to the internet
    assert by_id[estate.ids["vpc"]]["severity"] == "low"  # a tag
    assert by_id["app-logs-7f3a"]["address"] == "aws_s3_bucket.logs"
    assert by_id[estate.ids["subnet_b"]]["address"] == "module.network.aws_subnet.b"


def test_states_of_an_environment_form_one_managed_set(aws: str, tmp_path: Path) -> None:
    estate = build_estate()
    full = estate.state()
    network = {**full, "resources": [r for r in full["resources"] if r.get("module") == "module.network"]}
    rest = {**full, "resources": [r for r in full["resources"] if r.get("module") != "module.network"]}
    (tmp_path / "envs" / "net").mkdir(parents=True)
    (tmp_path / "envs" / "app").mkdir(parents=True)
    _write_state(tmp_path / "envs" / "net" / "terraform.tfstate", network)
    _write_state(tmp_path / "envs" / "app" / "terraform.tfstate", rest)

    code, report, stderr = _scan_json(tmp_path / "envs" / "*" / "terraform.tfstate")
    assert code == 0, stderr
    assert report["summary"]["total_unmanaged"] == 0 and report["summary"]["total_managed"] == 9
    assert len(report["sources"]["states"]) == 2

    code, report, _ = _scan_json(tmp_path / "envs" / "app" / "terraform.tfstate")
    assert code == 1  # alone, the app state leaves the subnets unmanaged
    assert {i["terraform_type"] for i in report["items"]} == {"aws_subnet"}


def test_history_across_three_scans(aws: str, tmp_path: Path) -> None:
    estate = build_estate()
    state = _write_state(tmp_path / "terraform.tfstate", estate.state())
    service = DriftService()
    ec2 = boto3.client("ec2", region_name=REGION)

    ec2.create_tags(Resources=[estate.ids["vpc"]], Tags=[{"Key": "Name", "Value": "edited"}])
    first = _detect(service, state, _discover(service)).report
    assert [(i["kind"], i["status"]) for i in first["items"]] == [("changed", "new")]
    vpc_fp = first["items"][0]["fingerprint"]

    boto3.client("s3", region_name=REGION).create_bucket(Bucket="shadow-1")
    second = _detect(service, state, _discover(service)).report
    status = {i["terraform_id"]: i["status"] for i in second["items"]}
    assert status == {estate.ids["vpc"]: "persisting", "shadow-1": "new"}
    vpc_item = next(i for i in second["items"] if i["fingerprint"] == vpc_fp)
    assert vpc_item["first_seen"] == first["items"][0]["first_seen"]

    ec2.create_tags(Resources=[estate.ids["vpc"]], Tags=[{"Key": "Name", "Value": "main"}])  # fixed by hand
    third = _detect(service, state, _discover(service)).report
    assert [(i["terraform_id"], i["status"]) for i in third["items"]] == [("shadow-1", "persisting")]
    assert [(r["fingerprint"], r["kind"]) for r in third["resolved"]] == [(vpc_fp, "changed")]

    history = {h["fingerprint"]: h for h in service.history()}
    assert history[vpc_fp]["resolved_at"] == third["created_at"]
    assert history[vpc_fp]["first_seen"] == first["created_at"]
    assert history[vpc_fp]["occurrences"] == 2
    assert [h["terraform_id"] for h in service.history(status="open")] == ["shadow-1"]
    timeline = service.item_timeline(vpc_fp)
    assert [t["report_id"] for t in timeline] == [first["id"], second["id"]]
    summary = service.summary()
    assert summary["open_items"] == 1 and summary["resolved_items"] == 1
    assert [t["id"] for t in summary["trend"]] == [first["id"], second["id"], third["id"]]

    proc = driftmgr("drift", "history", "--json")
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)["history"]) == 2


def test_ignore_rules_file_database_and_gen_ignore(aws: str, tmp_path: Path, monkeypatch) -> None:
    estate = build_estate()
    state = _write_state(tmp_path / "terraform.tfstate", estate.state())
    plant_drift(estate)
    service = DriftService()
    run_id = _discover(service)
    monkeypatch.chdir(tmp_path)

    (tmp_path / ".driftignore").write_text(
        "# known exceptions\n"
        "aws_s3_bucket.shadow-*\n"
        f"aws_vpc.{estate.ids['vpc']}.tags.Name\n", encoding="utf-8")
    service.add_ignore_rule("aws_iam_user.temp-admin", reason="break-glass user")
    outcome = _detect(service, state, run_id)
    ids = {i["terraform_id"] for i in outcome.report["items"]}
    assert "shadow-exports" not in ids and "temp-admin" not in ids
    assert estate.ids["vpc"] not in ids  # its only diff is the ignored field
    assert outcome.report["summary"]["total_ignored"] == 2
    assert estate.ids["sg_web"] in ids

    rules = service.gen_ignore(outcome.report["id"])
    with (tmp_path / ".driftignore").open("a", encoding="utf-8") as f:
        f.write(rules)
    quiet = _detect(service, state, run_id)
    assert quiet.report["items"] == [] and quiet.exit_code == 0


def test_failed_region_is_not_evaluated_never_missing(aws: str, tmp_path: Path) -> None:
    estate = build_estate()
    state = _write_state(tmp_path / "terraform.tfstate", estate.state())
    service = DriftService()
    run_id = _discover(service)
    # the S3 listing of the region failed: its rows are not there, as the scanner leaves a failed task
    engine = open_database(load_settings())
    task_t = DiscoveryTask.__table__
    with engine.begin() as conn:
        conn.execute(sa.update(task_t).where(task_t.c.run_id == run_id, task_t.c.service == "s3")
                     .values(status="failed", error="ThrottlingException: Rate exceeded"))
        conn.execute(sa.text("DELETE FROM cloud_resource WHERE run_id = :r AND terraform_type = 'aws_s3_bucket'"),
                     {"r": run_id})
    outcome = _detect(service, state, run_id)
    assert outcome.report["items"] == []
    assert outcome.report["status"] == "partial"
    assert outcome.exit_code == 2  # nothing found, but not everything was seen
    unevaluated = {u["terraform_type"]: u for u in outcome.report["summary"]["unevaluated"]}
    assert "Rate exceeded" in unevaluated["aws_s3_bucket"]["reason"]
    assert unevaluated["aws_s3_bucket"]["count"] == 2


def test_bad_input_is_a_clear_error_and_saves_nothing(aws: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.tfstate"
    broken.write_text('{"version": 4, "resources": [', encoding="utf-8")
    service = DriftService()
    with pytest.raises(StateFormatError, match=r"broken\.tfstate"):
        service.detect(service.environment(None, states=(str(broken),)), DetectOptions(run_ids=()))
    with pytest.raises(UsageError, match="no state file matches"):
        service.detect(service.environment(None, states=(str(tmp_path / "nope" / "*.tfstate"),)))
    good = _write_state(tmp_path / "ok.tfstate", build_estate().state())
    with pytest.raises(UsageError, match="no finished aws discovery run"):
        service.detect(service.environment(None, states=(str(good),)))
    with pytest.raises(UsageError, match="unknown environment 'prod'"):
        service.environment("prod")
    engine = open_database(load_settings())
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM drift_report")).scalar_one() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(DriftHistory.__table__)).scalar_one() == 0

    proc = driftmgr("scan", "--state", str(broken), "--provider", "aws", "--regions", REGION, "--format", "json")
    assert proc.returncode == 2
    assert b"broken.tfstate" in proc.stderr and proc.stdout == b""


def test_environment_from_config_and_report_formats(aws: str, tmp_path: Path) -> None:
    estate = build_estate()
    state = _write_state(tmp_path / "terraform.tfstate", estate.state())
    plant_drift(estate)
    config = Path(load_settings().config_path)
    config.write_text(f'[environments.prod]\nstates = ["{state}"]\nprovider = "aws"\nregions = ["{REGION}"]\n'
                      '[[drift.severity]]\ntype = "aws_vpc"\npath = "tags.*"\nseverity = "high"\n',
                      encoding="utf-8")
    proc = driftmgr("scan", "--env", "prod", "--format", "markdown")
    assert proc.returncode == 1, proc.stderr
    assert b"prod" in proc.stdout and b"shadow-exports" in proc.stdout
    html = tmp_path / "drift.html"
    proc = driftmgr("drift", "show", "latest", "--env", "prod", "--format", "html", "--output", str(html))
    assert proc.returncode == 0, proc.stderr
    assert html.read_text().startswith("<!DOCTYPE html>")
    proc = driftmgr("drift", "show", "--json", "--kind", "changed")
    report = json.loads(proc.stdout)
    assert report["environment"] == "prod" and {i["kind"] for i in report["items"]} == {"changed"}
    vpc = next(i for i in report["items"] if i["terraform_type"] == "aws_vpc")
    assert vpc["severity"] == "high"  # the user's rule outranks the built-in "tags are low"
    proc = driftmgr("drift", "list", "--json")
    assert [r["environment"] for r in json.loads(proc.stdout)["reports"]] == ["prod"]
