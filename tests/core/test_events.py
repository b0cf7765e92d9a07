"""EventBus: in-process delivery, prefix filters, the persisted log read back by another bus instance."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from driftmgr_tui.core import db
from driftmgr_tui.core.events import EventBus, EventRecord


def test_subscribe_prefix_and_unsubscribe() -> None:
    bus = EventBus(None)
    everything: list[str] = []
    jobs: list[str] = []
    stop_all = bus.subscribe(lambda e: everything.append(e.type))
    bus.subscribe(lambda e: jobs.append(e.type), prefix="job.")

    bus.publish("job.started")
    bus.publish("jobs.other")  # "job." is a prefix of the type string, not a glob
    bus.publish("discovery.region.failed", {"region": "eu-west-1"})
    stop_all()
    stop_all()  # harmless twice
    bus.publish("job.succeeded")

    assert everything == ["job.started", "jobs.other", "discovery.region.failed"]
    assert jobs == ["job.started", "job.succeeded"]


def test_in_process_bus_persists_nothing() -> None:
    bus = EventBus(None)
    record = bus.publish("job.started", {"n": 1})
    assert record.id is None
    assert record.payload == {"n": 1}
    assert bus.recent() == []


def test_a_raising_subscriber_does_not_break_publish_or_others(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus(None)
    seen: list[EventRecord] = []

    def broken(_event: EventRecord) -> None:
        raise RuntimeError("subscriber bug")

    bus.subscribe(broken)
    bus.subscribe(seen.append)
    with caplog.at_level(logging.ERROR, logger="driftmgr_tui.core.events"):
        record = bus.publish("job.failed", {"error": "x"})
    assert seen == [record]
    assert "subscriber bug" in caplog.text


def test_payload_must_be_json_and_is_delivered_as_json() -> None:
    bus = EventBus(None)
    seen: list[EventRecord] = []
    bus.subscribe(seen.append)
    when = datetime(2026, 11, 22, 3, 4, 5, tzinfo=UTC)
    bus.publish("scan.done", {"at": when, "count": 3})
    assert seen[0].payload == {"at": "2026-11-22T03:04:05Z", "count": 3}
    with pytest.raises(TypeError, match="JSON"):
        bus.publish("scan.done", {"bad": object()})
    with pytest.raises(ValueError, match="type"):
        bus.publish("")


def test_persisted_events_are_read_by_another_bus(engine: sa.Engine) -> None:
    writer = EventBus(engine)
    first = writer.publish("job.started", {"kind": "discovery"}, job_id=7)
    writer.publish("job.progress", {"percent": 50}, job_id=7, persist=False)
    writer.publish("discovery.region.failed", {"region": "us-east-1", "error": "throttled"}, job_id=7)
    writer.publish("job.succeeded", {"kind": "discovery"}, job_id=7)
    writer.publish("job.started", {"kind": "drift"}, job_id=8)
    assert first.id is not None

    reader = EventBus(db.engine_for_url(engine.url.render_as_string(hide_password=False)))
    everything = reader.recent()
    assert [e.type for e in everything] == [
        "job.started",
        "discovery.region.failed",
        "job.succeeded",
        "job.started",
    ]  # oldest first; the progress event was not stored
    assert [e.id for e in everything] == sorted(e.id for e in everything if e.id is not None)
    assert everything[1].payload == {"region": "us-east-1", "error": "throttled"}
    assert everything[1].job_id == 7
    assert everything[0].time.tzinfo is UTC

    assert [e.type for e in reader.recent(prefix="job.")] == ["job.started", "job.succeeded", "job.started"]
    assert [e.type for e in reader.recent(job_id=8)] == ["job.started"]
    assert [e.type for e in reader.recent(limit=2)] == ["job.succeeded", "job.started"]  # newest two
    after = reader.recent(after_id=first.id, limit=2)  # paging forward from an id
    assert [e.type for e in after] == ["discovery.region.failed", "job.succeeded"]
    assert reader.recent(after_id=everything[-1].id) == []


def test_prefix_match_is_exact_and_case_sensitive(engine: sa.Engine) -> None:
    bus = EventBus(engine)
    for type_ in ("job_x.started", "JOB.started", "job.started", "job%.started"):
        bus.publish(type_)
    assert [e.type for e in bus.recent(prefix="job.")] == ["job.started"]
    assert [e.type for e in bus.recent(prefix="job%")] == ["job%.started"]


def test_subscribers_see_a_committed_row(engine: sa.Engine) -> None:
    bus = EventBus(engine)
    found: list[list[EventRecord]] = []
    bus.subscribe(lambda e: found.append(EventBus(engine).recent(after_id=e.id - 1 if e.id else None)))
    record = bus.publish("job.queued", {"kind": "x"}, job_id=1)
    assert found == [[record]]


def test_a_failed_write_is_logged_and_delivery_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No event table (never migrated): persisting fails, the publisher and subscribers carry on."""
    url = f"sqlite:///{tmp_path / 'unmigrated.db'}"
    try:
        bus = EventBus(db.engine_for_url(url))
        seen: list[EventRecord] = []
        bus.subscribe(seen.append)
        with caplog.at_level(logging.WARNING, logger="driftmgr_tui.core.events"):
            record = bus.publish("job.started", {"kind": "x"}, job_id=3)
        assert record.id is None
        assert seen == [record]
        assert "could not persist event job.started" in caplog.text
    finally:
        db.dispose_engine(url)


def test_publish_from_many_threads(engine: sa.Engine) -> None:
    bus = EventBus(engine)
    received: list[int] = []
    lock = threading.Lock()

    def count(event: EventRecord) -> None:
        with lock:
            received.append(event.payload["n"])

    bus.subscribe(count, prefix="load.")
    barrier = threading.Barrier(4)

    def publish(base: int) -> None:
        barrier.wait(timeout=10)
        for i in range(25):
            bus.publish("load.tick", {"n": base + i})

    threads = [threading.Thread(target=publish, args=(k * 100,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = sorted(k * 100 + i for k in range(4) for i in range(25))
    assert sorted(received) == expected
    stored = bus.recent(prefix="load.", limit=1000)
    assert sorted(e.payload["n"] for e in stored) == expected
    assert len({e.id for e in stored}) == 100


def test_prune_removes_old_events(engine: sa.Engine) -> None:
    bus = EventBus(engine)
    bus.publish("old.one")
    bus.publish("old.two")
    assert bus.prune(before=datetime.now(UTC) - timedelta(hours=1)) == 0
    assert bus.prune(before=datetime.now(UTC) + timedelta(seconds=1)) == 2
    assert bus.recent() == []
