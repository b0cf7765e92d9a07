"""The append-only, hash-chained audit log of what driftmgr changed (table ``audit_entry``).

Every entry carries ``seq`` (1, 2, 3, ... without gaps), ``prev_hash`` (the previous entry's ``hash``;
:data:`GENESIS` for the first) and ``hash``: sha256 over the canonical JSON of all its other columns
(:func:`entry_hash`). Editing any column of an entry, deleting an entry in the middle, or swapping two
entries' places therefore shows up in :meth:`AuditLog.verify`, which walks the whole chain.

Appending is one transaction: read the last entry, compute ``seq + 1`` and the hash, insert. Appenders are
serialised where the backend allows it (``BEGIN IMMEDIATE`` on SQLite, a transaction-scoped advisory lock on
PostgreSQL), and the unique constraints on ``seq`` and ``hash`` are the backstop: should two appenders ever
read the same last entry, the second insert fails and is retried on the new head, so the chain never forks.

Deleting the *newest* entries leaves a chain that is still perfectly consistent, so it cannot be seen from
the table alone. A head anchor outside the database covers that: ``audit.head`` in the data dir, rewritten
atomically after each append with ``{"seq": N, "hash": H, "database": URL}``. ``verify`` reports the log as
truncated when the table ends before the anchor's ``seq``, and as changed when the entry at that ``seq``
has another hash.

Limits, stated plainly:

- This is tamper-*evident* against edits of the database, not tamper-proof. The hash is a plain sha256,
  not a keyed MAC: someone who can write both the database and the anchor file can rewrite the whole chain
  from any point on, recompute every hash, rewrite ``audit.head`` to match, and ``verify`` will pass.
- The anchor only knows the appends made with this data dir. Entries appended later from another machine
  (a shared PostgreSQL database) are chained and checked, but deleting the newest of *them* is only seen
  by an anchor that recorded them. An anchor written for another database URL is not used.
- If two appenders of one data dir finish out of order the anchor keeps the higher ``seq``; if writing it
  fails (read-only data dir) the entry stays committed and the anchor simply lags, which weakens the
  truncation check but never makes it report a false problem.
- ``detail`` must never hold secrets: callers record digests (:func:`digest`) of state bytes, files and
  attributes, not the values. As a safety net, values under secret-looking keys are replaced before they
  are stored.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, exc, func, select, text
from sqlalchemy.engine import Connection, Row

from driftmgr_tui.core.errors import DriftmgrError
from driftmgr_tui.core.events import decode_json, encode_json
from driftmgr_tui.core.models import AuditEntry, current_actor, utcnow
from driftmgr_tui.core.redaction import redact_names
from driftmgr_tui.core.settings import Settings, load_settings
from driftmgr_tui.state.backends.local import atomic_write

log = logging.getLogger(__name__)

GENESIS = "0" * 64
ANCHOR_NAME = "audit.head"
APPEND_ATTEMPTS = 5
# pg_advisory_xact_lock key (any fixed bigint) held by an appender until its transaction ends.
_PG_APPEND_LOCK_KEY = 0x6A75_6469_745F_6C67

# Every column except ``id`` and ``hash`` goes into the hash, in this (documentation) order.
HASHED_FIELDS = (
    "seq", "time", "actor", "action", "plan_id", "action_id", "target", "before_digest", "after_digest",
    "result", "detail", "prev_hash",
)  # fmt: skip
PROBLEM_KINDS = ("changed", "deleted", "reordered", "bad-link", "truncated")

_TABLE = AuditEntry.__table__  # type: ignore[attr-defined]
_COLUMNS = [_TABLE.c[name] for name in (*HASHED_FIELDS, "hash")]


# ------------------------------------------------------------------------------------------ hashing


def canonical_json(value: Any) -> bytes:
    """``value`` as canonical JSON bytes: keys sorted at every level, no whitespace, datetimes in UTC."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z)
    except orjson.JSONEncodeError as e:
        raise TypeError(f"not JSON-serialisable: {e}") from None


def _iso(value: datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: audit times are timezone-aware UTC")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """The sha256 (hex) of an entry: canonical JSON of every column but ``id`` and ``hash``.

    ``fields`` must hold every name of :data:`HASHED_FIELDS` except ``prev_hash``, which is taken from the
    argument (extra keys such as ``id`` or ``hash`` are ignored). ``time`` is an aware datetime, hashed as
    ISO-8601 UTC with microseconds; ``detail`` is the dict (or its JSON text).
    """
    doc: dict[str, Any] = {name: fields[name] for name in HASHED_FIELDS if name != "prev_hash"}
    doc["prev_hash"] = prev_hash
    doc["time"] = _iso(doc["time"])
    if isinstance(doc["detail"], str):
        doc["detail"] = orjson.loads(doc["detail"])
    return hashlib.sha256(canonical_json(doc)).hexdigest()


def digest(data: bytes | bytearray | memoryview | str | dict[str, Any] | Sequence[Any] | None) -> str | None:
    """``"sha256:<hex>"`` of bytes, of a string's UTF-8, or of the canonical JSON of a dict/list (so the
    order of keys does not matter). None stays None (nothing there: no state, no file)."""
    if data is None:
        return None
    if isinstance(data, str):
        payload = data.encode()
    elif isinstance(data, bytes | bytearray | memoryview):
        payload = bytes(data)
    elif isinstance(data, dict | list | tuple):
        payload = canonical_json(data)
    else:
        raise TypeError(f"cannot digest a {type(data).__name__}: pass bytes, str, dict or list")
    return "sha256:" + hashlib.sha256(payload).hexdigest()


# ------------------------------------------------------------------------------------------ records


@dataclass(frozen=True)
class AuditRecord:
    """One audit entry as read back (``detail`` decoded)."""

    seq: int
    time: datetime
    actor: str
    action: str
    plan_id: int | None
    action_id: int | None
    target: str | None
    before_digest: str | None
    after_digest: str | None
    result: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": _iso(self.time),
            "actor": self.actor,
            "action": self.action,
            "plan_id": self.plan_id,
            "action_id": self.action_id,
            "target": self.target,
            "before_digest": self.before_digest,
            "after_digest": self.after_digest,
            "result": self.result,
            "detail": self.detail,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass
class VerifyProblem:
    """One break in the chain. ``kind`` is one of :data:`PROBLEM_KINDS`; ``seq`` the entry it concerns
    (the first missing one for deleted/truncated), None when it concerns no single entry."""

    seq: int | None
    kind: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "kind": self.kind, "message": self.message}


@dataclass
class VerifyResult:
    """What :meth:`AuditLog.verify` found. ``head_hash``: the hash of the last entry (None: empty log);
    ``anchor_seq``: the seq the head anchor vouched for (None: no anchor applied, so deleting the newest
    entries could not have been seen)."""

    entries: int
    ok: bool
    problems: list[VerifyProblem] = field(default_factory=list)
    head_hash: str | None = None
    anchor_seq: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "entries": self.entries,
            "ok": self.ok,
            "problems": [p.to_json() for p in self.problems],
            "head_hash": self.head_hash,
            "anchor_seq": self.anchor_seq,
        }


def _decode_detail(value: str) -> dict[str, Any]:
    """The stored detail for display; text that is not a JSON object (a tampered row) is shown as is."""
    try:
        decoded = decode_json(value)
    except orjson.JSONDecodeError:
        return {"unparseable": value}
    return decoded if isinstance(decoded, dict) else {"value": decoded}


def _record(row: Row[Any]) -> AuditRecord:
    m = row._mapping
    return AuditRecord(
        seq=m["seq"], time=m["time"], actor=m["actor"], action=m["action"], plan_id=m["plan_id"],
        action_id=m["action_id"], target=m["target"], before_digest=m["before_digest"],
        after_digest=m["after_digest"], result=m["result"], detail=_decode_detail(m["detail"]),
        prev_hash=m["prev_hash"], hash=m["hash"],
    )  # fmt: skip


def _row_hash(m: Any, *, seq: int | None = None) -> str | None:
    """The hash the stored row ``m`` should have (optionally as if it had ``seq``); None if unhashable."""
    fields = {name: m[name] for name in HASHED_FIELDS}
    if seq is not None:
        fields["seq"] = seq
    try:
        return entry_hash(m["prev_hash"], fields)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        return None


def _seq_list(seqs: range) -> str:
    if len(seqs) == 1:
        return str(seqs[0])
    return f"{seqs[0]}..{seqs[-1]}"


# ------------------------------------------------------------------------------------------ the log


class AuditLog:
    """Append to, read and verify the audit chain in ``engine``'s database.

    ``anchor``: the head-anchor file (normally ``Settings.data_dir / "audit.head"``); None keeps no anchor,
    and then deleting the newest entries cannot be detected.
    """

    def __init__(self, engine: Engine, *, anchor: Path | None = None) -> None:
        self.engine = engine
        self.anchor = anchor
        self._database = engine.url.render_as_string(hide_password=True)

    @classmethod
    def for_settings(cls, settings: Settings | None = None) -> AuditLog:
        """The log of the configured database, anchored in the configured data dir."""
        from driftmgr_tui.core.db import open_database

        settings = settings or load_settings()
        return cls(open_database(settings), anchor=settings.data_dir / ANCHOR_NAME)

    # -- append -------------------------------------------------------------------------------------

    def append(
        self,
        action: str,
        *,
        actor: str | None = None,
        plan_id: int | None = None,
        action_id: int | None = None,
        target: str | None = None,
        before_digest: str | None = None,
        after_digest: str | None = None,
        result: str = "ok",
        detail: dict[str, Any] | None = None,
    ) -> AuditRecord:
        """Add one entry at the head of the chain and return it.

        ``detail`` is stored as JSON (values under secret-looking keys are replaced); a value that is not
        JSON-serialisable raises TypeError. Raises DriftmgrError if the entry cannot be written.
        """
        if not action:
            raise ValueError("an audit entry needs an action")
        if detail is not None and not isinstance(detail, dict):
            raise TypeError(f"detail must be a dict, not {type(detail).__name__}")
        clean = decode_json(encode_json(detail or {}))  # a copy, as it will read back
        redact_names(clean)
        detail_text = encode_json(clean)
        values: dict[str, Any] = {
            "actor": actor or current_actor(),
            "action": action,
            "plan_id": plan_id,
            "action_id": action_id,
            "target": target,
            "before_digest": before_digest,
            "after_digest": after_digest,
            "result": result,
            "detail": detail_text,
        }
        last_error: Exception | None = None
        for _attempt in range(APPEND_ATTEMPTS):
            try:
                record = self._append_once(values)
            except exc.IntegrityError as e:  # another appender took this seq first: go again on the new head
                last_error = e
                continue
            except exc.SQLAlchemyError as e:
                raise DriftmgrError(f"cannot append to the audit log: {_describe(e)}") from e
            self._advance_anchor(record)
            return record
        raise DriftmgrError(
            f"cannot append to the audit log: the head kept moving ({APPEND_ATTEMPTS} attempts; "
            f"last: {_describe(last_error)})",
            hint="another process is appending heavily; run the command again",
        )

    def _append_once(self, values: dict[str, Any]) -> AuditRecord:
        with self.engine.connect() as conn:  # closing it without commit() rolls back
            self._begin_exclusive(conn)
            last = conn.execute(
                select(_TABLE.c.seq, _TABLE.c.hash).order_by(_TABLE.c.seq.desc()).limit(1)
            ).first()
            seq, prev_hash = (1, GENESIS) if last is None else (last.seq + 1, last.hash)
            row = {**values, "seq": seq, "time": utcnow(), "prev_hash": prev_hash}
            row["hash"] = entry_hash(prev_hash, row)
            conn.execute(_TABLE.insert().values(**row))
            conn.commit()
        row["detail"] = decode_json(row["detail"])
        return AuditRecord(**row)

    def _begin_exclusive(self, conn: Connection) -> None:
        """Start the append transaction holding the backend's write serialisation."""
        if conn.dialect.name == "sqlite":
            # pysqlite opens its transaction lazily at the first write; take the write lock up front instead,
            # so the read of the head and the insert see the same head. (An in-memory database shares one
            # connection that may already be in a transaction: then there is nobody to exclude.)
            raw = conn.connection.driver_connection
            if raw is not None and not raw.in_transaction:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_APPEND_LOCK_KEY})

    # -- the head anchor ----------------------------------------------------------------------------

    def read_anchor(self) -> dict[str, Any] | None:
        """The anchor recorded for this database (None: no anchor file, or one written for another database).
        Raises ValueError when the file exists but is not a head anchor."""
        if self.anchor is None:
            return None
        try:
            raw = self.anchor.read_bytes()
        except FileNotFoundError:
            return None
        data = orjson.loads(raw)
        if not (isinstance(data, dict) and isinstance(data.get("seq"), int) and data["seq"] >= 1
                and isinstance(data.get("hash"), str)):
            raise ValueError('expected {"seq": N, "hash": H}')
        if data.get("database", self._database) != self._database:
            return None
        return data

    @contextlib.contextmanager
    def _anchor_lock(self) -> Iterator[None]:
        assert self.anchor is not None
        fd = os.open(self.anchor.with_name(self.anchor.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _advance_anchor(self, record: AuditRecord) -> None:
        """Point the anchor at ``record`` unless it already vouches for a later entry of this database."""
        if self.anchor is None:
            return
        try:
            self.anchor.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with self._anchor_lock():
                try:
                    current = self.read_anchor()
                except ValueError as e:
                    log.warning("%s is not a head anchor (%s): replacing it", self.anchor, e)
                    current = None
                if current is not None and current["seq"] >= record.seq:
                    return
                data = {"seq": record.seq, "hash": record.hash, "database": self._database}
                atomic_write(self.anchor, orjson.dumps(data) + b"\n", mode=0o600)
        except OSError as e:
            log.warning("audit entry %d is committed but the head anchor %s was not updated: %s",
                        record.seq, self.anchor, e)

    # -- reading ------------------------------------------------------------------------------------

    def entries(self, *, plan_id: int | None = None, limit: int | None = None,
                since_seq: int | None = None) -> list[AuditRecord]:
        """Entries in ``seq`` order. ``since_seq``: only entries after it, and ``limit`` keeps the first
        ones (paging forward); without ``since_seq``, ``limit`` keeps the newest ones."""
        query = select(*_COLUMNS)
        if plan_id is not None:
            query = query.where(_TABLE.c.plan_id == plan_id)
        if since_seq is not None:
            query = query.where(_TABLE.c.seq > since_seq).order_by(_TABLE.c.seq)
        else:
            query = query.order_by(_TABLE.c.seq.desc())
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            records = [_record(row) for row in conn.execute(query)]
        return records if since_seq is not None else records[::-1]

    def get(self, seq: int) -> AuditRecord | None:
        """The entry with this ``seq``, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(*_COLUMNS).where(_TABLE.c.seq == seq)).first()
        return None if row is None else _record(row)

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(_TABLE)).scalar_one())

    # -- verification -------------------------------------------------------------------------------

    def verify(self) -> VerifyResult:
        """Walk the whole chain in ``seq`` order and report every break (see :data:`PROBLEM_KINDS`).

        The whole table is read into memory (a swapped entry is recognised by following links to entries
        anywhere in the log), which is fine for the thousands of entries remediation produces.
        """
        with self.engine.connect() as conn:
            rows = [row._mapping for row in conn.execute(select(*_COLUMNS).order_by(_TABLE.c.seq))]
        problems: list[VerifyProblem] = []
        by_hash = {m["hash"]: m for m in rows}
        recomputed = [_row_hash(m) for m in rows]
        intact = {m["seq"] for m, h in zip(rows, recomputed, strict=True) if h == m["hash"]}
        origins: dict[str, int | None] = {GENESIS: 0}

        def origin(entry_hash_: str) -> int | None:
            """The seq the entry with this hash was written with, from the chain of links behind it."""
            pending: list[Any] = []
            seen: set[str] = set()
            current = entry_hash_
            while current not in origins:
                m = by_hash.get(current)
                if m is None or current in seen:  # unknown, or a loop of forged links
                    origins[current] = None
                    break
                seen.add(current)
                if m["seq"] in intact:
                    origins[current] = m["seq"]
                    break
                pending.append(m)
                current = m["prev_hash"]
            value = origins[current]
            for m in reversed(pending):
                value = None if value is None else value + 1
                origins[m["hash"]] = value
            return origins[entry_hash_]

        moved: set[int] = set()
        expected_seq = 1
        previous: Any = None
        previous_recomputed: str | None = None
        for m, own in zip(rows, recomputed, strict=True):
            seq = m["seq"]
            if own != m["hash"]:
                written = origin(m["prev_hash"])
                written = None if written is None else written + 1
                if written is not None and written != seq and _row_hash(m, seq=written) == m["hash"]:
                    moved.add(seq)
                    problems.append(VerifyProblem(seq, "reordered",
                                                  f"entry {seq} was written as entry {written}"))
                else:
                    problems.append(VerifyProblem(seq, "changed",
                                                  f"entry {seq} was changed after it was written "
                                                  "(its content no longer matches its hash)"))
            if seq > expected_seq:
                missing = range(expected_seq, seq)
                problems.append(VerifyProblem(
                    expected_seq, "deleted",
                    f"entr{'y' if len(missing) == 1 else 'ies'} {_seq_list(missing)} "
                    f"{'is' if len(missing) == 1 else 'are'} missing (deleted from the middle of the log)"))
            elif seq < expected_seq:  # only possible for seq < 1
                problems.append(VerifyProblem(seq, "bad-link", f"entry {seq}: seq must start at 1"))
            else:
                link = GENESIS if previous is None else previous["hash"]
                if m["prev_hash"] != link and seq not in moved and (previous is None
                                                                     or previous["seq"] not in moved):
                    if previous is not None and m["prev_hash"] == previous_recomputed:
                        pass  # only the previous entry's hash column was edited: reported above as changed
                    else:
                        what = "the start of the log" if previous is None else f"entry {previous['seq']}"
                        problems.append(VerifyProblem(
                            seq, "bad-link", f"entry {seq} does not link to {what} (its prev_hash differs): "
                                             "one of them was rewritten"))
            expected_seq = max(expected_seq, seq + 1)
            previous, previous_recomputed = m, own

        anchor_seq = self._check_anchor(rows, problems)
        problems.sort(key=lambda p: (p.seq is None, p.seq or 0))
        return VerifyResult(
            entries=len(rows),
            ok=not problems,
            problems=problems,
            head_hash=rows[-1]["hash"] if rows else None,
            anchor_seq=anchor_seq,
        )

    def _check_anchor(self, rows: list[Any], problems: list[VerifyProblem]) -> int | None:
        try:
            anchor = self.read_anchor()
        except (ValueError, OSError) as e:
            problems.append(VerifyProblem(None, "changed", f"the head anchor {self.anchor} is unreadable: {e}"))
            return None
        if anchor is None:
            return None
        seq, expected = anchor["seq"], anchor["hash"]
        last_seq = rows[-1]["seq"] if rows else 0
        if last_seq < seq:
            missing = range(last_seq + 1, seq + 1)
            ends = f"ends at entry {last_seq}" if rows else "is empty"
            problems.append(VerifyProblem(
                last_seq + 1, "truncated",
                f"the log {ends} but {self.anchor} records entry {seq}: "
                f"entr{'y' if len(missing) == 1 else 'ies'} {_seq_list(missing)} "
                f"{'was' if len(missing) == 1 else 'were'} deleted from the end"))
            return seq
        at = next((m for m in rows if m["seq"] == seq), None)
        if at is None:
            return seq  # reported above as deleted
        if at["hash"] != expected:
            problems.append(VerifyProblem(
                seq, "changed", f"entry {seq} is not the entry {self.anchor} records (hash {expected[:12]}, "
                                f"found {at['hash'][:12]}): the log was rewritten from there or earlier"))
        return seq


def _describe(error: BaseException | None) -> str:
    if error is None:
        return "unknown error"
    if isinstance(error, exc.DBAPIError) and error.orig is not None:
        error = error.orig
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
