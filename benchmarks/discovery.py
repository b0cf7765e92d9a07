"""AWS discovery speed: ``python -m benchmarks discovery [--scale N] [--latency S] [--json]``.

A moto server (its own, on a free loopback port) is seeded with about 2,000 resources over 20 types in 3
regions (``tests/_fixtures/estate.py``, ``--scale 4``). Both contestants then list the same account through
a loopback proxy that adds ``--latency`` (default 50 ms) to every request, as real AWS APIs answer in tens
to hundreds of milliseconds:

  (a) baseline: a plain sequential boto3 loop over the same catalog (the same list calls with boto3's own
      paginators, the same per-object detail calls, one tagging-API listing per region);
  (b) driftmgr: ``DiscoveryService.run`` — the job, the scanner with bounded concurrency, id mapping,
      and every resource written to the database.

The proxy runs in a process of its own, so its threads do not compete with the measured code for the GIL.

Both must find the same resources (checked). Target: b at least 3x faster than a (exit status 1 if not).
Reported: wall time, requests made, resources per second, the ratio.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET = 3.0
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")


def _baseline(regions: tuple[str, ...]) -> set[tuple[str, str]]:
    """What a careful script would do: every catalog listing, one request after another."""
    import boto3

    from driftmgr_tui.discovery.aws.adapter import _extract
    from driftmgr_tui.discovery.aws.catalog import AWS_TYPES
    from driftmgr_tui.discovery.registry import lookup, render

    session = boto3.Session()
    account = session.client("sts", region_name=regions[0]).get_caller_identity()["Account"]
    found: set[tuple[str, str]] = set()
    for region in regions:
        tagging = session.client("resourcegroupstaggingapi", region_name=region)
        for page in tagging.get_paginator("get_resources").paginate():
            page.get("ResourceTagMappingList")
    for entry in AWS_TYPES:
        for region in ([regions[0]] if entry.global_service else regions):
            client = session.client(entry.service, region_name=region)
            params = dict(entry.params)
            if entry.region_param:
                params[entry.region_param] = region
            if client.can_paginate(entry.operation):
                pages = client.get_paginator(entry.operation).paginate(**params)
            else:
                pages = [getattr(client, entry.operation)(**params)]
            for page in pages:
                for item in _extract(page, entry.items, entry.item_key):
                    for detail in entry.detail:
                        args = {k: render(v, item) for k, v in detail.params.items()}
                        try:
                            answer = getattr(client, detail.operation)(**args)
                        except Exception:
                            continue
                        value = lookup(answer, detail.result) if detail.result else answer
                        if detail.into:
                            item[detail.into] = value
                    if entry.include is not None and not entry.include(item):
                        continue
                    fields = {**item, "@region": region, "@account": account, "__tags__": {}}
                    found.add((entry.terraform_type, entry.terraform_id(fields)))
    return found


def _requests(proxy_url: str) -> int:
    """Requests the proxy has forwarded so far (it runs in its own process)."""
    import urllib.request

    from tests._fixtures.faultproxy import STATS_PATH

    with urllib.request.urlopen(proxy_url + STATS_PATH, timeout=10) as answer:
        return int(json.load(answer).get("requests", 0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks discovery", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=4, help="estate size: about 510 x SCALE resources (default 4)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to every request (default 0.05)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests._fixtures.estate import seed_estate
    from tests._fixtures.faultproxy import FaultPlan, serve_in_process
    from tests._fixtures.moto import _start, _stop

    work = Path(tempfile.mkdtemp(prefix="driftmgr-bench-"))
    os.environ.update({"DRIFTMGR_DATA_DIR": str(work / "data"), "DRIFTMGR_CONFIG": str(work / "config.toml"),
                       "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": REGIONS[0], "AWS_CONFIG_FILE": str(work / "aws-config"),
                       "AWS_SHARED_CREDENTIALS_FILE": str(work / "aws-credentials")})
    os.environ.pop("DRIFTMGR_DB_URL", None)
    proc, moto_url = _start(work / "moto.log")
    try:
        started = time.perf_counter()
        seeded = seed_estate(moto_url, REGIONS, scale=args.scale)
        seed_time = time.perf_counter() - started
        print(f"seeded {len(seeded)} resources in {seed_time:.1f}s", file=sys.stderr)

        from driftmgr_tui.discovery.model import Scope
        from driftmgr_tui.services.discovery_service import DiscoveryService

        results: dict[str, Any] = {}
        parent, child = multiprocessing.Pipe()
        proxy = multiprocessing.get_context("fork").Process(
            target=serve_in_process, args=(moto_url, FaultPlan(latency=args.latency), child), daemon=True)
        proxy.start()
        try:
            proxy_url = parent.recv()
            os.environ["AWS_ENDPOINT_URL"] = proxy_url
            service = DiscoveryService()
            for name in ("baseline", "driftmgr"):
                before = _requests(proxy_url)
                t0 = time.perf_counter()
                if name == "baseline":
                    found = _baseline(REGIONS)
                else:
                    run = service.run(Scope(provider="aws", regions=REGIONS))
                    if run.status != "complete":
                        print(f"driftmgr run {run.id} is {run.status}: {run.error}", file=sys.stderr)
                        return 1
                    found = {(r.terraform_type, r.terraform_id) for r in service.resources(run.id)}
                elapsed = time.perf_counter() - t0
                results[name] = {"seconds": round(elapsed, 3), "requests": _requests(proxy_url) - before,
                                 "resources": len(found), "per_second": round(len(found) / elapsed, 1),
                                 "found": found}
        finally:
            proxy.kill()
        base, ours = results["baseline"], results["driftmgr"]
        if {p for p in base["found"] if p[0] != "aws_sqs_queue"} != {p for p in ours["found"] if p[0] != "aws_sqs_queue"}:
            print("the two listings disagree", file=sys.stderr)
            return 1
        ratio = base["seconds"] / ours["seconds"]
        report = {
            "benchmark": "discovery", "python": platform.python_version(), "cpus": os.cpu_count(),
            "latency_ms": round(args.latency * 1000), "seeded": len(seeded), "regions": list(REGIONS),
            "baseline": {k: v for k, v in base.items() if k != "found"},
            "driftmgr": {k: v for k, v in ours.items() if k != "found"},
            "speedup": round(ratio, 2), "target": TARGET, "met": ratio >= TARGET,
        }
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            print(f"estate: {len(seeded)} seeded resources ({ours['resources']} incl. AWS defaults), "
                  f"3 regions, +{report['latency_ms']} ms per request")
            for name, label in (("baseline", "sequential boto3 loop"), ("driftmgr", "driftmgr discover")):
                r = report[name]
                print(f"  {label:<22} {r['seconds']:7.2f} s  {r['requests']:5d} requests  "
                      f"{r['per_second']:7.1f} resources/s")
            print(f"  speedup {ratio:.1f}x (target >= {TARGET:.0f}x): {'met' if report['met'] else 'MISSED'}")
        return 0 if report["met"] else 1
    finally:
        _stop(proc)


if __name__ == "__main__":
    sys.exit(main())
