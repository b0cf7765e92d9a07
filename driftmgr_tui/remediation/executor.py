"""Running an approved action for real, and undoing it.

Every state-changing action records what undoes it *before* it changes anything it cannot change atomically
(a terraform apply may fail half-way): the id of the state backup taken first. Rollback then restores that
backup, removes a file driftmgr wrote, or takes lines back out of ``.driftignore``. A cloud delete has no
undo, which is why approving it needs the id typed back.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftmgr_tui.core.errors import DriftmgrError, StateConflictError
from driftmgr_tui.remediation.files import append_lines, remove_lines, sha256_of
from driftmgr_tui.remediation.preview import state_source


class NotReversible(DriftmgrError):
    """The action changed something driftmgr cannot change back."""


@dataclass
class ActionRun:
    """What executing one action needs to know about it."""

    plan_id: int
    seq: int
    kind: str
    strategy: str
    terraform_type: str
    terraform_id: str
    address: str | None
    params: dict[str, Any]
    preview: dict[str, Any]


@dataclass
class Outcome:
    lines: list[str] = field(default_factory=list)
    undo: dict[str, Any] = field(default_factory=dict)
    before_digest: str | None = None
    after_digest: str | None = None


class Executor:
    def __init__(self, state_service: Any, *, lock_timeout: float, on_line: Callable[[str], None],
                 cancel: threading.Event | None = None,
                 terraform_factory: Callable[..., Any] | None = None,
                 cloud_clients: Callable[[str], Any] | None = None) -> None:
        self.states = state_service
        self.lock_timeout = lock_timeout
        self.on_line = on_line
        self.cancel = cancel
        self._terraform_factory = terraform_factory
        self._cloud_clients = cloud_clients
        # state location -> serial this executor left it at: the plan's own earlier writes are not a conflict
        self.written: dict[str, int] = {}

    def terraform(self, workdir: Path) -> Any:
        if self._terraform_factory is not None:
            return self._terraform_factory(workdir)
        from driftmgr_tui.core.terraform import Terraform

        return Terraform(workdir, lock_timeout=f"{int(self.lock_timeout)}s", cancel=self.cancel,
                         on_line=lambda _stream, line: self.on_line(line))

    def _say(self, out: Outcome, line: str) -> None:
        out.lines.append(line)
        self.on_line(line)

    # ------------------------------------------------------------------------------------------- run

    def run(self, action: ActionRun, record_undo: Callable[[dict[str, Any]], None]) -> Outcome:
        handler = getattr(self, f"_run_{action.strategy}")
        return handler(action, record_undo)

    def _check_serial(self, action: ActionRun, source: Any) -> None:
        planned = (action.preview.get("serial") or [None])[0]
        if planned is None:
            return
        state = self.states.load(source)
        current = state.serial
        if current != planned and current != self.written.get(str(state.path)):
            raise StateConflictError(
                f"the state changed since plan {action.plan_id} was made (serial {planned} -> {current}): "
                "this action's preview is out of date", hint="make a new plan: driftmgr remediate plan ...")

    def _state_edit(self, action: ActionRun, record_undo: Callable[[dict[str, Any]], None],
                    write: Callable[[Any], Any]) -> Outcome:
        out = Outcome()
        source = state_source(action.params.get("source"))
        self._check_serial(action, source)
        out.before_digest = _digest(self.states.pull(source))
        result = write(source)
        after = self.states.load(source)
        out.after_digest = _digest(self.states.pull(source))
        out.undo = {"mode": "state-backup", "source": action.params.get("source"), "backup_id": result.backup_id,
                    "after_content": _content(after)}
        record_undo(out.undo)
        if result.new_serial is not None:
            self.written[result.location] = result.new_serial
        for message in result.messages:
            self._say(out, message)
        self._say(out, f"state {result.location}: serial {result.old_serial} -> {result.new_serial}, "
                       f"backup {result.backup_id}")
        return out

    def _run_forget(self, action: ActionRun, record_undo: Callable[[dict[str, Any]], None]) -> Outcome:
        address = action.params["address"]
        return self._state_edit(action, record_undo, lambda source: self.states.rm(
            source, [address], lock_timeout=self.lock_timeout))

    def _run_accept(self, action: ActionRun, record_undo: Callable[[dict[str, Any]], None]) -> Outcome:
        if action.params.get("mode") == "terraform":
            return self._targeted_apply(action, record_undo, refresh_only=True)
        address, values = action.params["address"], action.params["values"]
        return self._state_edit(action, record_undo, lambda source: self.states.set_attributes(
            source, address, values, reason=f"before remediation plan {action.plan_id} action {action.seq}",
            lock_timeout=self.lock_timeout))

    def _run_recreate(self, action: ActionRun, record_undo: Callable[[dict[str, Any]], None]) -> Outcome:
        return self._targeted_apply(action, record_undo, refresh_only=False)

    def _run_revert(self, action: ActionRun, record_undo: Callable[[dict[str, Any]], None]) -> Outcome:
        return self._targeted_apply(action, record_undo, refresh_only=False)

    def _targeted_apply(self, action: ActionRun, record_undo: Callable[[dict[str, Any]], None], *,
                        refresh_only: bool) -> Outcome:
        from driftmgr_tui.services.state_service import StateSource

        out = Outcome()
        workdir = Path(action.params["workdir"])
        address = action.params["address"]
        tf = self.terraform(workdir)
        tf.init()
        source = StateSource(chdir=workdir)
        store = self.states.store(source, lock_timeout=self.lock_timeout)
        _, obj = store.read_optional()
        backup_id = None
        if obj is not None:
            backup_id = self.states.backup(source, reason=f"before remediation plan {action.plan_id} action "
                                                          f"{action.seq} ({action.strategy} {address})").id
            out.before_digest = _digest(obj.data)
        out.undo = {"mode": "state-backup", "source": {"chdir": str(workdir)}, "backup_id": backup_id,
                    "cloud_changed": not refresh_only}
        record_undo(out.undo)  # before terraform touches anything
        self._say(out, f"state backed up (backup {backup_id})" if backup_id else "no state yet: nothing to back up")
        tmp = Path(tempfile.mkdtemp(prefix="driftmgr-remediate-"))
        lock = f"-lock-timeout={int(self.lock_timeout)}s"
        try:
            planfile = tmp / "action.tfplan"
            tf.run("plan", *(["-refresh-only"] if refresh_only else []), "-input=false", lock,
                   f"-target={address}", f"-out={planfile}")
            shown = json.loads(tf.run("show", "-json", str(planfile), echo_stdout=False).stdout)
            for line in check_targeted_plan(shown, address):
                self._say(out, line)
            tf.run("apply", "-input=false", lock, str(planfile))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        after_state, after = store.read_optional()
        out.after_digest = _digest(after.data) if after is not None else None
        if after_state is not None:
            self.written[store.location] = after_state.serial
            out.undo["after_content"] = _content(after_state)
        record_undo(out.undo)
        self._say(out, f"terraform apply finished for {address}")
        return out

    def _run_codify(self, action: ActionRun, record_undo: Callable[[dict[str, Any]], None]) -> Outcome:
        from driftmgr_tui.remediation.codegen import write_new_file

        out = Outcome()
        target = Path(action.params["file"])
        path = write_new_file(target.parent, target.name, action.params["hcl"])
        out.after_digest = sha256_of(path)
        out.undo = {"mode": "file", "path": str(path), "sha256": out.after_digest}
        record_undo(out.undo)
        self._say(out, f"wrote {path} ({action.params['address']}); `terraform plan` in "
                       f"{path.parent} shows the import")
        return out

    def _run_ignore(self, action: ActionRun, record_undo: Callable[[dict[str, Any]], None]) -> Outcome:
        out = Outcome()
        path = Path(action.params["file"])
        out.before_digest = sha256_of(path)
        created, added = append_lines(path, list(action.params["lines"]),
                                      comment=f"driftmgr remediation plan {action.plan_id} action {action.seq}")
        out.after_digest = sha256_of(path)
        out.undo = {"mode": "lines", "path": str(path), "lines": added, "created": created}
        record_undo(out.undo)
        rules = [line for line in added if not line.startswith("#")]
        self._say(out, f"added {len(rules)} rule(s) to {path}" if rules else f"{path} already had these rules")
        return out

    def _run_delete(self, action: ActionRun, record_undo: Callable[[dict[str, Any]], None]) -> Outcome:
        from driftmgr_tui.remediation.cloud_ops import execute_delete, plan_delete

        out = Outcome()
        params = action.params
        plan = plan_delete(params["provider"], action.terraform_type, action.terraform_id, params.get("region", ""),
                           params.get("attributes") or {})
        out.undo = {"mode": "sdk-reverse", "plan": plan.to_json()} if plan.reversible else \
            {"mode": "none", "reason": plan.reverse_note}
        record_undo(out.undo)
        kwargs: dict[str, Any] = {"on_call": lambda text: self._say(out, f"calling {text}")}
        if self._cloud_clients is not None and params["provider"] == "aws":
            kwargs["aws"] = self._cloud_clients("aws")
        for line in execute_delete(plan, **kwargs):
            self._say(out, line)
        out.after_digest = None
        return out

    # -------------------------------------------------------------------------------------- rollback

    def rollback(self, action: ActionRun, undo: dict[str, Any], *, force: bool = False) -> list[str]:
        mode = undo.get("mode")
        if mode == "state-backup":
            return self._restore(action, undo, force=force)
        if mode == "file":
            return _remove_file(Path(undo["path"]), undo.get("sha256"), force=force)
        if mode == "lines":
            path = Path(undo["path"])
            removed = remove_lines(path, list(undo.get("lines") or ()), created=bool(undo.get("created")))
            return [f"removed {len([r for r in removed if not r.startswith('#')])} rule(s) from {path}"]
        if mode == "sdk-reverse":
            from driftmgr_tui.remediation.cloud_ops import DeletePlan, undo_delete

            kwargs = {"aws": self._cloud_clients("aws")} if self._cloud_clients is not None else {}
            return undo_delete(DeletePlan.from_json(undo["plan"]), **kwargs)
        if mode == "none":
            raise NotReversible(f"{action.strategy} {action.terraform_type} {action.terraform_id} cannot be "
                                f"undone: {undo.get('reason')}")
        return [f"action {action.seq} changed nothing before it stopped: nothing to undo"]

    def _restore(self, action: ActionRun, undo: dict[str, Any], *, force: bool) -> list[str]:
        source = state_source(undo.get("source"))
        backup_id = undo.get("backup_id")
        if backup_id is None:
            raise NotReversible(f"there was no state before action {action.seq}: nothing to restore")
        current = _content(self.states.load(source))
        if undo.get("after_content") and current != undo["after_content"] and not force:
            raise StateConflictError(
                f"the state changed after action {action.seq} ran (someone applied since?): restoring backup "
                f"{backup_id} would throw that change away", hint="rollback --force restores it anyway")
        result = self.states.restore(source, str(backup_id), lock_timeout=self.lock_timeout)
        lines = [f"state {result.location} restored from backup {backup_id} "
                 f"(serial {result.old_serial} -> {result.new_serial})"]
        if undo.get("cloud_changed"):
            lines.append("note: what terraform apply changed in the cloud stays as it is; the next drift scan "
                         "shows it")
        return lines


def _remove_file(path: Path, expected: str | None, *, force: bool) -> list[str]:
    current = sha256_of(path)
    if current is None:
        return [f"{path} is already gone"]
    if expected and current != expected and not force:
        raise StateConflictError(f"{path} was edited after driftmgr wrote it: not removing it",
                                 hint="rollback --force removes it anyway")
    path.unlink()
    return [f"removed {path}"]


def _content(state: Any) -> str:
    """Digest of a state's content (resources, outputs, checks) without serial and lineage: a restore that
    rewrote the same content is not a change."""
    from driftmgr_tui.state.codec import content_digest

    return _digest(content_digest(state)) or ""


def _digest(data: bytes | None) -> str | None:
    from driftmgr_tui.remediation.audit import digest

    return digest(data) if data is not None else None


def check_targeted_plan(shown: dict[str, Any], address: str) -> list[str]:
    """What a ``-target`` plan will do, one line per change; DriftmgrError when it would destroy anything but
    the target (a targeted apply must never take other resources with it)."""
    lines = []
    refused = []
    for change in shown.get("resource_changes") or ():
        actions = (change.get("change") or {}).get("actions") or []
        if actions in (["no-op"], ["read"]):
            continue
        where = change.get("address", "?")
        verb = {("create",): "create", ("update",): "update in place", ("delete",): "destroy",
                ("delete", "create"): "replace (destroy, then create)",
                ("create", "delete"): "replace (create, then destroy)"}.get(tuple(actions), "/".join(actions))
        lines.append(f"terraform will {verb} {where}")
        if "delete" in actions and where != address:
            refused.append(f"{verb} {where}")
    if refused:
        raise DriftmgrError(f"the targeted plan for {address} would also {', '.join(refused)}: refusing",
                            hint="run terraform plan yourself to see why")
    if not lines:
        lines.append(f"terraform has no changes to make for {address}")
    return lines
