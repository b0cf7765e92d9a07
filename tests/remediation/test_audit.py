"""The hash-chained audit log: appending, reading, tamper detection, concurrency and the CLI."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy import event

from driftmgr_tui.commands.audit import audit_group
from driftmgr_tui.core import db
from driftmgr_tui.core.errors import DriftmgrError
from driftmgr_tui.core.models import UTCDateTime
from driftmgr_tui.core.redaction import REDACTED
from driftmgr_tui.core.settings import load_settings
from driftmgr_tui.remediation.audit import (
    APPEND_ATTEMPTS,
    GENESIS,
    AuditLog,
    digest,
    entry_hash,
)

ACTIONS = ["plan.create", "action.approve", "state.rm", "state.import", "plan.apply", "plan.rollback"]


@pytest.fixture
def anchor(isolated_dirs: Path) -> Path:
    """The anchor where the CLI looks for it (the isolated data dir)."""
    return load_settings().data_dir / "audit.head"


@pytest.fixture
def log(engine: sa.Engine, anchor: Path) -> AuditLog:
    return AuditLog(engine, anchor=anchor)


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the CLI's settings at the test's database (the data dir is already isolated)."""
    monkeypatch.setenv("DRIFTMGR_DB_URL", db_url)


def _fill(log: AuditLog, count: int) -> list[Any]:
    records = []
    for i in range(count):
        records.append(log.append(
            ACTIONS[i % len(ACTIONS)], actor="oncall@bastion", plan_id=7 if i % 2 else 8, action_id=i,
            target=f"aws_instance.web[{i}]", before_digest=digest(f"before {i}".encode()),
            after_digest=digest(f"after {i}".encode()), result="failed" if i % 3 == 2 else "ok",
            detail={"step": i, "backup_id": 100 + i, "serial": {"before": i, "after": i + 1}},
        ))
    return records


def _sql(engine: sa.Engine, statement: str, **params: Any) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def _kinds(result: Any) -> list[tuple[str, int | None]]:
    return [(p.kind, p.seq) for p in result.problems]


def _verify_cli() -> Any:
    return CliRunner().invoke(audit_group, ["verify"])


# --- hashing and digests ---------------------------------------------------------------------------------


def test_digest_is_stable_across_key_order() -> None:
    one = {"b": 1, "a": {"y": [1, 2, {"k": "v", "j": None}], "x": "é"}}
    other = {"a": {"x": "é", "y": [1, 2, {"j": None, "k": "v"}]}, "b": 1}
    assert digest(one) == digest(other)
    assert digest(one).startswith("sha256:") and len(digest(one)) == len("sha256:") + 64
    assert digest([1, 2]) != digest([2, 1])  # lists keep their order
    assert digest({"a": 1}) != digest({"a": 2})


def test_digest_of_bytes_and_text() -> None:
    assert digest(b"abc") == "sha256:" + hashlib.sha256(b"abc").hexdigest()
    assert digest("abc") == digest(b"abc")
    assert digest(bytearray(b"abc")) == digest(b"abc")
    assert digest(b"") == "sha256:" + hashlib.sha256(b"").hexdigest()
    assert digest(None) is None
    with pytest.raises(TypeError):
        digest(42)  # type: ignore[arg-type]


def _fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "seq": 1, "time": datetime(2026, 11, 22, 9, 30, 0, 123456, tzinfo=UTC), "actor": "a@h",
        "action": "state.rm", "plan_id": None, "action_id": None, "target": "aws_s3_bucket.logs",
        "before_digest": None, "after_digest": None, "result": "ok", "detail": {"b": 1, "a": 2},
    }  # fmt: skip
    fields.update(overrides)
    return fields


def test_entry_hash_covers_every_field_and_is_canonical() -> None:
    base = entry_hash(GENESIS, _fields())
    assert len(base) == 64 and int(base, 16) >= 0
    # the same instant in another zone, the same detail in another key order or as JSON text: same hash
    paris = timezone(timedelta(hours=1))
    assert entry_hash(GENESIS, _fields(time=datetime(2026, 11, 22, 10, 30, 0, 123456, tzinfo=paris))) == base
    assert entry_hash(GENESIS, _fields(detail={"a": 2, "b": 1})) == base
    assert entry_hash(GENESIS, _fields(detail='{"a":2,"b":1}')) == base
    assert entry_hash(GENESIS, {**_fields(), "id": 99, "hash": "x"}) == base  # id and hash are not hashed
    # every hashed field matters, including seq and prev_hash
    assert entry_hash("1" * 64, _fields()) != base
    for name, value in [("seq", 2), ("time", datetime(2026, 11, 22, 9, 30, 0, 123457, tzinfo=UTC)),
                        ("actor", "b@h"), ("action", "state.mv"), ("plan_id", 1), ("action_id", 1),
                        ("target", None), ("before_digest", "sha256:00"), ("after_digest", "sha256:00"),
                        ("result", "failed"), ("detail", {"a": 2, "b": 2})]:
        assert entry_hash(GENESIS, _fields(**{name: value})) != base, name
    with pytest.raises(ValueError):
        entry_hash(GENESIS, _fields(time=datetime(2026, 11, 22, 9, 30)))  # naive
    with pytest.raises(KeyError):
        entry_hash(GENESIS, {k: v for k, v in _fields().items() if k != "result"})


# --- appending and reading -------------------------------------------------------------------------------


def test_append_builds_a_chain_that_verifies(log: AuditLog, anchor: Path) -> None:
    assert log.verify().to_json() == {"entries": 0, "ok": True, "problems": [], "head_hash": None,
                                      "anchor_seq": None}
    appended = _fill(log, 8)
    stored = log.entries()
    assert stored == appended
    assert [r.seq for r in stored] == list(range(1, 9))
    assert stored[0].prev_hash == GENESIS
    for before, after in itertools.pairwise(stored):
        assert after.prev_hash == before.hash
    for r in stored:
        assert r.time.tzinfo is not None
        assert entry_hash(r.prev_hash, dataclasses.asdict(r)) == r.hash
    assert stored[2].detail == {"step": 2, "backup_id": 102, "serial": {"before": 2, "after": 3}}

    result = log.verify()
    assert result.ok and result.problems == []
    assert result.entries == 8 and result.head_hash == stored[-1].hash and result.anchor_seq == 8
    data = json.loads(anchor.read_text())
    assert (data["seq"], data["hash"]) == (8, stored[-1].hash)
    assert anchor.stat().st_mode & 0o077 == 0


def test_append_defaults(log: AuditLog) -> None:
    from driftmgr_tui.core.models import current_actor

    record = log.append("plan.create")
    assert record.actor == current_actor()
    assert (record.result, record.detail, record.plan_id, record.target) == ("ok", {}, None, None)
    with pytest.raises(TypeError):
        log.append("plan.create", detail={"when": object()})
    with pytest.raises(ValueError):
        log.append("")
    assert log.count() == 1


def test_secret_looking_detail_values_never_reach_the_database(log: AuditLog, engine: sa.Engine) -> None:
    record = log.append("state.rm", detail={"password": "hunter2", "nested": {"api_key": "k-123"},
                                            "after": digest(b"state bytes")})
    assert record.detail["password"] == REDACTED and record.detail["nested"]["api_key"] == REDACTED
    with engine.connect() as conn:
        raw = conn.execute(sa.text("SELECT detail FROM audit_entry")).scalar_one()
    assert "hunter2" not in raw and "k-123" not in raw
    assert log.verify().ok


def test_entries_filter_by_plan_limit_and_since(log: AuditLog) -> None:
    _fill(log, 10)
    assert [r.seq for r in log.entries(plan_id=7)] == [2, 4, 6, 8, 10]
    assert [r.seq for r in log.entries(limit=3)] == [8, 9, 10]  # the newest, in seq order
    assert [r.seq for r in log.entries(plan_id=8, limit=2)] == [7, 9]
    assert [r.seq for r in log.entries(since_seq=6)] == [7, 8, 9, 10]
    assert [r.seq for r in log.entries(since_seq=3, limit=2)] == [4, 5]  # paging forward
    assert log.get(4) is not None and log.get(4).action == ACTIONS[3]
    assert log.get(11) is None


def test_the_table_refuses_a_fork(log: AuditLog, engine: sa.Engine) -> None:
    """Two entries can never claim the same seq, whatever writes the row."""
    _fill(log, 3)
    second = log.get(2)
    assert second is not None
    with pytest.raises(sa.exc.IntegrityError):
        _sql(engine, "INSERT INTO audit_entry (seq, time, actor, action, result, detail, prev_hash, hash) "
                     "VALUES (3, :t, 'x@y', 'forged', 'ok', '{}', :prev, :hash)",
             t=datetime.now(UTC).replace(tzinfo=None), prev=second.hash, hash="f" * 64)


# --- tamper detection ------------------------------------------------------------------------------------


@pytest.mark.parametrize("column", ["result", "detail", "actor", "time"])
def test_a_changed_column_is_detected(column: str, log: AuditLog, engine: sa.Engine, cli_env: None) -> None:
    _fill(log, 6)
    original = log.get(3)
    assert original is not None
    if column == "time":
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE audit_entry SET time = :v WHERE seq = 3").bindparams(
                sa.bindparam("v", type_=UTCDateTime())), {"v": original.time + timedelta(microseconds=1)})
    else:
        value = {"result": "ok", "detail": '{"step": 2, "backup_id": 999}', "actor": "intruder@elsewhere"}
        _sql(engine, f"UPDATE audit_entry SET {column} = :v WHERE seq = 3", v=value[column])
    assert getattr(log.get(3), column) != getattr(original, column)

    result = log.verify()
    assert not result.ok
    assert _kinds(result) == [("changed", 3)]
    assert "entry 3" in result.problems[0].message

    run = _verify_cli()
    assert run.exit_code == 1, run.output
    assert "tampered" in run.stdout and "changed" in run.stdout and "entry 3" in run.stdout


def test_a_deleted_middle_entry_is_detected(log: AuditLog, engine: sa.Engine, cli_env: None) -> None:
    _fill(log, 6)
    _sql(engine, "DELETE FROM audit_entry WHERE seq = 4")
    result = log.verify()
    assert _kinds(result) == [("deleted", 4)]
    assert "entry 4 is missing" in result.problems[0].message

    run = _verify_cli()
    assert run.exit_code == 1
    assert "deleted" in run.stdout and "entry 4" in run.stdout

    data = json.loads(CliRunner().invoke(audit_group, ["verify", "--json"]).stdout)
    assert data["ok"] is False and data["entries"] == 5
    assert data["problems"] == [{"seq": 4, "kind": "deleted", "message": result.problems[0].message}]


def test_deleted_entries_are_named(log: AuditLog, engine: sa.Engine) -> None:
    _fill(log, 8)
    _sql(engine, "DELETE FROM audit_entry WHERE seq IN (1, 4, 5)")
    result = log.verify()
    assert _kinds(result) == [("deleted", 1), ("deleted", 4)]
    assert "entries 4..5 are missing" in result.problems[1].message


def test_a_deleted_last_entry_is_caught_by_the_anchor(log: AuditLog, engine: sa.Engine, cli_env: None) -> None:
    _fill(log, 6)
    _sql(engine, "DELETE FROM audit_entry WHERE seq = 6")
    result = log.verify()
    assert _kinds(result) == [("truncated", 6)]
    assert result.anchor_seq == 6

    run = _verify_cli()
    assert run.exit_code == 1
    assert "truncated" in run.stdout and "entry 6" in run.stdout

    # Without the anchor the chain alone cannot tell (the documented limit).
    assert AuditLog(engine).verify().ok


def test_an_emptied_log_is_caught_by_the_anchor(log: AuditLog, engine: sa.Engine) -> None:
    _fill(log, 3)
    _sql(engine, "DELETE FROM audit_entry")
    result = log.verify()
    assert _kinds(result) == [("truncated", 1)]
    assert "entries 1..3 were deleted" in result.problems[0].message


def test_swapped_entries_are_reported_as_reordered(log: AuditLog, engine: sa.Engine, cli_env: None) -> None:
    _fill(log, 6)
    _sql(engine, "UPDATE audit_entry SET seq = 1000 WHERE seq = 3")
    _sql(engine, "UPDATE audit_entry SET seq = 3 WHERE seq = 4")
    _sql(engine, "UPDATE audit_entry SET seq = 4 WHERE seq = 1000")
    result = log.verify()
    assert _kinds(result) == [("reordered", 3), ("reordered", 4)]
    assert result.problems[0].message == "entry 3 was written as entry 4"
    assert result.problems[1].message == "entry 4 was written as entry 3"

    run = _verify_cli()
    assert run.exit_code == 1 and "reordered" in run.stdout


def test_a_rewritten_entry_with_a_recomputed_hash_breaks_the_next_link(log: AuditLog, engine: sa.Engine) -> None:
    _fill(log, 5)
    third = log.get(3)
    assert third is not None
    forged = dataclasses.replace(third, actor="intruder@elsewhere")
    forged_hash = entry_hash(forged.prev_hash, dataclasses.asdict(forged))
    _sql(engine, "UPDATE audit_entry SET actor = :a, hash = :h WHERE seq = 3", a=forged.actor, h=forged_hash)
    assert _kinds(log.verify()) == [("bad-link", 4)]


def test_an_edited_hash_column_is_reported_once(log: AuditLog, engine: sa.Engine) -> None:
    _fill(log, 5)
    _sql(engine, "UPDATE audit_entry SET hash = :h WHERE seq = 2", h="e" * 64)
    assert _kinds(log.verify()) == [("changed", 2)]


def test_a_rewritten_tail_is_caught_by_the_anchor_hash(log: AuditLog, engine: sa.Engine) -> None:
    """Rewriting the newest entry consistently (hash recomputed) leaves a valid chain; the anchor differs."""
    _fill(log, 4)
    last = log.get(4)
    assert last is not None
    forged = dataclasses.replace(last, result="ok", detail={"step": 3})
    forged_hash = entry_hash(forged.prev_hash, dataclasses.asdict(forged))
    _sql(engine, "UPDATE audit_entry SET result = 'ok', detail = :d, hash = :h WHERE seq = 4",
         d='{"step":3}', h=forged_hash)
    result = log.verify()
    assert _kinds(result) == [("changed", 4)]
    assert "audit.head" in result.problems[0].message


def test_rewriting_the_anchor_too_goes_unseen(log: AuditLog, engine: sa.Engine, anchor: Path) -> None:
    """The documented limit: whoever rewrites both the chain and the anchor is not detected."""
    records = _fill(log, 4)
    _sql(engine, "DELETE FROM audit_entry WHERE seq = 4")
    anchor.write_bytes(orjson.dumps({"seq": 3, "hash": records[2].hash,
                                     "database": engine.url.render_as_string(hide_password=True)}))
    assert log.verify().ok


def test_an_anchor_of_another_database_is_not_used(log: AuditLog, anchor: Path) -> None:
    records = _fill(log, 2)
    anchor.write_bytes(orjson.dumps({"seq": 9, "hash": "a" * 64, "database": "sqlite:////elsewhere.db"}))
    result = log.verify()
    assert result.ok and result.anchor_seq is None
    log.append("plan.create")  # the anchor follows the database in use
    assert json.loads(anchor.read_text())["seq"] == 3
    assert log.verify().anchor_seq == 3
    assert records[0].seq == 1


def test_an_unreadable_anchor_is_a_problem(log: AuditLog, anchor: Path) -> None:
    _fill(log, 2)
    anchor.write_text("not json")
    result = log.verify()
    assert [(p.kind, p.seq) for p in result.problems] == [("changed", None)]
    assert "unreadable" in result.problems[0].message
    log.append("plan.create")  # the next append replaces it
    assert log.verify().ok


def test_a_stale_anchor_never_moves_backwards(log: AuditLog, anchor: Path) -> None:
    """An appender finishing late (lower seq) must not pull the anchor back."""
    records = _fill(log, 3)
    data = json.loads(anchor.read_text())
    log._advance_anchor(records[0])
    assert json.loads(anchor.read_text()) == data


# --- concurrency -----------------------------------------------------------------------------------------


def test_concurrent_appenders_never_fork_the_chain(log: AuditLog, anchor: Path) -> None:
    threads, per_thread = 4, 25
    barrier = threading.Barrier(threads)
    failures: list[BaseException] = []

    def appender(n: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                log.append("action.run", actor=f"worker-{n}", action_id=i, detail={"worker": n, "i": i})
        except BaseException as e:  # reported below, on the test's thread
            failures.append(e)

    workers = [threading.Thread(target=appender, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert failures == []

    records = log.entries()
    assert [r.seq for r in records] == list(range(1, threads * per_thread + 1))
    assert len({r.hash for r in records}) == len(records)
    assert sorted((r.actor, r.action_id) for r in records) == sorted(
        (f"worker-{n}", i) for n in range(threads) for i in range(per_thread))
    result = log.verify()
    assert result.ok, result.problems
    assert json.loads(anchor.read_text())["seq"] == threads * per_thread


@contextlib.contextmanager
def _rival(engine: sa.Engine, *, times: int | None) -> Iterator[dict[str, int]]:
    """Another writer that ignores the append lock: before each of our inserts (the first ``times``; None:
    all) it commits a valid entry on the head we just read, so our insert collides with it."""
    counter = {"raced": 0}
    other = sa.create_engine(engine.url)

    def race(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if not statement.startswith("INSERT INTO audit_entry"):
            return
        if times is not None and counter["raced"] >= times:
            return
        counter["raced"] += 1
        with other.connect() as rival:
            head = rival.execute(sa.text("SELECT seq, hash FROM audit_entry ORDER BY seq DESC LIMIT 1")).first()
            seq, prev = (1, GENESIS) if head is None else (head.seq + 1, head.hash)
            fields = _fields(seq=seq, actor="rival@elsewhere", detail={"rival": counter["raced"]})
            insert = sa.text(
                "INSERT INTO audit_entry (seq, time, actor, action, plan_id, action_id, target, before_digest, "
                "after_digest, result, detail, prev_hash, hash) VALUES (:seq, :time, :actor, :action, :plan_id, "
                ":action_id, :target, :before_digest, :after_digest, :result, :detail, :prev_hash, :hash)"
            ).bindparams(sa.bindparam("time", type_=UTCDateTime()))
            rival.execute(insert, {**fields, "detail": orjson.dumps(fields["detail"]).decode(),
                                   "prev_hash": prev, "hash": entry_hash(prev, fields)})
            rival.commit()

    event.listen(engine, "before_cursor_execute", race)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", race)
        other.dispose()


@pytest.fixture
def pg_log(postgres_database_url: str, tmp_path: Path) -> AuditLog:
    engine = db.engine_for_url(postgres_database_url)
    db.migrate(engine)
    return AuditLog(engine, anchor=tmp_path / "audit.head")


@pytest.mark.postgres
def test_a_lost_race_is_retried_on_the_new_head(pg_log: AuditLog) -> None:
    """PostgreSQL: appenders serialise on an advisory lock; a writer that bypasses it still cannot fork the
    chain: the unique seq makes our insert fail and the append is redone on the new head."""
    pg_log.append("plan.create")
    with _rival(pg_log.engine, times=2) as counter:
        record = pg_log.append("plan.apply")
    assert counter["raced"] == 2
    assert record.seq == 4  # 1 ours, 2 and 3 the rival's, then ours on the new head
    assert [r.actor for r in pg_log.entries()][1:3] == ["rival@elsewhere"] * 2
    assert pg_log.get(4) == record
    assert pg_log.verify().ok


@pytest.mark.postgres
def test_an_append_that_keeps_losing_gives_up(pg_log: AuditLog) -> None:
    with _rival(pg_log.engine, times=None) as counter, pytest.raises(DriftmgrError, match="head kept moving"):
        pg_log.append("plan.apply")
    assert counter["raced"] == APPEND_ATTEMPTS
    assert {r.actor for r in pg_log.entries()} == {"rival@elsewhere"}
    assert pg_log.verify().ok


# --- the CLI ---------------------------------------------------------------------------------------------


def test_cli_list_show_and_verify(log: AuditLog, cli_env: None) -> None:
    runner = CliRunner()
    empty = runner.invoke(audit_group, ["list"])
    assert empty.exit_code == 0 and "no audit entries" in empty.stdout
    records = _fill(log, 5)

    listed = runner.invoke(audit_group, ["list"])
    assert listed.exit_code == 0, listed.output
    for word in ("SEQ", "TIME", "ACTOR", "ACTION", "TARGET", "RESULT", "state.rm", "oncall@bastion"):
        assert word in listed.stdout

    data = json.loads(runner.invoke(audit_group, ["list", "--plan", "7", "--json"]).stdout)
    assert [e["seq"] for e in data["entries"]] == [2, 4]
    assert data["entries"][0] == records[1].to_json()
    data = json.loads(runner.invoke(audit_group, ["list", "--limit", "2", "--json"]).stdout)
    assert [e["seq"] for e in data["entries"]] == [4, 5]

    shown = runner.invoke(audit_group, ["show", "3"])
    assert shown.exit_code == 0, shown.output
    assert records[2].hash in shown.stdout and "backup_id: 102" in shown.stdout
    assert json.loads(runner.invoke(audit_group, ["show", "3", "--json"]).stdout) == records[2].to_json()
    missing = runner.invoke(audit_group, ["show", "99"])
    assert missing.exit_code == 2 and "no audit entry 99" in missing.output

    ok = _verify_cli()
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.strip() == f"audit log intact: 5 entries, head {records[-1].hash[:12]}"
    data = json.loads(runner.invoke(audit_group, ["verify", "--json"]).stdout)
    assert data == {"entries": 5, "ok": True, "problems": [], "head_hash": records[-1].hash, "anchor_seq": 5}
