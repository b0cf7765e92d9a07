"""Small modals of the drift explorer: facets to narrow the table, and the field to ignore."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, SelectionList
from textual.widgets.selection_list import Selection


class FacetScreen(ModalScreen[dict[str, set[str] | None] | None]):
    """Check values of kind, severity, provider, type, module; nothing checked in a facet = no filter."""

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "apply", "Apply", priority=True),  # before the list's own enter (toggle)
    ]
    DEFAULT_CSS = """
    FacetScreen { align: center middle; }
    FacetScreen > Vertical { width: 70; max-width: 95%; height: 80%; border: thick $primary; background: $surface;
                             padding: 0 1; }
    FacetScreen Label { padding: 1 0 0 0; text-style: bold; }
    FacetScreen SelectionList { height: 1fr; }
    """

    def __init__(self, counts: dict[str, dict[str, int]], current: dict[str, set[str] | None]) -> None:
        super().__init__()
        self.counts = counts
        self.current = current

    def compose(self) -> ComposeResult:
        selections = []
        for facet, values in self.counts.items():
            chosen = self.current.get(facet) or set()
            for value, count in values.items():  # in the view's order: severities worst first, others by count
                selections.append(Selection(f"{facet}: {value or '(root)'}  ({count})", f"{facet}\0{value}",
                                            value in chosen))
        with Vertical():
            yield Label("Facets: space checks, enter applies, esc cancels")
            yield SelectionList[str](*selections)

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    def action_apply(self) -> None:
        chosen: dict[str, set[str] | None] = {facet: None for facet in self.counts}
        for value in self.query_one(SelectionList).selected:
            facet, _, item = value.partition("\0")
            chosen.setdefault(facet, set())
            chosen[facet] = (chosen[facet] or set()) | {item}
        self.dismiss(chosen)

    def action_cancel(self) -> None:
        self.dismiss(None)


class FieldScreen(ModalScreen[str | None]):
    """Which field of a changed item to ignore."""

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "cancel", "Cancel"),
    ]
    DEFAULT_CSS = """
    FieldScreen { align: center middle; }
    FieldScreen > Vertical { width: 60; height: auto; max-height: 80%; border: thick $primary; background: $surface;
                             padding: 0 1; }
    FieldScreen Label { padding: 1 0 0 0; text-style: bold; }
    FieldScreen OptionList { height: auto; max-height: 20; margin: 1 0; }
    """

    def __init__(self, paths: list[str]) -> None:
        super().__init__()
        self.paths = paths

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Ignore which field?")
            yield OptionList(*self.paths)

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.paths[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)
