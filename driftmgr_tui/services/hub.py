"""One place the TUI gets its services from: the settings, the database engine and a service per domain,
created on first use and shared (the CLI makes its own, per command). The environment the user is looking at
lives here too, so every screen agrees on it."""

from __future__ import annotations

import contextlib
from functools import cached_property
from typing import Any

from driftmgr_tui.core.settings import Settings, load_settings
from driftmgr_tui.services.environments import DEFAULT_ENVIRONMENT


class ServiceHub:
    def __init__(self, settings: Settings | None = None, *, environment: str | None = None,
                 read_only: bool = False) -> None:
        self._settings = settings
        self.environment = environment or DEFAULT_ENVIRONMENT
        self.read_only = read_only

    @cached_property
    def settings(self) -> Settings:
        return self._settings or load_settings()

    @cached_property
    def config(self) -> Any:
        from driftmgr_tui.services.config_service import ConfigService

        return ConfigService(self.settings)

    def reload_settings(self) -> Settings:
        """Read the config file again (the config editor saved it): every service is made again on next use
        with the new settings; the database engine and the event bus stay (a new database needs a restart).
        ConfigError, and nothing changed, when the file is invalid."""
        fresh = load_settings()
        keep = ("engine", "bus")
        for name, member in type(self).__dict__.items():
            if isinstance(member, cached_property) and name not in keep:
                self.__dict__.pop(name, None)
        self._settings = fresh
        return fresh

    @cached_property
    def engine(self) -> Any:
        from driftmgr_tui.core.db import open_database

        return open_database(self.settings)

    @cached_property
    def state(self) -> Any:
        from driftmgr_tui.services.state_service import StateService

        return StateService(self.settings)

    @cached_property
    def bus(self) -> Any:
        """The one event bus of the hub's services: the sections and the alert watcher listen here (and poll
        what other processes persisted)."""
        from driftmgr_tui.core.events import EventBus

        return EventBus(self.engine)

    @cached_property
    def drift(self) -> Any:
        from driftmgr_tui.services.drift_service import DriftService

        return DriftService(self.settings, self.engine, self.state, bus=self.bus)

    @cached_property
    def alerts(self) -> Any:
        from driftmgr_tui.services.alert_service import AlertService

        return AlertService(self.settings, self.engine, self.bus)

    @cached_property
    def remediation(self) -> Any:
        from driftmgr_tui.services.remediation_service import RemediationService

        return RemediationService(settings=self.settings, engine=self.engine, state_service=self.state,
                                  bus=self.bus)

    @cached_property
    def discovery(self) -> Any:
        from driftmgr_tui.services.discovery_service import DiscoveryService

        return DiscoveryService(settings=self.settings, engine=self.engine, bus=self.bus)

    @cached_property
    def metrics(self) -> Any:
        from driftmgr_tui.services.metrics_service import MetricsService

        return MetricsService(self.settings, self.engine)

    # -- environments ------------------------------------------------------------------------------------
    def environments(self) -> list[str]:
        """Configured environments, plus every environment that has drift reports, plus the current one."""
        names = set(self.settings.environments) | {self.environment}
        with contextlib.suppress(Exception):  # a broken database must not hide the configured names
            names |= {r["environment"] for r in self.drift.list_reports(limit=200)}
        return sorted(names)

    def spec(self) -> Any:
        """The current environment's specification (UsageError when it names no states); no database needed."""
        from driftmgr_tui.services.environments import resolve_environment

        return resolve_environment(self.settings, self.environment)

    def latest_report_id(self) -> int | None:
        import sqlalchemy as sa

        from driftmgr_tui.core.models import DriftReport

        t = DriftReport.__table__
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.max(t.c.id)).where(t.c.environment == self.environment)).scalar()
