"""Capture the README's and docs' screen images from the demo sandbox: each section of the real app, driven
headless at 120x36, saved as SVG under docs/images/. Run with `make screenshots`.

The metrics image is the metrics panel's 120x40 snapshot test instead: it is seeded with five weeks of
history, where a fresh sandbox has one scan and nothing to plot."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path
from typing import Any

from driftmgr_tui.app import DriftmgrApp
from driftmgr_tui.demo.sandbox import Sandbox
from driftmgr_tui.services.hub import ServiceHub

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
METRICS_SNAPSHOT = ROOT / "tests" / "tui" / "__snapshots__" / "test_metrics_panel" / "test_snapshot_metrics[120x40].svg"
SIZE = (120, 36)


async def settle(pilot: Any) -> None:
    for _ in range(100):
        await pilot.pause()
        pending = [w for w in pilot.app.workers if not w.is_finished]
        if not pending:
            await pilot.pause(0.3)
            return
        await pilot.app.workers.wait_for_complete(pending)


async def capture(sandbox: Sandbox) -> list[Path]:
    hub = ServiceHub(environment=sandbox.environment)
    hub.alerts.add_rule("demo-critical", "severity", environment=sandbox.environment, severity="critical",
                        channels=["app"])
    hub.alerts.evaluate_report(sandbox.report)
    items = [i for i in sandbox.report["items"] if i["kind"] in ("missing", "changed", "unmanaged")][:6]
    hub.remediation.create_plan(hub.spec(), {**sandbox.report, "items": items}, generate_config=False)
    written: list[Path] = []
    app = DriftmgrApp(hub, initial="drift")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for key, name in (("2", "remediation"), ("4", "discovery"), ("5", "config"),
                          ("exclamation_mark", "alerts")):
            await pilot.press(key)
            await settle(pilot)
            path = IMAGES / f"{name}.svg"
            path.write_text(app.export_screenshot(title=f"driftmgr · {name}"))
            written.append(path)
    shutil.copyfile(METRICS_SNAPSHOT, IMAGES / "metrics.svg")
    return [*written, IMAGES / "metrics.svg"]


def main() -> int:
    IMAGES.mkdir(parents=True, exist_ok=True)
    with Sandbox() as sandbox:
        for path in asyncio.run(capture(sandbox)):
            print(path.relative_to(IMAGES.parent.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
