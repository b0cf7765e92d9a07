"""The Remediation section: plans, their actions with full previews, decisions, apply and rollback.

The plans of every environment, newest first (id, environment, created, status, approved/total, readiness),
and the selected plan's actions (seq, kind, address, strategy, risk, approvals, status). ``enter`` steps
through the actions one at a time with their full preview; ``a`` / ``s`` / ``x`` / ``u`` approve, skip, reject
(blocks the plan) or reset the highlighted action (a dangerous one is approved only with its resource id typed back, as ``remediate approve
--confirm ID`` requires); ``p`` shows the dry run and, confirmed, executes the plan with its output streamed
into a log; ``R`` rolls back what ran; ``t`` shows the audit trail. With ``[remediation] four_eyes`` on, an
action needs approvals from two different users, and the service refuses a second approval by the same one.
The rules live in RemediationService (shared with the CLI); this screen only asks it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, Static

from driftmgr_tui.core.errors import DriftmgrError
from driftmgr_tui.screens.common import ConfirmScreen, SectionScreen
from driftmgr_tui.screens.remediation_audit import AuditScreen
from driftmgr_tui.screens.remediation_modals import (
    ACTION_COLUMNS,
    DECIDED,
    PLAN_COLUMNS,
    RAN,
    ApplyLogScreen,
    Rows,
    StepScreen,
    action_row,
    dry_run_text,
    plan_row,
    rollback_text,
)
from driftmgr_tui.widgets.action_preview import ActionPreview, relative_paths, target_of
from driftmgr_tui.widgets.item_table import ItemTable


class RemediationScreen(SectionScreen):
    SECTION = "remediation"
    TITLE = "driftmgr · Remediation"
    AUTO_FOCUS = "#actions"
    DESTRUCTIVE: ClassVar[frozenset[str]] = frozenset({
        "approve", "skip", "reject", "reset", "approve_all", "skip_all", "apply", "cancel_apply", "rollback",
        "force_rollback"})
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("enter", "step", "Step through", show=False),
        Binding("a", "approve", "Approve"),
        Binding("s", "skip", "Skip"),
        Binding("x", "reject", "Reject"),
        Binding("u", "reset", "Reset", show=False),
        Binding("A", "approve_all", "Approve all"),
        Binding("S", "skip_all", "Skip all", show=False),
        Binding("p", "apply", "Apply"),
        Binding("c", "cancel_apply", "Cancel apply", show=False),
        Binding("R", "rollback", "Rollback"),
        Binding("F", "force_rollback", "Force rollback", show=False),
        Binding("t", "audit", "Audit"),
        Binding("r", "refresh", "Refresh"),
    ]
    DEFAULT_CSS = """
    RemediationScreen #rem-status { height: 1; padding: 0 1; color: $text-muted; }
    RemediationScreen #plans { height: auto; min-height: 2; max-height: 30%; }
    RemediationScreen #plan-line { height: auto; max-height: 3; padding: 0 1; background: $boost; }
    RemediationScreen #actions { height: auto; min-height: 3; max-height: 40%; }
    RemediationScreen #action-detail { height: 1fr; border-top: hkey $primary-darken-2; }
    RemediationScreen #readiness { height: auto; max-height: 2; padding: 0 1; text-style: bold; }
    RemediationScreen #readiness.ready { color: $text-success; }
    RemediationScreen #readiness.blocked { color: $text-warning; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.plans: list[dict[str, Any]] = []
        self.plan: dict[str, Any] | None = None
        self.readiness: str | None = None
        self._pending_plan: int | None = None  # to select once the list has it (see select_plan)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("loading…", id="rem-status")
        yield ItemTable(None, PLAN_COLUMNS, id="plans")
        yield Static("", id="plan-line")
        yield ItemTable(None, ACTION_COLUMNS, id="actions")
        yield ActionPreview(id="action-detail")
        yield Static("", id="readiness")
        yield Footer()

    @property
    def plans_table(self) -> ItemTable:
        return self.query_one("#plans", ItemTable)

    @property
    def actions_table(self) -> ItemTable:
        return self.query_one("#actions", ItemTable)

    def on_mount(self) -> None:
        self.load()

    def on_screen_resume(self) -> None:
        if self.is_mounted and self.plans_table.source is not None:
            self.load()  # back from the step-through, the apply log or another section

    # -- loading ----------------------------------------------------------------------------------------
    def action_refresh(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="load", name="loading remediation plans")
    def load(self) -> None:
        service = self.app.hub.remediation
        service.recover()  # plans left applying by a process that died (as every `remediate` command does)
        plans = service.list_plans(limit=200)
        who = service.approver()
        self.app.call_from_thread(self._show_plans, plans, who, service.settings.four_eyes)

    def _show_plans(self, plans: list[dict[str, Any]], who: str, four_eyes: bool) -> None:
        shown = self.plan  # newer than its row here when a decision crossed this read
        self.plans = [{**p, "status": shown["status"], "counts": shown["counts"]}
                      if shown is not None and p["id"] == shown["id"] and p["updated_at"] < shown["updated_at"]
                      else p for p in plans]
        plans = self.plans
        rule = "four-eyes on: 2 approvals from different users per action" if four_eyes else \
            "one approval per action"
        self.query_one("#rem-status", Static).update(
            f"{len(plans)} plan{'s' * (len(plans) != 1)} · {rule} · approving as [b]{escape(who)}[/]")
        table = self.plans_table
        table.set_model(Rows(PLAN_COLUMNS, [plan_row(p) for p in plans], [p["id"] for p in plans]))
        if not plans:
            self.plan, self.readiness = None, None
            self.actions_table.set_model(None)
            self.query_one("#plan-line", Static).update(
                "No remediation plan yet. Mark drift items in the Drift section (1) and press [b]a[/], or run "
                "[b]driftmgr remediate plan[/].")
            self.query_one(ActionPreview).show(None, "")
            self._set_readiness(None)
            return
        if self._pending_plan is not None:
            index = table.source.find(self._pending_plan) if table.source is not None else None
            if index is not None:
                table.move_cursor(index)
            else:
                self.notify(f"no remediation plan {self._pending_plan}", severity="warning")
            self._pending_plan = None
        self.load_plan(plans[max(table.cursor_row, 0)]["id"])

    def select_plan(self, plan_id: int) -> None:
        """Put the cursor on a plan (from the drift explorer or the palette) once the list has it."""
        self._pending_plan = plan_id
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="plan", name="loading the plan")
    def load_plan(self, plan_id: int) -> None:
        service = self.app.hub.remediation
        plan = service.get_plan(plan_id)
        self.app.call_from_thread(self._show_plan, plan, service.readiness(plan))

    def _show_plan(self, plan: dict[str, Any], readiness: str | None) -> None:
        if self.plans_table.cursor_key not in (None, plan["id"]):
            return  # the cursor moved on meanwhile
        shown = self.plan
        if shown is not None and shown["id"] == plan["id"] and plan["updated_at"] < shown["updated_at"]:
            return  # read before a decision that is already shown (two workers crossed)
        self.plan, self.readiness = plan, readiness
        counts = ", ".join(f"{n} {k}" for k, n in sorted(plan["counts"].items()))
        line = (f"plan [b]{plan['id']}[/] · {escape(plan['environment'])} · report {plan['report_id']} · "
                f"{plan['status']} · risk {plan['risk']} · {counts}")
        if plan.get("workdir"):
            line += f" · working dir {escape(relative_paths(plan['workdir']))}"
        for warning in plan.get("warnings") or ():
            line += f"\n[yellow]warning:[/] {escape(relative_paths(warning))}"
        self.query_one("#plan-line", Static).update(line)
        actions = plan["actions"]
        self.actions_table.set_model(Rows(ACTION_COLUMNS, [action_row(a) for a in actions],
                                          [a["id"] for a in actions], styled=(1, 4)))
        self._show_action()
        self._set_readiness(plan)
        # the list row of this plan follows what it is now
        for n, listed in enumerate(self.plans):
            if listed["id"] == plan["id"]:
                self.plans[n] = {**listed, "status": plan["status"], "counts": plan["counts"]}
        source = self.plans_table.source
        if isinstance(source, Rows):
            source.rows = [plan_row(p) for p in self.plans]
            self.plans_table.refresh_rows()

    def _set_readiness(self, plan: dict[str, Any] | None) -> None:
        widget = self.query_one("#readiness", Static)
        widget.remove_class("ready", "blocked")
        if plan is None:
            widget.update("")
            return
        status = plan["status"]
        if status == "draft" and self.readiness is None:
            widget.add_class("ready")
            widget.update("ready: [b]p[/] shows the dry run, then executes it")
            return
        widget.add_class("blocked")
        if status == "draft":
            widget.update(escape(self.readiness or ""))
        elif status == "applying":
            widget.update(f"plan {plan['id']} is being applied · [b]c[/] cancels it after the running action")
        else:
            failed = [a for a in plan["actions"] if a["status"] == "failed"]
            text = f"plan {plan['id']} {status}"
            if failed:
                text += f" · action {failed[0]['id']} failed: {escape(relative_paths(failed[0]['error'] or ''))}"
            if any(a["status"] in RAN for a in plan["actions"]):
                text += " · [b]R[/] rolls back what ran"
            widget.update(text)

    def on_item_table_highlighted(self, event: ItemTable.Highlighted) -> None:
        if event.table.id == "plans":
            if 0 <= event.index < len(self.plans):
                self.load_plan(self.plans[event.index]["id"])
        else:
            self._show_action()

    def on_item_table_selected(self, event: ItemTable.Selected) -> None:
        event.stop()
        self.action_step(from_table=event.table.id or "")

    def _current_action(self) -> dict[str, Any] | None:
        if self.plan is None:
            return None
        index = self.actions_table.cursor_row
        actions = self.plan["actions"]
        return actions[index] if 0 <= index < len(actions) else None

    def _show_action(self) -> None:
        action = self._current_action()
        shown = self.query_one(ActionPreview)
        if action is None or action is not getattr(shown, "action", None):
            shown.show(action, "no action")

    # -- step-through -----------------------------------------------------------------------------------
    def action_step(self, from_table: str = "actions") -> None:
        if self.plan is None or not self.plan["actions"]:
            self.notify("no plan selected", severity="warning")
            return
        actions = self.plan["actions"]
        if from_table == "plans" or self.focused is self.plans_table:
            undecided = [n for n, a in enumerate(actions) if a["status"] not in DECIDED]
            index = undecided[0] if undecided else 0
        else:
            index = max(self.actions_table.cursor_row, 0)
        self.app.push_screen(StepScreen(self, self.plan, index))

    # -- decisions ----------------------------------------------------------------------------------------
    def _decision_target(self) -> dict[str, Any] | None:
        action = self._current_action()
        if action is None:
            self.notify("no action selected", severity="warning")
        return action

    def action_approve(self) -> None:
        action = self._decision_target()
        if action is not None:
            self.request_decision(action, "approved")

    def action_skip(self) -> None:
        action = self._decision_target()
        if action is not None:
            self.request_decision(action, "skipped")

    def action_reject(self) -> None:
        action = self._decision_target()
        if action is not None:
            self.request_decision(action, "rejected")

    def action_reset(self) -> None:
        action = self._decision_target()
        if action is not None:
            self.request_decision(action, "pending")

    def request_decision(self, action: dict[str, Any], decision: str,
                         then: Callable[[dict[str, Any]], None] | None = None) -> None:
        """Decide one action of the current plan; a dangerous approval first asks for the id typed back.
        ``then`` gets the plan afterwards (the step-through moves on)."""
        if self.app.read_only or self.plan is None:
            return
        plan_id = self.plan["id"]
        if decision == "approved" and action["dangerous"] and action["available"] \
                and action["status"] not in ("approved",):
            preview = (action["preview"] or {})
            text = "\n".join([preview.get("summary") or "", "", *preview.get("api_calls", [])])
            self.app.push_screen(
                ConfirmScreen(f"Approve action {action['id']}: {action['strategy']} {target_of(action)}",
                              relative_paths(text), typed=action["terraform_id"], action="Approve"),
                lambda ok: self.decide(plan_id, [action["id"]], decision, action["terraform_id"], then)
                if ok else None)
            return
        self.decide(plan_id, [action["id"]], decision, None, then)

    @work(thread=True, exclusive=True, exit_on_error=False, group="decide", name="recording the decision")
    def decide(self, plan_id: int, seqs: list[int] | None, decision: str, confirm: str | None = None,
               then: Callable[[dict[str, Any]], None] | None = None) -> None:
        service = self.app.hub.remediation
        try:
            plan = service.decide(plan_id, seqs, decision, confirm=confirm)
        except DriftmgrError as exc:  # a refusal (four-eyes, unavailable, not a draft): said, nothing changed
            self.app.call_from_thread(self.notify, exc.message, title="refused", severity="error", timeout=10)
            return
        self.app.call_from_thread(self._decided, plan, service.readiness(plan), then)

    def _decided(self, plan: dict[str, Any], readiness: str | None,
                 then: Callable[[dict[str, Any]], None] | None) -> None:
        for note in plan.get("notes") or ():
            self.notify(note, severity="warning" if " left " in note else "information", timeout=8)
        self._show_plan(plan, readiness)
        if then is not None:
            then(plan)

    def _undecided(self) -> list[dict[str, Any]]:
        return [a for a in self.plan["actions"] if a["status"] not in DECIDED] if self.plan else []

    def action_approve_all(self) -> None:
        self._decide_all("approved")

    def action_skip_all(self) -> None:
        self._decide_all("skipped")

    def _decide_all(self, decision: str) -> None:
        if self.plan is None:
            self.notify("no plan selected", severity="warning")
            return
        undecided = self._undecided()
        if not undecided:
            self.notify(f"plan {self.plan['id']} has no undecided action", severity="warning")
            return
        plan_id = self.plan["id"]
        lines = [f"{a['id']:>3}. {a['strategy']} {target_of(a)}" for a in undecided]
        if decision == "approved":
            title = f"Approve every undecided action of plan {plan_id}?"
            lines += ["", "A dangerous or unavailable action stays pending: approve a dangerous one on its own "
                          "(its id typed back), skip an unavailable one."]
            label = "Approve all"
        else:
            title = f"Skip every undecided action of plan {plan_id}?"
            label = "Skip all"
        self.app.push_screen(ConfirmScreen(title, "\n".join(lines), action=label),
                             lambda ok: self.decide(plan_id, None, decision) if ok else None)

    # -- apply, cancel, rollback ----------------------------------------------------------------------------
    def action_apply(self) -> None:
        if self.plan is None:
            self.notify("no plan selected", severity="warning")
            return
        self.dry_run(self.plan["id"])

    @work(thread=True, exclusive=True, exit_on_error=False, group="plan", name="checking the plan")
    def dry_run(self, plan_id: int) -> None:
        """What ``remediate apply`` without ``--execute`` says: the refusal, or the actions in order."""
        service = self.app.hub.remediation
        service.recover()
        plan = service.get_plan(plan_id)
        reason = service.readiness(plan)
        self.app.call_from_thread(self._show_plan, plan, reason)
        if reason:
            self.app.call_from_thread(self.notify, reason, title="apply refused", severity="error", timeout=10)
            return
        self.app.call_from_thread(self._confirm_apply, plan)

    def _confirm_apply(self, plan: dict[str, Any]) -> None:
        dangerous = any(a["dangerous"] for a in plan["actions"] if a["status"] == "approved")
        self.app.push_screen(
            ConfirmScreen(f"Execute plan {plan['id']}?", dry_run_text(plan), typed="delete" if dangerous else None,
                          action="Execute"),
            lambda ok: self.app.push_screen(ApplyLogScreen(plan["id"], "apply")) if ok else None)

    def action_cancel_apply(self) -> None:
        if self.plan is None:
            self.notify("no plan selected", severity="warning")
            return
        self.cancel_apply(self.plan["id"])

    @work(thread=True, exit_on_error=False, group="cancel", name="cancelling the apply")
    def cancel_apply(self, plan_id: int) -> None:
        try:
            self.app.hub.remediation.cancel(plan_id)
        except DriftmgrError as exc:
            self.app.call_from_thread(self.notify, exc.message, severity="error")
            return
        self.app.call_from_thread(self.notify, f"cancellation requested for plan {plan_id}: the running action "
                                               "finishes, the rest do not run")

    def action_rollback(self) -> None:
        self._rollback(force=False)

    def action_force_rollback(self) -> None:
        self._rollback(force=True)

    def _rollback(self, *, force: bool) -> None:
        plan = self.plan
        if plan is None:
            self.notify("no plan selected", severity="warning")
            return
        ran = sorted((a for a in plan["actions"] if a["status"] in RAN), key=lambda a: a["id"], reverse=True)
        if plan["status"] == "applying":
            self.notify(f"plan {plan['id']} is being applied; cancel it first (c)", severity="error")
            return
        if not ran:
            self.notify(f"plan {plan['id']} has nothing to roll back", severity="warning")
            return
        title = f"{'Force roll' if force else 'Roll'} back plan {plan['id']}?"
        self.app.push_screen(
            ConfirmScreen(title, rollback_text(plan["id"], ran, force), typed="force" if force else None,
                          action="Force rollback" if force else "Roll back"),
            lambda ok: self.app.push_screen(ApplyLogScreen(plan["id"], "rollback", force=force)) if ok else None)

    # -- audit ----------------------------------------------------------------------------------------------
    def action_audit(self) -> None:
        self.app.push_screen(AuditScreen(self.plan["id"] if self.plan else None))
