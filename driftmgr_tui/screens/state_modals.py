"""What the State browser does with states, apart from showing them: reading an environment's states (in a
worker), the operations (dry-run preview, confirmation, write, reload) and their modals: the destination of
a move, an import form, the validation report, the backup list (restore) and the lock (force-unlock).
Restore and force-unlock are hidden in read-only mode."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, Static, TextArea
from textual.worker import get_current_worker

from driftmgr_tui.core.errors import DriftmgrError, LockInfo
from driftmgr_tui.screens.common import ConfirmScreen


@dataclass
class StateView:
    """One loaded state, grouped for the tree: module -> resource address -> instances, in state order."""

    location: str
    label: str
    source: Any
    state: Any
    modules: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    lock: Any = None  # LockStatus
    lock_error: str = ""


def location_labels(locations: list[str]) -> dict[str, str]:
    """Short, stable names: a path relative to the current directory, else the file name (the full path
    when two states share it); backend URLs as they are."""
    labels = {}
    for location in locations:
        path = Path(location)
        if "://" in location:
            labels[location] = location
        elif path.is_relative_to(Path.cwd()):
            labels[location] = str(path.relative_to(Path.cwd()))
        else:
            labels[location] = path.name
    counts = Counter(labels.values())
    return {loc: loc if counts[label] > 1 else label for loc, label in labels.items()}


def read_views(hub: Any) -> tuple[list[StateView], list[str]]:
    """Every state of the hub's environment, grouped, with its lock status (runs in a worker thread)."""
    from driftmgr_tui.services.environments import load_states

    loaded = load_states(hub.state, hub.spec())
    labels = location_labels([location for location, _ in loaded.states])
    views = []
    for location, state in loaded.states:
        modules: dict[str, dict[str, list[Any]]] = {}
        for ref in state.instances():
            modules.setdefault(ref.module, {}).setdefault(ref.resource_address, []).append(ref)
        view = StateView(location, labels[location], loaded.sources[location], state,
                         {m: modules[m] for m in sorted(modules, key=lambda m: (m != "", m))})
        try:
            view.lock = hub.state.locks(view.source)
        except DriftmgrError as exc:
            view.lock_error = exc.message
        views.append(view)
    return views, loaded.warnings


_MODAL_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 100; max-width: 95%; height: auto; max-height: 90%; border: thick $primary;
                    background: $surface; padding: 0 1; }}
{name} .modal-title {{ text-style: bold; padding: 1 0 0 0; }}
{name} .modal-info {{ color: $text-muted; }}
{name} .modal-error {{ color: $error; }}
{name} DataTable {{ height: auto; max-height: 16; margin: 1 0 0 0; }}
{name} Horizontal {{ height: auto; align-horizontal: right; margin-top: 1; }}
{name} Button {{ margin-left: 1; }}
"""

Bindings = list[Binding | tuple[str, str] | tuple[str, str, str]]


def describe_commit(result: Any, label: str) -> str:
    """A CommitResult as the lines a confirmation shows: the serial change, then the instance diff."""
    if result.changed:
        lines = [f"{label}: serial {result.old_serial} -> {result.new_serial}"]
    else:
        lines = [f"{label}: nothing would change (serial {result.old_serial})"]
    lines += result.diff.lines()
    if result.changed and result.old_serial is not None:
        lines.append(f"(the current state, serial {result.old_serial}, is backed up first)")
    return "\n".join(lines)


def describe_lock(info: dict[str, str] | None, stale: bool) -> list[tuple[str, str]]:
    lock = LockInfo.from_terraform(info or {})
    rows = [("ID", lock.id or "(none written)"), ("Who", lock.who or "unknown"),
            ("Created", lock.created or "unknown"), ("Operation", lock.operation or "unknown")]
    if lock.info:
        rows.append(("Info", lock.info))
    if lock.version:
        rows.append(("Version", lock.version))
    rows.append(("Stale", "yes: no live process holds it" if stale else "no: its holder is alive"))
    return rows


class _ReadOnlyAware(ModalScreen[Any]):
    DESTRUCTIVE: ClassVar[frozenset[str]] = frozenset()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action in self.DESTRUCTIVE and getattr(self.app, "read_only", False))

    def action_close(self) -> None:
        self.dismiss(None)


class PromptScreen(_ReadOnlyAware):
    """One line of text (the destination address of a move). Returns it, or None when cancelled."""

    BINDINGS: ClassVar[Bindings] = [Binding("escape", "close", "Cancel")]
    DEFAULT_CSS = _MODAL_CSS.format(name="PromptScreen")

    def __init__(self, title: str, prompt: str, value: str = "", *, action: str = "Preview") -> None:
        super().__init__()
        self.title_text = title
        self.prompt = prompt
        self.value = value
        self.action_label = action

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(escape(self.title_text), classes="modal-title")
            yield Label(escape(self.prompt), classes="modal-info")
            yield Input(self.value, id="prompt-input")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button(self.action_label, id="ok", variant="primary")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def _submit(self) -> None:
        text = self.query_one(Input).value.strip()
        self.dismiss(text or None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self._submit()
        else:
            self.dismiss(None)


def parse_import(address: str, resource_id: str, attributes_json: str) -> tuple[str, dict[str, Any]]:
    """The address and attributes of an import form; ValueError says what is wrong."""
    address = address.strip()
    if not address:
        raise ValueError("give the address the resource will have, e.g. aws_s3_bucket.assets")
    resource_id = resource_id.strip()
    if attributes_json.strip():
        try:
            attributes = json.loads(attributes_json)
        except json.JSONDecodeError as exc:
            raise ValueError(f"the attributes are not valid JSON: {exc}") from None
        if not isinstance(attributes, dict):
            raise ValueError("the attributes must be a JSON object")
        if resource_id:
            attributes.setdefault("id", resource_id)
    elif resource_id:
        attributes = {"id": resource_id}
    else:
        raise ValueError("give the cloud object's id, or its attributes as a JSON object")
    return address, attributes


class ImportScreen(_ReadOnlyAware):
    """Import an unmanaged resource: its address, and its id or its attributes as JSON.
    Returns (address, attributes), or None when cancelled."""

    BINDINGS: ClassVar[Bindings] = [Binding("escape", "close", "Cancel")]
    DEFAULT_CSS = _MODAL_CSS.format(name="ImportScreen") + """
    ImportScreen TextArea { height: 8; }
    """

    def __init__(self, label: str, address: str = "") -> None:
        super().__init__()
        self.label = label
        self.address = address

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Import a resource into {escape(self.label)}", classes="modal-title")
            yield Label("Address", classes="modal-info")
            yield Input(self.address, placeholder="aws_s3_bucket.assets", id="import-address")
            yield Label("Id (the cloud object's Terraform id)", classes="modal-info")
            yield Input(placeholder="my-bucket", id="import-id")
            yield Label("or its attributes, as a JSON object (must include \"id\")", classes="modal-info")
            yield TextArea("", id="import-attributes")
            yield Static("", id="import-error", classes="modal-error")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Preview", id="ok", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#import-address", Input).focus()

    def _submit(self) -> None:
        try:
            result = parse_import(self.query_one("#import-address", Input).value,
                                  self.query_one("#import-id", Input).value,
                                  self.query_one("#import-attributes", TextArea).text)
        except ValueError as exc:
            self.query_one("#import-error", Static).update(Text(str(exc)))
            return
        self.dismiss(result)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self._submit()
        else:
            self.dismiss(None)


class ValidationScreen(_ReadOnlyAware):
    """A ValidationReport: what Terraform would reject (errors) and what usually means trouble."""

    BINDINGS: ClassVar[Bindings] = [Binding("escape,enter", "close", "Close")]
    DEFAULT_CSS = _MODAL_CSS.format(name="ValidationScreen")

    def __init__(self, report: Any, label: str) -> None:
        super().__init__()
        self.report = report
        self.label = label

    def compose(self) -> ComposeResult:
        report = self.report
        errors = len(report.errors)
        warnings = len(report.problems) - errors
        verdict = "valid" if report.ok else "INVALID"
        with Vertical():
            yield Label(f"Validation of {escape(self.label)}: {verdict}, {errors} error(s), {warnings} warning(s)",
                        classes="modal-title", id="validation-title")
            yield Label(escape(f"serial {report.serial} · lineage {report.lineage} · {report.instances} instances"),
                        classes="modal-info")
            if report.problems:
                table: DataTable[Any] = DataTable(cursor_type="row", id="validation-problems")
                table.add_columns("Severity", "Code", "Address", "Message")
                for problem in report.problems:
                    table.add_row(Text(problem.severity, style="bold red" if problem.severity == "error" else "yellow"),
                                  Text(problem.code), Text(problem.address or ""), Text(problem.message))
                yield table
            else:
                yield Label("no problems found", id="validation-none")
            with Horizontal():
                yield Button("Close", id="close", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None)


class BackupsScreen(_ReadOnlyAware):
    """The backups of one state, newest first. Returns the id of the backup to restore, or None."""

    DESTRUCTIVE: ClassVar[frozenset[str]] = frozenset({"restore"})
    BINDINGS: ClassVar[Bindings] = [
        Binding("escape", "close", "Close"),
        Binding("r", "restore", "Restore"),
    ]
    DEFAULT_CSS = _MODAL_CSS.format(name="BackupsScreen")

    def __init__(self, backups: list[Any], label: str) -> None:
        super().__init__()
        self.backups = backups
        self.label = label

    def compose(self) -> ComposeResult:
        read_only = getattr(self.app, "read_only", False)
        with Vertical():
            yield Label(f"Backups of {escape(self.label)}", classes="modal-title")
            if self.backups:
                yield Label("newest first; one is taken before every change"
                            + ("" if read_only else " · r restores the highlighted one"), classes="modal-info")
                table: DataTable[Any] = DataTable(cursor_type="row", id="backups-table")
                table.add_columns("ID", "When (UTC)", "Serial", "Resources", "Reason")
                for row in self.backups:
                    table.add_row(Text(str(row.id)), Text(f"{row.created_at:%Y-%m-%d %H:%M:%S}"),
                                  Text(str(row.serial)), Text(str(row.resource_count)), Text(row.reason),
                                  key=str(row.id))
                yield table
            else:
                yield Label("no backups of this state yet (one is taken before every change)", id="backups-none")
            with Horizontal():
                yield Button("Close", id="close")
                button = Button("Restore", id="restore", variant="warning", disabled=not self.backups)
                button.display = not read_only
                yield button

    def on_mount(self) -> None:
        if self.backups:
            self.query_one(DataTable).focus()

    def action_restore(self) -> None:
        if not self.backups or getattr(self.app, "read_only", False):
            return
        table = self.query_one(DataTable)
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        self.dismiss(key.value)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_restore()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "restore":
            self.action_restore()
        else:
            self.dismiss(None)


class LockScreen(_ReadOnlyAware):
    """The state's lock: who holds it, since when, for what, and whether it is stale. Returns the lock id to
    force-unlock (the State screen asks for it to be typed back first), or None."""

    DESTRUCTIVE: ClassVar[frozenset[str]] = frozenset({"force_unlock"})
    BINDINGS: ClassVar[Bindings] = [
        Binding("escape", "close", "Close"),
        Binding("f", "force_unlock", "Force unlock"),
    ]
    DEFAULT_CSS = _MODAL_CSS.format(name="LockScreen") + """
    LockScreen #lock-fields { margin-top: 1; }
    """

    def __init__(self, status: Any, label: str) -> None:
        super().__init__()
        self.status = status
        self.label = label

    @property
    def lock_id(self) -> str:
        return (self.status.info or {}).get("ID", "") if self.status.locked else ""

    def compose(self) -> ComposeResult:
        read_only = getattr(self.app, "read_only", False)
        with Vertical():
            if not self.status.locked:
                yield Label(f"{escape(self.label)} is not locked", classes="modal-title", id="lock-title")
            else:
                yield Label(f"{escape(self.label)} is LOCKED", classes="modal-title modal-error", id="lock-title")
                rows = describe_lock(self.status.info, self.status.stale)
                text = Text()
                for name, value in rows:
                    text.append(f"{name:<10}", style="dim")
                    text.append(f"{value}\n")
                text.rstrip()
                yield Static(text, id="lock-fields")
                if not read_only:
                    hint = ("force-unlock only a lock whose holder is gone: Terraform may be writing the state"
                            if self.lock_id else "no lock id was written; the lock dies with its holder")
                    yield Label(escape(hint), classes="modal-info")
            with Horizontal():
                yield Button("Close", id="close", variant="primary")
                button = Button("Force unlock", id="force-unlock", variant="error", disabled=not self.lock_id)
                button.display = self.status.locked and not read_only
                yield button

    def action_force_unlock(self) -> None:
        if self.lock_id and not getattr(self.app, "read_only", False):
            self.dismiss(self.lock_id)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "force-unlock":
            self.action_force_unlock()
        else:
            self.dismiss(None)


class StateOperations:
    """The State screen's operations (mixed into it). Each reads or previews in a thread worker; a write is
    shown as a dry run for confirmation first, then done in another worker, and the tree reloaded. The
    screen provides ``views``, ``tree``, ``reload()``, ``_update_lock_line()`` and ``_pending_reveal``."""

    app: Any
    views: dict[str, Any]
    tree: Any
    _pending_reveal: tuple[str | None, str] | None

    def _say(self, message: str, *, severity: str = "information") -> None:
        """A toast, as plain text: addresses such as ``x["a"]`` are not markup."""
        self.app.notify(message, severity=severity, markup=False)

    def _in_thread(self, job: Callable[[], Any], then: Callable[[Any], None], *, name: str, group: str,
                   exclusive: bool = True) -> None:
        def run() -> None:
            result = job()
            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(then, result)

        self.run_worker(run, name=name, group=group, thread=True,  # type: ignore[attr-defined]
                        exclusive=exclusive, exit_on_error=False)

    def _current(self) -> tuple[Any, Any] | None:
        """The state of the tree's cursor (the first state when there is no cursor) and the cursor's data."""
        node = self.tree.cursor_node
        data = node.data if node is not None else None
        view = self.views.get(data.location) if data is not None else next(iter(self.views.values()), None)
        if view is None:
            self._say("no state is loaded", severity="warning")
            return None
        return view, data

    def _target(self, verb: str) -> tuple[Any, str] | None:
        current = self._current()
        if current is not None and (current[1] is None or current[1].address is None):
            self._say(f"select a module, resource or instance to {verb}", severity="warning")
            return None
        return None if current is None else (current[0], current[1].address)

    def _writable(self, name: str) -> bool:
        if self.app.read_only:
            self._say(f"read-only mode: {name} is not allowed", severity="error")
        return not self.app.read_only

    def _preview(self, name: str, view: Any, preview: Callable[[], Any], commit: Callable[[], Any], *,
                 title: str, action: str, reveal: str | None = None) -> None:
        """Dry-run in a worker, show the effect for confirmation, then write in another worker and reload."""
        if not self._writable(name):
            return

        def show(result: Any) -> None:
            if not result.changed:
                self._say(f"{name}: nothing would change", severity="warning")
                return
            self.app.push_screen(ConfirmScreen(title, describe_commit(result, view.label), action=action),
                                 lambda ok: ok and self._in_thread(commit, done, name=name, group="commit",
                                                                   exclusive=False))

        def done(result: Any) -> None:
            serial = f"serial {result.old_serial} -> {result.new_serial}" if result.changed else "no change"
            backup = f", backup {result.backup_id}" if result.backup_id else ""
            self._say(f"{name}: {view.label} {serial}{backup}")
            if reveal is not None:
                self._pending_reveal = (view.location, reveal)
            self.reload()  # type: ignore[attr-defined]

        self._in_thread(preview, show, name=f"{name} (preview)", group="preview")

    def action_remove(self) -> None:
        target = self._target("remove")
        if target is not None and self._writable("rm"):
            view, address = target
            service = self.app.hub.state
            self._preview(f"rm {address}", view, lambda: service.rm(view.source, [address], dry_run=True),
                          lambda: service.rm(view.source, [address]),
                          title=f"Remove {address} from {view.label}?", action="Remove")

    def action_move(self) -> None:
        target = self._target("move")
        if target is None or not self._writable("mv"):
            return
        view, address = target
        service = self.app.hub.state

        def chosen(destination: str | None) -> None:
            if destination and destination != address:
                self._preview(f"mv {address} {destination}", view,
                              lambda: service.mv(view.source, address, destination, dry_run=True),
                              lambda: service.mv(view.source, address, destination),
                              title=f"Move {address} to {destination} in {view.label}?", action="Move",
                              reveal=destination)

        self.app.push_screen(PromptScreen(f"Move {address}", "to the address (same type; a module to a module)",
                                          address), chosen)

    def action_import_resource(self) -> None:
        current = self._current()
        if current is None or not self._writable("import"):
            return
        view, data = current
        module = data.key[1] if data is not None and len(data.key) > 1 else ""
        service = self.app.hub.state

        def chosen(form: tuple[str, dict[str, Any]] | None) -> None:
            if form:
                address, attrs = form
                self._preview(f"import {address}", view,
                              lambda: service.import_instance(view.source, address, attrs, dry_run=True),
                              lambda: service.import_instance(view.source, address, attrs),
                              title=f"Import {address} into {view.label}?", action="Import", reveal=address)

        self.app.push_screen(ImportScreen(view.label, f"{module}." if module else ""), chosen)

    def action_validate(self) -> None:
        if (current := self._current()) is not None:
            view = current[0]
            self._in_thread(lambda: self.app.hub.state.validate(view.source),
                            lambda report: self.app.push_screen(ValidationScreen(report, view.label)),
                            name=f"validate {view.label}", group="inspect")

    def action_backups(self) -> None:
        if (current := self._current()) is None:
            return
        view = current[0]
        service = self.app.hub.state

        def chosen(backup_id: str | None) -> None:
            if backup_id:
                self._preview(f"restore of backup {backup_id}", view,
                              lambda: service.restore(view.source, backup_id, dry_run=True),
                              lambda: service.restore(view.source, backup_id),
                              title=f"Restore backup {backup_id} over {view.label}?", action="Restore")

        self._in_thread(lambda: service.list_backups(view.source),
                        lambda rows: self.app.push_screen(BackupsScreen(rows, view.label), chosen),
                        name=f"backups of {view.label}", group="inspect")

    def action_locks(self) -> None:
        if (current := self._current()) is None:
            return
        view = current[0]

        def shown(status: Any) -> None:
            view.lock, view.lock_error = status, ""
            self._update_lock_line()  # type: ignore[attr-defined]
            self.app.push_screen(LockScreen(status, view.label), lambda lock_id: self._force_unlock(view, lock_id))

        self._in_thread(lambda: self.app.hub.state.locks(view.source), shown, name=f"locks of {view.label}",
                        group="inspect")

    def _force_unlock(self, view: Any, lock_id: str | None) -> None:
        """Typed confirmation of the lock id, then ``unlock(force=True)`` in a worker."""
        if not lock_id or view.lock is None or not self._writable("force-unlock"):
            return
        service = self.app.hub.state

        def done(_status: Any) -> None:
            self._say(f"{view.label}: lock {lock_id} released")
            self.reload()  # type: ignore[attr-defined]

        preview = "\n".join(f"{name}: {value}" for name, value in describe_lock(view.lock.info, view.lock.stale))
        preview += "\n\nIf its holder is still running, it may write the state after you do."
        self.app.push_screen(
            ConfirmScreen(f"Force-unlock {view.label}?", preview, typed=lock_id, action="Force unlock"),
            lambda ok: ok and self._in_thread(lambda: service.unlock(view.source, lock_id, force=True), done,
                                              name=f"force-unlock of {view.label}", group="commit",
                                              exclusive=False))
