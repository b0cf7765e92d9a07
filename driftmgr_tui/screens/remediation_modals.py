"""The screens the Remediation section opens, the step-through (one action at a time with its full preview,
decided with a / s / x) and the apply and rollback log (output streamed line by line), and the rows of its
plan and action tables."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Static
from textual.worker import WorkerState

from driftmgr_tui.core.errors import DriftmgrError
from driftmgr_tui.screens.common import describe_error
from driftmgr_tui.widgets.action_preview import ActionPreview, approvals_text, relative_paths, target_of
from driftmgr_tui.widgets.log_view import LogView

if TYPE_CHECKING:
    from driftmgr_tui.screens.remediation import RemediationScreen

Bindings = list[Binding | tuple[str, str] | tuple[str, str, str]]


class Rows:
    """A fixed list of rows for an ItemTable, keyed so the cursor stays on the same plan, action or entry."""

    def __init__(self, columns: Sequence[tuple[str, int | None]], rows: list[tuple[str, ...]],
                 keys: list[Hashable], styled: tuple[int, ...] = ()) -> None:
        self.columns = columns
        self.rows = rows
        self.keys = keys
        self.styled_columns = styled

    def __len__(self) -> int:
        return len(self.rows)

    def row(self, index: int) -> tuple[str, ...]:
        return self.rows[index]

    def item_id(self, index: int) -> Hashable:
        return self.keys[index]

    def find(self, key: Hashable) -> int | None:
        try:
            return self.keys.index(key)
        except ValueError:
            return None


PLAN_COLUMNS = (("Plan", 5), ("Env", 12), ("Created (UTC)", 16), ("Status", 11), ("Approved", 9),
                ("Readiness", None))
ACTION_COLUMNS = (("#", 3), ("Kind", 9), ("Address", None), ("Strategy", 8), ("Risk", 8), ("Approvals", 9),
                  ("Status", 11))
DECIDED = ("approved", "skipped")
UNDO = {"state-backup": "restore the state's backup", "file": "remove the written file",
        "lines": "take the .driftignore lines out", "sdk-reverse": "the reverse API call",
        "none": "none: it cannot be undone"}
RAN = ("succeeded", "failed")


def readiness_label(plan: dict[str, Any]) -> str:
    """A few words for the plan list (the selected plan's line below has the service's full sentence)."""
    counts: dict[str, int] = plan.get("counts") or {}
    if plan["status"] != "draft":
        return "-"
    if counts.get("rejected"):
        return f"{counts['rejected']} rejected"
    undecided = sum(n for status, n in counts.items() if status not in DECIDED)
    if undecided:
        return f"{undecided} undecided"
    return "ready" if counts.get("approved") else "nothing approved"


def plan_row(plan: dict[str, Any]) -> tuple[str, ...]:
    counts: dict[str, int] = plan.get("counts") or {}
    total = sum(counts.values())
    approved = total - counts.get("pending", 0) - counts.get("skipped", 0) - counts.get("rejected", 0)
    created = plan["created_at"].strftime("%Y-%m-%d %H:%M") if plan.get("created_at") else ""
    return (str(plan["id"]), plan["environment"], created, plan["status"], f"{approved}/{total}",
            readiness_label(plan))


def action_row(action: dict[str, Any]) -> tuple[str, ...]:
    status = action["status"] if action.get("available", True) or action["status"] != "pending" else "unavailable"
    return (str(action["id"]), action["kind"], target_of(action), action["strategy"], action["risk"],
            approvals_text(action), status)



def dry_run_text(plan: dict[str, Any]) -> str:
    """What ``remediate apply`` without ``--execute`` prints: the approved actions in the order they run."""
    approved = [a for a in plan["actions"] if a["status"] == "approved"]
    lines = [f"dry run of plan {plan['id']}: {len(approved)} action(s) would run, in this order", ""]
    for a in approved:
        lines.append(f"{a['id']:>3}. {a['strategy']} {target_of(a)} ({a['risk']})")
        if (a["preview"] or {}).get("summary"):
            lines.append(f"     {a['preview']['summary']}")
    lines += ["", "nothing was changed yet."]
    dangerous = [a["terraform_id"] for a in approved if a["dangerous"]]
    if dangerous:
        lines.append(f"{len(dangerous)} of them delete cloud resources: {', '.join(dangerous)}")
    return relative_paths("\n".join(lines))


def rollback_text(plan_id: int, ran: list[dict[str, Any]], force: bool) -> str:
    lines = [f"undoes what plan {plan_id} ran, newest first:", ""]
    for a in ran:
        how = UNDO.get(a.get("rollback") or "", a.get("rollback") or "nothing recorded")
        lines.append(f"{a['id']:>3}. {a['strategy']} {target_of(a)} ({a['status']}; undo: {how})")
    lines += ["", "A state is restored from the backup taken before the action; written files are removed; "
                  ".driftignore lines are taken out. A cloud delete cannot be undone."]
    if force:
        lines.append("FORCE: restores even where the state or the file changed after the action.")
    return relative_paths("\n".join(lines))


class ReadOnlyAware(Screen[None]):
    DESTRUCTIVE: ClassVar[frozenset[str]] = frozenset()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action in self.DESTRUCTIVE and getattr(self.app, "read_only", False))


class StepScreen(ReadOnlyAware):
    """A plan's actions one at a time, each with its full preview; a decision moves on to the next."""

    TITLE = "driftmgr · Remediation · step through"
    AUTO_FOCUS = "ActionPreview"
    DESTRUCTIVE: ClassVar[frozenset[str]] = frozenset({"approve", "skip", "reject", "reset"})
    BINDINGS: ClassVar[Bindings] = [
        Binding("n,right", "move(1)", "Next"),
        Binding("p,left", "move(-1)", "Previous"),
        Binding("a", "approve", "Approve"),
        Binding("s", "skip", "Skip"),
        Binding("x", "reject", "Reject"),
        Binding("u", "reset", "Reset"),
        Binding("escape", "close", "Back"),
    ]
    DEFAULT_CSS = """
    StepScreen #step-title { height: 1; padding: 0 1; background: $boost; text-style: bold; }
    StepScreen #step-hint { height: auto; max-height: 2; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, owner: RemediationScreen, plan: dict[str, Any], index: int = 0) -> None:
        super().__init__()
        self.owner = owner
        self.plan = plan
        self.index = min(max(index, 0), len(plan["actions"]) - 1)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="step-title")
        yield ActionPreview(id="step-preview")
        yield Static("", id="step-hint")
        yield Footer()

    def on_mount(self) -> None:
        self._render_action()

    @property
    def action_now(self) -> dict[str, Any]:
        return self.plan["actions"][self.index]

    def _render_action(self) -> None:
        action = self.action_now
        total = len(self.plan["actions"])
        self.query_one("#step-title", Static).update(
            f"plan {self.plan['id']} · action {self.index + 1} of {total} · {action['status']} · "
            f"approvals {approvals_text(action)}")
        self.query_one(ActionPreview).show(action)
        undecided = sum(1 for a in self.plan["actions"] if a["status"] not in DECIDED)
        if self.plan["status"] != "draft":
            hint = f"plan {self.plan['id']} is {self.plan['status']}: its decisions are final"
        elif self.app.read_only:
            hint = "read-only: decisions are not available"
        elif undecided:
            hint = (f"{undecided} undecided · a approves, s skips (it will not run), x rejects (blocks the plan), "
                    "u resets; "
                    "each moves on to the next action")
        else:
            hint = "every action is decided · esc goes back to the plan, where p applies it"
        self.query_one("#step-hint", Static).update(escape(hint))

    def action_move(self, step: int) -> None:
        index = min(max(self.index + step, 0), len(self.plan["actions"]) - 1)
        if index == self.index:
            self.notify("that is the last action" if step > 0 else "that is the first action")
            return
        self.index = index
        self._render_action()

    def _decide(self, decision: str) -> None:
        self.owner.request_decision(self.action_now, decision, then=self._decided)

    def action_approve(self) -> None:
        self._decide("approved")

    def action_skip(self) -> None:
        self._decide("skipped")

    def action_reject(self) -> None:
        self._decide("rejected")

    def action_reset(self) -> None:
        self._decide("pending")

    def _decided(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        if self.index < len(plan["actions"]) - 1:
            self.index += 1
        self._render_action()

    def action_close(self) -> None:
        self.dismiss(None)


class ApplyLogScreen(ReadOnlyAware):
    """Executes a plan (or rolls it back) in a worker and streams its output into a LogView."""

    AUTO_FOCUS = "LogView"
    DESTRUCTIVE: ClassVar[frozenset[str]] = frozenset({"cancel_apply"})
    BINDINGS: ClassVar[Bindings] = [
        Binding("c", "cancel_apply", "Cancel"),
        Binding("escape", "close", "Back"),
    ]
    DEFAULT_CSS = """
    ApplyLogScreen #log-title { height: 1; padding: 0 1; background: $boost; text-style: bold; }
    ApplyLogScreen #log-status { height: auto; max-height: 4; padding: 0 1; text-style: bold; }
    ApplyLogScreen #log-status.ok { color: $text-success; }
    ApplyLogScreen #log-status.bad { color: $text-error; }
    """

    def __init__(self, plan_id: int, mode: str, *, force: bool = False) -> None:
        if mode not in ("apply", "rollback"):
            raise ValueError(f"mode {mode!r}: expected apply or rollback")
        super().__init__()
        self.plan_id = plan_id
        self.mode = mode
        self.force = force
        self.running = True
        self.result: dict[str, Any] | None = None
        self.title = f"driftmgr · Remediation · {'apply' if mode == 'apply' else 'rollback'} of plan {plan_id}"

    def compose(self) -> ComposeResult:
        yield Header()
        what = "executing" if self.mode == "apply" else "rolling back" + (" (forced)" if self.force else "")
        yield Static(f"plan {self.plan_id} · {what}", id="log-title")
        yield LogView(id="log")
        yield Static("running…", id="log-status")
        yield Footer()

    @property
    def log_view(self) -> LogView:
        return self.query_one(LogView)

    def on_mount(self) -> None:
        self.run_plan()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_apply" and (self.mode != "apply" or not self.running):
            return False  # nothing to cancel
        return super().check_action(action, parameters)

    @work(thread=True, exclusive=True, exit_on_error=False, group="apply", name="applying the plan")
    def run_plan(self) -> None:
        service = self.app.hub.remediation

        def line(seq: int, text: str) -> None:
            self.app.call_from_thread(self._line, seq, text)

        if self.mode == "apply":
            result = service.apply(self.plan_id, on_line=line)
        else:
            result = service.rollback(self.plan_id, force=self.force, on_line=line)
        self.app.call_from_thread(self._finished, result)

    def _line(self, seq: int, text: str) -> None:
        self.log_view.write_line(Text.assemble((f"{seq:>3} ", "dim"), relative_paths(text)))

    def _finished(self, result: dict[str, Any]) -> None:
        self.running = False
        self.result = result
        self.refresh_bindings()
        self.query_one("#log-title", Static).update(
            f"plan {self.plan_id} · {'apply' if self.mode == 'apply' else 'rollback'} finished")
        status = result["status"]
        if self.mode == "apply":
            succeeded = [a for a in result["actions"] if a["status"] == "succeeded"]
            failed = [a for a in result["actions"] if a["status"] == "failed"]
            waiting = [a["id"] for a in result["actions"] if a["status"] == "approved"]
            text = f"plan {self.plan_id} {status}: {len(succeeded)} action(s) succeeded"
            if failed:
                a = failed[0]
                text += (f"\naction {a['id']} ({a['strategy']} {target_of(a)}) failed: "
                         f"{relative_paths(a['error'] or '')}")
            if waiting:
                text += f"\nnot run: action(s) {', '.join(map(str, waiting))}"
            if status != "applied" and (succeeded or failed):
                text += "\nR in the plan list rolls back what ran"
            ok = status == "applied"
        else:
            results = result.get("rollback") or []
            counts: dict[str, int] = {}
            for r in results:
                counts[r["result"]] = counts.get(r["result"], 0) + 1
            text = f"plan {self.plan_id} {status}: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
            for r in results:
                if r["result"] != "rolled back":
                    text += f"\naction {r['action']} {r['result']}: {relative_paths(r['message'])}"
            ok = not any(r["result"] == "failed" for r in results)
        self._set_status(text + " · esc goes back", ok)
        self.log_view.write_line(Text(f"-- {text.splitlines()[0]}", style="bold"))

    def _set_status(self, text: str, ok: bool) -> None:
        widget = self.query_one("#log-status", Static)
        widget.remove_class("ok", "bad")
        widget.add_class("ok" if ok else "bad")
        widget.update(escape(text))

    def on_worker_state_changed(self, event: Any) -> None:
        if event.worker.group == "apply" and event.state == WorkerState.ERROR:
            self.running = False
            self.refresh_bindings()
            message = describe_error(event.worker.error)[0] if event.worker.error else "unknown error"
            self._set_status(f"{'apply' if self.mode == 'apply' else 'rollback'} of plan {self.plan_id} failed: "
                             f"{relative_paths(message)} · esc goes back", False)
            self.app.show_error(f"{'applying' if self.mode == 'apply' else 'rolling back'} plan {self.plan_id} "
                                "failed", event.worker.error or "unknown error")
        elif event.state == WorkerState.ERROR and event.worker.error is not None:
            self.app.show_error(f"{event.worker.name or 'background work'} failed", event.worker.error)

    def action_cancel_apply(self) -> None:
        self.cancel()

    @work(thread=True, exit_on_error=False, group="cancel", name="cancelling the apply")
    def cancel(self) -> None:
        try:
            self.app.hub.remediation.cancel(self.plan_id)
        except DriftmgrError as exc:
            self.app.call_from_thread(self.notify, exc.message, severity="error")
            return
        self.app.call_from_thread(self.notify, "cancellation requested: the running action finishes, the rest "
                                               "do not run")

    def action_close(self) -> None:
        if self.running:
            self.notify("still running: wait for it" + (" or press c to cancel after the running action"
                                                       if self.mode == "apply" else ""), severity="warning")
            return
        self.dismiss(None)
