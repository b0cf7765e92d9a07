"""One remediation action with its full preview: what it will do, the state diff, the commands and API calls,
the HCL it writes (or the code-side alternative), the .driftignore lines, the alternatives with their
availability, and, once it ran, its output and error. The same fields ``driftmgr remediate show`` prints."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

RISK_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "green"}
STATUS_STYLE = {"pending": "yellow", "approved": "green", "skipped": "dim", "rejected": "bold red", "running": "cyan",
                "succeeded": "bold green", "failed": "bold red", "rolled_back": "magenta"}
KIND_STYLE = {"changed": "yellow", "missing": "red", "unmanaged": "magenta"}
# preview keys shown in their own sections; any other key is listed at the end as it is
_KNOWN = frozenset({"summary", "changes", "state_edit", "state_diff", "serial", "commands", "api_calls", "file",
                    "lines", "hcl", "generated_by", "hcl_alternative", "note", "notes", "confirm"})


def relative_paths(text: str) -> str:
    """``text`` with paths under the current directory written relative to it (as the other sections show
    state locations)."""
    prefix = str(Path.cwd()).rstrip(os.sep) + os.sep
    return text.replace(prefix, "") if prefix in text else text


def target_of(action: dict[str, Any]) -> str:
    return action.get("address") or f"{action.get('terraform_type')}.{action.get('terraform_id')}"


def approvals_text(action: dict[str, Any]) -> str:
    """``1/2`` while approvals are collected or complete; ``-`` for an action that will not run."""
    if action.get("status") in ("skipped", "rejected"):
        return "-"
    return f"{len(action.get('approvals') or ())}/{action.get('approvals_needed', 1)}"


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _title(text: str) -> Text:
    return Text(text, style="bold underline")


def _diff_line(line: str) -> Text:
    style = {"-": "red", "+": "green", "~": "yellow"}.get(line[:1], "")
    return Text("  " + relative_paths(line), style=style)


def _code(text: str) -> Syntax:
    return Syntax(text.rstrip("\n"), "terraform", theme="ansi_dark", background_color="default",
                  word_wrap=True, indent_guides=False, padding=(0, 0, 0, 2))


def action_renderable(action: dict[str, Any]) -> Group:
    """The action as ``remediate show`` lists it, every field of its preview in a section of its own."""
    preview: dict[str, Any] = action.get("preview") or {}
    status, risk, kind = action.get("status", ""), action.get("risk", ""), action.get("kind", "")
    parts: list[RenderableType] = [
        Text.assemble((f"#{action.get('id')} ", "bold"), (kind, f"bold {KIND_STYLE.get(kind, '')}"), "  ",
                      (action.get("strategy", ""), "bold"), "  ", (target_of(action), "bold")),
    ]
    where = [f"{action.get('terraform_type')}  {action.get('terraform_id')}"]
    if action.get("state"):
        where.append(f"state {relative_paths(action['state'])}")
    if action.get("region"):
        where.append(action["region"])
    parts.append(Text(" · ".join(where), style="dim"))
    approvals = action.get("approvals") or []
    line = Text.assemble("risk ", (risk, RISK_STYLE.get(risk, "")), " · ", (status, STATUS_STYLE.get(status, "")),
                         f" · approvals {approvals_text(action)}")
    if approvals:
        line.append(f" ({', '.join(approvals)})", style="dim")
    elif action.get("decided_by") and status != "pending":
        line.append(f" · decided by {action['decided_by']}", style="dim")
    if action.get("depends_on"):
        line.append(f" · runs after {', '.join(map(str, action['depends_on']))}", style="dim")
    parts.append(line)
    if action.get("dangerous"):
        parts.append(Text("DANGEROUS: approving needs the resource id typed back", style="bold red"))
    parts.append(Text(""))
    if not action.get("available", True):
        parts.append(Text(f"unavailable: {relative_paths(action.get('unavailable_reason') or '')}",
                          style="bold red"))
        parts.append(Text("it can only be skipped", style="red"))
    if preview.get("summary"):
        parts.append(Text(relative_paths(preview["summary"])))

    def section(title: str, body: list[RenderableType]) -> None:
        if body:
            parts.extend([Text(""), _title(title), *body])

    section("Changes", [Text.assemble("  ~ ", change["path"], ": ", (_short(change.get("from")), "red"), " -> ",
                                      (_short(change.get("to")), "green"))
                        for change in preview.get("changes") or ()])
    section("State edit", [Text.assemble("  ", key, ": ", (_short(value.get("from")), "red"), " -> ",
                                         (_short(value.get("to")), "green"))
                           for key, value in (preview.get("state_edit") or {}).items()])
    diff: list[RenderableType] = [_diff_line(str(entry)) for entry in preview.get("state_diff") or ()]
    serial = preview.get("serial")
    if diff and isinstance(serial, list) and len(serial) == 2:
        diff.append(Text(f"  serial {serial[0]} -> {serial[1]}", style="dim"))
    section("State diff", diff)
    section("Commands", [Text("  $ " + relative_paths(str(c))) for c in preview.get("commands") or ()])
    section("API calls", [Text("  " + str(c)) for c in preview.get("api_calls") or ()])
    if preview.get("lines"):
        section(f"Adds to {relative_paths(preview.get('file') or '.driftignore')}",
                [Text("  + " + str(entry), style="green") for entry in preview["lines"]])
    if preview.get("hcl"):
        generated = f" ({preview['generated_by']})" if preview.get("generated_by") else ""
        section(f"HCL written to {relative_paths(preview.get('file') or 'a new file')}{generated}",
                [_code(preview["hcl"])])
    if preview.get("hcl_alternative"):
        body: list[RenderableType] = []
        if preview.get("note"):
            body.append(Text("  " + relative_paths(preview["note"]), style="dim"))
        body.append(_code(preview["hcl_alternative"]))
        section("Code-side alternative (HCL)", body)
    elif preview.get("note"):
        section("Note", [Text("  " + relative_paths(preview["note"]))])
    section("Notes", [Text("  " + relative_paths(str(n))) for n in preview.get("notes") or () if n])
    if preview.get("confirm"):
        parts.extend([Text(""), Text(preview["confirm"], style="bold red")])
    others = sorted(set(preview) - _KNOWN)
    section("Other", [Text(f"  {key}: {relative_paths(_short(preview[key], 200))}") for key in others])
    alternatives = []
    for alt in action.get("alternatives") or ():
        chosen = alt.get("strategy") == action.get("strategy")
        state = "available" if alt.get("available") else f"unavailable: {relative_paths(alt.get('reason') or '')}"
        alternatives.append(Text.assemble("  ", (alt.get("strategy", ""), "bold" if chosen else ""),
                                          (" (this plan's choice)" if chosen else ""), "  ",
                                          (state, "green" if alt.get("available") else "dim")))
    section("Alternatives", alternatives)
    if action.get("error"):
        section("Error", [Text("  " + relative_paths(action["error"]), style="bold red")])
    if action.get("output"):
        section("Output", [Text("  | " + relative_paths(line), style="dim")
                           for line in str(action["output"]).splitlines()[-20:]])
    if action.get("rollback") and status in ("succeeded", "failed", "rolled_back"):
        section("Rollback", [Text(f"  {action['rollback']}"
                                  + (" (rolled back)" if status == "rolled_back" else ""))])
    return Group(*parts)


class ActionPreview(VerticalScroll, can_focus=True):
    """A scrollable pane showing one action (``show``), or a message when there is none."""

    DEFAULT_CSS = """
    ActionPreview { height: 1fr; padding: 0 1; background: $surface; }
    ActionPreview:focus { background-tint: $foreground 5%; }
    ActionPreview #action-preview-body { width: 1fr; }
    """

    action: dict[str, Any] | None = None
    """The action shown."""

    def compose(self) -> Any:
        yield Static("", id="action-preview-body")

    def show(self, action: dict[str, Any] | None, empty: str = "no action") -> None:
        self.action = action
        body = self.query_one("#action-preview-body", Static)
        body.update(action_renderable(action) if action is not None else Text(empty, style="dim"))
        self.scroll_home(animate=False)

    @property
    def body(self) -> Static:
        return self.query_one("#action-preview-body", Static)
