"""RunProgress: how far a discovery run has got, as one progress bar for the run and one per region (an AWS
region, ``global``, an Azure subscription or a Google scope), each with the tasks done out of all, what they
found and how many failed. A region with a failed task has a red bar."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Label, ProgressBar, Static

from driftmgr_tui.core.text import plural


class ProgressRow(Horizontal):
    """A label, a bar (tasks done of total) and a line of counts."""

    def __init__(self, label: str, total: int, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="progress-row")
        self.label = label
        self.bar = ProgressBar(total=max(1, total), show_eta=False, show_percentage=False)
        self.info = Static("", classes="progress-info")

    def compose(self) -> ComposeResult:
        yield Label(escape(self.label), classes="progress-label")
        yield self.bar
        yield self.info

    def set(self, total: int, done: int, failed: int, running: int, resources: int) -> None:
        self.bar.update(total=max(1, total), progress=done)
        self.set_class(failed > 0, "failed")
        parts = [f"{done}/{total} tasks", plural(resources, "resource")]
        if running:
            parts.append(f"{running} running")
        if failed:
            parts.append(f"[red]{failed} failed[/]")
        self.info.update(" · ".join(parts))


class RunProgress(Vertical):
    """Shows one run at a time (:meth:`show`); the rows are kept while the same run is shown, so the bars move
    instead of being rebuilt on every update."""

    DEFAULT_CSS = """
    RunProgress { height: auto; max-height: 45%; border-top: solid $primary-darken-2; padding: 0 1; }
    RunProgress #progress-title { height: auto; }
    RunProgress VerticalScroll { height: auto; max-height: 14; }
    RunProgress .progress-row { height: 1; }
    RunProgress .progress-label { width: 16; }
    RunProgress ProgressBar { width: auto; margin-right: 2; }
    RunProgress Bar { width: 24; }
    RunProgress .progress-info { width: 1fr; color: $text-muted; }
    RunProgress .failed Bar > .bar--bar, RunProgress .failed Bar > .bar--complete { color: $error; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.run_id: int | None = None
        self.rows: dict[str, ProgressRow] = {}

    def compose(self) -> ComposeResult:
        yield Static("", id="progress-title")
        yield VerticalScroll(id="progress-rows")

    def show(self, run_id: int | None, title: str, regions: Sequence[Any]) -> None:
        """``regions``: objects with ``region``, ``total``, ``done``, ``failed``, ``running``, ``resources``
        (:class:`~driftmgr_tui.services.discovery_service.RegionProgress`); none shows the title alone."""
        self.query_one("#progress-title", Static).update(title)
        box = self.query_one("#progress-rows", VerticalScroll)
        if run_id != self.run_id or set(self.rows) - {"*"} != {r.region for r in regions}:
            box.remove_children()
            self.rows = {}
            self.run_id = run_id
        if not regions:
            box.display = False
            return
        box.display = True
        overall = [sum(getattr(r, name) for r in regions)
                   for name in ("total", "done", "failed", "running", "resources")]
        wanted = [("*", "all regions", overall)] if len(regions) > 1 else []
        wanted += [(r.region, r.region, [r.total, r.done, r.failed, r.running, r.resources]) for r in regions]
        new = []
        for key, label, counts in wanted:
            row = self.rows.get(key)
            if row is None:
                row = self.rows[key] = ProgressRow(label, counts[0])
                new.append(row)
            row.set(*counts)
        if new:
            box.mount_all(new)
