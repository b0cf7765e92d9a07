"""Drift explorer speed: ``python -m benchmarks tui [--items N] [--baseline-items M] [--json]``.

Measured in one process, headless (``App.run_test(size=(120, 40))``: every frame is composed, that is every
visible line rendered, but not encoded for and written to a terminal):

  (a) first frame of the real app (``driftmgr tui`` on an empty data dir), in a fresh interpreter, imports
      included                                                                                 target <= 1 s
      and of a minimal app holding only an ItemTable, for comparison                           (information)
  (b) the explorer on a report of N drift items (default 100,000) in a temporary SQLite database:
      open: ``DriftView.open_report`` (the count and the first rows) + mount the ItemTable + the
            frame that shows it                                                                target <= 0.3 s
      all loaded: the other rows read in a worker thread and added chunk by chunk, until the frame
            after the last chunk (the table is usable meanwhile)                                (information)
      filter keystroke: typing a query into an Input, one key at a time (``set_filter`` +
            ``refresh_rows`` + the frame), then a backspace (a recent result comes back) and the
            first character deleted (a wider filter: every row scanned again); the worst key      target <= 0.1 s
      sort by severity + frame, and ``DriftView.from_report`` (every row read before it
            returns, no UI)                                                                     (information)
  (c) the stock DataTable: ``add_rows`` of the same rows until its frame (M rows, default N; with fewer rows the
      time is extrapolated linearly to N)

The garbage collector stays on, as users get it; the time it takes inside each keystroke is reported beside it.
A full collection costs 0.1-0.2 s on a slow machine once a Textual app and a 100,000-row view are in memory,
and would land in some keystroke every dozen or so: like the drift explorer, the benchmark calls ``gc.freeze()``
once the report is loaded, so later collections leave those objects out (``--no-gc-freeze`` measures without).

Exit status 1 when a target is missed. ``time_first_frame(app_factory)`` measures any app's first frame (in this
process); ``time_first_frame_fresh("module:factory")`` does it in a new interpreter, imports included.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

OPEN_TARGET = 0.3
FIRST_FRAME_TARGET = 1.0  # seconds from launch to the first frame (the issue: about a second)
FILTER_TARGET = 0.1
SIZE = (120, 40)
QUERY = "r12 sev:high"
TIMEOUT = 300.0

TYPES = (
    "aws_security_group", "aws_security_group_rule", "aws_instance", "aws_vpc", "aws_subnet", "aws_route_table",
    "aws_iam_role", "aws_iam_policy", "aws_iam_role_policy_attachment", "aws_s3_bucket", "aws_s3_bucket_policy",
    "aws_lambda_function", "aws_db_instance", "aws_kms_key", "aws_lb", "aws_lb_target_group",
    "aws_route53_record", "aws_cloudwatch_log_group", "aws_sns_topic", "aws_sqs_queue", "aws_ecr_repository",
    "aws_eip", "aws_nat_gateway", "aws_ebs_volume",
)
REGIONS = ("us-east-1", "us-west-2", "eu-west-1")
MODULES = ("", "module.network", "module.app", "module.data", 'module.app["prod"].module.db',
           'module.app["staging"].module.db', "module.edge", "module.observability")
KIND_SEVERITY = {"missing": "high", "unmanaged": "medium", "changed": "low"}
SENSITIVE = ("aws_iam", "aws_security_group", "aws_kms", "aws_s3_bucket_policy")
LEVELS = ("critical", "high", "medium", "low", "info")


# ------------------------------------------------------------------------------------------------ the data


def synthetic_result(count: int, seed: int = 3) -> Any:
    """A DetectionResult of ``count`` findings over 24 AWS types, 3 regions (IAM: global) and 8 modules; the
    severity follows kind and type (IAM, security groups, KMS one level up) with some spread."""
    from driftmgr_tui.drift.model import DetectionResult, FieldDiff, Finding

    rng = random.Random(seed)
    kinds = ("changed", "changed", "missing", "unmanaged")
    findings = []
    for n in range(count):
        rtype = TYPES[rng.randrange(len(TYPES))]
        kind = kinds[rng.randrange(len(kinds))]
        level = LEVELS.index(KIND_SEVERITY[kind])
        if rtype.startswith(SENSITIVE):
            level -= 1
        level = min(max(level + rng.choice((0, 0, 0, 0, -1, 1)), 0), len(LEVELS) - 1)
        module = MODULES[rng.randrange(len(MODULES))] if kind != "unmanaged" else ""
        region = "global" if rtype.startswith("aws_iam") else REGIONS[rng.randrange(len(REGIONS))]
        rid = f"{rtype[4:9].rstrip('_')}-{n:012x}"
        address = None if kind == "unmanaged" else f"{module + '.' if module else ''}{rtype}.r{n}"
        diffs = [FieldDiff(path="tags.team", expected="platform", actual="edited", severity="low")] \
            if kind == "changed" else []
        findings.append(Finding(kind=kind, terraform_type=rtype, terraform_id=rid, match_key=rid, provider="aws",
                                address=address, module=module, account="123456789012", region=region,
                                name=f"res-{n}", state="bench.tfstate" if address else None, diffs=diffs,
                                severity=LEVELS[level]))
    by_kind = {k: sum(1 for f in findings if f.kind == k) for k in ("changed", "missing", "unmanaged")}
    return DetectionResult(findings=findings, managed=by_kind["changed"], changed=by_kind["changed"],
                           missing=by_kind["missing"], unmanaged=by_kind["unmanaged"],
                           cloud_total=by_kind["changed"] + by_kind["unmanaged"])


def write_report(folder: Path, count: int) -> tuple[Any, int]:
    """A SQLite database in ``folder`` with one report of ``count`` items: (engine, report id)."""
    from driftmgr_tui.core.db import open_database
    from driftmgr_tui.core.settings import Settings
    from driftmgr_tui.drift.history import ReportMeta, save_report

    settings = Settings(data_dir=folder, config_path=folder / "none.toml", db_url=f"sqlite:///{folder / 'tui.db'}")
    engine = open_database(settings)
    result = synthetic_result(count)
    report_id = save_report(engine, result, ReportMeta(environment="bench", engine="native"))
    del result
    gc.collect()
    return engine, report_id


# ------------------------------------------------------------------------------------------------ frames


class FrameClock:
    """Times the frames an app composes. ``expect(ready)`` before an action, then ``await waiter.wait()``:
    the time of the first frame after which ``ready()`` holds."""

    class Waiter:
        def __init__(self, ready: Callable[[], bool]) -> None:
            self.ready = ready
            self.time: float | None = None
            self.event = asyncio.Event()

        async def wait(self, timeout: float = TIMEOUT) -> float:
            await asyncio.wait_for(self.event.wait(), timeout)
            assert self.time is not None
            return self.time

    def __init__(self, app: Any) -> None:
        self.frames = 0
        self._waiters: list[FrameClock.Waiter] = []
        display = app._display  # called with each composed frame (headless: not written anywhere)

        def timed_display(screen: Any, renderable: Any) -> None:
            display(screen, renderable)
            if renderable is None:
                return
            now = time.perf_counter()
            self.frames += 1
            for waiter in list(self._waiters):
                if waiter.ready():
                    waiter.time = now
                    waiter.event.set()
                    self._waiters.remove(waiter)

        app._display = timed_display

    def expect(self, ready: Callable[[], bool]) -> FrameClock.Waiter:
        waiter = self.Waiter(ready)
        self._waiters.append(waiter)
        return waiter


def _painting(cls: type) -> type:
    """A subclass of a Line API widget that notes when it last rendered a line."""

    class Painting(cls):  # type: ignore[misc, valid-type]
        painted = 0.0

        def render_line(self, y: int) -> Any:
            strip = super().render_line(y)
            self.painted = time.perf_counter()
            return strip

    Painting.__name__ = cls.__name__
    return Painting


def time_first_frame(app_factory: Callable[[], Any], *, size: tuple[int, int] = SIZE,
                     ready: Callable[[Any], bool] | None = None) -> float:
    """Seconds from calling ``app_factory`` (its imports included when they are not loaded yet) until the app's
    first frame after which ``ready(app)`` holds (default: its first frame)."""

    async def run() -> float:
        start = time.perf_counter()
        app = app_factory()
        clock = FrameClock(app)
        waiter = clock.expect((lambda: ready(app)) if ready is not None else (lambda: True))
        async with app.run_test(size=size):
            return await waiter.wait() - start

    return asyncio.run(run())


def time_first_frame_fresh(factory: str, *, size: tuple[int, int] = SIZE) -> float:
    """``time_first_frame`` in a new interpreter for ``factory`` = ``"package.module:function"``, so every
    import the app needs is part of the figure."""
    code = ("import sys, json; from benchmarks.tui import _first_frame_child; "
            "print(json.dumps(_first_frame_child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))")
    proc = subprocess.run([sys.executable, "-c", code, factory, str(size[0]), str(size[1])],
                          capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1])
    return float(json.loads(proc.stdout.strip().splitlines()[-1]))


def _first_frame_child(factory: str, width: int, height: int) -> float:
    import importlib

    start = time.perf_counter()
    module_name, _, function = factory.partition(":")
    make = getattr(importlib.import_module(module_name), function)
    elapsed_import = time.perf_counter() - start
    return elapsed_import + time_first_frame(make, size=(width, height))


def real_app() -> Any:
    """The real app on an empty data dir (what a first launch shows): the shell, the drift section."""
    from driftmgr_tui.app import DriftmgrApp
    from driftmgr_tui.services.hub import ServiceHub

    return DriftmgrApp(ServiceHub(environment="bench"))


def minimal_app() -> Any:
    """An app holding only an ItemTable over 1,000 items (for the first-frame figure)."""
    from textual.app import App, ComposeResult

    from driftmgr_tui.services.drift_view import DriftView
    from driftmgr_tui.widgets.item_table import ItemTable

    items = [{"id": n, "kind": "changed", "severity": LEVELS[n % 5], "terraform_type": TYPES[n % len(TYPES)],
              "terraform_id": f"id-{n}", "address": f"aws_instance.r{n}", "module": "", "provider": "aws",
              "account": "123456789012", "region": "us-east-1", "name": f"r{n}", "status": "new",
              "first_seen": "2026-01-01T00:00:00+00:00"} for n in range(1000)]
    table_cls = _painting(ItemTable)

    class MinimalApp(App[None]):
        def compose(self) -> ComposeResult:
            yield table_cls(DriftView.from_items(items))

    return MinimalApp()


# ------------------------------------------------------------------------------------------------ (b), (c)


def _key(character: str) -> str:
    from textual.keys import _character_to_key

    return _character_to_key(character)


class GcTimer:
    """The garbage collections made while it is entered: (start, end, generation)."""

    def __init__(self) -> None:
        self.runs: list[tuple[float, float, int]] = []
        self._start = 0.0

    def __enter__(self) -> GcTimer:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.runs.append((self._start, time.perf_counter(), info["generation"]))

    def spent(self, until: float, *, full_only: bool = False) -> float:
        """Seconds collecting before ``until``."""
        return sum(min(end, until) - start for start, end, generation in self.runs
                   if start < until and (generation == 2 or not full_only))


async def _explorer(engine: Any, report_id: int, query: str, *, freeze: bool = False) -> dict[str, Any]:
    from textual.app import App, ComposeResult
    from textual.widgets import Input

    from driftmgr_tui.services.drift_view import DriftView
    from driftmgr_tui.widgets.item_table import ItemTable

    table_cls = _painting(ItemTable)

    class Explorer(App[None]):
        view: Any = None
        table: Any = None
        changed_at = 0.0

        def compose(self) -> ComposeResult:
            yield Input(id="filter")

        def on_input_changed(self, event: Input.Changed) -> None:
            if self.view is not None:
                self.view.set_filter(event.value)
                self.table.refresh_rows()
                self.changed_at = time.perf_counter()

        def add_chunk(self, chunk: Any) -> None:
            self.view.extend(chunk)
            self.table.refresh_rows()
            self.changed_at = time.perf_counter()

    app = Explorer()
    clock = FrameClock(app)
    out: dict[str, Any] = {}
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        # open: the count, the first rows, the table and its frame
        start = time.perf_counter()
        view, rest = DriftView.open_report(engine, report_id)
        table = table_cls(view)
        app.view, app.table = view, table
        shown = clock.expect(lambda: table.painted > 0)
        await app.mount(table)
        out["open_s"] = await shown.wait() - start
        out["first_rows"] = view.loaded
        out["items"] = view.total

        # the rest in a worker thread, chunk by chunk, while the table is on screen
        loaded = clock.expect(lambda: view.complete and table.painted >= app.changed_at)

        def read_rest() -> None:
            for chunk in rest:
                app.call_from_thread(app.add_chunk, chunk)

        worker = threading.Thread(target=read_rest, name="read report")
        worker.start()
        out["loaded_s"] = await loaded.wait() - start
        worker.join()
        assert len(view) == view.total == view.loaded, "not every row arrived"
        out["combos"] = len(view._combos)
        if freeze:  # what an app can do once a report is loaded: later collections skip everything so far
            gc.freeze()

        # typing a filter, one key at a time, then one backspace
        app.query_one(Input).focus()
        await pilot.pause()
        keys: list[dict[str, Any]] = []
        steps = [(_key(c), query[: i + 1]) for i, c in enumerate(query)]
        steps += [("backspace", query[:-1]), ("home", None), ("delete", query[1:-1])]
        for key, text in steps:
            if text is None:  # moves the input's cursor only
                await pilot.press(key)
                continue
            done = clock.expect(lambda text=text: view.filter_text == text and table.painted >= app.changed_at)
            with GcTimer() as collector:
                began = time.perf_counter()
                await pilot.press(key)
                frame = await done.wait()
            keys.append({"key": key, "s": frame - began, "gc_s": collector.spent(frame),
                         "full_gc_s": collector.spent(frame, full_only=True), "rows": len(view)})
        assert view.filter_text == query[1:-1]
        out["keys"] = keys
        out["filter_worst_s"] = max(k["s"] for k in keys)
        out["filter_worst_without_gc_s"] = max(k["s"] - k["gc_s"] for k in keys)

        # sort everything by severity
        cleared = clock.expect(lambda: view.filter_text == "" and table.painted >= app.changed_at)
        app.query_one(Input).value = ""
        await cleared.wait()
        began = time.perf_counter()
        view.sort("severity")
        table.refresh_rows()
        app.changed_at = time.perf_counter()
        sorted_ = clock.expect(lambda: table.painted >= app.changed_at)
        out["sort_s"] = await sorted_.wait() - began
    return out


async def _baseline(rows: list[tuple[str, ...]], titles: list[str]) -> float:
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable, Static

    table_cls = _painting(DataTable)

    class Baseline(App[None]):
        def compose(self) -> ComposeResult:
            yield Static("baseline")

    app = Baseline()
    clock = FrameClock(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        start = time.perf_counter()
        table = table_cls()
        await app.mount(table)
        table.add_columns(*titles)
        table.add_rows(rows)
        added = time.perf_counter()
        shown = clock.expect(lambda: table.painted >= added)
        return await shown.wait() - start


# ------------------------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks tui", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--baseline-items", type=int, default=None,
                        help="rows for the DataTable baseline (default: --items); fewer are extrapolated")
    parser.add_argument("--query", default=QUERY, help=f"the filter typed key by key (default {QUERY!r})")
    parser.add_argument("--no-gc-freeze", dest="gc_freeze", action="store_false",
                        help="leave out the gc.freeze() the drift explorer does once a report is loaded")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    baseline_items = min(args.baseline_items or args.items, args.items)

    def ready(app: Any) -> bool:
        return any(getattr(w, "painted", 0) for w in app.screen.walk_children())

    first_frame = time_first_frame(minimal_app, ready=ready)
    with tempfile.TemporaryDirectory() as home:
        saved = {k: os.environ.get(k) for k in ("DRIFTMGR_DATA_DIR", "DRIFTMGR_CONFIG")}
        os.environ["DRIFTMGR_DATA_DIR"] = str(Path(home) / "data")
        os.environ["DRIFTMGR_CONFIG"] = str(Path(home) / "config.toml")
        try:
            app_first_frame = time_first_frame_fresh("benchmarks.tui:real_app")
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    from driftmgr_tui.services.drift_view import DriftView

    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        engine, report_id = write_report(Path(tmp), args.items)
        setup_s = time.perf_counter() - began
        explorer = asyncio.run(_explorer(engine, report_id, args.query, freeze=args.gc_freeze))
        if args.gc_freeze:
            gc.unfreeze()
        gc.collect()
        began = time.perf_counter()
        full = DriftView.from_report(engine, report_id)
        from_report_s = time.perf_counter() - began
        rows = [full.row(i) for i in range(baseline_items)]
        titles = [title for title, _ in full.columns]
        del full
        engine.dispose()
    gc.collect()
    baseline_s = asyncio.run(_baseline(rows, titles))
    baseline_full_s = baseline_s * args.items / baseline_items

    ok = (explorer["open_s"] <= OPEN_TARGET and explorer["filter_worst_s"] <= FILTER_TARGET
          and app_first_frame <= FIRST_FRAME_TARGET)
    figures = {
        "python": platform.python_version(),
        "items": args.items,
        "combos": explorer["combos"],
        "setup_s": round(setup_s, 1),
        "first_frame_minimal_app_s": round(first_frame, 3),
        "first_frame_driftmgr_s": round(app_first_frame, 3),
        "open_s": round(explorer["open_s"], 3),
        "open_first_rows": explorer["first_rows"],
        "all_loaded_s": round(explorer["loaded_s"], 3),
        "gc_freeze": args.gc_freeze,
        "filter_keys": [{"key": k["key"], "s": round(k["s"], 4), "gc_s": round(k["gc_s"], 4),
                         "full_gc_s": round(k["full_gc_s"], 4), "rows": k["rows"]} for k in explorer["keys"]],
        "filter_worst_s": round(explorer["filter_worst_s"], 4),
        "filter_worst_without_gc_s": round(explorer["filter_worst_without_gc_s"], 4),
        "sort_severity_s": round(explorer["sort_s"], 3),
        "from_report_s": round(from_report_s, 3),
        "baseline_items": baseline_items,
        "baseline_datatable_s": round(baseline_s, 2),
        "baseline_datatable_full_s": round(baseline_full_s, 2),
        "ratio_open": round(baseline_full_s / explorer["open_s"], 1),
        "ratio_all_loaded": round(baseline_full_s / explorer["loaded_s"], 1),
        "targets_met": ok,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0 if ok else 1
    n = args.items
    print(f"drift explorer, {n:,} items ({figures['combos']} field combinations), headless {SIZE[0]}x{SIZE[1]}; "
          f"database written in {setup_s:.1f} s")
    rows_out = [
        ("(a) first frame of `driftmgr tui` (fresh interpreter, imports included)", f"{app_first_frame:.3f} s",
         f"target about {FIRST_FRAME_TARGET} s"),
        ("    first frame, minimal app with an ItemTable", f"{first_frame:.3f} s", ""),
        (f"(b) open: first {figures['open_first_rows']:,} rows + table + frame", f"{explorer['open_s']:.3f} s",
         f"target <= {OPEN_TARGET} s"),
        (f"    all {n:,} rows loaded (worker thread)", f"{explorer['loaded_s']:.3f} s", "since open began"),
        (f"    filter keystroke, worst of {len(explorer['keys'])} ({args.query!r}, then edits)",
         f"{explorer['filter_worst_s']:.4f} s", f"target <= {FILTER_TARGET} s"),
        ("    the same, garbage collection left out", f"{explorer['filter_worst_without_gc_s']:.4f} s",
         "gc.freeze() after loading" if args.gc_freeze else ""),
        ("    sort by severity + frame", f"{explorer['sort_s']:.3f} s", ""),
        ("    DriftView.from_report (all rows, no UI)", f"{from_report_s:.3f} s", ""),
        (f"(c) DataTable add_rows + frame, {baseline_items:,} rows", f"{baseline_s:.2f} s",
         "" if baseline_items == n else f"~{baseline_full_s:.1f} s at {n:,}"),
    ]
    width = max(len(r[0]) for r in rows_out)
    for label, value, note in rows_out:
        print(f"  {label:<{width}}  {value:>9}  {note}")
    keys = ", ".join(f"{k['key']} {k['s'] * 1000:.0f}" + (f" (gc {k['gc_s'] * 1000:.0f})" if k["gc_s"] >= 0.005
                                                          else "") for k in figures["filter_keys"])
    print(f"  keys, ms: {keys}")
    print(f"  DataTable / open: {figures['ratio_open']}x; DataTable / all loaded: {figures['ratio_all_loaded']}x")
    print("targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
