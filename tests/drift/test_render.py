"""Markdown and HTML renderings of a drift report: structure, escaping, self-containment, determinism."""

from __future__ import annotations

import copy
import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftmgr_tui.drift.render import to_html, to_markdown

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_ATTR = '"><img src=x onerror=alert(1)>'


def _report() -> dict[str, Any]:
    """A realistic report with every kind of entry, in deliberately unsorted order."""
    return {
        "schema": "driftmgr.drift-report/1",
        "id": 12,
        "environment": "prod",
        "engine": "native",
        "created_at": "2026-11-22T10:00:00+00:00",
        "duration": 0.84,
        "sources": {
            "states": ["/infra/terraform.tfstate", "s3://acme-tfstate/prod/net.tfstate"],
            "discovery_runs": [3, 4],
            "workdir": "/infra",
        },
        "summary": {
            "total_resources": 120,
            "total_managed": 100,
            "total_unmanaged": 2,
            "total_missing": 1,
            "total_changed": 2,
            "total_unapplied": 1,
            "total_orphaned": 1,
            "total_ignored": 4,
            "coverage": 86.96,
            "by_severity": {"critical": 1, "high": 2, "medium": 1, "low": 1, "info": 0},
            "unevaluated": [
                {
                    "terraform_type": "aws_s3_bucket",
                    "region": "eu-west-1",
                    "reason": "discovery task failed: throttled",
                },
            ],
        },
        "items": [
            {
                "id": 80,
                "fingerprint": "ff01",
                "kind": "unmanaged",
                "terraform_type": "aws_instance",
                "terraform_id": "i-0abc",
                "address": None,
                "module": "",
                "provider": "aws",
                "account": "123456789012",
                "region": "us-east-1",
                "name": "debug-box",
                "severity": "low",
                "diffs": [],
                "first_seen": "2026-11-21T08:00:00+00:00",
                "last_seen": "2026-11-22T10:00:00+00:00",
                "status": "new",
                "state": None,
            },
            {
                "id": 78,
                "fingerprint": "cd34",
                "kind": "changed",
                "terraform_type": "aws_s3_bucket",
                "terraform_id": "acme-logs",
                "address": "aws_s3_bucket.logs",
                "module": "",
                "provider": "aws",
                "account": "123456789012",
                "region": "us-east-1",
                "name": "acme-logs",
                "severity": "medium",
                "diffs": [
                    {"path": "tags.Owner", "expected": "team-a", "actual": None, "severity": "low"},
                    {
                        "path": "tags.Note",
                        "expected": "a|b",
                        "actual": "line one\nline two",
                        "severity": "low",
                    },
                    {"path": "versioning.enabled", "expected": True, "actual": False, "severity": "medium"},
                ],
                "first_seen": "2026-11-20T08:00:00+00:00",
                "last_seen": "2026-11-22T10:00:00+00:00",
                "status": "persisting",
                "state": "/infra/terraform.tfstate",
            },
            {
                "id": 77,
                "fingerprint": "ab12",
                "kind": "changed",
                "terraform_type": "aws_security_group",
                "terraform_id": "sg-0123",
                "address": "module.net.aws_security_group.web",
                "module": "module.net",
                "provider": "aws",
                "account": "123456789012",
                "region": "us-east-1",
                "name": "web",
                "severity": "critical",
                "diffs": [
                    {
                        "path": "ingress",
                        "expected": [{"from_port": 443, "to_port": 443, "cidr_blocks": ["10.0.0.0/8"]}],
                        "actual": [
                            {"from_port": 443, "to_port": 443, "cidr_blocks": ["10.0.0.0/8"]},
                            {
                                "from_port": 22,
                                "to_port": 22,
                                "cidr_blocks": ["0.0.0.0/0"],
                                "description": "temporary debug access",
                            },
                        ],
                        "severity": "critical",
                    },
                    {"path": "tags.Secret", "expected": "(sensitive)", "actual": "***", "severity": "low"},
                ],
                "first_seen": "2026-11-20T08:00:00+00:00",
                "last_seen": "2026-11-22T10:00:00+00:00",
                "status": "new",
                "state": "s3://acme-tfstate/prod/net.tfstate",
            },
            {
                "id": 79,
                "fingerprint": "ef56",
                "kind": "missing",
                "terraform_type": "aws_iam_role",
                "terraform_id": "deploy",
                "address": "aws_iam_role.deploy",
                "module": "",
                "provider": "aws",
                "account": "123456789012",
                "region": "us-east-1",
                "name": "deploy",
                "severity": "high",
                "diffs": [],
                "first_seen": "2026-11-22T10:00:00+00:00",
                "last_seen": "2026-11-22T10:00:00+00:00",
                "status": "new",
                "state": "/infra/terraform.tfstate",
            },
            {
                "id": 81,
                "fingerprint": "0a0b",
                "kind": "unmanaged",
                "terraform_type": "aws_eip",
                "terraform_id": "eipalloc-9",
                "address": None,
                "module": "",
                "provider": "aws",
                "account": "123456789012",
                "region": "us-east-1",
                "name": None,
                "severity": "high",
                "diffs": [],
                "first_seen": "2026-11-22T10:00:00+00:00",
                "last_seen": "2026-11-22T10:00:00+00:00",
                "status": "new",
                "state": None,
            },
        ],
        "config_drift": [
            {
                "kind": "unapplied",
                "address": "aws_instance.web",
                "terraform_type": "aws_instance",
                "module": "",
                "file": "main.tf",
                "line": 12,
                "reason": "declared in main.tf:12 but not in state",
            },
            {
                "kind": "orphaned",
                "address": "module.old.aws_sqs_queue.q",
                "terraform_type": "aws_sqs_queue",
                "module": "module.old",
                "file": None,
                "line": None,
                "reason": "in state but no longer declared",
            },
        ],
        "resolved": [
            {
                "fingerprint": "9999",
                "kind": "missing",
                "terraform_type": "aws_sns_topic",
                "terraform_id": "arn:aws:sns:us-east-1:123456789012:alerts",
                "address": "aws_sns_topic.alerts",
                "first_seen": "2026-11-19T08:00:00+00:00",
                "resolved_at": "2026-11-22T10:00:00+00:00",
            },
        ],
        "warnings": ["region eu-west-1: discovery failed; its resources were not evaluated"],
        "some_future_key": {"ignored": True},
    }


def _in_sync_report() -> dict[str, Any]:
    return {
        "schema": "driftmgr.drift-report/1",
        "id": 13,
        "environment": "staging",
        "engine": "terraform",
        "created_at": "2026-11-22T12:30:00+01:00",
        "duration": 1.5,
        "sources": {"states": ["/infra/terraform.tfstate"], "discovery_runs": [5], "workdir": None},
        "summary": {
            "total_resources": 42,
            "total_managed": 42,
            "total_unmanaged": 0,
            "total_missing": 0,
            "total_changed": 0,
            "total_unapplied": 0,
            "total_orphaned": 0,
            "total_ignored": 0,
            "coverage": 100.0,
            "by_severity": {"critical": 0, "high": 0, "medium": 0, "low": 0, "info": 0},
            "unevaluated": [],
        },
        "items": [],
        "config_drift": [],
        "resolved": [],
        "warnings": [],
    }


def _hostile_report() -> dict[str, Any]:
    """Attacker-controlled text in an id, a tag value and a diff value (and a few other places)."""
    report = _report()
    item = report["items"][2]
    item["terraform_id"] = f"sg-{XSS_SCRIPT}{XSS_ATTR}"
    item["diffs"].append(
        {"path": "tags.Name", "expected": "web", "actual": f"{XSS_ATTR}{XSS_SCRIPT}", "severity": "low"}
    )
    item["diffs"].append(
        {
            "path": f"tags.{XSS_ATTR}",
            "expected": {"Name": XSS_SCRIPT},
            "actual": [XSS_ATTR, "</script><script>alert(2)</script>"],
            "severity": "low",
        }
    )
    report["items"][0]["name"] = XSS_ATTR
    report["environment"] = f"prod{XSS_SCRIPT}"
    report["warnings"].append(f"tag value {XSS_ATTR} rejected")
    report["summary"]["unevaluated"][0]["reason"] = XSS_SCRIPT
    report["config_drift"][0]["reason"] = XSS_ATTR
    return report


def _section(markdown: str, heading: str) -> str:
    """The text of one ``## `` section (up to the next ``## `` heading)."""
    start = markdown.index(heading)
    end = markdown.find("\n## ", start + len(heading))
    return markdown[start:] if end == -1 else markdown[start:end]


def _table_rows(block: str) -> list[str]:
    return [line for line in block.splitlines() if line.startswith("|")]


def _cells(row: str) -> list[str]:
    """Split a GFM table row on unescaped pipes."""
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", row.strip())[1:-1]]


# --------------------------------------------------------------------------- Markdown


def test_markdown_title_and_verdict() -> None:
    md = to_markdown(_report())
    first = md.splitlines()[0]
    assert first.startswith("# Drift report: prod")
    assert "2026-11-22 10:00:00 UTC" in first
    assert "⚠️ **Drift detected:** 2 changed, 1 missing, 2 unmanaged, 1 unapplied, 1 orphaned." in md
    assert "engine `native`" in md and "report #12" in md
    assert md.endswith("\n") and not md.endswith("\n\n")


def test_markdown_sections_in_order() -> None:
    md = to_markdown(_report())
    headings = [line for line in md.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Summary",
        "## Changed (2)",
        "## Missing (1)",
        "## Unmanaged (2)",
        "## Config drift (2)",
        "## Resolved since last report (1)",
        "## ⚠️ Not evaluated",
    ]


def test_markdown_summary_tables() -> None:
    summary = _section(to_markdown(_report()), "## Summary")
    rows = _table_rows(summary)
    assert _cells(rows[0]) == [
        "Resources",
        "Managed",
        "Coverage",
        "Changed",
        "Missing",
        "Unmanaged",
        "Unapplied",
        "Orphaned",
        "Ignored",
    ]
    assert _cells(rows[2]) == ["120", "100", "86.96%", "2", "1", "2", "1", "1", "4"]
    assert _cells(rows[3]) == ["🔴 Critical", "🟠 High", "🟡 Medium", "🔵 Low", "⚪ Info"]
    assert _cells(rows[5]) == ["1", "2", "1", "1", "0"]


def test_markdown_changed_items_sorted_by_severity_with_diff_tables() -> None:
    changed = _section(to_markdown(_report()), "## Changed (2)")
    item_headings = [line for line in changed.splitlines() if line.startswith("### ")]
    assert item_headings == [
        "### 🔴 Critical · `aws_security_group` `sg-0123`",
        "### 🟡 Medium · `aws_s3_bucket` `acme-logs`",
    ]
    assert "`module.net.aws_security_group.web` · 123456789012 / us-east-1 · new" in changed
    rows = _table_rows(changed)
    assert _cells(rows[0]) == ["Path", "Expected", "Actual", "Severity"]
    by_path = {_cells(r)[0]: _cells(r) for r in rows if not r.startswith("| Path") and not r.startswith("|-")}
    assert by_path["`ingress`"][1] == '`[{"from_port":443,"to_port":443,"cidr_blocks":["10.0.0.0/8"]}]`'
    assert by_path["`ingress`"][3] == "🔴 Critical"
    # None renders as null; booleans as JSON.
    assert by_path["`tags.Owner`"][1:3] == ["`team-a`", "`null`"]
    assert by_path["`versioning.enabled`"][1:3] == ["`true`", "`false`"]
    # Redaction markers pass through untouched.
    assert by_path["`tags.Secret`"][1:3] == ["`(sensitive)`", "`***`"]


def test_markdown_long_values_are_truncated() -> None:
    diff_actual = _report()["items"][2]["diffs"][0]["actual"]
    compact = json.dumps(diff_actual, separators=(",", ":"))
    assert len(compact) > 120
    changed = _section(to_markdown(_report()), "## Changed (2)")
    row = next(r for r in _table_rows(changed) if r.startswith("| `ingress`"))
    actual = _cells(row)[2]
    assert actual.endswith("…`")
    assert len(actual.strip("`")) == 120
    assert actual.strip("`")[:-1] == compact[:119]


def test_markdown_escapes_pipes_and_newlines_in_cells() -> None:
    md = to_markdown(_report())
    changed = _section(md, "## Changed (2)")
    note_rows = [r for r in _table_rows(changed) if "tags.Note" in r]
    assert len(note_rows) == 1, "a newline in a value must not break the table row"
    row = note_rows[0]
    assert "`a\\|b`" in row
    assert '`"line one\\nline two"`' in row
    assert len(_cells(row)) == 4
    # Every table in the document keeps a constant column count.
    for block in md.split("\n\n"):
        rows = _table_rows(block)
        if rows:
            assert len({len(_cells(r)) for r in rows}) == 1, block


def test_markdown_escapes_metacharacters_in_free_text() -> None:
    report = _report()
    report["warnings"] = ["bad | value `with` ticks\nand *stars* [link](x) <b>bold</b>"]
    report["summary"]["unevaluated"][0]["reason"] = "a|b\r\nc"
    report["items"][2]["terraform_id"] = "sg-``x|y"
    md = to_markdown(report)
    assert "- bad \\| value \\`with\\` ticks<br>and \\*stars\\* \\[link\\](x) \\<b\\>bold\\</b\\>" in md
    row = next(r for r in _table_rows(_section(md, "## ⚠️ Not evaluated")) if "aws_s3_bucket" in r)
    assert _cells(row) == ["`aws_s3_bucket`", "eu\\-west-1".replace("\\-", "-"), "a\\|b<br>c"]
    # A backtick run inside a code span gets a longer fence.
    assert "```sg-``x|y```" in md


def test_markdown_missing_and_unmanaged_tables() -> None:
    md = to_markdown(_report())
    missing = _table_rows(_section(md, "## Missing (1)"))
    assert _cells(missing[0]) == ["Severity", "Type", "ID", "Address", "Account", "Region", "Name", "Status"]
    assert _cells(missing[2])[:4] == ["🟠 High", "`aws_iam_role`", "`deploy`", "`aws_iam_role.deploy`"]
    unmanaged = _table_rows(_section(md, "## Unmanaged (2)"))
    # high before low
    assert [_cells(r)[2] for r in unmanaged[2:]] == ["`eipalloc-9`", "`i-0abc`"]
    assert _cells(unmanaged[2])[3] == "—"


def test_markdown_config_drift_resolved_and_warnings() -> None:
    md = to_markdown(_report())
    config = _table_rows(_section(md, "## Config drift (2)"))
    assert _cells(config[2]) == [
        "orphaned",
        "`module.old.aws_sqs_queue.q`",
        "`aws_sqs_queue`",
        "`module.old`",
        "—",
        "in state but no longer declared",
    ]
    assert _cells(config[3])[:5] == [
        "unapplied",
        "`aws_instance.web`",
        "`aws_instance`",
        "root",
        "`main.tf:12`",
    ]
    resolved = _table_rows(_section(md, "## Resolved since last report (1)"))
    assert _cells(resolved[2])[2] == "`arn:aws:sns:us-east-1:123456789012:alerts`"
    gaps = _section(md, "## ⚠️ Not evaluated")
    assert "- region eu-west-1: discovery failed; its resources were not evaluated" in gaps


def test_markdown_in_sync_report() -> None:
    md = to_markdown(_in_sync_report())
    assert "✅ **In sync:** no drift across 42 managed resources." in md
    assert "Drift detected" not in md
    assert "## Changed" not in md and "## Config drift" not in md
    # created_at with an offset is shown in UTC
    assert md.splitlines()[0] == "# Drift report: staging · 2026-11-22 11:30:00 UTC"


def test_markdown_in_sync_but_incomplete_says_so() -> None:
    report = _in_sync_report()
    report["summary"]["unevaluated"] = [
        {"terraform_type": "aws_s3_bucket", "region": "eu-west-1", "reason": "throttled"}
    ]
    md = to_markdown(report)
    assert "✅ **In sync:** no drift across 42 managed resources. ⚠️ Coverage is incomplete" in md
    assert "## ⚠️ Not evaluated" in md


def test_markdown_no_raw_html_from_values() -> None:
    md = to_markdown(_hostile_report())
    # Inside code spans markup is inert text; everywhere else it must be backslash-escaped.
    outside_code = re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", md)
    assert not re.search(r"(?<!\\)<(?:script|img)", outside_code)
    for tag in re.findall(r"(?<!\\)<(/?[a-zA-Z][^ >]*)", outside_code):
        assert tag in {"sub", "/sub", "br"}, tag
    assert "\\<script\\>alert(1)\\</script\\>" in outside_code  # the unevaluated reason
    # The hostile id sits in a code span that contains no backticks, so it cannot close early.
    assert f"`sg-{XSS_SCRIPT}{XSS_ATTR}`" in md


def test_markdown_renders_as_inert_html_through_a_commonmark_parser() -> None:
    markdown_it = pytest.importorskip("markdown_it")
    parser = markdown_it.MarkdownIt("commonmark", {"html": True}).enable("table")
    rendered = parser.render(to_markdown(_hostile_report()))
    assert not re.search(r"<(script|img)\b", rendered)
    assert "<code>sg-&lt;script&gt;alert(1)&lt;/script&gt;" in rendered
    assert "<td><code>a|b</code></td>" in parser.render(to_markdown(_report()))


# --------------------------------------------------------------------------- HTML


class _Checker(HTMLParser):
    """Collects tags and checks that every non-void element is closed in order."""

    VOID = {"meta", "input", "br", "hr", "img", "link", "col", "wbr", "area", "base", "source"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.starts: list[tuple[str, dict[str, str | None]]] = []
        self.script_bodies: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.starts.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.starts.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'} at {self.getpos()}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] == "script":
            self.script_bodies.append(data)
        else:
            self.text.append(data)


def _parse(page: str) -> _Checker:
    checker = _Checker()
    checker.feed(page)
    checker.close()
    return checker


@pytest.mark.parametrize("make", [_report, _in_sync_report, _hostile_report])
def test_html_parses_with_balanced_tags(make: Any) -> None:
    page = to_html(make())
    assert page.startswith("<!DOCTYPE html>\n")
    checker = _parse(page)
    assert checker.problems == []
    assert checker.stack == []
    names = [tag for tag, _ in checker.starts]
    for required in ("html", "head", "body", "main", "header", "style", "script"):
        assert names.count(required) == 1, required


def test_html_is_self_contained() -> None:
    page = to_html(_report())
    assert not re.search(r"https?://", page)
    assert not re.search(r"<link\b", page, re.IGNORECASE)
    assert not re.search(r"@import|url\(", page, re.IGNORECASE)
    assert not re.search(r"""\b(?:src|href)\s*=\s*(?!["']?#)""", page, re.IGNORECASE)
    for tag, attrs in _parse(page).starts:
        assert "src" not in attrs, tag
        assert attrs.get("href") is None or attrs["href"].startswith("#"), (tag, attrs)
        assert tag not in {"img", "iframe", "object", "embed", "link", "base", "form"}


def test_html_header_summary_and_items() -> None:
    page = to_html(_report())
    text = " ".join(" ".join(_parse(page).text).split())
    assert "Drift report: prod" in text
    assert "generated 2026-11-22 10:00:00 UTC" in text
    assert "engine native" in text and "coverage 86.96%" in text
    assert "Drift detected: 2 changed, 1 missing, 2 unmanaged, 1 unapplied, 1 orphaned." in text
    assert "120 Resources" in text and "86.96% Coverage" in text
    # Severity shown as a text label as well as a colour.
    assert '<span class="badge sev-critical">Critical</span>' in page
    # Item groups: sorted kind, then severity; kind and severity as whitelisted data attributes.
    groups = re.findall(r'<tbody data-kind="(\w+)" data-severity="(\w+)">', page)
    assert groups == [
        ("changed", "critical"),
        ("changed", "medium"),
        ("missing", "high"),
        ("unmanaged", "high"),
        ("unmanaged", "low"),
    ]
    assert page.count("<details>") == 5
    assert "Diff: 2 attributes" in page and "Diff: 3 attributes" in page
    for section in ('id="config-drift"', 'id="resolved"', 'id="not-evaluated"'):
        assert section in page


def test_html_side_by_side_diff() -> None:
    page = to_html(_report())
    row = re.search(r'<tr><th scope="row"><code>ingress</code>.*?</tr>', page, re.DOTALL)
    assert row is not None
    cells = re.findall(r'<td class="(exp|act)"><pre class="v">(.*?)</pre></td>', row.group(0), re.DOTALL)
    assert [c[0] for c in cells] == ["exp", "act"]
    assert "&quot;0.0.0.0/0&quot;" not in cells[0][1] and "&quot;0.0.0.0/0&quot;" in cells[1][1]
    assert '<pre class="v null">null</pre>' in page
    assert '<pre class="v">(sensitive)</pre>' in page and '<pre class="v">***</pre>' in page
    assert "line one\nline two" in page  # multi-line strings keep their lines


def test_html_readable_without_javascript() -> None:
    page = to_html(_report())
    # Controls that need the script start hidden; all data is in plain markup.
    assert '<div class="controls" id="controls" hidden>' in page
    checker = _parse(page)
    script = "".join(checker.script_bodies)
    assert "prod" not in script and "sg-0123" not in script
    assert "sg-0123" in "".join(checker.text)
    assert "@media print" in page


def test_html_in_sync_report() -> None:
    page = to_html(_in_sync_report())
    assert "✅ In sync: no drift across 42 managed resources." in page
    assert 'class="verdict ok"' in page
    assert "No changed, missing or unmanaged resources." in page


def test_html_escapes_attacker_controlled_values() -> None:
    page = to_html(_hostile_report())
    for payload in (XSS_SCRIPT, XSS_ATTR, "</script><script>alert(2)</script>"):
        assert payload not in page
    escaped_script = "&lt;script&gt;alert(1)&lt;/script&gt;"
    escaped_attr = "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"
    assert f"sg-{escaped_script}{escaped_attr}" in page  # the id
    assert f"{escaped_attr}{escaped_script}" in page  # the tag value in a diff
    assert f"tags.{escaped_attr}" in page  # a diff path
    assert "&lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in page  # inside a JSON diff value
    checker = _parse(page)
    assert checker.problems == []
    names = [tag for tag, _ in checker.starts]
    assert names.count("script") == 1 and "img" not in names
    for tag, attrs in checker.starts:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
    # The one script is ours and static: the payloads never reach it.
    assert "alert" not in "".join(checker.script_bodies)
    # The parsed text round-trips to the original values.
    assert any(XSS_ATTR in chunk for chunk in checker.text)


def test_html_attribute_values_come_from_a_whitelist() -> None:
    report = _hostile_report()
    report["items"][0]["kind"] = XSS_ATTR
    report["items"][1]["severity"] = XSS_ATTR
    page = to_html(report)
    assert XSS_ATTR not in page
    kinds = set(re.findall(r'data-kind="([^"]*)"', page))
    sevs = set(re.findall(r'data-severity="([^"]*)"', page))
    assert kinds <= {"changed", "missing", "unmanaged", "other"}
    assert sevs <= {"critical", "high", "medium", "low", "info", "unknown"}
    assert "other" in kinds and "unknown" in sevs


def test_html_csp_pins_the_inline_script() -> None:
    import base64
    import hashlib

    page = to_html(_report())
    script = re.search(r"<script>(.*?)</script>", page, re.DOTALL)
    assert script is not None
    digest = base64.b64encode(hashlib.sha256(script.group(1).encode()).digest()).decode()
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', page)
    assert csp is not None
    assert "default-src &#x27;none&#x27;" in csp.group(1)
    assert f"sha256-{digest}" in csp.group(1)


# --------------------------------------------------------------------------- both formats


def _with_text(value: str) -> dict[str, Any]:
    report = _report()
    report["items"][2]["terraform_id"] = value
    report["items"][2]["diffs"][1]["actual"] = value
    report["items"][0]["region"] = value
    report["warnings"] = [value]
    return report


_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXT)
def test_any_text_keeps_markdown_tables_intact(value: str) -> None:
    md = to_markdown(_with_text(value))
    lines = md.split("\n")
    assert len(lines) == len(to_markdown(_with_text("x")).split("\n"))
    for block in md.split("\n\n"):
        rows = [line for line in block.split("\n") if line.startswith("|")]
        if rows:
            assert len({len(_cells(r)) for r in rows}) == 1, block


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXT)
def test_any_text_stays_text_in_html(value: str) -> None:
    page = to_html(_with_text(value))
    checker = _parse(page)
    baseline = _parse(to_html(_with_text("x")))
    assert checker.problems == []
    assert [tag for tag, _ in checker.starts] == [tag for tag, _ in baseline.starts]
    assert [attrs for _, attrs in checker.starts] == [attrs for _, attrs in baseline.starts]


@pytest.mark.parametrize("render", [to_markdown, to_html])
def test_deterministic_and_independent_of_input_order(render: Any) -> None:
    report = _report()
    first = render(report)
    assert render(copy.deepcopy(report)) == first
    shuffled = copy.deepcopy(report)
    shuffled["items"].reverse()
    shuffled["config_drift"].reverse()
    assert render(shuffled) == first
    assert report == _report(), "rendering must not mutate the report"


@pytest.mark.parametrize("render", [to_markdown, to_html])
def test_minimal_report_does_not_crash(render: Any) -> None:
    minimal = {"summary": {}, "items": [{"kind": "changed"}, {"kind": "missing", "diffs": None}]}
    out = render(minimal)
    assert "unknown environment" in out
    assert render({"summary": None, "items": None}) == render({})


@pytest.mark.parametrize("render", [to_markdown, to_html])
def test_junk_values_are_tolerated(render: Any) -> None:
    report = _report()
    report["items"].append("not a mapping")
    report["items"].append(
        {
            "kind": "exploded",
            "severity": "urgent",
            "terraform_id": 42,
            "diffs": [{"path": None}, "junk", {"path": "x", "expected": (1, 2), "actual": float("nan")}],
        }
    )
    report["summary"]["by_severity"]["urgent"] = 1
    report["summary"]["coverage"] = "n/a"
    report["sources"] = "garbage"
    report["warnings"] = "a single warning"
    report["created_at"] = "yesterday"
    out = render(report)
    assert "exploded" in out and "urgent" in out and "a single warning" in out and "yesterday" in out


def test_in_sync_is_not_claimed_when_summary_counts_drift() -> None:
    report = _in_sync_report()
    report["summary"]["total_missing"] = 3  # items omitted from a truncated report
    assert "In sync" not in to_markdown(report)
    assert "In sync" not in to_html(report)
    assert "Drift detected:** 3 missing." in to_markdown(report)


@pytest.mark.parametrize("render", [to_markdown, to_html])
def test_ten_thousand_items_all_render(render: Any) -> None:
    base = _report()
    kinds = ["changed", "missing", "unmanaged"]
    sevs = ["critical", "high", "medium", "low", "info"]
    items = []
    for i in range(10_000):
        item = copy.deepcopy(base["items"][2])
        item.update(
            id=i, fingerprint=f"fp{i}", kind=kinds[i % 3], severity=sevs[i % 5], terraform_id=f"sg-{i:05d}"
        )
        if item["kind"] != "changed":
            item["diffs"] = []
        items.append(item)
    base["items"] = items
    out = render(base)
    assert "sg-00000" in out and "sg-09999" in out
