"""The ``:`` jump bar (sections, environments, commands, as in k9s) and the environment switcher."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option


class JumpScreen(ModalScreen[str | None]):
    """One line at the bottom: ``drift``, ``state``, ``env prod``, ``help``, ``quit``. Returns the text."""

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "dismiss_none", "Close"),
    ]
    DEFAULT_CSS = """
    JumpScreen { align: left bottom; background: $background 30%; }
    JumpScreen > Vertical { height: auto; width: 100%; background: $surface; border-top: solid $primary; }
    JumpScreen Input { border: none; height: 1; padding: 0 1; }
    JumpScreen #jump-hint { color: $text-muted; padding: 0 1; }
    """

    def __init__(self, words: list[str]) -> None:
        super().__init__()
        self.words = words

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("  ".join(self.words[:12]), id="jump-hint")
            yield Input(placeholder=":section, env NAME, help, quit", id="jump-input",
                        suggester=SuggestFromList(self.words, case_sensitive=False))

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip().lstrip(":") or None)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class EnvironmentScreen(ModalScreen[str | None]):
    """Pick the environment every section shows."""

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "dismiss_none", "Close"),
    ]
    DEFAULT_CSS = """
    EnvironmentScreen { align: center middle; }
    EnvironmentScreen > Vertical { width: 50; height: auto; max-height: 80%; border: thick $primary;
                                   background: $surface; padding: 0 1; }
    EnvironmentScreen Label { padding: 1 0 0 0; text-style: bold; }
    EnvironmentScreen OptionList { height: auto; max-height: 20; margin: 1 0; }
    """

    def __init__(self, names: list[str], current: str) -> None:
        super().__init__()
        self.names = names
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Environment")
            yield OptionList(*[Option(f"{'● ' if n == self.current else '  '}{n}", id=n) for n in self.names])

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.focus()
        if self.current in self.names:
            options.highlighted = self.names.index(self.current)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
