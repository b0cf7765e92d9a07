"""Render a drift report (the ``driftmgr.drift-report/1`` dict the CLI prints as JSON) for humans.

Two formats, both plain text built from the report alone:

* :func:`to_markdown` -- GitHub-flavoured Markdown meant for a pull-request comment or a ticket.
* :func:`to_html` -- one self-contained page (inline CSS, a small optional inline script, nothing
  fetched from anywhere) that an on-call engineer can open offline, attach to an incident or print.

Contract shared by both:

* The input is untrusted. Resource ids, names, tags and diff values come from cloud APIs that other
  people control, so every value is escaped for the exact context it lands in (Markdown table cell,
  Markdown code span, HTML text, HTML attribute). Nothing from the report ever reaches the inline
  script: filtering works over DOM text and whitelisted ``data-*`` attributes.
* Every key except the top-level mapping itself may be missing, ``None`` or of an unexpected type;
  unknown keys are ignored, unknown kinds and severities are shown rather than dropped.
* Output is deterministic: the same report gives the same bytes (no clock, no randomness, stable
  sort), so rendered reports can be diffed and snapshot-tested. "Generated at" is ``created_at``.
* Values are shown as given. Redaction already happened in the engine, so markers such as
  ``(sensitive)`` or ``***`` pass through untouched (only escaped and, if huge, truncated).
* Rendering is linear in the report size (list-join throughout) so 10,000 items stay well under a
  second.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from html import escape as _html_escape
from typing import Any

__all__ = ["KINDS", "SEVERITIES", "to_html", "to_markdown"]

SEVERITIES = ("critical", "high", "medium", "low", "info")
KINDS = ("changed", "missing", "unmanaged")

_SEV_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
_KIND_RANK = {name: rank for rank, name in enumerate(KINDS)}
_SEV_EMOJI = {"critical": "🔴", "high": "🟠", "medium": "🟡", "low": "🔵", "info": "⚪"}
_KIND_TITLES = {"changed": "Changed", "missing": "Missing", "unmanaged": "Unmanaged", "other": "Other"}
_KIND_BLURBS = {
    "changed": "Managed resources whose live attributes differ from Terraform.",
    "missing": "In Terraform state but no longer found in the cloud.",
    "unmanaged": "Found in the cloud but not managed by any Terraform state.",
    "other": "Drift of a kind this renderer does not know; shown as reported.",
}
# Summary counters in display order: (report key, label).
_COUNTERS = (
    ("total_resources", "Resources"),
    ("total_managed", "Managed"),
    ("coverage", "Coverage"),
    ("total_changed", "Changed"),
    ("total_missing", "Missing"),
    ("total_unmanaged", "Unmanaged"),
    ("total_unapplied", "Unapplied"),
    ("total_orphaned", "Orphaned"),
    ("total_ignored", "Ignored"),
)
# Counters that mean "there is drift" when non-zero, with the list they are itemised in.
_DRIFT_COUNTERS = (
    ("total_changed", "changed", "items"),
    ("total_missing", "missing", "items"),
    ("total_unmanaged", "unmanaged", "items"),
    ("total_unapplied", "unapplied", "config_drift"),
    ("total_orphaned", "orphaned", "config_drift"),
)

MD_VALUE_LIMIT = 120  # diff values in Markdown: one compact line each
MD_TEXT_LIMIT = 300  # identifiers and free text in Markdown: long enough for deep module addresses
HTML_VALUE_LIMIT = 10_000  # diff values in HTML: generous, but bounded so one huge blob cannot bloat the page
_DASH = "—"
_ELLIPSIS = "…"


# --------------------------------------------------------------------------- tolerant accessors


def _as_map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _maps(value: Any) -> list[Mapping[str, Any]]:
    """The mappings in a list-like value; anything else (None, a string, junk entries) is dropped."""
    if not isinstance(value, list | tuple):
        return []
    return [entry for entry in value if isinstance(entry, Mapping)]


def _strings(value: Any) -> list[Any]:
    """A list-like value as a list; a lone scalar becomes a one-element list, None an empty one."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [entry for entry in value if entry is not None]
    return [value]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: Any) -> str:
    """A scalar as display text: strings verbatim, JSON spelling for everything else."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return _json_compact(value)


# Built once: json.dumps with non-default arguments builds a new encoder per call, and only the
# un-indented form uses the C encoder, which matters at 10,000 items.
_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)
_SPACED_JSON = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "), default=str)
_PRETTY_WIDTH = 72
_TOO_DEEP = "(value nested too deeply to display)"


def _json_compact(value: Any) -> str:
    try:
        return _COMPACT_JSON.encode(value)
    except RecursionError:
        return _TOO_DEEP
    except (TypeError, ValueError):  # circular structures and the like: still show something
        return repr(value)


def _json_pretty(value: Any, indent: str = "") -> str:
    """Indented JSON that keeps short containers on one line (easier to compare side by side than
    ``indent=2``'s one-scalar-per-line, and built from the C encoder)."""
    try:
        flat = _SPACED_JSON.encode(value)
    except RecursionError:
        return _TOO_DEEP
    except (TypeError, ValueError):
        return repr(value)
    if len(flat) + len(indent) <= _PRETTY_WIDTH or not value or not isinstance(value, dict | list | tuple):
        return flat
    inner = indent + "  "
    if isinstance(value, dict):
        lines = [f"{inner}{_SPACED_JSON.encode(str(k))}: {_json_pretty(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(lines) + "\n" + indent + "}"
    lines = [inner + _json_pretty(v, inner) for v in value]
    return "[\n" + ",\n".join(lines) + "\n" + indent + "]"


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _compact(value: Any) -> str:
    """One line for a diff value: JSON for containers, ``null`` for None, ``""`` for an empty string.

    Strings are shown bare (so redaction markers read as themselves) unless they contain control
    characters such as newlines, in which case the JSON-quoted form keeps them visible on one line.
    """
    if value is None:
        return "null"
    if isinstance(value, str):
        if value == "" or _CONTROL.search(value):
            return _json_compact(value)
        return value
    return _json_compact(value)


def _pretty(value: Any) -> str:
    """A diff value for the HTML side-by-side view: multi-line strings stay multi-line."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return value if value else '""'
    return _json_pretty(value)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + _ELLIPSIS


def _severity(value: Any) -> str:
    """The canonical severity name, or ``unknown`` (used for ranking and CSS classes only)."""
    name = value.strip().lower() if isinstance(value, str) else ""
    return name if name in _SEV_RANK else "unknown"


def _kind(value: Any) -> str:
    name = value.strip().lower() if isinstance(value, str) else ""
    return name if name in _KIND_RANK else "other"


def _sev_label(value: Any) -> str:
    sev = _severity(value)
    if sev != "unknown":
        return sev.capitalize()
    return _text(value) or "Unknown"


def _item_key(item: Mapping[str, Any]) -> tuple[Any, ...]:
    """Kind (changed, missing, unmanaged, other), severity (critical first), type, id; the remaining
    fields only break ties so that the order never depends on the input order."""
    return (
        _KIND_RANK.get(_kind(item.get("kind")), len(KINDS)),
        _text(item.get("kind")),
        _SEV_RANK.get(_severity(item.get("severity")), len(SEVERITIES)),
        _text(item.get("terraform_type")),
        _text(item.get("terraform_id")),
        _text(item.get("address")),
        _text(item.get("account")),
        _text(item.get("region")),
        _text(item.get("fingerprint")),
    )


def _when(value: Any) -> str:
    """An ISO-8601 timestamp as ``YYYY-MM-DD HH:MM:SS UTC``; anything unparsable is shown as given."""
    if not isinstance(value, str) or not value:
        return _text(value)
    return _when_str(value)


@lru_cache(maxsize=4096)
def _when_str(value: str) -> str:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _count(value: Any) -> str:
    if value is None:
        return _DASH
    if _is_int(value):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return _text(value)


def _percent(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.2f}".rstrip("0").rstrip(".") + "%"
    return _count(value)


def _duration(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.2f} s"
    return _text(value)


class _Facts:
    """What both renderers say about the report as a whole, computed once."""

    def __init__(self, report: Mapping[str, Any]) -> None:
        report = _as_map(report)
        self.summary = _as_map(report.get("summary"))
        self.environment = _text(report.get("environment")) or "unknown environment"
        self.engine = _text(report.get("engine"))
        self.created_at = _when(report.get("created_at"))
        self.report_id = report.get("id")
        self.duration = report.get("duration")
        self.schema = _text(report.get("schema"))
        sources = _as_map(report.get("sources"))
        self.states = _strings(sources.get("states"))
        self.discovery_runs = _strings(sources.get("discovery_runs"))
        self.workdir = sources.get("workdir")
        self.items = sorted(_maps(report.get("items")), key=_item_key)
        self.config_drift = sorted(
            _maps(report.get("config_drift")),
            key=lambda c: (
                _text(c.get("kind")),
                _text(c.get("address")),
                _text(c.get("file")),
                _text(c.get("line")),
                _text(c.get("reason")),
            ),
        )
        self.resolved = sorted(
            _maps(report.get("resolved")),
            key=lambda r: (
                _text(r.get("resolved_at")),
                _text(r.get("kind")),
                _text(r.get("terraform_type")),
                _text(r.get("terraform_id")),
                _text(r.get("address")),
                _text(r.get("fingerprint")),
            ),
        )
        self.unevaluated = _maps(self.summary.get("unevaluated"))
        self.warnings = _strings(report.get("warnings"))
        self.by_kind: dict[str, list[Mapping[str, Any]]] = {}
        for item in self.items:
            self.by_kind.setdefault(_kind(item.get("kind")), []).append(item)
        listed = {
            "items": {k: len(v) for k, v in self.by_kind.items()},
            "config_drift": {},
        }
        for entry in self.config_drift:
            name = _text(entry.get("kind"))
            listed["config_drift"][name] = listed["config_drift"].get(name, 0) + 1
        # Headline counts: the summary's own numbers when present (they may cover items a truncated
        # report leaves out), otherwise what the report lists.
        self.drift_counts: list[tuple[str, int]] = []
        for key, label, where in _DRIFT_COUNTERS:
            value = self.summary.get(key)
            self.drift_counts.append((label, value if _is_int(value) else listed[where].get(label, 0)))
        other = len(self.by_kind.get("other", ()))
        if other:
            self.drift_counts.append(("other", other))
        self.in_sync = not self.items and not self.config_drift and all(n <= 0 for _, n in self.drift_counts)

    def severity_counts(self) -> list[tuple[str, Any]]:
        """(severity, count) in fixed order, then any non-standard severities sorted by name."""
        by_sev = _as_map(self.summary.get("by_severity"))
        rows: list[tuple[str, Any]] = [(sev, by_sev.get(sev)) for sev in SEVERITIES]
        rows += sorted(((str(k), v) for k, v in by_sev.items() if k not in _SEV_RANK), key=lambda kv: kv[0])
        return rows

    def drift_phrase(self) -> str:
        parts = [f"{n:,} {label}" for label, n in self.drift_counts if n > 0]
        return ", ".join(parts) if parts else "drift listed below"

    def sync_phrase(self) -> str:
        managed = self.summary.get("total_managed")
        scope = f"across {managed:,} managed resources" if _is_int(managed) else "detected"
        return f"no drift {scope}"

    def gap_phrase(self) -> str:
        """Why an in-sync verdict may be incomplete, or '' when nothing was skipped."""
        parts = []
        if self.unevaluated:
            n = len(self.unevaluated)
            parts.append(f"{n} resource type/region {'pair was' if n == 1 else 'pairs were'} not evaluated")
        if self.warnings:
            n = len(self.warnings)
            parts.append(f"{n} warning{'' if n == 1 else 's'}")
        return "; ".join(parts)


# --------------------------------------------------------------------------- Markdown

# ASCII punctuation that can start Markdown syntax mid-line (emphasis, links, HTML, code, tables,
# strikethrough, entities, GitHub math). Backslash-escaping any ASCII punctuation is always valid.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&#$])")
_MD_NEWLINE = re.compile(r"\r\n|\r|\n")
_BACKTICKS = re.compile(r"`+")


_MD_ANY = re.compile(r"[\\`*_\[\]<>|~&#$\r\n]")


def _md_text(value: Any, limit: int = MD_TEXT_LIMIT) -> str:
    """Free text for a table cell or a paragraph: inert, one physical line (newlines become ``<br>``)."""
    text = _clip(_text(value), limit)
    if not text:
        return _DASH
    if not _MD_ANY.search(text):
        return text
    return _MD_NEWLINE.sub("<br>", _MD_SPECIAL.sub(r"\\\1", text))


def _md_code(value: Any, *, table: bool = True, limit: int = MD_TEXT_LIMIT, missing: str = _DASH) -> str:
    """A value as an inline code span: nothing inside is interpreted (no HTML, links, mentions).

    The fence is longer than any backtick run in the value; newlines cannot survive in a code span,
    so :func:`_compact` has already JSON-quoted strings that contain them. In table cells ``|`` is
    escaped as ``\\|``, which GFM unescapes even inside code spans.
    """
    if value is None:
        return missing
    text = _clip(_compact(value), limit)
    fence = "`"
    if "`" in text:
        fence = "`" * (max(len(run) for run in _BACKTICKS.findall(text)) + 1)
    pad = ""
    if text[0] == "`" or text[-1] == "`" or (text[0] == " " and text[-1] == " " and text.strip()):
        pad = " "
    if table and "|" in text:
        text = text.replace("|", "\\|")
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_sev(value: Any) -> str:
    return _md_sev_str(value) if isinstance(value, str) or value is None else _md_sev_str(_text(value))


@lru_cache(maxsize=256)
def _md_sev_str(value: str | None) -> str:
    sev = _severity(value)
    emoji = _SEV_EMOJI.get(sev, "❔")
    return f"{emoji} {_md_text(_sev_label(value))}"


def _md_row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _md_table(
    out: list[str], header: Iterable[str], align: Iterable[str], rows: Iterable[Iterable[str]]
) -> None:
    out.append(_md_row(header))
    out.append("|" + "|".join(align) + "|")
    out.extend(_md_row(row) for row in rows)
    out.append("")


def _md_module(value: Any) -> str:
    if value == "":
        return "root"
    return _md_code(value)


def _md_location(entry: Mapping[str, Any]) -> str:
    file = entry.get("file")
    if file is None or file == "":
        return _DASH
    line = entry.get("line")
    return _md_code(f"{_text(file)}:{_text(line)}" if line is not None else file)


def to_markdown(report: Mapping[str, Any]) -> str:
    """The report as GitHub-flavoured Markdown, ending in a newline.

    Layout: title (environment and time), a one-line verdict, summary tables (counts, coverage,
    severities), then sections for changed / missing / unmanaged resources (critical first), config
    drift, resolved drift, and anything not evaluated. Empty sections are left out to keep PR comments
    short; an empty report says plainly that it is in sync.
    """
    facts = _Facts(report)
    out: list[str] = []
    title = f"# Drift report: {_md_text(facts.environment)}"
    if facts.created_at:
        title += f" · {_md_text(facts.created_at)}"
    out += [title, ""]

    meta = []
    if facts.engine:
        meta.append(f"engine {_md_code(facts.engine, table=False)}")
    if facts.report_id is not None:
        meta.append(f"report #{_md_text(facts.report_id)}")
    if facts.duration is not None:
        meta.append(f"took {_md_text(_duration(facts.duration))}")
    if facts.states:
        states = ", ".join(_md_code(s, table=False) for s in facts.states)
        meta.append(f"state{'s' if len(facts.states) != 1 else ''} {states}")
    if facts.discovery_runs:
        meta.append(
            "discovery run"
            + ("s " if len(facts.discovery_runs) != 1 else " ")
            + ", ".join(f"#{_md_text(r)}" for r in facts.discovery_runs)
        )
    if facts.workdir:
        meta.append(f"workdir {_md_code(facts.workdir, table=False)}")
    if meta:
        out += ["<sub>" + " · ".join(meta) + "</sub>", ""]

    gaps = facts.gap_phrase()
    if facts.in_sync:
        verdict = f"✅ **In sync:** {facts.sync_phrase()}."
        if gaps:
            verdict += f" ⚠️ Coverage is incomplete: {gaps} (see _Not evaluated_ below)."
    else:
        verdict = f"⚠️ **Drift detected:** {facts.drift_phrase()}."
        if gaps:
            verdict += f" Also: {gaps}."
    out += [verdict, ""]

    out += ["## Summary", ""]
    summary = facts.summary
    _md_table(
        out,
        [label for _, label in _COUNTERS],
        ["---:"] * len(_COUNTERS),
        [
            [
                _md_text(_percent(summary.get(key)) if key == "coverage" else _count(summary.get(key)))
                for key, _ in _COUNTERS
            ]
        ],
    )
    sev_counts = facts.severity_counts()
    _md_table(
        out,
        [_md_sev(sev) for sev, _ in sev_counts],
        ["---:"] * len(sev_counts),
        [[_md_text(_count(n)) for _, n in sev_counts]],
    )

    for kind in (*KINDS, "other"):
        items = facts.by_kind.get(kind)
        if not items:
            continue
        out += [f"## {_KIND_TITLES[kind]} ({len(items):,})", "", f"_{_KIND_BLURBS[kind]}_", ""]
        if kind == "changed":
            for item in items:
                _md_changed_item(out, item)
        else:
            _md_item_table(out, items, show_kind=kind == "other")

    if facts.config_drift:
        out += [
            f"## Config drift ({len(facts.config_drift):,})",
            "",
            "_Terraform configuration and state disagree: unapplied declarations or orphaned state._",
            "",
        ]
        _md_table(
            out,
            ["Kind", "Address", "Type", "Module", "Location", "Reason"],
            ["---"] * 6,
            (
                [
                    _md_text(c.get("kind")),
                    _md_code(c.get("address")),
                    _md_code(c.get("terraform_type")),
                    _md_module(c.get("module")),
                    _md_location(c),
                    _md_text(c.get("reason")),
                ]
                for c in facts.config_drift
            ),
        )

    if facts.resolved:
        out += [f"## Resolved since last report ({len(facts.resolved):,})", ""]
        _md_table(
            out,
            ["Kind", "Type", "ID", "Address", "First seen", "Resolved"],
            ["---"] * 6,
            (
                [
                    _md_text(r.get("kind")),
                    _md_code(r.get("terraform_type")),
                    _md_code(r.get("terraform_id")),
                    _md_code(r.get("address")),
                    _md_text(_when(r.get("first_seen"))),
                    _md_text(_when(r.get("resolved_at"))),
                ]
                for r in facts.resolved
            ),
        )

    if facts.unevaluated or facts.warnings:
        out += ["## ⚠️ Not evaluated", "", "_Drift in these areas is unknown, not absent._", ""]
        if facts.unevaluated:
            _md_table(
                out,
                ["Type", "Region", "Reason"],
                ["---"] * 3,
                (
                    [_md_code(u.get("terraform_type")), _md_text(u.get("region")), _md_text(u.get("reason"))]
                    for u in facts.unevaluated
                ),
            )
        if facts.warnings:
            out.extend(f"- {_md_text(w, limit=1000)}" for w in facts.warnings)
            out.append("")

    footer = "driftmgr"
    if facts.schema:
        footer += f" · {_md_code(facts.schema, table=False)}"
    out.append(f"<sub>{footer}</sub>")
    return "\n".join(out) + "\n"


def _md_item_meta(item: Mapping[str, Any]) -> list[str]:
    parts = []
    if item.get("address"):
        parts.append(_md_code(item.get("address"), table=False))
    if item.get("name") and not item.get("address"):
        parts.append(f"name {_md_code(item.get('name'), table=False)}")
    where = " / ".join(_md_text(item.get(k)) for k in ("account", "region") if item.get(k))
    if where:
        parts.append(where)
    if item.get("status"):
        parts.append(_md_text(item.get("status")))
    if item.get("first_seen"):
        parts.append(f"first seen {_md_text(_when(item.get('first_seen')))}")
    return parts


def _md_changed_item(out: list[str], item: Mapping[str, Any]) -> None:
    out.append(
        f"### {_md_sev(item.get('severity'))} · {_md_code(item.get('terraform_type'), table=False)}"
        f" {_md_code(item.get('terraform_id'), table=False)}"
    )
    out.append("")
    meta = _md_item_meta(item)
    if meta:
        out += [" · ".join(meta), ""]
    diffs = _maps(item.get("diffs"))
    if not diffs:
        out += ["_No attribute differences recorded._", ""]
        return
    _md_table(
        out,
        ["Path", "Expected", "Actual", "Severity"],
        ["---", "---", "---", "---"],
        (
            [
                _md_code(d.get("path")),
                _md_code(d.get("expected"), limit=MD_VALUE_LIMIT, missing="`null`"),
                _md_code(d.get("actual"), limit=MD_VALUE_LIMIT, missing="`null`"),
                _md_sev(d.get("severity")) if d.get("severity") is not None else _DASH,
            ]
            for d in diffs
        ),
    )


def _md_item_table(out: list[str], items: list[Mapping[str, Any]], *, show_kind: bool) -> None:
    header = ["Severity", "Type", "ID", "Address", "Account", "Region", "Name", "Status"]
    if show_kind:
        header.insert(0, "Kind")

    def row(item: Mapping[str, Any]) -> list[str]:
        cells = [
            _md_sev(item.get("severity")),
            _md_code(item.get("terraform_type")),
            _md_code(item.get("terraform_id")),
            _md_code(item.get("address")),
            _md_text(item.get("account")),
            _md_text(item.get("region")),
            _md_code(item.get("name")),
            _md_text(item.get("status")),
        ]
        if show_kind:
            cells.insert(0, _md_text(item.get("kind")))
        return cells

    _md_table(out, header, ["---"] * len(header), (row(item) for item in items))


# --------------------------------------------------------------------------- HTML


_HTML_SPECIAL = re.compile(r"[&<>\"']")


def _esc(text: str) -> str:
    """``html.escape(text, quote=True)``, skipping the five replacements for the common clean string."""
    return _html_escape(text, quote=True) if _HTML_SPECIAL.search(text) else text


def _e(value: Any) -> str:
    """HTML-escape any value (quotes included, so the result is safe in attributes too)."""
    return _esc(_text(value))


_MUTED_DASH = f'<span class="muted">{_DASH}</span>'


def _e_or_dash(value: Any) -> str:
    text = value if value.__class__ is str else _text(value)
    return _esc(text) if text else _MUTED_DASH


def _code(value: Any) -> str:
    text = value if value.__class__ is str else _text(value)
    if not text:
        return _MUTED_DASH
    return f"<code>{_esc(_clip(text, 2000))}</code>"


def _badge(value: Any) -> str:
    return _badge_str(value) if isinstance(value, str) or value is None else _badge_str(_text(value))


@lru_cache(maxsize=256)
def _badge_str(value: str | None) -> str:
    sev = _severity(value)
    return f'<span class="badge sev-{sev}">{_esc(_sev_label(value))}</span>'


def _value_cell(value: Any, css: str) -> str:
    text = _pretty(value)
    note = ""
    if len(text) > HTML_VALUE_LIMIT:
        note = f'<span class="muted">(truncated; {len(text):,} characters in full)</span>'
        text = _clip(text, HTML_VALUE_LIMIT)
    extra = " null" if value is None else ""
    return f'<td class="{css}"><pre class="v{extra}">{_esc(text)}</pre>{note}</td>'


_CSS = """
:root{--fg:#1f2328;--muted:#57606a;--line:#d0d7de;--bg:#fff;--panel:#f6f8fa;--ok:#1a7f37;--warn:#9a6700}
*{box-sizing:border-box}
[hidden]{display:none!important}
body{margin:0;padding:1.5rem;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:var(--fg);background:var(--bg)}
h1{font-size:1.6rem;margin:0 0 .25rem}
h2{font-size:1.2rem;margin:2rem 0 .5rem;padding-bottom:.25rem;border-bottom:1px solid var(--line)}
code,pre{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
code{background:var(--panel);padding:0 .25em;border-radius:3px;word-break:break-all}
pre{margin:0;white-space:pre-wrap;word-break:break-word;max-height:24rem;overflow:auto}
.meta{color:var(--muted);margin:0 0 .75rem}
.muted{color:var(--muted)}
.verdict{padding:.6rem .9rem;border-radius:6px;border:1px solid;font-weight:600;margin:.5rem 0}
.verdict.ok{color:var(--ok);border-color:var(--ok);background:#dafbe1}
.verdict.drift{color:#82071e;border-color:#cf222e;background:#ffebe9}
.verdict .gap{display:block;font-weight:400;color:var(--warn)}
.cards{display:flex;flex-wrap:wrap;gap:.5rem;list-style:none;padding:0;margin:.5rem 0}
.cards li{border:1px solid var(--line);border-radius:6px;padding:.4rem .8rem;min-width:7rem;background:var(--panel)}
.cards .n{display:block;font-size:1.35rem;font-weight:700}
.cards .l{color:var(--muted)}
.sources{margin:.5rem 0;color:var(--muted)}
.sources dt{font-weight:600;float:left;clear:left;margin-right:.5rem}
.sources dd{margin:0 0 .2rem}
table{border-collapse:collapse;width:100%}
th,td{border:1px solid var(--line);padding:.3rem .5rem;text-align:left;vertical-align:top}
thead th{background:var(--panel);position:sticky;top:0}
table.items>tbody:nth-of-type(even)>tr:first-child{background:#fbfcfd}
tr.detail>td{border-top:0;padding:0 .5rem .4rem 2rem}
details>summary{cursor:pointer;color:var(--muted)}
details[open]>summary{margin-bottom:.3rem}
table.diff th,table.diff td{width:auto}
table.diff td.exp{background:#fff8f8;width:42%}
table.diff td.act{background:#f6fff8;width:42%}
pre.null{color:var(--muted);font-style:italic}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.1rem .75rem;margin:.3rem 0}
dl.facts dt{color:var(--muted)}
dl.facts dd{margin:0}
.badge{display:inline-block;padding:0 .45em;border-radius:1em;font-size:12px;font-weight:600;
border:1px solid;white-space:nowrap}
.sev-critical{background:#7f1d1d;color:#fff;border-color:#7f1d1d}
.sev-high{background:#9a3412;color:#fff;border-color:#9a3412}
.sev-medium{background:#fef3c7;color:#713f12;border-color:#a16207}
.sev-low{background:#dbeafe;color:#1e3a8a;border-color:#1d4ed8}
.sev-info{background:#f3f4f6;color:#374151;border-color:#6b7280}
.sev-unknown{background:#fff;color:#374151;border-color:#6b7280;border-style:dashed}
.controls{display:flex;flex-wrap:wrap;gap:.75rem;align-items:center;margin:.5rem 0;padding:.5rem;
border:1px solid var(--line);border-radius:6px;background:var(--panel)}
.controls fieldset{border:0;margin:0;padding:0;display:flex;gap:.5rem;align-items:center}
.controls legend{float:left;font-weight:600;margin-right:.25rem}
.controls input[type=search]{padding:.25rem .4rem;min-width:16rem}
footer{margin-top:2rem;color:var(--muted);font-size:12px}
@media print{
body{padding:0;font-size:10pt}
.controls{display:none!important}
thead th{position:static}
tbody,tr{break-inside:avoid}
pre{max-height:none;overflow:visible}
.verdict,.cards li,td.exp,td.act,.badge{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
""".strip()

# Static: never interpolate report data here. It reads rows from the DOM and whitelisted data-*
# attributes, reveals the (hidden by default) controls, and opens every <details> for printing.
_SCRIPT = """
(function () {
  "use strict";
  var controls = document.getElementById("controls");
  var table = document.getElementById("items-table");
  if (!controls || !table) { return; }
  var groups = Array.prototype.slice.call(table.tBodies);
  var texts = groups.map(function (g) { return g.textContent.toLowerCase(); });
  var query = document.getElementById("filter-text");
  var boxes = controls.querySelectorAll("input[type=checkbox]");
  var shown = document.getElementById("filter-count");
  function apply() {
    var needle = query.value.trim().toLowerCase();
    var on = { kind: {}, severity: {} };
    for (var i = 0; i < boxes.length; i++) {
      if (boxes[i].checked) { on[boxes[i].name][boxes[i].value] = true; }
    }
    var count = 0;
    for (var j = 0; j < groups.length; j++) {
      var g = groups[j];
      var visible = on.kind[g.getAttribute("data-kind")] === true &&
        on.severity[g.getAttribute("data-severity")] === true &&
        (needle === "" || texts[j].indexOf(needle) !== -1);
      g.hidden = !visible;
      if (visible) { count++; }
    }
    shown.textContent = count + " of " + groups.length + " shown";
  }
  controls.addEventListener("input", apply);
  controls.addEventListener("change", apply);
  controls.hidden = false;
  apply();
  var reopened = [];
  window.addEventListener("beforeprint", function () {
    var all = document.querySelectorAll("details:not([open])");
    for (var k = 0; k < all.length; k++) { all[k].open = true; reopened.push(all[k]); }
  });
  window.addEventListener("afterprint", function () {
    while (reopened.length) { reopened.pop().open = false; }
  });
})();
""".strip()

_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
# Defence in depth: even if some value escaped its escaping, the page may not load or send anything,
# and only this exact script may run.
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; "
    f"script-src 'sha256-{_SCRIPT_HASH}'; base-uri 'none'; form-action 'none'"
)


def to_html(report: Mapping[str, Any]) -> str:
    """The report as one self-contained HTML5 page, ending in a newline.

    Nothing is fetched (no external fonts, scripts, images or links; a CSP forbids it besides) and the
    page reads fully without JavaScript: the filter controls are hidden until the inline script shows
    them, and every diff sits in a native ``<details>`` element.
    """
    facts = _Facts(report)
    out: list[str] = []
    title = f"Drift report: {facts.environment}" + (f" · {facts.created_at}" if facts.created_at else "")
    out += [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta http-equiv="Content-Security-Policy" content="{_html_escape(_CSP, quote=True)}">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{_e(title)}</title>",
        f"<style>\n{_CSS}\n</style>",
        "</head>",
        "<body>",
    ]
    _html_header(out, facts)
    out.append("<main>")
    _html_summary(out, facts)
    _html_items(out, facts)
    _html_config_drift(out, facts)
    _html_resolved(out, facts)
    _html_unevaluated(out, facts)
    out.append("</main>")
    footer = "driftmgr" + (f" · {_e(facts.schema)}" if facts.schema else "")
    out += [f"<footer>{footer}</footer>", f"<script>{_SCRIPT}</script>", "</body>", "</html>"]
    return "\n".join(out) + "\n"


def _html_header(out: list[str], facts: _Facts) -> None:
    out.append("<header>")
    out.append(f'<h1>Drift report: <span class="env">{_e(facts.environment)}</span></h1>')
    meta = []
    if facts.created_at:
        meta.append(f"generated <time>{_e(facts.created_at)}</time>")
    if facts.engine:
        meta.append(f"engine <code>{_e(facts.engine)}</code>")
    coverage = facts.summary.get("coverage")
    if coverage is not None:
        meta.append(f"coverage <strong>{_e(_percent(coverage))}</strong>")
    if facts.report_id is not None:
        meta.append(f"report #{_e(facts.report_id)}")
    if facts.duration is not None:
        meta.append(f"took {_e(_duration(facts.duration))}")
    if meta:
        out.append(f'<p class="meta">{" · ".join(meta)}</p>')
    gaps = facts.gap_phrase()
    gap_html = ""
    if gaps:
        gap_html = f'<span class="gap">⚠️ Incomplete: {_e(gaps)} (see <a href="#not-evaluated">Not evaluated</a>).</span>'
    if facts.in_sync:
        out.append(
            f'<p class="verdict ok" role="status">✅ In sync: {_e(facts.sync_phrase())}.{gap_html}</p>'
        )
    else:
        out.append(
            f'<p class="verdict drift" role="status">⚠️ Drift detected: {_e(facts.drift_phrase())}.'
            f"{gap_html}</p>"
        )
    out.append("</header>")


def _html_summary(out: list[str], facts: _Facts) -> None:
    summary = facts.summary
    out += ['<section id="summary" aria-labelledby="summary-h">', '<h2 id="summary-h">Summary</h2>']
    out.append('<ul class="cards">')
    for key, label in _COUNTERS:
        value = _percent(summary.get(key)) if key == "coverage" else _count(summary.get(key))
        out.append(f'<li><span class="n">{_e(value)}</span> <span class="l">{_e(label)}</span></li>')
    out.append("</ul>")
    out.append('<ul class="cards severities" aria-label="Drift by severity">')
    for sev, n in facts.severity_counts():
        out.append(f'<li><span class="n">{_e(_count(n))}</span> {_badge(sev)}</li>')
    out.append("</ul>")
    sources = []
    if facts.states:
        sources.append("<dt>State</dt>" + "".join(f"<dd>{_code(s)}</dd>" for s in facts.states))
    if facts.discovery_runs:
        runs = ", ".join(f"#{_e(r)}" for r in facts.discovery_runs)
        sources.append(f"<dt>Discovery runs</dt><dd>{runs}</dd>")
    if facts.workdir:
        sources.append(f"<dt>Workdir</dt><dd>{_code(facts.workdir)}</dd>")
    if sources:
        out.append('<dl class="sources">' + "".join(sources) + "</dl>")
    out.append("</section>")


def _html_items(out: list[str], facts: _Facts) -> None:
    out += [
        '<section id="drift" aria-labelledby="drift-h">',
        f'<h2 id="drift-h">Resource drift ({len(facts.items):,})</h2>',
    ]
    if not facts.items:
        out += ['<p class="muted">No changed, missing or unmanaged resources.</p>', "</section>"]
        return
    kinds_present = [k for k in (*KINDS, "other") if facts.by_kind.get(k)]
    sev_present: dict[str, int] = {}
    for item in facts.items:
        sev = _severity(item.get("severity"))
        sev_present[sev] = sev_present.get(sev, 0) + 1
    sevs = [s for s in (*SEVERITIES, "unknown") if s in sev_present]

    out.append('<div class="controls" id="controls" hidden>')
    out.append(
        '<label>Filter <input type="search" id="filter-text" placeholder="id, type, tag, value…" '
        'autocomplete="off"></label>'
    )
    out.append("<fieldset><legend>Kind</legend>")
    for kind in kinds_present:
        out.append(
            f'<label><input type="checkbox" name="kind" value="{kind}" checked> '
            f"{_KIND_TITLES[kind]} ({len(facts.by_kind[kind]):,})</label>"
        )
    out.append("</fieldset>")
    out.append("<fieldset><legend>Severity</legend>")
    for sev in sevs:
        label = sev.capitalize()
        out.append(
            f'<label><input type="checkbox" name="severity" value="{sev}" checked> '
            f"{label} ({sev_present[sev]:,})</label>"
        )
    out.append("</fieldset>")
    out.append('<span id="filter-count" class="muted" aria-live="polite"></span>')
    out.append("</div>")

    out.append('<table class="items" id="items-table">')
    out.append(
        '<thead><tr><th scope="col">Severity</th><th scope="col">Kind</th><th scope="col">Type</th>'
        '<th scope="col">ID</th><th scope="col">Address / name</th><th scope="col">Account</th>'
        '<th scope="col">Region</th><th scope="col">Status</th><th scope="col">Last seen</th>'
        "</tr></thead>"
    )
    for item in facts.items:
        _html_item(out, item)
    out += ["</table>", "</section>"]


def _html_item(out: list[str], item: Mapping[str, Any]) -> None:
    kind = _kind(item.get("kind"))
    sev = _severity(item.get("severity"))
    address = item.get("address")
    where = (
        _code(address)
        if address
        else (
            f'<span class="muted">name</span> {_code(item.get("name"))}' if item.get("name") else _code(None)
        )
    )
    out.append(f'<tbody data-kind="{kind}" data-severity="{sev}">')
    out.append(
        f"<tr><td>{_badge(item.get('severity'))}</td><td>{_e_or_dash(item.get('kind'))}</td>"
        f"<td>{_code(item.get('terraform_type'))}</td><td>{_code(item.get('terraform_id'))}</td>"
        f"<td>{where}</td><td>{_e_or_dash(item.get('account'))}</td><td>{_e_or_dash(item.get('region'))}</td>"
        f"<td>{_e_or_dash(item.get('status'))}</td><td>{_e_or_dash(_when(item.get('last_seen')))}</td></tr>"
    )
    diffs = _maps(item.get("diffs"))
    n = len(diffs)
    summary = f"Diff: {n} attribute{'' if n == 1 else 's'}" if n else "Details"
    out.append(f'<tr class="detail"><td colspan="9"><details><summary>{summary}</summary>')
    rows = []
    for key, label in (
        ("name", "Name"),
        ("module", "Module"),
        ("provider", "Provider"),
        ("state", "State"),
        ("first_seen", "First seen"),
        ("fingerprint", "Fingerprint"),
        ("id", "Item id"),
    ):
        value = item.get(key)
        if value is None:
            continue
        if key == "module" and value == "":
            rows.append(f"<dt>{label}</dt><dd>root</dd>")
        elif key == "first_seen":
            rows.append(f"<dt>{label}</dt><dd>{_e(_when(value))}</dd>")
        else:
            rows.append(f"<dt>{label}</dt><dd>{_code(value)}</dd>")
    if rows:
        out.append('<dl class="facts">' + "".join(rows) + "</dl>")
    if diffs:
        out.append(
            '<table class="diff"><thead><tr><th scope="col">Attribute</th><th scope="col">Expected</th>'
            '<th scope="col">Actual</th></tr></thead><tbody>'
        )
        for diff in diffs:
            badge = f" {_badge(diff.get('severity'))}" if diff.get("severity") is not None else ""
            out.append(
                f'<tr><th scope="row">{_code(diff.get("path"))}{badge}</th>'
                f"{_value_cell(diff.get('expected'), 'exp')}{_value_cell(diff.get('actual'), 'act')}</tr>"
            )
        out.append("</tbody></table>")
    out += ["</details></td></tr>", "</tbody>"]


def _html_config_drift(out: list[str], facts: _Facts) -> None:
    if not facts.config_drift:
        return
    out += [
        '<section id="config-drift" aria-labelledby="config-h">',
        f'<h2 id="config-h">Config drift ({len(facts.config_drift):,})</h2>',
        '<p class="muted">Terraform configuration and state disagree: unapplied declarations or '
        "orphaned state.</p>",
        '<table><thead><tr><th scope="col">Kind</th><th scope="col">Address</th><th scope="col">Type</th>'
        '<th scope="col">Module</th><th scope="col">Location</th><th scope="col">Reason</th></tr></thead>'
        "<tbody>",
    ]
    for entry in facts.config_drift:
        module = entry.get("module")
        file = entry.get("file")
        line = entry.get("line")
        location = _code(f"{_text(file)}:{_text(line)}" if file and line is not None else file or None)
        out.append(
            f"<tr><td>{_e_or_dash(entry.get('kind'))}</td><td>{_code(entry.get('address'))}</td>"
            f"<td>{_code(entry.get('terraform_type'))}</td>"
            f"<td>{'root' if module == '' else _code(module)}</td><td>{location}</td>"
            f"<td>{_e_or_dash(entry.get('reason'))}</td></tr>"
        )
    out += ["</tbody></table>", "</section>"]


def _html_resolved(out: list[str], facts: _Facts) -> None:
    if not facts.resolved:
        return
    out += [
        '<section id="resolved" aria-labelledby="resolved-h">',
        f'<h2 id="resolved-h">Resolved since last report ({len(facts.resolved):,})</h2>',
        '<table><thead><tr><th scope="col">Kind</th><th scope="col">Type</th><th scope="col">ID</th>'
        '<th scope="col">Address</th><th scope="col">First seen</th><th scope="col">Resolved</th></tr>'
        "</thead><tbody>",
    ]
    for entry in facts.resolved:
        out.append(
            f"<tr><td>{_e_or_dash(entry.get('kind'))}</td><td>{_code(entry.get('terraform_type'))}</td>"
            f"<td>{_code(entry.get('terraform_id'))}</td><td>{_code(entry.get('address'))}</td>"
            f"<td>{_e_or_dash(_when(entry.get('first_seen')))}</td>"
            f"<td>{_e_or_dash(_when(entry.get('resolved_at')))}</td></tr>"
        )
    out += ["</tbody></table>", "</section>"]


def _html_unevaluated(out: list[str], facts: _Facts) -> None:
    if not facts.unevaluated and not facts.warnings:
        return
    out += [
        '<section id="not-evaluated" aria-labelledby="not-evaluated-h">',
        '<h2 id="not-evaluated-h">⚠️ Not evaluated</h2>',
        '<p class="muted">Drift in these areas is unknown, not absent.</p>',
    ]
    if facts.unevaluated:
        out.append(
            '<table><thead><tr><th scope="col">Type</th><th scope="col">Region</th>'
            '<th scope="col">Reason</th></tr></thead><tbody>'
        )
        for entry in facts.unevaluated:
            out.append(
                f"<tr><td>{_code(entry.get('terraform_type'))}</td><td>{_e_or_dash(entry.get('region'))}"
                f"</td><td>{_e_or_dash(entry.get('reason'))}</td></tr>"
            )
        out.append("</tbody></table>")
    if facts.warnings:
        out.append('<ul class="warnings">')
        out.extend(f"<li>{_e(w)}</li>" for w in facts.warnings)
        out.append("</ul>")
    out.append("</section>")
