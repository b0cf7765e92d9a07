"""The driftmgr terminal app: sections as Textual modes, keys 1-6 and a ``:`` jump bar, a command palette
that finds resources, drift items, discovery runs and environments, ``?`` for the keys of the screen, an
environment switcher, and a read-only mode that hides every destructive action.

Cloud SDKs are never imported here: screens call the services, which import them lazily, so the first frame
does not wait for boto3 or Google's gRPC stack.
"""

from __future__ import annotations

import importlib
import os
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive

from driftmgr_tui.screens.palette import PALETTE_PROVIDERS
from driftmgr_tui.services.hub import ServiceHub

# key, mode, title: the six sections; only those with a screen are offered
SECTIONS = (
    ("1", "drift", "Drift"),
    ("2", "remediation", "Remediation"),
    ("3", "state", "State"),
    ("4", "discovery", "Discovery"),
    ("5", "config", "Config"),
    ("6", "metrics", "Metrics"),
)


def _lazy(module: str, name: str) -> Any:
    """A section's screen, imported on first use so the first frame pays only for the first section."""

    def build() -> Any:
        return getattr(importlib.import_module(f"driftmgr_tui.screens.{module}"), name)()

    return build


AVAILABLE = {
    "drift": _lazy("drift", "DriftScreen"),
    "state": _lazy("state", "StateScreen"),
}


def pick_theme(environ: dict[str, str] | os._Environ[str] = os.environ) -> str:
    """``DRIFTMGR_THEME`` if set; else the dark theme on terminals that say they have 256 or more colours,
    and the ANSI theme (the terminal's own 16 colours) elsewhere, e.g. a bare ``TERM=xterm`` over SSH."""
    if environ.get("DRIFTMGR_THEME"):
        return environ["DRIFTMGR_THEME"]
    rich_colours = environ.get("COLORTERM", "").lower() in ("truecolor", "24bit") or "256" in environ.get("TERM", "")
    return "textual-dark" if rich_colours else "ansi-dark"


class DriftmgrApp(App[None]):
    TITLE = "driftmgr"
    MODES: ClassVar[dict[str, Any]] = dict(AVAILABLE)
    COMMANDS = App.COMMANDS | set(PALETTE_PROVIDERS)
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        # every section key, so that one without a screen yet says so instead of doing nothing
        *[Binding(key, f"section('{mode}')", title if mode in AVAILABLE else f"{title} (not available yet)",
                  show=False) for key, mode, title in SECTIONS],
        Binding("colon", "jump", "Jump", key_display=":"),
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        Binding("E", "environments", "Env"),
        Binding("q", "quit", "Quit", show=False),
    ]
    CSS = """
    ModalScreen { background: $background 60%; }
    """

    environment: reactive[str] = reactive("default")

    def __init__(self, hub: ServiceHub | None = None, *, initial: str = "drift") -> None:
        super().__init__()
        self.hub = hub or ServiceHub()
        self.read_only = self.hub.read_only
        self.initial = initial if initial in AVAILABLE else "drift"
        self.set_reactive(DriftmgrApp.environment, self.hub.environment)
        self.theme = pick_theme()

    def on_mount(self) -> None:
        self._update_subtitle()
        self.switch_mode(self.initial)

    def _update_subtitle(self) -> None:
        badge = " · READ-ONLY" if self.read_only else ""
        self.sub_title = f"env {self.environment}{badge}"

    def watch_environment(self, name: str) -> None:
        self.hub.environment = name
        self._update_subtitle()

    # -- navigation ------------------------------------------------------------------------------------
    def action_section(self, mode: str) -> None:
        if mode not in AVAILABLE:
            self.notify(f"the {mode} section is not available yet", severity="warning")
            return
        self.switch_mode(mode)

    def action_help(self) -> None:
        from driftmgr_tui.screens.common import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.screen))

    def action_jump(self) -> None:
        from driftmgr_tui.screens.jump import JumpScreen

        words = [mode for _k, mode, _t in SECTIONS if mode in AVAILABLE]
        words += [f"env {name}" for name in self.hub.environments()] + ["help", "quit"]
        self.push_screen(JumpScreen(words), self._jump_to)

    def _jump_to(self, text: str | None) -> None:
        if not text:
            return
        word, _, rest = text.partition(" ")
        word = word.lower()
        modes = {mode: mode for _k, mode, _t in SECTIONS} | {key: mode for key, mode, _t in SECTIONS}
        if word in modes:
            self.action_section(modes[word])
        elif word in ("env", "environment") and rest.strip():
            self.switch_environment(rest.strip())
        elif word in ("help", "?"):
            self.action_help()
        elif word in ("q", "quit"):
            self.exit()
        else:
            self.notify(f"unknown: {text} (sections: "
                        f"{', '.join(m for _k, m, _t in SECTIONS if m in AVAILABLE)}, env NAME, help, quit)",
                        severity="warning")

    def action_environments(self) -> None:
        from driftmgr_tui.screens.jump import EnvironmentScreen

        self.push_screen(EnvironmentScreen(self.hub.environments(), self.environment),
                         lambda name: self.switch_environment(name) if name else None)

    def switch_environment(self, name: str) -> None:
        if name != self.environment:
            self.environment = name
            self.notify(f"environment {name}")

    # -- cross-section navigation (the palette, the explorer's "open in state browser") -------------------
    def open_drift_item(self, item_id: int) -> None:
        self.switch_mode("drift")
        self.screen.call_after_refresh(getattr(self.screen, "select_item", lambda _i: None), item_id)

    def open_state_address(self, location: str | None, address: str) -> None:
        self.switch_mode("state")
        self.screen.call_after_refresh(getattr(self.screen, "reveal_address", lambda _l, _a: None),
                                       location, address)

    # -- errors ----------------------------------------------------------------------------------------
    def show_error(self, title: str, error: BaseException | str) -> None:
        """A worker's failure, in a modal with copyable text (never a traceback on the terminal)."""
        from driftmgr_tui.screens.common import ErrorScreen, describe_error

        if isinstance(error, BaseException):
            message, detail = describe_error(error)
        else:
            message = detail = error
        self.push_screen(ErrorScreen(title, message, detail))


def run_app(*, environment: str | None = None, read_only: bool = False, initial: str = "drift") -> None:
    DriftmgrApp(ServiceHub(environment=environment, read_only=read_only), initial=initial).run()
