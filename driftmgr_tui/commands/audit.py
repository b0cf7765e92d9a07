"""`driftmgr audit ...`: read and verify the hash-chained audit log of what driftmgr changed."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from driftmgr_tui.commands.common import emit_json, err, handle_errors, out
from driftmgr_tui.core.errors import UsageError

VERIFY_EXIT_CODES = """\b
Exit codes: 0 the chain is intact, 1 it was tampered with (each problem is
listed), 2 error."""


def _log() -> Any:
    from driftmgr_tui.remediation.audit import AuditLog

    return AuditLog.for_settings()


def _when(record: Any) -> str:
    return record.time.strftime("%Y-%m-%d %H:%M:%S")


@click.group("audit")
def audit_group() -> None:
    """The append-only audit log: who changed what, when, with digests of before and after.

    \b
    driftmgr audit list --limit 20        # the newest entries
    driftmgr audit list --plan 7 --json   # one remediation plan's entries
    driftmgr audit show 42                # one entry in full
    driftmgr audit verify                 # walk the hash chain; exit 1 if tampered
    """


@audit_group.command("list")
@click.option("--plan", "plan_id", type=int, metavar="ID", help="Only entries of this remediation plan.")
@click.option("--limit", type=click.IntRange(1, None), default=None, help="Only the newest N entries.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON.")
@handle_errors
def list_cmd(plan_id: int | None, limit: int | None, as_json: bool) -> None:
    """Audit entries, oldest first."""
    records = _log().entries(plan_id=plan_id, limit=limit)
    if as_json:
        emit_json({"entries": [r.to_json() for r in records]})
        return
    if not records:
        out.print("no audit entries" + (f" for plan {plan_id}" if plan_id is not None else ""))
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for name in ("SEQ", "TIME", "ACTOR", "ACTION", "TARGET", "RESULT"):
        table.add_column(name, justify="right" if name == "SEQ" else "left", overflow="fold")
    for r in records:
        result = escape(r.result) if r.result == "ok" else f"[red]{escape(r.result)}[/]"
        table.add_row(str(r.seq), _when(r), escape(r.actor), escape(r.action), escape(r.target or "-"), result)
    out.print(table)


@audit_group.command("show")
@click.argument("seq", type=int)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON.")
@handle_errors
def show_cmd(seq: int, as_json: bool) -> None:
    """One audit entry in full, with its digests and chain links."""
    record = _log().get(seq)
    if record is None:
        raise UsageError(f"no audit entry {seq}", hint="`driftmgr audit list` shows the entries")
    if as_json:
        emit_json(record.to_json())
        return
    data = record.to_json()
    detail = data.pop("detail")
    width = max(len(k) for k in data)
    for key, value in data.items():
        out.print(f"[bold]{key:<{width}}[/]  {escape('-' if value is None else str(value))}")
    if detail:
        out.print(f"[bold]{'detail':<{width}}[/]")
        for key in sorted(detail):
            out.print(f"  {escape(str(key))}: {escape(str(detail[key]))}")


@audit_group.command("verify", epilog=VERIFY_EXIT_CODES)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON.")
@handle_errors
def verify_cmd(as_json: bool) -> None:
    """Recompute every entry's hash and check the chain links and the head anchor."""
    log = _log()
    result = log.verify()
    if as_json:
        emit_json(result.to_json())
        sys.exit(0 if result.ok else 1)
    if result.ok:
        head = result.head_hash[:12] if result.head_hash else "-"
        out.print(f"audit log intact: {result.entries} entries, head {head}")
        if result.anchor_seq is None and result.entries:
            err.print(f"[dim]no head anchor for this database at {escape(str(log.anchor))}: deleting the newest "
                      "entries would not be detected[/]")
        sys.exit(0)
    out.print(f"[bold red]audit log tampered:[/] {len(result.problems)} problem(s) in {result.entries} entries")
    for problem in result.problems:
        where = f"entry {problem.seq}" if problem.seq is not None else "log"
        out.print(f"  [red]{problem.kind}[/] ({where}): {escape(problem.message)}")
    sys.exit(1)
