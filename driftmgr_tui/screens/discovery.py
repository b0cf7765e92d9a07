"""The Discovery section: every discovery run (started here, by `driftmgr discover` or by a rescan, in this
process or another) with its status, scope, duration, counts and errors; the selected run's progress as one
bar per region; starting a run (a modal with the provider and its scope), cancelling one, and a run's detail.

Runs stay live two ways: this process's discovery events arrive on the event bus at once, and a poll every
second reads the events other processes persisted and the task rows of the unfinished runs, so a run started
from the CLI appears and progresses without a key being pressed. Discovery only reads the cloud: starting
and cancelling runs are allowed in read-only mode.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any, ClassVar

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import Worker, get_current_worker

from driftmgr_tui.core.text import plural
from driftmgr_tui.screens.common import ConfirmScreen, SectionScreen
from driftmgr_tui.screens.discovery_modals import (
    PROVIDERS,
    STATUS_STYLE,
    RunDetailScreen,
    StartRunScreen,
    account_label,
    regions_label,
    scope_defaults,
    status_text,
    took,
    when,
)
from driftmgr_tui.widgets.run_progress import RunProgress

RUN_LIMIT = 200
POLL_INTERVAL = 1.0
EVENT_COALESCE = 0.25  # at most about four reads a second while this process's runs report
# (title, key, width) of the runs table, the most telling first so that a narrow terminal still shows them;
# fixed widths: the columns do not jump while runs go on
COLUMNS = (("Run", "id", 4), ("Status", "status", 9), ("Cloud", "cloud", 5), ("Account", "account", 16),
           ("Regions", "regions", 17), ("Found", "found", 6), ("Errors", "errors", 6),
           ("Started (UTC)", "started", 13), ("Took", "took", 7))


def run_cells(run: Any, now: datetime) -> tuple[Any, ...]:
    if run.failed_tasks:
        errors = Text(str(run.failed_tasks), style="red", justify="right")
    elif run.status == "failed":
        errors = Text("error", style="red", justify="right")
    else:
        errors = Text("0", style="dim", justify="right")
    return (Text(str(run.id), justify="right"), status_text(run.status), run.provider, account_label(run, 16),
            regions_label(run.regions), Text(str(run.resource_count), justify="right"), errors,
            when(run.created_at), took(run, now))


class DiscoveryScreen(SectionScreen):
    SECTION = "discovery"
    TITLE = "driftmgr · Discovery"
    AUTO_FOCUS = "#runs"
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("s", "start", "Start run"),
        Binding("c", "cancel_run", "Cancel run"),
        Binding("enter", "detail", "Details", priority=True),  # before the table's own enter
        Binding("r", "refresh", "Refresh"),
        Binding("f", "provider_filter", "Provider filter"),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]
    DEFAULT_CSS = """
    DiscoveryScreen #runs-status { height: 1; padding: 0 1; background: $boost; }
    DiscoveryScreen #runs { height: 1fr; }
    """

    class RunEvent(Message):
        """A discovery event of this process, handed over from the thread that published it."""

        def __init__(self, event: Any) -> None:
            super().__init__()
            self.event = event

    def __init__(self) -> None:
        super().__init__()
        self.provider: str | None = None  # the provider filter
        self.selected: int | None = None
        self.runs: dict[int, Any] = {}
        self.progress: dict[int, list[Any]] = {}
        self.live: set[int] = set()  # runs queued or running at the last read
        self.started_here: set[int] = set()
        self.poll_error: str | None = None
        self._keys: list[str] = []
        self._cells: dict[int, tuple[Any, ...]] = {}
        self._pending_select: int | None = None
        self._event_mark: int | None = None
        self._reader: Worker[None] | None = None
        self._dirty = False
        self._unsubscribe: Any = None
        self._bus: Any = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("loading…", id="runs-status")
        table: DataTable[Any] = DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        for title, key, width in COLUMNS:
            table.add_column(title, key=key, width=width)
        yield table
        yield RunProgress(id="progress")
        yield Footer()

    def on_mount(self) -> None:
        self.request_refresh(recover=True)  # opens the database (and subscribes) off the UI thread
        self.set_interval(POLL_INTERVAL, self._tick)

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if not self.started_here:
            return
        # a run of this process's threads cannot outlive it: end it cleanly, keeping what finished
        service = self.app.hub.discovery
        for run_id in sorted(self.started_here):
            try:
                if not service.get_run(run_id, with_tasks=False).finished:
                    service.cancel(run_id)
            except Exception:  # the app is closing: the next start's recovery puts the run right
                pass

    # -- reading the runs ---------------------------------------------------------------------------------
    def _tick(self) -> None:
        if self in self.app.screen_stack:  # not while another section is shown
            self.request_refresh(poll=True)

    def request_refresh(self, *, poll: bool = False, recover: bool = False, now: bool = False) -> None:
        """Read the runs again. While a read is going on, a poll is skipped and a request waits for it to end,
        so reads never pile up; ``now`` replaces the read going on (a new filter, ``r``)."""
        if not now and self._reader is not None and not self._reader.is_finished:
            self._dirty = self._dirty or not poll
            return
        self._dirty = False
        self._reader = self.refresh_runs(poll=poll, recover=recover)

    def on_discovery_screen_run_event(self, message: RunEvent) -> None:
        self.request_refresh()

    def on_worker_state_changed(self, event: Any) -> None:
        super().on_worker_state_changed(event)
        if event.worker is self._reader and event.worker.is_finished and self._dirty:
            # events of a busy scan come by the hundred: read again soon, not once per event
            self.set_timer(EVENT_COALESCE, self.request_refresh)

    @work(thread=True, exclusive=True, exit_on_error=False, group="runs", name="reading the discovery runs")
    def refresh_runs(self, *, poll: bool = False, recover: bool = False) -> None:
        """The latest runs and the progress of those going on (and of the selected one). A poll reads nothing
        more when no discovery event was persisted since the last read and no run is going on; a failing poll
        says so in the status line instead of opening a window every second."""
        worker = get_current_worker()
        try:
            service = self.app.hub.discovery
            self._subscribe(service.bus)
            if recover:  # runs whose process died (a killed `driftmgr discover`) follow their jobs
                service.recover()
            news = self._read_events(service)
            if poll and not news and not self.live:
                return
            runs = service.list_runs(provider=self.provider, limit=RUN_LIMIT)
            live = {r.id for r in runs if not r.finished}
            wanted = live | self.live
            if self.selected is not None and self.selected not in self.progress:
                wanted.add(self.selected)
            progress = service.progress(wanted & {r.id for r in runs})
        except Exception as exc:
            if not poll:
                raise
            self.app.call_from_thread(self._poll_failed, exc)
            return
        if not worker.is_cancelled:
            self.app.call_from_thread(self._show_runs, runs, progress, live)

    def _subscribe(self, bus: Any) -> None:
        """Follow the events of the hub's discovery service (made again when the settings are reloaded)."""
        if bus is self._bus or not self.is_attached:
            return
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._bus = bus
        self._unsubscribe = bus.subscribe(lambda event: self.post_message(self.RunEvent(event)),
                                          prefix="discovery.")

    def _read_events(self, service: Any) -> bool:
        """Whether discovery events were persisted (by any process) since the last read."""
        if self._event_mark is None:
            newest = service.bus.recent(limit=1, prefix="discovery.")
            self._event_mark = newest[-1].id if newest else 0
            return True
        events = service.bus.recent(prefix="discovery.", after_id=self._event_mark, limit=1000)
        if events:
            self._event_mark = events[-1].id
        return bool(events)

    def _poll_failed(self, exc: BaseException) -> None:
        from driftmgr_tui.screens.common import describe_error

        self.poll_error = describe_error(exc)[0]
        self._update_status()

    def _show_runs(self, runs: list[Any], progress: dict[int, list[Any]], live: set[int]) -> None:
        self.runs = {r.id: r for r in runs}
        self.progress.update(progress)
        self.live = live
        self.poll_error = None
        self._fill_table(runs)
        self._update_status()
        self._show_progress()

    def _fill_table(self, runs: list[Any]) -> None:
        table = self.query_one("#runs", DataTable)
        now = datetime.now(UTC)
        keys = [str(r.id) for r in runs]
        cells = {r.id: run_cells(r, now) for r in runs}
        if keys != self._keys:
            keep = self._pending_select if self._pending_select in cells else self.selected
            table.clear()
            for run in runs:
                table.add_row(*cells[run.id], key=str(run.id))
            self._keys = keys
            if keep is not None and str(keep) in keys:
                table.move_cursor(row=keys.index(str(keep)), animate=False)
                self.selected = keep
            else:
                self.selected = runs[0].id if runs else None
            if self._pending_select in cells:
                self._pending_select = None
        else:
            for run in runs:
                for (_title, column, _width), old, new in zip(COLUMNS, self._cells.get(run.id, ()), cells[run.id],
                                                      strict=False):
                    if old != new:
                        table.update_cell(str(run.id), column, new)
        self._cells = cells

    def _update_status(self) -> None:
        runs = list(self.runs.values())
        if not runs:
            text = ("No discovery runs yet: press [b]s[/] to start one, or run "
                    "[b]driftmgr discover --provider aws[/]." if self.provider is None
                    else f"No {self.provider} discovery runs. [b]f[/] changes the provider filter.")
        else:
            counts = Counter(r.status for r in runs)
            order = ("running", "queued", "complete", "partial", "failed", "cancelled")
            parts = [f"[{STATUS_STYLE[s]}]{counts[s]} {s}[/]" for s in order if counts[s]]
            shown = f"{len(runs)} run{'s' if len(runs) != 1 else ''}"
            if len(runs) == RUN_LIMIT:
                shown = f"the latest {RUN_LIMIT} runs"
            text = f"{shown} · " + " · ".join(parts)
            text += f" · provider: {self.provider or 'all'}"
        if self.poll_error:
            text += f" · [red]cannot read the runs: {escape(self.poll_error)}[/]"
        self.query_one("#runs-status", Static).update(text)

    # -- the selected run's progress ---------------------------------------------------------------------
    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is None or event.row_key.value is None:
            return
        self.selected = int(event.row_key.value)
        self._show_progress()
        if self.selected not in self.progress:
            self.request_refresh()

    def _show_progress(self) -> None:
        panel = self.query_one(RunProgress)
        run = self.runs.get(self.selected) if self.selected is not None else None
        if run is None:
            panel.show(None, "[dim]No run selected.[/]", [])
            return
        regions = self.progress.get(run.id, [])
        panel.show(run.id, self._progress_title(run, regions), regions)

    @staticmethod
    def _progress_title(run: Any, regions: list[Any]) -> str:
        style = STATUS_STYLE.get(run.status, "")
        head = f"[b]run {run.id}[/] · {run.provider} {escape(run.account or '')}".rstrip() + \
            f" · [{style}]{run.status}[/]"
        if run.status == "queued":
            why = f" · {escape(run.error)}" if run.error else ""
            return head + f" · waiting for a worker to take it ([b]c[/] cancels it){why}"
        if not regions:
            if run.status == "running":
                return head + f" · connecting to {run.provider}…"
            return head + (f" · [red]{escape(run.error)}[/]" if run.error else " · no tasks")
        done = sum(r.done for r in regions)
        total = sum(r.total for r in regions)
        failed = sum(r.failed for r in regions)
        text = f"{head} · {done}/{total} tasks · {plural(sum(r.resources for r in regions), 'resource')}"
        if failed:
            text += f" · [red]{failed} failed[/] (enter shows why)"
        return text + f" · {took(run)}"

    # -- actions ----------------------------------------------------------------------------------------------
    def _selected_run(self) -> Any:
        run = self.runs.get(self.selected) if self.selected is not None else None
        if run is None:
            self.notify("no run selected", severity="warning")
        return run

    def select_run(self, run_id: int) -> None:
        """Put the cursor on a run (e.g. from the command palette), dropping a provider filter that hides it."""
        self._pending_select = run_id
        if str(run_id) in self._keys:
            self.query_one("#runs", DataTable).move_cursor(row=self._keys.index(str(run_id)))
            self._pending_select = None
            return
        self.provider = None
        self.request_refresh(now=True)

    def action_cursor_down(self) -> None:
        self.query_one("#runs", DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one("#runs", DataTable).action_cursor_up()

    def action_refresh(self) -> None:
        self.request_refresh(recover=True, now=True)

    def action_provider_filter(self) -> None:
        choices: list[str | None] = [None, *PROVIDERS]
        self.provider = choices[(choices.index(self.provider) + 1) % len(choices)]
        self.notify(f"runs of {self.provider or 'every provider'}")
        self.request_refresh(now=True)

    def action_detail(self) -> None:
        run = self._selected_run()
        if run is not None:
            self.app.push_screen(RunDetailScreen(run.id))

    def action_start(self) -> None:
        self.prepare_start()

    @work(thread=True, exclusive=True, exit_on_error=False, group="start", name="preparing the discovery form")
    def prepare_start(self) -> None:
        from driftmgr_tui.discovery.registry import registry

        defaults = scope_defaults(self.app.hub)
        known = {p: registry().terraform_types(p) for p in PROVIDERS}
        self.app.call_from_thread(self.app.push_screen, StartRunScreen(defaults, known), self._start_chosen)

    def _start_chosen(self, scope: Any) -> None:
        if scope is not None:
            self.run_discovery(scope)

    @work(thread=True, exit_on_error=False, group="discovery", name="running discovery")
    def run_discovery(self, scope: Any) -> None:
        """Record the run, then scan in this thread (several runs may go on at once)."""
        service = self.app.hub.discovery
        run = service.start(scope)
        self.started_here.add(run.id)
        self.app.call_from_thread(self._queued, run)
        try:
            final = service.run_job(run)
        finally:
            self.app.call_from_thread(self.request_refresh)
        text = f"discovery run {final.id}: {final.status}, {plural(final.resource_count, 'resource')}"
        if final.failed_tasks:
            text += f", {final.failed_tasks} failed task(s)"
        severity = {"complete": "information", "failed": "error"}.get(final.status, "warning")
        self.app.call_from_thread(self.notify, text, severity=severity)

    def _queued(self, run: Any) -> None:
        self.notify(f"discovery run {run.id} started: {run.provider}")
        self.select_run(run.id)

    def action_cancel_run(self) -> None:
        run = self._selected_run()
        if run is None:
            return
        if run.finished:
            self.notify(f"run {run.id} is already {run.status}", severity="warning")
            return
        preview = (f"run {run.id} ({run.provider} {run.account or ''}) is {run.status}. Cancelling stops it within "
                   "about a second; the regions and services that finished are kept, the others are marked "
                   "cancelled.")
        self.app.push_screen(ConfirmScreen(f"Cancel discovery run {run.id}?", preview, action="Cancel run"),
                             lambda ok: self.cancel_run(run.id) if ok else None)

    @work(thread=True, exit_on_error=False, group="cancel", name="cancelling the discovery run")
    def cancel_run(self, run_id: int) -> None:
        run = self.app.hub.discovery.cancel(run_id)
        text = (f"discovery run {run_id}: {run.status}" if run.finished
                else f"discovery run {run_id}: cancel requested, it stops within a second")
        self.app.call_from_thread(self.notify, text)
        self.app.call_from_thread(self.request_refresh)
