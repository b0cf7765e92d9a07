"""MetricsService: drift, coverage, discovery, jobs and events over a window, computed by SQL aggregates on
SQLite and PostgreSQL, from rows written by the real history functions and the models (and, at the end, by a
real discovery through a faulty network)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from driftmgr_tui.core.errors import UsageError
from driftmgr_tui.core.models import DiscoveryTask
from driftmgr_tui.services.metrics_service import (
    Buckets,
    MetricsService,
    sparkline,
    summarize_payload,
)
from tests._fixtures.metrics import NOW, SINCE, at, seed


def test_every_figure_over_24_hours(engine: Engine) -> None:
    ids = seed(engine)
    snap = MetricsService(engine=engine).snapshot(window="24h", now=NOW, events=3)

    assert (snap.since, snap.until, len(snap.buckets)) == (SINCE, SINCE + timedelta(hours=24), 24)
    assert snap.buckets[0] == SINCE and snap.buckets[-1] == at(10, 12)

    prod, staging = snap.environments
    assert (prod.environment, prod.report_id, prod.created_at, prod.reports) == ("prod", ids["r4"], at(10, 10), 3)
    assert prod.counts == {"changed": 0, "missing": 2, "unmanaged": 1, "unapplied": 0, "orphaned": 0}
    assert (prod.managed, prod.coverage) == (7, 70.0)
    # bucket 0 carries r1 (before the window), bucket 1 holds r2 and r3 (r3 wins), bucket 21 holds r4
    assert prod.series["changed"] == [1] + [3] * 20 + [0] * 3
    assert prod.series["missing"] == [1] + [0] * 20 + [2] * 3
    assert prod.coverage_series == [88.89] + [75.0] * 20 + [70.0] * 3
    assert (staging.report_id, staging.reports, staging.counts["unmanaged"]) == (ids["s1"], 1, 4)
    assert staging.series["unmanaged"] == [None] * 12 + [4] * 12

    assert snap.drift["changed"] == [1] + [3] * 20 + [0] * 3
    assert snap.drift["unmanaged"] == [0] + [3] * 11 + [7] * 9 + [5] * 3
    assert snap.drift["missing"] == [1] + [0] * 20 + [2] * 3
    assert snap.drift["unapplied"] == [0] * 24
    # together: (9 + 6) / (9 + 6 + 7) then (7 + 6) / (7 + 6 + 5 + 2)
    assert snap.coverage == [88.89] + [75.0] * 11 + [68.18] * 9 + [65.0] * 3
    assert snap.latest() == {"changed": 0, "missing": 2, "unmanaged": 5, "unapplied": 0, "orphaned": 0}
    assert snap.latest_coverage() == 65.0

    aws, azure, gcp = snap.providers
    assert (aws.provider, aws.runs, aws.failed_runs, aws.avg_duration) == ("aws", 3, 1, 10.667)
    assert (aws.last_duration, aws.resources) == (20.0, 40)  # the latest complete or partial run
    assert (aws.failed_tasks, aws.retries, aws.job_retries, aws.api_errors) == (1, 7, 2, 10)
    assert aws.durations == [None] * 7 + [10.0] + [None] * 11 + [11.0] + [None] * 4
    assert aws.resource_series == [None] * 7 + [50] + [None] * 11 + [40] + [None] * 4
    assert aws.error_series == [0] * 7 + [3] + [0] * 11 + [7] + [0] * 4
    assert (azure.runs, azure.resources, azure.last_duration, azure.avg_duration, azure.api_errors) == \
        (0, 7, 5.0, None, 0)
    assert azure.durations == [None] * 24
    assert (gcp.runs, gcp.failed_runs, gcp.avg_duration, gcp.resources, gcp.retries) == (1, 0, None, None, 1)
    assert gcp.error_series == [0] * 22 + [1, 0]

    jobs = snap.jobs
    assert (jobs.queued, jobs.running, jobs.succeeded, jobs.failed) == (2, 1, 2, 2)
    assert jobs.failed_by_kind == {"discovery": 1, "remediation.apply": 1}
    assert jobs.failures == [0] * 19 + [1, 1] + [0] * 3
    # open at each bucket's end: job 108 all along; 101 at 20:00, 102 at 08:00, 106 at 09:00, 105 from 11:00,
    # 107 from 12:00 (the last bucket ends at NOW)
    depth = [1] * 24
    for b, extra in ((6, 1), (18, 1), (19, 1), (21, 1), (22, 2), (23, 2)):
        depth[b] += extra
    assert jobs.depth == depth

    assert [(e.type, e.job_id, e.time) for e in snap.events] == [
        ("job.retrying", 106, at(10, 9, 10)), ("job.failed", 106, at(10, 9, 30)), ("job.queued", 107, at(10, 12))]
    assert snap.events[1].summary == "job 106 · kind remediation.apply · attempts 3 · error: UsageError: plan 4 changed"


def test_one_environment_and_a_wider_window(engine: Engine) -> None:
    ids = seed(engine)
    service = MetricsService(engine=engine, clock=lambda: NOW)
    staging = service.snapshot("staging", "24h")
    assert [e.environment for e in staging.environments] == ["staging"]
    assert staging.drift["unmanaged"] == [None] * 12 + [4] * 12
    assert staging.coverage == [None] * 12 + [60.0] * 12
    assert staging.latest()["unmanaged"] == 4
    assert staging.providers == service.snapshot(None, "24h").providers  # discovery has no environment

    week = service.snapshot("prod", "7d")  # 28 buckets of 6 hours, 2025-03-03 18:00 to 2025-03-10 18:00
    assert (week.since, len(week.buckets)) == (at(3, 18), 28)
    (prod,) = week.environments
    assert prod.reports == 4 and prod.report_id == ids["r4"]
    # r1 (03-08 09:00) is bucket 18; r2 and r3 (03-09 14:xx) bucket 23; r4 (03-10 10:00) bucket 26
    assert prod.series["changed"] == [None] * 18 + [1] * 5 + [3] * 3 + [0] * 2
    aws = week.providers[0]
    assert (aws.runs, aws.avg_duration) == (3, 10.667)
    assert week.providers[1].runs == 1  # azure's run is inside a week
    assert week.jobs.failed_by_kind == {"discovery": 1, "remediation.apply": 1} and week.jobs.succeeded == 3


@pytest.mark.parametrize("window", ["24h", "7d", "30d"])
def test_the_aggregates_agree_with_reading_every_row(engine: Engine, window: str) -> None:
    """The benchmark's baseline (every row read into Python) and the SQL give the same snapshot."""
    from benchmarks.metrics import naive_snapshot

    seed(engine)
    service = MetricsService(engine=engine)
    for environment in (None, "prod", "staging", "nope"):
        assert service.snapshot(environment, window, now=NOW) == naive_snapshot(service, environment, window,
                                                                                now=NOW)


def test_an_empty_database_has_no_reports_and_zero_figures(engine: Engine) -> None:
    snap = MetricsService(engine=engine).snapshot(window="30d", now=NOW)
    assert not snap.has_reports and snap.environments == [] and snap.providers == [] and snap.events == []
    assert snap.drift["changed"] == [None] * 30 and snap.coverage == [None] * 30 and snap.latest_coverage() is None
    assert (snap.jobs.queued, snap.jobs.running, snap.jobs.failed, snap.jobs.depth) == (0, 0, 0, [0] * 30)
    assert snap.to_json()["drift"]["latest"] == dict.fromkeys(("changed", "missing", "unmanaged", "unapplied",
                                                              "orphaned"), 0)


def test_bad_arguments_are_named() -> None:
    service = MetricsService()
    with pytest.raises(UsageError, match=r"window '1y': choose one of 24h, 7d, 30d"):
        service.snapshot(window="1y")
    with pytest.raises(UsageError, match="events -1"):
        service.snapshot(events=-1)


def test_buckets_end_with_the_bucket_holding_now() -> None:
    b = Buckets.ending_at(at(10, 12, 30), "30d")
    assert (b.since, b.until, b.count) == (at(11, 0) - timedelta(days=30), at(11, 0), 30)
    assert b.index(at(10, 23, 59)) == 29 and b.index(b.since) == 0 and b.index(b.since - timedelta(seconds=1)) == -1
    assert b.index(b.until) == 30
    assert Buckets.ending_at(at(10, 13), "24h").since == at(9, 14)  # on an edge: that hour is the last bucket


def test_the_json_form_is_plain_data(engine: Engine) -> None:
    import orjson

    seed(engine)
    data = MetricsService(engine=engine).snapshot(window="24h", now=NOW).to_json()
    assert orjson.loads(orjson.dumps(data)) == data
    assert data["drift"]["environments"][0]["created_at"] == "2025-03-10T10:00:00+00:00"
    assert data["providers"][0]["api_errors"] == 10
    assert data["events"][-1]["summary"] == "job 107 · kind remediation.apply · priority 0"


def test_summaries_and_sparklines() -> None:
    assert summarize_payload({"run_id": 4, "tasks": 12, "by_region": {"us-east-1": 8, "global": 4},
                              "regions": ["us-east-1"], "retrying": False, "error": None}, job_id=9) == \
        "job 9 · run id 4 · tasks 12 · by region {us-east-1 8, global 4} · regions [1] · retrying no"
    long = summarize_payload({"error": "x" * 300})
    assert len(long) == 120 and long.endswith("…")
    assert summarize_payload({"error": "two\nlines"}) == "error: two lines"
    assert sparkline([0, 4, None, 8, 2]) == "▁▅ █▃"
    assert sparkline([]) == "" and sparkline([None, 0]) == " ▁"


class ThrottleBurst:
    """Wraps a FaultProxy's decision: once armed, the next ``burst`` requests to a healthy region are throttled
    (more than botocore's own attempts, so our backoff has to retry)."""

    def __init__(self, proxy: Any, burst: int) -> None:
        self.burst = burst
        self.armed = threading.Event()
        self._lock = threading.Lock()
        self._decide = proxy._decide
        proxy._decide = self.decide

    def decide(self, region: str) -> str | None:
        fault = self._decide(region)
        if fault is None and self.armed.is_set():
            with self._lock:
                if self.burst > 0:
                    self.burst -= 1
                    return "throttle"
        return fault


def test_a_real_discovery_through_a_faulty_network_shows_its_retries_and_failures(aws: str, monkeypatch) -> None:
    """Throttling answers (retried) and a region that is down (its task fails): the panel's figures are what
    the discovery recorded on its task rows."""
    import boto3

    from driftmgr_tui.discovery.model import Scope
    from driftmgr_tui.services.discovery_service import DiscoveryService
    from tests._fixtures.faultproxy import FaultPlan, FaultProxy

    for region in ("us-east-1", "eu-west-1"):
        sqs = boto3.client("sqs", region_name=region)
        for i in range(3):
            sqs.create_queue(QueueName=f"q-{region}-{i}")
    with FaultProxy(aws, FaultPlan(failing_regions=frozenset({"eu-west-1"}))) as proxy:
        burst = ThrottleBurst(proxy, 3)
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        service = DiscoveryService(backoff_base=0.01, backoff_cap=0.05)
        service.bus.subscribe(lambda _e: burst.armed.set(), prefix="discovery.run.started")  # after connecting
        run = service.run(Scope(provider="aws", regions=("us-east-1", "eu-west-1"), types=("aws_sqs_queue",)))
    assert run.status == "partial" and burst.burst == 0
    with service.engine.connect() as conn:
        failed, retries = conn.execute(sa.select(
            sa.func.sum(sa.case((DiscoveryTask.status == "failed", 1), else_=0)), sa.func.sum(DiscoveryTask.retries))
            .where(DiscoveryTask.run_id == run.id)).one()
    assert failed == 1 and retries >= 1, "the faults were absorbed below our backoff"

    snap = MetricsService(engine=service.engine).snapshot(window="24h")
    (provider,) = snap.providers
    assert (provider.provider, provider.runs, provider.failed_runs) == ("aws", 1, 0)
    assert (provider.failed_tasks, provider.retries, provider.job_retries) == (failed, retries, 0)
    assert provider.resources == run.resource_count == 3 and provider.last_duration == run.duration
    assert sum(provider.error_series) == failed + retries
    assert (snap.jobs.succeeded, snap.jobs.failed, snap.jobs.queued, snap.jobs.running) == (1, 0, 0, 0)
    assert snap.events[-1].type == "job.succeeded" and snap.events[-1].job_id == run.job_id


def test_the_cli_prints_the_figures_and_their_json() -> None:
    import json

    from click.testing import CliRunner

    from driftmgr_tui.commands.metrics import WINDOW_CHOICES, metrics_cmd
    from driftmgr_tui.core.db import open_database, session_scope
    from driftmgr_tui.core.events import EventBus
    from driftmgr_tui.core.models import DiscoveryRun, Job, utcnow
    from driftmgr_tui.services.metrics_service import WINDOWS
    from tests._fixtures.metrics import report

    assert tuple(WINDOWS) == WINDOW_CHOICES
    engine = open_database()
    now = utcnow()
    report(engine, "prod", now - timedelta(hours=5), changed=2, missing=1, managed=5)
    report(engine, "prod", now - timedelta(minutes=30), changed=1, unmanaged=2, managed=6)
    with session_scope(engine) as session:
        run = DiscoveryRun(provider="aws", status="partial", created_at=now - timedelta(hours=1), duration=12.5,
                           resource_count=30, job_id=7)
        session.add(run)
        session.flush()
        session.add(DiscoveryTask(run_id=run.id, key="aws:us-east-1:ec2", provider="aws", status="failed",
                                  retries=3, error="Throttling: Rate exceeded"))
        session.add(Job(id=7, kind="discovery", status="succeeded", created_at=now - timedelta(hours=1),
                        finished_at=now - timedelta(minutes=59)))
        session.add(Job(id=8, kind="remediation.apply", status="failed", created_at=now - timedelta(minutes=10),
                        finished_at=now - timedelta(minutes=9), error="UsageError: plan 1 changed"))
    EventBus(engine).publish("job.failed", {"kind": "remediation.apply", "error": "UsageError: plan 1 changed"},
                             job_id=8)

    done = CliRunner().invoke(metrics_cmd, ["--window", "24h", "--json", "--events", "0"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.output)
    assert data["window"] == "24h" and len(data["buckets"]) == 24
    assert data["drift"]["latest"] == {"changed": 1, "missing": 0, "unmanaged": 2, "unapplied": 0, "orphaned": 0}
    assert data["drift"]["coverage"] == 75.0 and data["drift"]["environments"][0]["reports"] == 2
    assert [(p["provider"], p["api_errors"], p["resources"]) for p in data["providers"]] == [("aws", 4, 30)]
    assert data["jobs"]["failed_by_kind"] == {"remediation.apply": 1} and data["jobs"]["succeeded"] == 1
    assert data["events"] == []

    done = CliRunner().invoke(metrics_cmd, ["--window", "24h"])
    assert done.exit_code == 0, done.output
    assert "changed 1 · missing 0 · unmanaged 2" in done.output and "coverage 75.0%" in done.output
    assert "aws API errors: 1 failed task, 3 retried calls" in done.output
    assert "queued 0 · running 0 · failed 1 (remediation.apply 1) · succeeded 1" in done.output
    assert "job.failed             job 8 · kind remediation.apply · error: UsageError: plan 1 changed" in done.output

    done = CliRunner().invoke(metrics_cmd, ["--env", "nope"])
    assert done.exit_code == 0 and "no drift reports for environment nope yet: run a scan" in done.output
    done = CliRunner().invoke(metrics_cmd, ["--window", "1y"])
    assert done.exit_code == 2 and "'1y' is not one of '24h', '7d', '30d'" in done.output
