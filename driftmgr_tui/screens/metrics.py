"""The metrics section: drift over time by kind and by environment, the coverage trend, discovery durations
and resources per provider, API errors per provider, the job queue and its failures, and the latest events.

Every panel says its latest figures in words next to its chart, so it reads at 80x24 where the charts shrink to
Sparklines. ``e`` switches between every environment and the current one, ``w`` cycles the window (24h, 7d,
30d), ``r`` refreshes now. The panel refreshes itself every few seconds from a thread worker; a poll is not
started while the previous one is still running, and the timer stops while the screen is not shown.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.timer import Timer
from textual.widgets import Footer, Header, Static
from textual.worker import Worker, WorkerState

from driftmgr_tui.screens.common import SectionScreen
from driftmgr_tui.widgets.plots import EventTail, Line, MetricPanel, words

KIND_COLORS = {"changed": "yellow", "missing": "red", "unmanaged": "magenta", "unapplied": "cyan",
               "orphaned": "blue"}
CYCLE = ("cyan", "green", "magenta", "yellow", "blue", "red")
MAX_LINES = 5  # environments or providers drawn in one chart (the figures name all of them)
POLL_GROUP = "metrics-poll"
PANEL_TITLES = {"drift": "Drift by kind", "environments": "Drift by environment", "coverage": "Coverage",
                "discovery": "Discovery: run duration", "errors": "API errors per provider",
                "jobs": "Job queue"}


class MetricsScreen(SectionScreen):
    SECTION = "metrics"
    TITLE = "driftmgr · Metrics"
    REFRESH_SECONDS: ClassVar[float] = 5.0
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("e", "toggle_environment", "All/current env"),
        Binding("w", "cycle_window", "Window"),
        Binding("r", "refresh_now", "Refresh"),
    ]
    DEFAULT_CSS = """
    MetricsScreen #metrics-status { height: 1; padding: 0 1; background: $boost; }
    MetricsScreen #panels { layout: grid; grid-size: 3 2; grid-gutter: 0 1; height: 1fr; }
    MetricsScreen.-narrow #panels { grid-size: 2 3; grid-gutter: 0 0; }
    MetricsScreen #events { height: 13; }
    MetricsScreen.-short #events { height: 6; }
    """

    def __init__(self) -> None:
        super().__init__()
        from driftmgr_tui.services.metrics_service import DEFAULT_WINDOW

        self.all_environments = True
        self.window = DEFAULT_WINDOW
        self.snapshot: Any = None
        self.timer: Timer | None = None
        self.polling = False
        self.again = False  # a refresh was asked for while a poll was running
        self.skipped = 0  # timer ticks that found a poll still running
        self._last_error: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("loading…", id="metrics-status")
        with Grid(id="panels"):
            for key, title in PANEL_TITLES.items():
                yield MetricPanel(title, id=f"panel-{key}")
        yield EventTail(id="events")
        yield Footer()

    def on_mount(self) -> None:
        self.watch(self.app, "environment", self._environment_changed, init=False)

    def on_resize(self) -> None:
        self.set_class(self.size.width < 100, "-narrow")
        self.set_class(self.size.height < 32, "-short")

    # -- polling ------------------------------------------------------------------------------------------
    def on_screen_resume(self) -> None:
        if self.timer is None:
            self.timer = self.set_interval(self.REFRESH_SECONDS, self._tick)
        else:
            self.timer.resume()
        if not self.polling:  # shown again: fresh figures at once
            self._start_poll()

    def on_screen_suspend(self) -> None:
        if self.timer is not None:
            self.timer.pause()

    def _tick(self) -> None:
        if self.polling:
            self.skipped += 1  # a slow database: never pile polls up
            return
        self._start_poll()

    def refresh_now(self) -> None:
        """Poll now, or right after the poll that is running (never two at once)."""
        if self.polling:
            self.again = True
            return
        self._start_poll()

    def _start_poll(self) -> None:
        self.polling = True
        self.again = False
        self._show_status()
        self.poll(self._wanted_environment(), self.window)

    def _wanted_environment(self) -> str | None:
        return None if self.all_environments else self.app.environment

    @work(thread=True, exclusive=True, group=POLL_GROUP, exit_on_error=False, name="reading the metrics")
    def poll(self, environment: str | None, window: str) -> None:
        snapshot = self.app.hub.metrics.snapshot(environment, window)
        self.app.call_from_thread(self._show, snapshot)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # SectionScreen's handler runs after this one (Textual dispatches along the MRO) and opens the error
        # modal; a poll failing again the same way only says so in the status line.
        worker = event.worker
        if worker.group != POLL_GROUP or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR,
                                                             WorkerState.CANCELLED):
            return
        self.polling = False
        if event.state == WorkerState.ERROR and worker.error is not None:
            message = str(worker.error)
            if message == self._last_error:
                event.prevent_default()
            self._last_error = message
        elif event.state == WorkerState.SUCCESS:
            self._last_error = None
        self._show_status()
        if self.again:
            self._start_poll()

    # -- keys ---------------------------------------------------------------------------------------------
    def action_toggle_environment(self) -> None:
        self.all_environments = not self.all_environments
        self.refresh_now()
        self._show_status()

    def action_cycle_window(self) -> None:
        from driftmgr_tui.services.metrics_service import WINDOWS

        names = list(WINDOWS)
        self.window = names[(names.index(self.window) + 1) % len(names)]
        self.refresh_now()
        self._show_status()

    def action_refresh_now(self) -> None:
        self.refresh_now()

    def _environment_changed(self, _name: str) -> None:
        if not self.all_environments:
            self.refresh_now()

    # -- showing ------------------------------------------------------------------------------------------
    def _show_status(self) -> None:
        scope = "all environments" if self.all_environments else f"env {self.app.environment}"
        parts = [f"[b]{escape(scope)}[/]", f"window [b]{self.window}[/]"]
        if self.snapshot is not None:
            parts.append(f"as of {self.snapshot.now:%Y-%m-%d %H:%M:%S} UTC")
        parts.append(f"every {self.REFRESH_SECONDS:g} s")
        if self.polling:
            parts.append("refreshing…")
        if self._last_error:
            parts.append(f"[red]last refresh failed: {escape(self._last_error)}[/]")
        elif self.snapshot is not None and not self.snapshot.has_reports and not self.snapshot.providers:
            parts.append("nothing recorded yet: run a scan (`driftmgr scan`)")
        self.query_one("#metrics-status", Static).update(" · ".join(parts))

    def _show(self, snap: Any) -> None:
        if snap.environment != self._wanted_environment() or snap.window != self.window:
            return  # asked for before a toggle; the poll that follows shows the right one
        from driftmgr_tui.services.metrics_service import DRIFT_KINDS, empty_reason, figures, tick_labels

        previous, self.snapshot = self.snapshot, snap
        if previous is not None and replace(snap, now=previous.now) == previous:
            self._show_status()  # nothing moved: no need to draw the charts again
            return
        said = figures(snap)
        ticks = tick_labels(snap)

        def panel(key: str, lines: list[Line], colors: dict[str, str], **extra: Any) -> None:
            self.query_one(f"#panel-{key}", MetricPanel).show(
                words(said[key], colors), lines, ticks=ticks, empty=empty_reason(snap, key), **extra)

        kinds = [k for k, _ in said["drift"]] or ["changed", "missing", "unmanaged"]
        total = [None if all(snap.drift[k][b] is None for k in DRIFT_KINDS)
                 else sum(snap.drift[k][b] or 0 for k in DRIFT_KINDS) for b in range(len(snap.buckets))]
        panel("drift", [Line(k, snap.drift[k], KIND_COLORS[k]) for k in kinds], KIND_COLORS, spark=total)

        envs = sorted(snap.environments, key=lambda e: (-e.total, e.environment))[:MAX_LINES]
        env_colors = {e.environment: CYCLE[i % len(CYCLE)] for i, e in enumerate(envs)}
        env_lines = [Line(e.environment, [None if all(e.series[k][b] is None for k in DRIFT_KINDS)
                                          else sum(e.series[k][b] or 0 for k in DRIFT_KINDS)
                                          for b in range(len(snap.buckets))], env_colors[e.environment])
                     for e in envs]
        panel("environments", env_lines, env_colors, spark=total)

        panel("coverage", [Line("coverage", snap.coverage, "green")], {"coverage": "green"})

        providers = snap.providers[:MAX_LINES]
        provider_colors = {p.provider: CYCLE[i % len(CYCLE)] for i, p in enumerate(providers)}
        panel("discovery", [Line(p.provider, p.durations, provider_colors[p.provider]) for p in providers],
              provider_colors, spark=_merge([p.durations for p in providers], max))
        errors = [Line(p.provider, p.error_series, provider_colors[p.provider]) for p in providers]
        panel("errors", errors, provider_colors, spark=_merge([p.error_series for p in providers], sum))

        jobs = snap.jobs
        panel("jobs", [Line("open", jobs.depth, "cyan"), Line("failed", jobs.failures, "red")],
              {"queued": "cyan", "running": "cyan", "failed": "red"}, spark=jobs.depth)

        self.query_one(EventTail).show([f"{e.time:%m-%d %H:%M:%S}  {e.type:<22} {e.summary}"
                                        for e in snap.events])
        self._show_status()


def _merge(series: list[Any], how: Any) -> list[float | None]:
    """One series out of several (per bucket: ``how`` of the values present)."""
    if not series:
        return []
    out: list[float | None] = []
    for values in zip(*series, strict=True):
        present = [v for v in values if v is not None]
        out.append(how(present) if present else None)
    return out
