"""The event bus: in-process fan-out to subscribers, plus a persisted log other processes can poll.

Events are small facts with a dotted type (``job.started``, ``discovery.region.failed``) and a JSON object
payload. :meth:`EventBus.publish` hands each event to the subscribers of this process at once and, unless
``persist=False``, appends it to the ``event`` table, where a TUI running in another process reads it with
:meth:`EventBus.recent`.

Contract:

- ``publish`` is thread-safe and never fails because of a subscriber (one that raises is logged and skipped)
  or because the database refused the row (logged; the returned record then has ``id=None``). The work that
  emits an event must not die for its bookkeeping.
- A payload that is not JSON-serialisable is a programming error and raises ``TypeError`` at once.
  Subscribers receive the payload as it reads back from JSON (datetimes become ISO-8601 strings), so an
  in-process subscriber and a reader of :meth:`recent` see the same data.
- Subscribers run on the publishing thread: they must be quick and must not block. A UI hands events on to
  its own thread (Textual: ``call_from_thread``).
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Engine, delete, func
from sqlmodel import col, select

from driftmgr_tui.core.db import session_scope
from driftmgr_tui.core.models import Event, utcnow

log = logging.getLogger(__name__)

_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z


def encode_json(value: Any) -> str:
    """``value`` as compact JSON text (orjson: datetimes, dataclasses, UUIDs allowed). TypeError otherwise."""
    try:
        return orjson.dumps(value, option=_JSON_OPTIONS).decode()
    except orjson.JSONEncodeError as e:
        raise TypeError(f"not JSON-serialisable: {e}") from None


def decode_json(text: str | None) -> Any:
    """The value of JSON ``text`` (None stays None)."""
    return None if text is None else orjson.loads(text)


@dataclass(frozen=True)
class EventRecord:
    """One event as subscribers and :meth:`EventBus.recent` see it. ``id`` is None when not persisted."""

    id: int | None
    type: str
    time: datetime
    job_id: int | None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Subscription:
    key: int
    prefix: str
    callback: Callable[[EventRecord], None]


class EventBus:
    """Publish/subscribe within a process, with an optional persisted log (``engine`` None: nothing stored)."""

    def __init__(self, engine: Engine | None) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._keys = itertools.count()
        # Replaced (never mutated) under the lock, so publish iterates a snapshot without holding it.
        self._subscriptions: tuple[_Subscription, ...] = ()

    def subscribe(self, callback: Callable[[EventRecord], None], *, prefix: str = "") -> Callable[[], None]:
        """Call ``callback`` for every event whose type starts with ``prefix`` ("" = all; "job." matches
        "job.started"). Returns a function that unsubscribes (calling it twice is harmless)."""
        subscription = _Subscription(next(self._keys), prefix, callback)
        with self._lock:
            self._subscriptions = (*self._subscriptions, subscription)

        def unsubscribe() -> None:
            with self._lock:
                self._subscriptions = tuple(s for s in self._subscriptions if s.key != subscription.key)

        return unsubscribe

    def publish(
        self,
        type: str,
        payload: dict[str, Any] | None = None,
        *,
        job_id: int | None = None,
        persist: bool = True,
    ) -> EventRecord:
        """Deliver an event to the matching subscribers and (``persist`` and an engine) store it.

        The row is committed before subscribers are called, so a subscriber that queries :meth:`recent` finds
        the event it was handed.
        """
        if not type:
            raise ValueError("an event needs a type, e.g. 'job.started'")
        if payload is not None and not isinstance(payload, dict):
            raise TypeError(f"an event payload is a dict, got {payload.__class__.__name__}")
        text = encode_json(payload or {})
        now = utcnow()
        event_id: int | None = None
        if persist and self.engine is not None:
            event_id = self._store(Event(type=type, time=now, job_id=job_id, payload=text))
        record = EventRecord(id=event_id, type=type, time=now, job_id=job_id, payload=orjson.loads(text))
        for subscription in self._subscriptions:
            if not type.startswith(subscription.prefix):
                continue
            try:
                subscription.callback(record)
            except Exception:
                log.exception("event subscriber %r failed on %s", subscription.callback, type)
        return record

    def _store(self, row: Event) -> int | None:
        assert self.engine is not None
        try:
            with session_scope(self.engine) as session:
                session.add(row)
                session.flush()
                return row.id
        except Exception:
            log.warning("could not persist event %s (job %s)", row.type, row.job_id, exc_info=True)
            return None

    def recent(
        self,
        *,
        limit: int = 100,
        prefix: str = "",
        after_id: int | None = None,
        job_id: int | None = None,
    ) -> list[EventRecord]:
        """Persisted events, oldest first (newest last), read from the database.

        Without ``after_id``: the newest ``limit`` matching events. With it: the first ``limit`` events after
        that id, so a poller that passes the last id it saw pages forward without gaps in what is committed.
        (On PostgreSQL an id is taken at insert and committed a moment later, so an event from a concurrent
        transaction can rarely land behind an id already seen; events are for display, not accounting.)
        An in-process bus (no engine) has nothing stored and returns [].
        """
        if self.engine is None or limit <= 0:
            return []
        query = select(Event)
        if prefix:
            # substr, not LIKE: LIKE is case-insensitive on SQLite and treats _ and % as wildcards.
            query = query.where(func.substr(col(Event.type), 1, len(prefix)) == prefix)
        if job_id is not None:
            query = query.where(Event.job_id == job_id)
        if after_id is not None:
            query = query.where(col(Event.id) > after_id).order_by(col(Event.id)).limit(limit)
        else:
            query = query.order_by(col(Event.id).desc()).limit(limit)
        with session_scope(self.engine) as session:
            rows = list(session.exec(query).all())
        if after_id is None:
            rows.reverse()
        return [
            EventRecord(
                id=r.id, type=r.type, time=r.time, job_id=r.job_id, payload=decode_json(r.payload) or {}
            )
            for r in rows
        ]

    def prune(self, *, before: datetime) -> int:
        """Delete persisted events older than ``before``; returns how many. The log otherwise only grows."""
        if self.engine is None:
            return 0
        with session_scope(self.engine) as session:
            result = session.connection().execute(delete(Event).where(col(Event.time) < before))
            return int(result.rowcount or 0)
