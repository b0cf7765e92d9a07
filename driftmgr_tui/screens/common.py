"""What every section screen shares: read-only awareness, worker errors shown in a modal (never a
traceback), and the small modal screens of the shell (error, help, confirm, typed confirmation)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Label, Static, TextArea
from textual.worker import WorkerState


def describe_error(error: BaseException) -> tuple[str, str]:
    """(one-line message, copyable detail) for an error a worker raised."""
    from driftmgr_tui.core.errors import DriftmgrError

    if isinstance(error, DriftmgrError):
        detail = error.message + (f"\nhint: {error.hint}" if error.hint else "")
        return error.message, detail
    return f"{type(error).__name__}: {error}", f"{type(error).__name__}: {error}"


def with_ids(section: str, bindings: Iterable[Binding | tuple[str, ...]]) -> list[Binding]:
    """``bindings`` with the id ``SECTION.ACTION`` on each that has none: what ``[keys]`` rebinds."""
    out = []
    for binding in bindings:
        if isinstance(binding, tuple):
            binding = Binding(*binding)
        out.append(binding if binding.id else dataclasses.replace(binding, id=f"{section}.{binding.action}"))
    return out


class SectionScreen(Screen):
    """A section of the app. ``DESTRUCTIVE`` actions are hidden and disabled in read-only mode. Every binding
    of a section gets the id ``SECTION.ACTION``, so the config file's ``[keys]`` can rebind it."""

    DESTRUCTIVE: ClassVar[frozenset[str]] = frozenset()
    SECTION: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        if cls.SECTION and "BINDINGS" in cls.__dict__:
            cls.BINDINGS = with_ids(cls.SECTION, cls.__dict__["BINDINGS"])  # type: ignore[assignment]
        super().__init_subclass__(**kwargs)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # False hides a destructive action from the footer and the help, and refuses it
        return not (action in self.DESTRUCTIVE and getattr(self.app, "read_only", False))

    def on_worker_state_changed(self, event: Any) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.app.show_error(f"{event.worker.name or 'background work'} failed", event.worker.error)


class ErrorScreen(ModalScreen[None]):
    """An error with its text selectable and copyable."""

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape,enter", "dismiss", "Close"),
        Binding("c", "copy", "Copy"),
    ]
    DEFAULT_CSS = """
    ErrorScreen { align: center middle; }
    ErrorScreen > Vertical { width: 90; max-width: 95%; height: auto; max-height: 80%; border: thick $error;
                             background: $surface; padding: 0 1; }
    ErrorScreen #error-title { text-style: bold; color: $error; padding: 1 0 0 0; }
    ErrorScreen TextArea { height: auto; max-height: 16; margin: 1 0; }
    ErrorScreen Horizontal { height: auto; align-horizontal: right; }
    ErrorScreen Button { margin-left: 1; }
    """

    def __init__(self, title: str, message: str, detail: str) -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(escape(self.title_text), id="error-title")
            yield Static(escape(self.message), id="error-message")
            yield TextArea(self.detail, read_only=True, soft_wrap=True, id="error-detail")
            with Horizontal():
                yield Button("Copy", id="copy")
                yield Button("Close", id="close", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.detail)
        self.notify("error text copied to the clipboard")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "copy":
            self.action_copy()
        else:
            self.dismiss()


class HelpScreen(ModalScreen[None]):
    """Every binding of the screen underneath, with its key and whether it is available now."""

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape,q,question_mark,f1", "dismiss", "Close"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 80; max-width: 95%; height: auto; max-height: 90%; border: thick $primary;
                            background: $surface; padding: 0 1; }
    HelpScreen VerticalScroll { height: auto; max-height: 60vh; }
    HelpScreen #help-title { text-style: bold; padding: 1 0; }
    """

    def __init__(self, screen: Screen) -> None:
        super().__init__()
        self.target = screen

    def compose(self) -> ComposeResult:
        rows = []
        seen = set()
        own = {b.action if isinstance(b, Binding) else b[1] for b in type(self.target).BINDINGS}

        def group(item: tuple[str, Any]) -> int:  # the section's own keys first, then its widgets', the rest
            node, action = item[1].node, item[1].binding.action
            return 0 if node is self.target and action in own else 2 if node in (self.target, self.app) else 1

        for _key, active in sorted(self.target.active_bindings.items(), key=group):  # stable: in binding order
            binding = active.binding
            if binding.action in seen and not binding.description:
                continue
            seen.add(binding.action)
            description = binding.description or binding.action
            shown = self.app.get_key_display(binding)
            state = "" if active.enabled else " [dim](not available here)[/]"
            row = f"[b]{escape(shown):>12}[/]  {escape(description)}{state}"
            if row not in rows:  # keys sharing a key_display ("question_mark,f1" both show "?")
                rows.append(row)
        with Vertical():
            yield Label(f"Keys of {escape(self.target.title or type(self.target).__name__)}", id="help-title")
            with VerticalScroll():
                yield Static("\n".join(rows) or "no bindings")
            yield Label("[dim]ctrl+p: command palette · : jump · esc: close[/]")


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question, with an optional preview and, for dangerous actions, a word to type back."""

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "cancel", "Cancel"),
    ]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 90; max-width: 95%; height: auto; max-height: 90%; border: thick $warning;
                               background: $surface; padding: 0 1; }
    ConfirmScreen #confirm-title { text-style: bold; padding: 1 0; }
    ConfirmScreen VerticalScroll { height: auto; max-height: 20; }
    ConfirmScreen Horizontal { height: auto; align-horizontal: right; margin-top: 1; }
    ConfirmScreen Button { margin-left: 1; }
    """

    def __init__(self, title: str, preview: str = "", *, typed: str | None = None, action: str = "Confirm") -> None:
        super().__init__()
        self.title_text = title
        self.preview = preview
        self.typed = typed
        self.action_label = action

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(escape(self.title_text), id="confirm-title")
            if self.preview:
                with VerticalScroll():
                    yield Static(escape(self.preview), id="confirm-preview")
            if self.typed is not None:
                yield Label(f"Type [b]{escape(self.typed)}[/] to confirm:")
                yield Input(placeholder=self.typed, id="confirm-input")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button(self.action_label, id="ok", variant="error" if self.typed else "primary",
                             disabled=self.typed is not None)

    def on_mount(self) -> None:
        if self.typed is not None:
            self.query_one(Input).focus()
        else:
            self.query_one("#ok", Button).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#ok", Button).disabled = event.value != self.typed

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value == self.typed:
            self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "ok")
