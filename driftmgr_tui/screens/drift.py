"""The drift explorer: what no longer matches Terraform in the current environment's latest report.

A header with counts by kind and severity and the coverage; a virtual table of items (100,000 open at once)
with ``/`` filter (text and ``kind:`` ``sev:`` ``type:`` ``module:`` ``provider:`` ``region:`` tokens), facets
and sort keys; a detail pane with the field-level diff side by side and the item's history. Actions: mark,
ignore an item or one of its fields, open it in the state browser, add it (or the marked items) to a
remediation plan, and rescan (discovery + detection, a job with progress).
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer, Header, Input, ProgressBar, Static

from driftmgr_tui.screens.common import ConfirmScreen, SectionScreen
from driftmgr_tui.screens.drift_modals import FacetScreen, FieldScreen
from driftmgr_tui.widgets.drift_detail import KIND_STYLE, SEVERITY_STYLE, DriftDetail
from driftmgr_tui.widgets.item_table import ItemTable

SEVERITIES = ("critical", "high", "medium", "low", "info")


class DriftScreen(SectionScreen):
    SECTION = "drift"
    TITLE = "driftmgr · Drift"
    AUTO_FOCUS = "ItemTable"
    DESTRUCTIVE = frozenset({"ignore_item", "ignore_field", "add_to_plan"})
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        # priority: the box has the focus before the keys typed right after "/" are dispatched
        Binding("slash", "filter", "Filter", key_display="/", priority=True),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("f", "facets", "Facets"),
        Binding("s", "sort", "Sort"),
        Binding("S", "reverse", "Reverse", show=False),
        Binding("space", "mark", "Mark"),
        Binding("i", "ignore_item", "Ignore"),
        Binding("I", "ignore_field", "Ignore field"),
        Binding("o", "open_state", "In state"),
        Binding("a", "add_to_plan", "To plan"),
        Binding("r", "rescan", "Rescan"),
    ]
    DEFAULT_CSS = """
    DriftScreen #summary { height: auto; max-height: 4; padding: 0 1; background: $boost; }
    DriftScreen #filter { display: none; height: 3; }
    DriftScreen #filter.shown { display: block; }
    DriftScreen #body { height: 1fr; }
    DriftScreen #items { width: 1fr; }
    DriftScreen DriftDetail { width: 40%; max-width: 64; }
    DriftScreen #status { height: 1; padding: 0 1; color: $text-muted; }
    DriftScreen #scan { display: none; height: 1; }
    DriftScreen #scan.shown { display: block; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.view: Any = None
        self.report: dict[str, Any] | None = None
        self.sort_keys: tuple[str, ...] = ()
        self.sort_key = "severity"
        self.sort_reverse = False
        self._pending_item: int | None = None  # to select once it is loaded (see select_item)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("loading…", id="summary")
        yield Input(placeholder="filter: text, kind:missing sev:critical type:aws_s3* module:network region:…",
                    id="filter")
        with Horizontal(id="body"):
            yield ItemTable(None, id="items")  # columns come from the view
            yield DriftDetail(id="detail")
        yield ProgressBar(id="scan", show_eta=False)
        yield Static("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        from driftmgr_tui.services.drift_view import SORT_KEYS

        self.sort_keys = SORT_KEYS
        self.watch(self.app, "environment", lambda _env: self.load(), init=False)
        self.load()

    # -- loading ----------------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="load", name="loading the drift report")
    def load(self) -> None:
        """The first rows at once, the rest in chunks while the table is already usable."""
        from textual.worker import get_current_worker

        from driftmgr_tui.services.drift_view import DriftView

        hub = self.app.hub
        report_id = hub.latest_report_id()
        if report_id is None:
            self.app.call_from_thread(self._show_empty)
            return
        header = hub.drift.report_header(report_id)
        view, chunks = DriftView.open_report(hub.engine, report_id)
        view.sort(self.sort_key, self.sort_reverse)
        self.app.call_from_thread(self._show, header, view)
        worker = get_current_worker()
        for chunk in chunks:
            if worker.is_cancelled:
                return
            self.app.call_from_thread(self._extend, view, chunk)
        self.app.call_from_thread(self._loaded, view)

    def _show_empty(self) -> None:
        self.report, self.view = None, None
        self.query_one(ItemTable).set_model(None)
        self.query_one("#summary", Static).update(
            f"No drift report for environment [b]{escape(self.app.environment)}[/] yet. Press [b]r[/] to scan, or "
            "run [b]driftmgr scan[/].")
        self.query_one("#status", Static).update("")
        self.query_one(DriftDetail).show(None)

    def _show(self, header: dict[str, Any], view: Any) -> None:
        self.report, self.view = header, view
        filter_input = self.query_one("#filter", Input)
        if filter_input.value:
            view.set_filter(filter_input.value)
        table = self.query_one(ItemTable)
        table.set_model(view)
        self._update_summary()
        self._update_status()
        if len(view):
            self._show_detail(table.cursor_row)
        self._select_pending()

    def _extend(self, view: Any, chunk: Any) -> None:
        if view is not self.view:
            return  # another report was loaded meanwhile
        view.extend(chunk)
        self.query_one(ItemTable).refresh_rows()
        self._update_status()
        self._select_pending()

    def _loaded(self, view: Any) -> None:
        if view is not self.view:
            return
        view.complete = True
        self._update_status()
        # a long-lived report view: keep the collector from walking it on every keystroke's garbage
        import gc

        gc.freeze()

    def _update_summary(self) -> None:
        assert self.report is not None and self.view is not None
        s = self.report["summary"]
        by_severity = s.get("by_severity") or {}
        kinds = "  ".join(f"[{KIND_STYLE.get(k, '')}]{k} {s.get('total_' + k, 0)}[/]"
                          for k in ("changed", "missing", "unmanaged"))
        sev = "  ".join(f"[{SEVERITY_STYLE[k]}]{k} {by_severity[k]}[/]" for k in SEVERITIES if by_severity.get(k))
        when = self.report["created_at"][:16].replace("T", " ")
        extra = []
        if s.get("total_unevaluated"):
            extra.append(f"{s['total_unevaluated']} not evaluated")
        if self.report.get("config_drift"):
            extra.append(f"{len(self.report['config_drift'])} config drift")
        self.query_one("#summary", Static).update(
            f"report [b]{self.report['id']}[/] · {escape(self.report['environment'])} · {when} · "
            f"managed {s['total_managed']} · coverage [b]{s['coverage']}%[/]"
            + (" · " + " · ".join(extra) if extra else "") + f"\n{kinds}   {sev}")

    def _update_status(self) -> None:
        if self.view is None:
            return
        table = self.query_one(ItemTable)
        marked = f" · {len(table.marked)} marked" if table.marked else ""
        text = self.query_one("#filter", Input).value
        shown = f"{len(self.view):,} of {self.view.total:,} items"
        if self.view.loaded < self.view.total:
            shown += f" (loading {self.view.loaded:,}…)"
        self.query_one("#status", Static).update(
            f"{shown}{marked} · sort {self.sort_key}{' ↑' if self.sort_reverse else ''}"
            + (f" · filter: {escape(text)}" if text else ""))

    # -- selection and detail ----------------------------------------------------------------------------
    def on_item_table_highlighted(self, event: ItemTable.Highlighted) -> None:
        self._show_detail(event.index)

    def on_item_table_marks_changed(self, event: ItemTable.MarksChanged) -> None:
        self._update_status()  # marks are also cleared by making a plan

    def _current_item_id(self) -> int | None:
        if self.view is None or not len(self.view):
            return None
        return self.view.item_id(self.query_one(ItemTable).cursor_row)

    def _show_detail(self, index: int) -> None:
        if self.view is None or not len(self.view) or index >= len(self.view):
            self.query_one(DriftDetail).show(None)
            return
        self.load_detail(self.view.item_id(index))

    @work(thread=True, exclusive=True, exit_on_error=False, group="detail", name="loading the item")
    def load_detail(self, item_id: int) -> None:
        hub = self.app.hub
        items = hub.drift.items_by_id([item_id])
        if not items:
            return
        item = items[0]
        timeline = hub.drift.item_timeline(item["fingerprint"], environment=self.app.environment)
        self.app.call_from_thread(self._show_loaded, item_id, item, timeline)

    def _show_loaded(self, item_id: int, item: dict[str, Any], timeline: list[dict[str, Any]]) -> None:
        # a load for an item the cursor has already left may finish after the newer one: drop it
        if self._current_item_id() == item_id:
            self.query_one(DriftDetail).show(item, timeline)

    def select_item(self, item_id: int) -> None:
        """Put the cursor on an item (from the command palette), clearing a filter that hides it; when the
        report is still loading, once the item has arrived."""
        self._pending_item = item_id
        self._select_pending()

    def _select_pending(self) -> None:
        item_id = self._pending_item
        if item_id is None or self.view is None:
            return
        index = self.view.find(item_id)
        if index is None:
            self.query_one("#filter", Input).value = ""
            self.view.set_filter("")
            for facet in ("kind", "severity", "provider", "type", "module"):
                self.view.set_facet(facet, None)
            self.query_one(ItemTable).refresh_rows()
            self._update_status()
            index = self.view.find(item_id)
        if index is not None:
            self.query_one(ItemTable).move_cursor(index)
            self._show_detail(index)
        if index is not None or self.view.complete:  # found, or not in this report
            self._pending_item = None

    # -- filter, facets, sort ----------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "filter" and self.focused is not None and self.focused.id == "filter":
            return False  # "/" is a character of the filter text (ids and ARNs hold slashes)
        return super().check_action(action, parameters)

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("shown")
        self.set_focus(box)  # now: the keys typed right after "/" go to the box

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "filter" or self.view is None:
            return
        self.view.set_filter(event.value)
        self.query_one(ItemTable).refresh_rows()
        self._update_status()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.query_one(ItemTable).focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if box.value:
            box.value = ""
        box.remove_class("shown")
        self.query_one(ItemTable).focus()

    def action_facets(self) -> None:
        if self.view is None:
            return
        counts = {name: self.view.facet_counts(name) for name in ("kind", "severity", "provider", "type", "module")}
        self.app.push_screen(FacetScreen(counts, self.view.facets()), self._apply_facets)

    def _apply_facets(self, chosen: dict[str, set[str] | None] | None) -> None:
        if chosen is None or self.view is None:
            return
        for name, values in chosen.items():
            self.view.set_facet(name, values)
        self.query_one(ItemTable).refresh_rows()
        self._update_status()

    def action_sort(self) -> None:
        if self.view is None:
            return
        keys = list(self.sort_keys)
        self.sort_key = keys[(keys.index(self.sort_key) + 1) % len(keys)]
        self.view.sort(self.sort_key, self.sort_reverse)
        self.query_one(ItemTable).refresh_rows()
        self._update_status()

    def action_reverse(self) -> None:
        if self.view is None:
            return
        self.sort_reverse = not self.sort_reverse
        self.view.sort(self.sort_key, self.sort_reverse)
        self.query_one(ItemTable).refresh_rows()
        self._update_status()

    def action_mark(self) -> None:
        self.query_one(ItemTable).toggle_mark()
        self._update_status()

    # -- actions -------------------------------------------------------------------------------------------
    def _current(self) -> dict[str, Any] | None:
        item_id = self._current_item_id()
        if item_id is None:
            self.notify("no item selected", severity="warning")
            return None
        items = self.app.hub.drift.items_by_id([item_id])
        return items[0] if items else None

    def action_ignore_item(self) -> None:
        from driftmgr_tui.drift.ignore import format_rule

        item = self._current()
        if item is None:
            return
        rule = format_rule(item["terraform_type"], item["terraform_id"])
        self._confirm_rule(rule)

    def action_ignore_field(self) -> None:
        from driftmgr_tui.drift.ignore import format_rule

        item = self._current()
        if item is None:
            return
        paths = [d["path"] for d in item.get("diffs") or [] if d.get("path") not in (None, ".")]
        if not paths:
            self.notify("this item has no fields to ignore (it is not a changed resource)", severity="warning")
            return
        self.app.push_screen(FieldScreen(paths), lambda path: self._confirm_rule(
            format_rule(item["terraform_type"], item["terraform_id"], path)) if path else None)

    def _confirm_rule(self, rule: str) -> None:
        env = self.app.environment
        preview = (f"adds the ignore rule\n\n    {rule}\n\nfor environment {env} (kept in the database; "
                   "`driftmgr drift ignore list` shows it, `ignore rm` removes it). It applies from the next scan.")
        self.app.push_screen(ConfirmScreen("Ignore", preview, action="Ignore"),
                             lambda ok: self._add_rule(rule) if ok else None)

    @work(thread=True, exit_on_error=False, name="adding the ignore rule")
    def _add_rule(self, rule: str) -> None:
        row = self.app.hub.drift.add_ignore_rule(rule, environment=self.app.environment,
                                                 reason="from the drift explorer")
        self.app.call_from_thread(self.notify, f"ignore rule {row.id} added: {rule}")

    def action_open_state(self) -> None:
        item = self._current()
        if item is None:
            return
        if not item.get("address"):
            self.notify("an unmanaged resource is in no state", severity="warning")
            return
        self.app.open_state_address(item.get("state"), item["address"])

    def action_add_to_plan(self) -> None:
        table = self.query_one(ItemTable)
        ids = sorted(table.marked) if table.marked else [i for i in [self._current_item_id()] if i is not None]
        if not ids or self.report is None:
            self.notify("mark items (space) or select one first", severity="warning")
            return
        self.make_plan(ids)

    @work(thread=True, exclusive=True, exit_on_error=False, group="plan", name="making the remediation plan")
    def make_plan(self, item_ids: list[int]) -> None:
        hub = self.app.hub
        assert self.report is not None
        items = hub.drift.items_by_id(item_ids)
        try:
            spec = hub.spec()
        except Exception:  # an environment known only by its reports: plan from the report's own states
            spec = None
        plan = hub.remediation.create_plan(spec, {**self.report, "items": items})
        self.app.call_from_thread(
            self.notify, f"remediation plan {plan['id']}: {len(plan['actions'])} action(s), risk {plan['risk']}; "
                         f"review it in Remediation (key 2)")
        self.app.call_from_thread(self.query_one(ItemTable).clear_marks)

    # -- rescan ------------------------------------------------------------------------------------------------
    def action_rescan(self) -> None:
        bar = self.query_one("#scan", ProgressBar)
        bar.add_class("shown")
        bar.update(total=None, progress=0)
        self.rescan()

    @work(thread=True, exclusive=True, exit_on_error=False, group="scan", name="rescanning")
    def rescan(self) -> None:
        from driftmgr_tui.services.drift_service import DetectOptions

        hub = self.app.hub
        bar = self.query_one("#scan", ProgressBar)
        try:
            spec = hub.spec()
            scope, loaded = hub.drift.scan_scope(spec)
            discovery = hub.discovery
            run = discovery.start(scope)

            def on_event(event: Any) -> None:
                if event.job_id != run.job_id:
                    return
                data = event.payload
                if event.type == "discovery.run.started":
                    self.app.call_from_thread(bar.update, total=data.get("tasks"), progress=0)
                elif event.type.startswith("discovery.task."):
                    # tasks end in parallel threads, so their events may arrive out of order: never go back
                    done = data.get("done", 0)
                    self.app.call_from_thread(lambda: bar.update(progress=max(bar.progress, done)))

            unsubscribe = discovery.bus.subscribe(on_event, prefix="discovery.")
            try:
                self.app.call_from_thread(self.notify, f"scanning {scope.provider}…")
                finished = discovery.run_job(run)
            finally:
                unsubscribe()
            if finished.status not in ("complete", "partial"):
                with contextlib.suppress(Exception):  # the scan_failed rules hear of it; the modal says why
                    hub.alerts.evaluate_run(finished, spec.name)
                raise RuntimeError(f"discovery run {finished.id} {finished.status}: {finished.error or ''}")
            outcome = hub.drift.detect(spec, DetectOptions(run_ids=(finished.id,), loaded=loaded))
            summary = outcome.report["summary"]
            self.app.call_from_thread(
                self.notify, f"report {outcome.report['id']}: {summary['total_changed']} changed, "
                             f"{summary['total_missing']} missing, {summary['total_unmanaged']} unmanaged")
        finally:
            self.app.call_from_thread(bar.remove_class, "shown")
        self.app.call_from_thread(self.load)
