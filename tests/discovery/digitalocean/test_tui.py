"""The Discovery section with a DigitalOcean environment: the start form offers the region filter with its own
hint and rules, and a run started from it lists the fake account."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from driftmgr_tui.app import DriftmgrApp
from driftmgr_tui.screens.discovery_modals import StartRunScreen
from driftmgr_tui.services.hub import ServiceHub
from tests.tui.conftest import EXAMPLE_STATE
from tests.tui.pilot import drive, notes_of, settle

from . import fake_api as do
from .fake_api import FakeDigitalOcean


@pytest.fixture
def do_world(do_api: FakeDigitalOcean, tmp_path: Path, isolated_dirs: Path,
             monkeypatch: pytest.MonkeyPatch) -> FakeDigitalOcean:
    path = tmp_path / "terraform.tfstate"
    shutil.copyfile(EXAMPLE_STATE, path)
    (isolated_dirs / "config.toml").write_text(
        f'[environments.do]\nstates = [{json.dumps(str(path))}]\nprovider = "digitalocean"\nregions = ["nyc1"]\n')
    monkeypatch.setenv("DRIFTMGR_THEME", "textual-dark")
    monkeypatch.setenv("DIGITALOCEAN_API_URL", do_api.url)
    monkeypatch.setenv("DIGITALOCEAN_TOKEN", do.TOKEN)
    do_api.add("droplets", do.droplet(3164444, "web-1", region="nyc1"), do.droplet(3164446, "w-2", region="ams3"))
    return do_api


def _visible(modal: StartRunScreen) -> list[str]:
    return [w.id.removeprefix("field-") for w in modal.query(".field") if w.id and not w.has_class("hidden")]


def _note(modal: StartRunScreen, name: str) -> str:
    return str(modal.query_one(f"#note-{name}", Static).render())


def test_a_digitalocean_run_from_the_start_form(do_world: FakeDigitalOcean) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        notes = notes_of(pilot.app)
        await pilot.press("s")
        await settle(pilot)
        modal = pilot.app.screen
        assert isinstance(modal, StartRunScreen)
        assert modal.provider == "digitalocean"
        assert _visible(modal) == ["regions", "types"]
        regions = modal.query_one("#regions", Input)
        assert regions.value == "nyc1" and regions.placeholder == "every region"
        assert _note(modal, "regions") == "optional: only these regions, e.g. nyc1, ams3"
        regions.value = "nyc1, us-east-1"
        await pilot.pause()
        assert _note(modal, "regions") == "'us-east-1' is not a DigitalOcean region slug (like nyc1 or ams3), nor 'all'"
        regions.value = "nyc1"
        modal.query_one("#types", Input).value = "digitalocean_droplet"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await settle(pilot)
        run = pilot.app.hub.discovery.list_runs()[0]
        assert (run.provider, run.status, run.account, run.regions) == ("digitalocean", "complete", do.TEAM_UUID,
                                                                        ["nyc1"])
        assert notes == [f"discovery run {run.id} started: digitalocean",
                         f"discovery run {run.id}: complete, 1 resource"]

    drive(DriftmgrApp(ServiceHub(environment="do"), initial="discovery"), scenario)
