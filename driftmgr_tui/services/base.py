"""What every service shares: settings, the database engine and the event bus, each made on first use from
what the caller passed (a front end shares its own; a bare service loads the configured ones)."""

from __future__ import annotations

from typing import Any

from driftmgr_tui.core.settings import Settings, load_settings


class ServiceBase:
    _settings: Settings | None = None
    _engine: Any = None
    _bus: Any = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    @property
    def engine(self) -> Any:
        if self._engine is None:
            from driftmgr_tui.core.db import open_database

            self._engine = open_database(self.settings)
        return self._engine

    @property
    def bus(self) -> Any:
        if self._bus is None:
            from driftmgr_tui.core.events import EventBus

            self._bus = EventBus(self.engine)
        return self._bus
