"""State codec speed against plain orjson: ``python -m benchmarks state [--instances N] [--repeat R] [--json]``.

One realistic v4 state (``benchmarks.generate``) is serialized once with Terraform's formatting;
then, in the same process, best-of-R wall times for:

  (a) ``orjson.loads(data)``                         baseline parse
  (b) ``read_state(data)``                           parse + validation + address index
  (c) ``orjson.dumps(obj, option=OPT_INDENT_2)``     baseline write of the loaded object
  (d) ``write_state(state)``                         Terraform-formatted write

Targets: b/a <= 1.5 and d/c <= 2.5 (exit status 1 when one is missed). Memory of (b) and (a) is
measured apart from the timed runs: with tracemalloc (peak and retained) and as the growth of the
peak resident set in a fresh process. The garbage collector stays enabled in the timed runs (that
is what users get); the time it takes is reported.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from benchmarks.generate import generate_state
from driftmgr_tui.state.codec import dumps_terraform, read_state, write_state

PARSE_TARGET = 1.5
WRITE_TARGET = 2.5


class _GcClock:
    """Wall time spent inside the cyclic garbage collector (via gc.callbacks)."""

    def __init__(self) -> None:
        self.total = 0.0
        self.collections = 0
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._start
            self.collections += 1

    def __enter__(self) -> _GcClock:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


def _best_of(
    repeat: int, func: Callable[[], Any], check: Callable[[Any], None] | None = None
) -> dict[str, Any]:
    """Best and all wall times of ``func()`` over ``repeat`` runs, with the GC time of the best run."""
    times: list[float] = []
    gc_times: list[float] = []
    for _ in range(repeat):
        gc.collect()
        with _GcClock() as clock:
            start = time.perf_counter()
            result = func()
            elapsed = time.perf_counter() - start
        if check is not None:
            check(result)
        del result
        times.append(elapsed)
        gc_times.append(clock.total)
    best = min(range(repeat), key=times.__getitem__)
    return {"best": times[best], "gc": gc_times[best], "all": times}


def _traced(func: Callable[[], Any]) -> tuple[int, int]:
    """(peak, retained) bytes allocated (tracemalloc) by ``func()``: the high-water mark while it
    runs, and what its result still holds afterwards."""
    gc.collect()
    tracemalloc.start()
    try:
        result = func()
        retained, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del result
    gc.collect()
    return peak, retained


# VmHWM, not ru_maxrss: a child process inherits its parent's ru_maxrss across fork and exec.
_RSS_PROBE = """
import gc, re, sys
import orjson
from driftmgr_tui.state.codec import read_state
def peak_kb():
    with open("/proc/self/status") as f:
        return int(re.search(r"VmHWM:\\s*(\\d+) kB", f.read()).group(1))
data = open(sys.argv[1], "rb").read()
func = {"read_state": read_state, "orjson_loads": orjson.loads}[sys.argv[2]]
gc.collect()
before = peak_kb()
result = func(data)
print(peak_kb() - before)
"""


def _rss_growth(data: bytes, what: str) -> int | None:
    """Growth of the peak resident set (bytes) while ``what`` parses ``data``, in a fresh process.

    tracemalloc counts what is requested, not what is touched: orjson reserves a worst-case
    buffer for its parser that is mostly never written, so its traced peak overstates memory.
    """
    if not Path("/proc/self/status").exists():
        return None  # Linux only
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.tfstate"
        path.write_bytes(data)
        proc = subprocess.run(
            [sys.executable, "-c", _RSS_PROBE, str(path), what],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        )
    return int(proc.stdout.strip()) * 1024


def _timings(data: bytes, instances: int, repeat: int) -> dict[str, Any]:
    # Sanity: the reader indexes every instance and the writer reproduces the bytes.
    state = read_state(data)
    if state._index is None:
        raise AssertionError("read_state did not build the address index")
    n_indexed = len(state._index) + len(state.deposed_objects)
    if n_indexed != instances:
        raise AssertionError(f"index holds {n_indexed} objects, generated {instances}")
    if write_state(state) != data:
        raise AssertionError("write_state(read_state(data)) is not byte-identical to the input")
    loaded = orjson.loads(data)

    def index_built(result: Any) -> None:
        assert result._index is not None and len(result._index) + len(result._deposed) == instances

    return {
        "orjson_loads": _best_of(repeat, lambda: orjson.loads(data)),
        "read_state": _best_of(repeat, lambda: read_state(data), index_built),
        "orjson_dumps": _best_of(repeat, lambda: orjson.dumps(loaded, option=orjson.OPT_INDENT_2)),
        "write_state": _best_of(repeat, lambda: write_state(state)),
    }


def run(instances: int, repeat: int, seed: int = 0) -> dict[str, Any]:
    started = time.perf_counter()
    doc = generate_state(instances, seed)
    data = dumps_terraform(doc)
    del doc
    generated = time.perf_counter() - started

    results = _timings(data, instances, repeat)
    peak_read, retained_read = _traced(lambda: read_state(data))
    peak_loads, retained_loads = _traced(lambda: orjson.loads(data))
    rss_read = _rss_growth(data, "read_state")
    rss_loads = _rss_growth(data, "orjson_loads")

    parse_ratio = results["read_state"]["best"] / results["orjson_loads"]["best"]
    write_ratio = results["write_state"]["best"] / results["orjson_dumps"]["best"]
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "orjson": orjson.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "instances": instances,
        "seed": seed,
        "repeat": repeat,
        "file_bytes": len(data),
        "generate_seconds": generated,
        "timings": results,
        "parse_ratio": parse_ratio,
        "write_ratio": write_ratio,
        "parse_target": PARSE_TARGET,
        "write_target": WRITE_TARGET,
        "parse_pass": parse_ratio <= PARSE_TARGET,
        "write_pass": write_ratio <= WRITE_TARGET,
        "traced_peak_read_state_bytes": peak_read,
        "traced_peak_orjson_loads_bytes": peak_loads,
        "traced_retained_read_state_bytes": retained_read,
        "traced_retained_orjson_loads_bytes": retained_loads,
        "rss_growth_read_state_bytes": rss_read,
        "rss_growth_orjson_loads_bytes": rss_loads,
    }


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def report(r: dict[str, Any]) -> str:
    t = r["timings"]
    ms = lambda key: f"{t[key]['best'] * 1000:9.1f} ms"  # noqa: E731
    gc_ms = lambda key: f"{t[key]['gc'] * 1000:7.1f} ms"  # noqa: E731
    verdict = lambda ok: "PASS" if ok else "FAIL"  # noqa: E731
    lines = [
        f"state codec benchmark  {r['date']}  Python {r['python']}, orjson {r['orjson']}, {r['machine']}",
        f"{r['instances']:,} instances, {_mb(r['file_bytes'])} of Terraform-formatted JSON, "
        f"best of {r['repeat']} (GC enabled)",
        "",
        f"  {'operation':<40} {'best':>12} {'of which GC':>11}",
        f"  {'(a) orjson.loads(data)':<40} {ms('orjson_loads')} {gc_ms('orjson_loads')}",
        f"  {'(b) read_state(data) incl. index':<40} {ms('read_state')} {gc_ms('read_state')}",
        f"  {'(c) orjson.dumps(obj, OPT_INDENT_2)':<40} {ms('orjson_dumps')} {gc_ms('orjson_dumps')}",
        f"  {'(d) write_state(state)':<40} {ms('write_state')} {gc_ms('write_state')}",
        "",
        f"  parse ratio b/a  {r['parse_ratio']:5.2f}x   target <= {r['parse_target']}x   {verdict(r['parse_pass'])}",
        f"  write ratio d/c  {r['write_ratio']:5.2f}x   target <= {r['write_target']}x   {verdict(r['write_pass'])}",
        "",
        f"  {'memory':<40} {'read_state':>12} {'orjson.loads':>13} {'ratio':>6}",
    ]
    rows = [
        ("peak RSS growth (fresh process)", "rss_growth"),
        ("tracemalloc peak", "traced_peak"),
        ("tracemalloc retained (the result)", "traced_retained"),
    ]
    for label, key in rows:
        ours, theirs = r[f"{key}_read_state_bytes"], r[f"{key}_orjson_loads_bytes"]
        if ours is None or theirs is None:
            continue
        ratio = f"{ours / theirs:5.2f}x" if theirs else "-"
        lines.append(f"  {label:<40} {_mb(ours):>12} {_mb(theirs):>13} {ratio:>6}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks state", description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=50_000, help="instance objects in the state (50000)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement; the best counts (5)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (0)")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    args = parser.parse_args(argv)
    if args.instances < 1 or args.repeat < 1:
        parser.error("--instances and --repeat must be at least 1")
    result = run(args.instances, args.repeat, args.seed)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(report(result))
    return 0 if result["parse_pass"] and result["write_pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
