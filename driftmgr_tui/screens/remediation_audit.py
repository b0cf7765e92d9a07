"""The audit trail of the Remediation section: the entries of a plan (or all of them) with who, when, what and
each entry's hash, and the verification of the whole hash chain (what ``driftmgr audit list`` and ``audit
verify`` show)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, Static

from driftmgr_tui.screens.remediation_modals import Bindings, ReadOnlyAware, Rows
from driftmgr_tui.widgets.action_preview import relative_paths
from driftmgr_tui.widgets.item_table import ItemTable

AUDIT_WIDE = (("Seq", 5), ("Time (UTC)", 19), ("Actor", 16), ("Event", 24), ("Plan", 8), ("Target", None),
              ("Result", 9), ("Hash", 12))
AUDIT_NARROW = (("Seq", 4), ("Time (UTC)", 11), ("Actor", None), ("Event", 20), ("Plan", 6), ("Result", 7),
                ("Hash", 8))


class AuditScreen(ReadOnlyAware):
    """The audit trail (of one plan, or all of it) and whether the hash chain is intact."""

    TITLE = "driftmgr · Remediation · audit trail"
    AUTO_FOCUS = "#audit-table"
    BINDINGS: ClassVar[Bindings] = [
        Binding("v", "verify", "Verify"),
        Binding("a", "toggle_scope", "Plan/all"),
        Binding("escape", "close", "Back"),
    ]
    DEFAULT_CSS = """
    AuditScreen #audit-scope { height: 1; padding: 0 1; background: $boost; text-style: bold; }
    AuditScreen #audit-verify { height: auto; max-height: 5; padding: 0 1; }
    AuditScreen #audit-detail { height: auto; max-height: 4; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, plan_id: int | None) -> None:
        super().__init__()
        self.plan_id = plan_id
        self.everything = plan_id is None
        self.records: list[Any] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="audit-scope")
        yield Static("verifying…", id="audit-verify")
        yield ItemTable(None, AUDIT_NARROW, id="audit-table")
        yield Static("", id="audit-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    def action_verify(self) -> None:
        self.query_one("#audit-verify", Static).update("verifying…")
        self.load()

    def action_toggle_scope(self) -> None:
        if self.plan_id is None:
            self.notify("no plan selected: every entry is shown")
            return
        self.everything = not self.everything
        self.load()

    def action_close(self) -> None:
        self.dismiss(None)

    @work(thread=True, exclusive=True, exit_on_error=False, group="audit", name="reading the audit log")
    def load(self) -> None:
        audit = self.app.hub.remediation.audit
        records = audit.entries(plan_id=None if self.everything else self.plan_id, limit=5000)
        result = audit.verify()
        self.app.call_from_thread(self._show, records, result)

    def _show(self, records: list[Any], result: Any) -> None:
        self.records = records
        scope = "every entry" if self.everything else f"plan {self.plan_id}"
        self.query_one("#audit-scope", Static).update(
            f"audit trail · {scope} · {len(records)} entr{'y' if len(records) == 1 else 'ies'}"
            + ("" if self.plan_id is None else " · a: " + ("this plan only" if self.everything else "every entry")))
        if result.ok:
            head = result.head_hash[:12] if result.head_hash else "-"
            text = f"[green]verify: audit log intact[/]: {result.entries} entries, head {head}"
            if result.anchor_seq is None and result.entries:
                text += "\n[dim]no head anchor for this database: deleting the newest entries would not be seen[/]"
        else:
            text = f"[bold red]verify: audit log tampered[/]: {len(result.problems)} problem(s) in " \
                   f"{result.entries} entries"
            for problem in result.problems[:3]:
                where = f"entry {problem.seq}" if problem.seq is not None else "log"
                text += f"\n  [red]{problem.kind}[/] ({where}): {escape(problem.message)}"
        self.query_one("#audit-verify", Static).update(text)
        self._fill()
        table = self.query_one(ItemTable)
        table.move_cursor(len(records) - 1)  # the newest entry
        self._show_detail(table.cursor_row)

    def on_resize(self) -> None:
        if self.records:
            self._fill()

    def _columns(self) -> tuple[tuple[str, int | None], ...]:
        return AUDIT_WIDE if self.size.width >= 110 else AUDIT_NARROW

    def _fill(self) -> None:
        columns = self._columns()
        wide = columns is AUDIT_WIDE
        rows = []
        for r in self.records:
            where = "" if r.plan_id is None else str(r.plan_id)
            if "seq" in r.detail:
                where += f" #{r.detail['seq']}"
            time = r.time.strftime("%Y-%m-%d %H:%M:%S" if wide else "%m-%d %H:%M")
            cells = [str(r.seq), time, r.actor, r.action, where]
            if wide:
                cells.append(r.target or "")
            cells += [r.result, r.hash[:12 if wide else 8]]
            rows.append(tuple(cells))
        table = self.query_one(ItemTable)
        table.columns = columns
        table.set_model(Rows(columns, rows, [r.seq for r in self.records]))

    def on_item_table_highlighted(self, event: ItemTable.Highlighted) -> None:
        self._show_detail(event.index)

    def _show_detail(self, index: int) -> None:
        widget = self.query_one("#audit-detail", Static)
        if not 0 <= index < len(self.records):
            widget.update("no entries" if not self.records else "")
            return
        r = self.records[index]
        parts = [f"entry {r.seq} · {r.time:%Y-%m-%d %H:%M:%S} UTC · {r.actor} · {r.action}"]
        if r.target:
            parts[0] += f" · {r.target}"
        parts[0] += f" · {r.result}"
        digests = " · ".join(f"{name} {value[:19]}…" for name, value in (("before", r.before_digest),
                                                                          ("after", r.after_digest)) if value)
        parts.append(f"hash {r.hash[:16]}… prev {r.prev_hash[:16]}…" + (f" · {digests}" if digests else ""))
        if r.detail:
            parts.append(", ".join(f"{k}: {relative_paths(str(v))}" for k, v in sorted(r.detail.items())))
        widget.update(escape("\n".join(parts)))
