"""DiscoveryService: cloud discovery runs, for the CLI and the TUI alike.

A run is a :class:`DiscoveryRun` row plus a ``discovery`` job in the persistent queue. The CLI runs the job
in the foreground (:meth:`DiscoveryService.run`); the TUI hands it to a worker pool (:meth:`handlers`); both
see the same rows. What the service guarantees about the record:

- a task's resources and its "succeeded" status are written in one transaction, so a task is either fully
  recorded or recorded as failed/cancelled with no rows: a half-listed type is never taken for the truth;
- a run is *complete* only if every task succeeded; a failing region or service makes it *partial* with the
  reasons on its tasks; a cancelled run says so and keeps what finished before the cancel;
- a run whose worker died is put right on the next start (:meth:`reconcile`): it follows its job, which the
  queue has requeued or failed, and is never left "running".
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from driftmgr_tui.core.db import open_database, session_scope
from driftmgr_tui.core.errors import DriftmgrError, JobCancelledError, UsageError
from driftmgr_tui.core.events import EventBus, decode_json, encode_json
from driftmgr_tui.core.jobs import Handler, JobContext, JobQueue, JobStatus, JobView
from driftmgr_tui.core.models import CloudResource, DiscoveryRun, DiscoveryTask, utcnow
from driftmgr_tui.core.settings import Settings, load_settings
from driftmgr_tui.discovery.model import ProviderAdapter, ScanTask, Scope
from driftmgr_tui.discovery.registry import PROVIDERS, match_key, providers_text
from driftmgr_tui.discovery.scanner import ScanLimits, Scanner, TaskOutcome

JOB_KIND = "discovery"
RUN_FINISHED = frozenset({"complete", "partial", "failed", "cancelled"})
_INSERT_CHUNK = 500

AdapterFactory = Callable[[Scope], ProviderAdapter]


def default_adapter(scope: Scope) -> ProviderAdapter:
    """The adapter for ``scope.provider`` (SDKs are imported only for the provider asked for)."""
    if scope.provider == "aws":
        from driftmgr_tui.discovery.aws.adapter import AwsAdapter

        return AwsAdapter(scope)
    if scope.provider == "azure":
        from driftmgr_tui.discovery.azure.adapter import AzureAdapter

        return AzureAdapter(scope)
    if scope.provider == "gcp":
        from driftmgr_tui.discovery.gcp.adapter import GcpAdapter

        return GcpAdapter(scope)
    if scope.provider == "digitalocean":
        from driftmgr_tui.discovery.digitalocean.adapter import DigitalOceanAdapter

        return DigitalOceanAdapter(scope)
    raise UsageError(f"unknown provider {scope.provider!r}: choose {providers_text()}")


@dataclass(frozen=True)
class TaskView:
    key: str
    region: str
    service: str
    status: str
    resource_count: int
    retries: int
    duration: float | None
    error: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key, "region": self.region, "service": self.service, "status": self.status,
            "resources": self.resource_count, "retries": self.retries, "duration": self.duration,
            "error": self.error,
        }


@dataclass(frozen=True)
class RunView:
    """A detached snapshot of a run (and, from :meth:`DiscoveryService.get_run`, its tasks)."""

    id: int
    job_id: int | None
    provider: str
    scope: dict[str, Any]
    status: str
    account: str | None
    principal: str | None
    regions: list[str]
    task_count: int
    failed_tasks: int
    resource_count: int
    retries: int
    unsupported: dict[str, int]
    error: str | None
    created_at: Any
    started_at: Any
    finished_at: Any
    duration: float | None
    created_by: str
    tasks: list[TaskView] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.status in RUN_FINISHED

    @property
    def errors(self) -> list[TaskView]:
        return [t for t in self.tasks if t.status == "failed"]

    def to_json(self, *, with_tasks: bool = True) -> dict[str, Any]:
        data = {
            "id": self.id, "job_id": self.job_id, "provider": self.provider, "status": self.status,
            "scope": self.scope, "account": self.account, "principal": self.principal, "regions": self.regions,
            "task_count": self.task_count, "failed_tasks": self.failed_tasks,
            "resource_count": self.resource_count, "retries": self.retries, "unsupported": self.unsupported,
            "error": self.error, "created_at": self.created_at, "started_at": self.started_at,
            "finished_at": self.finished_at, "duration": self.duration, "created_by": self.created_by,
            "errors": [{"task": t.key, "region": t.region, "service": t.service, "error": t.error}
                       for t in self.errors],
        }
        if with_tasks:
            data["tasks"] = [t.to_json() for t in self.tasks]
        return data


@dataclass(frozen=True)
class RegionProgress:
    """How far a run has got in one region (an AWS region, ``global``, an Azure subscription or a Google scope):
    its tasks, how many ended (succeeded, failed or cancelled), failed and are running, and what they found."""

    region: str
    total: int
    done: int
    failed: int
    running: int
    resources: int


@dataclass(frozen=True)
class ResourceView:
    provider: str
    account: str
    region: str
    cloud_type: str
    terraform_type: str
    terraform_id: str
    name: str | None
    native_id: str | None
    tags: dict[str, str]
    cloud_default: str | None
    attributes: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        data = {
            "provider": self.provider, "account": self.account, "region": self.region,
            "cloud_type": self.cloud_type, "terraform_type": self.terraform_type,
            "terraform_id": self.terraform_id, "name": self.name, "native_id": self.native_id,
            "tags": self.tags, "cloud_default": self.cloud_default,
        }
        if self.attributes is not None:
            data["attributes"] = self.attributes
        return data


class DiscoveryService:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        engine: Engine | None = None,
        bus: EventBus | None = None,
        adapter_factory: AdapterFactory | None = None,
        limits: ScanLimits | None = None,
        backoff_base: float = 0.5,
        backoff_cap: float = 20.0,
    ) -> None:
        self.settings = settings or load_settings()
        self.engine = engine or open_database(self.settings)
        self.bus = bus or EventBus(self.engine)
        self.queue = JobQueue(self.engine, self.bus)
        self.adapter_factory = adapter_factory or default_adapter
        self.limits = limits or ScanLimits()
        self.backoff = (backoff_base, backoff_cap)
        self._write_lock = threading.Lock()
        self._errors: dict[int, BaseException] = {}

    # --- starting and running -----------------------------------------------------------------------------

    def handlers(self) -> dict[str, Handler]:
        """For a :class:`~driftmgr_tui.core.jobs.WorkerPool` that runs discovery in the background."""
        return {JOB_KIND: self.execute}

    def start(self, scope: Scope, *, priority: int = 0) -> RunView:
        """Record a queued run and its job; a worker (or :meth:`run_job`) picks it up."""
        if scope.provider not in PROVIDERS:
            raise UsageError(f"unknown provider {scope.provider!r}: choose {providers_text()}")
        with session_scope(self.engine) as session:
            run = DiscoveryRun(provider=scope.provider, scope=encode_json(scope.to_json()),
                               regions=encode_json(list(scope.regions)))
            session.add(run)
            session.flush()
            run_id = run.id
        assert run_id is not None
        job = self.queue.enqueue(JOB_KIND, {"run_id": run_id, "scope": scope.to_json()}, priority=priority,
                                 max_attempts=3)
        with session_scope(self.engine) as session:
            session.execute(sa.update(DiscoveryRun).where(col(DiscoveryRun.id) == run_id).values(job_id=job.id))
        self.bus.publish("discovery.run.queued", {"run_id": run_id, "provider": scope.provider}, job_id=job.id)
        return self.get_run(run_id)

    def run_job(self, run: RunView) -> RunView:
        """Run a queued run's job in the calling thread (the CLI's foreground run). A run that failed for a
        reason the user must fix (credentials, scope) raises that error, so the CLI can print it and exit 2."""
        if run.job_id is None:
            raise UsageError(f"discovery run {run.id} has no job")
        self.queue.run_inline(run.job_id, self.execute)
        final = self.get_run(run.id)
        error = self._errors.pop(run.id, None)
        if final.status == "failed" and isinstance(error, DriftmgrError):
            raise error
        return final

    def run(self, scope: Scope) -> RunView:
        """Discover ``scope`` now, in the calling thread; the run is visible to other processes meanwhile."""
        return self.run_job(self.start(scope))

    def cancel(self, run_id: int) -> RunView:
        run = self.get_run(run_id, with_tasks=False)
        if run.finished:
            return run
        if run.job_id is not None:
            self.queue.request_cancel(run.job_id)
        self.reconcile(run_ids=[run_id])
        return self.get_run(run_id)

    # --- the job handler ----------------------------------------------------------------------------------

    def execute(self, ctx: JobContext) -> dict[str, Any]:
        run_id = int(ctx.payload["run_id"])
        scope = Scope.from_json(ctx.payload["scope"])
        self._reset(run_id)
        started = time.monotonic()
        adapter: ProviderAdapter | None = None
        try:
            ctx.progress(0, f"{scope.provider}: connecting")
            adapter = self.adapter_factory(scope)
            account = adapter.connect()
            ctx.check_cancelled()
            tasks = adapter.plan()
            task_ids = self._record_plan(run_id, account.account, account.principal, list(account.regions), tasks)
            ctx.emit("discovery.run.started", {
                "run_id": run_id, "provider": scope.provider, "account": account.account,
                "regions": list(account.regions), "tasks": len(tasks),
                "by_region": dict(Counter(t.region for t in tasks)),
            })
            outcomes = self._scan(ctx, run_id, adapter, tasks, task_ids)
            status = _run_status(outcomes, ctx.cancelled)
            unsupported = adapter.unsupported()
            error = "cancelled by request" if status == "cancelled" else _failure_summary(outcomes)
            self._finish(run_id, status, started, unsupported=unsupported, outcomes=outcomes, error=error)
            ctx.emit("discovery.run.finished", {"run_id": run_id, "status": status,
                                                "resources": sum(len(o.resources) for o in outcomes)})
            if status == "cancelled":
                raise JobCancelledError(f"discovery run {run_id} was cancelled")
            ctx.progress(100, f"{scope.provider}: {status}")
            view = self.get_run(run_id, with_tasks=False)
            return {"run_id": run_id, "status": status, "resources": view.resource_count}
        except JobCancelledError:
            self._finish(run_id, "cancelled", started, error="cancelled by request")
            raise
        except Exception as exc:
            retrying = bool(getattr(exc, "retryable", False)) and ctx.attempt < ctx.max_attempts
            message = str(exc) if isinstance(exc, DriftmgrError) else f"{type(exc).__name__}: {exc}"
            self._finish(run_id, "queued" if retrying else "failed", started, error=message)
            self._errors[run_id] = exc
            ctx.emit("discovery.run.failed", {"run_id": run_id, "error": message, "retrying": retrying})
            raise
        finally:
            close = getattr(adapter, "close", None)
            if close is not None:
                close()

    def _scan(self, ctx: JobContext, run_id: int, adapter: ProviderAdapter, tasks: list[ScanTask],
              task_ids: dict[str, int]) -> list[TaskOutcome]:
        total = max(1, len(tasks))
        done = Counter[str]()
        found = 0
        progress_lock = threading.Lock()

        def on_start(task: ScanTask) -> None:
            with session_scope(self.engine) as session:
                session.execute(sa.update(DiscoveryTask).where(col(DiscoveryTask.id) == task_ids[task.key])
                                .values(status="running", started_at=utcnow()))

        def on_done(outcome: TaskOutcome) -> None:
            nonlocal found
            self._record_outcome(run_id, task_ids[outcome.task.key], outcome)
            with progress_lock:
                done[outcome.status] += 1
                found += len(outcome.resources)
                finished = sum(done.values())
                message = f"{finished}/{len(tasks)} tasks, {found} resources"
                if done["failed"]:
                    message += f", {done['failed']} failed"
            ctx.progress(100.0 * finished / total, message)
            payload = {"run_id": run_id, "task": outcome.task.key, "region": outcome.task.region,
                       "service": outcome.task.service, "status": outcome.status,
                       "resources": len(outcome.resources), "error": outcome.error,
                       "done": finished, "total": len(tasks)}
            ctx.emit("discovery.task." + outcome.status, payload,
                     persist=outcome.status == "failed")

        def on_retry(task: ScanTask, what: str, exc: BaseException, delay: float) -> None:
            ctx.emit("discovery.retry", {"run_id": run_id, "task": task.key, "call": what,
                                         "error": f"{type(exc).__name__}", "delay": round(delay, 3)},
                     persist=False)

        base, cap = self.backoff
        scanner = Scanner(adapter, limits=self.limits, cancel_event=ctx.cancel_event, on_task_start=on_start,
                          on_task_done=on_done, on_retry=on_retry, backoff_base=base, backoff_cap=cap)
        return scanner.run(tasks)

    # --- writes -------------------------------------------------------------------------------------------

    def _reset(self, run_id: int) -> None:
        """Start (or restart, after a retry or a recovered crash) a run from nothing."""
        with self._write_lock, session_scope(self.engine) as session:
            if session.get(DiscoveryRun, run_id) is None:
                raise UsageError(f"no discovery run {run_id}")
            session.execute(sa.delete(CloudResource).where(col(CloudResource.run_id) == run_id))
            session.execute(sa.delete(DiscoveryTask).where(col(DiscoveryTask.run_id) == run_id))
            session.execute(sa.update(DiscoveryRun).where(col(DiscoveryRun.id) == run_id).values(
                status="running", started_at=utcnow(), finished_at=None, duration=None, error=None,
                task_count=0, failed_tasks=0, resource_count=0, retries=0, unsupported="{}"))

    def _record_plan(self, run_id: int, account: str, principal: str, regions: list[str],
                     tasks: list[ScanTask]) -> dict[str, int]:
        with self._write_lock, session_scope(self.engine) as session:
            session.execute(sa.update(DiscoveryRun).where(col(DiscoveryRun.id) == run_id).values(
                account=account, principal=principal, regions=encode_json(regions), task_count=len(tasks)))
            if tasks:
                session.execute(sa.insert(DiscoveryTask), [
                    {"run_id": run_id, "key": t.key, "provider": t.provider, "account": t.account,
                     "region": t.region, "service": t.service, "cloud_types": encode_json(list(t.cloud_types)),
                     "status": "pending", "resource_count": 0, "pages": 0, "retries": 0}
                    for t in tasks
                ])
            rows = session.execute(select(DiscoveryTask.key, DiscoveryTask.id)
                                   .where(col(DiscoveryTask.run_id) == run_id)).all()
        return {key: task_id for key, task_id in rows}

    def _record_outcome(self, run_id: int, task_id: int, outcome: TaskOutcome) -> None:
        """The task's status and (when it succeeded) all its resources, in one transaction."""
        rows = [
            {"run_id": run_id, "task_id": task_id, "provider": r.provider, "account": r.account,
             "region": r.region, "cloud_type": r.cloud_type, "terraform_type": r.terraform_type,
             "terraform_id": r.terraform_id, "match_key": match_key(r.terraform_type, r.terraform_id),
             "name": r.name, "native_id": r.native_id, "tags": encode_json(r.tags),
             "attributes": encode_json(r.attributes), "cloud_default": r.cloud_default}
            for r in outcome.resources
        ]
        with self._write_lock, session_scope(self.engine) as session:
            for start in range(0, len(rows), _INSERT_CHUNK):
                session.execute(sa.insert(CloudResource), rows[start:start + _INSERT_CHUNK])
            session.execute(sa.update(DiscoveryTask).where(col(DiscoveryTask.id) == task_id).values(
                status=outcome.status, resource_count=len(rows), pages=outcome.pages, retries=outcome.retries,
                duration=round(outcome.duration, 3), error=outcome.error, finished_at=utcnow()))

    def _finish(self, run_id: int, status: str, started: float, *, error: str | None = None,
                unsupported: dict[str, int] | None = None, outcomes: list[TaskOutcome] | None = None) -> None:
        with self._write_lock, session_scope(self.engine) as session:
            counts = session.execute(
                select(sa.func.count()).select_from(CloudResource).where(col(CloudResource.run_id) == run_id)
            ).scalar_one()
            values: dict[str, Any] = {
                "status": status, "resource_count": counts, "duration": round(time.monotonic() - started, 3),
                "finished_at": None if status == "queued" else utcnow(), "error": error,
            }
            if outcomes is not None:
                values["failed_tasks"] = sum(1 for o in outcomes if o.status == "failed")
                values["retries"] = sum(o.retries for o in outcomes)
            if unsupported is not None:
                values["unsupported"] = encode_json(unsupported)
            session.execute(sa.update(DiscoveryRun).where(col(DiscoveryRun.id) == run_id).values(**values))
            if status in ("cancelled", "failed"):
                for was, why in (("pending", "before it started"), ("running", "while listing")):
                    session.execute(sa.update(DiscoveryTask).where(
                        col(DiscoveryTask.run_id) == run_id, col(DiscoveryTask.status) == was
                    ).values(status=status, error=f"{error or status} ({why})", finished_at=utcnow()))

    # --- consistency after crashes ------------------------------------------------------------------------

    def reconcile(self, *, run_ids: Iterable[int] | None = None) -> list[int]:
        """Make unfinished runs follow their jobs: a job the queue failed or cancelled (a dead worker, a
        cancel before it started) finishes its run with the job's reason. Returns the runs changed."""
        changed: list[int] = []
        with session_scope(self.engine) as session:
            query = select(DiscoveryRun).where(col(DiscoveryRun.status).not_in(RUN_FINISHED))
            if run_ids is not None:
                query = query.where(col(DiscoveryRun.id).in_(list(run_ids)))
            runs = session.exec(query).all()
        for run in runs:
            if run.job_id is None:
                continue
            try:
                job = self.queue.get(run.job_id)
            except DriftmgrError:
                job = None
            if job is None:
                status, reason = "failed", f"its job {run.job_id} no longer exists"
            elif job.status == JobStatus.CANCELLED:
                status, reason = "cancelled", job.message or "cancelled by request"
            elif job.status == JobStatus.FAILED:
                status, reason = "failed", job.error or "job failed"
            elif job.status == JobStatus.QUEUED and run.status == "running":
                status, reason = "queued", job.error or "requeued"
            else:
                continue
            with self._write_lock, session_scope(self.engine) as session:
                session.execute(sa.update(DiscoveryRun).where(col(DiscoveryRun.id) == run.id).values(
                    status=status, error=reason, finished_at=None if status == "queued" else utcnow()))
                if status != "queued":
                    session.execute(sa.update(DiscoveryTask).where(
                        col(DiscoveryTask.run_id) == run.id,
                        col(DiscoveryTask.status).in_(("pending", "running")),
                    ).values(status=status, error=reason, finished_at=utcnow()))
            changed.append(int(run.id))  # type: ignore[arg-type]
        return changed

    def recover(self) -> tuple[list[JobView], list[int]]:
        """Start-up recovery: requeue or fail jobs of dead workers, then put their runs right."""
        jobs = self.queue.recover()
        return jobs, self.reconcile()

    # --- reads --------------------------------------------------------------------------------------------

    def list_runs(self, *, provider: str | None = None, limit: int = 50) -> list[RunView]:
        with session_scope(self.engine) as session:
            query = select(DiscoveryRun).order_by(col(DiscoveryRun.id).desc()).limit(limit)
            if provider:
                query = query.where(col(DiscoveryRun.provider) == provider)
            return [_run_view(r) for r in session.exec(query).all()]

    def get_run(self, run_id: int, *, with_tasks: bool = True) -> RunView:
        with session_scope(self.engine) as session:
            run = session.get(DiscoveryRun, run_id)
            if run is None:
                raise UsageError(f"no discovery run {run_id}", hint="`driftmgr discover runs` lists them")
            tasks = []
            if with_tasks:
                tasks = list(session.exec(select(DiscoveryTask).where(col(DiscoveryTask.run_id) == run_id)
                                          .order_by(col(DiscoveryTask.id))).all())
            return _run_view(run, tasks)

    def resources(self, run_id: int, *, terraform_types: Iterable[str] = (), include_defaults: bool = True,
                  with_attributes: bool = False, limit: int | None = None) -> list[ResourceView]:
        """A run's resources, by type, region and id; ``include_defaults=False`` leaves out what the cloud
        made itself (default VPCs, service-linked roles)."""
        types = list(terraform_types)
        with session_scope(self.engine) as session:
            query = select(CloudResource).where(col(CloudResource.run_id) == run_id)
            if types:
                query = query.where(col(CloudResource.terraform_type).in_(types))
            if not include_defaults:
                query = query.where(col(CloudResource.cloud_default).is_(None))
            query = query.order_by(col(CloudResource.terraform_type), col(CloudResource.region),
                                   col(CloudResource.terraform_id))
            if limit:
                query = query.limit(limit)
            return [
                ResourceView(
                    provider=r.provider, account=r.account, region=r.region, cloud_type=r.cloud_type,
                    terraform_type=r.terraform_type, terraform_id=r.terraform_id, name=r.name,
                    native_id=r.native_id, tags=decode_json(r.tags) or {}, cloud_default=r.cloud_default,
                    attributes=(decode_json(r.attributes) or {}) if with_attributes else None,
                )
                for r in session.exec(query).all()
            ]

    def progress(self, run_ids: Iterable[int]) -> dict[int, list[RegionProgress]]:
        """Each run's tasks per region (sorted by region), read from the task rows, so a run going on in
        another process is followed as closely as one in this process. A run not yet planned has none."""
        ids = sorted(set(run_ids))
        found: dict[int, dict[str, Counter[str]]] = {run_id: {} for run_id in ids}
        if not ids:
            return {}
        with session_scope(self.engine) as session:
            rows = session.execute(
                select(DiscoveryTask.run_id, DiscoveryTask.region, DiscoveryTask.status, sa.func.count(),
                       sa.func.sum(DiscoveryTask.resource_count))
                .where(col(DiscoveryTask.run_id).in_(ids))
                .group_by(col(DiscoveryTask.run_id), col(DiscoveryTask.region), col(DiscoveryTask.status))
            ).all()
        for run_id, region, status, count, resources in rows:
            counts = found[run_id].setdefault(region, Counter())
            counts[status] += int(count)
            counts["total"] += int(count)
            counts["resources"] += int(resources or 0)
        return {
            run_id: [
                RegionProgress(region=region, total=c["total"],
                               done=c["succeeded"] + c["failed"] + c["cancelled"], failed=c["failed"],
                               running=c["running"], resources=c["resources"])
                for region, c in sorted(regions.items())
            ]
            for run_id, regions in found.items()
        }

    def type_counts(self, run_id: int) -> dict[str, int]:
        with session_scope(self.engine) as session:
            rows = session.execute(
                select(CloudResource.terraform_type, sa.func.count())
                .where(col(CloudResource.run_id) == run_id).group_by(col(CloudResource.terraform_type))
            ).all()
        return dict(sorted((t, int(n)) for t, n in rows))


_AWS_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+")
_GUID = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
_GCP_SCOPE = re.compile(r"(projects/)?[a-z][a-z0-9-]{4,28}[a-z0-9]|(folders|organizations)/\d+")
_DO_REGION = re.compile(r"[a-z]{3}\d")
# scope fields and the providers they are for
_SCOPE_OWNERS = {"regions": ("aws", "digitalocean"), "profile": ("aws",), "role_arn": ("aws",),
                 "subscriptions": ("azure",), "projects": ("gcp",)}


def scope_problems(scope: Scope, *, known_types: Iterable[str] | None = None) -> dict[str, str]:
    """What is wrong with ``scope`` before it is started, by field (``provider``, ``regions``, ``profile``,
    ``role_arn``, ``subscriptions``, ``projects``, ``types``), one message each; empty when it may start.
    ``known_types`` are the provider's Terraform types (default: the registry's). Checks the form only:
    whether the cloud knows the region or grants the role is for the run to find out."""
    problems: dict[str, str] = {}
    if scope.provider not in PROVIDERS:
        return {"provider": f"unknown provider {scope.provider!r}: choose {providers_text()}"}
    for key, owners in _SCOPE_OWNERS.items():
        if getattr(scope, key) and scope.provider not in owners:
            problems[key] = f"{key.replace('_', ' ')}: for {' and '.join(owners)} discovery only"
    if scope.provider == "aws":
        bad = [r for r in scope.regions if r != "all" and not _AWS_REGION.fullmatch(r)]
        if bad:
            problems["regions"] = f"{bad[0]!r} is not an AWS region name (like eu-west-1), nor 'all'"
        elif "all" in scope.regions and len(scope.regions) > 1:
            problems["regions"] = "'all' already means every enabled region: give it alone"
        if scope.profile and any(c.isspace() for c in scope.profile):
            problems["profile"] = f"{scope.profile!r}: a profile name has no spaces"
        if scope.role_arn and not _ROLE_ARN.fullmatch(scope.role_arn):
            problems["role_arn"] = (f"{scope.role_arn!r} is not a role ARN "
                                    "(arn:aws:iam::123456789012:role/NAME)")
    if scope.provider == "digitalocean":
        bad = [r for r in scope.regions if r != "all" and not _DO_REGION.fullmatch(r)]
        if bad:
            problems["regions"] = f"{bad[0]!r} is not a DigitalOcean region slug (like nyc1 or ams3), nor 'all'"
    bad = [s for s in scope.subscriptions if not _GUID.fullmatch(s)]
    if bad and scope.provider == "azure":
        problems["subscriptions"] = (f"{bad[0]!r} is not a subscription id "
                                     "(00000000-0000-0000-0000-000000000000)")
    bad = [p for p in scope.projects if not _GCP_SCOPE.fullmatch(p)]
    if bad and scope.provider == "gcp":
        problems["projects"] = f"{bad[0]!r} is not a project id, projects/ID, folders/NUMBER or organizations/NUMBER"
    if scope.types:
        if known_types is None:
            from driftmgr_tui.discovery.registry import registry

            known_types = registry().terraform_types(scope.provider)
        known = set(known_types)
        unknown = [t for t in scope.types if t not in known]
        if unknown:
            problems["types"] = f"{scope.provider} discovery does not know {', '.join(unknown)}"
    return problems


def _run_status(outcomes: list[TaskOutcome], cancelled: bool) -> str:
    if cancelled or any(o.status == "cancelled" for o in outcomes):
        return "cancelled"
    failed = sum(1 for o in outcomes if o.status == "failed")
    if failed and failed == len(outcomes):
        return "failed"
    return "partial" if failed else "complete"


def _failure_summary(outcomes: list[TaskOutcome]) -> str | None:
    failed = [o for o in outcomes if o.status == "failed"]
    if not failed:
        return None
    first = failed[0]
    more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
    return f"{len(failed)} of {len(outcomes)} tasks failed: {first.task.key}: {first.error}{more}"


def _run_view(run: DiscoveryRun, tasks: Iterable[DiscoveryTask] = ()) -> RunView:
    assert run.id is not None
    return RunView(
        id=run.id, job_id=run.job_id, provider=run.provider, scope=decode_json(run.scope) or {},
        status=run.status, account=run.account, principal=run.principal, regions=decode_json(run.regions) or [],
        task_count=run.task_count, failed_tasks=run.failed_tasks, resource_count=run.resource_count,
        retries=run.retries, unsupported=decode_json(run.unsupported) or {}, error=run.error,
        created_at=run.created_at, started_at=run.started_at, finished_at=run.finished_at,
        duration=run.duration, created_by=run.created_by,
        tasks=[TaskView(key=t.key, region=t.region, service=t.service, status=t.status,
                        resource_count=t.resource_count, retries=t.retries, duration=t.duration, error=t.error)
               for t in tasks],
    )
