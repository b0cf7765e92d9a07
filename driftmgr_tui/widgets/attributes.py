"""A read-only view of one object's attributes: a title, a few summary fields, a note, and the attributes
flattened to one ``path = value`` line each (``tags.Name``, ``ingress[0].cidr_blocks[1]``,
``tags["kubernetes.io/role"]``). Redacted values are shown as the redaction marker, styled apart."""

from __future__ import annotations

import json
import re
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from driftmgr_tui.core.redaction import REDACTED

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def flatten_attributes(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(path, leaf value) pairs in order; empty objects and lists are leaves of their own."""
    if isinstance(value, dict):
        if not value:
            return [(prefix, {})] if prefix else []
        out: list[tuple[str, Any]] = []
        for key, item in value.items():
            key = str(key)
            if _PLAIN_KEY.match(key):
                path = f"{prefix}.{key}" if prefix else key
            else:
                path = f"{prefix}[{json.dumps(key, ensure_ascii=False)}]"
            out += flatten_attributes(item, path)
        return out
    if isinstance(value, list):
        if not value:
            return [(prefix, [])]
        out = []
        for index, item in enumerate(value):
            out += flatten_attributes(item, f"{prefix}[{index}]")
        return out
    return [(prefix, value)]


def format_value(value: Any) -> str:
    if value == REDACTED:
        return REDACTED
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value == {}:
        return "{}"
    if value == []:
        return "[]"
    return json.dumps(value)


def short_provider(text: str) -> str:
    """``provider["registry.terraform.io/hashicorp/aws"].east`` as ``hashicorp/aws.east``, as Terraform's
    messages name providers; anything unparsable as it is."""
    from driftmgr_tui.state.providers import parse_provider

    parsed = parse_provider(text)
    if parsed is None:
        return text
    name = parsed.source.removeprefix("registry.terraform.io/") + (f".{parsed.alias}" if parsed.alias else "")
    return f"{parsed.module}.{name}" if parsed.module else name


class AttributeView(VerticalScroll):
    """Shows one object; ``plain`` holds the text last shown (without styles)."""

    DEFAULT_CSS = """
    AttributeView { background: $surface; padding: 0 1; }
    AttributeView > #attributes-body { width: 100%; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.plain = ""

    def compose(self) -> ComposeResult:
        yield Static(id="attributes-body")

    def show(self, title: str, fields: list[tuple[str, str]] | None = None, *, note: str = "",
             note_style: str = "dim", attributes: Any = None) -> None:
        """``attributes`` (a dict) is listed flattened below the fields; None lists nothing."""
        fields = fields or []
        text = Text()
        text.append(title, style="bold")
        text.append("\n")
        width = max((len(name) for name, _ in fields), default=0)
        for name, value in fields:
            text.append(f"{name:<{width}}  ", style="dim")
            text.append(f"{value}\n")
        if note:
            text.append(note, style=note_style)
            text.append("\n")
        if attributes is not None:
            text.append("\n")
            pairs = flatten_attributes(attributes)
            if not pairs:
                text.append("(no attributes)\n", style="dim")
            for path, value in pairs:
                text.append(path, style="bold")
                text.append(" = ", style="dim")
                shown = format_value(value)
                text.append(shown, style="italic yellow" if value == REDACTED else "")
                text.append("\n")
        text.rstrip()
        self.plain = text.plain
        self.query_one("#attributes-body", Static).update(text)
        self.scroll_home(animate=False)

    def show_instance(self, ref: Any, state_label: str, *, revealed: bool) -> None:
        """A state's resource instance (an InstanceRef): sensitive values redacted unless ``revealed``."""
        from driftmgr_tui.state.operations import redact, show_json

        shown = show_json(ref, reveal=revealed)
        if revealed:
            note, style = "SENSITIVE VALUES SHOWN · r hides them", "bold red"
        elif redact(ref.attributes, ref.instance) != ref.attributes:
            note, style = "sensitive values hidden · r reveals them", "dim"
        else:
            note, style = "no sensitive values", "dim"
        fields = [("id", str(shown["id"])), ("type", ref.type), ("module", ref.module or "root"),
                  ("provider", short_provider(ref.provider)), ("state", state_label), ("schema", str(shown["schema_version"]))]
        if shown["dependencies"]:
            fields.append(("depends on", ", ".join(shown["dependencies"])))
        if ref.tainted:
            fields.append(("status", "tainted (will be replaced)"))
        self.show(ref.address, fields, note=note, note_style=style, attributes=shown["attributes"])

    def clear(self, message: str = "") -> None:
        self.plain = message
        self.query_one("#attributes-body", Static).update(Text(message, style="dim"))
