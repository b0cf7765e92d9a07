"""The metrics panel, driven through the real app: a real database with reports, runs, jobs and events at fixed
times, the real MetricsService behind the hub, and its refresh timer and worker."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Sparkline, Static

from driftmgr_tui.app import DriftmgrApp
from driftmgr_tui.core.db import open_database
from driftmgr_tui.core.errors import DriftmgrError
from driftmgr_tui.screens.common import ErrorScreen, HelpScreen
from driftmgr_tui.screens.metrics import MetricsScreen
from driftmgr_tui.services.hub import ServiceHub
from driftmgr_tui.widgets.plots import EventTail, MetricPanel
from tests._fixtures.metrics import NOW, at, report, seed
from tests.tui.pilot import drive, settle

WAIT_STEPS = 400  # pauses of 0.05 s at most while waiting for the timer (the test ends as soon as it fires)


@pytest.fixture(autouse=True)
def _theme(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTMGR_THEME", "textual-dark")  # the same colours on every terminal


def make_app(*, environment: str = "prod", seeded: bool = True) -> DriftmgrApp:
    if seeded:
        seed(open_database())
    hub = ServiceHub(environment=environment)
    hub.metrics.clock = lambda: NOW  # the window ends where the fixture's history does
    return DriftmgrApp(hub, initial="metrics")


class CountingSnapshots:
    """Wraps the hub's ``metrics.snapshot``: counts calls, the most running at once, and can hold calls at a
    gate (a slow database) or make them fail."""

    def __init__(self, app: DriftmgrApp) -> None:
        self.service = app.hub.metrics
        self.real = self.service.snapshot
        self.calls = 0
        self.running = 0
        self.max_running = 0
        self.lock = threading.Lock()
        self.gate: threading.Event | None = None
        self.waiting = threading.Event()
        self.error: Exception | None = None
        self.service.snapshot = self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            self.calls += 1
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            gate = self.gate
            if gate is not None:
                self.waiting.set()
                assert gate.wait(30), "the test never opened the gate"
            if self.error is not None:
                raise self.error
            return self.real(*args, **kwargs)
        finally:
            with self.lock:
                self.running -= 1


def metrics(pilot: Pilot[Any]) -> MetricsScreen:
    screen = pilot.app.screen
    assert isinstance(screen, MetricsScreen)
    return screen


def text(widget: Any) -> str:
    return str(widget.render()).strip()


def figures(screen: MetricsScreen, key: str) -> str:
    return text(screen.query_one(f"#panel-{key}", MetricPanel).query_one(".figures", Static))


def status(screen: MetricsScreen) -> str:
    return text(screen.query_one("#metrics-status", Static))


def drive_fast_timer(app: DriftmgrApp, scenario: Any) -> None:
    """Like ``drive``, for a timer of a few hundredths of a second: polls then follow each other without a
    pause, so waiting for no worker at all (``settle``) would wait long; this waits for the first figures."""

    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, MetricsScreen)
                           and pilot.app.screen.snapshot is not None)
            await scenario(pilot)

    asyncio.run(main())


async def wait_for(pilot: Pilot[Any], condition: Any) -> None:
    for _ in range(WAIT_STEPS):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("the condition never held")


# -- what it shows ----------------------------------------------------------------------------------------
def test_every_panel_shows_its_latest_figures_in_words() -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        screen = metrics(pilot)
        assert status(screen).startswith("all environments · window 7d · as of 2025-03-10 12:30:00 UTC")
        assert figures(screen, "drift") == "changed 0 · missing 2 · unmanaged 5"
        assert figures(screen, "environments") == "staging 4 · prod 3"
        assert figures(screen, "coverage") == "coverage 65.0% · window start 88.9%"
        assert figures(screen, "discovery") == "aws 40 res, 20.0 s · azure 7 res, 5.0 s · gcp no finished run"
        assert figures(screen, "errors") == "aws 10 · azure 1 · gcp 1"
        assert figures(screen, "jobs") == "queued 2 · running 1 · failed 2 (discovery 1, remediation.apply 1)"
        tail = screen.query_one(EventTail).lines
        assert len(tail) == 6 and tail[-1].startswith("03-10 12:00:00  job.queued")  # newest at the bottom
        assert tail[-2].endswith("job 106 · kind remediation.apply · attempts 3 · error: UsageError: plan 4 changed")
        for panel in screen.query(MetricPanel):
            assert not panel.compact and not panel.has_class("-empty")
        drift = screen.query_one("#panel-drift", MetricPanel)
        assert [(line.label, line.values[-1]) for line in drift.lines] == [
            ("changed", 0), ("missing", 2), ("unmanaged", 5)]
        assert drift.ticks == ([0, 14, 27], ["-7d", "-3.5d", "now"])

    drive(make_app(), scenario)


def test_at_80x24_the_charts_become_sparklines_and_the_words_stay() -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        screen = metrics(pilot)
        assert screen.has_class("-narrow")
        assert figures(screen, "drift") == "changed 0 · missing 2 · unmanaged 5"
        for panel in screen.query(MetricPanel):
            assert panel.compact, panel.id
            assert panel.query_one(Sparkline).display and not panel.query_one("PlotextPlot").display
        jobs = screen.query_one("#panel-jobs", MetricPanel).query_one(Sparkline)
        assert list(jobs.data or []) == [float(v) for v in screen.snapshot.jobs.depth]

    drive(make_app(), scenario, size=(80, 24))


def test_e_narrows_to_the_current_environment_and_w_cycles_the_window() -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        screen = metrics(pilot)
        await pilot.press("e")
        await settle(pilot)
        assert status(screen).startswith("env prod · window 7d")
        assert figures(screen, "drift") == "changed 0 · missing 2 · unmanaged 1"
        assert figures(screen, "environments") == "prod 3"
        assert figures(screen, "coverage") == "coverage 70.0% · window start 88.9%"
        assert figures(screen, "errors") == "aws 10 · azure 1 · gcp 1"  # discovery belongs to no environment

        pilot.app.switch_environment("staging")  # the current environment follows the app's
        await settle(pilot)
        assert figures(screen, "drift") == "changed 0 · missing 0 · unmanaged 4"

        await pilot.press("w")
        await settle(pilot)
        assert status(screen).startswith("env staging · window 30d")
        await pilot.press("w")
        await settle(pilot)
        assert status(screen).startswith("env staging · window 24h")
        assert screen.snapshot.window == "24h" and len(screen.snapshot.buckets) == 24
        assert figures(screen, "errors") == "aws 10 · azure 0 · gcp 1"  # azure's retry was 26 hours ago
        assert figures(screen, "jobs") == "queued 2 · running 1 · failed 2 (discovery 1, remediation.apply 1)"

        await pilot.press("e")
        await settle(pilot)
        assert status(screen).startswith("all environments · window 24h")
        assert figures(screen, "environments") == "staging 4 · prod 3"

    drive(make_app(), scenario)


def test_an_empty_database_says_how_to_get_data() -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        screen = metrics(pilot)
        assert "nothing recorded yet: run a scan" in status(screen)
        for key in ("drift", "environments", "coverage"):
            panel = screen.query_one(f"#panel-{key}", MetricPanel)
            assert panel.has_class("-empty") and not panel.query_one("PlotextPlot").display
            assert text(panel.query_one(".empty", Static)).startswith("no drift reports yet: run a scan")
        for key in ("discovery", "errors"):
            panel = screen.query_one(f"#panel-{key}", MetricPanel)
            assert text(panel.query_one(".empty", Static)).startswith("no discovery runs yet")
        jobs = screen.query_one("#panel-jobs", MetricPanel)
        assert not jobs.has_class("-empty") and figures(screen, "jobs") == "queued 0 · running 0 · failed 0"
        assert text(screen.query_one(EventTail).query_one(Static)) == "no events yet"

        await pilot.press("e")
        await settle(pilot)
        empty = screen.query_one("#panel-drift", MetricPanel).query_one(".empty", Static)
        assert text(empty).startswith("no drift reports for environment prod yet")

    drive(make_app(seeded=False), scenario)


# -- refreshing -----------------------------------------------------------------------------------------------
def test_the_timer_picks_up_a_new_report_without_a_keypress(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MetricsScreen, "REFRESH_SECONDS", 0.1)

    async def scenario(pilot: Pilot[Any]) -> None:
        screen = metrics(pilot)
        assert figures(screen, "drift") == "changed 0 · missing 2 · unmanaged 5"
        report(pilot.app.hub.engine, "prod", at(10, 12, 20), changed=6, missing=4, managed=9)
        await wait_for(pilot, lambda: figures(screen, "drift") == "changed 6 · missing 4 · unmanaged 4")
        assert figures(screen, "environments") == "prod 10 · staging 4"

    drive(make_app(), scenario)


def test_polls_never_overlap_while_the_database_is_slow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MetricsScreen, "REFRESH_SECONDS", 0.05)
    app = make_app()
    calls = CountingSnapshots(app)

    async def scenario(pilot: Pilot[Any]) -> None:
        screen = metrics(pilot)
        calls.gate = threading.Event()  # the next poll hangs until the gate opens
        await wait_for(pilot, calls.waiting.is_set)
        held = calls.calls
        skipped = screen.skipped
        await wait_for(pilot, lambda: screen.skipped >= skipped + 5)  # five ticks came and went
        await pilot.press("r")  # asked for while a poll runs: queued, not started
        assert screen.again and screen.polling
        assert calls.calls == held and calls.max_running == 1
        calls.gate.set()
        calls.gate = None
        await wait_for(pilot, lambda: calls.calls >= held + 1 and not screen.again)  # the asked-for poll ran
        await wait_for(pilot, lambda: calls.calls >= held + 4)  # and the timer goes on
        assert calls.max_running == 1

    try:
        drive_fast_timer(app, scenario)
    finally:
        if calls.gate is not None:
            calls.gate.set()


def test_the_timer_stops_while_the_screen_is_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MetricsScreen, "REFRESH_SECONDS", 0.05)
    app = make_app()
    calls = CountingSnapshots(app)

    async def scenario(pilot: Pilot[Any]) -> None:
        screen = metrics(pilot)
        before = calls.calls
        await wait_for(pilot, lambda: calls.calls >= before + 2)  # shown: it polls on its own

        await pilot.press("question_mark")  # a modal over it: hidden
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen) and not screen.polling)
        hidden = calls.calls
        for _ in range(10):  # ten refresh periods
            await pilot.pause(0.05)
        assert calls.calls == hidden
        await pilot.press("escape")
        await wait_for(pilot, lambda: calls.calls > hidden)  # back: a poll at once, then the timer again

        await pilot.press("1")  # another section
        await wait_for(pilot, lambda: pilot.app.current_mode == "drift" and not screen.polling)
        away = calls.calls
        for _ in range(10):
            await pilot.pause(0.05)
        assert calls.calls == away
        await pilot.press("6")
        await wait_for(pilot, lambda: calls.calls > away)
        assert pilot.app.screen is screen

    drive_fast_timer(app, scenario)


def test_a_failing_poll_opens_the_error_once_then_says_so_in_the_status_line() -> None:
    app = make_app()
    calls = CountingSnapshots(app)

    async def scenario(pilot: Pilot[Any]) -> None:
        screen = metrics(pilot)
        calls.error = DriftmgrError("database sqlite:///x.db: disk I/O error")
        await pilot.press("r")
        await settle(pilot)
        modal = pilot.app.screen
        assert isinstance(modal, ErrorScreen) and modal.title_text == "reading the metrics failed"
        assert modal.message == "database sqlite:///x.db: disk I/O error"
        await pilot.press("escape")  # back on the panel: it polls again, fails the same way, no second modal
        await settle(pilot)
        assert pilot.app.screen is screen
        assert "last refresh failed: database sqlite:///x.db: disk I/O error" in status(screen)
        assert figures(screen, "drift") == "changed 0 · missing 2 · unmanaged 5"  # the last figures stay

        calls.error = None
        await pilot.press("r")
        await settle(pilot)
        assert "failed" not in status(screen)

    drive(app, scenario)


# -- snapshots ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_snapshot_metrics(snap_compare: Any, size: tuple[int, int]) -> None:
    async def settled(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        screen = metrics(pilot)
        assert screen.timer is not None
        screen.timer.pause()  # no refresh while the picture is taken

    assert snap_compare(make_app(), terminal_size=size, run_before=settled)
