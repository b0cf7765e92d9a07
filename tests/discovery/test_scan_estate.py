"""Discovery of a whole seeded moto account: complete, behind a faulty network, and with a region down.

The estate (``tests/_fixtures/estate.py``) has ~540 resources of 20 types in 3 regions; what discovery
must report is computed from the create calls, not from a listing. Each test runs the real service (job
queue, scanner, database) against a moto server of its own, seeded once for the module.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftmgr_tui.discovery.aws.adapter import AwsAdapter
from driftmgr_tui.discovery.aws.session import AwsSettings
from driftmgr_tui.discovery.model import Scope
from driftmgr_tui.services.discovery_service import DiscoveryService
from tests._fixtures.estate import seed_estate
from tests._fixtures.faultproxy import FaultPlan, FaultProxy
from tests._fixtures.moto import _start, _stop

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, set[tuple[str, str]]]]:
    proc, url = _start(tmp_path_factory.mktemp("moto-estate") / "moto.log")
    try:
        yield url, seed_estate(url, REGIONS)
    finally:
        _stop(proc)


def _comparable(pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """SQS queue URLs carry the host the client used (moto echoes it): compare their path only."""
    return {(t, i.split("/", 3)[-1] if t == "aws_sqs_queue" else i) for t, i in pairs}


def _service(**kwargs: object) -> DiscoveryService:
    return DiscoveryService(
        adapter_factory=lambda scope: AwsAdapter(scope, settings=AwsSettings(max_attempts=2)),
        backoff_base=0.05, backoff_cap=0.5, **kwargs,  # type: ignore[arg-type]
    )


def test_a_seeded_account_is_discovered_completely(estate, monkeypatch: pytest.MonkeyPatch) -> None:
    url, expected = estate
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    assert len(expected) >= 500 and len({t for t, _ in expected}) >= 15

    service = _service()
    run = service.run(Scope(provider="aws", regions=REGIONS))

    assert run.status == "complete", run.error
    assert run.failed_tasks == 0 and run.error is None
    assert {t.status for t in run.tasks} == {"succeeded"}
    found = service.resources(run.id)
    ours = {(r.terraform_type, r.terraform_id) for r in found if r.cloud_default is None}
    assert _comparable(ours) == _comparable(expected)
    # everything else is something AWS made by itself, and says why
    defaults = [r for r in found if r.cloud_default is not None]
    assert Counter(r.terraform_type for r in defaults)["aws_vpc"] == len(REGIONS)
    assert all(r.cloud_default for r in defaults)
    assert run.resource_count == len(found)
    assert {r.region for r in found if r.terraform_type == "aws_s3_bucket"} == set(REGIONS)
    tagged = next(r for r in found if r.terraform_type == "aws_s3_bucket")
    assert tagged.tags == {"team": "data"}  # from the tagging API index
    instance = next(r for r in found if r.terraform_type == "aws_instance")
    assert instance.name and instance.name.startswith("web-") and instance.tags["env"] == "test"


def test_every_resource_is_found_behind_throttling_and_server_errors(estate, monkeypatch) -> None:
    url, expected = estate
    plan = FaultPlan(fault_rate=0.2, seed=11)
    with FaultProxy(url, plan) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        service = _service()
        run = service.run(Scope(provider="aws", regions=REGIONS))

    faults = sum(n for k, n in plan.stats.items() if k.startswith("fault:"))
    assert faults >= 0.1 * plan.stats["requests"], plan.stats  # the proxy really misbehaved
    assert plan.stats["fault:throttle"] and (plan.stats["fault:500"] or plan.stats["fault:503"])
    assert run.status == "complete", run.error
    ours = {(r.terraform_type, r.terraform_id) for r in service.resources(run.id) if r.cloud_default is None}
    assert _comparable(ours) == _comparable(expected)


def test_a_region_that_always_fails_makes_the_run_partial_with_the_reason(estate, monkeypatch) -> None:
    url, expected = estate
    with FaultProxy(url, FaultPlan(failing_regions=frozenset({"eu-west-1"}))) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        service = _service()
        run = service.run(Scope(provider="aws", regions=REGIONS))

    assert run.status == "partial"
    failed = run.errors
    assert failed and {t.region for t in failed} == {"eu-west-1"}
    assert all("region unavailable" in (t.error or "") for t in failed), [t.error for t in failed]
    assert "eu-west-1" in (run.error or "") and f"{len(failed)} of {run.task_count} tasks failed" in run.error
    assert all(t.status == "succeeded" for t in run.tasks if t.region != "eu-west-1")
    # the healthy regions are complete; the failed region contributed no rows at all (not a partial list)
    found = service.resources(run.id)
    assert not [r for r in found if r.region == "eu-west-1" and r.terraform_type != "aws_s3_bucket"]
    healthy = {(t, i) for t, i in _comparable(expected)}
    ours = _comparable({(r.terraform_type, r.terraform_id) for r in found if r.cloud_default is None})
    assert ours <= healthy
    assert {(r.terraform_type, r.region) for r in found if r.terraform_type == "aws_vpc"} >= {
        ("aws_vpc", "us-east-1"), ("aws_vpc", "ap-southeast-2")}
    # persisted for later screens and `discover show`
    again = DiscoveryService().get_run(run.id)
    assert again.status == "partial" and again.failed_tasks == len(failed)


def test_json_contract_of_the_cli(estate, monkeypatch, tmp_path: Path) -> None:
    """`driftmgr discover --provider aws --regions R --json`: an object with the run and the resources."""
    import json
    import subprocess
    import sys

    url, expected = estate
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    result = subprocess.run(
        [sys.executable, "-m", "driftmgr_tui.cli", "discover", "--provider", "aws", "--regions",
         "us-east-1", "--json"], capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["run"]["status"] == "complete" and isinstance(data["run"]["id"], int)
    keys = {"provider", "region", "cloud_type", "terraform_type", "terraform_id", "name", "tags"}
    assert all(keys <= set(r) for r in data["resources"])
    buckets = {r["terraform_id"] for r in data["resources"] if r["terraform_type"] == "aws_s3_bucket"}
    assert buckets == {i for t, i in expected if t == "aws_s3_bucket" and "us-east-1" in i}
    show = subprocess.run([sys.executable, "-m", "driftmgr_tui.cli", "discover", "show", str(data["run"]["id"]),
                           "--json", "--type", "aws_s3_bucket"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert show.returncode == 0, show.stderr
    assert {r["terraform_id"] for r in json.loads(show.stdout)["resources"]} == buckets
