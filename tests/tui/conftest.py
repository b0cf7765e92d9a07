"""Shared wiring of the TUI tests: a real environment on disk for the app to open."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from driftmgr_tui.app import DriftmgrApp
from driftmgr_tui.services.hub import ServiceHub

EXAMPLE_STATE = Path(__file__).resolve().parents[2] / "examples" / "terraform.tfstate"


class StateAppFactory:
    """``state_app()`` builds a DriftmgrApp on the State section of environment ``test``, whose one state is
    ``state_app.path`` (a copy of examples/terraform.tfstate); ``state_app(read_only=True)`` in read-only
    mode."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, *, read_only: bool = False) -> DriftmgrApp:
        return DriftmgrApp(ServiceHub(environment="test", read_only=read_only), initial="state")


@pytest.fixture
def state_app(tmp_path: Path, isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> StateAppFactory:
    path = tmp_path / "live" / "terraform.tfstate"
    path.parent.mkdir()
    shutil.copyfile(EXAMPLE_STATE, path)
    (isolated_dirs / "config.toml").write_text(f"[environments.test]\nstates = [{json.dumps(str(path))}]\n")
    monkeypatch.setenv("DRIFTMGR_THEME", "textual-dark")  # the same colours on every terminal
    return StateAppFactory(path)
