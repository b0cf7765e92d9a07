"""Command palette providers (ctrl+p): environments, drift items of the latest report, resources of the
environment's states, and discovery runs. Data is loaded once per palette opening, off the UI thread."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from driftmgr_tui.core.text import plural


def _hub(provider: Provider) -> Any:
    return getattr(provider.app, "hub", None)


class EnvironmentProvider(Provider):
    async def startup(self) -> None:
        hub = _hub(self)
        self.names = await asyncio.to_thread(hub.environments) if hub else []

    async def discover(self) -> Hits:
        for name in self.names:
            yield DiscoveryHit(f"environment {name}", partial(self.app.switch_environment, name),
                               help="show this environment in every section")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name in self.names:
            text = f"environment {name}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(self.app.switch_environment, name),
                          help="switch every section to this environment")


def _drift_items(hub: Any) -> list[tuple[int, str]]:
    import sqlalchemy as sa

    from driftmgr_tui.core.models import DriftItem

    report_id = hub.latest_report_id()
    if report_id is None:
        return []
    t = DriftItem.__table__
    query = sa.select(t.c.id, t.c.kind, t.c.severity, t.c.terraform_type, t.c.terraform_id, t.c.address) \
        .where(t.c.report_id == report_id).limit(20_000)
    with hub.engine.connect() as conn:
        return [(r.id, f"{r.kind} {r.severity} {r.address or r.terraform_type + '.' + r.terraform_id}")
                for r in conn.execute(query)]


class DriftItemProvider(Provider):
    async def startup(self) -> None:
        hub = _hub(self)
        try:
            self.items = await asyncio.to_thread(_drift_items, hub) if hub else []
        except Exception:  # no database yet: nothing to offer
            self.items = []

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for item_id, text in self.items:
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(self.app.open_drift_item, item_id),
                          help="open this drift item")


def _addresses(hub: Any) -> list[tuple[str, str]]:
    from driftmgr_tui.services.environments import load_states

    loaded = load_states(hub.state, hub.spec())
    return [(location, ref.address) for location, state in loaded.states for ref in state.instances()]


class ResourceProvider(Provider):
    async def startup(self) -> None:
        hub = _hub(self)
        try:
            self.addresses = await asyncio.to_thread(_addresses, hub) if hub else []
        except Exception:  # an environment without readable states: nothing to offer
            self.addresses = []

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for location, address in self.addresses:
            score = matcher.match(address)
            if score > 0:
                yield Hit(score, matcher.highlight(address), partial(self.app.open_state_address, location, address),
                          help=f"in {location}")


class RunProvider(Provider):
    async def startup(self) -> None:
        hub = _hub(self)
        try:
            self.runs = await asyncio.to_thread(hub.discovery.list_runs, limit=200) if hub else []
        except Exception:  # no database yet: nothing to offer
            self.runs = []

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for run in self.runs:
            text = f"run {run.id} {run.provider} {run.status} {run.account or ''}".strip()
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(self.app.open_discovery_run, run.id),
                          help=f"{plural(run.resource_count, 'resource')}, {plural(len(run.regions), 'region')}")


PALETTE_PROVIDERS = (EnvironmentProvider, DriftItemProvider, ResourceProvider, RunProvider)
