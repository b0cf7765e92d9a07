"""DriftService: detect drift for an environment, keep its history, answer questions about it.

``detect`` reads every state of the environment, takes the cloud side from discovery runs (the latest finished
run per provider unless told which), joins them (native engine) or asks Terraform (``engine="terraform"``: a
refresh-only plan in the working dir, or a saved plan's JSON), adds config drift when a working dir is known,
applies ignore rules and severity, and saves the report with its history in one transaction. ``scan`` is
discovery followed by ``detect`` on what it found. The CLI and the TUI call the same methods.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from driftmgr_tui.core.errors import DriftmgrError, UsageError
from driftmgr_tui.core.events import decode_json
from driftmgr_tui.core.models import (
    CloudResource,
    DiscoveryRun,
    DiscoveryTask,
    DriftHistory,
    DriftItem,
    DriftReport,
    IgnoreRuleRow,
)
from driftmgr_tui.core.settings import Settings
from driftmgr_tui.discovery.registry import PROVIDERS
from driftmgr_tui.drift import history as hist
from driftmgr_tui.drift.matcher import Evaluation, detect, task_partition
from driftmgr_tui.drift.model import CONFIG_KINDS, KINDS, CloudObject, DetectionResult
from driftmgr_tui.drift.severity import SeverityRules, rules_from_config
from driftmgr_tui.services.base import ServiceBase
from driftmgr_tui.services.environments import (
    EnvironmentSpec,
    LoadedStates,
    load_states,
    managed_instances,
    resolve_environment,
)
from driftmgr_tui.services.state_service import StateService

FINISHED_RUNS = ("complete", "partial")
CLOUD_PROVIDERS = PROVIDERS


@dataclass
class DetectOptions:
    run_ids: tuple[int, ...] = ()
    plan_json: Path | None = None
    ignore_file: Path | None = None
    config_drift: bool = True
    on_step: Callable[[str], None] | None = None
    loaded: LoadedStates | None = None  # the environment's states, when the caller has read them already


@dataclass
class DetectOutcome:
    """What a detection produced: the saved report (as JSON) and what the exit code is made of."""

    report: dict[str, Any]
    result: DetectionResult = field(repr=False)

    @property
    def drift_found(self) -> bool:
        s = self.report["summary"]
        return bool(s["total_changed"] or s["total_missing"] or s["total_unmanaged"]
                    or s["total_unapplied"] or s["total_orphaned"])

    @property
    def exit_code(self) -> int:
        """0 in sync, 1 drift found, 2 nothing found but part of the estate could not be evaluated."""
        if self.drift_found:
            return 1
        return 2 if self.report["status"] == "partial" else 0


class DriftService(ServiceBase):
    def __init__(self, settings: Settings | None = None, engine: Engine | None = None,
                 state_service: StateService | None = None, bus: Any = None) -> None:
        self._settings = settings
        self._engine = engine
        self._states = state_service
        self._bus = bus  # alert events of detect() go here (the TUI subscribes to its hub's bus)

    @property
    def state_service(self) -> StateService:
        if self._states is None:
            self._states = StateService(self.settings)
        return self._states

    def environment(self, name: str | None = None, **overrides: Any) -> EnvironmentSpec:
        return resolve_environment(self.settings, name, **overrides)

    # -- rules ------------------------------------------------------------------------------------------
    def severity_rules(self) -> SeverityRules:
        return SeverityRules(rules_from_config(self.settings.severity_rules, str(self.settings.config_path)))

    def ignore_matcher(self, spec: EnvironmentSpec, ignore_file: Path | None = None) -> Any:
        from driftmgr_tui.drift.ignore import IgnoreMatcher, load_driftignore, rule_from_text

        path = ignore_file or spec.ignore_file
        if path is None:
            base = spec.chdir or spec.terragrunt or Path.cwd()  # a Terragrunt tree keeps it at its root
            path = base / ".driftignore"
        elif not path.exists():
            raise UsageError(f"ignore file {path}: no such file")
        rules = load_driftignore(path)
        for row in self.list_ignore_rules(spec.name):
            rules.append(rule_from_text(row.rule, source=f"database rule {row.id}"))
        return IgnoreMatcher(rules)

    # -- detection --------------------------------------------------------------------------------------
    def scan_scope(self, spec: EnvironmentSpec) -> tuple[Any, LoadedStates | None]:
        """The discovery scope a scan of ``spec`` needs: its provider (or the one provider its states hold)
        and its regions, subscriptions or projects; plus the states when they had to be read to find the
        provider (detection reuses them)."""
        from driftmgr_tui.discovery.model import Scope

        cloud, loaded = spec.provider, None
        if cloud is None:
            loaded = load_states(self.state_service, spec)
            found = sorted({i.provider for i in managed_instances(loaded.states) if i.provider in CLOUD_PROVIDERS})
            if len(found) != 1:
                raise UsageError(f"choose the cloud to scan with --provider {'|'.join(PROVIDERS)}" + (
                    f" (the states hold {', '.join(found)})" if found else ""))
            cloud = found[0]
        return Scope(provider=cloud, regions=spec.regions, profile=spec.profile, role_arn=spec.role_arn,
                     subscriptions=spec.subscriptions, projects=spec.projects), loaded

    def detect(self, spec: EnvironmentSpec, options: DetectOptions | None = None) -> DetectOutcome:
        options = options or DetectOptions()
        step = options.on_step or (lambda _msg: None)
        started = time.perf_counter()
        severity = self.severity_rules()
        loaded = options.loaded
        if loaded is None:
            step("reading states")
            loaded = load_states(self.state_service, spec)
        ignore = self.ignore_matcher(spec, options.ignore_file)
        sources: dict[str, Any] = {"states": [loc for loc, _ in loaded.states],
                                   "workdir": str(spec.chdir) if spec.chdir else None}
        partial = False
        if spec.engine == "terraform" or options.plan_json is not None:
            result = self._detect_terraform(spec, options, severity, ignore, step)
            sources["engine_input"] = str(options.plan_json) if options.plan_json else "terraform plan"
            engine_name = "terraform"
        else:
            instances = managed_instances(loaded.states)
            providers = sorted({i.provider for i in instances if i.provider in CLOUD_PROVIDERS})
            if spec.provider and spec.provider not in providers:
                providers.append(spec.provider)
            step("loading discovered resources")
            runs = self._pick_runs(options.run_ids, providers)
            evaluation, failed = self._evaluation(runs)
            partial = failed > 0
            cloud = self._cloud_objects([r.id for r in runs])
            sources["discovery_runs"] = [r.id for r in runs]
            step(f"comparing {len(instances)} state instances with {len(cloud)} cloud resources")
            result = detect(instances, cloud, evaluation, severity=severity, ignore=ignore)
            engine_name = "native"
        result.warnings[:0] = loaded.warnings
        config_items: list[dict[str, Any]] = []
        if options.config_drift and spec.chdir is not None and loaded.workdir_state is not None:
            step("comparing the configuration with the state")
            config_items = self._config_drift(spec.chdir, loaded.workdir_state, severity, ignore)
        meta = hist.ReportMeta(environment=spec.name, engine=engine_name, sources=sources,
                               config_drift=config_items, duration=round(time.perf_counter() - started, 3),
                               partial=partial)
        step("saving the report")
        report_id = hist.save_report(self.engine, result, meta)
        try:
            self.prune()
        except DriftmgrError as exc:  # housekeeping never fails a detection that is already saved
            import logging

            logging.getLogger(__name__).warning("%s", exc)
        report = self.report(report_id)
        try:
            from driftmgr_tui.services.alert_service import AlertService

            AlertService(self.settings, self.engine, self.bus).evaluate_report(report)
        except Exception as exc:  # alerting never fails a detection that is already saved
            import logging

            logging.getLogger(__name__).warning("alert evaluation after report %s failed: %s", report_id, exc)
        return DetectOutcome(report, result)

    def _detect_terraform(self, spec: EnvironmentSpec, options: DetectOptions, severity: SeverityRules,
                          ignore: Any, step: Callable[[str], None]) -> DetectionResult:
        from driftmgr_tui.drift.plan_engine import detect_from_plan
        from driftmgr_tui.drift.tfplan import parse_plan_json

        if options.plan_json is not None:
            try:
                data = options.plan_json.read_bytes()
            except OSError as exc:
                raise UsageError(f"--plan-json {options.plan_json}: {exc.strerror or exc}") from None
            plan = parse_plan_json(data, source=str(options.plan_json))
            label = str(options.plan_json)
        else:
            if spec.chdir is None:
                raise UsageError("--engine terraform needs the working dir: give --chdir DIR (or --plan-json "
                                 "FILE with the output of `terraform show -json PLAN`)")
            from driftmgr_tui.core.terraform import Terraform

            step(f"terraform plan -refresh-only in {spec.chdir}")
            data = Terraform(spec.chdir, lock_timeout=f"{int(self.settings.lock_timeout)}s") \
                .refresh_only_plan_json()
            plan = parse_plan_json(data, source=f"terraform show -json (in {spec.chdir})")
            label = str(spec.chdir)
        return detect_from_plan(plan, state_label=label, severity=severity, ignore=ignore)

    def _config_drift(self, workdir: Path, state: Any, severity: SeverityRules, ignore: Any) \
            -> list[dict[str, Any]]:
        from driftmgr_tui.drift.config_drift import config_drift, load_config

        config = load_config(workdir, strict=True)
        items = config_drift(config, ((r.address, r.module, r.mode, r.type, r.name) for r in state.instances()))
        out = []
        for item in items:
            if ignore.ignores_resource(item.type, item.address):
                continue
            out.append({"kind": item.kind, "address": item.address, "terraform_type": item.type,
                        "module": item.module, "file": item.file, "line": item.line, "reason": item.reason,
                        "severity": severity.for_resource(item.kind, item.type)})
        return out

    def _pick_runs(self, run_ids: Iterable[int], providers: Iterable[str]) -> list[DiscoveryRun]:
        from sqlmodel import select

        from driftmgr_tui.core.db import session_scope

        ids = list(run_ids)
        with session_scope(self.engine) as session:
            if ids:
                runs = []
                for run_id in ids:
                    run = session.get(DiscoveryRun, run_id)
                    if run is None:
                        raise UsageError(f"no discovery run {run_id}",
                                         hint="`driftmgr discover runs` lists them")
                    if run.status not in FINISHED_RUNS:
                        raise UsageError(f"discovery run {run_id} is {run.status}; only complete or partial "
                                         "runs can be compared")
                    runs.append(run)
                return runs
            runs = []
            for provider in providers:
                run = session.exec(select(DiscoveryRun).where(DiscoveryRun.provider == provider,
                                                              DiscoveryRun.status.in_(FINISHED_RUNS))  # type: ignore[attr-defined]
                                   .order_by(DiscoveryRun.id.desc()).limit(1)).first()  # type: ignore[union-attr]
                if run is None:
                    raise UsageError(f"no finished {provider} discovery run to compare the states with",
                                     hint=f"run `driftmgr scan --provider {provider} ...` (discovers, then "
                                          f"compares) or `driftmgr discover --provider {provider}` first")
                runs.append(run)
            if not runs:
                raise UsageError("the states hold no AWS, Azure or Google resources to compare with a cloud",
                                 hint="--engine terraform compares any provider through Terraform itself")
            return runs

    def _evaluation(self, runs: list[DiscoveryRun]) -> tuple[Evaluation, int]:
        from driftmgr_tui.discovery.model import Scope
        from driftmgr_tui.discovery.registry import registry

        reg = registry()
        evaluation = Evaluation()
        failed = 0
        task_t = DiscoveryTask.__table__
        with self.engine.connect() as conn:
            for run in runs:
                wanted = set(Scope.from_json(decode_json(run.scope) or {"provider": run.provider}).types)
                rows = conn.execute(sa.select(task_t.c.provider, task_t.c.account, task_t.c.region,
                                              task_t.c.cloud_types, task_t.c.status, task_t.c.error)
                                    .where(task_t.c.run_id == run.id))
                for row in rows:
                    types = []
                    for cloud_type in decode_json(row.cloud_types) or ():
                        for mapping in reg.by_cloud_type(row.provider, cloud_type):
                            types.extend(t for t in mapping.all_terraform_types if not wanted or t in wanted
                                         or mapping.terraform_type in wanted)
                    partition = task_partition(row.provider, row.account, row.region)
                    evaluation.add_task(row.provider, partition, types, row.status, row.error)
                    if row.status != "succeeded":
                        failed += 1
        return evaluation, failed

    def _cloud_objects(self, run_ids: list[int]) -> list[CloudObject]:
        import orjson

        t = CloudResource.__table__
        query = sa.select(t.c.run_id, t.c.provider, t.c.account, t.c.region, t.c.terraform_type,
                          t.c.terraform_id, t.c.match_key, t.c.name, t.c.tags, t.c.attributes,
                          t.c.cloud_default).where(t.c.run_id.in_(run_ids))
        loads = orjson.loads
        with self.engine.connect() as conn:
            return [
                CloudObject(terraform_type=r.terraform_type, terraform_id=r.terraform_id, match_key=r.match_key,
                            provider=r.provider, account=r.account, region=r.region, name=r.name,
                            tags=loads(r.tags) if r.tags and r.tags != "{}" else {},
                            attributes=loads(r.attributes) if r.attributes and r.attributes != "{}" else {},
                            cloud_default=r.cloud_default, run_id=r.run_id)
                for r in conn.execute(query)
            ]

    # -- reading reports --------------------------------------------------------------------------------
    def report(self, report_id: int | str, *, environment: str | None = None, kinds: Iterable[str] = (),
               severities: Iterable[str] = (), types: Iterable[str] = ()) -> dict[str, Any]:
        """A saved report as JSON; ``report_id`` may be ``"latest"`` (of ``environment`` if given)."""
        row = self._report_row(report_id, environment)
        items = hist.load_items(self.engine, row.id, kinds=kinds, severities=severities, types=types)
        h = DriftHistory.__table__
        with self.engine.connect() as conn:
            resolved = list(conn.execute(sa.select(h).where(h.c.resolved_report_id == row.id)
                                         .order_by(h.c.terraform_type, h.c.terraform_id)))
        return hist.report_json(row, items, resolved=resolved)

    def report_header(self, report_id: int | str, *, environment: str | None = None) -> dict[str, Any]:
        """A saved report without its items (the summary, sources, config drift): cheap at any size."""
        return hist.report_json(self._report_row(report_id, environment), [])

    def items_by_id(self, item_ids: Iterable[int]) -> list[dict[str, Any]]:
        """Drift items (as in a report's ``items``) by their ids."""
        ids = sorted(set(item_ids))
        t = DriftItem.__table__
        out: list[dict[str, Any]] = []
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                out += [hist.item_json(r) for r in conn.execute(sa.select(t).where(t.c.id.in_(ids[start:start + 500])))]
        return out

    def _report_row(self, report_id: int | str, environment: str | None) -> Any:
        r = DriftReport.__table__
        with self.engine.connect() as conn:
            if report_id == "latest":
                query = sa.select(r).order_by(r.c.id.desc()).limit(1)
                if environment:
                    query = query.where(r.c.environment == environment)
                row = conn.execute(query).first()
                if row is None:
                    where = f" for environment {environment}" if environment else ""
                    raise UsageError(f"no drift report yet{where}",
                                     hint="`driftmgr scan` or `driftmgr drift detect` makes one")
                return row
            try:
                rid = int(report_id)
            except ValueError:
                raise UsageError(f"report id {report_id!r}: expected a number or 'latest'") from None
            row = conn.execute(sa.select(r).where(r.c.id == rid)).first()
            if row is None:
                raise UsageError(f"no drift report {rid}", hint="`driftmgr drift list` lists them")
            return row

    def list_reports(self, *, environment: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        r = DriftReport.__table__
        query = sa.select(r).order_by(r.c.id.desc()).limit(limit)
        if environment:
            query = query.where(r.c.environment == environment)
        with self.engine.connect() as conn:
            rows = list(conn.execute(query))
        return [{k: v for k, v in hist.report_json(row, []).items() if k not in ("items", "resolved")}
                for row in rows]

    def summary(self, *, environment: str | None = None, trend: int = 10) -> dict[str, Any]:
        """The latest report's summary, the trend over recent reports, and the open items' age."""
        latest = self.report("latest", environment=environment)
        env = latest["environment"]
        recent = self.list_reports(environment=env, limit=trend)
        h = DriftHistory.__table__
        with self.engine.connect() as conn:
            open_rows = list(conn.execute(sa.select(h.c.kind, h.c.severity, h.c.first_seen)
                                          .where(h.c.environment == env, h.c.resolved_at.is_(None))))
            resolved_count = conn.execute(sa.select(sa.func.count()).select_from(h).where(
                h.c.environment == env, h.c.resolved_at.is_not(None))).scalar_one()
        oldest = min((r.first_seen for r in open_rows), default=None)
        return {
            "environment": env,
            "report_id": latest["id"],
            "created_at": latest["created_at"],
            "status": latest["status"],
            "summary": latest["summary"],
            "open_items": len(open_rows),
            "resolved_items": resolved_count,
            "oldest_open_since": oldest.isoformat() if oldest else None,
            "trend": [{"id": r["id"], "created_at": r["created_at"],
                       **{k: r["summary"][k] for k in ("total_changed", "total_missing", "total_unmanaged",
                                                       "coverage")}} for r in reversed(recent)],
        }

    def history(self, *, environment: str | None = None, fingerprint: str | None = None,
                address: str | None = None, status: str = "all", limit: int = 200) -> list[dict[str, Any]]:
        """Items' lives: first seen, last seen, resolved. ``status``: open | resolved | all."""
        h = DriftHistory.__table__
        query = sa.select(h).order_by(h.c.last_seen.desc(), h.c.terraform_type, h.c.terraform_id).limit(limit)
        if environment:
            query = query.where(h.c.environment == environment)
        if fingerprint:
            query = query.where(h.c.fingerprint.startswith(fingerprint))
        if address:
            query = query.where(sa.or_(h.c.address == address, h.c.terraform_id == address))
        if status == "open":
            query = query.where(h.c.resolved_at.is_(None))
        elif status == "resolved":
            query = query.where(h.c.resolved_at.is_not(None))
        with self.engine.connect() as conn:
            return [hist.history_json(row) for row in conn.execute(query)]

    def item_timeline(self, fingerprint: str, *, environment: str | None = None) -> list[dict[str, Any]]:
        """Every report an item appeared in, oldest first, with its diffs then."""
        i, r = DriftItem.__table__, DriftReport.__table__
        query = (sa.select(i, r.c.created_at.label("report_at"), r.c.environment)
                 .join(r, r.c.id == i.c.report_id).where(i.c.fingerprint.startswith(fingerprint))
                 .order_by(r.c.id))
        if environment:
            query = query.where(r.c.environment == environment)
        with self.engine.connect() as conn:
            return [{**hist.item_json(row), "report_id": row.report_id, "report_at": row.report_at.isoformat(),
                     "environment": row.environment} for row in conn.execute(query)]

    def gen_ignore(self, report_id: int | str = "latest", *, environment: str | None = None,
                   kinds: Iterable[str] = (), fields: bool = False) -> str:
        """``.driftignore`` text that ignores a report's items (``fields``: changed items by field)."""
        from driftmgr_tui.drift.ignore import render_driftignore

        report = self.report(report_id, environment=environment, kinds=[k for k in kinds if k in KINDS])
        wanted = set(kinds) or set(KINDS) | set(CONFIG_KINDS)
        entries: list[tuple[str, str, str | None]] = []
        for item in report["items"]:
            if item["kind"] not in wanted:
                continue
            if fields and item["kind"] == "changed":
                entries.extend((item["terraform_type"], item["terraform_id"], d["path"]) for d in item["diffs"])
            else:
                entries.append((item["terraform_type"], item["terraform_id"], None))
        header = (f"generated by driftmgr drift gen-ignore from report {report['id']} "
                  f"({report['environment']}, {report['created_at']})")
        return render_driftignore(entries, header=header)

    # -- ignore rules in the database --------------------------------------------------------------------
    def list_ignore_rules(self, environment: str | None = None) -> list[IgnoreRuleRow]:
        from sqlmodel import or_, select

        from driftmgr_tui.core.db import session_scope

        with session_scope(self.engine) as session:
            query = select(IgnoreRuleRow).order_by(IgnoreRuleRow.id)  # type: ignore[arg-type]
            if environment is not None:
                query = query.where(or_(IgnoreRuleRow.environment == environment,
                                        IgnoreRuleRow.environment.is_(None)))  # type: ignore[union-attr]
            return list(session.exec(query).all())

    def add_ignore_rule(self, rule: str, *, environment: str | None = None,
                        reason: str | None = None) -> IgnoreRuleRow:
        from driftmgr_tui.core.db import session_scope
        from driftmgr_tui.drift.ignore import rule_from_text

        rule = rule.strip()
        rule_from_text(rule, source="rule")  # validates: raises ConfigError naming what is wrong
        with session_scope(self.engine) as session:
            row = IgnoreRuleRow(environment=environment, rule=rule, reason=reason)
            session.add(row)
            session.commit()
            session.refresh(row)
            return row

    def remove_ignore_rule(self, rule_id: int) -> None:
        from driftmgr_tui.core.db import session_scope

        with session_scope(self.engine) as session:
            row = session.get(IgnoreRuleRow, rule_id)
            if row is None:
                raise UsageError(f"no ignore rule {rule_id}", hint="`driftmgr drift ignore list` lists them")
            session.delete(row)
            session.commit()

    # -- retention ----------------------------------------------------------------------------------------
    def prune(self, *, older_than_days: int | None = None) -> dict[str, int]:
        """Drop reports and discovery runs older than the retention (``[drift] retention_days``), keeping the
        latest report per environment and the latest finished run per provider."""
        days = older_than_days if older_than_days is not None else self.settings.drift_retention_days
        try:
            counts = hist.prune(self.engine, older_than_days=days)
            counts["discovery_runs"] = self._prune_runs(days)
            return counts
        except sa.exc.SQLAlchemyError as exc:
            raise DriftmgrError(f"pruning drift history failed: {exc}") from exc

    def _prune_runs(self, days: int) -> int:
        from datetime import timedelta

        from driftmgr_tui.core.models import utcnow

        cutoff = utcnow() - timedelta(days=days)
        run_t, task_t, res_t = DiscoveryRun.__table__, DiscoveryTask.__table__, CloudResource.__table__
        with self.engine.begin() as conn:
            keep = sa.select(sa.func.max(run_t.c.id)).where(run_t.c.status.in_(FINISHED_RUNS)) \
                .group_by(run_t.c.provider)
            ids = [r[0] for r in conn.execute(sa.select(run_t.c.id).where(
                run_t.c.created_at < cutoff, run_t.c.id.not_in(keep),
                run_t.c.status.in_((*FINISHED_RUNS, "failed", "cancelled"))))]
            if ids:
                conn.execute(sa.delete(res_t).where(res_t.c.run_id.in_(ids)))
                conn.execute(sa.delete(task_t).where(task_t.c.run_id.in_(ids)))
                conn.execute(sa.delete(run_t).where(run_t.c.id.in_(ids)))
        return len(ids)
