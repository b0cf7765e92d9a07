"""The drift explorer's detail pane: one item, its field-level diff side by side (what the state says, what
the cloud has), and its history across reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "green", "info": "dim"}
KIND_STYLE = {"changed": "yellow", "missing": "red", "unmanaged": "magenta"}


def show_value(value: Any, limit: int = 400) -> str:
    if value is None:
        return "-"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_location(location: str) -> str:
    """A state file's location as the State section shows it: relative to the current directory when it is
    under it (backend URLs and other paths as they are)."""
    path = Path(location)
    if "://" in location or not path.is_absolute() or not path.is_relative_to(Path.cwd()):
        return location
    return str(path.relative_to(Path.cwd()))


def diff_table(diffs: list[dict[str, Any]]) -> Table:
    table = Table(expand=True, show_edge=False, pad_edge=False, header_style="bold", box=None)
    longest = max((len(str(d.get("path", ""))) for d in diffs), default=0)
    table.add_column("field", ratio=2, overflow="fold", width=min(longest, 20) or None)  # a minimum: unbroken
    table.add_column("state (expected)", ratio=3, overflow="fold")
    table.add_column("cloud (actual)", ratio=3, overflow="fold")
    for d in diffs:
        table.add_row(Text(str(d.get("path", ""))), Text(show_value(d.get("expected")), style="red"),
                      Text(show_value(d.get("actual")), style="green"))
    return table


def item_renderable(item: dict[str, Any], timeline: list[dict[str, Any]]) -> Group:
    severity, kind = item.get("severity", ""), item.get("kind", "")
    target = item.get("address") or f"{item.get('terraform_type')}.{item.get('terraform_id')}"
    head = Text.assemble((f" {severity.upper()} ", f"reverse {SEVERITY_STYLE.get(severity, '')}"), " ",
                         (kind, f"bold {KIND_STYLE.get(kind, '')}"), " ", (target, "bold"))
    where = " · ".join(x for x in (item.get("provider"), item.get("account"), item.get("region")) if x)
    lines = [
        head,
        Text(f"{item.get('terraform_type')}  {item.get('terraform_id')}", style="dim"),
        Text(where + (f"  ·  state {short_location(item['state'])}" if item.get("state") else ""), style="dim"),
        Text(f"first seen {str(item.get('first_seen', ''))[:16].replace('T', ' ')} · {item.get('status', '')}"),
        Text(""),
    ]
    parts: list[Any] = list(lines)
    diffs = item.get("diffs") or []
    if diffs:
        parts.append(diff_table(diffs))
    elif kind == "missing":
        parts.append(Text("In the state, gone from the cloud.", style="red"))
    elif kind == "unmanaged":
        parts.append(Text("In the cloud, in no state of this environment.", style="magenta"))
    if timeline:
        parts.append(Text(""))
        parts.append(Text("history", style="bold"))
        history = Table(show_edge=False, pad_edge=False, box=None, header_style="dim")
        history.add_column("report")
        history.add_column("when")
        history.add_column("status")
        history.add_column("fields")
        for entry in timeline[-10:]:
            fields = ", ".join(str(d.get("path")) for d in entry.get("diffs") or []) or "-"
            history.add_row(str(entry.get("report_id")), str(entry.get("report_at", ""))[:16].replace("T", " "),
                            str(entry.get("status", "")), escape(fields))
        parts.append(history)
    return Group(*parts)


class DriftDetail(VerticalScroll):
    """Shows one drift item (or a hint when none is selected)."""

    DEFAULT_CSS = """
    DriftDetail { border-left: solid $primary 50%; padding: 0 1; }
    DriftDetail > Static { width: 100%; }
    """

    def compose(self) -> Any:
        yield Static("Select an item to see what differs.", id="detail-body")

    def show(self, item: dict[str, Any] | None, timeline: list[dict[str, Any]] | None = None) -> None:
        body = self.query_one("#detail-body", Static)
        if item is None:
            body.update("Select an item to see what differs.")
            return
        body.update(item_renderable(item, timeline or []))
        self.scroll_home(animate=False)
