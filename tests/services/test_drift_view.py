"""DriftView: filter tokens, facets and their counts, sorting, incremental filtering, loading from the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftmgr_tui.drift.history import ReportMeta, save_report
from driftmgr_tui.drift.model import SEVERITY_RANK, DetectionResult, FieldDiff, Finding
from driftmgr_tui.services.drift_service import DriftService
from driftmgr_tui.services.drift_view import SORT_KEYS, DriftView

T0 = "2026-03-01T10:00:00+00:00"
T1 = "2026-03-05T08:30:00+00:00"


def _item(n: int, kind: str, severity: str, rtype: str, *, module: str = "", region: str = "us-east-1",
          provider: str = "aws", address: str | None = "", name: str | None = None, first_seen: str = T0,
          status: str = "new", tid: str | None = None) -> dict[str, Any]:
    tid = tid or f"{rtype.split('_', 1)[1]}-{n:04d}"
    if address == "":
        address = f"{module + '.' if module else ''}{rtype}.r{n}"
    return {"id": 100 + n, "fingerprint": f"fp{n}", "kind": kind, "terraform_type": rtype, "terraform_id": tid,
            "address": address, "module": module, "provider": provider, "account": "123456789012",
            "region": region, "name": name if name is not None else f"res-{n}", "severity": severity,
            "diffs": [{"path": "tags.team", "expected": "a", "actual": "b", "severity": "low"}]
            if kind == "changed" else [], "first_seen": first_seen, "status": status, "state": "s.tfstate"}


ITEMS = [
    _item(0, "changed", "low", "aws_s3_bucket", module="module.storage"),
    _item(1, "missing", "critical", "aws_security_group", module="module.network", first_seen=T1,
          status="persisting"),
    _item(2, "unmanaged", "medium", "aws_s3_bucket", address=None, name="Scratch-Bucket", region="eu-west-1"),
    _item(3, "changed", "high", "aws_iam_role", region="global", module="module.network"),
    _item(4, "missing", "info", "aws_s3_bucket_policy", module="module.storage"),
    _item(5, "unmanaged", "critical", "google_compute_instance", address=None, provider="gcp",
          region="europe-west1"),
    _item(6, "changed", "medium", "aws_instance", module='module.app["prod"]', first_seen=T1),
    _item(7, "missing", "high", "aws_instance", region="us-west-2"),
]


def _view() -> DriftView:
    return DriftView.from_items(ITEMS)


def _ids(view: DriftView) -> list[int]:
    return view.item_ids()


def _where(**fields: Any) -> list[int]:
    return [i["id"] for i in ITEMS if all(i[k] == v for k, v in fields.items())]


# ------------------------------------------------------------------------------------------------ rows


def test_rows_cells_and_ids() -> None:
    view = _view()
    assert len(view) == view.total == view.loaded == len(ITEMS)
    assert view.complete
    assert [title for title, _ in view.columns][:2] == ["Severity", "Kind"]
    assert view.row(0) == ("low", "changed", "aws_s3_bucket", "s3_bucket-0000", "module.storage.aws_s3_bucket.r0",
                           "us-east-1", "2026-03-01 10:00")
    # no address: the name stands in
    assert view.row(2)[4] == "Scratch-Bucket"
    assert [view.item_id(i) for i in range(len(view))] == [i["id"] for i in ITEMS]
    assert view.find(105) == 5
    assert view.find(999) is None
    assert view.item(2)["address"] is None and view.item(2)["name"] == "Scratch-Bucket"
    assert view.item_detail(0)["diffs"] == ITEMS[0]["diffs"]


def test_counts_cover_everything_whatever_the_filter() -> None:
    view = _view()
    view.set_filter("kind:missing")
    counts = view.counts()
    assert counts["total"] == 8
    assert counts["kind"] == {"changed": 3, "missing": 3, "unmanaged": 2}
    assert counts["severity"] == {"critical": 2, "high": 2, "medium": 2, "low": 1, "info": 1}


# ------------------------------------------------------------------------------------------------ filter


@pytest.mark.parametrize(("text", "expected"), [
    ("s3", [100, 102, 104]),                      # type, case-insensitive
    ("S3_BUCKET", [100, 102, 104]),
    ("scratch", [102]),                           # name (of an unmanaged item)
    ("security_group-0001", [101]),               # terraform id
    ("module.network", [101, 103]),               # module (and address)
    ("storage s3_bucket_policy", [104]),          # words must all match
    ("eu", [102, 105]),                           # region
    ("r7", [107]),                                # address
    ("nothing-like-this", []),
    ("", [100, 101, 102, 103, 104, 105, 106, 107]),
    ("   ", [100, 101, 102, 103, 104, 105, 106, 107]),
])
def test_words(text: str, expected: list[int]) -> None:
    view = _view()
    view.set_filter(text)
    assert _ids(view) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("kind:missing", _where(kind="missing")),
    ("KIND:Missing", _where(kind="missing")),
    ("kind:missing,unmanaged", [i["id"] for i in ITEMS if i["kind"] != "changed"]),
    ("kind:m", _where(kind="missing")),                       # no exact value: a prefix
    ("sev:critical", _where(severity="critical")),
    ("severity:high", _where(severity="high")),
    ("sev:crit", _where(severity="critical")),
    ("type:aws_s3*", [100, 102, 104]),                        # glob over the whole field
    ("type:*instance", [105, 106, 107]),
    ("type:aws_s3_bucket", [100, 102]),                       # exact value wins over the prefix
    ("type:aws_s3_buck", [100, 102, 104]),
    ("provider:gcp", [105]),
    ("module:network", [101, 103]),                           # module.network
    ("module:app", [106]),                                    # prefix of module.app["prod"]
    ("region:us-east-1", _where(region="us-east-1")),
    ("status:persisting", [101]),
    ("kind:missing s3", [104]),                               # facets and words together
    ("kind:missing sev:high", [107]),
    ("kind: s3", [100, 102, 104]),                            # an empty value constrains nothing
    ("colour:red", []),                                       # not a facet: an ordinary word
    ("kind:nothing", []),
])
def test_facet_tokens(text: str, expected: list[int]) -> None:
    view = _view()
    view.set_filter(text)
    assert _ids(view) == expected
    assert view.filter_text == text


def test_set_facet_and_facet_counts() -> None:
    view = _view()
    view.set_facet("kind", {"missing", "unmanaged"})
    assert _ids(view) == [101, 102, 104, 105, 107]
    # its own selection is left out of a facet's counts; the other facets and the text apply
    assert view.facet_counts("kind") == {"changed": 3, "missing": 3, "unmanaged": 2}
    assert view.facet_counts("severity") == {"critical": 2, "high": 1, "medium": 1, "low": 0, "info": 1}
    view.set_facet("sev", {"critical"})
    assert _ids(view) == [101, 105]
    assert view.facet_counts("kind") == {"changed": 0, "missing": 1, "unmanaged": 1}
    assert view.facet_counts("provider") == {"aws": 1, "gcp": 1}
    view.set_filter("s3")
    assert _ids(view) == []
    assert view.facet_counts("severity") == {"critical": 0, "high": 0, "medium": 1, "low": 0, "info": 1}
    assert view.facets() == {"kind": frozenset({"missing", "unmanaged"}), "severity": frozenset({"critical"})}
    view.set_facet("severity", None)
    view.set_facet("kind", set())
    assert _ids(view) == [100, 102, 104]
    # a facet token counts like a selection of that facet
    view.set_filter("s3 kind:missing")
    assert view.facet_counts("kind") == {"changed": 1, "missing": 1, "unmanaged": 1}
    # by count, then by value
    assert list(view.facet_counts("type").items()) == [
        ("aws_s3_bucket_policy", 1), ("aws_iam_role", 0), ("aws_instance", 0), ("aws_s3_bucket", 0),
        ("aws_security_group", 0), ("google_compute_instance", 0)]
    with pytest.raises(ValueError, match="unknown facet"):
        view.set_facet("colour", {"red"})


# ------------------------------------------------------------------------------------------------ sort


def test_sort_by_severity_rank() -> None:
    view = _view()
    view.sort("severity")
    severities = [view.row(i)[0] for i in range(len(view))]
    assert severities == ["critical", "critical", "high", "high", "medium", "medium", "low", "info"]
    # ties: kind order (changed, missing, unmanaged), then type
    assert _ids(view) == [101, 105, 103, 107, 106, 102, 100, 104]
    view.sort("severity", reverse=True)
    assert [view.row(i)[0] for i in range(len(view))] == severities[::-1]
    assert view.sort_key == ("severity", True)


@pytest.mark.parametrize("key", SORT_KEYS)
def test_every_sort_key_orders_its_column(key: str) -> None:
    view = _view()
    view.sort(key)
    column = {"severity": 0, "kind": 1, "type": 2, "id": 3, "address": 4, "region": 5, "first_seen": 6}[key]
    values = [view.row(i)[column] for i in range(len(view))]
    if key == "severity":
        assert values == sorted(values, key=SEVERITY_RANK.__getitem__)
    elif key == "kind":
        assert values == sorted(values, key=["changed", "missing", "unmanaged"].index)
    else:
        assert values == sorted(values)
    view.sort(key, reverse=True)
    assert [view.row(i)[column] for i in range(len(view))] == values[::-1]


def test_sort_keeps_the_filter_and_unsort_restores_load_order() -> None:
    view = _view()
    view.set_filter("aws kind:missing,changed")
    view.set_facet("region", {"us-east-1", "us-west-2", "global"})
    before = set(_ids(view))
    view.sort("type")
    assert set(_ids(view)) == before
    assert [view.row(i)[2] for i in range(len(view))] == sorted(view.row(i)[2] for i in range(len(view)))
    view.unsort()
    assert _ids(view) == sorted(before)
    with pytest.raises(ValueError, match="unknown sort key"):
        view.sort("colour")


def test_find_follows_sort_and_filter() -> None:
    view = _view()
    view.sort("severity")
    assert view.item_id(view.find(104)) == 104
    assert view.find(104) == len(view) - 1
    view.set_filter("kind:unmanaged")
    assert view.find(104) is None
    assert view.find(105) == 0


# ------------------------------------------------------------------------------------------------ incremental


def _fresh(text: str, sort: tuple[str, bool] | None, facet: frozenset[str] | None) -> list[int]:
    view = _view()
    if sort:
        view.sort(*sort)
    view.set_facet("kind", facet)
    view.set_filter(text)
    return _ids(view)


FRAGMENTS = ["s", "3", "_", "a", "w", "r", "e", "-", "0", " ", "kind:", "m", "sev:", "c", "type:", "*", "module:",
             "n", "et", "Scr", "polic", "east"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(st.one_of(
    st.tuples(st.just("type"), st.lists(st.sampled_from(FRAGMENTS), max_size=4).map("".join)),
    st.tuples(st.just("erase"), st.integers(min_value=1, max_value=4)),
    st.tuples(st.just("sort"), st.sampled_from(SORT_KEYS), st.booleans()),
    st.tuples(st.just("facet"), st.sampled_from([None, frozenset({"missing"}), frozenset({"changed", "unmanaged"})])),
), max_size=12))
def test_incremental_filtering_equals_a_fresh_filter(steps: list[tuple[Any, ...]]) -> None:
    view = _view()
    text, sort, facet = "", None, None
    for step in steps:
        if step[0] == "type":
            text += step[1]
        elif step[0] == "erase":
            text = text[: -step[1]]
        elif step[0] == "sort":
            sort = (step[1], step[2])
            view.sort(*sort)
        else:
            facet = step[1]
            view.set_facet("kind", facet)
        view.set_filter(text)
        assert _ids(view) == _fresh(text, sort, facet), (text, sort, facet)


def test_typing_on_narrows_the_previous_result() -> None:
    view = _view()
    view.set_filter("s")
    scanned = []
    original = view._match

    def spy(words: tuple[str, ...], rows: list[int]) -> list[int]:
        scanned.append((words, len(rows)))
        return original(words, rows)

    view._match = spy  # type: ignore[method-assign]
    view.set_filter("s3")
    view.set_filter("s3 po")
    assert scanned == [(("s3",), 8), (("po",), 3)]  # "s" matched all 8, "s3" three
    view.set_filter("s3")  # backspace: a recent result, no scan
    assert len(scanned) == 2
    assert _ids(view) == [100, 102, 104]


# ------------------------------------------------------------------------------------------------ database


def _findings() -> list[Finding]:
    out = []
    for n in range(23):
        kind = ("changed", "missing", "unmanaged")[n % 3]
        rtype = ("aws_s3_bucket", "aws_instance", "aws_iam_role", "aws_security_group")[n % 4]
        module = ("", "module.network", 'module.app["prod"]')[n % 3] if kind != "unmanaged" else ""
        out.append(Finding(
            kind=kind, terraform_type=rtype, terraform_id=f"{rtype[4:]}-{n}", match_key=f"{rtype}-{n}",
            provider="aws", address=None if kind == "unmanaged" else f"{module + '.' if module else ''}{rtype}.r{n}",
            module=module, account="123456789012", region="global" if rtype == "aws_iam_role" else "us-east-1",
            name=f"Res-{n}" if n % 5 else None, state=None if kind == "unmanaged" else "/tmp/s.tfstate",
            diffs=[FieldDiff("tags.team", "a", "b", "low")] if kind == "changed" else [],
            severity=("critical", "high", "medium", "low", "info")[n % 5]))
    return out


@pytest.fixture
def saved_report(engine: Any) -> tuple[Any, int, datetime]:
    """A report of 23 items (on SQLite and on PostgreSQL), between two other reports."""
    findings = _findings()
    result = DetectionResult(findings=findings, changed=8, missing=8, unmanaged=7, managed=8)
    earlier = datetime.now(UTC) - timedelta(days=3)
    save_report(engine, DetectionResult(findings=findings[:5]), ReportMeta(environment="prod", engine="native"),
                now=earlier)
    report_id = save_report(engine, result, ReportMeta(environment="prod", engine="native"))
    # nor the reports before and after it
    save_report(engine, DetectionResult(findings=findings[:3]), ReportMeta(environment="dev", engine="native"))
    return engine, report_id, earlier


def test_from_report_equals_the_report_items(saved_report: tuple[Any, int, datetime]) -> None:
    engine, report_id, earlier = saved_report
    items = DriftService(engine=engine).report(report_id)["items"]
    from_db = DriftView.from_report(engine, report_id)
    from_json = DriftView.from_items(items)
    assert from_db.total == len(from_db) == len(items) == 23
    assert from_db.complete
    by_id = {i["id"]: i for i in items}
    for view in (from_db, from_json):
        view.sort("id")
    assert from_db.item_ids() == from_json.item_ids()
    for index in range(len(from_db)):
        assert from_db.row(index) == from_json.row(index)
        item = from_db.item(index)
        assert item == {k: by_id[item["id"]][k] for k in item}
    # the first five were seen three days earlier, and persist
    from_db.set_filter("status:persisting")
    assert len(from_db) == 5
    assert {from_db.row(i)[6] for i in range(5)} == {earlier.strftime("%Y-%m-%d %H:%M")}
    from_db.sort("first_seen")
    from_db.set_filter("")
    assert {from_db.item_id(i) for i in range(5)} == {by_id[i]["id"] for i in by_id if by_id[i]["status"] ==
                                                      "persisting"}
    # diffs are read per item, on demand
    from_db.set_filter("kind:changed")
    detail = from_db.item_detail(0)
    assert detail is not None and detail["diffs"] == by_id[detail["id"]]["diffs"] and detail["diffs"]
    assert from_db.counts() == from_json.counts()


def test_open_report_loads_in_chunks_under_a_filter_and_sort(saved_report: tuple[Any, int, datetime]) -> None:
    engine, report_id, _ = saved_report
    full = DriftView.from_report(engine, report_id)
    view, rest = DriftView.open_report(engine, report_id, first=4, chunk_rows=5)
    assert (view.loaded, view.total, view.complete) == (4, 23, False)
    view.sort("severity")
    view.set_filter("aws kind:changed,missing")
    view.set_facet("region", {"us-east-1"})
    sizes = []
    for chunk in rest:
        sizes.append(len(chunk))
        view.extend(chunk)
    assert sizes == [5, 5, 5, 4]
    assert view.complete and view.loaded == 23
    full.sort("severity")
    full.set_filter("aws kind:changed,missing")
    full.set_facet("region", {"us-east-1"})
    assert view.item_ids() == full.item_ids()
    assert len(view) > 0
    assert view.facet_counts("severity") == full.facet_counts("severity")


def test_a_chunk_from_another_reader_is_refused(saved_report: tuple[Any, int, datetime]) -> None:
    engine, report_id, _ = saved_report
    view, _ = DriftView.open_report(engine, report_id, first=4)
    _, other = DriftView.open_report(engine, report_id, first=4, chunk_rows=4)
    with pytest.raises(ValueError, match="another reader"):
        view.extend(next(other))


def test_an_empty_report(engine: Any) -> None:
    report_id = save_report(engine, DetectionResult(), ReportMeta(environment="prod", engine="native"))
    view = DriftView.from_report(engine, report_id)
    assert (len(view), view.total, view.complete) == (0, 0, True)
    view.set_filter("kind:missing s3")
    view.sort("severity")
    assert view.counts()["total"] == 0
    assert view.facet_counts("kind") == {}
    opened, rest = DriftView.open_report(engine, report_id)
    assert opened.complete and list(rest) == []


def test_values_holding_the_separators(engine: Any) -> None:
    """A module key or a name with the characters the reader joins values with still reads back exactly."""
    module = 'module.x["a\x1fb"]'
    findings = [
        Finding(kind="changed", terraform_type="aws_s3_bucket", terraform_id="b1", match_key="b1", provider="aws",
                address=f"{module}.aws_s3_bucket.b", module=module, region="us-east-1", name="odd\x1ename"),
        Finding(kind="missing", terraform_type="aws_s3_bucket", terraform_id="b2", match_key="b2", provider="aws",
                address="aws_s3_bucket.c", region="us-east-1", name="plain"),
    ]
    report_id = save_report(engine, DetectionResult(findings=findings), ReportMeta(environment="e", engine="native"))
    view = DriftView.from_report(engine, report_id)
    view.sort("id")
    assert [view.item(i)["module"] for i in range(2)] == [module, ""]
    assert view.item(0)["name"] == "odd\x1ename"
    view.set_filter("module:x")
    assert len(view) == 1 and view.item(0)["terraform_id"] == "b1"
    view.set_filter("plain")
    assert [view.item(i)["terraform_id"] for i in range(len(view))] == ["b2"]
