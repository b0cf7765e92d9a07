"""The app's alert watcher: every alert announced in the UI, wherever it fired.

Two sources, one handler:

- in-process: a subscription to the hub's event bus, on which the TUI's own scans (``DriftService.detect``)
  and the alert screen's acknowledge/resolve publish; announced at once;
- other processes (``driftmgr watch``, ``driftmgr scan``, another TUI): the persisted event log, polled on a
  timer by one thread worker at a time, from the newest event present when the watch started (alerts that
  fired before the app opened are not announced again; the alert list shows them).

An event reaches the handler once even when both sources deliver it (by its id). A fired alert is a
notification (error for critical and high, warning otherwise; the worse, the longer it stays) and the
terminal bell when its rule asks for it; a resolved alert a quiet notification. The open-alert count is kept
on the app (its sub-title shows it), and :attr:`AlertWatch.changed` tells the alert screen to reload.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from textual.signal import Signal
from textual.worker import Worker

from driftmgr_tui.alerts.view import toast_for

log = logging.getLogger(__name__)

POLL_INTERVAL = 2.0  # seconds between two reads of the persisted event log
POLL_LIMIT = 500
OPEN_LIMIT = 100_000
SEEN_KEPT = 2000


class AlertWatch:
    def __init__(self, app: Any, *, interval: float = POLL_INTERVAL) -> None:
        self.app = app
        self.interval = interval
        self.changed: Signal[int] = Signal(app, "alerts-changed")  # published with the open count
        self.open_count = 0
        self.announced = 0  # events handled
        self.reads = 0  # reads of the event log that succeeded
        self._last_id: int | None = None  # newest persisted event read; written by the poll worker only
        self._seen: set[int] = set()  # ids of events handled; UI thread only
        self._unsubscribe: Any = None
        self._timer: Any = None
        self._worker: Worker[None] | None = None
        self._again = False
        self._failing = False

    # -- lifecycle (UI thread) ------------------------------------------------------------------------------
    def start(self) -> None:
        """Subscribe, note where the event log ends, count the open alerts, then poll every ``interval``."""
        self._timer = self.app.set_interval(self.interval, self.poll, name="alert watch")
        self.poll()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def poll(self) -> None:
        """Read the event log now; when a read is under way, that worker reads once more when it is done."""
        if self._worker is not None and not self._worker.is_finished:
            self._again = True
            return
        self._worker = self.app.run_worker(self._poll, thread=True, exclusive=True, group="alert-watch",
                                           name="watching alerts", exit_on_error=False)

    # -- the poll worker ------------------------------------------------------------------------------------
    def _poll(self) -> None:
        while True:
            self._again = False
            self._read()
            if not self._again:
                return

    def _read(self) -> None:
        hub = self.app.hub
        try:
            bus = hub.bus
            if self._unsubscribe is None:  # before the baseline: nothing published in between is missed
                self._unsubscribe = bus.subscribe(self._on_event, prefix="alert.")
            if self._last_id is None:
                newest = bus.recent(limit=1)
                self._last_id = (newest[-1].id or 0) if newest else 0
                events = []
            else:
                events = bus.recent(prefix="alert.", after_id=self._last_id, limit=POLL_LIMIT)
                if events:
                    self._last_id = events[-1].id or self._last_id
            count = len(hub.alerts.list_alerts(status="open", limit=OPEN_LIMIT))
        except Exception as exc:  # a database that cannot be read now may be readable at the next tick
            log.warning("alert watch: %s", exc)
            self._call(self._failed, exc)
            return
        self._call(self._polled, events, count)

    def _call(self, callback: Any, *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the app is closing
            self.app.call_from_thread(callback, *args)

    # -- UI thread ------------------------------------------------------------------------------------------
    def _on_event(self, record: Any) -> None:
        """A subscriber: runs on the publishing thread (a worker, or this one); hands over, never blocks."""
        self.app.call_later(self._arrived, record)

    def _arrived(self, record: Any) -> None:
        if self._handle(record) and record.type != "alert.test":
            self.changed.publish(self.open_count)
            self.poll()  # recount (and read what else arrived meanwhile)

    def _polled(self, events: list[Any], count: int) -> None:
        self._failing = False
        self.reads += 1
        for record in events:
            self._handle(record)
        if count != self.open_count or events:
            self.open_count = count
            self.app.open_alerts = count
            self.changed.publish(count)

    def _handle(self, record: Any) -> bool:
        """Announce an event once; False when it was seen already."""
        if record.id is not None:
            if record.id in self._seen:
                return False
            self._seen.add(record.id)
            if len(self._seen) > SEEN_KEPT:
                self._seen = set(sorted(self._seen)[SEEN_KEPT // 2:])
        self.announced += 1
        toast = toast_for(record.type, record.payload)
        if toast is None:
            return True
        self.app.notify(toast.message, title=toast.title, severity=toast.severity, timeout=toast.timeout,
                        markup=False)
        if toast.bell:
            self.app.bell()
        return True

    def _failed(self, error: Exception) -> None:
        if self._failing:
            return  # said once; said again only after it worked in between
        self._failing = True
        self.app.notify(f"cannot read the alert events: {error}", title="Alert watch", severity="warning",
                        markup=False)
