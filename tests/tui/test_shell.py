"""The app around the sections: section keys, the ``:`` jump bar, help, the command palette, the environment
switcher, read-only mode, the error modal and the theme; and snapshots of the drift explorer and the shell's
modals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.widgets import Button, DataTable, Input, Label, OptionList, Static
from textual.widgets._footer import FooterKey

from driftmgr_tui.app import DriftmgrApp, pick_theme
from driftmgr_tui.core.db import open_database, session_scope
from driftmgr_tui.core.errors import UsageError
from driftmgr_tui.core.models import DiscoveryRun
from driftmgr_tui.core.settings import load_settings
from driftmgr_tui.drift.model import MISSING
from driftmgr_tui.screens.common import ErrorScreen, HelpScreen
from driftmgr_tui.screens.config import ConfigScreen
from driftmgr_tui.screens.discovery import DiscoveryScreen
from driftmgr_tui.screens.drift import DriftScreen
from driftmgr_tui.screens.drift_modals import FacetScreen
from driftmgr_tui.screens.jump import EnvironmentScreen, JumpScreen
from driftmgr_tui.screens.metrics import MetricsScreen
from driftmgr_tui.screens.remediation import RemediationScreen
from driftmgr_tui.screens.state import StateScreen
from driftmgr_tui.services.hub import ServiceHub
from tests.tui.pilot import drive, notes_of, settle
from tests.tui.test_drift_explorer import (
    SECOND,
    Explorer,
    column,
    current,
    cursor_to,
    explorer_screen,
    findings,
    make_explorer,
    plain,
    save,
    status,
    summary,
    type_filter,
)
from tests.tui.test_state_browser import cursor_address


@pytest.fixture
def explorer(tmp_path: Path, isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> Explorer:
    """Environment ``test`` with two reports, and environment ``other`` (the same state) with one report of
    its missing items only."""
    made = make_explorer(tmp_path, isolated_dirs, monkeypatch)
    config = isolated_dirs / "config.toml"
    config.write_text(config.read_text() + config.read_text().replace("[environments.test]",
                                                                      "[environments.other]"))
    save("other", [f for f in findings(str(made.path)) if f.kind == MISSING], managed=8, now=SECOND)
    return made


def help_text(pilot: Pilot[Any]) -> str:
    screen = pilot.app.screen
    assert isinstance(screen, HelpScreen)
    return "\n".join(plain(s) for s in screen.query(Static))


async def jump(pilot: Pilot[Any], text: str, *, keys: bool = False) -> None:
    """``:``, then ``text`` (typed key by key, or pasted) and enter."""
    await pilot.press("colon")
    bar = pilot.app.screen
    assert isinstance(bar, JumpScreen)
    assert pilot.app.focused is bar.query_one(Input)
    if keys:
        await pilot.press(*text)
    else:
        bar.query_one(Input).value = text
    await pilot.press("enter")
    await settle(pilot)


# -- sections -----------------------------------------------------------------------------------------------
def test_keys_switch_sections_and_each_keeps_its_screen(explorer: Explorer) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        app = pilot.app
        drift = app.screen
        assert isinstance(drift, DriftScreen) and app.current_mode == "drift"
        await pilot.press("3")
        await settle(pilot)
        assert isinstance(app.screen, StateScreen) and app.current_mode == "state"
        await pilot.press("1")
        await settle(pilot)
        assert app.screen is drift  # the same screen, as it was left

        screens = {}
        for key, mode, screen in (("2", "remediation", RemediationScreen), ("4", "discovery", DiscoveryScreen),
                                  ("5", "config", ConfigScreen), ("6", "metrics", MetricsScreen)):
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, screen) and app.current_mode == mode
            screens[key] = app.screen
        await pilot.press("1", "2")
        await settle(pilot)
        assert app.screen is screens["2"]

    drive(explorer.app(), scenario)


def test_jump_bar_goes_to_sections_environments_help_and_quits(explorer: Explorer) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        app = pilot.app
        await pilot.press("colon")
        hint = str(app.screen.query_one("#jump-hint", Label).render())
        assert hint == ("drift  remediation  state  discovery  config  metrics  alerts  env other  env test  "
                        "help  quit")
        await pilot.press("escape")
        assert isinstance(app.screen, DriftScreen)

        await jump(pilot, "state", keys=True)
        assert isinstance(app.screen, StateScreen)
        await jump(pilot, ":drift")
        assert isinstance(app.screen, DriftScreen)
        await jump(pilot, "3")
        assert isinstance(app.screen, StateScreen)
        await jump(pilot, "drift")

        await jump(pilot, "env other")
        assert app.environment == "other" and app.hub.environment == "other"
        assert summary(explorer_screen(pilot)).startswith("report 3 · other")
        await jump(pilot, "env test")
        assert app.environment == "test"

        notes = notes_of(app)
        await jump(pilot, "nonsense here")
        assert notes == ["unknown: nonsense here (sections: drift, remediation, state, discovery, config, metrics, "
                         "env NAME, help, quit)"]
        await jump(pilot, "remediation")
        assert isinstance(app.screen, RemediationScreen)
        await jump(pilot, "drift")

        await jump(pilot, "help")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")

        await jump(pilot, "quit")
        assert app.return_code == 0 and not app.is_running

    drive(explorer.app(), scenario)


# -- help ---------------------------------------------------------------------------------------------------
def test_help_lists_every_binding_of_the_screen(explorer: Explorer) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        for key, screen_type in (("1", DriftScreen), ("3", StateScreen)):
            await pilot.press(key)
            await settle(pilot)
            screen = pilot.app.screen
            assert isinstance(screen, screen_type)
            descriptions = {active.binding.description for active in screen.active_bindings.values()}
            assert {b.description for b in screen_type.BINDINGS} <= descriptions  # type: ignore[union-attr]
            await pilot.press("question_mark")
            text = help_text(pilot)
            assert text.splitlines()[0] == f"Keys of {screen.title}"
            for description in descriptions:
                assert description in text
            assert [line.split() for line in text.splitlines()].count(["?", "Help"]) == 1  # "?" and f1, once
            await pilot.press("question_mark")  # ? closes it again
            assert pilot.app.screen is screen

        await pilot.press("f1")
        assert "Jump" in help_text(pilot)
        await pilot.press("escape")

    drive(explorer.app(), scenario)


# -- the command palette ------------------------------------------------------------------------------------
async def palette(pilot: Pilot[Any], text: str, *, keys: bool = False) -> list[str]:
    """Open the palette, put ``text`` in it (typed key by key, or pasted); the hits (text, a newline, help),
    best first."""
    await pilot.press("ctrl+p")
    await settle(pilot)
    assert isinstance(pilot.app.screen, CommandPalette)
    if keys:
        await pilot.press(*text)
    else:
        pilot.app.screen.query_one(Input).value = text
    await settle(pilot)
    # the palette gathers hits from its providers asynchronously (not in workers): wait until they stop
    # changing, which on a loaded machine can take a while after the last key
    hits = pilot.app.screen.query_one(CommandList)
    seen, stable = None, 0
    for _ in range(100):
        current = [str(hits.get_option_at_index(i).prompt) for i in range(hits.option_count)]
        stable = stable + 1 if current == seen and current else 0
        if stable >= 3:
            break
        seen = current
        await pilot.pause(0.05)
    return seen or []


def test_palette_finds_a_resource_and_opens_the_state_browser_on_it(explorer: Explorer) -> None:
    address = 'module.network.aws_subnet.private["eu-west-1b"]'

    async def scenario(pilot: Pilot[Any]) -> None:
        hits = await palette(pilot, address)
        assert hits[0] == f"{address}\nin {explorer.path}"
        await pilot.press("enter")
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, StateScreen)
        assert cursor_address(screen) == address

    drive(explorer.app(), scenario)


def test_palette_finds_a_drift_item_and_opens_the_explorer_on_it(explorer: Explorer) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        assert isinstance(pilot.app.screen, StateScreen)
        hits = await palette(pilot, "break-glass", keys=True)
        assert hits == ["unmanaged critical aws_iam_role.break-glass\nopen this drift item"]
        await pilot.press("enter")
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, DriftScreen)
        assert current(screen)[3] == "break-glass"
        assert plain(screen.query_one("#detail-body", Static)).startswith(
            " CRITICAL  unmanaged aws_iam_role.break-glass")

        await type_filter(pilot, "kind:missing")  # a filter that hides the item is cleared
        await pilot.press("enter")
        await palette(pilot, "acme-tmp-upload")
        await pilot.press("enter")
        await settle(pilot)
        assert current(screen)[3] == "acme-tmp-upload"
        assert len(column(screen, "ID")) == 20 and screen.query_one("#filter", Input).value == ""

    drive(DriftmgrApp(ServiceHub(environment="test"), initial="state"), scenario)


def test_palette_switches_the_environment(explorer: Explorer) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        hits = await palette(pilot, "environment oth")
        assert hits == ["environment other\nswitch every section to this environment"]
        await pilot.press("enter")
        await settle(pilot)
        assert pilot.app.environment == "other"
        assert summary(explorer_screen(pilot)).startswith("report 3 · other")

    drive(explorer.app(), scenario)


def test_palette_opens_a_discovery_run_in_its_section(explorer: Explorer) -> None:
    with session_scope(open_database(load_settings())) as session:
        run = DiscoveryRun(provider="aws", status="partial", account="123456789012", regions='["eu-west-1"]',
                           task_count=24, failed_tasks=2, resource_count=310)
        session.add(run)
        session.commit()
        run_id = run.id

    async def scenario(pilot: Pilot[Any]) -> None:
        hits = await palette(pilot, f"run {run_id} aws")
        assert hits == [f"run {run_id} aws partial 123456789012\n310 resources, 1 region"]
        await pilot.press("enter")
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, DiscoveryScreen)
        runs = screen.query_one("#runs", DataTable)
        assert runs.coordinate_to_cell_key(runs.cursor_coordinate).row_key.value == str(run_id)

    drive(explorer.app(), scenario)


# -- environments -------------------------------------------------------------------------------------------
def test_environment_switcher_switches_and_the_explorer_reloads(explorer: Explorer) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        app = pilot.app
        screen = explorer_screen(pilot)
        assert app.sub_title == "env test"
        await pilot.press("E")
        switcher = app.screen
        assert isinstance(switcher, EnvironmentScreen)
        options = switcher.query_one(OptionList)
        assert [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)] == [
            "  other", "● test"]
        assert options.highlighted == 1
        notes = notes_of(app)
        await pilot.press("up", "enter")
        await settle(pilot)
        assert app.screen is screen
        assert app.environment == "other" and app.sub_title == "env other"
        assert notes == ["environment other"]
        assert summary(screen).startswith("report 3 · other")
        assert column(screen, "Kind") == ["missing"] * 3 and status(screen) == "3 of 3 items · sort severity"

        await pilot.press("E", "escape")  # closed: nothing changes
        await settle(pilot)
        assert app.environment == "other"

        await pilot.press("3")  # the state browser shows the environment too
        await settle(pilot)
        assert "env other · 1 state" in str(app.screen.query_one("#state-status").render())

    drive(explorer.app(), scenario)


# -- read-only ----------------------------------------------------------------------------------------------
def test_read_only_hides_and_refuses_the_destructive_drift_actions(explorer: Explorer) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        app = pilot.app
        screen = explorer_screen(pilot)
        assert app.sub_title == "env test · READ-ONLY"
        bindings = screen.active_bindings
        for key in ("i", "I", "a"):
            assert key not in bindings
        for key in ("slash", "f", "s", "S", "space", "o", "r"):
            assert bindings[key].enabled
        shown = {key.description for key in screen.query(FooterKey)}
        assert {"Filter", "Facets", "Sort", "Mark", "In state", "Rescan"} <= shown
        assert not shown & {"Ignore", "Ignore field", "To plan"}
        await pilot.press("question_mark")
        assert "Ignore" not in help_text(pilot) and "To plan" not in help_text(pilot)
        await pilot.press("escape")

        await cursor_to(pilot, "acme-prod-logs")
        await pilot.press("space", "i", "I", "a")
        await settle(pilot)
        assert app.screen is screen
        assert "1 marked" in status(screen)
        assert app.hub.drift.list_ignore_rules("test") == []
        assert app.hub.remediation.list_plans() == []

    drive(explorer.app(read_only=True), scenario)


# -- errors -------------------------------------------------------------------------------------------------
def test_show_error_opens_a_modal_with_copyable_text(explorer: Explorer) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        app = pilot.app
        screen = app.screen
        app.show_error("loading the drift report failed",
                       UsageError("no drift report 7", hint="`driftmgr drift list` lists them"))
        await settle(pilot)
        error = app.screen
        assert isinstance(error, ErrorScreen)
        assert str(error.query_one("#error-title", Label).render()) == "loading the drift report failed"
        assert plain(error.query_one("#error-message", Static)) == "no drift report 7"
        assert error.detail == "no drift report 7\nhint: `driftmgr drift list` lists them"
        assert app.focused is error.query_one("#close", Button)

        notes = notes_of(app)
        await pilot.click("#copy")
        assert app.clipboard == error.detail
        assert notes == ["error text copied to the clipboard"]
        await pilot.press("escape")
        assert app.screen is screen

        app.show_error("rescanning failed", KeyError("region"))
        await settle(pilot)
        assert app.screen.message == "KeyError: 'region'"
        await pilot.press("c")
        assert app.clipboard == "KeyError: 'region'"
        await pilot.press("escape")

        app.show_error("plain", "a message [with] brackets")
        await settle(pilot)
        assert plain(app.screen.query_one("#error-message", Static)) == "a message [with] brackets"
        await pilot.press("escape")
        assert app.screen is screen

    drive(explorer.app(), scenario)


# -- theme --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("environ", "theme"), [
    ({"TERM": "xterm"}, "ansi-dark"),
    ({"TERM": "xterm-256color"}, "textual-dark"),
    ({"TERM": "xterm", "COLORTERM": "truecolor"}, "textual-dark"),
    ({"TERM": "screen", "COLORTERM": "24bit"}, "textual-dark"),
    ({}, "ansi-dark"),
    ({"TERM": "xterm-256color", "DRIFTMGR_THEME": "nord"}, "nord"),
    ({"TERM": "xterm", "DRIFTMGR_THEME": "textual-light"}, "textual-light"),
])
def test_pick_theme(environ: dict[str, str], theme: str) -> None:
    assert pick_theme(environ) == theme


def test_the_app_starts_with_the_picked_theme(explorer: Explorer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRIFTMGR_THEME")
    monkeypatch.delenv("COLORTERM", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert explorer.app().theme == "ansi-dark"
    monkeypatch.setenv("DRIFTMGR_THEME", "textual-light")
    assert explorer.app().theme == "textual-light"


# -- snapshots ----------------------------------------------------------------------------------------------
async def _item_selected(pilot: Pilot[Any]) -> None:
    await settle(pilot)
    await cursor_to(pilot, "acme-prod-logs")


async def _help_open(pilot: Pilot[Any]) -> None:
    await settle(pilot)
    await pilot.press("question_mark")
    await settle(pilot)


async def _facets_open(pilot: Pilot[Any]) -> None:
    await settle(pilot)
    await pilot.press("f", "down", "space", "down", "down", "down", "space")
    await settle(pilot)
    assert isinstance(pilot.app.screen, FacetScreen)


async def _error_open(pilot: Pilot[Any]) -> None:
    await settle(pilot)
    pilot.app.show_error("rescanning failed", UsageError(
        "no finished aws discovery run to compare the states with",
        hint="run `driftmgr scan --provider aws ...` (discovers, then compares) or "
             "`driftmgr discover --provider aws` first"))
    await settle(pilot)


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_snapshot_explorer_item_selected(explorer: Explorer, snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(explorer.app(), terminal_size=size, run_before=_item_selected)


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_snapshot_help(explorer: Explorer, snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(explorer.app(), terminal_size=size, run_before=_help_open)


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_snapshot_facets(explorer: Explorer, snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(explorer.app(), terminal_size=size, run_before=_facets_open)


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_snapshot_error(explorer: Explorer, snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(explorer.app(), terminal_size=size, run_before=_error_open)
