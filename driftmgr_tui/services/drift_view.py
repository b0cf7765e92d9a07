"""The drift explorer's data: one report's items as columns that filter, facet and sort fast at 100,000 rows.

Rows are kept in load order (row ``r``) as parallel lists: ``ids``, ``codes``, ``tids``, ``addresses``,
``names`` and ``hay``. The low-cardinality fields (kind, severity, type, provider, account, region, module,
status, first seen) are not stored per row: each distinct combination of them is a *combo*, and a row holds
the combo's code. A report of 100,000 items has hundreds to a few thousand combos, so every question about
those fields (a facet token, a facet selection, facet counts, sorting by severity, kind, type, region or first
seen) is answered once per combo, and a row is then checked with one set lookup. ``hay`` is the lowercase search
text of the per-row fields (terraform id, address, name); each combo has its own for type, region and module.

The displayed rows are ``visible``: the rows matching the text tokens (``_text_rows``, in display order),
then the facets. A filter that narrows the previous one (each old token is part of the new token at the same
position, and more tokens may follow) scans the previous matches instead of every row.

Loading. ``DriftView.from_report`` reads everything before it returns. A single query for 100,000 rows costs
most of its time in the database driver making one Python object per value, so :class:`ReportReader` asks
for five values per row (id, one text key of the low-cardinality fields, terraform id, address, name) and
reads in id-range chunks. ``DriftView.open_report`` returns a view holding the first chunk at once and an
iterator of the remaining chunks: read them in a worker thread and hand each one to :meth:`DriftView.extend`
on the thread that owns the view; filters, facets and the sort apply to rows as they arrive.

Filter text (case-insensitive; space-separated tokens must all match):

* ``word``: a substring of the type, terraform id, address, name, region or module;
* ``kind:missing``, ``sev:critical`` / ``severity:high``, ``type:aws_s3*``, ``provider:aws``,
  ``module:network``, ``region:us-east-1``, ``account:...``, ``status:new``: a facet token. Values separated
  by commas are alternatives (``kind:missing,unmanaged``). A value with ``*``, ``?`` or ``[`` is a glob over
  the whole field; otherwise the field must equal it, or, when no item has that exact value, start with it
  (``sev:crit``). ``module:network`` also matches ``module.network``. A facet name with an empty value
  (``kind:``) is no constraint; an unknown name (``foo:bar``) is an ordinary word.
"""

from __future__ import annotations

import contextlib
import fnmatch
import gc
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from driftmgr_tui.drift.model import KINDS, SEVERITIES, SEVERITY_RANK

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

SORT_KEYS = ("severity", "kind", "type", "id", "address", "first_seen", "region")

# Fields of a combo tuple.
KIND, SEVERITY, TYPE, PROVIDER, ACCOUNT, REGION, MODULE, STATUS, FIRST_SEEN = range(9)
COMBO_FIELDS = 9

FACETS: Mapping[str, int] = {
    "kind": KIND, "severity": SEVERITY, "type": TYPE, "provider": PROVIDER, "account": ACCOUNT,
    "region": REGION, "module": MODULE, "status": STATUS,
}
FACET_ALIASES: Mapping[str, str] = {"sev": "severity"}
_TOKEN_FACETS: Mapping[str, int] = {**FACETS, **{a: FACETS[n] for a, n in FACET_ALIASES.items()}}
_GLOB_CHARS = frozenset("*?[")

COLUMNS: tuple[tuple[str, int | None], ...] = (
    ("Severity", 8), ("Kind", 9), ("Type", 26), ("ID", 24), ("Address / name", None), ("Region", 12),
    ("First seen", 16),
)
# hidden first when the table is narrow, so the address keeps its room: first seen, region, ID, type
DROP_ORDER = (6, 5, 3, 2)
SEP = "\x1f"  # between fields of a key or of the search text; never typed into a filter


def _facet_index(name: str) -> int:
    key = FACET_ALIASES.get(name, name)
    try:
        return FACETS[key]
    except KeyError:
        raise ValueError(f"unknown facet {name!r}; facets: {', '.join(FACETS)}") from None


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a chunk is read: the driver makes a tuple per row, and the
    collections those allocations trigger would cost as much as the read itself. (Only a pause: if another
    thread turned the collector back on meanwhile, that is a lost optimisation, not an error.)"""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _parse_time(raw: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(slots=True)
class Chunk:
    """Rows read together, in load order. ``codes`` index the combos of the builder that made the chunk:
    ``new_combos`` are those it met first in this chunk, numbered from ``combo_base``."""

    ids: Sequence[int]
    codes: Sequence[int]
    tids: Sequence[str]
    addresses: Sequence[str]
    names: Sequence[str]
    hay: Sequence[str]
    combo_base: int = 0
    new_combos: list[tuple[str, ...]] = field(default_factory=list)
    last: bool = False
    builder: object = None  # the ChunkBuilder that numbered the combos

    def __len__(self) -> int:
        return len(self.ids)


class ChunkBuilder:
    """Numbers combos and builds :class:`Chunk` objects; one builder feeds one view (it may run in any thread:
    it touches no view)."""

    def __init__(self) -> None:
        self._index: dict[Any, int] = {}
        self._pending: list[tuple[str, ...]] = []
        self._sent = 0

    def build(self, ids: Sequence[int], keys: Sequence[Any], tids: Sequence[str], addresses: Sequence[str],
              names: Sequence[str], combo_of: Callable[[list[Any], list[int]], list[tuple[str, ...]]], *,
              last: bool = False) -> Chunk:
        """``keys[i]`` identifies row i's combo; ``combo_of(keys, ids)`` gives the combo tuples of keys not met
        before (``ids``: the id of one row with each key)."""
        index = self._index
        new_keys = [key for key in dict.fromkeys(keys) if key not in index]  # in order of first appearance
        if new_keys:
            some_id = dict(zip(keys, ids, strict=True))
            combos = combo_of(new_keys, [some_id[key] for key in new_keys])
            for key, combo in zip(new_keys, combos, strict=True):
                if len(combo) != COMBO_FIELDS:
                    raise ValueError(f"a combo has {COMBO_FIELDS} fields, got {len(combo)}")
                index[key] = len(index)
                self._pending.append(tuple(v if isinstance(v, str) else str(v) for v in combo))
        codes = list(map(index.__getitem__, keys))
        joined = "\x1e".join(map(SEP.join, zip(tids, addresses, names, strict=True))).lower().split("\x1e")
        if len(joined) != len(ids):  # a value held the row separator
            joined = [SEP.join(t).lower() for t in zip(tids, addresses, names, strict=True)]
        base = self._sent
        new, self._pending = self._pending, []
        self._sent += len(new)
        return Chunk(ids=ids, codes=codes, tids=tids, addresses=addresses, names=names, hay=joined,
                     combo_base=base, new_combos=new, last=last, builder=self)


class ReportReader:
    """Reads one report's items from the database in id order, ``chunk_rows`` rows per query.

    It selects only what the explorer needs (no diffs, no state) and keeps the per-row values to five. Safe to
    run in a worker thread: it holds no connection between chunks and touches no view.
    """

    def __init__(self, engine: Engine, report_id: int, *, chunk_rows: int = 25_000) -> None:
        import sqlalchemy as sa

        from driftmgr_tui.core.models import DriftItem

        self.engine = engine
        self.report_id = int(report_id)
        self.chunk_rows = chunk_rows
        t = DriftItem.__table__
        self._t = t
        with engine.connect() as conn:
            lo, hi, count = conn.execute(
                sa.select(sa.func.min(t.c.id), sa.func.max(t.c.id), sa.func.count())
                .where(t.c.report_id == self.report_id)).one()
        self.total = int(count)
        self._lo, self._hi = (int(lo), int(hi)) if count else (0, -1)
        first_seen = sa.cast(t.c.first_seen, sa.Text)
        self._combo_cols = (t.c.kind, t.c.severity, t.c.terraform_type, t.c.provider, t.c.account, t.c.region,
                            t.c.module, t.c.status, first_seen)
        # One text key per row for its combo. SQLite's printf builds it in one step (a chain of ``||`` makes a
        # string per step and costs about as much again).
        if engine.dialect.name == "sqlite":
            self._key = sa.func.printf(SEP.join(["%s"] * COMBO_FIELDS), *self._combo_cols)
        else:
            self._key = sa.func.concat_ws(SEP, *self._combo_cols)
        self._builder = ChunkBuilder()

    def chunks(self, first: int | None = None) -> Iterator[Chunk]:
        """The report's rows: ``first`` rows (default ``chunk_rows``), then ``chunk_rows`` at a time."""
        import sqlalchemy as sa

        t = self._t
        # ``report_id + 0``: scan the id range (the items of a report are written together) instead of
        # looking every row up through the report_id index, which is several times slower.
        base = (sa.select(t.c.id, self._key, t.c.terraform_id, sa.func.coalesce(t.c.address, ""),
                          sa.func.coalesce(t.c.name, ""))
                .where((t.c.report_id + 0) == self.report_id).order_by(t.c.id))
        after, size, seen = self._lo - 1, first or self.chunk_rows, 0
        while after < self._hi and seen < self.total:
            with _gc_paused(), self.engine.connect() as conn:
                result = conn.execute(base.where(t.c.id > after, t.c.id <= self._hi).limit(size))
                rows = result.cursor.fetchall()  # plain tuples: no per-row result processing is needed
                result.close()
                if not rows:
                    break
                seen += len(rows)
                after = rows[-1][0]
                ids, keys, tids, addresses, names = zip(*rows, strict=True)
                del rows
                done = after >= self._hi or seen >= self.total or len(ids) < size
                chunk = self._builder.build(ids, keys, tids, addresses, names, self._combos_of, last=done)
            yield chunk
            if done:
                return
            size = self.chunk_rows

    def _combos_of(self, keys: list[str], some_ids: list[int]) -> list[tuple[str, ...]]:
        """The fields of each key: split, or read from a row with that key when a value held the separator."""
        import sqlalchemy as sa

        combos = [tuple(key.split(SEP)) for key in keys]
        odd = [some_id for combo, some_id in zip(combos, some_ids, strict=True) if len(combo) != COMBO_FIELDS]
        if odd:
            t = self._t
            found: dict[int, tuple[str, ...]] = {}
            with self.engine.connect() as conn:
                for start in range(0, len(odd), 500):
                    result = conn.execute(sa.select(t.c.id, *self._combo_cols)
                                          .where(t.c.id.in_(odd[start:start + 500])))
                    found.update((row[0], tuple(row[1:])) for row in result.cursor.fetchall())
                    result.close()
            combos = [combo if len(combo) == COMBO_FIELDS else found[some_id]
                      for combo, some_id in zip(combos, some_ids, strict=True)]
        return combos

    def detail(self, item_id: int) -> dict[str, Any] | None:
        """One item as ``DriftService.report`` gives it (with its diffs), or None when it is gone."""
        import sqlalchemy as sa

        from driftmgr_tui.drift.history import item_json

        with self.engine.connect() as conn:
            row = conn.execute(sa.select(self._t).where(self._t.c.id == item_id)).first()
        return item_json(row) if row is not None else None


class DriftView:
    """A report's items under a filter, facet selections and a sort; see the module docstring."""

    columns = COLUMNS
    drop_order = DROP_ORDER
    styled_columns = (0, 1)  # severity and kind cells carry a style named after their value

    def __init__(self, *, total: int = 0, detail: Callable[[int], dict[str, Any] | None] | None = None) -> None:
        self.total = total
        self._detail = detail
        self._builder: object = None
        self.complete = total == 0
        # rows, in load order
        self._ids: list[int] = []
        self._codes: list[int] = []
        self._tids: list[str] = []
        self._addresses: list[str] = []
        self._names: list[str] = []
        self._hay: list[str] = []
        # combos
        self._combos: list[tuple[str, ...]] = []
        self._combo_lower: list[tuple[str, ...]] = []
        self._combo_hay: list[str] = []
        self._combo_time: list[datetime | None] = []
        self._combo_shown: list[str] = []
        self._times: dict[str, tuple[datetime | None, str]] = {}
        # state
        self._order: list[int] = []
        self._sort: tuple[str, bool] | None = None
        self._filter = ""
        self._texts: tuple[str, ...] = ()
        self._token_facets: tuple[tuple[int, tuple[str, ...]], ...] = ()
        self._selected: dict[int, frozenset[str]] = {}
        self._text_rows: list[int] = []
        self._visible: list[int] = []
        # caches (dropped when rows arrive or the filter changes)
        self._row_of_id: dict[int, int] | None = None
        self._text_combo_counts: Counter[int] | None = None
        self._text_cache: dict[tuple[str, ...], list[int]] = {}  # recent word tuples -> their rows
        self._by_value: dict[tuple[int, bool], dict[str, set[int]]] = {}
        self._all_counts: dict[str, Any] | None = None
        self._shown_address: list[str] | None = None

    # -- building -------------------------------------------------------------------------------------------
    @classmethod
    def from_items(cls, items: Iterable[Mapping[str, Any]]) -> DriftView:
        """A view of report items as ``DriftService.report(...)["items"]`` gives them."""
        items = list(items)
        by_id: dict[int, Mapping[str, Any]] = {}
        ids, keys, tids, addresses, names = [], [], [], [], []
        for n, item in enumerate(items):
            item_id = item.get("id")
            item_id = n if item_id is None else int(item_id)
            by_id[item_id] = item
            combo = tuple(str(item.get(k) or "") for k in (
                "kind", "severity", "terraform_type", "provider", "account", "region", "module", "status",
                "first_seen"))
            ids.append(item_id)
            keys.append(combo)
            tids.append(str(item.get("terraform_id") or ""))
            addresses.append(str(item.get("address") or ""))
            names.append(str(item.get("name") or ""))
        view = cls(total=len(items), detail=lambda item_id: dict(by_id[item_id]) if item_id in by_id else None)
        chunk = ChunkBuilder().build(ids, keys, tids, addresses, names, lambda new, _ids: new, last=True)
        view.extend(chunk)
        return view

    @classmethod
    def from_report(cls, engine: Engine, report_id: int, *, chunk_rows: int = 25_000) -> DriftView:
        """Every item of a saved report, read before this returns."""
        reader = ReportReader(engine, report_id, chunk_rows=chunk_rows)
        view = cls(total=reader.total, detail=reader.detail)
        for chunk in reader.chunks():
            view.extend(chunk)
        view.complete = True
        return view

    @classmethod
    def open_report(cls, engine: Engine, report_id: int, *, first: int = 2_000,
                    chunk_rows: int = 25_000) -> tuple[DriftView, Iterator[Chunk]]:
        """A view holding the report's first ``first`` items, and an iterator of the rest (see the module
        docstring: run it in a worker, ``extend`` the view with each chunk on the view's thread)."""
        reader = ReportReader(engine, report_id, chunk_rows=chunk_rows)
        view = cls(total=reader.total, detail=reader.detail)
        chunks = reader.chunks(first=first)
        for chunk in chunks:
            view.extend(chunk)
            break
        else:
            view.complete = True
        return view, chunks

    def extend(self, chunk: Chunk) -> None:
        """Add rows read after the ones the view holds; the filter, facets and sort apply to them."""
        if self._builder is None:
            self._builder = chunk.builder
        if chunk.builder is not self._builder or chunk.combo_base != len(self._combos):
            raise ValueError("chunk from another reader, or out of order")
        if chunk.new_combos:
            self._add_combos(chunk.new_combos)
        start = len(self._ids)
        self._ids.extend(chunk.ids)
        self._codes.extend(chunk.codes)
        self._tids.extend(chunk.tids)
        self._addresses.extend(chunk.addresses)
        self._names.extend(chunk.names)
        self._hay.extend(chunk.hay)
        if chunk.last:
            self.complete = True
        self.total = max(self.total, len(self._ids))
        self._row_of_id = None
        self._all_counts = None
        self._shown_address = None
        new_rows = list(range(start, len(self._ids)))
        if not new_rows:
            return
        matched = self._match(self._texts, new_rows) if self._texts else new_rows
        if self._sort is None:
            self._order = self._order + new_rows
            self._text_rows = self._text_rows + matched if self._texts else self._order
        else:
            self._order = self._sorted(self._order + new_rows)
            if self._texts:
                keep = set(self._text_rows)
                keep.update(matched)
                self._text_rows = [r for r in self._order if r in keep]
            else:
                self._text_rows = self._order
        self._text_combo_counts = None
        self._text_cache = {self._texts: self._text_rows} if self._texts else {}
        self._apply_facets()

    def _add_combos(self, combos: list[tuple[str, ...]]) -> None:
        times = self._times
        for combo in combos:
            lower = tuple(SEP.join(combo).lower().split(SEP))
            if len(lower) != COMBO_FIELDS:  # a value held the separator
                lower = tuple(v.lower() for v in combo)
            raw = combo[FIRST_SEEN]
            if raw not in times:  # a report's items share a handful of first-seen times
                when = _parse_time(raw)
                times[raw] = (when, when.strftime("%Y-%m-%d %H:%M") if when else raw[:16])
            when, shown = times[raw]
            self._combos.append(combo)
            self._combo_lower.append(lower)
            self._combo_hay.append(SEP.join((lower[TYPE], lower[REGION], lower[MODULE])))
            self._combo_time.append(when)
            self._combo_shown.append(shown)
        self._by_value.clear()

    # -- size -----------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._visible)

    @property
    def loaded(self) -> int:
        """Rows the view holds (all of them once ``complete``)."""
        return len(self._ids)

    @property
    def filter_text(self) -> str:
        return self._filter

    @property
    def sort_key(self) -> tuple[str, bool] | None:
        """The current sort as (key, reverse), or None for load order."""
        return self._sort

    # -- filter ---------------------------------------------------------------------------------------------
    @staticmethod
    def parse_filter(text: str) -> tuple[tuple[str, ...], tuple[tuple[int, tuple[str, ...]], ...]]:
        """(words, facet tokens as (combo field, values)) of a filter text, lowercased."""
        words: list[str] = []
        facets: list[tuple[int, tuple[str, ...]]] = []
        for token in text.lower().split():
            name, colon, value = token.partition(":")
            if colon and name in _TOKEN_FACETS:
                values = tuple(v for v in value.split(",") if v)
                if values:
                    facets.append((_TOKEN_FACETS[name], values))
            else:
                words.append(token)
        return tuple(words), tuple(facets)

    def set_filter(self, text: str) -> None:
        words, facets = self.parse_filter(text)
        self._filter = text
        if words != self._texts:
            self._text_rows = self._words_rows(words)
            self._texts = words
            self._text_combo_counts = None
        self._token_facets = facets
        self._apply_facets()

    def _words_rows(self, words: tuple[str, ...]) -> list[int]:
        """The rows (display order) matching every word: from the recent result these words narrow the most
        (typing on), or a recent result for the same words (backspace), else a scan of every row."""
        if not words:
            return self._order
        cache = self._text_cache
        rows = cache.pop(words, None)
        if rows is None:
            base: tuple[str, ...] = ()
            base_rows = self._order
            for old, old_rows in cache.items():
                if len(old_rows) < len(base_rows) and _narrows(old, words):
                    base, base_rows = old, old_rows
            todo = tuple(w for i, w in enumerate(words) if i >= len(base) or w != base[i])
            rows = self._match(todo, base_rows)
        cache[words] = rows
        while len(cache) > 16:
            del cache[next(iter(cache))]
        return rows

    def _match(self, words: tuple[str, ...], rows: list[int]) -> list[int]:
        hay, codes, combo_hay = self._hay, self._codes, self._combo_hay
        for word in words:
            in_combo = {c for c, h in enumerate(combo_hay) if word in h}
            if not in_combo:
                rows = [r for r in rows if word in hay[r]]
            elif len(in_combo) < len(combo_hay):
                rows = [r for r in rows if codes[r] in in_combo or word in hay[r]]
        return rows

    def set_facet(self, name: str, values: set[str] | frozenset[str] | None) -> None:
        """Keep only rows whose ``name`` field is one of ``values`` (exact); None or empty clears it."""
        index = _facet_index(name)
        if values:
            self._selected[index] = frozenset(values)
        else:
            self._selected.pop(index, None)
        self._apply_facets()

    def facets(self) -> dict[str, frozenset[str]]:
        """The current facet selections (by ``set_facet``)."""
        names = {i: n for n, i in FACETS.items()}
        return {names[i]: v for i, v in self._selected.items()}

    def _allowed(self, exclude: int | None = None) -> set[int] | None:
        """Codes of the combos passing the facet selections and facet tokens (except those on field
        ``exclude``), or None when nothing constrains them."""
        passing: list[set[int]] = []
        for index, values in self._selected.items():
            if index != exclude:
                by_value = self._codes_by(index, lowered=False)
                passing.append(set().union(*(by_value.get(v, ()) for v in values)))
        for index, patterns in self._token_facets:
            if index != exclude:
                by_value = self._codes_by(index, lowered=True)
                passing.append(set().union(*(by_value[v] for v in self._token_values(index, patterns))))
        if not passing:
            return None
        passing.sort(key=len)
        return passing[0].intersection(*passing[1:])

    def _codes_by(self, index: int, *, lowered: bool) -> dict[str, set[int]]:
        """Value of field ``index`` (lowercased or not) -> codes of the combos with it."""
        table = self._by_value.get((index, lowered))
        if table is None:
            table = {}
            for code, combo in enumerate(self._combo_lower if lowered else self._combos):
                table.setdefault(combo[index], set()).add(code)
            self._by_value[(index, lowered)] = table
        return table

    def _token_values(self, index: int, patterns: tuple[str, ...]) -> set[str]:
        """The lowercase values of field ``index`` that a facet token's patterns match."""
        vocab = self._codes_by(index, lowered=True).keys()
        out: set[str] = set()
        for pattern in patterns:
            if _GLOB_CHARS.intersection(pattern):
                out.update(v for v in vocab if fnmatch.fnmatchcase(v, pattern))
                continue
            forms = (pattern, "module." + pattern) if index == MODULE else (pattern,)
            exact = {v for v in forms if v in vocab}
            out.update(exact or {v for v in vocab if v.startswith(forms)})
        return out

    def _apply_facets(self) -> None:
        allowed = self._allowed()
        if allowed is None or len(allowed) == len(self._combos):
            self._visible = self._text_rows
        else:
            codes = self._codes
            self._visible = [r for r in self._text_rows if codes[r] in allowed]

    # -- counts ---------------------------------------------------------------------------------------------
    def counts(self) -> dict[str, Any]:
        """Items by kind and by severity over everything loaded (filters left out), and the total."""
        if self._all_counts is None:
            kind = dict.fromkeys(KINDS, 0)
            severity = dict.fromkeys(SEVERITIES, 0)
            for code, n in Counter(self._codes).items():
                combo = self._combos[code]
                kind[combo[KIND]] = kind.get(combo[KIND], 0) + n
                severity[combo[SEVERITY]] = severity.get(combo[SEVERITY], 0) + n
            self._all_counts = {"total": len(self._ids), "kind": kind, "severity": severity}
        return {k: dict(v) if isinstance(v, dict) else v for k, v in self._all_counts.items()}

    def facet_counts(self, name: str) -> dict[str, int]:
        """Rows per value of facet ``name`` under the filter text and the other facets (its own selection left
        out, so the counts say what choosing a value would give). Every value of the loaded rows is listed;
        severities and kinds in their order, other values by count."""
        index = _facet_index(name)
        if self._text_combo_counts is None:
            self._text_combo_counts = Counter(map(self._codes.__getitem__, self._text_rows))
        allowed = self._allowed(exclude=index)
        out: dict[str, int] = {}
        for code, combo in enumerate(self._combos):
            value = combo[index]
            n = self._text_combo_counts.get(code, 0) if allowed is None or code in allowed else 0
            out[value] = out.get(value, 0) + n
        if index == SEVERITY:
            keys = sorted(out, key=lambda v: (SEVERITY_RANK.get(v, len(SEVERITIES)), v))
        elif index == KIND:
            keys = sorted(out, key=lambda v: (KINDS.index(v) if v in KINDS else len(KINDS), v))
        else:
            keys = sorted(out, key=lambda v: (-out[v], v))
        return {k: out[k] for k in keys}

    # -- sort -----------------------------------------------------------------------------------------------
    def sort(self, key: str, reverse: bool = False) -> None:
        """Sort by one of :data:`SORT_KEYS`. Severity puts critical first (reverse: info first); ties keep
        the kind, type and load order. The filter and facets stay as they are."""
        if key not in SORT_KEYS:
            raise ValueError(f"unknown sort key {key!r}; keys: {', '.join(SORT_KEYS)}")
        self._sort = (key, reverse)
        self._order = self._sorted(range(len(self._ids)))
        self._reorder_text_rows()

    def unsort(self) -> None:
        """Back to load order."""
        self._sort = None
        self._order = list(range(len(self._ids)))
        self._reorder_text_rows()

    def _reorder_text_rows(self) -> None:
        if self._texts:
            keep = set(self._text_rows)
            self._text_rows = [r for r in self._order if r in keep]
            self._text_cache = {self._texts: self._text_rows}
        else:
            self._text_rows = self._order
            self._text_cache = {}
        self._apply_facets()

    def _sorted(self, rows: Iterable[int]) -> list[int]:
        assert self._sort is not None
        key, reverse = self._sort
        return sorted(rows, key=self._row_keys(key).__getitem__, reverse=reverse)

    def _row_keys(self, key: str) -> Sequence[Any]:
        if key == "id":
            return self._tids
        if key == "address":
            if self._shown_address is None:
                self._shown_address = [a or n for a, n in zip(self._addresses, self._names, strict=True)]
            return self._shown_address
        combos, times = self._combos, self._combo_time
        far = datetime.min.replace(tzinfo=UTC)

        def sev(c: int) -> int:
            return SEVERITY_RANK.get(combos[c][SEVERITY], len(SEVERITIES))

        def kind(c: int) -> int:
            k = combos[c][KIND]
            return KINDS.index(k) if k in KINDS else len(KINDS)

        combo_key: Callable[[int], tuple[Any, ...]] = {
            "severity": lambda c: (sev(c), kind(c), combos[c][TYPE]),
            "kind": lambda c: (kind(c), sev(c), combos[c][TYPE]),
            "type": lambda c: (combos[c][TYPE], sev(c), kind(c)),
            "region": lambda c: (combos[c][REGION], combos[c][TYPE], sev(c)),
            "first_seen": lambda c: (times[c] or far, sev(c), kind(c)),
        }[key]
        ranked = sorted(range(len(combos)), key=combo_key)
        rank = [0] * len(combos)
        for position, code in enumerate(ranked):
            rank[code] = position
        return list(map(rank.__getitem__, self._codes))

    # -- rows -----------------------------------------------------------------------------------------------
    def row(self, index: int) -> tuple[str, ...]:
        """The display cells of visible row ``index`` (see :data:`COLUMNS`)."""
        r = self._visible[index]
        code = self._codes[r]
        combo = self._combos[code]
        return (combo[SEVERITY], combo[KIND], combo[TYPE], self._tids[r], self._addresses[r] or self._names[r],
                combo[REGION], self._combo_shown[code])

    def item(self, index: int) -> dict[str, Any]:
        """The loaded fields of visible row ``index`` (no diffs: see :meth:`item_detail`)."""
        r = self._visible[index]
        code = self._codes[r]
        combo = self._combos[code]
        when = self._combo_time[code]
        return {
            "id": self._ids[r], "kind": combo[KIND], "severity": combo[SEVERITY], "terraform_type": combo[TYPE],
            "terraform_id": self._tids[r], "address": self._addresses[r] or None, "module": combo[MODULE],
            "provider": combo[PROVIDER], "account": combo[ACCOUNT], "region": combo[REGION],
            "name": self._names[r] or None, "status": combo[STATUS],
            "first_seen": when.isoformat() if when is not None else combo[FIRST_SEEN],
        }

    def item_detail(self, index: int) -> dict[str, Any] | None:
        """Visible row ``index`` as ``DriftService.report`` gives an item, diffs included (read now)."""
        item_id = self.item_id(index)
        if self._detail is None:
            return None
        return self._detail(item_id)

    def item_id(self, index: int) -> int:
        return self._ids[self._visible[index]]

    def item_ids(self) -> list[int]:
        """The ids of the visible rows, in display order."""
        ids = self._ids
        return [ids[r] for r in self._visible]

    def find(self, item_id: int) -> int | None:
        """The visible index of an item, or None when it is filtered out or unknown."""
        if self._row_of_id is None:
            self._row_of_id = dict(zip(self._ids, range(len(self._ids)), strict=True))
        r = self._row_of_id.get(item_id)
        if r is None:
            return None
        try:
            return self._visible.index(r)
        except ValueError:
            return None


def _narrows(old: tuple[str, ...], new: tuple[str, ...]) -> bool:
    """Whether every row matching ``new`` matches ``old``: each old word is part of the new word at its
    position (more words may follow)."""
    return len(new) >= len(old) and all(o in n for o, n in zip(old, new, strict=False))
