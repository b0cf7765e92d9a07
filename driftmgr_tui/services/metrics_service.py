"""MetricsService: how drift, coverage, discovery and the job queue moved over a window, for the metrics panel
of the TUI and ``driftmgr metrics``.

:meth:`MetricsService.snapshot` answers with a plain :class:`MetricsSnapshot` computed by SQL aggregates that
run the same on SQLite and PostgreSQL (no dialect-specific SQL): a window (``24h``, ``7d``, ``30d``) is cut
into fixed buckets, and a row's bucket is a ``CASE`` over the bucket edges, grouped in a subquery. Only
aggregated rows, one per group, come back to Python; nothing is read row by row.

- **Drift** per environment and kind: in each bucket, the environment's latest report in it (its highest id);
  a bucket without a report carries the previous value, starting from the latest report before the window.
  The "all environments" figures add the environments up; coverage is then managed / (managed + unmanaged +
  missing) over them, as a single report computes it.
- **Discovery** per provider: runs, their average duration, resources found (the latest complete or partial
  run), and API errors: failed tasks and the retries their calls needed (``discovery_task``), plus the
  attempts the job queue retried (``job.retrying`` events of discovery jobs).
- **Jobs**: queued and running now, open jobs at the end of each bucket, failures per kind.
- **Events**: the latest ``events`` persisted events, with a one-line summary of each payload.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from driftmgr_tui.core.errors import UsageError
from driftmgr_tui.core.events import EventBus, EventRecord
from driftmgr_tui.core.models import DiscoveryRun, DiscoveryTask, DriftReport, Event, Job, utcnow
from driftmgr_tui.core.settings import Settings
from driftmgr_tui.services.base import ServiceBase

# window name -> (bucket length, number of buckets): the window ends with the bucket that holds "now"
WINDOWS: dict[str, tuple[timedelta, int]] = {
    "24h": (timedelta(hours=1), 24),
    "7d": (timedelta(hours=6), 28),
    "30d": (timedelta(days=1), 30),
}
DEFAULT_WINDOW = "7d"
DRIFT_KINDS = ("changed", "missing", "unmanaged", "unapplied", "orphaned")
FOUND_RUNS = ("complete", "partial")
EVENT_TAIL = 50
_SUMMARY_CHARS = 120


# ------------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class EnvironmentDrift:
    """One environment's drift: its latest report up to the end of the window, and per bucket the counts of
    the latest report so far (None before its first report)."""

    environment: str
    report_id: int
    created_at: datetime
    counts: dict[str, int]
    managed: int
    coverage: float
    reports: int  # reports in the window
    series: dict[str, list[int | None]]
    coverage_series: list[float | None]
    managed_series: list[int | None]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_json(self) -> dict[str, Any]:
        return {"environment": self.environment, "report_id": self.report_id,
                "created_at": self.created_at.isoformat(), "counts": self.counts, "total": self.total,
                "managed": self.managed, "coverage": self.coverage, "reports": self.reports,
                "series": self.series, "coverage_series": self.coverage_series,
                "managed_series": self.managed_series}


@dataclass(frozen=True)
class ProviderMetrics:
    """One cloud's discovery in the window; ``resources`` and ``last_duration`` are of its latest complete or
    partial run (at any time)."""

    provider: str
    runs: int
    failed_runs: int
    avg_duration: float | None
    last_duration: float | None
    resources: int | None
    failed_tasks: int
    retries: int
    job_retries: int
    durations: list[float | None]  # average run duration per bucket
    resource_series: list[int | None]  # most resources a complete or partial run found, per bucket
    error_series: list[int]  # failed tasks + retries + job retries, per bucket

    @property
    def api_errors(self) -> int:
        return self.failed_tasks + self.retries + self.job_retries

    def to_json(self) -> dict[str, Any]:
        return {"provider": self.provider, "runs": self.runs, "failed_runs": self.failed_runs,
                "avg_duration": self.avg_duration, "last_duration": self.last_duration,
                "resources": self.resources, "api_errors": self.api_errors, "failed_tasks": self.failed_tasks,
                "retries": self.retries, "job_retries": self.job_retries, "durations": self.durations,
                "resource_series": self.resource_series, "error_series": self.error_series}


@dataclass(frozen=True)
class JobMetrics:
    """The queue now (``queued``, ``running``), open jobs at the end of each bucket (``depth``), and the jobs
    that finished in the window: failures per kind and per bucket."""

    queued: int
    running: int
    succeeded: int
    failed_by_kind: dict[str, int]
    depth: list[int]
    failures: list[int]

    @property
    def failed(self) -> int:
        return sum(self.failed_by_kind.values())

    def to_json(self) -> dict[str, Any]:
        return {"queued": self.queued, "running": self.running, "succeeded": self.succeeded,
                "failed": self.failed, "failed_by_kind": self.failed_by_kind, "depth": self.depth,
                "failures": self.failures}


@dataclass(frozen=True)
class EventLine:
    id: int | None
    time: datetime
    type: str
    job_id: int | None
    summary: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "time": self.time.isoformat(), "type": self.type, "job_id": self.job_id,
                "summary": self.summary}


@dataclass(frozen=True)
class MetricsSnapshot:
    environment: str | None  # None: every environment
    window: str
    now: datetime
    since: datetime
    until: datetime
    buckets: list[datetime]  # the start of each bucket
    environments: list[EnvironmentDrift]
    drift: dict[str, list[int | None]]  # kind -> per bucket, over ``environments``
    coverage: list[float | None]
    providers: list[ProviderMetrics]
    jobs: JobMetrics
    events: list[EventLine] = field(default_factory=list)

    @property
    def has_reports(self) -> bool:
        return bool(self.environments)

    def latest(self) -> dict[str, int]:
        """The drift counts now, per kind, over the environments shown."""
        return {k: sum(e.counts[k] for e in self.environments) for k in DRIFT_KINDS}

    def latest_coverage(self) -> float | None:
        return next((v for v in reversed(self.coverage) if v is not None), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment, "window": self.window, "now": self.now.isoformat(),
            "since": self.since.isoformat(), "until": self.until.isoformat(),
            "buckets": [b.isoformat() for b in self.buckets],
            "drift": {"latest": self.latest(), "coverage": self.latest_coverage(), "series": self.drift,
                      "coverage_series": self.coverage,
                      "environments": [e.to_json() for e in self.environments]},
            "providers": [p.to_json() for p in self.providers],
            "jobs": self.jobs.to_json(),
            "events": [e.to_json() for e in self.events],
        }


# ------------------------------------------------------------------------------------------------- buckets


@dataclass(frozen=True)
class Buckets:
    """A window cut into ``count`` buckets of ``step``, the last one holding ``now``."""

    since: datetime
    step: timedelta
    count: int

    @classmethod
    def ending_at(cls, now: datetime, window: str) -> Buckets:
        if window not in WINDOWS:
            raise UsageError(f"window {window!r}: choose one of {', '.join(WINDOWS)}")
        step, count = WINDOWS[window]
        seconds = int(step.total_seconds())
        end = datetime.fromtimestamp((int(now.timestamp()) // seconds + 1) * seconds, UTC)
        return cls(end - step * count, step, count)

    @property
    def until(self) -> datetime:
        return self.since + self.step * self.count

    @property
    def starts(self) -> list[datetime]:
        return [self.since + self.step * i for i in range(self.count)]

    @property
    def edges(self) -> list[datetime]:
        """The boundaries between buckets (``count - 1`` of them)."""
        return [self.since + self.step * i for i in range(1, self.count)]

    def index(self, moment: datetime) -> int:
        """The bucket of ``moment``; -1 before the window, ``count`` after it."""
        if moment < self.since:
            return -1
        if moment >= self.until:
            return self.count
        return bisect.bisect_right(self.edges, moment)

    def expression(self, column: Any) -> Any:
        """SQL: the bucket index of ``column`` (a ``CASE`` over the edges, the same on every database). Only
        meaningful for rows inside the window."""
        edges = self.edges
        if not edges:
            return sa.literal(0)
        return sa.case(*[(column < edge, i) for i, edge in enumerate(edges)], else_=len(edges))

    def within(self, column: Any) -> Any:
        return sa.and_(column >= self.since, column < self.until)


# ------------------------------------------------------------------------------------------------- service


class MetricsService(ServiceBase):
    def __init__(self, settings: Settings | None = None, engine: Engine | None = None,
                 bus: EventBus | None = None, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._settings = settings
        self._engine = engine
        self._bus = bus
        self.clock = clock

    def snapshot(self, environment: str | None = None, window: str = DEFAULT_WINDOW, *,
                 events: int = EVENT_TAIL, now: datetime | None = None) -> MetricsSnapshot:
        """Every figure of the metrics panel for ``environment`` (None: all of them) over ``window``.

        ``environment`` narrows the drift and coverage figures only: discovery runs, jobs and events belong to
        no environment."""
        now = now or self.clock()
        buckets = Buckets.ending_at(now, window)
        if events < 0:
            raise UsageError(f"events {events}: expected 0 or more")
        with self.engine.connect() as conn:
            environments = self._drift(conn, buckets, environment)
            providers = self._providers(conn, buckets)
            jobs = self._jobs(conn, buckets, now)
        drift, coverage = _combine(environments, buckets.count)
        tail = [_event_line(e) for e in self.bus.recent(limit=events)] if events else []
        return MetricsSnapshot(environment=environment, window=window, now=now, since=buckets.since,
                               until=buckets.until, buckets=buckets.starts, environments=environments,
                               drift=drift, coverage=coverage, providers=providers, jobs=jobs, events=tail)

    # -- drift --------------------------------------------------------------------------------------------
    def _drift(self, conn: Any, buckets: Buckets, environment: str | None) -> list[EnvironmentDrift]:
        r = DriftReport.__table__
        scope = [r.c.environment == environment] if environment is not None else []
        inner = (sa.select(r.c.id, r.c.environment, buckets.expression(r.c.created_at).label("bucket"))
                 .where(buckets.within(r.c.created_at), *scope).subquery())
        latest_per_bucket = sa.select(sa.func.max(inner.c.id)).group_by(inner.c.environment, inner.c.bucket)
        before = (sa.select(sa.func.max(r.c.id)).where(r.c.created_at < buckets.since, *scope)
                  .group_by(r.c.environment))
        counts = dict(conn.execute(
            sa.select(inner.c.environment, sa.func.count()).group_by(inner.c.environment)).all())
        rows = conn.execute(
            sa.select(r.c.id, r.c.environment, r.c.created_at, r.c.total_managed, r.c.coverage,
                      *[r.c["total_" + k] for k in DRIFT_KINDS])
            .where(sa.or_(r.c.id.in_(latest_per_bucket), r.c.id.in_(before)))
            .order_by(r.c.environment, r.c.id)).all()
        by_env: dict[str, list[Any]] = {}
        for row in rows:
            by_env.setdefault(row.environment, []).append(row)
        return [_environment_drift(env, env_rows, buckets, int(counts.get(env, 0)))
                for env, env_rows in sorted(by_env.items())]

    # -- discovery ----------------------------------------------------------------------------------------
    def _providers(self, conn: Any, buckets: Buckets) -> list[ProviderMetrics]:
        run, task, ev = DiscoveryRun.__table__, DiscoveryTask.__table__, Event.__table__
        n = buckets.count

        runs = (sa.select(run.c.provider, run.c.status, run.c.duration, run.c.resource_count,
                          buckets.expression(run.c.created_at).label("bucket"))
                .where(buckets.within(run.c.created_at)).subquery())
        found = runs.c.status.in_(FOUND_RUNS)
        run_rows = conn.execute(sa.select(
            runs.c.provider, runs.c.bucket, sa.func.count(),
            sa.func.sum(sa.case((runs.c.status == "failed", 1), else_=0)),
            sa.func.avg(runs.c.duration), sa.func.count(runs.c.duration),
            sa.func.max(sa.case((found, runs.c.resource_count), else_=None)),
        ).group_by(runs.c.provider, runs.c.bucket)).all()

        tasks = (sa.select(task.c.provider, task.c.status, task.c.retries,
                           buckets.expression(run.c.created_at).label("bucket"))
                 .select_from(task.join(run, run.c.id == task.c.run_id))
                 .where(buckets.within(run.c.created_at)).subquery())
        task_rows = conn.execute(sa.select(
            tasks.c.provider, tasks.c.bucket, sa.func.sum(sa.case((tasks.c.status == "failed", 1), else_=0)),
            sa.func.sum(tasks.c.retries),
        ).group_by(tasks.c.provider, tasks.c.bucket)).all()

        retried = (sa.select(run.c.provider, buckets.expression(ev.c.time).label("bucket"))
                   .select_from(ev.join(run, run.c.job_id == ev.c.job_id))
                   .where(ev.c.type == "job.retrying", buckets.within(ev.c.time)).subquery())
        retry_rows = conn.execute(sa.select(retried.c.provider, retried.c.bucket, sa.func.count())
                                  .group_by(retried.c.provider, retried.c.bucket)).all()

        latest_found = sa.select(sa.func.max(run.c.id)).where(
            run.c.status.in_(FOUND_RUNS), run.c.created_at < buckets.until).group_by(run.c.provider)
        latest = {row.provider: row for row in conn.execute(
            sa.select(run.c.provider, run.c.resource_count, run.c.duration).where(run.c.id.in_(latest_found)))}

        acc: dict[str, _ProviderAcc] = {}

        def get(provider: str) -> _ProviderAcc:
            return acc.setdefault(provider, _ProviderAcc(n))

        for provider, b, count, failed, avg, timed, most in run_rows:
            a = get(provider)
            a.runs += int(count)
            a.failed_runs += int(failed or 0)
            if timed:
                a.duration_sum += float(avg) * int(timed)
                a.timed += int(timed)
                a.durations[b] = round(float(avg), 3)
            if most is not None:
                a.resources[b] = int(most)
        for provider, b, failed, retries in task_rows:
            a = get(provider)
            a.failed_tasks += int(failed or 0)
            a.retries += int(retries or 0)
            a.errors[b] += int(failed or 0) + int(retries or 0)
        for provider, b, count in retry_rows:
            a = get(provider)
            a.job_retries += int(count)
            a.errors[b] += int(count)
        for provider in latest:
            get(provider)
        out = []
        for provider, a in sorted(acc.items()):
            last = latest.get(provider)
            out.append(ProviderMetrics(
                provider=provider, runs=a.runs, failed_runs=a.failed_runs,
                avg_duration=round(a.duration_sum / a.timed, 3) if a.timed else None,
                last_duration=last.duration if last is not None else None,
                resources=last.resource_count if last is not None else None,
                failed_tasks=a.failed_tasks, retries=a.retries, job_retries=a.job_retries,
                durations=a.durations, resource_series=a.resources, error_series=a.errors))
        return out

    # -- jobs ---------------------------------------------------------------------------------------------
    def _jobs(self, conn: Any, buckets: Buckets, now: datetime) -> JobMetrics:
        j = Job.__table__
        current = dict(conn.execute(sa.select(j.c.status, sa.func.count())
                                    .where(j.c.status.in_(("queued", "running"))).group_by(j.c.status)).all())
        finished = (sa.select(j.c.kind, j.c.status, buckets.expression(j.c.finished_at).label("bucket"))
                    .where(j.c.status.in_(("failed", "succeeded")), buckets.within(j.c.finished_at)).subquery())
        failed_by_kind: dict[str, int] = {}
        failures = [0] * buckets.count
        succeeded = 0
        for kind, status, b, count in conn.execute(
                sa.select(finished.c.kind, finished.c.status, finished.c.bucket, sa.func.count())
                .group_by(finished.c.kind, finished.c.status, finished.c.bucket)):
            if status == "failed":
                failed_by_kind[kind] = failed_by_kind.get(kind, 0) + int(count)
                failures[b] += int(count)
            else:
                succeeded += int(count)
        # open at moment t: created by t and not finished by t (the last bucket ends now, not in the future)
        ends = [min(start + buckets.step, now) for start in buckets.starts]
        still_open = [sa.func.sum(sa.case((sa.and_(j.c.created_at <= t, sa.or_(j.c.finished_at.is_(None),
                                                                               j.c.finished_at > t)), 1),
                                          else_=0)) for t in ends]
        depth_row = conn.execute(sa.select(*still_open).where(
            j.c.created_at <= now, sa.or_(j.c.finished_at.is_(None), j.c.finished_at > buckets.since))).one()
        return JobMetrics(queued=int(current.get("queued", 0)), running=int(current.get("running", 0)),
                          succeeded=succeeded, failed_by_kind=dict(sorted(failed_by_kind.items())),
                          depth=[int(v or 0) for v in depth_row], failures=failures)


@dataclass
class _ProviderAcc:
    n: int
    runs: int = 0
    failed_runs: int = 0
    duration_sum: float = 0.0
    timed: int = 0
    failed_tasks: int = 0
    retries: int = 0
    job_retries: int = 0
    durations: list[float | None] = field(default_factory=list)
    resources: list[int | None] = field(default_factory=list)
    errors: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.durations = [None] * self.n
        self.resources = [None] * self.n
        self.errors = [0] * self.n


def _environment_drift(env: str, rows: Sequence[Any], buckets: Buckets, reports: int) -> EnvironmentDrift:
    """Forward-fill one environment's per-bucket latest reports (``rows``, oldest first; the first may be from
    before the window) into series."""
    at: dict[int, Any] = {}
    for row in rows:
        at[buckets.index(row.created_at)] = row  # rows are in id order: the latest per bucket wins
    series: dict[str, list[int | None]] = {k: [] for k in DRIFT_KINDS}
    coverage: list[float | None] = []
    managed: list[int | None] = []
    current = at.get(-1)
    for b in range(buckets.count):
        current = at.get(b, current)
        for k in DRIFT_KINDS:
            series[k].append(None if current is None else int(getattr(current, "total_" + k)))
        coverage.append(None if current is None else float(current.coverage))
        managed.append(None if current is None else int(current.total_managed))
    last = rows[-1]
    return EnvironmentDrift(
        environment=env, report_id=int(last.id), created_at=last.created_at,
        counts={k: int(getattr(last, "total_" + k)) for k in DRIFT_KINDS}, managed=int(last.total_managed),
        coverage=float(last.coverage), reports=reports, series=series, coverage_series=coverage,
        managed_series=managed)


def _combine(environments: Sequence[EnvironmentDrift], count: int) \
        -> tuple[dict[str, list[int | None]], list[float | None]]:
    """Totals over environments per bucket, and the coverage they make together."""
    drift: dict[str, list[int | None]] = {k: [None] * count for k in DRIFT_KINDS}
    coverage: list[float | None] = [None] * count
    if len(environments) == 1:
        only = environments[0]
        return {k: list(v) for k, v in only.series.items()}, list(only.coverage_series)
    for b in range(count):
        present = [e for e in environments if e.series["changed"][b] is not None]
        if not present:
            continue
        for k in DRIFT_KINDS:
            drift[k][b] = sum(int(e.series[k][b] or 0) for e in present)
        managed = sum(int(e.managed_series[b] or 0) for e in present)
        total = managed + sum(int(e.series["unmanaged"][b] or 0) + int(e.series["missing"][b] or 0)
                              for e in present)
        coverage[b] = round(100.0 * managed / total, 2) if total else 100.0
    return drift, coverage


def _event_line(event: EventRecord) -> EventLine:
    return EventLine(id=event.id, time=event.time, type=event.type, job_id=event.job_id,
                     summary=summarize_payload(event.payload, job_id=event.job_id))


def summarize_payload(payload: dict[str, Any], *, job_id: int | None = None, limit: int = _SUMMARY_CHARS) -> str:
    """``job 7 · kind discovery · attempts 3 · error: Throttling…``: the scalar fields of an event's payload in
    one short line (an error last, lists and objects by their size)."""
    parts = [f"job {job_id}"] if job_id is not None else []
    error = None
    for key, value in payload.items():
        if value in (None, "", [], {}):
            continue
        if key == "error":
            error = str(value)
            continue
        parts.append(f"{key.replace('_', ' ')} {_short(value)}")
    if error:
        parts.append(f"error: {error}")
    text = " · ".join(parts).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return f"[{len(value)}]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} {_short(v)}" for k, v in list(value.items())[:4]) + \
            (", …}" if len(value) > 4 else "}")
    text = str(value)
    return text if len(text) <= 40 else text[:39] + "…"


def sparkline(values: Iterable[float | None]) -> str:
    """``▁▂▅█``: values as block characters scaled from 0 to their maximum; a gap is a space."""
    bars = "▁▂▃▄▅▆▇█"
    data = list(values)
    top = max((v for v in data if v is not None), default=0) or 1
    return "".join(" " if v is None else bars[min(len(bars) - 1, int(v / top * (len(bars) - 1) + 0.5))]
                    for v in data)


# -------------------------------------------------------------------------------------------- in words

PANELS = ("drift", "environments", "coverage", "discovery", "errors", "jobs")


def figures(snap: MetricsSnapshot) -> dict[str, list[tuple[str, str]]]:
    """The latest figure of each panel as short (name, value) pairs, in the order to print them, e.g.
    ``drift``: ``[("changed", "6"), ("missing", "4"), ("unmanaged", "5")]``. Config drift (unapplied,
    orphaned) is listed only when there is some; API errors are per provider in total (failed tasks +
    retries + job retries). An empty list: nothing to say (see :func:`empty_reason`)."""
    out: dict[str, list[tuple[str, str]]] = {key: [] for key in PANELS}
    if snap.has_reports:
        latest = snap.latest()
        shown = [k for k in DRIFT_KINDS if k in ("changed", "missing", "unmanaged") or latest[k]
                 or any(snap.drift[k])]
        out["drift"] = [(k, str(latest[k])) for k in shown]
        out["environments"] = [(e.environment, str(e.total)) for e in
                               sorted(snap.environments, key=lambda e: (-e.total, e.environment))]
        now = snap.latest_coverage()
        first = next((v for v in snap.coverage if v is not None), None)
        out["coverage"] = [("coverage", f"{now:.1f}%")]
        if first is not None and now is not None and first != now:
            out["coverage"].append(("window start", f"{first:.1f}%"))
    out["discovery"] = [(p.provider, _discovery_words(p)) for p in snap.providers]
    out["errors"] = [(p.provider, str(p.api_errors)) for p in snap.providers]
    jobs = snap.jobs
    failed = f"{jobs.failed}" + (f" ({', '.join(f'{k} {v}' for k, v in jobs.failed_by_kind.items())})"
                                 if jobs.failed else "")
    out["jobs"] = [("queued", str(jobs.queued)), ("running", str(jobs.running)), ("failed", failed)]
    return out


def empty_reason(snap: MetricsSnapshot, panel: str) -> str | None:
    """Why a panel has nothing to plot (None when it has): what to run to get data."""
    if panel in ("drift", "environments", "coverage") and not snap.has_reports:
        where = f" for environment {snap.environment}" if snap.environment else ""
        return f"no drift reports{where} yet: run a scan (`driftmgr scan`, or r in the drift explorer)"
    if panel in ("discovery", "errors") and not snap.providers:
        return "no discovery runs yet: `driftmgr discover --provider aws` (or a scan) makes one"
    return None


def _discovery_words(p: ProviderMetrics) -> str:
    """``40 res, 20.0 s``: what the latest complete or partial run found, and how long it took."""
    if p.resources is None:
        return "no finished run"
    duration = f", {p.last_duration:.1f} s" if p.last_duration is not None else ""
    return f"{p.resources} res{duration}"


def _n(count: int, one: str, many: str | None = None) -> str:
    if not count:
        return ""
    return f"{count} {one if count == 1 else (many or one + 's')}"


def tick_labels(snap: MetricsSnapshot, ticks: int = 3) -> tuple[list[int], list[str]]:
    """Bucket positions and their labels for a time axis: ``-24h``, ``-12h``, ``now``."""
    count = len(snap.buckets)
    if count < 2:
        return [0], ["now"]
    step = snap.buckets[1] - snap.buckets[0]
    positions = sorted({round(i * (count - 1) / (ticks - 1)) for i in range(ticks)})
    return positions, [("now" if p == count - 1 else "-" + _ago(step * (count - p))) for p in positions]


def _ago(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    if hours < 48:
        return f"{hours:g}h"
    days = hours / 24
    return f"{days:g}d" if days == int(days) else f"{days:.1f}d"
