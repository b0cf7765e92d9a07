"""RemediationService: plans from drift reports, decisions, execution as a job, rollback, history.

Both front ends call this; the rules live here once:

* a plan is made from a saved drift report; every action carries its preview (what it will do, exactly);
* nothing runs before ``apply``, and ``apply`` refuses a plan with an undecided action or no approved one;
* a dangerous action (a cloud delete) is approved only with its id typed back;
* execution is a job (``remediation.apply``): output streams as events, cancellation takes effect between
  actions, a failure stops the plan there and leaves what ran restorable (``rollback``);
* every decision, execution and rollback is written to the hash-chained audit log.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col

from driftmgr_tui.core.db import session_scope
from driftmgr_tui.core.errors import DriftmgrError, JobCancelledError, UsageError
from driftmgr_tui.core.events import EventBus, decode_json, encode_json
from driftmgr_tui.core.models import (
    CloudResource,
    RemediationAction,
    RemediationApproval,
    RemediationPlan,
    current_actor,
    utcnow,
)
from driftmgr_tui.core.settings import Settings
from driftmgr_tui.remediation import model as m
from driftmgr_tui.remediation.executor import ActionRun, Executor, NotReversible
from driftmgr_tui.remediation.items import PlanItem
from driftmgr_tui.remediation.planner import ActionSpec, build_specs
from driftmgr_tui.remediation.preview import Previewer
from driftmgr_tui.remediation.strategies import Capabilities
from driftmgr_tui.services.base import ServiceBase
from driftmgr_tui.services.environments import EnvironmentSpec, LoadedStates, load_states
from driftmgr_tui.services.state_service import StateService

JOB_KIND = "remediation.apply"


def _source_json(source: Any) -> dict[str, Any]:
    """A StateSource as plan params: paths made absolute, so the plan applies from any directory."""
    return {"state_path": str(Path(source.state_path).resolve()) if source.state_path else None,
            "chdir": str(Path(source.chdir).resolve()) if source.chdir else None,
            "backend": source.backend, "workspace": source.workspace,
            "terragrunt_unit": str(Path(source.terragrunt_unit).resolve()) if source.terragrunt_unit else None}


class RemediationService(ServiceBase):
    def __init__(self, settings: Settings | None = None, engine: Engine | None = None,
                 state_service: StateService | None = None, bus: EventBus | None = None,
                 terraform_factory: Callable[..., Any] | None = None) -> None:
        self._settings = settings
        self._engine = engine
        self._states = state_service
        self._bus = bus
        self._queue = None
        self.terraform_factory = terraform_factory

    # -- wiring ------------------------------------------------------------------------------------------
    @property
    def state_service(self) -> StateService:
        if self._states is None:
            self._states = StateService(self.settings)
        return self._states

    @property
    def queue(self) -> Any:
        if self._queue is None:
            from driftmgr_tui.core.jobs import JobQueue

            self._queue = JobQueue(self.engine, self.bus)
        return self._queue

    @property
    def audit(self) -> Any:
        from driftmgr_tui.remediation.audit import AuditLog

        return AuditLog(self.engine, anchor=self.settings.data_dir / "audit.head")

    def handlers(self) -> dict[str, Any]:
        return {JOB_KIND: self.execute}

    def capabilities(self, workdir: Path | None, loaded: LoadedStates | None) -> Capabilities:
        from driftmgr_tui.core.terraform import find_terraform

        binary = find_terraform()
        caps = Capabilities(terraform=binary, workdir=workdir)
        if binary is None:
            caps.terraform_reason = "terraform is not installed (not on PATH, DRIFTMGR_TERRAFORM unset)"
        if workdir is not None and loaded is not None:
            caps.workdir_states = frozenset(loc for loc, src in loaded.sources.items()
                                            if src.chdir is not None and Path(src.chdir) == workdir)
        return caps

    # -- making a plan -------------------------------------------------------------------------------------
    def create_plan(self, spec: EnvironmentSpec | None, report: dict[str, Any], *,
                    strategies: dict[str, str] | None = None, kinds: Iterable[str] = (),
                    types: Iterable[str] = (), loaded: LoadedStates | None = None,
                    ignore_file: Path | None = None, generate_config: bool = True,
                    on_step: Callable[[str], None] | None = None) -> dict[str, Any]:
        """A draft plan for ``report``'s items (optionally only some kinds/types), saved and returned as JSON."""
        step = on_step or (lambda _m: None)
        kinds, types = set(kinds), set(types)
        items = [PlanItem.from_report(i) for i in report["items"]
                 if i["kind"] in ("changed", "missing", "unmanaged")
                 and (not kinds or i["kind"] in kinds) and (not types or i["terraform_type"] in types)]
        if not items:
            raise UsageError(f"drift report {report['id']} has nothing to remediate"
                             + (" of the kinds/types asked for" if kinds or types else ""))
        sources = report.get("sources") or {}
        workdir = spec.chdir if spec is not None and spec.chdir else (
            Path(sources["workdir"]) if sources.get("workdir") else None)
        if workdir is not None:
            workdir = workdir.resolve()
        if loaded is None and any(i.kind != "unmanaged" for i in items):
            step("reading states")
            loaded = self._load_states(spec, report, workdir)
        self._attach_states(items, loaded)
        self._attach_cloud(items, sources.get("discovery_runs") or [])
        caps = self.capabilities(workdir, loaded)
        if ignore_file is None:
            ignore_file = (spec.ignore_file if spec is not None and spec.ignore_file else None) or \
                (workdir or Path.cwd()) / ".driftignore"
        previewer = Previewer(self.state_service, caps, lock_timeout=self.settings.lock_timeout,
                              ignore_file=Path(ignore_file).resolve(), generate_config=generate_config)
        step(f"planning {len(items)} action(s)")
        specs, warnings = build_specs(items, strategies or {}, caps, previewer)
        if previewer.codify and caps.terraform is not None:
            step("generating configuration with terraform plan -generate-config-out")
        warnings += previewer.finish(self._terraform)
        scope = {"profile": spec.profile, "role_arn": spec.role_arn} if spec is not None else {}
        plan_id = self._save_plan(report, specs, workdir, strategies or {}, warnings, scope)
        self.audit.append("plan.created", plan_id=plan_id, target=f"report {report['id']}",
                          detail={"actions": len(specs), "environment": report.get("environment")})
        return self.get_plan(plan_id)

    def _terraform(self, workdir: Path) -> Any:
        if self.terraform_factory is not None:
            return self.terraform_factory(workdir)
        from driftmgr_tui.core.terraform import Terraform

        return Terraform(workdir, lock_timeout=f"{int(self.settings.lock_timeout)}s")

    def _load_states(self, spec: EnvironmentSpec | None, report: dict[str, Any],
                     workdir: Path | None) -> LoadedStates:
        if spec is not None and spec.has_states:
            return load_states(self.state_service, spec)
        locations = (report.get("sources") or {}).get("states") or []
        remote = [loc for loc in locations if "://" in loc]
        if remote:
            raise UsageError(f"report {report['id']} compared remote states ({', '.join(remote)}): give them with "
                             "--state/--backend (or --env) so their actions can write to them")
        return load_states(self.state_service, EnvironmentSpec(name=report.get("environment") or "default",
                                                               states=tuple(locations), chdir=workdir))

    def _attach_states(self, items: list[PlanItem], loaded: LoadedStates | None) -> None:
        if loaded is None:
            return
        by_location = dict(loaded.states)
        for item in items:
            if not item.state or not item.address:
                continue
            state = by_location.get(item.state)
            source = loaded.sources.get(item.state)
            if source is not None:
                item.source = _source_json(source)
            ref = state.index.get(item.address) if state is not None else None
            if ref is not None:
                item.attributes = ref.attributes
                item.dependencies = list(ref.instance.get("dependencies") or [])

    def _attach_cloud(self, items: list[PlanItem], run_ids: list[int]) -> None:
        if not run_ids:
            return
        wanted = {i.terraform_id for i in items if i.kind in ("unmanaged", "changed")}
        if not wanted:
            return
        t = CloudResource.__table__
        found: dict[tuple[str, str], dict[str, Any]] = {}
        by_id: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            ids = sorted(wanted)
            for start in range(0, len(ids), 500):
                query = sa.select(t.c.terraform_type, t.c.terraform_id, t.c.name, t.c.region, t.c.account,
                                  t.c.tags, t.c.attributes).where(
                    t.c.run_id.in_(run_ids), t.c.terraform_id.in_(ids[start:start + 500]))
                for r in conn.execute(query):
                    obj = {"terraform_type": r.terraform_type, "name": r.name, "region": r.region,
                           "account": r.account, "tags": decode_json(r.tags) or {},
                           "attributes": decode_json(r.attributes) or {}}
                    found[(r.terraform_type, r.terraform_id)] = obj
                    by_id.setdefault(r.terraform_id, obj)
        for item in items:
            item.cloud = found.get((item.terraform_type, item.terraform_id)) or by_id.get(item.terraform_id)

    def _save_plan(self, report: dict[str, Any], specs: list[ActionSpec], workdir: Path | None,
                   strategies: dict[str, str], warnings: list[str], scope: dict[str, Any]) -> int:
        risk = m.highest_risk([s.strategy.risk for s in specs])
        with session_scope(self.engine) as session:
            plan = RemediationPlan(environment=report.get("environment") or "default", report_id=report["id"],
                                   risk=risk, workdir=str(workdir) if workdir else None,
                                   options=encode_json({"strategies": strategies, "warnings": warnings,
                                                        "sources": report.get("sources") or {},
                                                        "aws": scope}))
            session.add(plan)
            session.flush()
            assert plan.id is not None
            for seq, spec in enumerate(specs, start=1):
                item = spec.item
                session.add(RemediationAction(
                    plan_id=plan.id, seq=seq, fingerprint=item.fingerprint, kind=item.kind,
                    terraform_type=item.terraform_type, terraform_id=item.terraform_id, address=item.address,
                    module=item.module, provider=item.provider, account=item.account, region=item.region,
                    state=item.state, strategy=spec.strategy.name, risk=spec.strategy.risk,
                    dangerous=spec.strategy.dangerous,
                    preview=encode_json({**spec.preview, "severity": item.severity,
                                         "unavailable": spec.unavailable, "alternatives": spec.alternatives}),
                    params=encode_json(spec.params), depends_on=encode_json(spec.depends_on)))
            return plan.id

    # -- reading -----------------------------------------------------------------------------------------------
    def _plan_row(self, plan_id: int | str) -> RemediationPlan:
        with session_scope(self.engine) as session:
            if plan_id == "latest":
                row = session.execute(sa.select(RemediationPlan).order_by(col(RemediationPlan.id).desc())
                                   .limit(1)).scalars().first()
                if row is None:
                    raise UsageError("no remediation plan yet", hint="driftmgr remediate plan ... makes one")
                return row
            try:
                pid = int(plan_id)
            except (TypeError, ValueError):
                raise UsageError(f"plan id {plan_id!r}: expected a number or 'latest'") from None
            row = session.get(RemediationPlan, pid)
            if row is None:
                raise UsageError(f"no remediation plan {pid}", hint="driftmgr remediate list shows them")
            return row

    def _actions(self, plan_id: int) -> list[RemediationAction]:
        with session_scope(self.engine) as session:
            return list(session.execute(sa.select(RemediationAction).where(col(RemediationAction.plan_id) == plan_id)
                                     .order_by(col(RemediationAction.seq))).scalars())

    def get_plan(self, plan_id: int | str) -> dict[str, Any]:
        plan = self._plan_row(plan_id)
        assert plan.id is not None
        actions = self._actions(plan.id)
        doc = plan_json(plan, actions)
        approvers = self._approvers(plan.id)
        needed = 2 if self.settings.four_eyes else 1
        for action, entry in zip(actions, doc["actions"], strict=True):
            entry["approvals"] = approvers.get(action.id or 0, [])
            entry["approvals_needed"] = needed
        doc["four_eyes"] = self.settings.four_eyes
        return doc

    def list_plans(self, *, environment: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        with session_scope(self.engine) as session:
            query = sa.select(RemediationPlan).order_by(col(RemediationPlan.id).desc()).limit(limit)
            if environment:
                query = query.where(col(RemediationPlan.environment) == environment)
            plans = list(session.execute(query).scalars())
        out = []
        for plan in plans:
            assert plan.id is not None
            doc = plan_json(plan, self._actions(plan.id))
            doc.pop("actions")
            out.append(doc)
        return out

    def history(self, *, environment: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Actions that ran (or were rolled back), newest first."""
        a, p = RemediationAction.__table__, RemediationPlan.__table__
        query = (sa.select(a, p.c.environment).join(p, p.c.id == a.c.plan_id)
                 .where(a.c.started_at.is_not(None)).order_by(a.c.started_at.desc()).limit(limit))
        if environment:
            query = query.where(p.c.environment == environment)
        with self.engine.connect() as conn:
            rows = list(conn.execute(query))
        return [{"plan": r.plan_id, "action": r.seq, "environment": r.environment, "strategy": r.strategy,
                 "kind": r.kind, "terraform_type": r.terraform_type, "terraform_id": r.terraform_id,
                 "address": r.address, "status": r.status, "started_at": r.started_at,
                 "finished_at": r.finished_at, "rolled_back_at": r.rolled_back_at, "decided_by": r.decided_by,
                 "error": r.error} for r in rows]

    # -- decisions -------------------------------------------------------------------------------------------
    def decide(self, plan_id: int | str, seqs: Iterable[int] | None, decision: str, *,
               confirm: str | None = None, actor: str | None = None) -> dict[str, Any]:
        """Approve, skip, reject or reset (pending) actions; ``seqs`` None means every action. Returns the plan
        and the notes of what was not done (with ``--all``, dangerous actions are left for an explicit
        approval). A rejected action blocks the plan until it is reset."""
        if decision not in (m.APPROVED, m.SKIPPED, m.REJECTED, m.PENDING):
            raise UsageError(f"unknown decision {decision!r}")
        plan = self._plan_row(plan_id)
        assert plan.id is not None
        if plan.status != m.DRAFT:
            raise UsageError(f"plan {plan.id} is {plan.status}: decisions can only change while it is a draft")
        actions = self._actions(plan.id)
        by_seq = {a.seq: a for a in actions}
        every = seqs is None
        if every:  # "all": every undecided action (a reset: every decided one); earlier decisions stand
            decided = m.DECIDED | {m.REJECTED}
            wanted = [a.seq for a in actions if (a.status in decided) == (decision == m.PENDING)]
        else:
            wanted = list(dict.fromkeys(seqs or ()))
        unknown = [s for s in wanted if s not in by_seq]
        if unknown:
            raise UsageError(f"plan {plan.id} has no action {', '.join(map(str, unknown))} "
                             f"(actions 1-{len(actions)})")
        actor = actor or self.approver()
        needed = 2 if self.settings.four_eyes else 1
        approvers = self._approvers(plan.id)
        notes: list[str] = []
        changed: list[RemediationAction] = []
        new_status: dict[int, str] = {}
        for seq in wanted:
            action = by_seq[seq]
            if action.status == decision:
                continue
            m.check_move(action.status, decision, f"action {seq}")
            preview = decode_json(action.preview) or {}
            if decision == m.APPROVED:
                if preview.get("unavailable"):
                    if every:
                        notes.append(f"action {seq} left {action.status}: {preview['unavailable']}")
                        continue
                    raise UsageError(f"action {seq} ({action.strategy} {action.terraform_type} "
                                     f"{action.terraform_id}) cannot be approved: {preview['unavailable']}")
                if action.dangerous:
                    if every and confirm is None:
                        notes.append(f"action {seq} left {action.status}: {action.strategy} is dangerous; approve it "
                                     f"on its own with --confirm {action.terraform_id}")
                        continue
                    if confirm != action.terraform_id:
                        raise UsageError(f"action {seq} deletes {action.terraform_type} {action.terraform_id}: type its "
                                         f"id back to approve it (--confirm {action.terraform_id})")
                have = approvers.get(action.id or 0, [])
                if actor in have:
                    raise UsageError(f"{actor} already approved action {seq}; with four-eyes on, another user must "
                                     "approve it" if needed > 1 else f"{actor} already approved action {seq}")
                if len(have) + 1 < needed:
                    new_status[action.id or 0] = m.PENDING  # one approval recorded, one more needed
                    changed.append(action)
                    notes.append(f"action {seq}: approved by {actor}; four-eyes needs one more user")
                    continue
            new_status[action.id or 0] = decision
            changed.append(action)
        if changed:
            now = utcnow()
            with session_scope(self.engine) as session:
                for action in changed:
                    status = new_status[action.id or 0]
                    count = session.execute(
                        sa.update(RemediationAction)
                        .where(col(RemediationAction.id) == action.id,
                               col(RemediationAction.status) == action.status)
                        .values(status=status, decided_by=actor if status != m.PENDING else None,
                                decided_at=now if status != m.PENDING else None)).rowcount
                    if count != 1:
                        raise UsageError(f"action {action.seq} changed meanwhile; look at the plan again")
                    if decision == m.APPROVED:
                        session.add(RemediationApproval(action_id=action.id, plan_id=plan.id, approver=actor))
                    else:  # skipped, rejected or reset: earlier approvals no longer count
                        session.execute(sa.delete(RemediationApproval)
                                        .where(col(RemediationApproval.action_id) == action.id))
                session.execute(sa.update(RemediationPlan).where(col(RemediationPlan.id) == plan.id)
                                .values(updated_at=now))
            for action in changed:
                self.audit.append(f"action.{decision}", actor=actor, plan_id=plan.id, action_id=action.id,
                                  target=action.address or f"{action.terraform_type}.{action.terraform_id}",
                                  detail={"seq": action.seq, "strategy": action.strategy,
                                          "status": new_status[action.id or 0], "approvals_needed": needed})
        result = self.get_plan(plan.id)
        result["notes"] = notes
        return result

    def approver(self) -> str:
        """The name this process's approvals are recorded under: ``[remediation] approver``, else ``user@host``."""
        return self.settings.approver or current_actor()

    def _approvers(self, plan_id: int) -> dict[int, list[str]]:
        """action id -> who approved it (in order)."""
        t = RemediationApproval.__table__
        out: dict[int, list[str]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(sa.select(t.c.action_id, t.c.approver).where(t.c.plan_id == plan_id)
                                    .order_by(t.c.id)):
                out.setdefault(row.action_id, []).append(row.approver)
        return out

    def readiness(self, plan: dict[str, Any]) -> str | None:
        """None when the plan may be applied; else why not."""
        if plan["status"] != m.DRAFT:
            return f"plan {plan['id']} is {plan['status']}; only a draft plan can be applied"
        rejected = [a for a in plan["actions"] if a["status"] == m.REJECTED]
        if rejected:
            who = sorted({a.get("decided_by") or "?" for a in rejected})
            return (f"plan {plan['id']}: action(s) {', '.join(str(a['id']) for a in rejected)} rejected by "
                    f"{', '.join(who)}; reset them to decide again (remediate reset), or make a new plan")
        undecided = [a["id"] for a in plan["actions"] if a["status"] not in m.DECIDED]
        if undecided:
            return (f"plan {plan['id']} has {len(undecided)} undecided action(s): "
                    f"{', '.join(map(str, undecided))}; approve or skip each (remediate approve/skip)")
        if not any(a["status"] == m.APPROVED for a in plan["actions"]):
            return f"plan {plan['id']} has no approved action: nothing to apply"
        return None

    # -- applying ------------------------------------------------------------------------------------------------
    def start_apply(self, plan_id: int | str) -> int:
        """Check the plan and queue its execution; returns the job id. Changes nothing when it refuses."""
        plan = self.get_plan(plan_id)
        reason = self.readiness(plan)
        if reason:
            self.audit.append("plan.apply_refused", plan_id=plan["id"], result="refused", detail={"reason": reason})
            raise UsageError(reason)
        job = self.queue.enqueue(JOB_KIND, {"plan_id": plan["id"]}, max_attempts=1)
        with session_scope(self.engine) as session:
            count = session.execute(sa.update(RemediationPlan)
                                    .where(col(RemediationPlan.id) == plan["id"],
                                           col(RemediationPlan.status) == m.DRAFT)
                                    .values(job_id=job.id, updated_at=utcnow())).rowcount
        if count != 1:
            raise UsageError(f"plan {plan['id']} changed meanwhile; look at it again")
        return job.id

    def apply(self, plan_id: int | str, *, on_line: Callable[[int, str], None] | None = None) -> dict[str, Any]:
        """Apply now, in the calling thread (the CLI's foreground run); returns the plan afterwards."""
        job_id = self.start_apply(plan_id)
        plan = self.get_plan(plan_id)
        unsubscribe = None
        if on_line is not None:
            def forward(event: Any) -> None:
                if event.job_id == job_id and event.type == "remediation.output":
                    on_line(event.payload.get("action", 0), event.payload.get("line", ""))
            unsubscribe = self.bus.subscribe(forward, prefix="remediation.")
        try:
            self.queue.run_inline(job_id, self.execute)
        finally:
            if unsubscribe is not None:
                unsubscribe()
        return self.get_plan(plan["id"])

    def recover(self) -> list[int]:
        """Settle plans left ``applying`` by a process that died: its job is recovered (failed or cancelled),
        the action it was running becomes failed (its undo, recorded before it acted, stays usable) and the
        plan failed. Returns the plan ids settled."""
        self.queue.recover()
        with session_scope(self.engine) as session:
            plans = list(session.execute(sa.select(RemediationPlan).where(
                col(RemediationPlan.status) == m.APPLYING)).scalars())
        settled = []
        for plan in plans:
            if plan.job_id is None:
                continue
            job = self.queue.get(plan.job_id)
            if not job.finished:
                continue
            reason = f"the process applying plan {plan.id} stopped (job {job.id} {job.status.value}" + (
                f": {job.error}" if job.error else "") + ")"
            now = utcnow()
            with session_scope(self.engine) as session:
                session.execute(sa.update(RemediationAction)
                                .where(col(RemediationAction.plan_id) == plan.id,
                                       col(RemediationAction.status) == m.RUNNING)
                                .values(status=m.FAILED, finished_at=now, error=reason))
                session.execute(sa.update(RemediationPlan)
                                .where(col(RemediationPlan.id) == plan.id,
                                       col(RemediationPlan.status) == m.APPLYING)
                                .values(status=m.PLAN_FAILED, updated_at=now))
            self.audit.append("plan.failed", plan_id=plan.id, result="recovered", detail={"reason": reason[:500]})
            settled.append(plan.id)
        return settled

    def cancel(self, plan_id: int | str) -> None:
        plan = self._plan_row(plan_id)
        if plan.job_id is None or plan.status != m.APPLYING:
            raise UsageError(f"plan {plan.id} is not being applied")
        self.queue.request_cancel(plan.job_id)

    def execute(self, ctx: Any) -> dict[str, Any]:
        """The job handler: run the approved actions in order, stop at the first failure."""
        plan_id = int(ctx.payload["plan_id"])
        with session_scope(self.engine) as session:
            count = session.execute(sa.update(RemediationPlan)
                                    .where(col(RemediationPlan.id) == plan_id,
                                           col(RemediationPlan.status) == m.DRAFT)
                                    .values(status=m.APPLYING, updated_at=utcnow())).rowcount
        if count != 1:
            raise UsageError(f"plan {plan_id} is not a draft any more")
        actions = [a for a in self._actions(plan_id) if a.status == m.APPROVED]
        self.audit.append("plan.apply_started", plan_id=plan_id, detail={"approved": [a.seq for a in actions]})

        def say(seq: int, line: str) -> None:
            ctx.emit("remediation.output", {"plan_id": plan_id, "action": seq, "line": line})

        current = [0]  # the action running now, for the executor's output
        executor = Executor(self.state_service, lock_timeout=self.settings.lock_timeout,
                            on_line=lambda line: say(current[0], line), cancel=ctx.cancel_event,
                            terraform_factory=self._executor_terraform(lambda line: say(current[0], line),
                                                                       ctx.cancel_event),
                            cloud_clients=self._cloud_clients(plan_id))
        final, done = m.APPLIED, []
        for n, action in enumerate(actions):
            if ctx.cancelled:
                final = m.CANCELLED
                say(action.seq, f"cancelled before action {action.seq}: it and the rest did not run")
                break
            ctx.progress(100.0 * n / len(actions), f"action {action.seq}: {action.strategy} {action.address or ''}")
            current[0] = action.seq
            ok = self._run_action(plan_id, action, say, executor)
            done.append(action.seq)
            if not ok:
                final = m.PLAN_FAILED
                break
        with session_scope(self.engine) as session:
            session.execute(sa.update(RemediationPlan).where(col(RemediationPlan.id) == plan_id)
                            .values(status=final, updated_at=utcnow(),
                                    applied_at=utcnow() if final == m.APPLIED else None))
        self.audit.append(f"plan.{final}", plan_id=plan_id, result="ok" if final == m.APPLIED else final,
                          detail={"ran": done})
        ctx.progress(100.0, f"plan {plan_id} {final}")
        return {"plan_id": plan_id, "status": final, "ran": done}

    def _run_action(self, plan_id: int, action: RemediationAction, say: Callable[[int, str], None],
                    executor: Executor) -> bool:
        seq = action.seq
        self._update_action(action.id, m.APPROVED, status=m.RUNNING, started_at=utcnow())
        run = _action_run(plan_id, action)
        target = action.address or f"{action.terraform_type}.{action.terraform_id}"

        def record_undo(undo: dict[str, Any]) -> None:
            with session_scope(self.engine) as session:
                session.execute(sa.update(RemediationAction).where(col(RemediationAction.id) == action.id)
                                .values(undo=encode_json(undo)))

        say(seq, f"== action {seq}: {action.strategy} {target}")
        try:
            outcome = executor.run(run, record_undo)
        except (DriftmgrError, OSError) as exc:
            message = exc.message if isinstance(exc, DriftmgrError) else f"{type(exc).__name__}: {exc}"
            say(seq, f"failed: {message}")
            self._update_action(action.id, m.RUNNING, status=m.FAILED, finished_at=utcnow(), error=message)
            self.audit.append("action.failed", plan_id=plan_id, action_id=action.id, target=target,
                              result="cancelled" if isinstance(exc, JobCancelledError) else "failed",
                              detail={"seq": seq, "strategy": action.strategy, "error": message[:500]})
            return False
        self._update_action(action.id, m.RUNNING, status=m.SUCCEEDED, finished_at=utcnow(),
                            output="\n".join(outcome.lines))
        self.audit.append("action.succeeded", plan_id=plan_id, action_id=action.id, target=target,
                          before_digest=outcome.before_digest, after_digest=outcome.after_digest,
                          detail={"seq": seq, "strategy": action.strategy})
        return True

    def _cloud_clients(self, plan_id: int) -> Callable[[str], Any]:
        """Cloud clients with the plan's AWS profile and role (the SDK's default chain otherwise)."""
        scope = (decode_json(self._plan_row(plan_id).options) or {}).get("aws") or {}
        made: dict[str, Any] = {}

        def clients(provider: str) -> Any:
            if provider not in made:
                from driftmgr_tui.discovery.aws.session import AwsClients

                made[provider] = AwsClients(profile=scope.get("profile"), role_arn=scope.get("role_arn"))
            return made[provider]
        return clients

    def _executor_terraform(self, say: Callable[[str], None],
                            cancel: threading.Event | None) -> Callable[[Path], Any]:
        def factory(workdir: Path) -> Any:
            tf = self._terraform(workdir)
            tf.cancel = cancel
            tf.on_line = lambda _stream, line: say(line)
            return tf
        return factory

    def _update_action(self, action_id: int | None, expected: str, **values: Any) -> None:
        with session_scope(self.engine) as session:
            count = session.execute(sa.update(RemediationAction)
                                    .where(col(RemediationAction.id) == action_id,
                                           col(RemediationAction.status) == expected).values(**values)).rowcount
        if count != 1:
            raise DriftmgrError(f"remediation action {action_id} was not {expected} any more")

    # -- rollback ---------------------------------------------------------------------------------------------------
    def rollback(self, plan_id: int | str, seqs: Iterable[int] | None = None, *, force: bool = False,
                 on_line: Callable[[int, str], None] | None = None) -> dict[str, Any]:
        """Undo what ran, newest first: succeeded and failed actions with something recorded to undo."""
        self.recover()
        plan = self._plan_row(plan_id)
        assert plan.id is not None
        if plan.status == m.APPLYING:
            raise UsageError(f"plan {plan.id} is being applied; cancel it first (remediate cancel {plan.id})")
        actions = [a for a in self._actions(plan.id) if a.status in (m.SUCCEEDED, m.FAILED)]
        if seqs is not None:
            wanted = set(seqs)
            actions = [a for a in actions if a.seq in wanted]
        if not actions:
            raise UsageError(f"plan {plan.id} has nothing to roll back")
        say = on_line or (lambda _seq, _line: None)
        results = []
        executor = Executor(self.state_service, lock_timeout=self.settings.lock_timeout, on_line=lambda _l: None,
                            cloud_clients=self._cloud_clients(plan.id))
        for action in sorted(actions, key=lambda a: a.seq, reverse=True):
            undo = decode_json(action.undo) or {}
            target = action.address or f"{action.terraform_type}.{action.terraform_id}"
            try:
                lines = executor.rollback(_action_run(plan.id, action), undo, force=force)
            except NotReversible as exc:
                say(action.seq, exc.message)
                results.append({"action": action.seq, "result": "not reversible", "message": exc.message})
                self.audit.append("action.rollback_impossible", plan_id=plan.id, action_id=action.id,
                                  target=target, result="refused", detail={"reason": exc.message[:500]})
                continue
            except DriftmgrError as exc:
                say(action.seq, f"rollback failed: {exc.message}")
                results.append({"action": action.seq, "result": "failed", "message": exc.message})
                self.audit.append("action.rollback_failed", plan_id=plan.id, action_id=action.id, target=target,
                                  result="failed", detail={"error": exc.message[:500]})
                continue
            for line in lines:
                say(action.seq, line)
            self._update_action(action.id, action.status, status=m.ROLLED_BACK, rolled_back_at=utcnow())
            results.append({"action": action.seq, "result": "rolled back", "message": "; ".join(lines)})
            self.audit.append("action.rolled_back", plan_id=plan.id, action_id=action.id, target=target,
                              detail={"seq": action.seq, "strategy": action.strategy})
        remaining = [a for a in self._actions(plan.id) if a.status in (m.SUCCEEDED, m.FAILED)]
        if not any(r["result"] == "failed" for r in results) and \
                all((decode_json(a.undo) or {}).get("mode") in (None, "none") for a in remaining):
            with session_scope(self.engine) as session:
                session.execute(sa.update(RemediationPlan).where(col(RemediationPlan.id) == plan.id)
                                .values(status=m.PLAN_ROLLED_BACK, updated_at=utcnow()))
        doc = self.get_plan(plan.id)
        doc["rollback"] = results
        return doc


def _action_run(plan_id: int, action: RemediationAction) -> ActionRun:
    return ActionRun(plan_id=plan_id, seq=action.seq, kind=action.kind, strategy=action.strategy,
                     terraform_type=action.terraform_type, terraform_id=action.terraform_id, address=action.address,
                     params=decode_json(action.params) or {}, preview=decode_json(action.preview) or {})


def action_json(action: RemediationAction) -> dict[str, Any]:
    preview = decode_json(action.preview) or {}
    return {
        "id": action.seq,
        "kind": action.kind,
        "terraform_type": action.terraform_type,
        "terraform_id": action.terraform_id,
        "address": action.address,
        "strategy": action.strategy,
        "status": action.status,
        "risk": action.risk,
        "dangerous": action.dangerous,
        "severity": preview.pop("severity", None),
        "available": preview.get("unavailable") is None,
        "unavailable_reason": preview.pop("unavailable", None),
        "alternatives": preview.pop("alternatives", []),
        "preview": preview,
        "depends_on": decode_json(action.depends_on) or [],
        "state": action.state,
        "region": action.region,
        "decided_by": action.decided_by,
        "decided_at": action.decided_at,
        "started_at": action.started_at,
        "finished_at": action.finished_at,
        "output": action.output,
        "error": action.error,
        "rollback": (decode_json(action.undo) or {}).get("mode"),
        "rolled_back_at": action.rolled_back_at,
    }


def plan_json(plan: RemediationPlan, actions: list[RemediationAction]) -> dict[str, Any]:
    options = decode_json(plan.options) or {}
    docs = [action_json(a) for a in actions]
    counts: dict[str, int] = {}
    for a in docs:
        counts[a["status"]] = counts.get(a["status"], 0) + 1
    return {
        "id": plan.id,
        "environment": plan.environment,
        "report_id": plan.report_id,
        "status": plan.status,
        "risk": plan.risk,
        "workdir": plan.workdir,
        "created_at": plan.created_at,
        "created_by": plan.created_by,
        "updated_at": plan.updated_at,
        "applied_at": plan.applied_at,
        "job_id": plan.job_id,
        "strategies": options.get("strategies") or {},
        "warnings": options.get("warnings") or [],
        "counts": counts,
        "actions": docs,
    }
