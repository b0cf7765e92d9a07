"""How a drift report reaches a person or a script: console tables, JSON, Markdown or a self-contained HTML file."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click
import orjson
from rich.markup import escape
from rich.table import Table

from driftmgr_tui.commands.common import dumps_json, err, out
from driftmgr_tui.core.errors import UsageError

FORMATS = ("console", "json", "markdown", "html")
SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}
KIND_STYLE = {"changed": "yellow", "missing": "red", "unmanaged": "magenta"}

format_option = click.option("--format", "-o", "fmt", type=click.Choice(FORMATS), default=None,
                             help="Output format (default: console; json when --json).")
output_option = click.option("--output", "output", type=click.Path(path_type=Path, dir_okay=False),
                             help="Write the report to this file instead of stdout (json/markdown/html).")


def render(report: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return dumps_json(report).decode()
    from driftmgr_tui.drift.render import to_html, to_markdown

    return to_markdown(report) if fmt == "markdown" else to_html(report)


def emit_report(report: dict[str, Any], fmt: str, output: Path | None, *, limit: int = 50) -> None:
    if fmt == "console":
        if output is not None:
            raise UsageError("--output needs --format json, markdown or html")
        print_report(report, limit=limit)
        return
    text = render(report, fmt)
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    write_file(output, text)
    err.print(f"report written to {escape(str(output))}")


def write_file(path: Path, text: str) -> None:
    """Write atomically: a reader never sees half a report, and a failure leaves the old file."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def _value(value: Any, width: int = 60) -> str:
    text = "null" if value is None else value if isinstance(value, str) else orjson.dumps(value).decode()
    return text if len(text) <= width else text[: width - 1] + "…"


def print_summary(report: dict[str, Any]) -> None:
    s = report["summary"]
    status = "" if report.get("status") != "partial" else " [yellow](partial: some resources not evaluated)[/]"
    out.print(f"[bold]Drift report {report['id']}[/] · {escape(report['environment'])} · {report['engine']} · "
              f"{report['created_at'][:19].replace('T', ' ')}{status}")
    coverage_style = "green" if s["coverage"] >= 90 else "yellow" if s["coverage"] >= 60 else "red"
    out.print(f"  managed {s['total_managed']}  [yellow]changed {s['total_changed']}[/]  "
              f"[red]missing {s['total_missing']}[/]  [magenta]unmanaged {s['total_unmanaged']}[/]  "
              f"coverage [{coverage_style}]{s['coverage']:.1f}%[/]")
    extra = []
    if s.get("total_unapplied") or s.get("total_orphaned"):
        extra.append(f"config: {s['total_unapplied']} unapplied, {s['total_orphaned']} orphaned")
    if s.get("total_ignored"):
        extra.append(f"{s['total_ignored']} ignored")
    if s.get("total_unevaluated"):
        extra.append(f"{s['total_unevaluated']} not evaluated")
    sev = {k: v for k, v in (s.get("by_severity") or {}).items() if v}
    if sev:
        extra.append(" ".join(f"[{SEVERITY_STYLE[k]}]{k} {v}[/]" for k, v in sev.items()))
    if extra:
        out.print("  " + " · ".join(extra))


def print_report(report: dict[str, Any], *, limit: int = 50) -> None:
    print_summary(report)
    items = report["items"]
    if not items and not report.get("config_drift"):
        out.print("[green]✓ in sync[/]: no drift" + (
            "" if report.get("status") != "partial" else " among the resources that could be evaluated"))
    if items:
        table = Table(box=None, header_style="bold", pad_edge=False)
        for name in ("SEVERITY", "KIND", "TYPE", "ID", "ADDRESS", "WHAT"):
            table.add_column(name, overflow="fold", no_wrap=name in ("SEVERITY", "KIND"))
        for item in items[:limit]:
            what = ""
            if item["kind"] == "changed":
                what = ", ".join(d["path"] for d in item["diffs"][:4]) + (" …" if len(item["diffs"]) > 4 else "")
            elif item["kind"] == "unmanaged":
                what = f"{item['region']}" + (f" {item['name']}" if item.get("name") else "")
            if item.get("status") == "persisting":
                what += f" [dim](since {item['first_seen'][:10]})[/]"
            table.add_row(f"[{SEVERITY_STYLE[item['severity']]}]{item['severity']}[/]",
                          f"[{KIND_STYLE.get(item['kind'], '')}]{item['kind']}[/]", item["terraform_type"],
                          escape(item["terraform_id"]), escape(item.get("address") or "-"), what)
        out.print(table)
        if len(items) > limit:
            out.print(f"[dim]… {len(items) - limit} more: `driftmgr drift show {report['id']} --limit 0` or "
                      "--format json[/]")
    for cfg in report.get("config_drift") or ():
        where = f" ({cfg['file']}:{cfg['line']})" if cfg.get("file") and cfg.get("line") else ""
        out.print(f"[yellow]{cfg['kind']}[/] {escape(cfg['address'])}{escape(where)}: {escape(cfg['reason'])}")
    for res in report.get("resolved") or ():
        out.print(f"[green]resolved[/] {res['kind']} {res['terraform_type']} {escape(res['terraform_id'])}")
    for u in report["summary"].get("unevaluated") or ():
        if not u["reason"].startswith("type not discovered") and "provider" not in u["reason"]:
            err.print(f"[yellow]not evaluated[/] {u['count']} {u['terraform_type']} in {u['region'] or '?'}: "
                      f"{escape(u['reason'])}")
    for warning in report.get("warnings") or ():
        err.print(f"[yellow]warning:[/] {escape(warning)}")


def print_diffs(item: dict[str, Any]) -> None:
    table = Table(box=None, header_style="bold", pad_edge=False, title=None)
    for name in ("FIELD", "EXPECTED (state)", "ACTUAL (cloud)", "SEVERITY"):
        table.add_column(name, overflow="fold")
    for d in item["diffs"]:
        table.add_row(escape(d["path"]), escape(_value(d["expected"])), escape(_value(d["actual"])),
                      f"[{SEVERITY_STYLE.get(d.get('severity', 'info'), '')}]{d.get('severity', '')}[/]")
    out.print(table)
