"""DiscoveryService: runs as jobs, cancellation, crash recovery, credentials, and the record they leave."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import boto3
import pytest
import sqlalchemy as sa

from driftmgr_tui.core.db import open_database
from driftmgr_tui.core.errors import ProviderAuthError, UsageError
from driftmgr_tui.core.jobs import JobQueue, JobStatus, WorkerPool
from driftmgr_tui.core.models import CloudResource, DiscoveryTask
from driftmgr_tui.discovery.model import Scope
from driftmgr_tui.services.discovery_service import DiscoveryService
from tests._fixtures.faultproxy import FaultPlan, FaultProxy
from tests._fixtures.moto import moto_set_auth

REGIONS = ("us-east-1", "eu-west-1")


def _seed(count: int = 6) -> None:
    for region in REGIONS:
        ec2 = boto3.client("ec2", region_name=region)
        for i in range(count):
            ec2.create_security_group(GroupName=f"sg-{i}", Description="x")
        sqs = boto3.client("sqs", region_name=region)
        for i in range(count):
            sqs.create_queue(QueueName=f"q-{region}-{i}")


def _consistent(service: DiscoveryService, run_id: int) -> None:
    """The record a run leaves: rows only for succeeded tasks, counts that add up, nothing running."""
    run = service.get_run(run_id)
    with service.engine.connect() as conn:
        rows = conn.execute(sa.select(CloudResource.task_id, sa.func.count()).where(
            CloudResource.run_id == run_id).group_by(CloudResource.task_id)).all()
        tasks = conn.execute(sa.select(DiscoveryTask.id, DiscoveryTask.status, DiscoveryTask.resource_count)
                             .where(DiscoveryTask.run_id == run_id)).all()
    per_task = dict(rows)
    for task_id, status, count in tasks:
        assert status in ("succeeded", "failed", "cancelled")
        assert per_task.get(task_id, 0) == (count if status == "succeeded" else 0)
    assert run.resource_count == sum(per_task.values())


def test_a_run_is_a_job_other_processes_can_watch(aws: str) -> None:
    _seed(2)
    service = DiscoveryService()
    run = service.run(Scope(provider="aws", regions=REGIONS))
    assert run.status == "complete"
    job = JobQueue(open_database()).get(run.job_id)
    assert job.status is JobStatus.SUCCEEDED and job.progress == 100
    assert job.result == {"run_id": run.id, "status": "complete", "resources": run.resource_count}
    other = DiscoveryService()  # a second process's view: same rows
    assert [r.id for r in other.list_runs()] == [run.id]
    events = [e.type for e in other.bus.recent(job_id=run.job_id)]
    assert "discovery.run.started" in events and "discovery.run.finished" in events
    assert events.index("job.started") < events.index("discovery.run.finished") < events.index("job.succeeded")
    _consistent(service, run.id)


def test_a_worker_pool_runs_queued_discoveries(aws: str) -> None:
    _seed(2)
    service = DiscoveryService()
    first = service.start(Scope(provider="aws", regions=("us-east-1",)))
    second = service.start(Scope(provider="aws", regions=("eu-west-1",), types=("aws_sqs_queue",)))
    assert first.status == "queued"
    with WorkerPool(service.queue, service.handlers(), size=2) as pool:
        assert pool.wait_idle(60)
    assert service.get_run(first.id).status == "complete"
    second_run = service.get_run(second.id)
    assert second_run.status == "complete" and second_run.task_count == 1
    assert {r.terraform_id.rsplit("/", 1)[-1] for r in service.resources(second.id)} == {
        f"q-eu-west-1-{i}" for i in range(2)}


def test_cancelling_stops_the_run_and_keeps_a_consistent_record(aws: str, monkeypatch) -> None:
    _seed(3)
    with FaultProxy(aws, FaultPlan(latency=0.15)) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        service = DiscoveryService()
        run = service.start(Scope(provider="aws", regions=("us-east-1", "eu-west-1", "us-west-2", "ap-south-1")))
        done = threading.Event()
        tasks_done = []
        service.bus.subscribe(lambda e: tasks_done.append(e), prefix="discovery.task.")
        worker = threading.Thread(target=lambda: (service.run_job(run), done.set()), daemon=True)
        worker.start()
        deadline = time.monotonic() + 60
        while len(tasks_done) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(tasks_done) >= 3, "the scan never got going"
        # cancel from another service instance (its own connections), as the TUI or `discover cancel` would
        other = DiscoveryService()
        finished_before = len(tasks_done)
        other.cancel(run.id)
        assert done.wait(120), "the run never stopped"  # a hang guard, not a measurement
    final = service.get_run(run.id)
    assert final.status == "cancelled"
    statuses = [t.status for t in final.tasks]
    assert "cancelled" in statuses and "succeeded" in statuses and "running" not in statuses
    # the cancel stopped the work: only tasks already in flight could still finish; the rest never ran
    succeeded_after = sum(e.type == "discovery.task.succeeded" for e in tasks_done[finished_before:])
    assert succeeded_after < statuses.count("cancelled"), (succeeded_after, statuses)
    assert JobQueue(open_database()).get(run.job_id).status is JobStatus.CANCELLED
    _consistent(service, run.id)


_WORKER = """
import sys
from driftmgr_tui.discovery.model import Scope
from driftmgr_tui.services.discovery_service import DiscoveryService
service = DiscoveryService()
run = service.start(Scope(provider="aws", regions=("us-east-1", "eu-west-1", "us-west-2", "ap-south-1")))
print(run.id, flush=True)
service.run_job(run)
"""


def test_a_worker_killed_mid_run_is_recovered_on_the_next_start(aws: str, monkeypatch) -> None:
    _seed(3)
    with FaultProxy(aws, FaultPlan(latency=0.1)) as proxy:
        env = {**os.environ, "AWS_ENDPOINT_URL": proxy.url}
        proc = subprocess.Popen([sys.executable, "-c", _WORKER], env=env, stdout=subprocess.PIPE, text=True)
        run_id = int(proc.stdout.readline())
        service = DiscoveryService()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            run = service.get_run(run_id)
            if sum(t.status == "succeeded" for t in run.tasks) >= 3:
                break
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        killed = service.get_run(run_id)
        assert killed.status == "running"  # what a dead worker leaves behind

        jobs, runs = DiscoveryService().recover()  # the next start
        assert [j.id for j in jobs] == [killed.job_id]
        job = jobs[0]
        assert job.status is JobStatus.QUEUED and str(proc.pid) in (job.error or "")
        assert runs == [run_id] and service.get_run(run_id).status == "queued"

        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        with WorkerPool(service.queue, service.handlers(), size=1) as pool:
            assert pool.wait_idle(120)
    final = service.get_run(run_id)
    assert final.status == "complete"
    names = {r.name for r in service.resources(run_id) if r.terraform_type == "aws_security_group"}
    assert {f"sg-{i}" for i in range(3)} <= names
    _consistent(service, run_id)


def test_bad_credentials_fail_at_once_with_one_clear_line(aws: str) -> None:
    moto_set_auth(aws, 0)
    service = DiscoveryService()
    with pytest.raises(ProviderAuthError) as caught:
        service.run(Scope(provider="aws", regions=("us-east-1",)))
    message = str(caught.value)
    assert message.startswith("aws: credentials rejected") and "\n" not in message
    assert "AWS_PROFILE" in message
    run = service.list_runs()[0]
    assert run.status == "failed" and run.error == message
    job = service.queue.get(run.job_id)
    assert job.status is JobStatus.FAILED and job.attempts == 1  # not retried: retrying cannot fix it


def test_bad_credentials_on_the_cli_exit_2_with_one_line(aws: str) -> None:
    moto_set_auth(aws, 0)
    result = subprocess.run([sys.executable, "-m", "driftmgr_tui.cli", "discover", "--provider", "aws",
                             "--regions", "us-east-1", "--json"], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: aws: credentials rejected"), result.stderr
    assert result.stdout == ""


def test_an_unknown_profile_is_named(aws: str) -> None:
    with pytest.raises(ProviderAuthError, match="aws: profile 'nope' is not in your AWS config"):
        DiscoveryService().run(Scope(provider="aws", regions=("us-east-1",), profile="nope"))


def test_regions_all_asks_the_account(aws: str) -> None:
    service = DiscoveryService()
    run = service.run(Scope(provider="aws", regions=("all",), types=("aws_vpc",)))
    assert run.status == "complete"
    expected = sorted(r["RegionName"] for r in boto3.client("ec2").describe_regions()["Regions"])
    assert sorted(run.regions) == expected and len(expected) > 10
    assert {r.region for r in service.resources(run.id)} == set(expected)  # a default VPC in each


def test_role_assumption_uses_the_assumed_credentials(aws: str) -> None:
    iam = boto3.client("iam")
    role = iam.create_role(RoleName="audit", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    service = DiscoveryService()
    run = service.run(Scope(provider="aws", regions=("us-east-1",), role_arn=role, types=("aws_iam_role",)))
    assert run.status == "complete"
    assert "assumed-role/audit" in (run.principal or "")


def test_cli_usage_errors_exit_2() -> None:
    for args, fragment in (
        (["discover"], "--provider"),
        (["discover", "--provider", "azure", "--regions", "x"],
         "--regions applies to --provider aws and digitalocean only"),
        (["discover", "--provider", "aws", "--type", "aws_nope"], "does not know aws_nope"),
        (["discover", "show", "999"], "no discovery run 999"),
    ):
        result = subprocess.run([sys.executable, "-m", "driftmgr_tui.cli", *args], capture_output=True,
                                text=True, timeout=60, check=False)
        assert result.returncode == 2, (args, result.stderr)
        assert fragment in result.stderr


def test_runs_lists_what_happened(aws: str) -> None:
    _seed(1)
    DiscoveryService().run(Scope(provider="aws", regions=("us-east-1",), types=("aws_sqs_queue",)))
    result = subprocess.run([sys.executable, "-m", "driftmgr_tui.cli", "discover", "runs", "--json"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    runs = json.loads(result.stdout)["runs"]
    assert runs[0]["status"] == "complete" and runs[0]["resource_count"] == 1


def test_an_unknown_run_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="no discovery run 42"):
        DiscoveryService().get_run(42)


@pytest.mark.parametrize("args, first_line", [
    (["--provider", "azure", "--subscription", "00000000-0000-0000-0000-000000000001"],
     "Error: azure: no usable credentials (DefaultAzureCredential found none): run `az login`"),
    (["--provider", "gcp", "--project", "acme-prod"],
     "Error: gcp: no application default credentials: run `gcloud auth application-default login`"),
])
def test_missing_azure_and_google_credentials_exit_2_with_one_line(args, first_line, tmp_path) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AZURE_", "GOOGLE_", "CLOUDSDK_", "IDENTITY_", "MSI_"))}
    env.update(HOME=str(tmp_path), CLOUDSDK_CONFIG=str(tmp_path / "gcloud"), AZURE_CONFIG_DIR=str(tmp_path / "az"),
               GCE_METADATA_HOST="127.0.0.1:9", GCE_METADATA_IP="127.0.0.1:9", NO_GCE_CHECK="True")
    result = subprocess.run([sys.executable, "-m", "driftmgr_tui.cli", "discover", *args], env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(first_line), result.stderr
