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

from driftmgr_tui.screens.alert_watch import AlertWatch
from driftmgr_tui.screens.common import with_ids
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
    "config": _lazy("config", "ConfigScreen"),
    "remediation": _lazy("remediation", "RemediationScreen"),
    "discovery": _lazy("discovery", "DiscoveryScreen"),
    "metrics": _lazy("metrics", "MetricsScreen"),
    "alerts": _lazy("alerts", "AlertsScreen"),
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
    # ids app.ACTION (app.drift for a section key): the config file's [keys] rebinds them
    BINDINGS: ClassVar[list[Any]] = with_ids("app", [
        *[Binding(key, f"section('{mode}')", title, show=False, id=f"app.{mode}") for key, mode, title in SECTIONS],
        Binding("colon", "jump", "Jump", key_display=":"),
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        Binding("E", "environments", "Env"),
        Binding("exclamation_mark", "alerts", "Alerts", key_display="!", show=False),
        Binding("q", "quit", "Quit", show=False),
    ])
    CSS = """
    ModalScreen { background: $background 60%; }
    """

    environment: reactive[str] = reactive("default")
    open_alerts: reactive[int] = reactive(0)  # kept by the alert watcher; the sub-title shows it

    def __init__(self, hub: ServiceHub | None = None, *, initial: str = "drift") -> None:
        super().__init__()
        self.hub = hub or ServiceHub()
        self.read_only = self.hub.read_only
        self.initial = initial if initial in AVAILABLE else "drift"
        self.set_reactive(DriftmgrApp.environment, self.hub.environment)
        self.theme = pick_theme()
        self.alert_watch = AlertWatch(self)
        self._return_mode = "drift" if self.initial == "alerts" else self.initial  # where ! leaves alerts for

    def on_mount(self) -> None:
        self.apply_keymap()
        self._update_subtitle()
        self.switch_mode(self.initial)
        self.alert_watch.start()

    def on_unmount(self) -> None:
        self.alert_watch.stop()

    def apply_keymap(self) -> None:
        """The config file's ``[keys]``: bindings rebound by id (``drift.rescan``, ``app.help``)."""
        from driftmgr_tui.core.errors import DriftmgrError

        try:
            self.set_keymap(dict(self.hub.settings.keys))
        except DriftmgrError as exc:  # a broken config file: the sections say so when they load
            self.log.warning(f"keymap not applied: {exc}")

    def _update_subtitle(self) -> None:
        badge = " · READ-ONLY" if self.read_only else ""
        n = self.open_alerts
        alerts = f" · {n} open alert{'s' if n != 1 else ''}" if n else ""
        self.sub_title = f"env {self.environment}{alerts}{badge}"

    def watch_open_alerts(self, _count: int) -> None:
        self._update_subtitle()

    def watch_environment(self, name: str) -> None:
        self.hub.environment = name
        self._update_subtitle()

    # -- navigation ------------------------------------------------------------------------------------
    def action_section(self, mode: str) -> None:
        self.switch_mode(mode)

    def action_help(self) -> None:
        from driftmgr_tui.screens.common import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.screen))

    def action_jump(self) -> None:
        from driftmgr_tui.screens.jump import JumpScreen

        words = [mode for _k, mode, _t in SECTIONS if mode in AVAILABLE] + ["alerts"]
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
        elif word in ("alerts", "!"):
            if self.current_mode != "alerts":
                self.action_alerts()
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

    def action_alerts(self) -> None:
        """``!``: the alert list; there, ``!`` or ``esc`` goes back to the section it was opened from."""
        if self.current_mode == "alerts":
            self.switch_mode(self._return_mode)
            return
        self._return_mode = self.current_mode
        self.switch_mode("alerts")

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

    def open_discovery_run(self, run_id: int) -> None:
        self.switch_mode("discovery")
        self.screen.call_after_refresh(getattr(self.screen, "select_run", lambda _r: None), run_id)

    def open_plan(self, plan_id: int) -> None:
        self.switch_mode("remediation")
        self.screen.call_after_refresh(getattr(self.screen, "select_plan", lambda _p: None), plan_id)

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
